#!/usr/bin/python3
"""Write small, seeded weight files for the Go readers in torch/internal/safetensors
and torch/internal/pth.

Run with Debian's python3-torch (1.13):

    /usr/bin/python3 third_party/golden/weightfiles.py [outdir]

outdir defaults to testdata/weightfiles next to the repository root. The script writes

  dtypes.pt            torch.save (zip) of a dict with every dtype, a 0-dim tensor, a
                       transposed (non-contiguous) tensor, views sharing one storage, an
                       empty tensor and a sliced view with a storage offset
  legacy.pt            the same dict saved with _use_new_zipfile_serialization=False
  checkpoint.pt        a nested checkpoint {"model": state_dict, "epoch": 3, ...}
  module.pt            the state_dict of a small Conv+BN+Linear nn.Module
  parameters.pt        a dict of nn.Parameter objects (uses _rebuild_parameter)
  hostile_*.pt         hand-built pickles naming os.system / builtins.eval (never executed)
  dtypes.safetensors   every dtype, written by the tiny writer below
  sharded/             model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json
  expected.json        for each readable file: name -> dtype, shape, values (row-major);
                       "_views" holds the strides and storage offsets of dtypes.pt's tensors

Every file is reproducible byte for byte except legacy.pt, whose storage keys are the
storages' memory addresses (torch's choice); its content and expected values are stable.

Nothing here depends on the safetensors package; the format is written by hand:
8-byte little-endian header length, JSON header (keys sorted, compact, padded with
spaces to a multiple of 8), then the tensors' bytes packed in order of decreasing
element size, then name.
"""

import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch
import torch.nn as nn

ST_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def values_of(t):
    """Row-major element values, exact: floats as Python floats, ints as ints."""
    flat = t.detach().contiguous().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        flat = flat.to(torch.float64)  # exact widening
    if t.dtype == torch.bool:
        return [1 if v else 0 for v in flat.tolist()]
    return flat.tolist()


def describe(t):
    return {
        "dtype": ST_DTYPES[t.dtype],
        "shape": list(t.shape),
        "values": values_of(t),
    }


def flatten(obj, prefix, out):
    """Mirror of the Go reader's flattening: nested dicts/lists with dotted names."""
    if isinstance(obj, torch.Tensor):
        out[prefix] = describe(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
    return out


def dtype_dict(g):
    d = collections.OrderedDict()
    d["f64"] = torch.randn(3, 4, generator=g, dtype=torch.float64)
    d["f32"] = torch.randn(2, 3, 4, generator=g)
    d["f16"] = torch.randn(5, 3, generator=g).to(torch.float16)
    d["bf16"] = torch.randn(4, 5, generator=g).to(torch.bfloat16)
    i64 = torch.randint(-(2**40), 2**40, (7,), generator=g, dtype=torch.int64)
    i64[0] = -(2**63)
    i64[1] = 2**63 - 1
    i64[2] = 2**53 + 1  # not representable as float64
    d["i64"] = i64
    d["i32"] = torch.randint(-(2**31), 2**31 - 1, (2, 5), generator=g, dtype=torch.int32)
    d["i16"] = torch.randint(-(2**15), 2**15 - 1, (6,), generator=g, dtype=torch.int16)
    d["i8"] = torch.randint(-128, 127, (3, 3), generator=g, dtype=torch.int8)
    d["u8"] = torch.randint(0, 255, (10,), generator=g, dtype=torch.uint8)
    d["bool"] = torch.rand(2, 4, generator=g) > 0.5
    # special floats that survive JSON: -0.0, subnormals, extremes
    special = torch.tensor([-0.0, 1e-45, -3.4028234663852886e38, 65504.0, 6e-8, 1.0 / 3.0])
    d["f32_special"] = special
    d["f16_special"] = torch.tensor([-0.0, 65504.0, 6e-8, -2.0**-14, 1.0 / 3.0], dtype=torch.float16)
    d["bf16_special"] = torch.tensor([-0.0, 3.0e38, 1e-40, 1.0 / 3.0], dtype=torch.bfloat16)
    d["scalar"] = torch.tensor(2.5)  # 0-dim
    d["scalar_i64"] = torch.tensor(-7, dtype=torch.int64)
    d["empty"] = torch.zeros(0, 3)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5
    d["transposed"] = base.t()  # non-contiguous: shape [6,4], strides [1,6]
    shared = torch.randn(4, 8, generator=g)
    d["shared_full"] = shared
    d["shared_row"] = shared[1]  # offset 8, shape [8]
    d["shared_cols"] = shared[:, 2:5]  # offset 2, strides [8,1]
    d["shared_strided"] = shared[::2, ::3]  # strides [16,3]
    d["shared_flat"] = shared.view(32)
    d["bf16_t"] = torch.randn(3, 5, generator=g).to(torch.bfloat16).t()
    return d


def module_state(g):
    torch.manual_seed(1234)
    m = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 2 * 2, 3),
    )
    m.train()
    m(torch.randn(2, 3, 2, 2, generator=g))  # update running stats, num_batches_tracked
    return m.state_dict()


# ---------------------------------------------------------------- safetensors writer

def st_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    blobs = []
    off = 0
    for name, t in items:
        b = st_bytes(t)
        header[name] = {
            "dtype": ST_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [off, off + len(b)],
        }
        blobs.append(b)
        off += len(b)
    # keys sorted; entry fields in the order dtype, shape, data_offsets
    parts = []
    for k in sorted(header):
        v = header[k]
        if k == "__metadata__":
            enc = json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        else:
            enc = "{%s,%s,%s}" % (
                '"dtype":' + json.dumps(v["dtype"]),
                '"shape":' + json.dumps(v["shape"], separators=(",", ":")),
                '"data_offsets":' + json.dumps(v["data_offsets"], separators=(",", ":")),
            )
        parts.append(json.dumps(k, ensure_ascii=False) + ":" + enc)
    hj = ("{" + ",".join(parts) + "}").encode("utf-8")
    hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    return sum(len(b) for b in blobs)


# ---------------------------------------------------------------- hostile pickles

def hostile_pickle(module, name, arg, stack_global=False):
    """A protocol-2 pickle program that would call module.name(arg) on REDUCE.

    Built opcode by opcode; nothing is executed.
    """
    out = bytearray(b"\x80\x02")
    if stack_global:
        for s in (module, name):
            b = s.encode()
            out += b"\x8c" + bytes([len(b)]) + b  # SHORT_BINUNICODE
        out += b"\x93"  # STACK_GLOBAL
    else:
        out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"  # GLOBAL
    b = arg.encode()
    out += b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE
    out += b"\x85"  # TUPLE1
    out += b"R"  # REDUCE
    out += b"."  # STOP
    return bytes(out)


def hostile_nested_pickle():
    """A state dict whose second value is builtins.eval('...'), hidden after a tensor."""
    out = bytearray(b"\x80\x02")
    out += b"ccollections\nOrderedDict\n)R"  # OrderedDict()
    out += b"q\x00("  # BINPUT 0, MARK
    out += b"X\x01\x00\x00\x00a"  # key 'a'
    out += b"K\x01"  # value 1 (not a tensor)
    out += b"X\x01\x00\x00\x00b"
    out += b"c__builtin__\ngetattr\n"
    out += b"cbuiltins\neval\nX\x0b\x00\x00\x00__import__\x86R"
    out += b"u."  # SETITEMS, STOP
    return bytes(out)


def write_zip_pickle(path, data_pkl, prefix="archive"):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, body in ((prefix + "/data.pkl", data_pkl), (prefix + "/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), body)


def write_legacy_pickle(path, data_pkl):
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
        f.write(data_pkl)
        pickle.dump([], f, protocol=2)


# ---------------------------------------------------------------- main

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "testdata", "weightfiles")
    os.makedirs(os.path.join(out, "sharded"), exist_ok=True)
    g = torch.Generator().manual_seed(20240601)
    expected = {}

    def p(name):
        return os.path.join(out, name)

    d = dtype_dict(g)
    torch.save(d, p("dtypes.pt"))
    expected["dtypes.pt"] = flatten(d, "", {})
    torch.save(d, p("legacy.pt"), _use_new_zipfile_serialization=False)
    expected["legacy.pt"] = flatten(d, "", {})

    sd = module_state(g)
    torch.save(sd, p("module.pt"))
    expected["module.pt"] = flatten(sd, "", {})

    ckpt = {
        "model": sd,
        "epoch": 3,
        "arch": "tiny",
        "optimizer": {
            "state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.randn(2, 2, generator=g)}},
            "param_groups": [{"lr": 0.001, "params": [0]}],
        },
        "extra": [torch.arange(3, dtype=torch.int32), None, 1.5],
    }
    torch.save(ckpt, p("checkpoint.pt"))
    expected["checkpoint.pt"] = flatten(ckpt, "", {})

    params = {
        "weight": nn.Parameter(torch.randn(3, 2, generator=g)),
        "frozen": nn.Parameter(torch.randn(2, generator=g), requires_grad=False),
    }
    torch.save(params, p("parameters.pt"))
    expected["parameters.pt"] = flatten(params, "", {})

    # hostile files: never executed, only written
    write_zip_pickle(p("hostile_system.pt"), hostile_pickle("os", "system", "echo pwned"))
    write_zip_pickle(p("hostile_stackglobal.pt"),
                     hostile_pickle("posix", "system", "echo pwned", stack_global=True))
    write_zip_pickle(p("hostile_nested.pt"), hostile_nested_pickle())
    write_legacy_pickle(p("hostile_legacy.pt"), hostile_pickle("os", "system", "echo pwned"))

    # safetensors: every dtype, contiguous tensors only
    st = collections.OrderedDict()
    for k, v in d.items():
        st[k] = v.contiguous()
    write_safetensors(p("dtypes.safetensors"), st, {"format": "pt", "source": "weightfiles.py"})
    expected["dtypes.safetensors"] = {k: describe(v) for k, v in st.items()}

    # sharded pair + index
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    shards = [collections.OrderedDict(), collections.OrderedDict()]
    for i, (k, v) in enumerate(sd.items()):
        shards[i % 2][k] = v.contiguous()
    total = 0
    weight_map = {}
    for name, tensors in zip(shard_names, shards):
        total += write_safetensors(os.path.join(out, "sharded", name), tensors, {"format": "pt"})
        for k in tensors:
            weight_map[k] = name
    with open(os.path.join(out, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
                  f, indent=2)
        f.write("\n")
    expected["sharded/model.safetensors.index.json"] = {k: describe(v.contiguous()) for k, v in sd.items()}

    # expected strides/offsets of the strided views in dtypes.pt (checked by the Go tests)
    views = {}
    for k, v in d.items():
        views[k] = {"stride": list(v.stride()), "offset": v.storage_offset()}
    expected["_views"] = views

    with open(p("expected.json"), "w") as f:
        json.dump(expected, f, indent=None, sort_keys=True, separators=(",", ":"))
        f.write("\n")

    # sanity: torch itself reads back what we wrote
    for name in ("dtypes.pt", "legacy.pt", "module.pt", "checkpoint.pt", "parameters.pt"):
        torch.load(p(name))


if __name__ == "__main__":
    main()

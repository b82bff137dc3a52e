"""References for prsmed/imageio/dicom and prsmed/imageio/nifti: small synthetic DICOM and
NIfTI files written with pydicom and nibabel, and compact goldens (sizes, value checksums,
statistics and sampled values) of what pydicom and nibabel decode from them and from the
test files Debian ships with python3-pydicom and python3-nibabel.

pydicom decodes with its numpy, Pillow and RLE handlers (Pillow for JPEG baseline and
extended); files in the JPEG lossless syntaxes are decoded with its GDCM handler when
python3-gdcm is installed. Values are pydicom's `pixel_array` after `apply_modality_lut`,
YBR converted to RGB with `convert_color_space`; windows are `apply_windowing` (what
`apply_voi_lut` does for files without a VOI LUT sequence) scaled to [0, 1].

JPEG lossless files are encoded here (there is no Python encoder in Debian): Huffman
coding of the prediction differences (ITU T.81 Annex H), any predictor, optional restart
intervals; GDCM cross-checks the encoder when it is installed.

Run: /usr/bin/python3 third_party/golden/medical_ref.py            (goldens + synthetic files)
     /usr/bin/python3 third_party/golden/medical_ref.py bench DIR  (benchmark inputs into DIR)
     /usr/bin/python3 third_party/golden/medical_ref.py time FILE N (pydicom decode times, ms)
"""
import base64
import copy
import glob
import hashlib
import heapq
import io
import json
import os
import struct
import sys
import time
import zlib

import numpy as np
import pydicom
from pydicom import config
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixel_data_handlers import (numpy_handler, pillow_handler, rle_handler)
from pydicom.pixel_data_handlers.util import (apply_modality_lut, apply_windowing,
                                              convert_color_space)
from pydicom.uid import (ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         DeflatedExplicitVRLittleEndian, RLELossless, JPEGBaseline8Bit)

try:
    from pydicom.pixel_data_handlers import gdcm_handler
    HAVE_GDCM = gdcm_handler.is_available()
except ImportError:
    HAVE_GDCM = False

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "testdata", "medical")
PYDICOM_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
JPEG_LOSSLESS = ("1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70")
LOSSY = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")
EXACT_UNSCALED = True


def use_handlers(ts):
    hs = [numpy_handler, rle_handler, pillow_handler]
    if ts in JPEG_LOSSLESS and HAVE_GDCM:
        hs = [gdcm_handler]
    config.pixel_data_handlers = hs


def record(vals):
    """Compact description of a float64 vector: checksum, statistics, 64 sampled values."""
    v = np.ascontiguousarray(vals, dtype="<f8").ravel()
    n = v.size
    idx = sorted(set(int(i) for i in np.linspace(0, n - 1, min(n, 64)))) if n else []
    # NaNs (nibabel files have some) are counted and left out of the statistics; a
    # sampled NaN is written as null.
    ok = ~np.isnan(v)
    f = v[ok]
    return {
        "n": n,
        "sha256": hashlib.sha256(v.tobytes()).hexdigest(),
        "nans": int(n - f.size),
        "min": float(f.min()) if f.size else 0.0,
        "max": float(f.max()) if f.size else 0.0,
        "sum": float(f.sum()),
        "sumsq": float((f * f).sum()),
        "samples": [[i, None if np.isnan(v[i]) else float(v[i])] for i in idx],
    }


def frame_values(ds, arr, i):
    """Frame i of pixel_array as the Go reader returns it (modality LUT, RGB)."""
    nf = int(getattr(ds, "NumberOfFrames", 1) or 1)
    a = arr[i] if nf > 1 else arr
    photo = str(ds.PhotometricInterpretation)
    if photo.startswith("YBR") and int(ds.SamplesPerPixel) == 3:
        a = convert_color_space(a, "YBR_FULL", "RGB")
    if int(ds.SamplesPerPixel) == 1:
        a = apply_modality_lut(a, ds)
    return np.asarray(a, dtype=np.float64)


def pillow_rgb_differs(ds):
    """True for an RGB JPEG with an Adobe marker too short to hold a transform flag: pydicom
    2.3's Pillow handler then asks for YCbCr output. The Go tests no longer read these JPEG
    baseline/extended records: dicom_jpeg_ref.py writes them from pydicom 3."""
    if str(ds.PhotometricInterpretation) != "RGB":
        return False
    from PIL import Image
    nf = int(getattr(ds, "NumberOfFrames", 1) or 1)
    frame = next(pydicom.encaps.generate_pixel_data_frame(ds.PixelData, nf))
    info = Image.open(io.BytesIO(frame)).info
    return "adobe" in info and "adobe_transform" not in info and info.get("adobe") == 0


def window_record(ds, vals):
    """apply_windowing of frame 0 scaled to [0, 1], for files with a window."""
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    if str(ds.PhotometricInterpretation) not in ("MONOCHROME1", "MONOCHROME2"):
        return None
    bs = int(ds.BitsStored)
    if int(ds.PixelRepresentation) == 0:
        lo, hi = 0.0, 2.0 ** bs - 1
    else:
        lo, hi = -(2.0 ** (bs - 1)), 2.0 ** (bs - 1) - 1
    if ds.get("RescaleSlope") is not None and ds.get("RescaleIntercept") is not None:
        lo = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        hi = hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    out = apply_windowing(vals.copy(), ds, index=0)
    norm = (np.asarray(out, dtype=np.float64) - lo) / (hi - lo)
    levels = np.floor(norm * 255 + 0.5).clip(0, 255).astype(np.int64)
    rec = record(norm)
    rec["hist"] = np.bincount(levels.ravel(), minlength=256).tolist()
    rec["voi_lut_sequence"] = "VOILUTSequence" in ds
    return rec


def describe_dicom(path, name):
    r = {"file": name}
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as e:  # noqa: BLE001 - any failure is an expected error
        r.update(ok=False, stage="read", error=type(e).__name__ + ": " + str(e)[:200])
        return r
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if not ts and "PixelData" in ds:
        # No transfer syntax in the file: use the one pydicom guessed to read it.
        ts = (ImplicitVRLittleEndian if ds.is_implicit_VR else
              ExplicitVRLittleEndian if ds.is_little_endian else ExplicitVRBigEndian)
        if not hasattr(ds, "file_meta"):
            ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ts
        r["ts_guessed"] = True
    r["ts"] = ts
    r["modality"] = str(ds.get("Modality", ""))
    r["sop_instance_uid"] = str(ds.get("SOPInstanceUID", ""))
    if "PixelData" not in ds:
        r.update(ok=False, stage="pixels", error="no pixel data")
        return r
    use_handlers(ts)
    try:
        arr = ds.pixel_array
    except Exception as e:  # noqa: BLE001
        r.update(ok=False, stage="pixels", error=type(e).__name__ + ": " + str(e)[:200])
        return r
    nf = int(getattr(ds, "NumberOfFrames", 1) or 1)
    r.update(ok=True, frames=nf, rows=int(ds.Rows), cols=int(ds.Columns),
             samples=int(ds.SamplesPerPixel), photometric=str(ds.PhotometricInterpretation),
             lossy=ts in LOSSY)
    r["values"] = {}
    for i in sorted({0, nf - 1}):
        v = frame_values(ds, arr, i)
        r["values"][str(i)] = record(v)
        if ts in LOSSY:
            if pillow_rgb_differs(ds):
                # pydicom makes Pillow output YCbCr from an Adobe RGB (transform 0) stream,
                # i.e. converts its RGB to YCbCr; the reference is Pillow's own decode.
                from PIL import Image
                frames = list(pydicom.encaps.generate_pixel_data_frame(ds.PixelData, nf))
                v = np.asarray(Image.open(io.BytesIO(frames[i])).convert("RGB"), dtype=np.float64)
                r["reference"] = "pillow (pydicom converts this Adobe RGB JPEG to YCbCr)"
                r["values"][str(i)] = record(v)
            u8 = np.clip(np.rint(v), 0, 255).astype(np.uint8)
            r["values"][str(i)]["u8_zlib_b64"] = base64.b64encode(zlib.compress(u8.tobytes(), 9)).decode()
    w = window_record(ds, frame_values(ds, arr, 0))
    if w is not None:
        r["window"] = w
    return r


# ---------------------------------------------------------------- JPEG lossless encoder

_DUMMY = [0]  # the unused category that holds the reserved longest code


def _huffman_lengths(freq):
    """Code lengths (<= 16) for symbols with nonzero frequency, plus a reserved dummy so
    that no code is all ones (T.81 Annex C)."""
    syms = [s for s in range(17) if freq[s] > 0]
    unused = [s for s in range(17) if freq[s] == 0]
    if not unused:  # every category used: equal 5-bit codes leave all-ones free
        return {s: 5 for s in syms}
    items = [(freq[s], i, [s]) for i, s in enumerate(syms)] + [(0, 99, [-1])]
    heapq.heapify(items)
    length = {s: 0 for s in syms + [-1]}
    counter = 100
    while len(items) > 1:
        f1, _, a = heapq.heappop(items)
        f2, _, b = heapq.heappop(items)
        for s in a + b:
            length[s] += 1
        heapq.heappush(items, (f1 + f2, counter, a + b))
        counter += 1
    if max(length.values()) > 16:  # fall back to equal 5-bit codes (18 symbols fit)
        length = {s: 5 for s in length}
    return length


def _canonical(length):
    order = sorted((l, s if s >= 0 else 99, s) for s, l in length.items())
    codes, code, prev = {}, 0, order[0][0]
    counts = [0] * 16
    symbols = []
    for l, _, s in order:
        code <<= (l - prev)
        prev = l
        codes[s] = (code, l)
        code += 1
        counts[l - 1] += 1
        symbols.append(s if s >= 0 else _DUMMY[0])
    return codes, counts, symbols


def jpeg_lossless(planes, precision, predictor=1, restart=0):
    """Encode same-size component planes (uint arrays) as one interleaved lossless scan."""
    rows, cols = planes[0].shape
    nc = len(planes)
    data = [np.asarray(p, dtype=np.int64) for p in planes]
    init = 1 << (precision - 1)
    diffs = np.zeros((rows, cols, nc), dtype=np.int64)
    for c in range(nc):
        x = data[c]
        pr = np.zeros_like(x)
        ra = np.zeros_like(x)
        rb = np.zeros_like(x)
        rc = np.zeros_like(x)
        ra[:, 1:] = x[:, :-1]
        rb[1:, :] = x[:-1, :]
        rc[1:, 1:] = x[:-1, :-1]
        pred = {1: ra, 2: rb, 3: rc, 4: ra + rb - rc, 5: ra + ((rb - rc) >> 1),
                6: rb + ((ra - rc) >> 1), 7: (ra + rb) >> 1}[predictor]
        pr[:] = pred
        pr[:, 0] = rb[:, 0]
        # rows that start a restart interval (restart a multiple of cols) use Ra; row 0 too
        start_rows = [0] + ([r for r in range(rows) if restart and (r * cols) % restart == 0] if restart else [])
        for r in start_rows:
            pr[r, 1:] = x[r, :-1]
            pr[r, 0] = init
        d = (x - pr) & 0xFFFF
        d[d >= 32768] -= 65536
        diffs[:, :, c] = d
    flat = diffs.reshape(-1)
    absd = np.abs(flat)
    cat = np.zeros_like(absd)
    nz = absd > 0
    cat[nz] = np.floor(np.log2(absd[nz])).astype(np.int64) + 1
    cat[flat == -32768] = 16
    freq = np.bincount(cat, minlength=17)
    _DUMMY[0] = next((s for s in range(17) if freq[s] == 0), 0)
    codes, counts, symbols = _canonical(_huffman_lengths(freq))
    out = bytearray()
    acc, nbits = 0, 0

    def flush_bits():
        nonlocal acc, nbits
        while nbits >= 8:
            b = (acc >> (nbits - 8)) & 0xFF
            out.append(b)
            if b == 0xFF:
                out.append(0)
            nbits -= 8
        acc &= (1 << nbits) - 1

    per_mcu = nc
    rst = 0
    for k in range(flat.size):
        if restart and k and k % (restart * per_mcu) == 0:
            if nbits:
                pad = 8 - nbits
                acc = (acc << pad) | ((1 << pad) - 1)
                nbits += pad
                flush_bits()
            out += bytes([0xFF, 0xD0 + rst % 8])
            rst += 1
        s = int(cat[k])
        code, l = codes[s]
        acc = (acc << l) | code
        nbits += l
        if 0 < s < 16:
            d = int(flat[k])
            v = d if d > 0 else d + (1 << s) - 1
            acc = (acc << s) | v
            nbits += s
        flush_bits()
    if nbits:
        pad = 8 - nbits
        acc = (acc << pad) | ((1 << pad) - 1)
        nbits += pad
        flush_bits()
    hdr = bytearray(b"\xff\xd8")
    dht = bytes([0x00]) + bytes(counts) + bytes(symbols)
    hdr += b"\xff\xc4" + struct.pack(">H", 2 + len(dht)) + dht
    sof = struct.pack(">BHHB", precision, rows, cols, nc) + b"".join(bytes([c + 1, 0x11, 0]) for c in range(nc))
    hdr += b"\xff\xc3" + struct.pack(">H", 2 + len(sof)) + sof
    if restart:
        hdr += b"\xff\xdd" + struct.pack(">HH", 4, restart)
    sos = bytes([nc]) + b"".join(bytes([c + 1, 0x00]) for c in range(nc)) + bytes([predictor, 0, 0])
    hdr += b"\xff\xda" + struct.pack(">H", 2 + len(sos)) + sos
    return bytes(hdr + out + b"\xff\xd9")


# ---------------------------------------------------------------- synthetic DICOM files

def new_ds(ts, rows, cols, samples=1, bits=16, stored=None, signed=0, photo="MONOCHROME2", frames=1):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.%d" % (rows * 1000 + cols)
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photo
    ds.BitsAllocated = bits
    ds.BitsStored = stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = signed
    if samples == 3:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.is_little_endian = ts != ExplicitVRBigEndian
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    return ds


def set_native(ds, arr):
    a = np.asarray(arr)
    if not ds.is_little_endian:
        a = a.astype(a.dtype.newbyteorder(">"))
    ds.PixelData = a.tobytes()


def ct_phantom(rng, rows, cols):
    """A CT-like slice in HU: air, a body ellipse of soft tissue, lungs, a bone ring."""
    y, x = np.mgrid[0:rows, 0:cols]
    cy, cx = (rows - 1) / 2, (cols - 1) / 2
    hu = np.full((rows, cols), -1000.0)
    body = ((y - cy) / (0.42 * rows)) ** 2 + ((x - cx) / (0.46 * cols)) ** 2 < 1
    hu[body] = 40
    for s in (-1, 1):
        lung = ((y - cy) / (0.28 * rows)) ** 2 + ((x - cx - s * 0.2 * cols) / (0.14 * cols)) ** 2 < 1
        hu[lung] = -820
    ring = np.abs(np.hypot(y - cy, x - cx) - 0.38 * min(rows, cols)) < 1.2
    hu[ring & body] = 900
    hu += rng.normal(0, 25, hu.shape)
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


def write_synthetic(rng):
    files = {}

    # CT, implicit VR, signed 12-in-16 bits, two windows.
    ds = new_ds(ImplicitVRLittleEndian, 40, 48, bits=16, stored=12, signed=1)
    hu = ct_phantom(rng, 40, 48)
    raw = (hu + 1024).astype(np.int16)
    raw[0, 0] = -5  # a negative stored value
    ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
    ds.WindowCenter, ds.WindowWidth = ["40", "-600"], ["400", "1500"]
    set_native(ds, raw)
    files["ct_implicit.dcm"] = ds

    # MR, explicit big endian, unsigned 12-in-16 bits, 2 frames, fractional rescale.
    ds = new_ds(ExplicitVRBigEndian, 17, 23, bits=16, stored=12, frames=2)
    ds.Modality = "MR"
    set_native(ds, rng.integers(0, 4096, (2, 17, 23)).astype(np.uint16))
    ds.RescaleSlope, ds.RescaleIntercept = "2.5", "-10.25"
    ds.WindowCenter, ds.WindowWidth = "5000", "6000"
    files["mr_bigendian_2frames.dcm"] = ds

    # MONOCHROME1, 8 bits, explicit little endian, window with LINEAR_EXACT.
    ds = new_ds(ExplicitVRLittleEndian, 21, 19, bits=8, photo="MONOCHROME1")
    ds.Modality = "CR"
    set_native(ds, rng.integers(0, 256, (21, 19)).astype(np.uint8))
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = "120", "90", "LINEAR_EXACT"
    files["cr_mono1_u8.dcm"] = ds

    # RGB, planar configuration 1.
    ds = new_ds(ExplicitVRLittleEndian, 9, 11, samples=3, bits=8, photo="RGB")
    ds.Modality = "XC"
    rgb = rng.integers(0, 256, (9, 11, 3)).astype(np.uint8)
    ds.PlanarConfiguration = 1
    ds.PixelData = np.ascontiguousarray(rgb.transpose(2, 0, 1)).tobytes()
    files["rgb_planar1.dcm"] = ds

    # YBR_FULL, 8 bits, planar configuration 0.
    ds = new_ds(ExplicitVRLittleEndian, 8, 10, samples=3, bits=8, photo="YBR_FULL")
    ds.Modality = "XC"
    set_native(ds, rng.integers(0, 256, (8, 10, 3)).astype(np.uint8))
    files["ybr_full.dcm"] = ds

    # 32-bit signed, sigmoid window.
    ds = new_ds(ExplicitVRLittleEndian, 7, 13, bits=32, signed=1)
    ds.Modality = "RTDOSE"
    set_native(ds, rng.integers(-2 ** 31, 2 ** 31 - 1, (7, 13), dtype=np.int64).astype(np.int32))
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = "0", "1e9", "SIGMOID"
    files["s32_sigmoid.dcm"] = ds

    # Deflated explicit little endian, signed 16 bits, 3 frames.
    ds = new_ds(DeflatedExplicitVRLittleEndian, 12, 10, bits=16, signed=1, frames=3)
    set_native(ds, rng.integers(-3000, 3000, (3, 12, 10)).astype(np.int16))
    ds.RescaleSlope, ds.RescaleIntercept = "0.75", "3"
    files["deflated_3frames.dcm"] = ds

    # RLE lossless (pydicom's encoder), signed 16 bits, 2 frames.
    ds = new_ds(ExplicitVRLittleEndian, 24, 20, bits=16, signed=1, frames=2)
    frames = np.stack([ct_phantom(rng, 24, 20), ct_phantom(rng, 24, 20)])
    set_native(ds, frames)
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    ds.compress(RLELossless, encoding_plugin="pydicom")
    files["rle_ct_2frames.dcm"] = ds

    # RLE lossless RGB 8 bits.
    ds = new_ds(ExplicitVRLittleEndian, 6, 9, samples=3, bits=8, photo="RGB")
    set_native(ds, rng.integers(0, 256, (6, 9, 3)).astype(np.uint8))
    ds.compress(RLELossless, encoding_plugin="pydicom")
    files["rle_rgb.dcm"] = ds

    # JPEG lossless SV1, 16 bits unsigned (CT-like, stored + 1024).
    ds = new_ds("1.2.840.10008.1.2.4.70", 33, 47, bits=16, stored=16)
    img = (ct_phantom(rng, 33, 47).astype(np.int32) + 1024).astype(np.uint16)
    ds.PixelData = encapsulate([jpeg_lossless([img], 16, 1)])
    ds["PixelData"].VR = "OB"
    ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
    ds.WindowCenter, ds.WindowWidth = "-600", "1500"
    ds.is_little_endian, ds.is_implicit_VR = True, False
    files["jpegll_sv1_u16.dcm"] = (ds, img)

    # JPEG lossless, predictor 7, restart interval of one row, RGB 8 bits, 2 frames.
    ds = new_ds("1.2.840.10008.1.2.4.57", 14, 18, samples=3, bits=8, photo="RGB", frames=2)
    rgbs = [rng.integers(0, 256, (14, 18, 3)).astype(np.uint8) for _ in range(2)]
    ds.PixelData = encapsulate([jpeg_lossless([f[:, :, c] for c in range(3)], 8, 7, restart=18) for f in rgbs])
    ds["PixelData"].VR = "OB"
    files["jpegll_p7_rgb_restart.dcm"] = (ds, np.stack(rgbs))

    # JPEG lossless, predictor 4, signed 16 bits with the sign bit set.
    ds = new_ds("1.2.840.10008.1.2.4.57", 10, 12, bits=16, signed=1)
    s16 = rng.integers(-30000, 30000, (10, 12)).astype(np.int16)
    ds.PixelData = encapsulate([jpeg_lossless([s16.view(np.uint16)], 16, 4)])
    ds["PixelData"].VR = "OB"
    files["jpegll_p4_s16.dcm"] = (ds, s16)

    # JPEG baseline, gray, through Pillow.
    from PIL import Image
    ds = new_ds(JPEGBaseline8Bit, 32, 40, bits=8)
    g = np.clip(ct_phantom(rng, 32, 40) / 8 + 128, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(g).save(buf, format="JPEG", quality=90)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.is_little_endian, ds.is_implicit_VR = True, False
    files["jpeg_baseline_gray.dcm"] = ds

    # Round trip for the imageio test: a CT slice, and the PNG of its lung window.
    ds = new_ds(ExplicitVRLittleEndian, 64, 64, bits=16, signed=1)
    hu = ct_phantom(rng, 64, 64)
    set_native(ds, hu)
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    files["ct_roundtrip.dcm"] = ds
    lung = copy.deepcopy(ds)
    lung.WindowCenter, lung.WindowWidth = "-600", "1500"
    out = apply_windowing(hu.astype(np.float64), lung)
    lo, hi = -32768.0, 32767.0
    levels = np.floor((out - lo) / (hi - lo) * 255 + 0.5).clip(0, 255).astype(np.uint8)
    Image.fromarray(levels, mode="L").save(os.path.join(OUT, "ct_roundtrip_lung.png"))

    golden = []
    for name, item in sorted(files.items()):
        ds, want = item if isinstance(item, tuple) else (item, None)
        path = os.path.join(OUT, name)
        ds.save_as(path, write_like_original=False)
        if want is not None and HAVE_GDCM:  # cross-check the encoder with GDCM
            check = pydicom.dcmread(path)
            use_handlers(str(check.file_meta.TransferSyntaxUID))
            got = check.pixel_array
            assert np.array_equal(got.reshape(want.shape), want), name
        rec = describe_dicom(path, name)
        if want is not None and not rec.get("ok"):
            # Without GDCM pydicom cannot decode JPEG lossless: the encoder's input is the truth.
            d = pydicom.dcmread(path)
            nf = int(getattr(d, "NumberOfFrames", 1) or 1)
            rec.update(ok=True, frames=nf, rows=int(d.Rows), cols=int(d.Columns),
                       samples=int(d.SamplesPerPixel), photometric=str(d.PhotometricInterpretation),
                       lossy=False, values={})
            for i in sorted({0, nf - 1}):
                a = want[i] if nf > 1 else want
                rec["values"][str(i)] = record(apply_modality_lut(a, d) if int(d.SamplesPerPixel) == 1 else a)
        golden.append(rec)

    # A data set without preamble or meta group (explicit VR little endian).
    ds = files["ct_implicit.dcm"]
    plain = Dataset()
    for el in ds:
        plain.add(el)
    buf = io.BytesIO()
    from pydicom.filebase import DicomFileLike
    fp = DicomFileLike(buf)
    fp.is_little_endian, fp.is_implicit_VR = True, False
    pydicom.filewriter.write_dataset(fp, plain)
    path = os.path.join(OUT, "no_meta_explicit.dcm")
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    golden.append(describe_dicom(path, "no_meta_explicit.dcm"))
    return golden


# ---------------------------------------------------------------- NIfTI

def nifti_slices(img):
    data = np.asarray(img.get_fdata(), dtype=np.float64)
    dims = list(data.shape)
    vol = data
    while vol.ndim > 3:
        vol = vol[..., 0]
    while vol.ndim < 3:
        vol = vol[..., np.newaxis]
    out = []
    for axis in range(3):
        n = vol.shape[axis]
        for index in sorted({0, n // 2, n - 1}):
            s = np.take(vol, index, axis=axis)
            rec = record(s)
            rec.update(axis=axis, index=index, h=int(s.shape[0]), w=int(s.shape[1]))
            out.append(rec)
    return dims, out


def describe_nifti(path, name):
    import nibabel as nib
    r = {"file": name}
    try:
        img = nib.load(path)
        dims, slices = nifti_slices(img)
    except Exception as e:  # noqa: BLE001
        r.update(ok=False, error=type(e).__name__ + ": " + str(e)[:200])
        return r
    r.update(ok=True, dims=dims, slices=slices, kind=type(img).__name__)
    return r


def write_synthetic_nifti(rng):
    import nibabel as nib
    made = []
    aff = np.diag([0.8, 0.9, 2.5, 1.0])
    a = rng.integers(-2000, 2000, (6, 5, 4)).astype(np.int16)
    img = nib.Nifti1Image(a, aff)
    img.header.set_slope_inter(0.5, 10)
    nib.save(img, os.path.join(OUT, "vol_i16_scaled.nii"))
    made.append("vol_i16_scaled.nii")

    b = rng.normal(0, 100, (5, 4, 3, 2)).astype(np.float32)
    nib.save(nib.Nifti1Image(b, aff), os.path.join(OUT, "vol_f32_4d.nii.gz"))
    made.append("vol_f32_4d.nii.gz")

    c = rng.integers(0, 256, (7, 3, 4)).astype(np.uint8)
    nib.save(nib.Nifti1Pair(c, aff), os.path.join(OUT, "vol_u8_pair.hdr"))
    made.append("vol_u8_pair.hdr")

    d = rng.normal(0, 1, (4, 3, 5))
    nib.save(nib.Nifti2Image(d, aff), os.path.join(OUT, "vol_nifti2_f64.nii"))
    made.append("vol_nifti2_f64.nii")

    e = rng.integers(-500, 500, (3, 6, 2)).astype(np.int16)
    hdr = nib.AnalyzeHeader(endianness=">")
    img = nib.AnalyzeImage(e, aff, header=hdr)
    nib.save(img, os.path.join(OUT, "vol_analyze_be.hdr"))
    made.append("vol_analyze_be.hdr")

    f = rng.integers(-20000, 20000, (5, 2, 3)).astype(np.int32)
    hdr = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Image(f, aff, header=hdr)
    img.header.set_slope_inter(-0.125, 7)
    nib.save(img, os.path.join(OUT, "vol_i32_be_scaled.nii"))
    made.append("vol_i32_be_scaled.nii")

    g = rng.integers(0, 65535, (4, 4, 1)).astype(np.uint16)
    nib.save(nib.Nifti1Image(g, aff), os.path.join(OUT, "vol_u16_2d.nii"))
    made.append("vol_u16_2d.nii")
    return [describe_nifti(os.path.join(OUT, m), m) for m in made]


# ---------------------------------------------------------------- benchmark helpers

def bench_inputs(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    ds = new_ds(ExplicitVRLittleEndian, 512, 512, bits=16, signed=1)
    set_native(ds, ct_phantom(rng, 512, 512))
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    ds.save_as(os.path.join(d, "ct512.dcm"), write_like_original=False)
    ds = new_ds("1.2.840.10008.1.2.4.70", 1024, 1024, bits=16, stored=16)
    img = (ct_phantom(rng, 1024, 1024).astype(np.int32) + 1024).astype(np.uint16)
    ds.PixelData = encapsulate([jpeg_lossless([img], 16, 1)])
    ds["PixelData"].VR = "OB"
    ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
    ds.save_as(os.path.join(d, "jll1024.dcm"), write_like_original=False)
    np.save(os.path.join(d, "jll1024.npy"), img)


def time_decode(path, n):
    """Milliseconds per decode (read, pixel_array, modality LUT), n repetitions."""
    ts = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    use_handlers(ts)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        ds = pydicom.dcmread(path)
        v = apply_modality_lut(ds.pixel_array, ds)
        times.append((time.perf_counter() - t0) * 1e3)
    return times, float(np.asarray(v, dtype=np.float64).sum())


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "bench":
        bench_inputs(sys.argv[2])
        return
    if len(sys.argv) >= 4 and sys.argv[1] == "time":
        t, total = time_decode(sys.argv[2], int(sys.argv[3]))
        print("%.3f sum %.17g" % (sum(t) / len(t), total))
        return
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(17)
    synthetic = write_synthetic(rng)
    with open(os.path.join(OUT, "synthetic_dicom.json"), "w") as f:
        json.dump({"gdcm": HAVE_GDCM, "files": synthetic}, f, indent=0)
    with open(os.path.join(OUT, "synthetic_nifti.json"), "w") as f:
        json.dump({"files": write_synthetic_nifti(rng)}, f, indent=0)
    system = [describe_dicom(p, os.path.basename(p)) for p in sorted(glob.glob(os.path.join(PYDICOM_FILES, "*.dcm")))]
    with open(os.path.join(OUT, "pydicom_files.json"), "w") as f:
        json.dump({"pydicom": pydicom.__version__, "gdcm": HAVE_GDCM, "files": system}, f, indent=0)
    import nibabel as nib
    ndir = os.path.join(os.path.dirname(nib.__file__), "tests", "data")
    names = sorted(glob.glob(os.path.join(ndir, "*.nii")) + glob.glob(os.path.join(ndir, "*.nii.gz")) +
                   glob.glob(os.path.join(ndir, "*.hdr")))
    with open(os.path.join(OUT, "nibabel_files.json"), "w") as f:
        json.dump({"nibabel": nib.__version__, "files": [describe_nifti(p, os.path.basename(p)) for p in names]}, f, indent=0, allow_nan=False)


if __name__ == "__main__":
    main()

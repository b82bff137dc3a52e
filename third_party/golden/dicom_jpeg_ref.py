"""Goldens for prsmed/imageio/dicom on every pydicom test file whose pixel data is a JPEG
baseline or extended codestream (transfer syntaxes 1.2.840.10008.1.2.4.50 and .51),
decoded by pydicom 3 with its Pillow plugin.

pydicom 3 lets libjpeg convert colour only when the stream carries a complete Adobe APP14
segment (its transform flag then decides); otherwise it takes the components as stored
and converts YBR_FULL and YBR_FULL_422 to RGB from the DICOM header, as the Go reader
does. (pydicom 2.3, which wrote pydicom_files.json, converted an RGB stream with a
truncated APP14 segment to YCbCr; these records replace its JPEG baseline entries.)

The JPEG lossless files (.57, .70) stay in pydicom_files.json (decoded with GDCM there);
12-bit JPEG extended files are recorded as pydicom fails on them (Pillow reads 8-bit only).

Run with pydicom 3 and Pillow, for example:
    python -m venv /tmp/jpegref && /tmp/jpegref/bin/pip install pydicom==3.0.2 pillow numpy
    /tmp/jpegref/bin/python third_party/golden/dicom_jpeg_ref.py [PYDICOM_TEST_FILES]
The default test-file folder is Debian's python3-pydicom one (the Go test reads it there).
"""
import base64
import hashlib
import json
import os
import sys
import warnings
import zlib

import numpy as np
import PIL
import pydicom
from pydicom.pixels import pixel_array

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "testdata", "medical", "pydicom_jpeg.json")
FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
JPEG = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")


def record(vals):
    """As medical_ref.py: checksum, statistics and 64 sampled values of a float64 vector,
    plus the values rounded to bytes (zlib, base64) for the lossy comparison."""
    v = np.ascontiguousarray(vals, dtype="<f8").ravel()
    n = v.size
    idx = sorted(set(int(i) for i in np.linspace(0, n - 1, min(n, 64))))
    u8 = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    return {
        "n": n,
        "sha256": hashlib.sha256(v.tobytes()).hexdigest(),
        "min": float(v.min()),
        "max": float(v.max()),
        "sum": float(v.sum()),
        "sumsq": float((v * v).sum()),
        "samples": [[i, float(v[i])] for i in idx],
        "u8_zlib_b64": base64.b64encode(zlib.compress(u8.tobytes(), 9)).decode(),
    }


def describe(path, name):
    ds = pydicom.dcmread(path, force=True)
    ts = str(ds.file_meta.TransferSyntaxUID)
    r = {"file": name, "ts": ts, "modality": str(ds.get("Modality", "")),
         "sop_instance_uid": str(ds.get("SOPInstanceUID", ""))}
    try:
        arr = pixel_array(ds, decoding_plugin="pillow")
    except Exception as e:  # noqa: BLE001 - an expected failure is recorded
        r.update(ok=False, stage="pixels", error=type(e).__name__ + ": " + str(e)[:200])
        return r
    nf = int(getattr(ds, "NumberOfFrames", 1) or 1)
    r.update(ok=True, frames=nf, rows=int(ds.Rows), cols=int(ds.Columns),
             samples=int(ds.SamplesPerPixel), photometric=str(ds.PhotometricInterpretation),
             lossy=True, values={})
    for i in sorted({0, nf - 1}):
        a = arr[i] if nf > 1 else arr
        r["values"][str(i)] = record(np.asarray(a, dtype=np.float64))
    return r


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else FILES
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            if not name.endswith(".dcm"):
                continue
            try:
                meta = pydicom.dcmread(path, force=True, stop_before_pixels=True)
                ts = str(meta.file_meta.TransferSyntaxUID)
            except Exception:  # noqa: BLE001 - not a readable DICOM file: not ours
                continue
            if ts in JPEG:
                out.append(describe(path, name))
    with open(OUT, "w") as f:
        json.dump({"pydicom": pydicom.__version__, "pillow": PIL.__version__, "files": out}, f, indent=0)
    print(OUT, len(out), "files")


if __name__ == "__main__":
    main()

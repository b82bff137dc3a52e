#!/usr/bin/env python3
"""Goldens for prsmed/imageio/volume, written with nibabel 5 and pydicom 3.

Writes under testdata/volume/ (run from the repository root):
  *.nii, *.nii.gz      NIfTI-1/2 files: sform, qform-only (qfac -1), fallback, oblique
  series/              a synthetic oblique DICOM series, files named in shuffled order
  odd/                 single DICOM files that do not belong to that series (another
                       series, another orientation, another size) for the error tests
  refs.json            what nibabel and pydicom say: affines, voxels (Fortran order),
                       axis codes, and as_closest_canonical's affine, shape and voxels

Regenerate:  /tmp/t2venv/bin/python third_party/golden/volume_refs.py
(any python with nibabel>=5, pydicom>=3 and numpy).

Check mode, used by the Go writer test when PRSMED_PYTHON names such a python:
  python volume_refs.py --check FILE.nii[.gz] EXPECTED.json
loads FILE with nibabel and compares shape, affine (sform and qform), xform codes and
voxels with EXPECTED ({"shape", "affine", "data" (Fortran order), "code"}); prints OK or
exits 1 with the difference.
"""
import json
import math
import os
import sys

import numpy as np


def rot(axis, deg):
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    m = np.eye(3)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def affine(r, zooms, trans):
    a = np.eye(4)
    a[:3, :3] = r @ np.diag(zooms)
    a[:3, 3] = trans
    return a


def record(img):
    import nibabel as nib
    data = np.asarray(img.get_fdata())
    can = nib.as_closest_canonical(img)
    cdata = np.asarray(can.get_fdata())
    fl = lambda a: [None if math.isnan(x) else float(x) for x in a.flatten(order='F')]
    return {
        'shape': list(data.shape),
        'affine': img.affine.tolist(),
        'codes': ''.join(nib.aff2axcodes(img.affine)),
        'ornt': nib.io_orientation(img.affine).astype(int).tolist(),
        'data': fl(data),
        'canonical_shape': list(cdata.shape),
        'canonical_affine': can.affine.tolist(),
        'canonical_data': fl(cdata),
    }


NIFTI_FILES = ['sform_n1.nii', 'qform_n1.nii.gz', 'fallback_nan_n1.nii', 'sform_n2.nii', 'qform_n2.nii.gz',
               'order_n1.nii']


def write_nifti(out, refs):
    import nibabel as nib
    rng = np.random.default_rng(25)
    # Oblique sform (code 1) with a different qform (code 1): the sform wins.
    d = rng.integers(-1000, 1000, size=(5, 4, 3)).astype(np.int16)
    a = affine(rot(2, 30) @ rot(0, 20), [0.8, 1.5, 2.5], [10, -20, 30])
    img = nib.Nifti1Image(d, a)
    img.header.set_sform(a, code=1)
    img.header.set_qform(affine(np.eye(3), [1, 1, 1], [0, 0, 0]), code=1)
    nib.save(img, os.path.join(out, 'sform_n1.nii'))
    # qform only, left-handed (qfac -1), oblique, with scaling, gzipped.
    d = rng.integers(0, 200, size=(4, 6, 3)).astype(np.int16)
    a = affine(rot(1, 25) @ rot(2, -40), [1.2, 0.9, -2.0], [-5, 7, 11])
    img = nib.Nifti1Image(d, None)
    img.header.set_qform(a, code=2)
    img.header.set_sform(None, code=0)
    img.header.set_slope_inter(0.5, -3)
    nib.save(img, os.path.join(out, 'qform_n1.nii.gz'))
    # Neither code: nibabel's fallback affine from pixdim.
    d = rng.standard_normal((3, 5, 2)).astype(np.float32)
    d[1, 2, 0] = np.nan
    img = nib.Nifti1Image(d, None)
    img.header.set_zooms((2.0, 3.0, 4.0))
    img.header.set_sform(None, code=0)
    img.header.set_qform(None, code=0)
    nib.save(img, os.path.join(out, 'fallback_nan_n1.nii'))
    # NIfTI-2: oblique sform; and qform only.
    d = rng.standard_normal((4, 3, 5))
    a = affine(rot(0, -35) @ rot(1, 50), [2.0, 1.0, 1.5], [100, 50, -25])
    a[0, 1] += 0.3  # a shear: the sform keeps it
    img = nib.Nifti2Image(d, a)
    img.header.set_sform(a, code=4)
    img.header.set_qform(None, code=0)
    nib.save(img, os.path.join(out, 'sform_n2.nii'))
    d = rng.integers(0, 50, size=(3, 4, 5)).astype(np.uint8)
    a = affine(rot(2, 100) @ rot(0, 170), [0.5, 0.7, 3.0], [1, 2, 3])
    img = nib.Nifti2Image(d, None)
    img.header.set_qform(a, code=1)
    img.header.set_sform(None, code=0)
    nib.save(img, os.path.join(out, 'qform_n2.nii.gz'))
    # A rotation where io_orientation's strongest-axis-first order matters: taking the
    # voxel axes in index order would assign them differently.
    d = rng.integers(0, 9, size=(2, 3, 4)).astype(np.uint8)
    a = affine(rot(0, 35) @ rot(1, 50), [1.0, 2.0, 3.0], [0, 0, 0])
    img = nib.Nifti1Image(d, a)
    img.header.set_sform(a, code=1)
    nib.save(img, os.path.join(out, 'order_n1.nii'))
    for f in NIFTI_FILES:
        img = nib.load(os.path.join(out, f))
        refs[f] = record(img)
        refs[f]['xform_code'] = int(img.header['sform_code'] or img.header['qform_code'])


def dcm(path, series_uid, sop_uid, iop, ipp, px, rows, cols, slope=None, inter=None):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.2'
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = sop_uid
    ds.Modality = 'CT'
    ds.StudyInstanceUID = '1.2.826.0.1.3680043.2.1125.25.1'
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = '1.2.826.0.1.3680043.2.1125.25.2'
    ds.ImageOrientationPatient = [f'{x:.8f}' for x in iop]
    ds.ImagePositionPatient = [f'{x:.6f}' for x in ipp]
    ds.PixelSpacing = ['0.75', '0.6']
    ds.SliceThickness = '2.5'
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = inter
    ds.PixelData = px.astype('<i2').tobytes()
    ds.save_as(path, enforce_file_format=True)


def write_series(out, refs):
    import pydicom
    from pydicom.pixels import apply_modality_lut
    sdir = os.path.join(out, 'series')
    odir = os.path.join(out, 'odd')
    os.makedirs(sdir, exist_ok=True)
    os.makedirs(odir, exist_ok=True)
    rng = np.random.default_rng(2025)
    r = rot(2, 20) @ rot(0, 15)  # an oblique plane in LPS
    row, col = r[:, 0], r[:, 1]
    normal = np.cross(row, col)
    origin = np.array([-40.0, 25.0, 60.0])
    rows, cols, n = 5, 6, 4
    uid = '1.2.826.0.1.3680043.2.1125.25.3'
    order = [2, 0, 3, 1]  # file k holds slice order[k]: names do not follow positions
    for name_k, s in enumerate(order):
        ipp = origin + s * 2.5 * normal
        px = rng.integers(-1000, 3000, size=(rows, cols))
        dcm(os.path.join(sdir, f'im{name_k:02d}.dcm'), uid, f'{uid}.{s + 1}', np.r_[row, col], ipp, px,
            rows, cols, slope='0.5', inter='-1024')
    # Odd files: another series, another orientation, another size (same series UID).
    px = rng.integers(0, 100, size=(rows, cols))
    dcm(os.path.join(odir, 'other_series.dcm'), uid + '.9', uid + '.9.1', np.r_[row, col], origin, px, rows, cols)
    r2 = rot(2, 28) @ rot(0, 15)
    dcm(os.path.join(odir, 'other_orientation.dcm'), uid, uid + '.8', np.r_[r2[:, 0], r2[:, 1]],
        origin + 4 * 2.5 * normal, px, rows, cols)
    px2 = rng.integers(0, 100, size=(rows + 1, cols))
    dcm(os.path.join(odir, 'other_size.dcm'), uid, uid + '.7', np.r_[row, col], origin + 4 * 2.5 * normal,
        px2, rows + 1, cols)

    # What pydicom says: positions, orientation, spacing, rescaled pixels.
    files = sorted(os.listdir(sdir))
    dss = [pydicom.dcmread(os.path.join(sdir, f)) for f in files]
    iop = np.array([float(x) for x in dss[0].ImageOrientationPatient])
    nrm = np.cross(iop[:3], iop[3:])
    proj = [float(np.dot([float(x) for x in d.ImagePositionPatient], nrm)) for d in dss]
    idx = np.argsort(proj)
    dss = [dss[i] for i in idx]
    ipps = np.array([[float(x) for x in d.ImagePositionPatient] for d in dss])
    ps = [float(x) for x in dss[0].PixelSpacing]
    lps = np.eye(4)
    lps[:3, 0] = iop[:3] * ps[1]
    lps[:3, 1] = iop[3:] * ps[0]
    lps[:3, 2] = (ipps[-1] - ipps[0]) / (len(dss) - 1)
    lps[:3, 3] = ipps[0]
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    vol = np.stack([apply_modality_lut(d.pixel_array, d).T for d in dss], axis=2).astype(np.float64)
    import nibabel as nib
    rec = record(nib.Nifti1Image(vol, ras))
    rec['files'] = [files[i] for i in idx]
    rec['sop_uids'] = [str(d.SOPInstanceUID) for d in dss]
    rec['series_uid'] = uid
    refs['series'] = rec


def check(path, expected):
    import nibabel as nib
    with open(expected) as f:
        exp = json.load(f)
    img = nib.load(path)
    bad = []
    if list(img.shape) != exp['shape']:
        bad.append(f'shape {img.shape} != {exp["shape"]}')
    want = np.array(exp['affine'])
    for name, got in [('affine', img.affine), ('sform', img.get_sform()), ('qform', img.get_qform())]:
        # The header stores float32: compare to float32 precision of the largest element.
        tol = 1e-6 * max(1.0, np.abs(want).max())
        if not np.allclose(got, want, rtol=0, atol=tol):
            bad.append(f'{name}\n{got}\n!= {want}')
    codes = (int(img.header['sform_code']), int(img.header['qform_code']))
    if codes != (exp['code'], exp['code']):
        bad.append(f'sform/qform codes {codes}, want {exp["code"]}')
    data = np.asarray(img.get_fdata()).flatten(order='F')
    wd = np.array(exp['data'], dtype=np.float64)
    if data.shape != wd.shape or not np.array_equal(data, wd):
        bad.append('voxels differ')
    if bad:
        print('\n'.join(bad))
        sys.exit(1)
    print('OK')


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--check':
        check(sys.argv[2], sys.argv[3])
        return
    out = os.path.join('testdata', 'volume')
    os.makedirs(out, exist_ok=True)
    refs = {}
    write_nifti(out, refs)
    write_series(out, refs)
    with open(os.path.join(out, 'refs.json'), 'w') as f:
        json.dump(refs, f, indent=0)
        f.write('\n')


if __name__ == '__main__':
    main()

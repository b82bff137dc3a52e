"""Checks a DICOM Segmentation object written by prsmed/imageio/dicomseg with pydicom 3
against the NIfTI mask written beside it (nibabel 5) and the source series files.

  python seg_check.py SEG.dcm MASK.nii.gz SERIES_DIR EXPECTED.json

EXPECTED.json: {"label": ..., "slices": [k, ...]} (the source slices that hold mask, in
the order of the series' volume, i.e. along the slice normal).
Prints OK or the differences (exit 1).
"""
import json
import os
import sys

import numpy as np


def main(seg_path, nii_path, series_dir, expected):
    import nibabel as nib
    import pydicom
    with open(expected) as f:
        exp = json.load(f)
    bad = []
    seg = pydicom.dcmread(seg_path)
    if seg.SOPClassUID != '1.2.840.10008.5.1.4.1.1.66.4' or seg.Modality != 'SEG':
        bad.append(f'SOP class {seg.SOPClassUID} modality {seg.Modality}')
    if seg.file_meta.TransferSyntaxUID != '1.2.840.10008.1.2.1':
        bad.append(f'transfer syntax {seg.file_meta.TransferSyntaxUID}')
    if seg.SegmentationType != 'BINARY' or seg.BitsAllocated != 1:
        bad.append('not a binary segmentation')
    if [s.SegmentLabel for s in seg.SegmentSequence] != [exp['label']]:
        bad.append(f'segment labels {[s.SegmentLabel for s in seg.SegmentSequence]}')
    # The source series as pydicom reads it: SOP instance -> (IPP, file).
    src = {}
    for name in os.listdir(series_dir):
        d = pydicom.dcmread(os.path.join(series_dir, name))
        src[d.SOPInstanceUID] = d
    series_uid = next(iter(src.values())).SeriesInstanceUID
    ref = seg.ReferencedSeriesSequence[0]
    if ref.SeriesInstanceUID != series_uid:
        bad.append('referenced series UID')
    if sorted(r.ReferencedSOPInstanceUID for r in ref.ReferencedInstanceSequence) != sorted(src):
        bad.append('referenced instances are not the series')
    first = next(iter(src.values()))
    if seg.StudyInstanceUID != first.StudyInstanceUID or seg.FrameOfReferenceUID != first.FrameOfReferenceUID:
        bad.append('study or frame of reference UID not copied')
    # Order the source slices along the normal, as the NIfTI's k axis.
    iop = np.array(first.ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    order = sorted(src, key=lambda u: float(np.dot(normal, np.array(src[u].ImagePositionPatient, dtype=float))))
    mask = np.asarray(nib.load(nii_path).dataobj)
    px = seg.pixel_array
    if px.ndim == 2:
        px = px[None]
    if int(seg.NumberOfFrames) != len(exp['slices']) or px.shape[0] != len(exp['slices']):
        bad.append(f'{seg.NumberOfFrames} frames, want {len(exp["slices"])}')
    shared = seg.SharedFunctionalGroupsSequence[0]
    if not np.allclose(np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, dtype=float), iop, atol=1e-6):
        bad.append('ImageOrientationPatient')
    if not np.allclose(np.array(shared.PixelMeasuresSequence[0].PixelSpacing, dtype=float), np.array(first.PixelSpacing, dtype=float), atol=1e-6):
        bad.append('PixelSpacing')
    for f, k in enumerate(exp['slices']):
        if f >= px.shape[0]:
            break
        fg = seg.PerFrameFunctionalGroupsSequence[f]
        uid = fg.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        if uid != order[k]:
            bad.append(f'frame {f}: source {uid}, want slice {k} {order[k]}')
        ipp = np.array(fg.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
        if not np.allclose(ipp, np.array(src[order[k]].ImagePositionPatient, dtype=float), atol=1e-4):
            bad.append(f'frame {f}: position {ipp}, source {src[order[k]].ImagePositionPatient}')
        if fg.SegmentIdentificationSequence[0].ReferencedSegmentNumber != 1:
            bad.append(f'frame {f}: segment number')
        # pixel_array[f][row, col]; the NIfTI's i runs along a row (columns), j down.
        if not np.array_equal(px[f].astype(np.int64), (mask[:, :, k].T != 0).astype(np.int64)):
            bad.append(f'frame {f} differs from NIfTI slice {k}')
    others = [k for k in range(mask.shape[2]) if k not in exp['slices'] and mask[:, :, k].any()]
    if others:
        bad.append(f'NIfTI slices {others} hold mask but have no frame')
    if bad:
        print('\n'.join(bad))
        sys.exit(1)
    print('OK')


if __name__ == '__main__':
    main(*sys.argv[1:5])

package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/imageio/dicom"
	"github.com/prsmed/prsmed-go/prsmed/imageio/nifti"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

// medFields are the request's DICOM/NIfTI fields as sent.
type medFields struct{ window, frame, slice, plane string }

// medOptions are the parsed fields.
type medOptions struct {
	set    bool // any of window, frame, slice was sent
	window window.Window
	frame  int
	axis   int
	slice  int // or imageio.Middle
	plane  volume.Plane
}

func (m medFields) parse() (medOptions, error) {
	o := medOptions{set: m.window != "" || m.frame != "" || m.slice != "", axis: 2, slice: imageio.Middle}
	var err error
	if o.window, err = window.Parse(m.window); err != nil {
		return o, bad("window", `"window": %v`, err)
	}
	if m.frame != "" {
		if o.frame, err = strconv.Atoi(strings.TrimSpace(m.frame)); err != nil || o.frame < 0 {
			return o, bad("frame", `"frame" %q: want a frame number ≥ 0`, m.frame)
		}
	}
	if o.axis, o.slice, err = imageio.ParseSlice(m.slice); err != nil {
		return o, bad("slice", `"slice": %v`, err)
	}
	if m.plane != "" {
		if o.plane, err = volume.ParsePlane(strings.TrimSpace(m.plane)); err != nil {
			return o, bad("plane", `"plane": %v`, err)
		}
	}
	return o, nil
}

type fileKind int

const (
	kindPlain fileKind = iota
	kindDICOM
	kindNIfTI
)

// medicalKind tells DICOM (preamble and "DICM") and NIfTI (a single-file NIfTI-1/2
// header, or gzip, the only compressed upload accepted) from other files.
func medicalKind(b []byte) fileKind {
	switch {
	case dicom.IsDICOM(b):
		return kindDICOM
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return kindNIfTI
	}
	if _, ok := niftiHeaderSize(b); ok {
		return kindNIfTI
	}
	return kindPlain
}

// niftiHeaderSize returns 348 or 540 for a NIfTI-1 or NIfTI-2 header (either byte order).
func niftiHeaderSize(b []byte) (int, bool) {
	if len(b) < 4 {
		return 0, false
	}
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		switch bo.Uint32(b) {
		case 348, 540:
			return int(bo.Uint32(b)), true
		}
	}
	return 0, false
}

// niftiVoxels reads the voxel count a NIfTI header declares, without trusting it further:
// ok is false when the header is too short or malformed (nifti.Parse then says why).
func niftiVoxels(b []byte) (n uint64, ok bool) {
	size, ok := niftiHeaderSize(b)
	if !ok || len(b) < size {
		return 0, false
	}
	bo := binary.ByteOrder(binary.LittleEndian)
	if binary.LittleEndian.Uint32(b) != uint32(size) {
		bo = binary.BigEndian
	}
	dim := func(i int) int64 {
		if size == 348 {
			return int64(int16(bo.Uint16(b[40+2*i:])))
		}
		return int64(bo.Uint64(b[16+8*i:]))
	}
	nd := dim(0)
	if nd < 1 || nd > 7 {
		return 0, false
	}
	n = 1
	for i := 1; i <= int(nd); i++ {
		d := dim(i)
		if d < 1 {
			return 0, false
		}
		if n > (1<<62)/uint64(d) {
			return 1 << 62, true
		}
		n *= uint64(d)
	}
	return n, true
}

// niftiBytes returns the uncompressed single-file NIfTI in raw, refusing (before
// inflating the rest) a header that declares more than maxVoxels voxels and inflating at
// most what such a header can need.
func niftiBytes(raw []byte, maxVoxels int64) ([]byte, error) {
	var r io.Reader = bytes.NewReader(raw)
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, bad("nifti", "the gzip stream is invalid: %v", err)
		}
		r = z
	}
	head := make([]byte, 540)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, bad("nifti", "the NIfTI file cannot be read: %v", err)
	}
	head = head[:n]
	if _, ok := niftiHeaderSize(head); !ok {
		return nil, bad("image_format", "the file is neither DICOM nor a single-file NIfTI-1/2 image (.nii, .nii.gz)")
	}
	vox, ok := niftiVoxels(head)
	if ok && vox > uint64(maxVoxels) {
		return nil, bad("volume_too_large", "the NIfTI header declares %d voxels; the limit is %d", vox, maxVoxels)
	}
	// Voxels of up to 8 bytes (float64), plus header and extensions.
	limit := int64(vox)*8 + 1<<20
	rest, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, bad("nifti", "the NIfTI file cannot be decompressed: %v", err)
	}
	if int64(len(rest)) > limit {
		return nil, bad("volume_too_large", "the NIfTI file inflates past %d bytes, more than its %d voxels need", limit, vox)
	}
	return append(head, rest...), nil
}

// decodeDICOM renders one frame of a DICOM file, refusing images over MaxPixels before
// decoding pixels.
func (s *Server) decodeDICOM(raw []byte, mo medOptions) (image.Image, error) {
	if mo.slice != imageio.Middle || mo.axis != 2 {
		return nil, bad("slice", `"slice" applies to NIfTI files; a DICOM file takes "frame"`)
	}
	f, err := dicom.Parse(raw)
	if err != nil {
		return nil, bad("dicom", "the DICOM file cannot be read: %v", err)
	}
	if f.Err() != nil {
		return nil, bad("dicom", "the DICOM file has no usable image: %v", f.Err())
	}
	rows, cols, _ := f.Size()
	if px := int64(rows) * int64(cols); px > s.cfg.MaxPixels {
		return nil, bad("image_too_large", "the DICOM image has %d×%d = %d pixels; the limit is %d", cols, rows, px, s.cfg.MaxPixels)
	}
	if mo.frame >= f.Frames() {
		return nil, bad("frame", "frame %d of a DICOM file with %d frames", mo.frame, f.Frames())
	}
	img, err := f.Image(mo.frame, mo.window)
	if err != nil {
		return nil, bad("dicom", "the DICOM image cannot be decoded: %v", err)
	}
	return img, nil
}

// decodeNIfTI renders one slice of a NIfTI file (.nii or .nii.gz).
func (s *Server) decodeNIfTI(raw []byte, mo medOptions) (image.Image, error) {
	if mo.frame != 0 {
		return nil, bad("frame", `"frame" applies to DICOM files; a NIfTI file takes "slice"`)
	}
	b, err := niftiBytes(raw, s.cfg.MaxVolumeVoxels)
	if err != nil {
		return nil, err
	}
	v, err := nifti.Parse(b)
	if err != nil {
		return nil, bad("nifti", "the NIfTI file cannot be read: %v", err)
	}
	dims := v.Dims()
	for len(dims) < 3 {
		dims = append(dims, 1)
	}
	px := int64(1)
	for a := 0; a < 3; a++ {
		if a != mo.axis {
			px *= int64(dims[a])
		}
	}
	if px > s.cfg.MaxPixels {
		return nil, bad("image_too_large", "a slice across axis %d has %d pixels; the limit is %d", mo.axis, px, s.cfg.MaxPixels)
	}
	idx := mo.slice
	if idx == imageio.Middle {
		idx = dims[mo.axis] / 2
	}
	img, err := v.Image(mo.axis, idx, mo.window)
	if err != nil {
		return nil, bad("slice", "the NIfTI slice cannot be rendered: %v", err)
	}
	return img, nil
}

// readVolume reads a NIfTI upload as a volume, within MaxVolumeVoxels.
func (s *Server) readVolume(raw []byte) (*volume.Volume, error) {
	switch medicalKind(raw) {
	case kindNIfTI:
	case kindDICOM:
		return nil, bad("image_format", "/v1/segment-volume takes a NIfTI file; a single DICOM file is one slice (send a series as NIfTI, or its slices to /v1/segment)")
	default:
		return nil, bad("image_format", "the volume is not a single-file NIfTI-1/2 image (.nii, .nii.gz)")
	}
	b, err := niftiBytes(raw, s.cfg.MaxVolumeVoxels)
	if err != nil {
		return nil, err
	}
	v, err := volume.ParseNIfTI(b)
	if err != nil {
		return nil, bad("nifti", "the NIfTI volume cannot be read: %v", err)
	}
	return v, nil
}

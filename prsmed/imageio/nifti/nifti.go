// Package nifti reads NIfTI-1 and NIfTI-2 volumes (.nii, .nii.gz, .hdr/.img pairs, gzipped
// or not) and Analyze 7.5 pairs, and cuts them into 2-D slices for the model, indexed as
// nibabel's get_fdata() indexes the volume.
//
// Headers are untrusted: dimensions, offsets and data sizes are checked against the data
// actually present before anything is allocated from them, and a volume may hold at most
// MaxVoxels voxels.
package nifti

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Limits on what a file may ask for.
const (
	// MaxVoxels bounds the voxels of a volume (all volumes of a 4-D file together).
	MaxVoxels = 1 << 31
	// MaxBytes bounds the bytes read from one file (after decompression).
	MaxBytes = 2 << 30
)

// Errors a caller can test with errors.Is.
var (
	// ErrNotNIfTI: the header is not NIfTI-1, NIfTI-2 or Analyze 7.5.
	ErrNotNIfTI = errors.New("nifti: not a NIfTI or Analyze header")
	// ErrMalformed: a header field is inconsistent with itself or with the data.
	ErrMalformed = errors.New("nifti: malformed file")
	// ErrUnsupported: a valid file this reader cannot decode (complex or RGB data).
	ErrUnsupported = errors.New("nifti: unsupported")
)

// Volume is an opened image: its header and its voxel data.
type Volume struct {
	version  int // 1, 2, or 0 for Analyze 7.5
	order    binary.ByteOrder
	dims     []int
	datatype int
	size     int // bytes per voxel
	slope    float64
	inter    float64
	calMin   float64
	calMax   float64
	geom     Geometry
	data     []byte // the voxels, first voxel first
}

// dtypes maps NIfTI datatype codes to bytes per voxel.
var dtypes = map[int]int{
	2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 256: 1, 512: 2, 768: 4, 1024: 8, 1280: 8,
}

// unsupportedTypes names the datatypes this reader refuses.
var unsupportedTypes = map[int]string{
	1: "binary", 32: "complex64", 128: "RGB24", 1536: "float128", 1792: "complex128",
	2048: "complex256", 2304: "RGBA32",
}

// Open reads a .nii, .nii.gz, .hdr (with its .img) or .hdr.gz (with .img.gz) file.
func Open(path string) (*Volume, error) {
	low := strings.ToLower(path)
	gz := strings.HasSuffix(low, ".gz")
	base := strings.TrimSuffix(low, ".gz")
	switch {
	case strings.HasSuffix(base, ".nii"):
		b, err := readFile(path, gz, func(head []byte) (uint64, error) {
			_, off, need, err := header(head, true)
			return off + need, err
		})
		if err != nil {
			return nil, err
		}
		v, err := parse(b, nil, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, nil
	case strings.HasSuffix(base, ".hdr"), strings.HasSuffix(base, ".img"):
		stem := path[:len(path)-len(".hdr")]
		if gz {
			stem = path[:len(path)-len(".hdr.gz")]
		}
		ext := func(e string) string {
			p := stem + e
			if strings.ToUpper(path) == path { // keep the file's case
				p = stem + strings.ToUpper(e)
			}
			if gz {
				p += path[len(path)-3:]
			}
			return p
		}
		hdr, err := readFile(ext(".hdr"), gz, func([]byte) (uint64, error) { return 1 << 20, nil })
		if err != nil {
			return nil, err
		}
		_, off, need, err := header(hdr, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		img, err := readFile(ext(".img"), gz, func([]byte) (uint64, error) { return off + need, nil })
		if err != nil {
			return nil, err
		}
		v, err := parse(hdr, img, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: %s (want .nii, .nii.gz, .hdr or .img)", ErrNotNIfTI, path)
}

// readFile reads a file, gunzipping it when gz. It reads the first bytes, asks want how
// many bytes the file needs in all (from its header), and reads no more than that: a
// compressed file cannot make the reader allocate more than its header claims, and the
// header's claim is bounded by MaxBytes.
func readFile(path string, gz bool, want func(head []byte) (uint64, error)) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", path, ErrMalformed, err)
		}
		defer z.Close()
		r = z
	}
	head := make([]byte, 544)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrMalformed, err)
	}
	head = head[:n]
	total, err := want(head)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if total > MaxBytes {
		return nil, fmt.Errorf("%s: %w: needs %d bytes (limit %d)", path, ErrMalformed, total, int64(MaxBytes))
	}
	if total <= uint64(len(head)) {
		return head, nil
	}
	// ReadAll grows with the data that arrives, never from the header's claim.
	rest, err := io.ReadAll(io.LimitReader(r, int64(total)-int64(len(head))))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrMalformed, err)
	}
	return append(head, rest...), nil
}

// Parse reads a single-file volume (.nii content, already decompressed).
func Parse(b []byte) (*Volume, error) { return parse(b, nil, true) }

// ParsePair reads a header and its separate image data (.hdr and .img contents).
func ParsePair(hdr, img []byte) (*Volume, error) { return parse(hdr, img, false) }

func parse(b, img []byte, single bool) (*Volume, error) {
	v, off, need, err := header(b, single)
	if err != nil {
		return nil, err
	}
	data := img
	if single {
		data = b
	}
	if off > uint64(len(data)) || need > uint64(len(data))-off {
		return nil, fmt.Errorf("%w: %d bytes of voxels at offset %d, file holds %d bytes", ErrMalformed, need, off, len(data))
	}
	v.data = data[off : off+need]
	return v, nil
}

// header reads and checks a header; it returns where the voxels start (in the same file
// when single, else in the .img) and how many bytes they take.
func header(b []byte, single bool) (*Volume, uint64, uint64, error) {
	v, off, need, err := headerFields(b, single)
	if err == nil && off+need > MaxBytes {
		err = fmt.Errorf("%w: %d bytes of voxels at offset %d (limit %d)", ErrMalformed, need, off, int64(MaxBytes))
	}
	return v, off, need, err
}

func headerFields(b []byte, single bool) (*Volume, uint64, uint64, error) {
	fail := func(err error) (*Volume, uint64, uint64, error) { return nil, 0, 0, err }
	if len(b) < 4 {
		return fail(fmt.Errorf("%w: %d bytes", ErrNotNIfTI, len(b)))
	}
	v := &Volume{}
	var order binary.ByteOrder
	var size int32
	for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		if s := int32(o.Uint32(b)); s == 348 || s == 540 {
			order, size = o, s
			break
		}
	}
	if order == nil {
		return fail(fmt.Errorf("%w: header size field is not 348 or 540", ErrNotNIfTI))
	}
	v.order = order
	var voxOffset float64
	var dims [8]int64
	var intent int
	if size == 540 {
		if len(b) < 540 {
			return fail(fmt.Errorf("%w: NIfTI-2 header of %d bytes", ErrMalformed, len(b)))
		}
		magic := string(b[4:8])
		if magic != "n+2\x00" && magic != "ni2\x00" {
			return fail(fmt.Errorf("%w: NIfTI-2 magic %q", ErrNotNIfTI, magic))
		}
		v.version = 2
		v.datatype = int(int16(order.Uint16(b[12:])))
		for i := range dims {
			dims[i] = int64(order.Uint64(b[16+8*i:]))
		}
		voxOffset = float64(int64(order.Uint64(b[168:])))
		v.slope = math.Float64frombits(order.Uint64(b[176:]))
		v.inter = math.Float64frombits(order.Uint64(b[184:]))
		v.calMax = math.Float64frombits(order.Uint64(b[192:]))
		v.calMin = math.Float64frombits(order.Uint64(b[200:]))
		intent = int(int32(order.Uint32(b[504:])))
		f64 := func(off int) float64 { return math.Float64frombits(order.Uint64(b[off:])) }
		g := &v.geom
		for i := range g.Pixdim {
			g.Pixdim[i] = f64(104 + 8*i)
		}
		g.QformCode = int(int32(order.Uint32(b[344:])))
		g.SformCode = int(int32(order.Uint32(b[348:])))
		for i := 0; i < 3; i++ {
			g.Quatern[i] = f64(352 + 8*i)
			g.Qoffset[i] = f64(376 + 8*i)
			for j := 0; j < 4; j++ {
				g.Srow[i][j] = f64(400 + 32*i + 8*j)
			}
		}
	} else {
		if len(b) < 348 {
			return fail(fmt.Errorf("%w: header of %d bytes", ErrMalformed, len(b)))
		}
		magic := string(b[344:348])
		switch magic {
		case "n+1\x00", "ni1\x00":
			v.version = 1
		default:
			v.version = 0 // Analyze 7.5
		}
		v.datatype = int(int16(order.Uint16(b[70:])))
		intent = int(int16(order.Uint16(b[68:])))
		for i := range dims {
			dims[i] = int64(int16(order.Uint16(b[40+2*i:])))
		}
		voxOffset = float64(math.Float32frombits(order.Uint32(b[108:])))
		f32 := func(off int) float64 { return float64(math.Float32frombits(order.Uint32(b[off:]))) }
		if v.version == 1 {
			v.slope, v.inter = f32(112), f32(116)
			v.calMax, v.calMin = f32(124), f32(128)
			g := &v.geom
			g.QformCode = int(int16(order.Uint16(b[252:])))
			g.SformCode = int(int16(order.Uint16(b[254:])))
			for i := 0; i < 3; i++ {
				g.Quatern[i] = f32(256 + 4*i)
				g.Qoffset[i] = f32(268 + 4*i)
				for j := 0; j < 4; j++ {
					g.Srow[i][j] = f32(280 + 16*i + 4*j)
				}
			}
		} else {
			// Analyze: SPM keeps a scale factor in funused1 (nibabel's Spm99 and
			// Spm2 readers use it; 0 or NaN means none).
			v.slope, v.inter = f32(112), 0
			v.calMax, v.calMin = f32(124), f32(128)
		}
		for i := range v.geom.Pixdim {
			v.geom.Pixdim[i] = f32(76 + 4*i)
		}
	}
	if v.slope == 0 || math.IsNaN(v.slope) || math.IsInf(v.slope, 0) {
		v.slope, v.inter = 1, 0
	} else if math.IsNaN(v.inter) || math.IsInf(v.inter, 0) {
		return fail(fmt.Errorf("%w: scl_slope %v with scl_inter %v", ErrMalformed, v.slope, v.inter))
	}
	if name, bad := unsupportedTypes[v.datatype]; bad {
		return fail(fmt.Errorf("%w: datatype %d (%s)", ErrUnsupported, v.datatype, name))
	}
	var ok bool
	if v.size, ok = dtypes[v.datatype]; !ok {
		return fail(fmt.Errorf("%w: datatype %d", ErrMalformed, v.datatype))
	}
	nd := dims[0]
	if nd < 1 || nd > 7 {
		return fail(fmt.Errorf("%w: %d dimensions", ErrMalformed, nd))
	}
	nvox := uint64(1)
	for i := 1; i <= int(nd); i++ {
		if dims[i] < 1 {
			return fail(fmt.Errorf("%w: dimension %d is %d", ErrMalformed, i, dims[i]))
		}
		nvox *= uint64(dims[i])
		if nvox > MaxVoxels {
			return fail(fmt.Errorf("%w: more than %d voxels", ErrMalformed, int64(MaxVoxels)))
		}
		v.dims = append(v.dims, int(dims[i]))
	}
	if intent >= 3000 && intent < 3100 && len(v.dims) >= 5 && v.dims[0]*v.dims[1]*v.dims[2]*v.dims[3] == 1 {
		// CIFTI-2 keeps its matrix in dims 5 and up; nibabel drops the four unit axes.
		v.dims = v.dims[4:]
	}
	if math.IsNaN(voxOffset) || voxOffset < 0 || voxOffset != math.Trunc(voxOffset) || voxOffset > MaxBytes {
		return fail(fmt.Errorf("%w: vox_offset %v", ErrMalformed, voxOffset))
	}
	off := uint64(voxOffset)
	if single && off < uint64(size) {
		off = uint64(size) + 4 // an offset inside the header: the data follows the extension flag
	}
	return v, off, nvox * uint64(v.size), nil
}

// Dims is the volume's shape as nibabel gives it (dim[1..dim[0]]).
func (v *Volume) Dims() []int { return append([]int(nil), v.dims...) }

// Version is 1 or 2 for NIfTI-1/2, 0 for Analyze 7.5.
func (v *Volume) Version() int { return v.version }

// Scaling returns the slope and intercept applied to stored values (1, 0 when none).
func (v *Volume) Scaling() (slope, inter float64) { return v.slope, v.inter }

// value reads voxel i (first-axis-fastest order), scaled.
func (v *Volume) value(i int) float64 {
	b := v.data[i*v.size:]
	var x float64
	switch v.datatype {
	case 2:
		x = float64(b[0])
	case 256:
		x = float64(int8(b[0]))
	case 4:
		x = float64(int16(v.order.Uint16(b)))
	case 512:
		x = float64(v.order.Uint16(b))
	case 8:
		x = float64(int32(v.order.Uint32(b)))
	case 768:
		x = float64(v.order.Uint32(b))
	case 16:
		x = float64(math.Float32frombits(v.order.Uint32(b)))
	case 64:
		x = math.Float64frombits(v.order.Uint64(b))
	case 1024:
		x = float64(int64(v.order.Uint64(b)))
	case 1280:
		x = float64(v.order.Uint64(b))
	}
	if v.slope != 1 || v.inter != 0 {
		x = x*v.slope + v.inter
	}
	return x
}

// Slice returns one 2-D slice of the first volume (index 0 along every axis past the
// third), scaled by scl_slope/scl_inter, as nibabel's get_fdata() indexes it: for axis 2
// data[:, :, index] flattened row by row (height dims[0], width dims[1]); for axis 1
// data[:, index, :] (dims[0] × dims[2]); for axis 0 data[index, :, :] (dims[1] × dims[2]).
// Volumes of fewer than three dimensions have size 1 along the missing axes.
func (v *Volume) Slice(axis, index int) ([]float64, int, int, error) {
	d := [3]int{1, 1, 1}
	for i := 0; i < len(v.dims) && i < 3; i++ {
		d[i] = v.dims[i]
	}
	if axis < 0 || axis > 2 {
		return nil, 0, 0, fmt.Errorf("nifti: axis %d (0, 1 or 2)", axis)
	}
	if index < 0 || index >= d[axis] {
		return nil, 0, 0, fmt.Errorf("nifti: slice %d out of range [0, %d) on axis %d", index, d[axis], axis)
	}
	// Strides of the volume in voxels (first axis fastest).
	st := [3]int{1, d[0], d[0] * d[1]}
	var h, w, sh, sw int
	switch axis {
	case 0:
		h, w, sh, sw = d[1], d[2], st[1], st[2]
	case 1:
		h, w, sh, sw = d[0], d[2], st[0], st[2]
	default:
		h, w, sh, sw = d[0], d[1], st[0], st[1]
	}
	base := index * st[axis]
	out := make([]float64, h*w)
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			out[i*w+j] = v.value(base + i*sh + j*sw)
		}
	}
	return out, h, w, nil
}

// CalRange returns cal_min and cal_max; ok is false unless cal_max > cal_min.
func (v *Volume) CalRange() (lo, hi float64, ok bool) {
	return v.calMin, v.calMax, v.calMax > v.calMin && !math.IsInf(v.calMax-v.calMin, 0)
}

package volume

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// DataType is a NIfTI voxel type the writer can store.
type DataType int

// Voxel types for WriteNIfTI (NIfTI datatype codes).
const (
	Uint8   DataType = 2
	Int16   DataType = 4
	Float32 DataType = 16
)

func (t DataType) bytes() int {
	switch t {
	case Uint8:
		return 1
	case Int16:
		return 2
	case Float32:
		return 4
	}
	return 0
}

// WriteNIfTI writes the volume as a single-file NIfTI-1 image, gzipped when path ends in
// ".gz". The header is laid out as nibabel writes one: the affine goes into the sform
// verbatim and into the qform as nibabel's set_qform stores it (voxel sizes = column
// lengths in pixdim[1..3], qfac = -1 for a left-handed affine, the closest rotation as a
// quaternion with w ≥ 0; shears are dropped from the qform only); both codes are the
// volume's XformCode, or 2 (aligned) when it has none. Units are millimetres, scl_slope 1
// and scl_inter 0, so stored values are the voxel values. Integer types refuse voxels that
// are not whole numbers in range rather than rounding them.
func WriteNIfTI(path string, v *Volume, t DataType) (err error) {
	if err := checkWritable(v, t); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	return encodeNIfTI(f, v, t, strings.HasSuffix(strings.ToLower(path), ".gz"))
}

// EncodeNIfTI writes the volume to w as WriteNIfTI writes a file (gzipped when gz), for
// callers that send it elsewhere than a file (an HTTP response).
func EncodeNIfTI(w io.Writer, v *Volume, t DataType, gz bool) error {
	if err := checkWritable(v, t); err != nil {
		return err
	}
	return encodeNIfTI(w, v, t, gz)
}

func encodeNIfTI(out io.Writer, v *Volume, t DataType, gz bool) error {
	hdr, err := niftiHeader(v, t)
	if err != nil {
		return err
	}
	w := out
	var z *gzip.Writer
	if gz {
		z = gzip.NewWriter(out)
		w = z
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	buf := make([]byte, 4)
	for _, x := range v.Data {
		var b []byte
		switch t {
		case Uint8:
			b = []byte{byte(x)}
		case Int16:
			binary.LittleEndian.PutUint16(buf, uint16(int16(x)))
			b = buf[:2]
		default:
			binary.LittleEndian.PutUint32(buf, math.Float32bits(x))
			b = buf[:4]
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if z != nil {
		return z.Close()
	}
	return nil
}

// checkWritable refuses volumes that type t cannot store.
func checkWritable(v *Volume, t DataType) error {
	if err := v.Check(); err != nil {
		return err
	}
	if t.bytes() == 0 {
		return fmt.Errorf("volume: NIfTI datatype %d (want Uint8, Int16 or Float32)", int(t))
	}
	if t != Float32 {
		lo, hi := 0.0, 255.0
		if t == Int16 {
			lo, hi = -32768, 32767
		}
		for n, x := range v.Data {
			if f := float64(x); f != math.Trunc(f) || f < lo || f > hi {
				return fmt.Errorf("volume: voxel %d is %v, not storable as NIfTI datatype %d", n, x, int(t))
			}
		}
	}
	return nil
}

// niftiHeader returns the 348-byte header and the 4-byte empty extension flag.
func niftiHeader(v *Volume, t DataType) ([]byte, error) {
	if v.Dims[0] > math.MaxInt16 || v.Dims[1] > math.MaxInt16 || v.Dims[2] > math.MaxInt16 {
		return nil, fmt.Errorf("volume: size %v does not fit a NIfTI-1 header", v.Dims)
	}
	b := make([]byte, 352)
	le := binary.LittleEndian
	put16 := func(off int, x int) { le.PutUint16(b[off:], uint16(int16(x))) }
	putf := func(off int, x float64) { le.PutUint32(b[off:], math.Float32bits(float32(x))) }
	le.PutUint32(b[0:], 348)
	for i, d := range []int{3, v.Dims[0], v.Dims[1], v.Dims[2], 1, 1, 1, 1} {
		put16(40+2*i, d)
	}
	put16(70, int(t))
	put16(72, 8*t.bytes())
	qfac, zooms, quat := qform(v.Affine)
	pix := []float64{qfac, zooms[0], zooms[1], zooms[2], 1, 1, 1, 1}
	for i, p := range pix {
		putf(76+4*i, p)
	}
	putf(108, 352)
	putf(112, 1)
	putf(116, 0)
	b[123] = 2 // NIFTI_UNITS_MM
	copy(b[148:228], "prsmed-go")
	code := v.XformCode
	if code < 1 || code > 5 {
		code = 2
	}
	put16(252, code)
	put16(254, code)
	for i := 0; i < 3; i++ {
		putf(256+4*i, quat[i+1])
		putf(268+4*i, v.Affine[i][3])
		for j := 0; j < 4; j++ {
			putf(280+16*i+4*j, v.Affine[i][j])
		}
	}
	copy(b[344:], "n+1\x00")
	return b, nil
}

// qform splits an affine as nibabel's Nifti1Header.set_qform does.
func qform(a [4][4]float64) (qfac float64, zooms [3]float64, quat [4]float64) {
	m := rzs(a)
	for j := 0; j < 3; j++ {
		zooms[j] = math.Sqrt(m[0][j]*m[0][j] + m[1][j]*m[1][j] + m[2][j]*m[2][j])
		for i := 0; i < 3; i++ {
			m[i][j] /= zooms[j]
		}
	}
	qfac = 1
	if det3(m) < 0 {
		qfac = -1
		for i := 0; i < 3; i++ {
			m[i][2] = -m[i][2]
		}
	}
	return qfac, zooms, matToQuat(polar(m))
}

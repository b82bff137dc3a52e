package nifti

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/imageiotest"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

func readGood(t testing.TB, name string) []byte {
	t.Helper()
	return imageiotest.ReadFile(t, filepath.Join(goldenDir, name))
}

func decodeAll(v *Volume) {
	d := v.Dims()
	for axis := 0; axis < 3; axis++ {
		n := 1
		if axis < len(d) {
			n = d[axis]
		}
		for _, i := range []int{0, n / 2, n - 1, n, -1} {
			v.Slice(axis, i)
			v.Image(axis, i, window.File())
		}
	}
}

func TestHostileHeaders(t *testing.T) {
	good := readGood(t, "vol_i16_scaled.nii") // little-endian NIfTI-1, int16 6×5×4
	set16 := func(off int, v int16) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint16(b[off:], uint16(v))
		return b
	}
	setF := func(off int, v float32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[off:], math.Float32bits(v))
		return b
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotNIfTI},
		{"bad sizeof_hdr", append([]byte{1, 2, 3, 4}, good[4:]...), ErrNotNIfTI},
		{"short header", good[:200], ErrMalformed},
		{"truncated data", good[:len(good)-1], ErrMalformed},
		{"0 dimensions", set16(40, 0), ErrMalformed},
		{"8 dimensions", set16(40, 8), ErrMalformed},
		{"negative dimension", set16(42, -6), ErrMalformed},
		{"32767³ voxels", func() []byte {
			b := set16(42, 32767)
			binary.LittleEndian.PutUint16(b[44:], 32767)
			binary.LittleEndian.PutUint16(b[46:], 32767)
			return b
		}(), ErrMalformed},
		{"huge dims within limit but no data", set16(46, 30000), ErrMalformed},
		{"complex datatype", set16(70, 32), ErrUnsupported},
		{"RGB datatype", set16(70, 128), ErrUnsupported},
		{"unknown datatype", set16(70, 99), ErrMalformed},
		{"vox_offset past the end", setF(108, 1e9), ErrMalformed},
		{"vox_offset NaN", setF(108, float32(math.NaN())), ErrMalformed},
		{"vox_offset fractional", setF(108, 352.5), ErrMalformed},
		{"slope with NaN intercept", setF(116, float32(math.NaN())), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Parse(c.data)
			if !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
			if err == nil {
				decodeAll(v)
			}
		})
	}
}

func TestTruncationsAndCorruptions(t *testing.T) {
	for _, name := range []string{"vol_i16_scaled.nii", "vol_nifti2_f64.nii", "vol_i32_be_scaled.nii", "vol_u16_2d.nii"} {
		b := readGood(t, name)
		for n := 0; n < len(b); n += 7 {
			if v, err := Parse(b[:n]); err == nil {
				decodeAll(v)
			}
		}
		for i := 0; i < len(b) && i < 560; i++ {
			for _, x := range []byte{0, 0xFF, 0x80} {
				c := bytes.Clone(b)
				c[i] = x
				if v, err := Parse(c); err == nil {
					decodeAll(v)
				}
			}
		}
	}
}

func TestSliceBounds(t *testing.T) {
	v, err := Open(filepath.Join(goldenDir, "vol_f32_4d.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]int{{3, 0}, {-1, 0}, {0, 5}, {2, -1}, {1, 4}} {
		if _, _, _, err := v.Slice(c[0], c[1]); err == nil {
			t.Errorf("Slice(%d, %d): no error", c[0], c[1])
		}
	}
	if _, err := Open(filepath.Join(goldenDir, "vol_u8_pair.txt")); !errors.Is(err, ErrNotNIfTI) {
		t.Errorf("wrong extension: %v", err)
	}
}

// TestGzipBomb: a .nii.gz whose stream holds far more than its header claims is read only
// as far as the header needs.
func TestGzipBomb(t *testing.T) {
	good := readGood(t, "vol_i16_scaled.nii")
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(good)
	zero := make([]byte, 1<<20)
	for i := 0; i < 256; i++ { // 256 MiB of zeros after the volume
		w.Write(zero)
	}
	w.Close()
	p := filepath.Join(t.TempDir(), "bomb.nii.gz")
	if err := os.WriteFile(p, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v, err := Open(p)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Dims(); len(d) != 3 || d[0] != 6 {
		t.Errorf("dims %v", d)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("allocated %d bytes for a %d-byte volume", got, len(good))
	}
}

package volume

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/nifti"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestHostileNIfTI(t *testing.T) {
	n1, err := os.ReadFile(filepath.Join(goldenDir, "sform_n1.nii"))
	if err != nil {
		t.Fatal(err)
	}
	n2, err := os.ReadFile(filepath.Join(goldenDir, "sform_n2.nii"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(b []byte, f func([]byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"truncated voxels", n1[:len(n1)-7], nifti.ErrMalformed, "bytes of voxels"},
		{"truncated header", n1[:200], nifti.ErrMalformed, "header"},
		{"1e5 slices claimed", edit(n2, func(b []byte) { le.PutUint64(b[16+8*3:], 100000) }), nifti.ErrMalformed, "bytes of voxels"},
		{"1e5 slices of 512x512", edit(n2, func(b []byte) {
			le.PutUint64(b[16+8:], 512)
			le.PutUint64(b[16+16:], 512)
			le.PutUint64(b[16+24:], 100000)
		}), nifti.ErrMalformed, "voxels"},
		{"two volumes", edit(n1, func(b []byte) {
			le.PutUint16(b[40:], 4)
			le.PutUint16(b[40+2*3:], 1)
			le.PutUint16(b[40+2*4:], 3)
		}), nifti.ErrUnsupported, "several volumes"},
		{"quaternion beyond unit", edit(n1, func(b []byte) {
			le.PutUint16(b[254:], 0) // sform code 0: the qform decides
			le.PutUint32(b[256:], math.Float32bits(0.9))
			le.PutUint32(b[260:], math.Float32bits(0.9))
		}), nifti.ErrMalformed, "quaternion"},
		{"NaN sform", edit(n1, func(b []byte) { le.PutUint32(b[280:], math.Float32bits(float32(math.NaN()))) }), nifti.ErrMalformed, "NaN"},
		{"singular sform", edit(n1, func(b []byte) {
			for i := 0; i < 3; i++ {
				le.PutUint32(b[280+16*i:], 0)
			}
		}), ErrGeometry, "singular"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = ParseNIfTI(tc.data) })
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err %v, want %v mentioning %q", err, tc.want, tc.text)
			}
			if n > 1<<20 {
				t.Fatalf("allocated %d bytes for a %d-byte file", n, len(tc.data))
			}
		})
	}
	// A truncated gzipped file through ReadNIfTI.
	gz, err := os.ReadFile(filepath.Join(goldenDir, "qform_n1.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cut.nii.gz")
	if err := os.WriteFile(p, gz[:len(gz)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadNIfTI(p); !errors.Is(err, nifti.ErrMalformed) || !strings.Contains(err.Error(), p) {
		t.Fatalf("truncated .nii.gz: %v", err)
	}
}

// TestNaNVoxels: NaN voxels are kept as nibabel keeps them (TestNIfTIAgainstNibabel), and
// CheckFinite names the first one for callers that cannot use them.
func TestNaNVoxels(t *testing.T) {
	v, err := ReadNIfTI(filepath.Join(goldenDir, "fallback_nan_n1.nii"))
	if err != nil {
		t.Fatal(err)
	}
	err = v.CheckFinite()
	if err == nil || !strings.Contains(err.Error(), "voxel (1, 2, 0) is NaN") {
		t.Fatalf("CheckFinite: %v", err)
	}
	v.Data[v.Index(1, 2, 0)] = 0
	if err := v.CheckFinite(); err != nil {
		t.Fatal(err)
	}
}

func TestTooLarge(t *testing.T) {
	var err error
	n := allocated(func() {
		_, err = New([3]int{512, 512, 100000}, [4][4]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}})
	})
	if !errors.Is(err, ErrTooLarge) || n > 1<<20 {
		t.Fatalf("err %v after allocating %d bytes", err, n)
	}
	if _, err := New([3]int{2, 0, 2}, [4][4]float64{}); !errors.Is(err, ErrGeometry) {
		t.Fatalf("empty size: %v", err)
	}
}

// seriesDir copies the golden series (without the files named in drop) and extra files
// into a new folder.
func seriesDir(t *testing.T, drop []string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(goldenDir, "series")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	cp := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
next:
	for _, e := range ents {
		for _, d := range drop {
			if e.Name() == d {
				continue next
			}
		}
		cp(filepath.Join(src, e.Name()), e.Name())
	}
	for to, from := range extra {
		cp(from, to)
	}
	return dir
}

func TestHostileSeries(t *testing.T) {
	ctx := context.Background()
	odd := func(n string) string { return filepath.Join(goldenDir, "odd", n) }
	ser := func(n string) string { return filepath.Join(goldenDir, "series", n) }
	// The golden order is im01, im03, im00, im02 (slices 0..3); im00 holds slice 2.
	for _, tc := range []struct {
		name  string
		dir   string
		texts []string
	}{
		{"missing slice", seriesDir(t, []string{"im00.dcm"}, nil), []string{"a gap (about 1 missing slices)", "im03.dcm", "im02.dcm"}},
		{"duplicate position", seriesDir(t, nil, map[string]string{"copy.dcm": ser("im03.dcm")}), []string{"same position", "im03.dcm", "copy.dcm"}},
		{"two series", seriesDir(t, nil, map[string]string{"x.dcm": odd("other_series.dcm")}), []string{"2 series", "4 files", "1 files", "choose one"}},
		{"mixed orientation", seriesDir(t, nil, map[string]string{"x.dcm": odd("other_orientation.dcm")}), []string{"orientation", "x.dcm"}},
		{"mixed size", seriesDir(t, nil, map[string]string{"x.dcm": odd("other_size.dcm")}), []string{"6×6", "x.dcm", "5×6"}},
		{"empty", t.TempDir(), []string{"no DICOM image files"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadDICOMSeries(ctx, tc.dir, SeriesOptions{})
			if !errors.Is(err, ErrSeries) {
				t.Fatalf("err %v, want ErrSeries", err)

			}
			for _, s := range tc.texts {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	// Choosing a series reads it and lists the other one and a stray text file as skipped.
	dir := seriesDir(t, nil, map[string]string{"x.dcm": odd("other_series.dcm")})
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadDICOMSeries(ctx, dir, SeriesOptions{SeriesUID: loadRefs(t)["series"].SeriesUID})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dims[2] != 4 || len(s.Skipped) != 2 {
		t.Fatalf("dims %v, skipped %v", s.Dims, s.Skipped)
	}
	// A truncated slice file is an error naming it.
	dir = seriesDir(t, []string{"im01.dcm"}, nil)
	b, err := os.ReadFile(ser("im01.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "im01.dcm"), b[:len(b)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDICOMSeries(ctx, dir, SeriesOptions{}); err == nil || !strings.Contains(err.Error(), "im01.dcm") {
		t.Fatalf("truncated slice: %v", err)
	}
	// A cancelled context stops the read.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ReadDICOMSeries(cctx, filepath.Join(goldenDir, "series"), SeriesOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestSeriesOfOneSlice: a lone slice gets SliceThickness along the normal as its third
// axis; a series UID that is not in the folder is an error naming the ones that are.
func TestSeriesOfOneSlice(t *testing.T) {
	ctx := context.Background()
	dir := seriesDir(t, []string{"im00.dcm", "im01.dcm", "im02.dcm"}, nil) // im03 holds slice 1
	s, err := ReadDICOMSeries(ctx, dir, SeriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := ReadDICOMSeries(ctx, filepath.Join(goldenDir, "series"), SeriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Same in-plane columns; the third column is the full series' step (2.5 mm along the
	// normal, the files' SliceThickness); the origin is slice 1's.
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if math.Abs(s.Affine[i][j]-full.Affine[i][j]) > 1e-6 {
				t.Fatalf("affine %v, full series %v", s.Affine, full.Affine)
			}
		}
		if want := full.Affine[i][3] + full.Affine[i][2]; math.Abs(s.Affine[i][3]-want) > 1e-6 {
			t.Fatalf("origin %v, want slice 1 of %v", s.Affine, full.Affine)
		}
	}
	if _, err := ReadDICOMSeries(ctx, dir, SeriesOptions{SeriesUID: "1.2.3"}); !errors.Is(err, ErrSeries) || !strings.Contains(err.Error(), "no series 1.2.3") || !strings.Contains(err.Error(), s.SeriesUID) {
		t.Fatalf("unknown series: %v", err)
	}
}

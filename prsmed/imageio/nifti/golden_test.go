package nifti

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/imageiotest"
)

// The goldens are written by third_party/golden/medical_ref.py with nibabel.
const (
	goldenDir    = "../../../testdata/medical"
	nibabelFiles = "/usr/lib/python3/dist-packages/nibabel/tests/data"
)

type sliceRec struct {
	Axis    int           `json:"axis"`
	Index   int           `json:"index"`
	H       int           `json:"h"`
	W       int           `json:"w"`
	N       int           `json:"n"`
	SHA256  string        `json:"sha256"`
	Min     float64       `json:"min"`
	Max     float64       `json:"max"`
	Sum     float64       `json:"sum"`
	Sumsq   float64       `json:"sumsq"`
	Samples [][2]*float64 `json:"samples"`
	NaNs    int           `json:"nans"`
}

type fileRec struct {
	File   string     `json:"file"`
	OK     bool       `json:"ok"`
	Error  string     `json:"error"`
	Dims   []int      `json:"dims"`
	Slices []sliceRec `json:"slices"`
}

func loadGolden(t *testing.T, name string) []fileRec {
	t.Helper()
	return imageiotest.Files[fileRec](t, filepath.Join(goldenDir, name))
}

// checkFile compares every golden slice: bit-exact values when the checksums agree,
// otherwise each sampled value and the sums within 1e-6 relative (nibabel scales some
// types in float32 before get_fdata casts to float64).
func checkFile(t *testing.T, path string, r fileRec) {
	v, err := Open(path)
	if !r.OK {
		t.Logf("nibabel: %s; Go: %v", r.Error, err)
		if err == nil {
			t.Errorf("opened, but nibabel fails: %s", r.Error)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Dims(); len(d) != len(r.Dims) {
		t.Fatalf("dims %v, want %v", d, r.Dims)
	} else {
		for i := range d {
			if d[i] != r.Dims[i] {
				t.Fatalf("dims %v, want %v", d, r.Dims)
			}
		}
	}
	for _, s := range r.Slices {
		got, h, w, err := v.Slice(s.Axis, s.Index)
		if err != nil {
			t.Fatalf("axis %d slice %d: %v", s.Axis, s.Index, err)
		}
		if h != s.H || w != s.W || len(got) != s.N {
			t.Fatalf("axis %d slice %d: %d×%d (%d values), want %d×%d", s.Axis, s.Index, h, w, len(got), s.H, s.W)
		}
		if imageiotest.SHA256(got) == s.SHA256 {
			continue
		}
		for _, sm := range s.Samples {
			want := math.NaN()
			if sm[1] != nil {
				want = *sm[1]
			}
			if g := got[int(*sm[0])]; !imageiotest.Close6(g, want) {
				t.Errorf("axis %d slice %d: value %d is %v, nibabel %v", s.Axis, s.Index, int(*sm[0]), g, want)
			}
		}
		var sum, sumsq float64
		nans := 0
		for _, x := range got {
			if math.IsNaN(x) {
				nans++
				continue
			}
			sum += x
			sumsq += x * x
		}
		if nans != s.NaNs {
			t.Errorf("axis %d slice %d: %d NaNs, nibabel %d", s.Axis, s.Index, nans, s.NaNs)
		}
		scale := math.Max(math.Abs(s.Min), math.Abs(s.Max)) * float64(s.N)
		if math.Abs(sum-s.Sum) > 1e-6*math.Max(1, scale) || !imageiotest.Close6(sumsq, s.Sumsq) {
			t.Errorf("axis %d slice %d: sum %v sumsq %v, nibabel %v %v", s.Axis, s.Index, sum, sumsq, s.Sum, s.Sumsq)
		}
	}
}

func TestSyntheticVolumes(t *testing.T) {
	for _, r := range loadGolden(t, "synthetic_nifti.json") {
		t.Run(r.File, func(t *testing.T) { checkFile(t, filepath.Join(goldenDir, r.File), r) })
	}
}

// TestNibabelFiles reads the NIfTI/Analyze test files Debian's python3-nibabel ships.
func TestNibabelFiles(t *testing.T) {
	imageiotest.NeedPackageFiles(t, nibabelFiles, "python3-nibabel")
	for _, r := range loadGolden(t, "nibabel_files.json") {
		t.Run(r.File, func(t *testing.T) { checkFile(t, filepath.Join(nibabelFiles, r.File), r) })
	}
}

package volume

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The goldens are written by third_party/golden/volume_refs.py with nibabel 5 and pydicom 3.
const goldenDir = "../../../testdata/volume"

type ref struct {
	Shape          []int           `json:"shape"`
	Affine         [4][4]float64   `json:"affine"`
	Codes          string          `json:"codes"`
	Ornt           [3][2]int       `json:"ornt"`
	Data           []*float64      `json:"data"`
	CanonicalShape []int           `json:"canonical_shape"`
	CanonicalAff   [4][4]float64   `json:"canonical_affine"`
	CanonicalData  []*float64      `json:"canonical_data"`
	XformCode      int             `json:"xform_code"`
	Files          []string        `json:"files"`
	SOPUIDs        []string        `json:"sop_uids"`
	SeriesUID      string          `json:"series_uid"`
	Extra          json.RawMessage `json:"-"`
}

func loadRefs(t *testing.T) map[string]ref {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs map[string]ref
	if err := json.Unmarshal(b, &refs); err != nil {
		t.Fatal(err)
	}
	return refs
}

func sameAffine(t *testing.T, what string, got, want [4][4]float64) {
	t.Helper()
	for i := range got {
		for j := range got[i] {
			if math.Abs(got[i][j]-want[i][j]) > 1e-6 {
				t.Fatalf("%s [%d][%d] = %v, nibabel %v\ngot  %v\nwant %v", what, i, j, got[i][j], want[i][j], got, want)
			}
		}
	}
}

// sameVoxels compares with nibabel's float64 values rounded to float32 (the volume's type).
func sameVoxels(t *testing.T, what string, dims [3]int, data []float32, shape []int, want []*float64) {
	t.Helper()
	if dims != [3]int{shape[0], shape[1], shape[2]} {
		t.Fatalf("%s: dims %v, nibabel %v", what, dims, shape)
	}
	if len(data) != len(want) {
		t.Fatalf("%s: %d voxels, nibabel %d", what, len(data), len(want))
	}
	for n, w := range want {
		g := data[n]
		if w == nil {
			if !math.IsNaN(float64(g)) {
				t.Fatalf("%s: voxel %d = %v, nibabel NaN", what, n, g)
			}
			continue
		}
		if g != float32(*w) {
			t.Fatalf("%s: voxel %d = %v, nibabel %v", what, n, g, *w)
		}
	}
}

func checkAgainst(t *testing.T, v *Volume, r ref) {
	t.Helper()
	sameAffine(t, "affine", v.Affine, r.Affine)
	sameVoxels(t, "voxels", v.Dims, v.Data, r.Shape, r.Data)
	o, err := v.Orientation()
	if err != nil {
		t.Fatal(err)
	}
	for j := range o {
		if o[j].World != r.Ornt[j][0] || o[j].Flip != r.Ornt[j][1] {
			t.Fatalf("orientation %v, nibabel io_orientation %v", o, r.Ornt)
		}
	}
	if c, err := v.AxisCodes(); err != nil || c != r.Codes {
		t.Fatalf("axis codes %q (%v), nibabel %q", c, err, r.Codes)
	}
	c, err := v.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	sameAffine(t, "canonical affine", c.Affine, r.CanonicalAff)
	sameVoxels(t, "canonical voxels", c.Dims, c.Data, r.CanonicalShape, r.CanonicalData)
}

func TestNIfTIAgainstNibabel(t *testing.T) {
	refs := loadRefs(t)
	for _, name := range []string{"sform_n1.nii", "qform_n1.nii.gz", "fallback_nan_n1.nii", "sform_n2.nii", "qform_n2.nii.gz", "order_n1.nii"} {
		t.Run(name, func(t *testing.T) {
			r, ok := refs[name]
			if !ok {
				t.Fatalf("no reference for %s", name)
			}
			v, err := ReadNIfTI(filepath.Join(goldenDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if v.XformCode != r.XformCode {
				t.Errorf("xform code %d, header %d", v.XformCode, r.XformCode)
			}
			checkAgainst(t, v, r)
		})
	}
}

func TestDICOMSeriesAgainstPydicom(t *testing.T) {
	r := loadRefs(t)["series"]
	s, err := ReadDICOMSeries(context.Background(), filepath.Join(goldenDir, "series"), SeriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, s.Volume, r)
	if s.SeriesUID != r.SeriesUID {
		t.Errorf("series %q, want %q", s.SeriesUID, r.SeriesUID)
	}
	for k := range r.Files {
		if filepath.Base(s.Files[k]) != r.Files[k] || s.SOPInstanceUIDs[k] != r.SOPUIDs[k] {
			t.Fatalf("slice order %v %v, want %v %v", s.Files, s.SOPInstanceUIDs, r.Files, r.SOPUIDs)
		}
	}
	if s.XformCode != 1 || len(s.Skipped) != 0 {
		t.Errorf("xform code %d, skipped %v", s.XformCode, s.Skipped)
	}
}

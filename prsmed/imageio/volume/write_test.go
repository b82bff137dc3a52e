package volume

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/imageiotest"
	"github.com/prsmed/prsmed-go/prsmed/imageio/nifti"
)

// sameAffine32 compares affines to the precision of a NIfTI-1 header (float32).
func sameAffine32(t *testing.T, what string, got, want [4][4]float64) {
	t.Helper()
	for i := range got {
		for j := range got[i] {
			if math.Abs(got[i][j]-want[i][j]) > 1e-6*math.Max(1, math.Abs(want[i][j])) {
				t.Fatalf("%s [%d][%d] = %v, want %v", what, i, j, got[i][j], want[i][j])
			}
		}
	}
}

// writeCases are volumes to write: an oblique right-handed one, a left-handed one
// (qfac -1), the DICOM series (LPS voxel order) and a sheared one (the qform drops the
// shear, the sform keeps it).
func writeCases(t *testing.T) map[string]*Volume {
	t.Helper()
	out := map[string]*Volume{}
	for _, f := range []string{"sform_n1.nii", "qform_n1.nii.gz"} {
		v, err := ReadNIfTI(filepath.Join(goldenDir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = v
	}
	s, err := ReadDICOMSeries(context.Background(), filepath.Join(goldenDir, "series"), SeriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out["series"] = s.Volume
	v, err := ReadNIfTI(filepath.Join(goldenDir, "sform_n2.nii"))
	if err != nil {
		t.Fatal(err)
	}
	out["sheared"] = v
	return out
}

// TestWriteNIfTIRoundTrip writes each case as .nii and .nii.gz and reads it back: the
// sform gives the affine; with the sform code cleared, the qform (as nibabel's set_qform
// stores it) gives the affine too, except for the sheared case, whose qform is the
// affine's closest rotation times its column lengths.
func TestWriteNIfTIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, v := range writeCases(t) {
		for _, ext := range []string{".nii", ".nii.gz"} {
			path := filepath.Join(dir, strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".nii")+ext)
			if err := WriteNIfTI(path, v, Float32); err != nil {
				t.Fatal(err)
			}
			w, err := ReadNIfTI(path)
			if err != nil {
				t.Fatal(err)
			}
			sameAffine32(t, name+" sform", w.Affine, v.Affine)
			if w.Dims != v.Dims || w.XformCode != v.XformCode && !(v.XformCode == 0 && w.XformCode == 2) {
				t.Fatalf("%s: dims %v code %d, wrote %v code %d", name, w.Dims, w.XformCode, v.Dims, v.XformCode)
			}
			for n := range v.Data {
				if w.Data[n] != v.Data[n] && !(math.IsNaN(float64(w.Data[n])) && math.IsNaN(float64(v.Data[n]))) {
					t.Fatalf("%s voxel %d: %v, wrote %v", name, n, w.Data[n], v.Data[n])
				}
			}
		}
		// The qform alone.
		path := filepath.Join(dir, "q.nii")
		if err := WriteNIfTI(path, v, Float32); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint16(b[254:], 0)
		f, err := nifti.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		q, _, err := f.Affine()
		if err != nil {
			t.Fatal(err)
		}
		want := v.Affine
		if name == "sheared" {
			_, zooms, quat := qform(v.Affine)
			r, _ := nifti.QuatToMat([3]float64{quat[1], quat[2], quat[3]}, 0)
			for i := 0; i < 3; i++ {
				for j := 0; j < 3; j++ {
					want[i][j] = r[i][j] * zooms[j]
				}
			}
			if math.Abs(det3(rzs(want))-det3(rzs(v.Affine))) < 1e-3 {
				t.Fatalf("sheared case: the qform should differ from the sform")
			}
		}
		sameAffine32(t, name+" qform", q, want)
	}
}

func TestWriteNIfTIIntegerTypes(t *testing.T) {
	v, err := New([3]int{3, 2, 2}, [4][4]float64{{2, 0, 0, 1}, {0, 2, 0, 2}, {0, 0, 3, 3}, {0, 0, 0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range v.Data {
		v.Data[i] = float32(i * 20)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		dt  DataType
		bad float32
	}{{Uint8, 256}, {Int16, 40000}, {Uint8, 0.5}} {
		p := filepath.Join(dir, "m.nii.gz")
		if err := WriteNIfTI(p, v, tc.dt); err != nil {
			t.Fatal(err)
		}
		w, err := ReadNIfTI(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v.Data {
			if w.Data[i] != v.Data[i] {
				t.Fatalf("type %d voxel %d: %v, wrote %v", tc.dt, i, w.Data[i], v.Data[i])
			}
		}
		old := v.Data[1]
		v.Data[1] = tc.bad
		os.Remove(p)
		if err := WriteNIfTI(p, v, tc.dt); err == nil || !strings.Contains(err.Error(), "not storable") {
			t.Fatalf("type %d, voxel %v: err %v, want a refusal", tc.dt, tc.bad, err)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("a refused write left %s behind", p)
		}
		v.Data[1] = old
	}
}

// TestWriteNIfTIReadByNibabel has nibabel read the written files (shape, affine, sform,
// qform, codes, voxels) when PRSMED_PYTHON names a python with nibabel 5.
func TestWriteNIfTIReadByNibabel(t *testing.T) {
	py := imageiotest.NibabelPython(t)
	dir := t.TempDir()
	for name, v := range writeCases(t) {
		if name == "sheared" {
			continue // its qform is not its affine (checked in TestWriteNIfTIRoundTrip)
		}
		for _, ext := range []string{".nii", ".nii.gz"} {
			t.Run(name+ext, func(t *testing.T) {
				path := filepath.Join(dir, "out"+ext)
				if err := WriteNIfTI(path, v, Float32); err != nil {
					t.Fatal(err)
				}
				imageiotest.CheckNibabel(t, py, path, imageiotest.NIfTIWant{Dims: v.Dims, Affine: v.Affine, Data: v.Data, XformCode: v.XformCode})
			})
		}
	}
}

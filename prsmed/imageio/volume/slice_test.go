package volume

import (
	"path/filepath"
	"testing"
)

// TestSliceDisplayOrientation puts one voxel at the patient's left, anterior, superior
// corner of an LPS-ordered volume (DICOM's order) and one at the right, posterior, inferior
// corner, and checks where each slice shows them: axial and coronal with the patient's
// left on the image's right, anterior / superior at the top; sagittal with anterior on the
// left.
func TestSliceDisplayOrientation(t *testing.T) {
	// LPS voxel order: i towards the patient's left, j posterior, k superior.
	aff := [4][4]float64{{-1, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 1}}
	v, err := New([3]int{4, 3, 2}, aff)
	if err != nil {
		t.Fatal(err)
	}
	// left (i max), anterior (j 0), superior (k max)
	v.Data[v.Index(3, 0, 1)] = 1
	// right (i 0), posterior (j max), inferior (k 0)
	v.Data[v.Index(0, 2, 0)] = 2
	for _, tc := range []struct {
		name  string
		plane Plane
		index int
		h, w  int
		r, c  int
		val   float32
	}{
		{"axial superior: LA voxel top right", Axial, 1, 3, 4, 0, 3, 1},
		{"axial inferior: RP voxel bottom left", Axial, 0, 3, 4, 2, 0, 2},
		{"coronal anterior: LS voxel top right", Coronal, 2, 2, 4, 0, 3, 1},
		{"coronal posterior: RI voxel bottom left", Coronal, 0, 2, 4, 1, 0, 2},
		{"sagittal 0 (leftmost): AS voxel top left", Sagittal, 0, 2, 3, 0, 0, 1},
		{"sagittal 3 (rightmost): PI voxel bottom right", Sagittal, 3, 2, 3, 1, 2, 2},
	} {
		s, h, w, err := v.Slice(tc.plane, tc.index)
		if err != nil {
			t.Fatal(err)
		}
		if h != tc.h || w != tc.w {
			t.Fatalf("%s: %d×%d, want %d×%d", tc.name, h, w, tc.h, tc.w)
		}
		for n, x := range s {
			wantX := float32(0)
			if n == tc.r*w+tc.c {
				wantX = tc.val
			}
			if x != wantX {
				t.Fatalf("%s: pixel (%d, %d) = %v, want %v (slice %v)", tc.name, n/w, n%w, x, wantX, s)
			}
		}
	}
}

// TestSliceMatchesCanonical checks that slices of an oblique, permuted volume (SAL voxel
// order) equal slices of its nibabel-checked canonical copy, and that PutSlice inverts
// Slice.
func TestSliceMatchesCanonical(t *testing.T) {
	v, err := ReadNIfTI(filepath.Join(goldenDir, "sform_n2.nii"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(v.Dims, v.Affine)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Plane{Axial, Coronal, Sagittal} {
		n, err := v.Slices(p)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < n; k++ {
			a, h, wd, err := v.Slice(p, k)
			if err != nil {
				t.Fatal(err)
			}
			b, h2, wd2, err := c.Slice(p, k)
			if err != nil {
				t.Fatal(err)
			}
			if h != h2 || wd != wd2 {
				t.Fatalf("%s %d: %d×%d vs canonical %d×%d", p, k, h, wd, h2, wd2)
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%s %d pixel %d: %v vs canonical %v", p, k, i, a[i], b[i])
				}
			}
			if err := w.PutSlice(p, k, a); err != nil {
				t.Fatal(err)
			}
		}
		for i := range v.Data {
			if w.Data[i] != v.Data[i] {
				t.Fatalf("%s: PutSlice of every slice did not rebuild voxel %d", p, i)
			}
		}
		clear(w.Data)
	}
	if _, _, _, err := v.Slice(Axial, 99); err == nil {
		t.Fatal("slice out of range accepted")
	}
	if err := w.PutSlice(Axial, 0, make([]float32, 2)); err == nil {
		t.Fatal("PutSlice of the wrong size accepted")
	}
}

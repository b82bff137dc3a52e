package volume

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseNIfTI feeds arbitrary bytes to the volume reader and runs what a caller would
// on an accepted volume: orientation, the canonical copy, a slice of each plane and the
// writer; none may panic.
func FuzzParseNIfTI(f *testing.F) {
	for _, name := range []string{"sform_n1.nii", "fallback_nan_n1.nii", "sform_n2.nii", "order_n1.nii"} {
		b, err := os.ReadFile(filepath.Join(goldenDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseNIfTI(b)
		if err != nil {
			return
		}
		if len(v.Data) > 1<<16 {
			return // keep each run small
		}
		if _, err := v.AxisCodes(); err != nil {
			return
		}
		if _, err := v.Canonical(); err != nil {
			t.Fatalf("canonical of an accepted volume: %v", err)
		}
		for _, p := range []Plane{Axial, Coronal, Sagittal} {
			if _, _, _, err := v.Slice(p, 0); err != nil {
				t.Fatalf("%s slice 0: %v", p, err)
			}
		}
		_ = WriteNIfTI(filepath.Join(dir, "f.nii"), v, Float32)
	})
}

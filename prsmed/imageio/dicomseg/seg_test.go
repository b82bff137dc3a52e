package dicomseg

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/dicom"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
)

const seriesDir = "../../../testdata/volume/series"

// maskOn returns a mask on the series' grid: a pattern in slices 1 and 3, slices 0 and 2
// empty (they get no frame).
func maskOn(t *testing.T) (*volume.Series, *volume.Volume) {
	t.Helper()
	s, err := volume.ReadDICOMSeries(context.Background(), seriesDir, volume.SeriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := volume.New(s.Dims, s.Affine)
	if err != nil {
		t.Fatal(err)
	}
	m.XformCode = s.XformCode
	for _, k := range []int{1, 3} {
		for j := 0; j < s.Dims[1]; j++ {
			for i := 0; i < s.Dims[0]; i++ {
				if (i+2*j+k)%3 == 0 || (i == 0 && j == 0) {
					m.Data[m.Index(i, j, k)] = 1
				}
			}
		}
	}
	return s, m
}

// TestSEGFramesAndReferences reads the written SEG back with this project's parser: frame
// count, size and the per-frame source instances (in the order of the series' slices).
func TestSEGFramesAndReferences(t *testing.T) {
	s, m := maskOn(t)
	b, res, err := Encode(s, m, Options{Label: "left lung"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Slices; len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("frames for slices %v, want [1 3]", got)
	}
	f, err := dicom.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		g, e uint16
		want string
	}{{0x0008, 0x0016, SegmentationStorage}, {0x0028, 0x0008, "2"}, {0x0028, 0x0010, "5"}, {0x0028, 0x0011, "6"}, {0x0028, 0x0100, "1"}, {0x0062, 0x0001, "BINARY"}, {0x0008, 0x0018, res.SOPInstanceUID}} {
		if got, _ := f.Tag(c.g, c.e); got != c.want {
			t.Fatalf("(%04X,%04X) = %q, want %q", c.g, c.e, got, c.want)
		}
	}
	// The source instances of frames 1 and 2 appear in the bytes in frame order.
	a, c := strings.Index(string(b), s.SOPInstanceUIDs[1]+"\x00"), strings.LastIndex(string(b), s.SOPInstanceUIDs[3])
	if a < 0 || c < 0 {
		t.Fatalf("source instances not referenced")
	}
	if _, _, err := Encode(s, func() *volume.Volume { v, _ := volume.New(s.Dims, s.Affine); return v }(), Options{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty mask: %v", err)
	}
	other, _ := volume.New([3]int{6, 5, 3}, s.Affine)
	if _, _, err := Encode(s, other, Options{}); err == nil || !strings.Contains(err.Error(), "grid") {
		t.Fatalf("mask of another size: %v", err)
	}
}

// TestSEGReadByPydicom has pydicom 3 read the SEG and nibabel the NIfTI mask written from
// the same volume (PRSMED_PYTHON): frames equal the NIfTI slices that hold mask, each
// frame's source instance and position are those of its slice in the source files,
// the referenced series lists every instance, and the segment label is kept.
func TestSEGReadByPydicom(t *testing.T) {
	py := os.Getenv("PRSMED_PYTHON")
	if py == "" {
		t.Skip("PRSMED_PYTHON is not set: the pydicom check of written SEG files is skipped (set it to a python with pydicom>=3 and nibabel>=5, e.g. /tmp/t2venv/bin/python)")
	}
	s, m := maskOn(t)
	dir := t.TempDir()
	segPath, niiPath := filepath.Join(dir, "mask.seg.dcm"), filepath.Join(dir, "mask.nii.gz")
	res, err := Write(segPath, s, m, Options{Label: "left lung", Description: "Where is the left lung?"})
	if err != nil {
		t.Fatal(err)
	}
	if err := volume.WriteNIfTI(niiPath, m, volume.Uint8); err != nil {
		t.Fatal(err)
	}
	exp, _ := json.Marshal(map[string]any{"label": "left lung", "slices": res.Slices})
	expPath := filepath.Join(dir, "expected.json")
	if err := os.WriteFile(expPath, exp, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "../../../third_party/golden/seg_check.py", segPath, niiPath, seriesDir, expPath).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("pydicom check: %v\n%s", err, out)
	}
}

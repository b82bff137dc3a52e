package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
)

const goldenVolumes = "../../testdata/volume"

// TestPredictVolumeSeries runs -volume on a DICOM series folder with the tiny preset: the
// mask is on the series' grid, summary.json agrees with it, and (PRSMED_PYTHON) pydicom and
// nibabel read the SEG and the NIfTI and find the SEG's frames equal to the NIfTI slices.
// maskOnGrid reads the mask predict wrote to out and fails the test unless it lies on
// src's grid (within tol, as volume.Volume.SameGrid).
func maskOnGrid(t *testing.T, out string, src *volume.Volume, tol float64) *volume.Volume {
	t.Helper()
	mask, err := volume.ReadNIfTI(filepath.Join(out, volumeMaskName))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.SameGrid(mask, tol); err != nil {
		t.Fatalf("mask grid: %v", err)
	}
	return mask
}

func TestPredictVolumeSeries(t *testing.T) {
	ckpt := prsmedtest.TinyBundle(t, 9)
	series := filepath.Join(goldenVolumes, "series")
	for _, threshold := range []string{"0.5", "0.0001"} {
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runPredict("-checkpoint", ckpt, "-volume", series, "-out", out, "-question", "Where is the left lung?", "-label", "left lung", "-batch", "3", "-threshold", threshold, "-quiet")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var sum volumeSummary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("stdout is not the summary: %v\n%s", err, stdout)
		}
		src, err := volume.ReadDICOMSeries(t.Context(), series, volume.SeriesOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mask := maskOnGrid(t, out, src.Volume, 1e-4)
		count := 0
		for _, x := range mask.Data {
			count += int(x)
		}
		if count != sum.Voxels || sum.Series != src.SeriesUID {
			t.Fatalf("mask holds %d voxels, summary says %d; series %q", count, sum.Voxels, sum.Series)
		}
		t.Logf("threshold %s: %d voxels in %d slices", threshold, count, len(sum.WithFinding))
		if count == 0 {
			if sum.SEG != "" || sum.SEGNote == "" {
				t.Fatalf("empty mask: seg %q note %q", sum.SEG, sum.SEGNote)
			}
			continue
		}
		if sum.SEG != volumeSEGName {
			t.Fatalf("no SEG written: %+v", sum)
		}
		py := os.Getenv("PRSMED_PYTHON")
		if py == "" {
			t.Log("PRSMED_PYTHON is not set: the pydicom/nibabel check of the outputs is skipped")
			continue
		}
		// The SEG's frames are the source slices (k, along the series' normal) that hold
		// mask, whatever the plane's numbering in the summary.
		var slices []int
		plane := src.Dims[0] * src.Dims[1]
		for k := 0; k < src.Dims[2]; k++ {
			for _, x := range mask.Data[k*plane : (k+1)*plane] {
				if x != 0 {
					slices = append(slices, k)
					break
				}
			}
		}
		exp, _ := json.Marshal(map[string]any{"label": "left lung", "slices": slices})
		expPath := filepath.Join(out, "expected.json")
		if err := os.WriteFile(expPath, exp, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := exec.Command(py, "../../third_party/golden/seg_check.py", filepath.Join(out, volumeSEGName), filepath.Join(out, volumeMaskName), series, expPath).CombinedOutput()
		if err != nil || strings.TrimSpace(string(res)) != "OK" {
			t.Fatalf("pydicom check: %v\n%s", err, res)
		}
	}
}

// TestPredictVolumeNIfTI: a NIfTI input gives a mask on its grid (coronal slicing here)
// and no SEG; usage errors of -volume are refused before any work.
func TestPredictVolumeNIfTI(t *testing.T) {
	ckpt := prsmedtest.TinyBundle(t, 9)
	in := filepath.Join(goldenVolumes, "qform_n1.nii.gz")
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runPredict("-checkpoint", ckpt, "-volume", in, "-out", out, "-plane", "coronal", "-threshold", "0.0001", "-quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	src, err := volume.ReadNIfTI(in)
	if err != nil {
		t.Fatal(err)
	}
	maskOnGrid(t, out, src, 1e-5)
	if _, err := os.Stat(filepath.Join(out, volumeSEGName)); !os.IsNotExist(err) {
		t.Fatalf("a SEG was written for a NIfTI input: %v", err)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-volume", in, "-images", "x"}, "exactly one of -images, -data and -volume"},
		{[]string{"-volume", in, "-plane", "oblique"}, "-plane"},
		{[]string{"-volume", in, "-threshold", "1.5"}, "-threshold"},
		{[]string{"-volume", filepath.Join(goldenVolumes, "missing.nii")}, "missing.nii"},
	} {
		code, _, stderr := runPredict(append([]string{"-checkpoint", ckpt, "-out", out}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", c.args, code, stderr, c.msg)
		}
	}
}

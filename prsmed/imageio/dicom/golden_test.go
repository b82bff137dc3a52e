package dicom

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/imageiotest"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

// The goldens are written by third_party/golden/medical_ref.py.
const (
	goldenDir    = "../../../testdata/medical"
	pydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
)

type valueRec struct {
	N       int          `json:"n"`
	SHA256  string       `json:"sha256"`
	Min     float64      `json:"min"`
	Max     float64      `json:"max"`
	Sum     float64      `json:"sum"`
	Sumsq   float64      `json:"sumsq"`
	Samples [][2]float64 `json:"samples"`
	U8      string       `json:"u8_zlib_b64"`
	Hist    []int        `json:"hist"`
	VOILUT  bool         `json:"voi_lut_sequence"`
}

type fileRec struct {
	File        string              `json:"file"`
	OK          bool                `json:"ok"`
	Stage       string              `json:"stage"`
	Error       string              `json:"error"`
	TS          string              `json:"ts"`
	Modality    string              `json:"modality"`
	SOP         string              `json:"sop_instance_uid"`
	Frames      int                 `json:"frames"`
	Rows        int                 `json:"rows"`
	Cols        int                 `json:"cols"`
	Samples     int                 `json:"samples"`
	Photometric string              `json:"photometric"`
	Lossy       bool                `json:"lossy"`
	Values      map[string]valueRec `json:"values"`
	Window      *valueRec           `json:"window"`
}

func loadGolden(t *testing.T, name string) []fileRec {
	t.Helper()
	return imageiotest.Files[fileRec](t, filepath.Join(goldenDir, name))
}

func integral(r valueRec) bool {
	for _, s := range r.Samples {
		if s[1] != math.Trunc(s[1]) {
			return false
		}
	}
	return r.Min == math.Trunc(r.Min) && r.Max == math.Trunc(r.Max)
}

// checkValues compares decoded values with a golden record: bit-exact for integer data,
// 1e-6 relative for rescaled data, and for lossy JPEG a mean difference of at most 2
// levels with at most 1% of the values more than 4 levels away.
func checkValues(t *testing.T, what string, got []float64, want valueRec, lossy bool) {
	t.Helper()
	if len(got) != want.N {
		t.Errorf("%s: %d values, want %d", what, len(got), want.N)
		return
	}
	if lossy {
		z, err := base64.StdEncoding.DecodeString(want.U8)
		if err != nil {
			t.Fatal(err)
		}
		r, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := io.ReadAll(r)
		if len(ref) != len(got) {
			t.Fatalf("%s: golden has %d values", what, len(ref))
		}
		var sum float64
		far, worst := 0, 0.0
		for i, v := range got {
			d := math.Abs(math.Round(v) - float64(ref[i]))
			sum += d
			worst = math.Max(worst, d)
			if d > 4 {
				far++
			}
		}
		mean := sum / float64(len(got))
		t.Logf("%s: lossy JPEG vs the reference: mean |diff| %.3f, max %.0f, %d of %d over 4 levels", what, mean, worst, far, len(got))
		if mean > 2 || far*100 > len(got) {
			t.Errorf("%s: mean |diff| %.3f (limit 2), %d of %d values over 4 levels (limit 1%%)", what, mean, far, len(got))
		}
		return
	}
	if imageiotest.SHA256(got) == want.SHA256 {
		return
	}
	if integral(want) {
		for _, s := range want.Samples {
			if g := got[int(s[0])]; g != s[1] {
				t.Errorf("%s: value %d is %v, want %v", what, int(s[0]), g, s[1])
			}
		}
		t.Errorf("%s: integer values differ from pydicom's (checksum)", what)
		return
	}
	var sum, sumsq float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range got {
		sum += v
		sumsq += v * v
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	for _, s := range want.Samples {
		if g := got[int(s[0])]; !imageiotest.Close6(g, s[1]) {
			t.Errorf("%s: value %d is %v, want %v", what, int(s[0]), g, s[1])
		}
	}
	scale := math.Max(math.Abs(want.Min), math.Abs(want.Max)) * float64(want.N)
	if math.Abs(sum-want.Sum) > 1e-6*math.Max(1, scale) || !imageiotest.Close6(sumsq, want.Sumsq) || !imageiotest.Close6(lo, want.Min) || !imageiotest.Close6(hi, want.Max) {
		t.Errorf("%s: sum %v sumsq %v min %v max %v, want %v %v %v %v", what, sum, sumsq, lo, hi, want.Sum, want.Sumsq, want.Min, want.Max)
	}
}

// unsupportedSyntax reports whether the Go reader refuses a transfer syntax by design.
func unsupportedSyntax(uid string) bool {
	return lookupSyntax(uid).codec == codecUnsupported
}

func checkFile(t *testing.T, path string, r fileRec) {
	f, err := Open(path)
	if r.OK && unsupportedSyntax(r.TS) {
		// pydicom decodes it through Pillow (JPEG 2000); this reader names the syntax.
		if err == nil {
			_, err = f.Frame(0)
		}
		name := lookupSyntax(r.TS).name
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), r.TS) || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v, want ErrUnsupported naming %s (%s)", err, name, r.TS)
		}
		return
	}
	if !r.OK {
		if err == nil {
			_, err = f.Frame(0)
		}
		t.Logf("pydicom: %s; Go: %v", r.Error, err)
		switch {
		case r.Error == "no pixel data":
			if !errors.Is(err, ErrNoPixels) {
				t.Errorf("error %v, want ErrNoPixels", err)
			}
		case err == nil && r.Stage == "read":
			t.Logf("read by Go although pydicom cannot")
		case err == nil:
			t.Errorf("decoded, but pydicom fails: %s", r.Error)
		}
		if f != nil && r.Stage == "pixels" {
			if m, _ := f.Tag(0x0008, 0x0060); m != r.Modality {
				t.Errorf("Modality %q, want %q", m, r.Modality)
			}
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Tag(0x0008, 0x0060); m != r.Modality {
		t.Errorf("Modality %q, want %q", m, r.Modality)
	}
	if s := f.SOPInstanceUID(); s != r.SOP {
		t.Errorf("SOP Instance UID %q, want %q", s, r.SOP)
	}
	rows, cols, samples := f.Size()
	if f.Frames() != r.Frames || rows != r.Rows || cols != r.Cols || samples != r.Samples {
		t.Fatalf("frames %d size %d×%d×%d, want %d %d×%d×%d", f.Frames(), rows, cols, samples, r.Frames, r.Rows, r.Cols, r.Samples)
	}
	for k, want := range r.Values {
		var i int
		if k != "0" {
			i = r.Frames - 1
		}
		v, err := f.Frame(i)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		checkValues(t, "frame "+k, v, want, r.Lossy)
	}
	if w := r.Window; w != nil && !w.VOILUT {
		v, err := f.Frame(0)
		if err != nil {
			t.Fatal(err)
		}
		norm, err := f.Normalize(v, window.File())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range w.Samples {
			if g := norm[int(s[0])]; math.Abs(g-s[1]) > 1e-9 {
				t.Errorf("window: value %d is %v, pydicom's apply_windowing %v", int(s[0]), g, s[1])
			}
		}
		hist := make([]int, 256)
		for _, x := range norm {
			hist[window.Level8(x)]++
		}
		for l := range hist {
			if hist[l] != w.Hist[l] {
				t.Errorf("window: %d pixels at level %d, pydicom %d", hist[l], l, w.Hist[l])
			}
		}
	}
}

func TestSyntheticFiles(t *testing.T) {
	for _, r := range loadGolden(t, "synthetic_dicom.json") {
		t.Run(r.File, func(t *testing.T) { checkFile(t, filepath.Join(goldenDir, r.File), r) })
	}
}

// TestPydicomFiles reads the test files Debian's python3-pydicom ships.
func TestPydicomFiles(t *testing.T) {
	imageiotest.NeedPackageFiles(t, pydicomFiles, "python3-pydicom")
	for _, r := range loadGolden(t, "pydicom_files.json") {
		if jpegLossy(r.TS) {
			continue // compared with pydicom 3 in TestPydicomJPEGFiles
		}
		t.Run(r.File, func(t *testing.T) { checkFile(t, filepath.Join(pydicomFiles, r.File), r) })
	}
}

// jpegLossy reports whether a transfer syntax is JPEG baseline or extended.
func jpegLossy(uid string) bool {
	return uid == "1.2.840.10008.1.2.4.50" || uid == "1.2.840.10008.1.2.4.51"
}

// TestPydicomJPEGFiles compares every pydicom test file holding a JPEG baseline or
// extended codestream with pydicom 3's decode through Pillow (pydicom_jpeg.json, written
// by third_party/golden/dicom_jpeg_ref.py). Among them: an RGB stream with an Adobe APP14
// segment too short to hold a transform flag (SC_rgb_jpeg.dcm), one with none
// (SC_jpeg_no_color_transform.dcm), ones with transform 0, and JFIF YCbCr streams.
func TestPydicomJPEGFiles(t *testing.T) {
	imageiotest.NeedPackageFiles(t, pydicomFiles, "python3-pydicom")
	files := loadGolden(t, "pydicom_jpeg.json")
	if len(files) < 15 {
		t.Fatalf("the golden holds %d files, want the 15 JPEG baseline/extended files", len(files))
	}
	for _, r := range files {
		if !jpegLossy(r.TS) {
			t.Fatalf("%s: transfer syntax %s is not JPEG baseline or extended", r.File, r.TS)
		}
		t.Run(r.File, func(t *testing.T) { checkFile(t, filepath.Join(pydicomFiles, r.File), r) })
	}
}

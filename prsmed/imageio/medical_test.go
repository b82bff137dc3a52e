package imageio

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/dicom"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

const medicalDir = "../../testdata/medical"

// TestDICOMRoundTrip: a CT slice written as DICOM by third_party/golden/medical_ref.py,
// loaded with the lung window, gives the 8-bit pixels of the PNG the script wrote after
// pydicom's apply_windowing with the same window, and so the same model input.
func TestDICOMRoundTrip(t *testing.T) {
	lung, err := window.Preset("lung")
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Window = lung
	got, src, err := LoadWith(filepath.Join(medicalDir, "ct_roundtrip.dcm"), o)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load(filepath.Join(medicalDir, "ct_roundtrip_lung.png"))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := got.(*image.Gray)
	if !ok {
		t.Fatalf("DICOM gives %T, want *image.Gray", got)
	}
	w := want.(*image.Gray)
	if g.Bounds() != w.Bounds() {
		t.Fatalf("bounds %v, want %v", g.Bounds(), w.Bounds())
	}
	diff := 0
	for i := range w.Pix {
		if g.Pix[i] != w.Pix[i] {
			diff++
		}
	}
	if diff != 0 {
		t.Errorf("%d of %d pixels differ from the PNG", diff, len(w.Pix))
	}
	pg, _, _ := RGBFloats(g)
	pw, _, _ := RGBFloats(w)
	for i := range pw {
		if pg[i] != pw[i] {
			t.Fatalf("model input differs at %d: %v vs %v", i, pg[i], pw[i])
		}
	}
	if src.Format != KindDICOM || src.SOPInstanceUID != "1.2.826.0.1.3680043.8.498.77" || src.Window != "lung" {
		t.Errorf("source %+v", src)
	}
	if s := src.String(); !strings.Contains(s, "1.2.826.0.1.3680043.8.498.77") {
		t.Errorf("source string %q does not name the SOP Instance UID", s)
	}
}

func TestLoadWithDispatch(t *testing.T) {
	cases := []struct {
		file   string
		opt    func(*Options)
		format string
		w, h   int
		gray   bool
		source string
	}{
		{"ct_implicit.dcm", nil, KindDICOM, 48, 40, true, "frame 0, window file"},
		{"mr_bigendian_2frames.dcm", func(o *Options) { o.Frame = 1 }, KindDICOM, 23, 17, true, "frame 1"},
		{"rgb_planar1.dcm", nil, KindDICOM, 11, 9, false, "DICOM SOP"},
		{"no_meta_explicit.dcm", nil, KindDICOM, 48, 40, true, "DICOM"},
		{"vol_i16_scaled.nii", nil, KindNIfTI, 5, 6, true, "axis 2 slice 2"},
		{"vol_f32_4d.nii.gz", func(o *Options) { o.Axis, o.Slice = 0, 4 }, KindNIfTI, 3, 4, true, "axis 0 slice 4"},
		{"vol_u8_pair.hdr", func(o *Options) { o.Window = window.MinMaxWindow() }, KindNIfTI, 3, 7, true, "window minmax"},
		{"vol_analyze_be.hdr", func(o *Options) { o.Axis, o.Slice = 1, Middle }, KindNIfTI, 2, 3, true, "axis 1 slice 3"},
		{"ct_roundtrip_lung.png", nil, "png", 64, 64, true, "ct_roundtrip_lung.png"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			o := DefaultOptions()
			if c.opt != nil {
				c.opt(&o)
			}
			img, src, err := LoadWith(filepath.Join(medicalDir, c.file), o)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
				t.Errorf("size %d×%d, want %d×%d", b.Dx(), b.Dy(), c.w, c.h)
			}
			if IsGray(img) != c.gray {
				t.Errorf("gray %v, want %v (%T)", IsGray(img), c.gray, img)
			}
			if src.Format != c.format || !strings.Contains(src.String(), c.source) {
				t.Errorf("source %q (format %s), want %s containing %q", src, src.Format, c.format, c.source)
			}
		})
	}
}

// TestLoadMedicalDefaults: Load reads DICOM with the file's window, as LoadWith does.
func TestLoadMedicalDefaults(t *testing.T) {
	p := filepath.Join(medicalDir, "ct_implicit.dcm")
	a, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dicom.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Image(0, window.File())
	if err != nil {
		t.Fatal(err)
	}
	ga, gb := a.(*image.Gray), b.(*image.Gray)
	for i := range ga.Pix {
		if ga.Pix[i] != gb.Pix[i] {
			t.Fatalf("pixel %d: %d vs %d", i, ga.Pix[i], gb.Pix[i])
		}
	}
}

func TestLoadWithErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join(medicalDir, "ct_implicit.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		path string
		opt  Options
		want error
	}{
		{"truncated pixel data", write("trunc.dcm", good[:len(good)-100]), DefaultOptions(), dicom.ErrMalformed},
		{"frame out of range", write("ok.dcm", good), Options{Frame: 3}, nil},
		{"bad nifti", write("bad.nii", []byte("not a nifti header at all")), DefaultOptions(), nil},
		{"missing file", filepath.Join(dir, "none.dcm"), DefaultOptions(), os.ErrNotExist},
		{"slice out of range", filepath.Join(medicalDir, "vol_i16_scaled.nii"), Options{Axis: 2, Slice: 4}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := LoadWith(c.path, c.opt)
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseSlice(t *testing.T) {
	cases := []struct {
		in          string
		axis, index int
		bad         bool
	}{
		{"", 2, Middle, false}, {"mid", 2, Middle, false}, {"7", 2, 7, false}, {"0:3", 0, 3, false},
		{"y:mid", 1, Middle, false}, {"z:12", 2, 12, false}, {"3:1", 0, 0, true}, {"-1", 0, 0, true}, {"a", 0, 0, true},
	}
	for _, c := range cases {
		a, i, err := ParseSlice(c.in)
		if (err != nil) != c.bad || (!c.bad && (a != c.axis || i != c.index)) {
			t.Errorf("ParseSlice(%q) = %d, %d, %v", c.in, a, i, err)
		}
	}
}

func TestSourceString(t *testing.T) {
	cases := []struct {
		src  Source
		want string
	}{
		{Source{Path: "a.dcm", Format: KindDICOM, SOPInstanceUID: "1.2.3", Frame: 2, Window: "lung"},
			"a.dcm (DICOM SOP Instance UID 1.2.3, frame 2, window lung)"},
		{Source{Path: "a.dcm", Format: KindDICOM, Frame: 0, Window: "auto"},
			"a.dcm (DICOM without SOP Instance UID, frame 0, window auto)"},
		{Source{Path: "b.nii", Format: KindNIfTI, Axis: 2, Slice: 7, Window: "auto"},
			"b.nii (NIfTI axis 2 slice 7, window auto)"},
		{Source{Path: "c.png", Format: "png"}, "c.png"},
	}
	for _, c := range cases {
		if got := c.src.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

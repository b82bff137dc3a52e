package data

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/zones"
)

// officialRoot is the tiny fixture in the official layout.
const officialRoot = "../../testdata/posmed/official"

func TestImageCandidates(t *testing.T) {
	tests := []struct {
		mask, name string
		want       []string
	}{
		{"brain/train_masks/10.png", "10.png", []string{
			"brain/train_images/10.png", "brain/train_images/10.jpg", "brain/train_images/10.jpeg", "brain/train_images/10.dcm"}},
		{"skin/test_masks/ISIC_1_Segmentation.png", "ISIC_1", []string{
			"skin/test_images/ISIC_1.png", "skin/test_images/ISIC_1.jpg", "skin/test_images/ISIC_1.jpeg", "skin/test_images/ISIC_1.dcm"}},
		{"skin/train_masks/ISIC_1_Segmentation.png", "", []string{
			"skin/train_images/ISIC_1.png", "skin/train_images/ISIC_1.jpg", "skin/train_images/ISIC_1.jpeg", "skin/train_images/ISIC_1.dcm"}},
		{"p/val_masks/5.png", "5.jpg", []string{
			"p/val_images/5.jpg", "p/val_images/5.png", "p/val_images/5.jpeg", "p/val_images/5.dcm"}},
		{"p/masks/a.b.png", "x", []string{
			"p/images/x.png", "p/images/x.jpg", "p/images/x.jpeg", "p/images/x.dcm",
			"p/images/a.b.png", "p/images/a.b.jpg", "p/images/a.b.jpeg", "p/images/a.b.dcm"}},
		{"p/train_masks/sub/a.png", "a.png", []string{
			"p/train_images/sub/a.png", "p/train_images/sub/a.jpg", "p/train_images/sub/a.jpeg", "p/train_images/sub/a.dcm"}},
	}
	for _, tc := range tests {
		got, err := imageCandidates(tc.mask, tc.name)
		if err != nil {
			t.Errorf("imageCandidates(%q, %q): %v", tc.mask, tc.name, err)
			continue
		}
		// imageDirOf rewrites the last *masks folder, so for the nested case
		// the image folder keeps "sub".
		if !slices.Equal(got, tc.want) {
			t.Errorf("imageCandidates(%q, %q) = %q, want %q", tc.mask, tc.name, got, tc.want)
		}
	}
	for _, bad := range [][2]string{{"p/train/a.png", "a.png"}, {"p/train_masks/a.png", "../a.png"}, {"p/train_masks/a.png", "x/a.png"}} {
		if _, err := imageCandidates(bad[0], bad[1]); err == nil {
			t.Errorf("imageCandidates(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

func TestOpenOfficialFixture(t *testing.T) {
	d, err := Open(officialRoot)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.AnnotationDir(); filepath.Base(got) != "annotation_v3" {
		t.Errorf("AnnotationDir = %s", got)
	}
	want := []string{"brain_tumors_ct_scan", "polyp_endoscopy", "skin_rgbimage"}
	if !slices.Equal(d.Modalities(), want) {
		t.Errorf("Modalities = %v, want %v", d.Modalities(), want)
	}
	wantImage := map[string]string{
		"brain_tumors_ct_scan/train_masks/10.png":                "brain_tumors_ct_scan/train_images/10.png",
		"brain_tumors_ct_scan/test_masks/11.png":                 "brain_tumors_ct_scan/test_images/11.png",
		"skin_rgbimage/test_masks/ISIC_0000003_Segmentation.png": "skin_rgbimage/test_images/ISIC_0000003.jpg",
		"polyp_endoscopy/val_masks/5.png":                        "polyp_endoscopy/val_images/5.jpg",
	}
	samples := d.Samples("")
	if len(samples) != len(wantImage) {
		t.Fatalf("%d samples, want %d", len(samples), len(wantImage))
	}
	for _, s := range samples {
		if w := filepath.Join(officialRoot, filepath.FromSlash(wantImage[s.MaskRel])); s.ImagePath != w {
			t.Errorf("%v: ImagePath %s, want %s", s, s.ImagePath, w)
		}
		img, mask, err := LoadSample(s)
		if err != nil {
			t.Errorf("LoadSample: %v", err)
			continue
		}
		if img.Bounds().Dx() != 8 || mask.Bounds().Dx() != 8 {
			t.Errorf("%v: sizes %v %v", s, img.Bounds(), mask.Bounds())
		}
		z, err := zones.FromMask(mask)
		if err != nil || z != s.Zone {
			t.Errorf("%v: mask zone %v (%v), position zone %v", s, z, err, s.Zone)
		}
	}
}

func TestAnnotationFolders(t *testing.T) {
	for _, sub := range []string{"annotations", "csv", "annotation_v2"} {
		t.Run(sub, func(t *testing.T) {
			root := tinyRoot(t, goodHeader+goodRow)
			if err := os.Mkdir(filepath.Join(root, sub), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(root, "brain_tumors_ct_scan.csv"), filepath.Join(root, sub, "brain_tumors_ct_scan.csv")); err != nil {
				t.Fatal(err)
			}
			d, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			if d.AnnotationDir() != filepath.Join(root, sub) || d.Len() != 1 {
				t.Errorf("AnnotationDir %s, Len %d", d.AnnotationDir(), d.Len())
			}
		})
	}
	t.Run("explicit", func(t *testing.T) {
		root := tinyRoot(t, goodHeader+goodRow)
		ann := t.TempDir()
		writeFile(t, ann, "brain_tumors_ct_scan.csv", []byte(goodHeader+goodRow+goodRow))
		d, err := OpenWith(root, Options{Annotations: ann})
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != 2 {
			t.Errorf("Len = %d, want the explicit folder's 2 rows", d.Len())
		}
		_, err = OpenWith(root, Options{Annotations: "missing"})
		if err == nil || !strings.Contains(err.Error(), "annotation folder") {
			t.Errorf("missing folder: err = %v", err)
		}
	})
}

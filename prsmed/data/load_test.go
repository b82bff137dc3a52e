package data

import (
	"errors"
	"image"
	"strings"
	"testing"
)

func TestLoadSample(t *testing.T) {
	root := tinyRoot(t, goodHeader+goodRow)
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	s := d.Samples(SplitTrain)[0]
	img, mask, err := LoadSample(s)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 8, 8) || mask.Bounds() != image.Rect(0, 0, 8, 8) {
		t.Errorf("bounds %v %v", img.Bounds(), mask.Bounds())
	}
	if mask.GrayAt(1, 1).Y != 255 || mask.GrayAt(0, 0).Y != 0 {
		t.Error("mask values not kept")
	}

	// Size mismatch.
	writeFile(t, root, "brain_tumors_ct_scan/train_images/10.png", grayPNG(t, 9, 8, func(x, y int) uint8 { return 0 }))
	_, _, err = LoadSample(s)
	if !errors.Is(err, ErrSizeMismatch) || !strings.Contains(err.Error(), "brain_tumors_ct_scan.csv:2") ||
		!strings.Contains(err.Error(), "9x8") {
		t.Errorf("size mismatch: err = %v", err)
	}
	kept, skipped, err := Validate([]Sample{s})
	if !errors.Is(err, ErrSizeMismatch) || kept != nil || skipped != nil {
		t.Errorf("Validate size mismatch: %v %v %v", kept, skipped, err)
	}

	// Empty mask: an error for LoadSample, a skip for Validate.
	writeFile(t, root, "brain_tumors_ct_scan/train_images/10.png", grayPNG(t, 8, 8, func(x, y int) uint8 { return 9 }))
	writeFile(t, root, "brain_tumors_ct_scan/train_masks/10.png", grayPNG(t, 8, 8, func(x, y int) uint8 { return 0 }))
	if _, _, err = LoadSample(s); !errors.Is(err, ErrEmptyMask) {
		t.Errorf("empty mask: err = %v", err)
	}
	kept, skipped, err = Validate([]Sample{s, s})
	if err != nil || len(kept) != 0 || len(skipped) != 2 || !strings.Contains(skipped[0].Reason, "no foreground") {
		t.Errorf("Validate empty mask: kept %v skipped %v err %v", kept, skipped, err)
	}

	// Undecodable image.
	writeFile(t, root, "brain_tumors_ct_scan/train_images/10.png", []byte("not an image"))
	if _, _, err = LoadSample(s); err == nil || !strings.Contains(err.Error(), "image") {
		t.Errorf("bad image: err = %v", err)
	}
	if _, _, err := Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
}

func TestToGray(t *testing.T) {
	// A sub-image keeps its own coordinates; toGray rebases to (0, 0).
	g := image.NewGray(image.Rect(0, 0, 4, 4))
	g.Pix[1*4+2] = 7
	sub := g.SubImage(image.Rect(1, 1, 4, 4)).(*image.Gray)
	out := toGray(sub)
	if out.Bounds() != image.Rect(0, 0, 3, 3) || out.GrayAt(1, 0).Y != 7 {
		t.Errorf("toGray(sub) = %v %v", out.Bounds(), out.Pix)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 2))
	rgba.Pix[0], rgba.Pix[1], rgba.Pix[2], rgba.Pix[3] = 255, 255, 255, 255
	if o := toGray(rgba); o.Pix[0] != 255 || o.Pix[1] != 0 {
		t.Errorf("toGray(rgba) = %v", o.Pix)
	}
}

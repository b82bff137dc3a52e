package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// writeFile writes content to root/rel, creating folders.
func writeFile(t *testing.T, root, rel string, content []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// grayPNG returns a w×h grey PNG whose pixel (x, y) is f(x, y).
func grayPNG(t *testing.T, w, h int, f func(x, y int) uint8) []byte {
	t.Helper()
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			g.SetGray(x, y, color.Gray{f(x, y)})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rgbJPEG returns a w×h mid-grey colour JPEG.
func rgbJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = 128
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// topLeftMask is an 8×8 mask with a 2×2 lesion in the top-left quadrant.
func topLeftMask(x, y int) uint8 {
	if x >= 1 && x <= 2 && y >= 1 && y <= 2 {
		return 255
	}
	return 0
}

// tinyRoot writes a data root with one brain image/mask pair (train, 8×8)
// and the given CSV text as brain_tumors_ct_scan.csv, and returns the root.
func tinyRoot(t *testing.T, csvText string) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, root, "brain_tumors_ct_scan/train_masks/10.png", grayPNG(t, 8, 8, topLeftMask))
	writeFile(t, root, "brain_tumors_ct_scan/train_images/10.png", grayPNG(t, 8, 8, func(x, y int) uint8 { return uint8(x * 30) }))
	writeFile(t, root, "brain_tumors_ct_scan.csv", []byte(csvText))
	return root
}

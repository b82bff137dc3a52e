package metrics

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadProbAndMask(t *testing.T) {
	dir := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 4, 1))
	for x, v := range []uint8{0, 127, 128, 255} {
		g.SetGray(x, 0, color.Gray{v})
	}
	path := filepath.Join(dir, "m.png")
	writePNG(t, path, g)

	p, err := LoadProb(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 127.0 / 255, 128.0 / 255, 1}
	for i := range want {
		if p.Pix[i] != want[i] {
			t.Errorf("prob[%d] = %v, want %v", i, p.Pix[i], want[i])
		}
	}
	m, err := LoadMask(path)
	if err != nil {
		t.Fatal(err)
	}
	if wantM := []bool{false, false, true, true}; m.W != 4 || m.H != 1 || m.Pix[1] != wantM[1] || m.Pix[2] != wantM[2] || m.Pix[3] != wantM[3] || m.Pix[0] {
		t.Errorf("mask = %+v, want %v", m, wantM)
	}
}

func TestImageConversions(t *testing.T) {
	// 16-bit grey: high byte; shifted bounds; RGB through the grey model.
	g16 := image.NewGray16(image.Rect(5, 5, 7, 6))
	g16.SetGray16(5, 5, color.Gray16{0x80ff})
	g16.SetGray16(6, 5, color.Gray16{0x7fff})
	m := MaskFromImage(g16)
	if m.W != 2 || m.H != 1 || !m.Pix[0] || m.Pix[1] {
		t.Errorf("16-bit mask = %+v", m)
	}
	rgb := image.NewRGBA(image.Rect(0, 0, 1, 1))
	rgb.Set(0, 0, color.RGBA{255, 255, 255, 255})
	if p := ProbFromImage(rgb); p.Pix[0] != 1 {
		t.Errorf("white RGB pixel = %v, want 1", p.Pix[0])
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadMask(filepath.Join(dir, "missing.png")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProb(bad); !errors.Is(err, image.ErrFormat) {
		t.Errorf("bad file: %v", err)
	}
}

package clip_test

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

func loadImage(t *testing.T, name string) image.Image {
	t.Helper()
	img, err := imageio.Load(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPreprocessMatchesPIL compares the 8-bit result of pad/resize/crop with PIL's (written
// by clip_ref.py as PNG) and the normalised pixels with numpy's, for a non-square gray image
// (530×350: padded to 530², downscaled; or resized to 508×336 and cropped) and a non-square
// RGB one (260×420: padded to 420², downscaled; or upscaled to 336×542 and cropped).
func TestPreprocessMatchesPIL(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := golden(t, s)
	// One 8-bit level after normalisation, in the channel with the smallest std.
	level := 1 / (255 * clip.Std[1])
	for _, name := range []string{"gray", "rgb"} {
		img := loadImage(t, name+".png")
		for _, pad := range []bool{true, false} {
			tag := name + "_crop"
			if pad {
				tag = name + "_pad"
			}
			c := clip.DefaultPreprocess()
			c.Pad = pad
			got := clip.PreprocessImage8(img, c)
			want := clip.ToImage8(loadImage(t, "pil_"+tag+".png"))
			if got.W != 336 || got.H != 336 || got.C != want.C {
				t.Fatalf("%s: %d×%d×%d, want 336×336×%d", tag, got.W, got.H, got.C, want.C)
			}
			maxDiff, differ := 0, 0
			for i := range got.Pix {
				d := int(got.Pix[i]) - int(want.Pix[i])
				if d != 0 {
					differ++
					maxDiff = max(maxDiff, abs(d))
				}
			}
			t.Logf("%-9s uint8 vs PIL: %d of %d values differ, max |Δ| %d", tag, differ, len(got.Pix), maxDiff)
			if maxDiff > 1 {
				t.Errorf("%s: differs from PIL by %d levels", tag, maxDiff)
			}

			px, err := clip.Preprocess(s, img, c)
			if err != nil {
				t.Fatal(err)
			}
			if sh := px.Shape(); len(sh) != 4 || sh[0] != 1 || sh[1] != 3 || sh[2] != 336 || sh[3] != 336 {
				t.Fatalf("%s: pixels %v", tag, sh)
			}
			rows := px.Squeeze(s, 0).Narrow(s, 1, 0, 4)
			st := torchtest.CompareValues(torchtest.Decode(torch.Float32, rows.Contiguous(s).Bytes()),
				torchtest.Decode(torch.Float32, torchtest.Want(t, g, "pre."+tag+".rows0_3").Bytes()), torchtest.Tol{})
			t.Logf("%-9s normalised rows 0-3 vs numpy: max |Δ| %.3g (one level is %.4g)", tag, st.MaxAbs, level)
			if st.Mismatch != "" || st.MaxAbs > level*1.0001 {
				t.Errorf("%s: normalised pixels differ by %v", tag, st)
			}
			sums := px.ToDType(s, torch.Float64).Sum(s, []int64{0, 2, 3}, false).Float64s()
			wantSums := torchtest.Want(t, g, "pre."+tag+".chsum").Float64s()
			for ch := range sums {
				bound := float64(differ)*level + 1e-6*float64(336*336)
				if d := math.Abs(sums[ch] - wantSums[ch]); d > bound {
					t.Errorf("%s: channel %d sum %.6f, want %.6f", tag, ch, sums[ch], wantSums[ch])
				}
			}
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestPadFill(t *testing.T) {
	c := clip.DefaultPreprocess()
	if got := c.PadFill(3); got[0] != 122 || got[1] != 116 || got[2] != 104 {
		t.Errorf("RGB fill %v, want [122 116 104] (int(255·mean), truncated)", got)
	}
	if got := c.PadFill(1); len(got) != 1 || got[0] != 114 {
		t.Errorf("gray fill %v, want [114] (int(255·Σmean/3))", got)
	}
	// expand2square pastes at (long−short)/2.
	m := clip.Image8{W: 2, H: 5, C: 1, Pix: []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	sq := clip.ExpandToSquare(m, []uint8{114})
	want := []uint8{
		114, 1, 2, 114, 114,
		114, 3, 4, 114, 114,
		114, 5, 6, 114, 114,
		114, 7, 8, 114, 114,
		114, 9, 10, 114, 114,
	}
	if sq.W != 5 || sq.H != 5 {
		t.Fatalf("square %d×%d", sq.W, sq.H)
	}
	for i := range want {
		if sq.Pix[i] != want[i] {
			t.Fatalf("square %v, want %v", sq.Pix, want)
		}
	}
}

func TestToImage8(t *testing.T) {
	g16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	g16.SetGray16(0, 0, color.Gray16{Y: 0xffff})
	g16.SetGray16(1, 0, color.Gray16{Y: 0x8080})
	if m := clip.ToImage8(g16); m.C != 1 || m.Pix[0] != 255 || m.Pix[1] != 128 {
		t.Errorf("gray16: %+v", m)
	}
	n := image.NewNRGBA(image.Rect(3, 4, 5, 5)) // a non-zero origin
	n.SetNRGBA(3, 4, color.NRGBA{R: 10, G: 20, B: 30, A: 0})
	n.SetNRGBA(4, 4, color.NRGBA{R: 200, G: 100, B: 50, A: 128})
	m := clip.ToImage8(n)
	if m.C != 3 || m.W != 2 || m.H != 1 || m.At(0, 0, 0) != 10 || m.At(2, 0, 0) != 30 || m.At(0, 1, 0) != 200 || m.At(1, 1, 0) != 100 {
		t.Errorf("NRGBA (alpha dropped as PIL's convert(\"RGB\")): %+v", m)
	}
	p := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.RGBA{R: 7, G: 8, B: 9, A: 255}})
	if m := clip.ToImage8(p); m.C != 3 || m.Pix[0] != 7 || m.Pix[1] != 8 || m.Pix[2] != 9 {
		t.Errorf("paletted: %+v", m)
	}
}

func TestResizeBicubicEdges(t *testing.T) {
	// Same size: a copy. Upscale and downscale of a constant stay constant (PIL's weights
	// are normalised before rounding to fixed point).
	m := clip.NewImage8(7, 3, 1)
	for i := range m.Pix {
		m.Pix[i] = 77
	}
	c := clip.ResizeBicubic(m, 7, 3)
	c.Pix[0] = 1
	if m.Pix[0] != 77 {
		t.Error("ResizeBicubic to the same size shares the pixels")
	}
	for _, sz := range [][2]int{{20, 9}, {3, 2}, {7, 11}, {2, 3}} {
		r := clip.ResizeBicubic(m, sz[0], sz[1])
		if r.W != sz[0] || r.H != sz[1] {
			t.Fatalf("resize to %v gives %d×%d", sz, r.W, r.H)
		}
		for _, v := range r.Pix {
			if v != 77 {
				t.Errorf("constant 77 resized to %v gives %d", sz, v)
				break
			}
		}
	}
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	if _, err := clip.Preprocess(s, image.NewGray(image.Rect(0, 0, 0, 0)), clip.DefaultPreprocess()); err == nil {
		t.Error("an empty image was accepted")
	}
	if _, err := clip.Preprocess(s, image.NewGray(image.Rect(0, 0, 4, 4)), clip.PreprocessConfig{}); err == nil {
		t.Error("a zero config was accepted")
	}
	b, err := clip.PreprocessBatch(s, []image.Image{loadImage(t, "gray.png"), loadImage(t, "rgb.png")}, clip.DefaultPreprocess())
	if err != nil {
		t.Fatal(err)
	}
	if sh := b.Shape(); sh[0] != 2 || sh[1] != 3 || sh[2] != 336 || sh[3] != 336 {
		t.Errorf("batch %v", sh)
	}
}

// hwc turns an (H, W, C) uint8 golden into an Image8.
func hwc(t *testing.T, x *torch.Tensor) clip.Image8 {
	t.Helper()
	sh := x.Shape()
	h, w, c := int(sh[0]), int(sh[1]), int(sh[2])
	v := torch.Data[uint8](x)
	m := clip.NewImage8(w, h, c)
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			for ch := 0; ch < c; ch++ {
				m.Pix[(ch*h+y)*w+xx] = v[(y*w+xx)*c+ch]
			}
		}
	}
	return m
}

// TestResizeBicubicMatchesPIL resizes a 61×47 noisy RGB image to ten sizes (×1/12 to ×2,
// one axis or both) and compares with PIL's Image.resize(BICUBIC).
func TestResizeBicubicMatchesPIL(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := golden(t, s)
	src := hwc(t, torchtest.Want(t, g, "resize.src"))
	n := 0
	for name, x := range g {
		var w, h int
		if _, err := fmt.Sscanf(name, "resize.%dx%d", &w, &h); err != nil {
			continue
		}
		want := hwc(t, x)
		got := clip.ResizeBicubic(src, w, h)
		differ, maxDiff := 0, 0
		for i := range got.Pix {
			if d := abs(int(got.Pix[i]) - int(want.Pix[i])); d > 0 {
				differ++
				maxDiff = max(maxDiff, d)
			}
		}
		t.Logf("61×47 → %3d×%-3d: %d of %d values differ from PIL, max |Δ| %d", w, h, differ, len(got.Pix), maxDiff)
		if maxDiff > 1 {
			t.Errorf("%d×%d: differs from PIL by %d levels", w, h, maxDiff)
		}
		n++
	}
	if n != 10 {
		t.Errorf("compared %d sizes, want 10", n)
	}
}

package tinyvit_test

import (
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// TestPreprocessBatchEqualsSingle: row i of a batch of images of different sizes and kinds
// is bit for bit Preprocess of image i (whose values TestPreprocessMatchesPyTorch checks).
func TestPreprocessBatchEqualsSingle(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	var imgs []image.Image
	for _, name := range []string{"rgb", "gray"} {
		img, err := imageio.Load(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	g16 := image.NewGray16(image.Rect(0, 0, 70, 50))
	for i := range g16.Pix {
		g16.Pix[i] = uint8(i * 7)
	}
	imgs = append(imgs, g16, imgs[0])
	b, err := tinyvit.PreprocessBatch(s, imgs, 64)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{int64(len(imgs)), 3, 64, 64}; !slices.Equal(b.Shape(), want) {
		t.Fatalf("shape %v, want %v", b.Shape(), want)
	}
	for i, img := range imgs {
		exact(t, "image", b.Narrow(s, 0, int64(i), 1), tinyvit.Preprocess(s, img, 64))
	}
}

// checkerMask is a w×h gray mask whose pixels alternate 0 and 255 in 4-pixel squares, with
// 127 (background) and 128 (foreground) on the diagonal.
func checkerMask(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(0)
			if (x/4+y/4)%2 == 1 {
				v = 255
			}
			if x == y {
				v = 127 + uint8(x%2)
			}
			m.SetGray(x, y, color.Gray{Y: v})
		}
	}
	return m
}

// TestMaskTensor: values (threshold 127, nearest-neighbour resize as F.interpolate's
// "nearest" picks ⌊i·in/out⌋), a sub-image and an RGBA copy give the same tensor, and row i
// of a batch is bit for bit MaskTensor of mask i.
func TestMaskTensor(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	m := checkerMask(12, 12)
	got := tinyvit.MaskTensor(s, m, 6).Float32s()
	for y := 0; y < 6; y++ {
		for x := 0; x < 6; x++ {
			want := float32(0)
			if m.GrayAt(2*x, 2*y).Y > 127 {
				want = 1
			}
			if got[y*6+x] != want {
				t.Fatalf("(%d, %d) = %v, want %v", x, y, got[y*6+x], want)
			}
		}
	}
	rgba := image.NewRGBA(m.Bounds())
	for y := 0; y < 12; y++ {
		for x := 0; x < 12; x++ {
			rgba.Set(x, y, m.At(x, y))
		}
	}
	exact(t, "RGBA", tinyvit.MaskTensor(s, rgba, 6), tinyvit.MaskTensor(s, m, 6))
	big := checkerMask(20, 20)
	sub := big.SubImage(image.Rect(4, 4, 16, 16))
	exact(t, "sub-image", tinyvit.MaskTensor(s, sub, 12), tinyvit.MaskTensor(s, checkerMask(12, 12), 12))

	masks := []image.Image{m, rgba, sub, checkerMask(30, 17)}
	b, err := tinyvit.MaskBatch(s, masks, 8)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{4, 1, 8, 8}; !slices.Equal(b.Shape(), want) {
		t.Fatalf("shape %v, want %v", b.Shape(), want)
	}
	for i, mk := range masks {
		exact(t, "mask", b.Narrow(s, 0, int64(i), 1), tinyvit.MaskTensor(s, mk, 8))
	}
}

// TestBatchErrors: bad batches are errors naming the problem.
func TestBatchErrors(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	ok := image.NewGray(image.Rect(0, 0, 4, 4))
	for _, c := range []struct {
		name string
		imgs []image.Image
		size int64
		want string
	}{
		{"none", nil, 8, "no images"},
		{"nil", []image.Image{ok, nil}, 8, "image 1 is empty"},
		{"empty", []image.Image{image.NewGray(image.Rectangle{})}, 8, "image 0 is empty"},
		{"size", []image.Image{ok}, 0, "size 0 is not positive"},
	} {
		if _, err := tinyvit.PreprocessBatch(s, c.imgs, c.size); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PreprocessBatch %s: err = %v, want %q", c.name, err, c.want)
		}
		want := strings.Replace(c.want, "image", "mask", 1)
		if _, err := tinyvit.MaskBatch(s, c.imgs, c.size); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("MaskBatch %s: err = %v, want %q", c.name, err, want)
		}
	}
}

// TestTinyConfig: Tiny is valid and encodes a 64-pixel batch into (B, NeckDim, 4, 4).
func TestTinyConfig(t *testing.T) {
	c := tinyvit.Tiny()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	e, err := tinyvit.New(st.Root(), c)
	if err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	ev := s.Eval().NoGrad()
	y := e.Forward(ev, torch.Zeros(ev, torch.Float32, 2, 3, c.ImageSize, c.ImageSize))
	if want := []int64{2, c.NeckDim, c.Grid(), c.Grid()}; !slices.Equal(y.Shape(), want) {
		t.Errorf("output %v, want %v", y.Shape(), want)
	}
}

func exact(t *testing.T, name string, got, want *torch.Tensor) {
	t.Helper()
	torchtest.AllCloseTol(t, name, got, want, torchtest.Tol{Exact: true})
}

// TestLoadAt: TinySAM's file loads into an encoder kept under "backbone" beside a head of
// the caller's, which stays as it was, and the encoder then computes what the same file
// loaded by Load into a bare encoder computes, bit for bit.
func TestLoadAt(t *testing.T) {
	file := filepath.Join(dir, "small_sam.pth")
	ref, refEnc := newEncoder(t, small())
	defer ref.Close()
	if err := tinyvit.Load(ref, file); err != nil {
		t.Fatal(err)
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	enc, err := tinyvit.New(st.Root().Sub("backbone"), small())
	if err != nil {
		t.Fatal(err)
	}
	head := nn.NewLinear(st.Root().Sub("head"), 4, 2, nn.LinearConfig{})
	before := head.Weight.Float32s()
	if err := tinyvit.LoadAt(st.Root().Sub("backbone"), file); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(head.Weight.Float32s(), before) {
		t.Error("the head changed")
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	ev := s.Eval().NoGrad()
	x := torch.Randn(ev, nil, torch.Float32, 1, 3, 128, 128)
	exact(t, "encoder under backbone", enc.Forward(ev, x), refEnc.Forward(ev, x))
	if err := tinyvit.LoadAt(st.Root().Sub("elsewhere"), file); err == nil {
		t.Error("a path with no encoder under it loaded")
	}
}

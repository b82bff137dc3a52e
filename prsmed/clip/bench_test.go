package clip_test

import (
	"image"
	"image/color"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/torch"
)

// BenchmarkViTL336Forward times LLaVA's vision path for one 336×336 image on the CPU with 2
// intra-op threads and random weights: the ViT-L/14-336 tower up to hidden_states[-2] (23
// of 24 layers, 577 tokens, ≈ 0.37 TFLOP) and, in the "+projector" case, the mlp2x_gelu
// projector (≈ 0.024 TFLOP). It is not meant to be fast on a CPU; the same work in PyTorch
// is timed by third_party/golden/clip_ref.py ("ViT-L/14-336 (23 layers) + projector
// forward"), which prints its time, and both run the same libtorch kernels.
func BenchmarkViTL336Forward(b *testing.B) {
	torch.SetNumThreads(2)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	tw, err := clip.NewTower(st.Root().Sub(clip.LLaVATowerPath), clip.ViTL14336())
	if err != nil {
		b.Fatal(err)
	}
	pr, err := clip.NewProjector(st.Root().Sub(clip.LLaVAProjectorPath), clip.DefaultProjector())
	if err != nil {
		b.Fatal(err)
	}
	tw.SetTrainable(false)
	pr.SetTrainable(false)
	in := torch.NewScope(torch.CPU).Eval()
	defer in.Close()
	x := torch.Randn(in, nil, torch.Float32, 1, 3, 336, 336)
	for _, withProj := range []bool{false, true} {
		name := "tower"
		if withProj {
			name = "tower+projector"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s := torch.NewScope(torch.CPU).Eval().NoGrad()
				f := tw.Forward(s, x)
				if withProj {
					pr.Forward(s, f)
				}
				s.Close()
			}
		})
	}
}

// BenchmarkPreprocess times pad + PIL-exact bicubic resize + crop + normalise of a 1024×768
// RGB image to (1, 3, 336, 336).
func BenchmarkPreprocess(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	for y := 0; y < 768; y++ {
		for x := 0; x < 1024; x++ {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x), G: uint8(y), B: uint8(x ^ y), A: 255})
		}
	}
	c := clip.DefaultPreprocess()
	for i := 0; i < b.N; i++ {
		s := torch.NewScope(torch.CPU).Eval()
		if _, err := clip.Preprocess(s, img, c); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

package prsmed_test

import (
	"math"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/torch"
)

// TestAutocastStep: one stage-2 training forward and backward of the tiny model under
// bfloat16 autocast (float32 parameters, matmuls and convolutions in bfloat16, losses in
// float32) is finite and within bfloat16's precision of the float32 step: the loss within
// 1% and the gradient norm within 5%. Inside the autocast region the language model's
// logits (a matmul) are bfloat16 and the loss differs from the float32 loss, so the test
// fails if autocast does nothing. (On the CPU this runs libtorch's CPU autocast; the same
// scope setting selects CUDA autocast on a GPU.)
func TestAutocastStep(t *testing.T) {
	m := prsmedtest.TinyModel(t, 31)
	m.SetStage(prsmed.Stage2)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	imgs := testImages(t)
	sam, clipIn, err := m.PreprocessBatch(s, imgs)
	if err != nil {
		t.Fatal(err)
	}
	smp := llava.Sample{Question: "Where is the lesion?", Answer: "The lesion is in the top left of the image."}
	in := prsmed.Inputs{SAM: sam, CLIP: clipIn, Samples: []llava.Sample{smp, smp},
		Masks: torch.Rand(s, nil, torch.Float32, 2, 1, m.Config.MaskSize, m.Config.MaskSize).GtScalar(s, 0.5).ToDType(s, torch.Float32)}
	step := func(c *torch.Scope, matmul torch.DType) (loss, norm float64) {
		for _, p := range m.Store.Trainable() {
			p.ZeroGrad()
		}
		out, err := m.Forward(c, in)
		if err != nil {
			t.Fatal(err)
		}
		if dt := out.LLaVA.Logits.DType(); dt != matmul {
			t.Fatalf("language-model logits are %s, want %s", dt, matmul)
		}
		if dt := out.Loss.Total.DType(); dt != torch.Float32 {
			t.Fatalf("loss dtype %s, want float32", dt)
		}
		out.Loss.Total.Backward()
		var sq float64
		for _, p := range m.Store.Trainable() {
			if g := p.Grad(c); g != nil {
				if g.DType() != p.DType() {
					t.Fatalf("gradient dtype %s for a %s parameter", g.DType(), p.DType())
				}
				n := g.Norm(c, 2, nil, false).Item()
				sq += n * n
			}
		}
		return out.Loss.Total.Item(), math.Sqrt(sq)
	}
	l32, n32 := step(s.Child(), torch.Float32)
	lbf, nbf := step(s.Autocast(torch.BFloat16), torch.BFloat16)
	t.Logf("loss %.6f (f32) vs %.6f (bf16 autocast); gradient norm %.6f vs %.6f", l32, lbf, n32, nbf)
	if math.IsNaN(lbf) || math.IsNaN(nbf) || math.IsInf(lbf, 0) || math.IsInf(nbf, 0) {
		t.Fatal("non-finite autocast step")
	}
	if lbf == l32 || nbf == n32 {
		t.Errorf("the autocast step equals the float32 step (loss %v, gradient norm %v): autocast was not applied", lbf, nbf)
	}
	if math.Abs(lbf-l32) > 0.01*math.Abs(l32) || math.Abs(nbf-n32) > 0.05*n32 {
		t.Errorf("autocast step too far from float32: loss %.6f vs %.6f, gradient norm %.6f vs %.6f", lbf, l32, nbf, n32)
	}
}

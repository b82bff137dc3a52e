package prsmed_test

import (
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// TestForwardPromptsAlone: a training forward that trains no language-model parameter
// (stage 1) runs the language model over the prompts alone, and its masks, mask losses and
// gradients are those of the pass over prompt and answer (here: the same model with lm_head
// made trainable, which takes that pass), within float32 rounding. Its answer loss is nil:
// the answers did not run.
func TestForwardPromptsAlone(t *testing.T) {
	m := prsmedtest.TinyModelWith(t, 3, func(c *prsmed.Config) { c.LoRA.Dropout = 0 })
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	g, err := torch.NewGenerator(5, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// Questions and answers of different lengths, so that the rows are padded differently
	// in the two passes.
	samples := []llava.Sample{
		{Question: "Where is the tumour?", Answer: "The tumour is in the top left of the image."},
		{Question: "Where is the polyp in this endoscopy image?", Answer: "Center."},
		{Question: "Where is the lesion?", Answer: "The lesion is near the bottom right corner of the image, far from the centre."},
	}
	n := int64(len(samples))
	in := prsmed.Inputs{
		SAM:     torch.Rand(s, g, torch.Float32, n, 3, m.Config.ImageSize, m.Config.ImageSize),
		CLIP:    torch.Rand(s, g, torch.Float32, n, 3, m.Config.CLIP.ImageSize, m.Config.CLIP.ImageSize),
		Samples: samples,
		Masks:   torch.Rand(s, g, torch.Float32, n, 1, m.Config.MaskSize, m.Config.MaskSize).GtScalar(s, 0.7).ToDType(s, torch.Float32),
	}
	type result struct {
		out   *prsmed.Output
		grads map[string]*torch.Tensor
	}
	run := func(trainLMHead bool) result {
		m.SetStage(prsmed.Stage1)
		if trainLMHead {
			m.Store.Unfreeze("lm_head.*")
		}
		for _, p := range m.Store.Parameters() {
			p.ZeroGrad()
		}
		out, err := m.Forward(s.Train(nil), in)
		if err != nil {
			t.Fatal(err)
		}
		out.Loss.Total.Backward()
		r := result{out: out, grads: map[string]*torch.Tensor{}}
		for _, name := range m.Store.TrainableNames() {
			if e, _ := m.Store.Get(name); e != nil && e.Tensor.Grad(s) != nil {
				r.grads[name] = e.Tensor.Grad(s).Clone(s)
			}
		}
		return r
	}
	alone, both := run(false), run(true)

	if alone.out.Loss.CE != nil || alone.out.LLaVA.Logits != nil {
		t.Errorf("stage 1 forward: answer loss %v and logits %v, want nil (the prompts alone ran)", alone.out.Loss.CE, alone.out.LLaVA.Logits)
	}
	if both.out.Loss.CE == nil {
		t.Fatal("forward with lm_head trainable gave no answer loss: the comparison would not be against the pass over the answers")
	}
	if a, b := alone.out.LLaVA.Hidden.Size(1), both.out.LLaVA.Hidden.Size(1); a >= b {
		t.Errorf("prompt pass has %d positions, the pass over the answers %d: want fewer", a, b)
	}
	torchtest.AllClose(t, "mask logits", alone.out.MaskLogits, both.out.MaskLogits, 1e-5)
	torchtest.AllClose(t, "bce", alone.out.Loss.BCE, both.out.Loss.BCE, 1e-5)
	torchtest.AllClose(t, "dice", alone.out.Loss.Dice, both.out.Loss.Dice, 1e-5)
	if len(alone.grads) == 0 {
		t.Fatal("no gradients in stage 1")
	}
	for name, ga := range alone.grads {
		gb, ok := both.grads[name]
		if !ok {
			t.Errorf("%s: no gradient in the pass over the answers", name)
			continue
		}
		torchtest.AllCloseScaled(t, "grad "+name, ga, gb, 1e-5, torchtest.MaxAbs(gb))
	}
}

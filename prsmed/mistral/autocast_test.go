package mistral_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// The tiny decoder runs under CPU bf16 autocast (float32 weights): every op accepts the
// mixed dtypes autocast produces, the logits are finite and bfloat16, and they stay within
// bf16 precision of PyTorch's float32 logits; gradients reach the float32 weights in float32.
func TestForwardUnderAutocast(t *testing.T) {
	st, m := load(t, "model.safetensors")
	defer st.Close()
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "golden.safetensors"))
	ac := s.Autocast(torch.BFloat16)
	out := m.Forward(ac, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]})
	if dt := out.Logits.DType(); dt != torch.BFloat16 {
		t.Errorf("logits under autocast are %s, want bfloat16", dt)
	}
	logits := out.Logits.ToDType(s, torch.Float32)
	if logits.IsFinite(s).All(s, nil, false).Item() == 0 {
		t.Fatalf("non-finite logits under autocast")
	}
	st2 := torchtest.CompareTensors(logits, g["logits"], torchtest.Tol{RTol: 5e-2, ATol: 2e-2})
	t.Logf("bf16 autocast logits vs float32 PyTorch: %s", st2)
	if !st2.OK() {
		t.Errorf("bf16 autocast logits differ from float32 beyond bf16 tolerance: %s", st2)
	}
	logits.Mul(s, g["gout_logits"]).SumAll(s).Backward()
	e, _ := st.Get("model.layers.0.self_attn.q_proj.weight")
	gr := e.Tensor.Grad(s)
	if gr == nil || gr.DType() != torch.Float32 {
		t.Fatalf("q_proj gradient %v", gr)
	}
	if v := gr.Abs(s).MaxAll(s).Item(); math.IsNaN(v) || v == 0 {
		t.Errorf("q_proj gradient max %v", v)
	}
}

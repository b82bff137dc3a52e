package mistral_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// Gradient checkpointing gives the gradients of a plain forward and backward.
func TestForwardBackwardMatchesPlainBackward(t *testing.T) {
	st, m := load(t, "model.safetensors")
	defer st.Close()
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "golden.safetensors"))
	emb := m.Embed.Forward(s.NoGrad(), g["ids"]).Clone(s).SetRequiresGrad(true)
	loss := func(s *torch.Scope, out mistral.Output) *torch.Tensor {
		return out.Logits.Mul(s, g["gout_logits"]).SumAll(s).Add(s, out.Hidden.Mul(s, g["gout_hidden"]).SumAll(s))
	}
	in := mistral.Input{Embeds: emb, AttentionMask: g["mask"]}

	plain := loss(s, m.Forward(s, in))
	plain.Backward()
	want := map[string]*torch.Tensor{"embeds": emb.Grad(s).Clone(s)}
	for _, e := range st.Entries() {
		if gr := e.Tensor.Grad(s); gr != nil {
			want[e.Name] = gr.Clone(s)
		}
		e.Tensor.ZeroGrad()
	}
	emb.ZeroGrad()

	v, err := m.ForwardBackward(s, in, loss)
	if err != nil {
		t.Fatal(err)
	}
	torchtest.AllClose(t, "loss", v.ToDType(s, torch.Float64), plain.ToDType(s, torch.Float64), 1e-6)
	torchtest.AllClose(t, "embeds grad", emb.Grad(s), want["embeds"], 1e-5)
	n := 0
	for _, e := range st.Entries() {
		w, ok := want[e.Name]
		if !ok {
			continue
		}
		got := e.Tensor.Grad(s)
		if got == nil {
			t.Fatalf("%s has no gradient with checkpointing", e.Name)
		}
		torchtest.AllClose(t, e.Name, got, w, 1e-5)
		if strings.Contains(e.Name, "layers.0.") {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no layer-0 gradient was compared")
	}
}

package mistral_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// Gradient checkpointing gives the gradients of a plain forward and backward.
func TestForwardBackwardMatchesPlainBackward(t *testing.T) {
	st, m, s, g := goldenModel(t)
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

// With LoRA dropout drawing masks in training mode, gradient checkpointing still gives the
// gradients of a plain forward and backward (the recomputation replays the generator state
// of each layer's first run, as torch.utils.checkpoint does), with the scope's generator and
// with libtorch's default one, and leaves the generator where the plain pass leaves it. The
// tolerance is the dropout-free test's: the same ops run in the same order.
func TestForwardBackwardReplaysDropout(t *testing.T) {
	for _, own := range []bool{true, false} {
		name := map[bool]string{true: "scope generator", false: "default generator"}[own]
		t.Run(name, func(t *testing.T) {
			st, m := load(t, "model.safetensors")
			defer st.Close()
			cfg := loraadapter.DefaultConfig()
			cfg.Dropout = 0.3
			ads, err := loraadapter.Inject(st, m.LinearSlots(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := torch.NewScope(torch.CPU)
			defer s.Close()
			for _, a := range ads {
				a.B.NormalFill(0, 0.5, nil) // a fresh B is zero: dropout would change no output
			}
			g := torchtest.Golden(t, s, filepath.Join(dir, "golden.safetensors"))
			emb := m.Embed.Forward(s.NoGrad(), g["ids"]).Clone(s).SetRequiresGrad(true)
			in := mistral.Input{Embeds: emb, AttentionMask: g["mask"]}
			loss := func(s *torch.Scope, out mistral.Output) *torch.Tensor {
				return out.Logits.Mul(s, g["gout_logits"]).SumAll(s).Add(s, out.Hidden.Mul(s, g["gout_hidden"]).SumAll(s))
			}
			// train opens a training scope whose dropout draws start from seed 11, and
			// returns a function that draws the generator's next number.
			train := func() (*torch.Scope, func() float64) {
				if !own {
					if err := torch.ManualSeed(11); err != nil {
						t.Fatal(err)
					}
					return s.Train(nil), func() float64 { return torch.Rand(s, nil, torch.Float64, 1).Float64s()[0] }
				}
				gen, err := torch.NewGenerator(11, torch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(gen.Close)
				return s.Train(gen), func() float64 { return torch.Rand(s, gen, torch.Float64, 1).Float64s()[0] }
			}
			grads := func() map[string]*torch.Tensor {
				out := map[string]*torch.Tensor{"embeds": emb.Grad(s).Clone(s)}
				emb.ZeroGrad()
				for _, e := range st.Entries() {
					if gr := e.Tensor.Grad(s); gr != nil {
						out[e.Name] = gr.Clone(s)
					}
					e.Tensor.ZeroGrad()
				}
				return out
			}

			tr, next := train()
			plain := loss(tr, m.Forward(tr, in))
			plain.Backward()
			want, wantNext := grads(), next()

			tr, next = train()
			before := m.Recomputed()
			v, err := m.ForwardBackward(tr, in, loss)
			if err != nil {
				t.Fatal(err)
			}
			if n := m.Recomputed() - before; n != int64(len(m.Layers)) {
				t.Fatalf("%d layers recomputed, want %d", n, len(m.Layers))
			}
			if got := next(); got != wantNext {
				t.Errorf("the generator's next draw is %v after ForwardBackward, %v after a plain pass", got, wantNext)
			}
			got := grads()
			torchtest.AllClose(t, "loss", v.ToDType(s, torch.Float64), plain.ToDType(s, torch.Float64), 1e-6)
			n := 0
			for k, w := range want {
				gk, ok := got[k]
				if !ok {
					t.Fatalf("%s has no gradient with checkpointing", k)
				}
				torchtest.AllClose(t, k, gk, w, 1e-5)
				if strings.Contains(k, "layers.0.") && strings.Contains(k, "lora_B") {
					n++
				}
			}
			if n == 0 {
				t.Fatal("no layer-0 LoRA gradient was compared")
			}
		})
	}
}

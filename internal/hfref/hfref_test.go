package hfref_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// rtol is the project's float32 tolerance (torchtest.AllClose: 1e-5 relative, with an
// absolute floor of 1e-6 × the largest magnitude of the expected tensor).
const rtol = 1e-5

// refs is the directory of make_refs.py's output; the test is skipped without it.
func refs(t *testing.T, sub string) string {
	t.Helper()
	root := os.Getenv("PRSMED_HF_REFS")
	if root == "" {
		t.Skip("PRSMED_HF_REFS is not set: run third_party/golden/hf/ci.sh (or make_refs.py OUT and PRSMED_HF_REFS=OUT)")
	}
	d := filepath.Join(root, sub)
	if _, err := os.Stat(filepath.Join(d, "refs.safetensors")); err != nil {
		t.Fatalf("PRSMED_HF_REFS=%s: %v", root, err)
	}
	return d
}

// noLeak fails the test when it leaves tensors alive.
func noLeak(t *testing.T) {
	t.Helper()
	before := torch.LiveTensors()
	t.Cleanup(func() {
		if after := torch.LiveTensors(); after != before {
			t.Errorf("live tensors: %d before the test, %d after", before, after)
		}
	})
}

// loadMistral reads dir's config.json and model.safetensors with the project's loaders.
func loadMistral(t *testing.T, dir string) (*nn.Store, *mistral.Model) {
	t.Helper()
	cfg, err := mistral.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	st := nn.NewStore(torch.CPU)
	m, err := mistral.New(st.Root(), cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	if err := m.Load(filepath.Join(dir, "model.safetensors")); err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, m
}

// backward runs sum(logits·gout_logits) + sum(hidden·gout_hidden) backward, as
// make_refs.py's forward_refs.
func backward(s *torch.Scope, g map[string]*torch.Tensor, out mistral.Output) {
	out.Logits.Mul(s, g["gout_logits"]).SumAll(s).Add(s, out.Hidden.Mul(s, g["gout_hidden"]).SumAll(s)).Backward()
}

// checkGrads compares every reference gradient "grad.<hf name>" with the gradient of the
// store entry rename(<hf name>); it fails when the reference holds none.
func checkGrads(t *testing.T, s *torch.Scope, st *nn.Store, g map[string]*torch.Tensor, rename func(string) string) {
	t.Helper()
	n := 0
	names := make([]string, 0, len(g))
	for k := range g {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		hf, ok := strings.CutPrefix(k, "grad.")
		if !ok {
			continue
		}
		e, ok := st.Get(rename(hf))
		if !ok {
			t.Errorf("%s: no parameter %s here", k, rename(hf))
			continue
		}
		got := e.Tensor.Grad(s)
		if got == nil {
			t.Errorf("%s: no gradient here", k)
			continue
		}
		torchtest.AllClose(t, k, got, g[k], rtol)
		n++
	}
	if n == 0 {
		t.Fatal("the reference holds no gradients")
	}
}

// greedyRows is the reference greedy tokens without the EOS and what follows (make_refs.py
// pads with -1 after an EOS).
func greedyRows(g *torch.Tensor, eos int64) [][]int64 {
	v := g.Int64s()
	n := g.Size(1)
	var out [][]int64
	for r := int64(0); r < g.Size(0); r++ {
		row := []int64{}
		for _, id := range v[r*n : (r+1)*n] {
			if id == eos || id < 0 {
				break
			}
			row = append(row, id)
		}
		out = append(out, row)
	}
	return out
}

// checkGreedy generates from each prompt alone (as make_refs.py's greedy) and compares the
// tokens with transformers' generate.
func checkGreedy(t *testing.T, s *torch.Scope, m *mistral.Model, prompts []*torch.Tensor, want *torch.Tensor) {
	t.Helper()
	rows := greedyRows(want, m.Config.EOSTokenID)
	for i, p := range prompts {
		got, err := m.Generate(context.Background(), s, mistral.Prompt{IDs: p}, mistral.GenerateOptions{MaxNewTokens: int(want.Size(1))})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0], rows[i]) {
			t.Errorf("greedy row %d: %v, transformers %v", i, got[0], rows[i])
		} else {
			t.Logf("greedy row %d: %v (equal)", i, got[0])
		}
	}
}

// The decoder loaded from a transformers MistralForCausalLM checkpoint computes what
// transformers computed: logits, final hidden states and every parameter's gradient on a
// right-padded batch, and greedy generation. mistral_v4's config.json is in transformers
// 4.x's layout (top-level rope_theta 500, no head_dim), mistral_v5's in 5.x's
// (rope_parameters with rope_theta 1234, head_dim 12 where hidden/heads is 8); a RoPE θ or
// head width not read from the file moves the logits far beyond the tolerance.
func TestMistralMatchesTransformers(t *testing.T) {
	for _, c := range []struct {
		dir      string
		theta    float64
		headDim  int64
		defaults []string // keys the file must leave to the defaults
	}{
		{"mistral_v4", 500, 8, []string{"head_dim"}},
		{"mistral_v5", 1234, 12, nil},
	} {
		t.Run(c.dir, func(t *testing.T) {
			noLeak(t)
			dir := refs(t, c.dir)
			st, m := loadMistral(t, dir)
			defer st.Close()
			if m.Config.RopeTheta != c.theta || m.Config.HeadDim() != c.headDim {
				t.Errorf("config: θ %g head dim %d, want %g and %d", m.Config.RopeTheta, m.Config.HeadDim(), c.theta, c.headDim)
			}
			for _, k := range c.defaults {
				if !slices.Contains(m.Config.Defaulted, k) {
					t.Errorf("%s was read from the file, want it defaulted (Defaulted %v)", k, m.Config.Defaulted)
				}
			}
			s := torch.NewScope(torch.CPU)
			defer s.Close()
			g := torchtest.Golden(t, s, filepath.Join(dir, "refs.safetensors"))
			out := m.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]})
			torchtest.AllClose(t, "logits", out.Logits, g["logits"], rtol)
			torchtest.AllClose(t, "hidden", out.Hidden, g["hidden"], rtol)
			backward(s, g, out)
			checkGrads(t, s, st, g, func(n string) string { return n })

			ids := g["ids"]
			checkGreedy(t, s, m, []*torch.Tensor{ids.Narrow(s, 0, 0, 1), ids.Narrow(s, 0, 1, 1).Narrow(s, 1, 0, 5)}, g["greedy"])
		})
	}
}

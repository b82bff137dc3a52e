package mistral_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

const dir = "../../testdata/mistral"

func load(t *testing.T, weights string) (*nn.Store, *mistral.Model) {
	t.Helper()
	cfg, err := mistral.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	st := nn.NewStore(torch.CPU)
	m, err := mistral.New(st.Root(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(filepath.Join(dir, weights), nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return st, m
}

// goldenModel loads the tiny model and opens an eval-mode scope holding golden.safetensors;
// the store and the scope are closed when the test ends.
func goldenModel(t *testing.T) (*nn.Store, *mistral.Model, *torch.Scope, map[string]*torch.Tensor) {
	t.Helper()
	st, m := load(t, "model.safetensors")
	t.Cleanup(st.Close)
	s := torch.NewScope(torch.CPU).Eval()
	t.Cleanup(s.Close)
	return st, m, s, torchtest.Golden(t, s, filepath.Join(dir, "golden.safetensors"))
}

func TestForwardMatchesPyTorch(t *testing.T) {
	st, m, s, g := goldenModel(t)

	out := m.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]})
	torchtest.AllClose(t, "logits", out.Logits, g["logits"], 1e-5)
	torchtest.AllClose(t, "hidden", out.Hidden, g["hidden"], 1e-5)
	out.Logits.Mul(s, g["gout_logits"]).SumAll(s).Add(s, out.Hidden.Mul(s, g["gout_hidden"]).SumAll(s)).Backward()
	for name, want := range g {
		if !strings.HasPrefix(name, "grad.") {
			continue
		}
		e, ok := st.Get(strings.TrimPrefix(name, "grad."))
		if !ok {
			t.Fatalf("no parameter %s", name)
		}
		torchtest.AllClose(t, name, e.Tensor.Grad(s), want, 1e-5)
	}

	// Row 1 of the padded batch equals row 1 run alone on its 4 real tokens.
	ns := s.NoGrad()
	alone := m.Forward(ns, mistral.Input{IDs: g["ids"].Narrow(ns, 0, 1, 1).Narrow(ns, 1, 0, 4)})
	torchtest.AllClose(t, "row 1 alone (PyTorch)", alone.Logits, g["logits_row1_alone"], 1e-5)
	torchtest.AllClose(t, "row 1 in the batch", out.Logits.Narrow(ns, 0, 1, 1).Narrow(ns, 1, 0, 4), alone.Logits, 1e-5)

	emb := m.Forward(ns, mistral.Input{Embeds: g["embeds"]})
	torchtest.AllClose(t, "embeds logits", emb.Logits, g["embeds.logits"], 1e-5)
	torchtest.AllClose(t, "embeds hidden", emb.Hidden, g["embeds.hidden"], 1e-5)
}

func TestShardedCheckpointsLoad(t *testing.T) {
	ref, m0 := load(t, "model.safetensors")
	defer ref.Close()
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "golden.safetensors"))
	want := m0.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]}).Logits
	for _, idx := range []string{"model.safetensors.index.json", "bin/pytorch_model.bin.index.json"} {
		t.Run(idx, func(t *testing.T) {
			st, m := load(t, idx)
			defer st.Close()
			got := m.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]}).Logits
			tol := 1e-5
			if strings.HasPrefix(idx, "bin/") {
				tol = 5e-2 // the .bin shards hold bf16 weights
			}
			torchtest.AllClose(t, "logits", got, want, tol)
		})
	}
}

func TestGenerateMatchesRecompute(t *testing.T) {
	_, m, s, g := goldenModel(t)
	var streamed []int64
	out, err := m.Generate(context.Background(), s, mistral.Prompt{IDs: g["greedy.prompt"]}, mistral.GenerateOptions{
		MaxNewTokens: 8, EOS: -1,
		OnToken: func(row int, id int64) bool { streamed = append(streamed, id); return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := g["greedy.tokens"].Int64s()
	if len(out[0]) != len(want) {
		t.Fatalf("generated %v, want %v", out[0], want)
	}
	for i := range want {
		if out[0][i] != want[i] || streamed[i] != want[i] {
			t.Fatalf("generated %v (streamed %v), want %v (PyTorch, recomputing every step)", out[0], streamed, want)
		}
	}

	// A right-padded batch generates for each row what that row generates alone.
	ids, mask := g["ids"], g["mask"]
	batch, err := m.Generate(context.Background(), s, mistral.Prompt{IDs: ids, AttentionMask: mask}, mistral.GenerateOptions{MaxNewTokens: 5, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	for r, n := range []int64{7, 4} {
		alone, err := m.Generate(context.Background(), s, mistral.Prompt{IDs: ids.Narrow(s, 0, int64(r), 1).Narrow(s, 1, 0, n)}, mistral.GenerateOptions{MaxNewTokens: 5, EOS: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(alone[0]) != len(batch[r]) {
			t.Fatalf("row %d: batch %v, alone %v", r, batch[r], alone[0])
		}
		for i := range alone[0] {
			if alone[0][i] != batch[r][i] {
				t.Fatalf("row %d: batch %v, alone %v", r, batch[r], alone[0])
			}
		}
	}

	// Sampling is reproducible with a seeded generator, and cancellation stops it.
	sample := func() []int64 {
		gen, err := torch.NewGenerator(9, torch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer gen.Close()
		o, err := m.Generate(context.Background(), s, mistral.Prompt{IDs: g["greedy.prompt"]}, mistral.GenerateOptions{MaxNewTokens: 6, Temperature: 0.8, TopP: 0.9, Generator: gen, EOS: -1})
		if err != nil {
			t.Fatal(err)
		}
		return o[0]
	}
	a, b := sample(), sample()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seeded sampling differs: %v vs %v", a, b)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Generate(ctx, s, mistral.Prompt{IDs: g["greedy.prompt"]}, mistral.GenerateOptions{MaxNewTokens: 4}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled generate returned %v", err)
	}
}

func TestTopPKeepsNucleus(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	// probabilities 0.5, 0.3, 0.15, 0.05: top-p 0.7 keeps the first two (0.8 ≥ 0.7).
	p := torch.FromSlice(s, []float32{0.5, 0.3, 0.15, 0.05}, 1, 4).Log(s)
	got := mistral.TopP(s, p, 0.7).IsFinite(s).Int64s()
	want := []int64{1, 1, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("kept %v, want %v", got, want)
		}
	}
}

func TestBadCheckpointsNameTheProblem(t *testing.T) {
	tmp := t.TempDir()
	cfg, err := mistral.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	newModel := func(c mistral.Config) *nn.Store {
		st := nn.NewStore(torch.CPU)
		if _, err := mistral.New(st.Root(), c); err != nil {
			t.Fatal(err)
		}
		return st
	}
	copyFile := func(name string, cut int) {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if cut > 0 {
			raw = raw[:cut]
		}
		if err := os.WriteFile(filepath.Join(tmp, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A truncated shard.
	copyFile("model.safetensors.index.json", 0)
	copyFile("model-00001-of-00002.safetensors", 0)
	copyFile("model-00002-of-00002.safetensors", 5000)
	st := newModel(cfg)
	defer st.Close()
	_, err = st.Load(filepath.Join(tmp, "model.safetensors.index.json"), nn.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
		t.Fatalf("truncated shard: %v", err)
	}
	// A shard named in the index is missing.
	os.Remove(filepath.Join(tmp, "model-00002-of-00002.safetensors"))
	_, err = st.Load(filepath.Join(tmp, "model.safetensors.index.json"), nn.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
		t.Fatalf("missing shard: %v", err)
	}
	// A config that contradicts the weights: the error names the keys.
	bad := cfg
	bad.IntermediateSize = 96
	st2 := newModel(bad)
	defer st2.Close()
	_, err = st2.Load(filepath.Join(dir, "model.safetensors"), nn.LoadOptions{})
	if !errors.Is(err, nn.ErrLoad) || !strings.Contains(err.Error(), "model.layers.0.mlp.gate_proj.weight") {
		t.Fatalf("wrong config: %v", err)
	}
	// Configs that cannot work are refused up front.
	for _, c := range []func(*mistral.Config){
		func(c *mistral.Config) { c.NumKeyValueHeads = 3 },
		func(c *mistral.Config) { c.HiddenAct = "gelu" },
	} {
		b := cfg
		c(&b)
		if b.Validate() == nil {
			t.Errorf("Validate accepted %+v", b)
		}
	}
}

package hfref_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/clip"
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

// tally compares tensors under the tolerance and, when the test ends, logs the comparison
// that came nearest to its bound (the share of the bound its worst element used).
type tally struct {
	t     *testing.T
	what  string
	worst float64
	name  string
	abs   float64 // max |got − want| / max |want| of that comparison
}

func newTally(t *testing.T, what string) *tally {
	tl := &tally{t: t, what: what}
	t.Cleanup(func() {
		if tl.name != "" {
			t.Logf("worst of the %s: %s, %.2f of the tolerance (max |got − want| = %.2g × max |want|)", tl.what, tl.name, tl.worst, tl.abs)
		}
	})
	return tl
}

// close is torchtest.AllCloseScaled (rtol, with the absolute floor rtol/10 × max(scale,
// max|want|); scale 0 is torchtest.AllClose).
func (tl *tally) close(name string, got, want *torch.Tensor, scale float64) {
	tl.t.Helper()
	if st := torchtest.AllCloseScaled(tl.t, name, got, want, rtol, scale); !st.OK() || got == nil {
		return
	}
	gv, wv := torchtest.Decode(got.DType(), got.Bytes()), torchtest.Decode(want.DType(), want.Bytes())
	maxw, maxd := 0.0, 0.0
	for _, w := range wv {
		maxw = math.Max(maxw, math.Abs(w))
	}
	floor := rtol / 10 * math.Max(maxw, scale)
	used := 0.0
	for i := range gv {
		d := math.Abs(gv[i] - wv[i])
		maxd = math.Max(maxd, d)
		used = math.Max(used, d/(rtol*math.Abs(wv[i])+floor))
	}
	if used >= tl.worst {
		tl.worst, tl.name, tl.abs = used, name, maxd/maxw
	}
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
//
// As in the project's other gradient tests (prsmed/clip), the absolute floor of the
// tolerance is 1e-6 × the largest gradient of the whole backward pass, not of each tensor:
// an attention key bias's true gradient is zero (softmax cancels it), so its values are
// rounding noise of the size of the pass's magnitudes, and a gradient element that is a
// small sum of large terms carries the rounding of those terms. Measured with float64
// (make_refs.py's f64.* references for the LoRA adapter): where Go's float32 and
// transformers' float32 gradients differ by more than 1e-5 of the element, transformers'
// is the one further from the float64 value (TestPEFTAdapterMatchesPEFT checks Go's
// against float64 without that floor).
func checkGrads(t *testing.T, s *torch.Scope, st *nn.Store, g map[string]*torch.Tensor, rename func(string) string) {
	t.Helper()
	n := 0
	names := make([]string, 0, len(g))
	var all []*torch.Tensor
	for k := range g {
		names = append(names, k)
		if strings.HasPrefix(k, "grad.") {
			all = append(all, g[k])
		}
	}
	slices.Sort(names)
	scale := torchtest.MaxAbs(all...)
	tl := newTally(t, "gradients")
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
		tl.close(k, got, g[k], scale)
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
			torchtest.NoLeak(t)
			tl := newTally(t, "outputs")
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
			s := torch.NewScope(torch.CPU).Eval()
			defer s.Close()
			g := torchtest.Golden(t, s, filepath.Join(dir, "refs.safetensors"))
			out := m.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]})
			tl.close("logits", out.Logits, g["logits"], 0)
			tl.close("hidden", out.Hidden, g["hidden"], 0)
			backward(s, g, out)
			checkGrads(t, s, st, g, func(n string) string { return n })

			ids := g["ids"]
			checkGreedy(t, s, m, []*torch.Tensor{ids.Narrow(s, 0, 0, 1), ids.Narrow(s, 0, 1, 1).Narrow(s, 1, 0, 5)}, g["greedy"])
		})
	}
}

// A transformers CLIPVisionModel (transformers 5 saves it with bare names) loads into the
// tower, whose every hidden state and whose gradients of sum(hidden_states[-2]·gout)
// equal transformers'.
func TestCLIPVisionMatchesTransformers(t *testing.T) {
	torchtest.NoLeak(t)
	tl := newTally(t, "hidden states")
	dir := refs(t, "clip")
	vc, err := clip.LoadVisionConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	tower, err := clip.NewTower(st.Root(), vc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tower.Load(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "refs.safetensors"))
	n := int(vc.NumHiddenLayers)
	ns := s.NoGrad()
	for i := 0; i <= n; i++ {
		name := fmt.Sprintf("hidden_states.%d", i)
		tl.close(name, tower.HiddenState(ns, g["pixels"], i), g[name], 0)
	}
	h := tower.HiddenState(s, g["pixels"], -2)
	h.Mul(s, g["gout"]).SumAll(s).Backward()
	checkGrads(t, s, st, g, func(n string) string { return n })
}

// llavaNames maps transformers 5's LlavaForConditionalGeneration parameter names onto the
// store names of a model built as PRS-Med builds it (LLaVA-Med's layout).
func llavaNames(n string) string {
	if rest, ok := strings.CutPrefix(n, "model.language_model."); ok {
		return "model." + rest
	}
	if rest, ok := strings.CutPrefix(n, "model.vision_tower."); ok {
		return clip.LLaVATowerPath + "." + rest
	}
	if rest, ok := strings.CutPrefix(n, "model.multi_modal_projector.linear_1."); ok {
		return "model.mm_projector.0." + rest
	}
	if rest, ok := strings.CutPrefix(n, "model.multi_modal_projector.linear_2."); ok {
		return "model.mm_projector.2." + rest
	}
	return n
}

// A transformers LlavaForConditionalGeneration checkpoint (Mistral text model with
// rope_parameters and head_dim, CLIP vision tower, vision_feature_layer -2, strategy
// "default", as save_pretrained writes it: language_model.model.*, vision_tower.*,
// multi_modal_projector.linear_{1,2}.*) loads with the project's loaders into a model laid
// out as LLaVA-Med, and its image features, logits, hidden states, gradients and greedy
// answer equal transformers'. The image goes where transformers expands its image tokens.
func TestLlavaMatchesTransformers(t *testing.T) {
	torchtest.NoLeak(t)
	tl := newTally(t, "outputs")
	dir := refs(t, "llava")
	cfgPath := filepath.Join(dir, "config.json")
	lc, err := mistral.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := clip.LoadVisionConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ll, err := clip.LoadLLaVAConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ll.Apply(&vc)
	pc := ll.Projector()
	if pc.Type != "mlp2x_gelu" || pc.InDim != vc.HiddenSize || pc.OutDim != lc.HiddenSize || vc.SelectLayer != -2 || vc.SelectFeature != clip.FeaturePatch {
		t.Errorf("LLaVA settings read: projector %+v, select layer %d feature %q", pc, vc.SelectLayer, vc.SelectFeature)
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	root := st.Root()
	tower, err := clip.NewTower(root.Sub(clip.LLaVATowerPath), vc)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := clip.NewProjector(root.Sub("model.mm_projector"), pc)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := mistral.New(root, lc)
	if err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(dir, "model.safetensors")
	if err := clip.LoadVision(weights, tower, proj); err != nil {
		t.Fatal(err)
	}
	if err := lm.Load(weights); err != nil {
		t.Fatal(err)
	}

	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "refs.safetensors"))
	img := proj.Forward(s, tower.Forward(s, g["pixels"]))
	tl.close("image_features", img, g["image_features"], 0)
	embeds := torch.Cat(s, 0, lm.Embed.Forward(s, g["pre_ids"]), img.Select(s, 0, 0), lm.Embed.Forward(s, g["post_ids"])).Unsqueeze(s, 0)
	out := lm.Forward(s, mistral.Input{Embeds: embeds})
	tl.close("logits", out.Logits, g["logits"], 0)
	tl.close("hidden", out.Hidden, g["hidden"], 0)
	backward(s, g, out)
	checkGrads(t, s, st, g, llavaNames)

	want := greedyRows(g["greedy"], lc.EOSTokenID)
	got, err := lm.Generate(context.Background(), s, mistral.Prompt{Embeds: embeds.Detach(s)}, mistral.GenerateOptions{MaxNewTokens: int(g["greedy"].Size(1))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], want[0]) {
		t.Errorf("greedy: %v, transformers %v", got[0], want[0])
	} else {
		t.Logf("greedy: %v (equal)", got[0])
	}
}

// loraAdapters loads mistral_v5 and the PEFT adapter that PeftModel.save_pretrained wrote
// for it.
func loraAdapters(t *testing.T) (*nn.Store, *mistral.Model, *loraadapter.Report, string) {
	t.Helper()
	dir := refs(t, "lora")
	st, m := loadMistral(t, refs(t, "mistral_v5"))
	rep, err := loraadapter.LoadWithReport(dir, st, m.LinearSlots())
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, m, rep, dir
}

// A PEFT LoRA adapter (r 4, alpha 12, dropout 0.1, on q_proj, v_proj and the MLP's
// down_proj, non-zero B) saved by PeftModel.save_pretrained loads with loraadapter, and the
// decoder with it computes PEFT's logits, hidden states, LoRA gradients (eval mode: no
// dropout) and greedy answers; without it, the base logits.
func TestPEFTAdapterMatchesPEFT(t *testing.T) {
	torchtest.NoLeak(t)
	tl := newTally(t, "outputs")
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(refs(t, "lora"), "refs.safetensors"))
	{
		st, m := loadMistral(t, refs(t, "mistral_v5"))
		base := m.Forward(s.NoGrad(), mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]})
		tl.close("base_logits", base.Logits, g["base_logits"], 0)
		st.Close()
	}
	st, m, rep, _ := loraAdapters(t)
	defer st.Close()
	c := rep.Config
	if c.R != 4 || c.Alpha != 12 || c.Dropout != 0.1 || len(rep.Adapters) != 6 || len(rep.Skipped) != 0 {
		t.Errorf("adapter: r %d alpha %g dropout %g, %d adapters, skipped %v", c.R, c.Alpha, c.Dropout, len(rep.Adapters), rep.Skipped)
	}
	out := m.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]})
	tl.close("logits", out.Logits, g["logits"], 0)
	tl.close("hidden", out.Hidden, g["hidden"], 0)
	backward(s, g, out)
	checkGrads(t, s, st, g, func(n string) string { return n })
	// Against PEFT in float64 (cast to float32), without the pass-wide floor.
	t64 := newTally(t, "gradients against float64")
	for k, want := range g {
		if name, ok := strings.CutPrefix(k, "f64.grad."); ok {
			e, _ := st.Get(name)
			t64.close(k, e.Tensor.Grad(s), want.ToDType(s, torch.Float32), 0)
		}
	}
	ids := g["ids"]
	checkGreedy(t, s, m, []*torch.Tensor{ids.Narrow(s, 0, 0, 1), ids.Narrow(s, 0, 1, 1).Narrow(s, 1, 0, 5)}, g["greedy"])
}

// The reverse direction: an adapter written by loraadapter.Save (new weights, drawn here)
// is what PeftModel.from_pretrained reads. The test writes the adapter and this decoder's
// logits with it to PRSMED_HF_GO_OUT (a temporary directory when unset), and checks that
// loraadapter itself reads the adapter back to the same logits; peft_reverse.py then loads
// the adapter into transformers + PEFT and compares the logits.
func TestSavedAdapterForPEFT(t *testing.T) {
	torchtest.NoLeak(t)
	st, m, rep, _ := loraAdapters(t)
	defer st.Close()
	out := os.Getenv("PRSMED_HF_GO_OUT")
	if out == "" {
		out = t.TempDir()
		t.Log("PRSMED_HF_GO_OUT is not set: the adapter goes to a temporary directory and PEFT does not read it")
	}
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	gen, err := torch.NewGenerator(7, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	for _, a := range rep.Adapters {
		a.A.CopyFrom(torch.Randn(s, gen, torch.Float32, a.A.Shape()...).MulScalar(s, 0.4))
		a.B.CopyFrom(torch.Randn(s, gen, torch.Float32, a.B.Shape()...).MulScalar(s, 0.4))
	}
	adir := filepath.Join(out, "go_adapter")
	if err := loraadapter.Save(adir, rep.Adapters, rep.Config, "mistral_v5"); err != nil {
		t.Fatal(err)
	}
	g := torchtest.Golden(t, s, filepath.Join(refs(t, "lora"), "refs.safetensors"))
	logits := m.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]}).Logits
	if st := torchtest.CompareTensors(logits, g["logits"], torchtest.DefaultTol(torch.Float32)); st.OK() {
		t.Fatal("the new adapter weights did not change the logits")
	}
	if err := torch.SaveSafetensors(filepath.Join(out, "go_logits.safetensors"),
		map[string]*torch.Tensor{"logits": logits, "ids": g["ids"], "mask": g["mask"]}, nil); err != nil {
		t.Fatal(err)
	}

	// loraadapter reads its own file back to the same logits.
	st2, m2 := loadMistral(t, refs(t, "mistral_v5"))
	defer st2.Close()
	if _, _, err := loraadapter.Load(adir, st2, m2.LinearSlots()); err != nil {
		t.Fatal(err)
	}
	again := m2.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]}).Logits
	torchtest.AllCloseTol(t, "reloaded logits", again, logits, torchtest.Tol{Exact: true})
}

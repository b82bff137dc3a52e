package clip_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/nn/nntest"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

const dir = "../../testdata/clip"

const llavaPrefix = clip.LLaVATowerPath + "."

// tinyProjector is the projector of third_party/golden/clip_ref.py's tiny model.
func tinyProjector() clip.ProjectorConfig {
	return clip.ProjectorConfig{Type: "mlp2x_gelu", InDim: 32, OutDim: 48}
}

// build makes a store with a tower at towerPath ("" for the root) and (unless projPath is
// "-") a projector at projPath.
func build(t testing.TB, c clip.VisionConfig, pc clip.ProjectorConfig, towerPath, projPath string) (*nn.Store, *clip.Tower, *clip.Projector) {
	t.Helper()
	st := nn.NewStore(torch.CPU)
	tw, err := clip.NewTower(st.Root().Sub(towerPath), c)
	if err != nil {
		t.Fatal(err)
	}
	var pr *clip.Projector
	if projPath != "-" {
		if pr, err = clip.NewProjector(st.Root().Sub(projPath), pc); err != nil {
			t.Fatal(err)
		}
	}
	return st, tw, pr
}

func golden(t testing.TB, s *torch.Scope) map[string]*torch.Tensor {
	t.Helper()
	return torchtest.Golden(t, s, filepath.Join(dir, "clip.safetensors"))
}

func TestTinyMatchesPyTorch(t *testing.T) {
	st, tw, pr := build(t, clip.Tiny(), tinyProjector(), clip.LLaVATowerPath, clip.LLaVAProjectorPath)
	defer st.Close()
	if err := clip.LoadVision(filepath.Join(dir, "tiny_llava.safetensors"), tw, pr); err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	g := golden(t, s)
	x := torchtest.Want(t, g, "tiny.in")
	for i := 0; i <= 3; i++ {
		want := torchtest.Want(t, g, fmt.Sprintf("tiny.hidden%d", i))
		torchtest.AllClose(t, fmt.Sprintf("hidden_states[%d]", i), tw.HiddenState(s, x, i), want, 1e-5)
		torchtest.AllClose(t, fmt.Sprintf("hidden_states[%d]", i-4), tw.HiddenState(s, x, i-4), want, 1e-5)
	}
	feat := tw.Forward(s, x)
	torchtest.AllClose(t, "features (hidden[-2], patch)", feat, torchtest.Want(t, g, "tiny.features"), 1e-5)
	torchtest.AllClose(t, "projector", pr.Forward(s, feat), torchtest.Want(t, g, "tiny.proj"), 1e-5)

	tw.Config.SelectFeature = clip.FeatureCLSPatch
	torchtest.AllClose(t, "features (cls_patch)", tw.Forward(s, x), torchtest.Want(t, g, "tiny.features_cls"), 1e-5)
	tw.Config.SelectFeature = clip.FeaturePatch

	if _, err := tw.Features(s, torch.Zeros(s, torch.Float32, 1, 3, 32, 32)); err == nil || !strings.Contains(err.Error(), "want (B, 3, 28, 28)") {
		t.Errorf("a 32 px input: err = %v", err)
	}
}

func TestTinyGradients(t *testing.T) {
	st, tw, pr := build(t, clip.Tiny(), tinyProjector(), clip.LLaVATowerPath, clip.LLaVAProjectorPath)
	defer st.Close()
	if err := clip.LoadVision(filepath.Join(dir, "tiny_llava.safetensors"), tw, pr); err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := golden(t, s)
	x := torchtest.Want(t, g, "tiny.in").Clone(s).SetRequiresGrad(true)
	y := pr.Forward(s, tw.Forward(s, x))
	y.Mul(s, torchtest.Want(t, g, "tiny.gout")).SumAll(s).Backward()
	torchtest.AllClose(t, "grad input", x.Grad(s), torchtest.Want(t, g, "tiny.grad.input"), 1e-5)
	// Each gradient is held to float32's tolerance against its own magnitude, except the key
	// biases: a key bias's true gradient is zero (softmax cancels a constant added to every
	// key), so PyTorch's values (~1e-7) are rounding noise that differs between libtorch
	// versions. Those are compared with the floor set by the largest parameter gradient of
	// this backward pass, i.e. they must be noise at that scale, not a real gradient.
	var grads []*torch.Tensor
	for name, want := range g {
		if pname, ok := strings.CutPrefix(name, "tiny.grad."); ok && pname != "input" {
			grads = append(grads, want)
		}
	}
	scale := torchtest.MaxAbs(grads...)
	n, keyBias := 0, 0
	for name, want := range g {
		pname, ok := strings.CutPrefix(name, "tiny.grad.")
		if !ok || pname == "input" {
			continue
		}
		e, ok := st.Get(pname)
		if !ok {
			t.Fatalf("store has no %s", pname)
		}
		if strings.HasSuffix(pname, "self_attn.k_proj.bias") {
			torchtest.AllCloseScaled(t, "grad "+pname+" (zero by construction)", e.Tensor.Grad(s), want, 1e-5, scale)
			keyBias++
		} else {
			torchtest.AllClose(t, "grad "+pname, e.Tensor.Grad(s), want, 1e-5)
		}
		n++
	}
	if n != 11 || keyBias == 0 || keyBias == n {
		t.Errorf("compared %d parameter gradients (%d of them key biases), want 11 with at least one of each kind", n, keyBias)
	}
	// The last layer and post_layernorm are not run: no gradient.
	for _, name := range []string{llavaPrefix + "encoder.layers.2.mlp.fc1.weight", llavaPrefix + "post_layernorm.weight"} {
		e, _ := st.Get(name)
		if gr := e.Tensor.Grad(s); gr != nil {
			t.Errorf("%s has a gradient", name)
		}
	}
	// Frozen (LLaVA's setting): no gradient recorded for the tower's parameters.
	tw.SetTrainable(false)
	pr.SetTrainable(false)
	if n := len(st.Trainable()); n != 0 {
		t.Errorf("%d trainable parameters after SetTrainable(false)", n)
	}
}

// tinyWeights reads the committed LLaVA-layout weights.
func tinyWeights(t *testing.T, s *torch.Scope) map[string]*torch.Tensor {
	t.Helper()
	m, err := torch.LoadWeights(s, filepath.Join(dir, "tiny_llava.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// relayout writes the tiny weights with the tower under towerPrefix and the projector under
// projPrefix (HF names linear_1/linear_2 when hf), plus extra tensors.
func relayout(t *testing.T, s *torch.Scope, path, towerPrefix, projPrefix string, hf bool, extra map[string]*torch.Tensor) {
	t.Helper()
	out := map[string]*torch.Tensor{}
	for name, v := range tinyWeights(t, s) {
		if rel, ok := strings.CutPrefix(name, llavaPrefix); ok {
			out[towerPrefix+rel] = v
		} else if rel, ok := strings.CutPrefix(name, "model.mm_projector."); ok && projPrefix != "-" {
			if hf {
				rel = strings.NewReplacer("0.", "linear_1.", "2.", "linear_2.").Replace(rel)
			}
			out[projPrefix+rel] = v
		}
	}
	for k, v := range extra {
		out[k] = v
	}
	if err := torch.SaveSafetensors(path, out, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadLayouts(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	g := golden(t, s)
	x := torchtest.Want(t, g, "tiny.in")
	tmp := t.TempDir()

	// The standalone CLIP checkpoint: vision_model.*, the text tower and heads, position_ids.
	standalone := filepath.Join(tmp, "clip.safetensors")
	relayout(t, s, standalone, "vision_model.", "-", false, map[string]*torch.Tensor{
		"vision_model.embeddings.position_ids":                torch.Arange(s, 0, 5, 1, torch.Int64).View(s, 1, 5),
		"text_model.embeddings.token_embedding.weight":        torch.Randn(s, nil, torch.Float32, 16, 24),
		"text_model.embeddings.position_ids":                  torch.Arange(s, 0, 7, 1, torch.Int64).View(s, 1, 7),
		"text_model.encoder.layers.0.self_attn.q_proj.weight": torch.Randn(s, nil, torch.Float32, 24, 24),
		"text_model.final_layer_norm.weight":                  torch.Ones(s, torch.Float32, 24),
		"visual_projection.weight":                            torch.Randn(s, nil, torch.Float32, 12, 32),
		"text_projection.weight":                              torch.Randn(s, nil, torch.Float32, 12, 24),
		"logit_scale":                                         torch.Scalar(s, 2.6592, torch.Float32),
	})
	// Hugging Face Llava: vision_tower.vision_model.* and multi_modal_projector.linear_1/2.
	hf := filepath.Join(tmp, "llava_hf.safetensors")
	relayout(t, s, hf, "vision_tower.vision_model.", "multi_modal_projector.", true, map[string]*torch.Tensor{
		"language_model.model.embed_tokens.weight": torch.Randn(s, nil, torch.Float32, 10, 8),
	})
	// LLaVA's non_lora_trainables.bin layout for the projector.
	nonLora := filepath.Join(tmp, "non_lora.safetensors")
	relayout(t, s, nonLora, "base_model.model.model.vision_tower.vision_tower.vision_model.", "base_model.model.model.mm_projector.", false, nil)
	bare := filepath.Join(tmp, "bare.safetensors")
	relayout(t, s, bare, "", "-", false, nil)

	cases := []struct{ file, towerPath, projPath string }{
		{filepath.Join(dir, "tiny_llava.safetensors"), clip.LLaVATowerPath, clip.LLaVAProjectorPath},
		{filepath.Join(dir, "tiny_llava.safetensors"), "vision_model", "mm_projector"},
		{standalone, clip.LLaVATowerPath, "-"},
		{standalone, "vision_model", "-"},
		{standalone, "", "-"},
		{hf, clip.LLaVATowerPath, clip.LLaVAProjectorPath},
		{hf, "vision_tower.vision_model", "multi_modal_projector"},
		{nonLora, clip.LLaVATowerPath, clip.LLaVAProjectorPath},
		{bare, "vision_model", "-"},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s into %q/%q", filepath.Base(c.file), c.towerPath, c.projPath)
		st, tw, pr := build(t, clip.Tiny(), tinyProjector(), c.towerPath, c.projPath)
		if err := clip.LoadVision(c.file, tw, pr); err != nil {
			t.Errorf("%s: %v", name, err)
			st.Close()
			continue
		}
		feat := tw.Forward(s, x)
		torchtest.AllClose(t, name+" features", feat, torchtest.Want(t, g, "tiny.features"), 1e-5)
		if pr != nil {
			torchtest.AllClose(t, name+" projector", pr.Forward(s, feat), torchtest.Want(t, g, "tiny.proj"), 1e-5)
		}
		st.Close()
	}

	// A bfloat16 store loads the float32 file with a cast.
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	st.SetDType(torch.BFloat16)
	tw, err := clip.NewTower(st.Root().Sub("vision_model"), clip.Tiny())
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Load(standalone); err != nil {
		t.Fatal(err)
	}
	got := tw.Forward(s, x)
	if got.DType() != torch.BFloat16 {
		t.Fatalf("bf16 tower gives %s", got.DType())
	}
	torchtest.AllCloseTol(t, "bf16 features", got.ToDType(s, torch.Float32), torchtest.Want(t, g, "tiny.features"),
		torchtest.Tol{RTol: 0.1, ATol: 0.05})
}

func TestLoadErrorsNameKeys(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	tmp := t.TempDir()
	m := tinyWeights(t, s)
	delete(m, llavaPrefix+"encoder.layers.1.self_attn.v_proj.bias")
	delete(m, "model.mm_projector.2.weight")
	m[llavaPrefix+"encoder.layers.0.mlp.fc1.weight"] = torch.Zeros(s, torch.Float32, 32, 64)
	m[llavaPrefix+"encoder.layers.3.mlp.fc1.weight"] = torch.Zeros(s, torch.Float32, 64, 32) // a 4th layer
	broken := filepath.Join(tmp, "broken.safetensors")
	if err := torch.SaveSafetensors(broken, m, nil); err != nil {
		t.Fatal(err)
	}
	st, tw, pr := build(t, clip.Tiny(), tinyProjector(), clip.LLaVATowerPath, clip.LLaVAProjectorPath)
	defer st.Close()
	err := tw.Load(broken)
	var le *nn.LoadError
	if !errors.Is(err, nn.ErrLoad) || !errors.As(err, &le) {
		t.Fatalf("err = %v, want an *nn.LoadError", err)
	}
	wantReport := nn.LoadReport{
		Missing:    []string{llavaPrefix + "encoder.layers.1.self_attn.v_proj.bias"},
		Unexpected: []string{llavaPrefix + "encoder.layers.3.mlp.fc1.weight"},
		Mismatched: []nn.ShapeMismatch{{Name: llavaPrefix + "encoder.layers.0.mlp.fc1.weight", File: []int64{32, 64}, Store: []int64{64, 32}}},
	}
	if !reflect.DeepEqual(le.LoadReport, wantReport) {
		t.Errorf("report %+v\nwant   %+v", le.LoadReport, wantReport)
	}
	for _, want := range []string{
		"1 missing (" + llavaPrefix + "encoder.layers.1.self_attn.v_proj.bias)",
		llavaPrefix + "encoder.layers.0.mlp.fc1.weight: file [32 64], model [64 32]",
		"1 unexpected (" + llavaPrefix + "encoder.layers.3.mlp.fc1.weight)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("tower error does not say %q: %v", want, err)
		}
	}
	t.Logf("tower: %v", err)
	err = pr.Load(broken)
	if !errors.Is(err, nn.ErrLoad) || !strings.Contains(err.Error(), "model.mm_projector.2.weight") {
		t.Errorf("projector err = %v, want it to name model.mm_projector.2.weight", err)
	}
	t.Logf("projector: %v", err)

	// A file without a tower, one with two, a missing file, a corrupt file.
	none := filepath.Join(tmp, "none.safetensors")
	if err := torch.SaveSafetensors(none, map[string]*torch.Tensor{"lm_head.weight": torch.Zeros(s, torch.Float32, 2, 2)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tw.Load(none); !errors.Is(err, nn.ErrLoad) || !strings.Contains(err.Error(), "embeddings.patch_embedding.weight") {
		t.Errorf("no tower: err = %v", err)
	}
	two := filepath.Join(tmp, "two.safetensors")
	relayoutTwo := tinyWeights(t, s)
	for k, v := range tinyWeights(t, s) {
		if rel, ok := strings.CutPrefix(k, llavaPrefix); ok {
			relayoutTwo["a.vision_model."+rel] = v
			relayoutTwo["b.vision_model."+rel] = v
			delete(relayoutTwo, k)
		}
	}
	if err := torch.SaveSafetensors(two, relayoutTwo, nil); err != nil {
		t.Fatal(err)
	}
	if err := tw.Load(two); err == nil || !strings.Contains(err.Error(), "several vision towers") {
		t.Errorf("two towers: err = %v", err)
	}
	w, err := torch.OpenWeights(two)
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.LoadFrom(w, "b.vision_model."); err != nil {
		t.Errorf("explicit prefix: %v", err)
	}
	w.Close()
	if err := tw.Load(filepath.Join(tmp, "missing.safetensors")); err == nil {
		t.Error("loading a missing file succeeded")
	}
	junk := filepath.Join(tmp, "junk.safetensors")
	if err := os.WriteFile(junk, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tw.Load(junk); err == nil {
		t.Error("loading a corrupt file succeeded")
	}
}

// TestLoadErrorsRelayout: a Hugging Face Llava file with a tensor gone, one of the wrong
// shape and one too many, loaded into LLaVA module paths: a missing tensor is named by the
// entry it should fill, the others by their names in the file.
func TestLoadErrorsRelayout(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	path := filepath.Join(t.TempDir(), "hf.safetensors")
	const tw, pj = "vision_tower.vision_model.", "multi_modal_projector."
	relayout(t, s, path, tw, pj, true, map[string]*torch.Tensor{
		pj + "linear_2.weight": torch.Zeros(s, torch.Float32, 48, 40),
		pj + "linear_3.bias":   torch.Zeros(s, torch.Float32, 48),
	})
	m, err := torch.LoadWeights(s, path)
	if err != nil {
		t.Fatal(err)
	}
	delete(m, tw+"post_layernorm.bias")
	if err := torch.SaveSafetensors(path, m, nil); err != nil {
		t.Fatal(err)
	}
	st, tower, proj := build(t, clip.Tiny(), tinyProjector(), clip.LLaVATowerPath, clip.LLaVAProjectorPath)
	defer st.Close()
	for _, c := range []struct {
		name string
		load func(string) error
		want nn.LoadReport
	}{
		{"tower", tower.Load, nn.LoadReport{Missing: []string{llavaPrefix + "post_layernorm.bias"}}},
		{"projector", proj.Load, nn.LoadReport{
			Unexpected: []string{pj + "linear_3.bias"},
			Mismatched: []nn.ShapeMismatch{{Name: pj + "linear_2.weight", File: []int64{48, 40}, Store: []int64{48, 48}}},
		}},
	} {
		err := c.load(path)
		var le *nn.LoadError
		if !errors.Is(err, nn.ErrLoad) || !errors.As(err, &le) {
			t.Errorf("%s: err = %v, want an *nn.LoadError", c.name, err)
			continue
		}
		if !reflect.DeepEqual(le.LoadReport, c.want) {
			t.Errorf("%s: report %+v\nwant %+v", c.name, le.LoadReport, c.want)
		}
	}
}

func TestLinearSlots(t *testing.T) {
	st, tw, _ := build(t, clip.Tiny(), tinyProjector(), clip.LLaVATowerPath, "-")
	defer st.Close()
	var sl nn.SlotLister = tw
	slots := sl.LinearSlots()
	if len(slots) != 12 {
		t.Fatalf("%d slots, want 12", len(slots))
	}
	if got, want := slots[0].Name, "model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj"; got != want {
		t.Errorf("slot 0 is %q, want %q", got, want)
	}
	if got, want := slots[11].Name, "model.vision_tower.vision_tower.vision_model.encoder.layers.2.self_attn.out_proj"; got != want {
		t.Errorf("slot 11 is %q, want %q", got, want)
	}
	for _, sl := range slots {
		lin, ok := (*sl.Layer).(*nn.Linear)
		if !ok {
			t.Fatalf("%s holds %T", sl.Name, *sl.Layer)
		}
		if e, ok := st.Get(sl.Name + ".weight"); !ok || e.Tensor != lin.Weight {
			t.Errorf("%s: its weight is not the store's %s.weight", sl.Name, sl.Name)
		}
	}
	// Replacing a slot's layer changes what Forward runs.
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	x := torch.Randn(s, nil, torch.Float32, 1, 3, 28, 28)
	before := tw.Forward(s, x).Float32s()
	orig := *slots[2].Layer // layer 0 v_proj
	*slots[2].Layer = nn.Func(func(s *torch.Scope, x *torch.Tensor) *torch.Tensor { return orig.Forward(s, x).MulScalar(s, 0) })
	after := tw.Forward(s, x).Float32s()
	*slots[2].Layer = orig
	same := true
	for i := range before {
		if before[i] != after[i] {
			same = false
			break
		}
	}
	if same {
		t.Error("replacing v_proj through its slot did not change the output")
	}
}

func TestConfigs(t *testing.T) {
	tmp := t.TempDir()
	write := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A CLIPConfig as openai/clip-vit-large-patch14-336 ships it (keys equal to the
	// defaults may be omitted), with a text_config that must be ignored.
	vl := map[string]any{"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
		"num_hidden_layers": 24, "patch_size": 14, "image_size": 336, "projection_dim": 768, "model_type": "clip_vision_model"}
	p := write("clip.json", map[string]any{"model_type": "clip", "projection_dim": 768, "vision_config": vl,
		"text_config": map[string]any{"hidden_size": 768, "num_hidden_layers": 12}})
	c, err := clip.LoadVisionConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c != clip.ViTL14336() {
		t.Errorf("config.json gives %+v, want %+v", c, clip.ViTL14336())
	}
	if c.NumPatches() != 576 || c.NumFeatures() != 576 || c.SelectIndex() != 23 || c.HeadDim() != 64 {
		t.Errorf("patches %d features %d select index %d head dim %d", c.NumPatches(), c.NumFeatures(), c.SelectIndex(), c.HeadDim())
	}
	// The legacy vision_config_dict wins over vision_config; missing keys take
	// CLIPVisionConfig's defaults (ViT-B/32 at 224).
	p = write("legacy.json", map[string]any{"vision_config": vl, "vision_config_dict": map[string]any{"patch_size": 16}})
	if c, err = clip.LoadVisionConfig(p); err != nil || c.PatchSize != 16 || c.HiddenSize != 768 || c.ImageSize != 224 {
		t.Errorf("vision_config_dict: %+v, %v", c, err)
	}
	p = write("vision.json", vl)
	if c, err = clip.LoadVisionConfig(p); err != nil || c != clip.ViTL14336() {
		t.Errorf("bare CLIPVisionConfig: %+v, %v", c, err)
	}
	if _, err = clip.LoadVisionConfig(write("llm.json", map[string]any{"vocab_size": 32000})); err == nil {
		t.Error("a config without a vision config was accepted")
	}
	if c, err = clip.LoadVisionConfig(""); err != nil || c != clip.ViTL14336() {
		t.Errorf("default: %+v, %v", c, err)
	}

	// LLaVA-Med's config.json keys.
	p = write("llava.json", map[string]any{"mm_vision_tower": "openai/clip-vit-large-patch14-336", "mm_vision_select_layer": -1,
		"mm_vision_select_feature": "cls_patch", "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": 1024, "hidden_size": 4096,
		"image_aspect_ratio": "pad"})
	l, err := clip.LoadLLaVAConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	c = clip.ViTL14336()
	l.Apply(&c)
	if c.SelectLayer != -1 || c.SelectFeature != clip.FeatureCLSPatch || c.SelectIndex() != 24 || c.NumFeatures() != 577 {
		t.Errorf("applied LLaVA config: %+v", c)
	}
	if pc := l.Projector(); pc != clip.DefaultProjector() {
		t.Errorf("projector %+v", pc)
	}
	if pp := l.Preprocess(); pp != clip.DefaultPreprocess() {
		t.Errorf("preprocess %+v", pp)
	}

	for name, mut := range map[string]func(*clip.VisionConfig){
		"heads":          func(c *clip.VisionConfig) { c.NumAttentionHeads = 5 },
		"patch":          func(c *clip.VisionConfig) { c.PatchSize = 15 },
		"select layer":   func(c *clip.VisionConfig) { c.SelectLayer = -26 },
		"select layer +": func(c *clip.VisionConfig) { c.SelectLayer = 25 },
		"feature":        func(c *clip.VisionConfig) { c.SelectFeature = "cls" },
		"act":            func(c *clip.VisionConfig) { c.HiddenAct = "swish" },
	} {
		c := clip.ViTL14336()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate accepted a bad config", name)
		}
	}
	for _, typ := range []string{"mlp", "mlp0x_gelu", "identity"} {
		if (clip.ProjectorConfig{Type: typ, InDim: 4, OutDim: 4}).Validate() == nil {
			t.Errorf("projector type %q accepted", typ)
		}
	}
}

func TestProjectorTypes(t *testing.T) {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	lin, err := clip.NewProjector(st.Root().Sub("model.mm_projector"), clip.ProjectorConfig{Type: "linear", InDim: 8, OutDim: 6})
	if err != nil {
		t.Fatal(err)
	}
	mlp3, err := clip.NewProjector(st.Root().Sub("p3"), clip.ProjectorConfig{Type: "mlp3x_gelu", InDim: 8, OutDim: 6})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"model.mm_projector.weight", "model.mm_projector.bias", "p3.0.weight", "p3.2.weight", "p3.4.bias"} {
		if _, ok := st.Get(n); !ok {
			t.Errorf("no %s in %v", n, st.Names())
		}
	}
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	x := torch.Randn(s, nil, torch.Float32, 2, 5, 8)
	l0 := mlp3.Layers
	want := l0[2].Forward(s, l0[1].Forward(s, l0[0].Forward(s, x).Gelu(s)).Gelu(s))
	torchtest.AllClose(t, "mlp3x_gelu", mlp3.Forward(s, x), want, 1e-6)
	torchtest.AllClose(t, "linear", lin.Forward(s, x), lin.Layers[0].Forward(s, x), 1e-6)
}

func TestViTL336MatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("the full ViT-L/14-336 forward takes several seconds")
	}
	torch.SetNumThreads(2)
	st, tw, pr := build(t, clip.ViTL14336(), clip.DefaultProjector(), clip.LLaVATowerPath, clip.LLaVAProjectorPath)
	defer st.Close()
	if n := st.NumParams(false); n != 303507456+20979712 {
		t.Errorf("%d parameters, want 303,507,456 (tower) + 20,979,712 (projector)", n)
	}
	nntest.FillSeeded(t, st, 3)
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	g := golden(t, s)
	if err := torch.ManualSeed(21); err != nil {
		t.Fatal(err)
	}
	x := torch.Randn(s, nil, torch.Float32, 1, 3, 336, 336)
	before := torch.LiveTensors()
	f, err := tw.Features(s, x)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Shape(); len(got) != 3 || got[0] != 1 || got[1] != 576 || got[2] != 1024 {
		t.Fatalf("features %v, want [1 576 1024]", got)
	}
	if d := torch.LiveTensors() - before; d != 1 {
		t.Errorf("the forward left %d tensors alive, want 1 (its result)", d)
	}
	torchtest.AllClose(t, "tokens 0-7", f.Narrow(s, 1, 0, 8), torchtest.Want(t, g, "vitl.features.tok0_7"), 1e-4)
	fd := f.ToDType(s, torch.Float64)
	torchtest.AllClose(t, "channel sums", fd.Sum(s, []int64{0, 1}, false), torchtest.Want(t, g, "vitl.features.chsum"), 1e-4)
	torchtest.AllClose(t, "channel sums of squares", fd.Square(s).Sum(s, []int64{0, 1}, false), torchtest.Want(t, g, "vitl.features.chsumsq"), 1e-4)
	p := pr.Forward(s, f)
	torchtest.AllClose(t, "projector tokens 0-1", p.Narrow(s, 1, 0, 2), torchtest.Want(t, g, "vitl.proj.tok0_1"), 1e-4)
	torchtest.AllClose(t, "projector channel sums", p.ToDType(s, torch.Float64).Sum(s, []int64{0, 1}, false), torchtest.Want(t, g, "vitl.proj.chsum"), 1e-4)
}

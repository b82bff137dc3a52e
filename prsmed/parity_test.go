package prsmed_test

import (
	"encoding/json"
	"image"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// The goldens of third_party/golden/prsmed_ref.py: a tiny PRS-Med (prsmed.Tiny(800)) built in
// PyTorch from the other reference scripts, one training forward, its backward and one
// optimiser step.
const parityDir = "../testdata/prsmed"

// parityRTol is the bound on the relative error of fp32 values (AllClose adds an
// absolute floor of rtol/10 times the largest magnitude of the golden tensor).
const parityRTol = 1e-4

// paritySamples are SAMPLES of prsmed_ref.py (rgb.png, gray.png).
var paritySamples = []llava.Sample{
	{Question: "Where is the lesion located in this image?", Answer: "The lesion is in the top left of the image."},
	{Question: "Which region of the scan shows the tumour?", Answer: "It sits in the bottom right."},
}

var parityImages = []string{"rgb.png", "gray.png"}

// newParityModel builds the tiny model in stage 2 with the reference's weights, in training
// mode, with LoRA dropout off (the only random op of the training forward).
func newParityModel(t *testing.T) *prsmed.Model {
	t.Helper()
	m := prsmedtest.TinyModelWith(t, 0, func(c *prsmed.Config) { c.LoRA.Dropout = 0 })
	// Every part trains here (the reference script's setting), so that one step checks the
	// gradients of all of them; the stages only choose subsets of these.
	m.Store.Unfreeze("*")
	m.Store.Freeze("image_encoder.head.*", "image_encoder.norm_head.*")
	if _, err := m.Store.Load(filepath.Join(parityDir, "weights.safetensors"), nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return m
}

func parityPNG(t *testing.T, name string) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join(parityDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func parityEqualIDs(t *testing.T, name string, got []int64, want *torch.Tensor) {
	t.Helper()
	w := want.Int64s()
	if len(got) != len(w) {
		t.Errorf("%s: %d ids %v, want %d %v", name, len(got), got, len(w), w)
		return
	}
	for i := range w {
		if got[i] != w[i] {
			t.Errorf("%s: ids %v, want %v", name, got, w)
			return
		}
	}
}

// parityZeroGrads are gradients that vanish in exact arithmetic, each with the weight whose
// gradient sets its scale: a TinyViT block's last bias (mlp.fc2.bias) shifts every token of
// a channel by the same amount, and the next module (PatchMerging: a 1×1 conv, then
// BatchNorm with batch statistics) subtracts that shift again. Stage 3's block is followed
// by the neck, whose LayerNorm2d normalises over channels, so its bias has a real gradient.
var parityZeroGrads = map[string]string{
	"image_encoder.layers.1.blocks.0.mlp.fc2.bias": "image_encoder.layers.1.blocks.0.mlp.fc2.weight",
	"image_encoder.layers.2.blocks.0.mlp.fc2.bias": "image_encoder.layers.2.blocks.0.mlp.fc2.weight",
}

func parityMaxAbs(x *torch.Tensor) float64 {
	m := 0.0
	for _, v := range x.Float32s() {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// TestParityConfig: the settings the reference script assumed (config.json, a subset of
// prsmed.SaveConfig's JSON) are prsmed.Tiny(800)'s; when Tiny changes, rerun
// third_party/golden/prsmed_ref.py with the new values.
func TestParityConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(parityDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	tiny, err := json.Marshal(prsmed.Tiny(800))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(tiny, &got); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		if wm, ok := w.(map[string]any); ok {
			gm, ok := g.(map[string]any)
			if !ok {
				t.Errorf("%s: Tiny has %v, the reference assumed %v", path, g, w)
				return
			}
			for k, v := range wm {
				walk(path+"."+k, v, gm[k])
			}
			return
		}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%s: Tiny has %v, the reference assumed %v: rerun third_party/golden/prsmed_ref.py", path, g, w)
		}
	}
	walk("config", want, got)
}

// TestParityTrainingStep: the full training forward, the gradients and one AdamW step of a
// tiny PRS-Med equal PyTorch's (fp32, relative error ≤ 1e-4).
func TestParityTrainingStep(t *testing.T) {
	m := newParityModel(t)
	s := torch.NewScope(torch.CPU).Train(nil)
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(parityDir, "golden.safetensors"))
	want := func(name string) *torch.Tensor { return torchtest.Want(t, g, name) }
	check := func(name string, got *torch.Tensor, w *torch.Tensor) {
		t.Helper()
		if got == nil {
			t.Errorf("%s: no tensor (no gradient?)", name)
			return
		}
		if st := torchtest.AllClose(t, name, got, w, parityRTol); st.MaxWant > 0 {
			t.Logf("%s: max|Δ| / max|want| = %.3g", name, st.MaxAbs/st.MaxWant)
		}
	}
	// checkStore checks every golden tensor named prefix+N against the model's store entry N
	// (a what).
	checkStore := func(prefix, what string) {
		t.Helper()
		for name, w := range g {
			if strings.HasPrefix(name, prefix) {
				e, ok := m.Store.Get(strings.TrimPrefix(name, prefix))
				if !ok {
					t.Errorf("%s: no such %s", name, what)
					continue
				}
				check(name, e.Tensor, w)
			}
		}
	}

	// Tokenisation as llava.Model.Tokens does it, against sentencepiece.
	for i, smp := range paritySamples {
		p, a, err := m.LLaVA.Tokens(smp)
		if err != nil {
			t.Fatal(err)
		}
		parityEqualIDs(t, "ids.prompt."+strconv.Itoa(i), p, want("ids.prompt."+strconv.Itoa(i)))
		parityEqualIDs(t, "ids.answer."+strconv.Itoa(i), a, want("ids.answer."+strconv.Itoa(i)))
	}

	// The encoder alone first (diagnosis): its BatchNorm buffers are put back afterwards so
	// that the training forward below starts from the reference's state.
	saved := map[string]*torch.Tensor{}
	for _, e := range m.Store.Entries() {
		if e.Kind == nn.Buffer {
			saved[e.Name] = e.Tensor.Clone(s)
		}
	}
	func() {
		c := s.NoGrad()
		defer c.Close()
		check("out.z_img", m.Encoder.Forward(c, want("in.sam")), want("out.z_img"))
	}()
	for name, v := range saved {
		e, _ := m.Store.Get(name)
		e.Tensor.CopyFrom(v)
	}

	in := prsmed.Inputs{SAM: want("in.sam"), CLIP: want("in.clip"), Samples: paritySamples, Masks: want("in.masks")}
	out, err := m.Forward(s, in)
	if err != nil {
		t.Fatal(err)
	}
	b := out.LLaVA.Batch
	torchtest.AllClose(t, "batch.labels", b.Labels, want("batch.labels"), 0)
	torchtest.AllClose(t, "batch.attention_mask", b.AttentionMask, want("batch.attention_mask"), 0)
	torchtest.AllClose(t, "batch.prompt_mask", b.PromptMask, want("batch.prompt_mask"), 0)
	check("out.hidden", out.LLaVA.Hidden, want("out.hidden"))
	check("out.mask_logits", out.MaskLogits, want("out.mask_logits"))
	check("loss.bce", out.Loss.BCE, want("loss.bce"))
	check("loss.dice", out.Loss.Dice, want("loss.dice"))
	check("loss.ce", out.Loss.CE, want("loss.ce"))
	check("loss.total", out.Loss.Total, want("loss.total"))
	checkStore("buffer.", "buffer")

	out.Loss.Total.Backward()
	var names []string
	for name := range g {
		if strings.HasPrefix(name, "grad.") && !strings.HasPrefix(name, "grad.rows.") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		e, ok := m.Store.Get(strings.TrimPrefix(name, "grad."))
		if !ok {
			t.Errorf("%s: no such parameter", name)
			continue
		}
		if sibling, ok := parityZeroGrads[strings.TrimPrefix(name, "grad.")]; ok {
			// Zero in exact arithmetic: both sides hold rounding noise, which must stay
			// negligible next to the gradient of the layer's weight.
			scale := parityMaxAbs(want("grad." + sibling))
			got, ref := parityMaxAbs(e.Tensor.Grad(s)), parityMaxAbs(g[name])
			t.Logf("%s: zero gradient: max|got| %.3g, max|PyTorch| %.3g, max|grad %s| %.3g", name, got, ref, sibling, scale)
			if got > 1e-5*scale {
				t.Errorf("%s: max |grad| %.3g, want ≈ 0 (≤ 1e-5 × %.3g)", name, got, scale)
			}
			continue
		}
		check(name, e.Tensor.Grad(s), g[name])
	}
	ids := want("grad.rows.ids")
	for _, p := range []string{"model.embed_tokens.weight", "lm_head.weight"} {
		e, _ := m.Store.Get(p)
		check("grad.rows."+p, e.Tensor.Grad(s).IndexSelect(s, 0, ids), want("grad.rows."+p))
	}
	// Exactly the parameters PyTorch leaves without a gradient have none here: the frozen
	// classifier norm and the CLIP layers after the one LLaVA reads.
	for _, e := range m.Store.Entries() {
		if e.Kind != nn.Parameter {
			continue
		}
		unused := strings.HasPrefix(e.Name, "image_encoder.norm_head.") ||
			strings.HasPrefix(e.Name, "model.vision_tower.vision_tower.vision_model.encoder.layers.2.") ||
			strings.HasPrefix(e.Name, "model.vision_tower.vision_tower.vision_model.post_layernorm.")
		if has := e.Tensor.Grad(s) != nil; has == unused {
			t.Errorf("%s: has a gradient: %v, want %v", e.Name, has, !unused)
		}
		if e.Trainable == strings.HasPrefix(e.Name, "image_encoder.norm_head.") {
			t.Errorf("%s: trainable %v", e.Name, e.Trainable)
		}
	}

	// One optimiser step as the trainer takes it.
	norm := torch.ClipGradNorm(m.Store.Trainable(), 1.0, 2)
	wn := want("grad_norm").Item()
	t.Logf("grad_norm: got %.9g want %.9g", norm, wn)
	if math.Abs(norm-wn) > parityRTol*math.Abs(wn) {
		t.Errorf("grad norm %.9g, want %.9g", norm, wn)
	}
	opt := torch.NewAdamW(m.Store.ParamGroups(1e-3, 1e-5, nil),
		torch.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 1e-5})
	defer opt.Close()
	opt.Step()
	checkStore("step.", "parameter")
	// Parameters without a gradient did not move.
	wts := torchtest.Golden(t, s, filepath.Join(parityDir, "weights.safetensors"))
	for _, name := range []string{"image_encoder.norm_head.weight",
		"model.vision_tower.vision_tower.vision_model.encoder.layers.2.mlp.fc1.weight",
		"model.vision_tower.vision_tower.vision_model.post_layernorm.bias"} {
		e, _ := m.Store.Get(name)
		torchtest.AllClose(t, "unchanged "+name, e.Tensor, wts[name].ToDType(s, torch.Float32), 0)
	}
}

// TestParityPreprocess: the Go preprocessing of the reference's PNGs gives the inputs the
// reference fed its model (TinyViT: bilinear to 64 and ImageNet normalisation; CLIP: pad, PIL
// bicubic to the tower's size, CLIP normalisation).
func TestParityPreprocess(t *testing.T) {
	m := newParityModel(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(parityDir, "golden.safetensors"))
	var imgs []image.Image
	for _, n := range parityImages {
		imgs = append(imgs, parityPNG(t, n))
	}
	sam, clipIn, err := m.PreprocessBatch(s, imgs)
	if err != nil {
		t.Fatal(err)
	}
	torchtest.AllClose(t, "in.sam", sam, torchtest.Want(t, g, "in.sam"), 1e-5)
	torchtest.AllClose(t, "in.clip", clipIn, torchtest.Want(t, g, "in.clip"), 1e-5)
}

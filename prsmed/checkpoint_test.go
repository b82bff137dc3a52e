package prsmed_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
)

// TestLoadLLaVAMed writes a LLaVA-Med-like file (the model.* and lm_head.* tensors without
// the LoRA weights, plus a tensor the model does not use) and loads it: the LoRA weights
// are not missing, the unused tensor is ignored, and every other tensor is the file's. A
// file that lacks a tensor fails, names it alone, and changes nothing.
func TestLoadLLaVAMed(t *testing.T) {
	src, dst := prsmedtest.TinyModel(t, 1), prsmedtest.TinyModel(t, 2)
	if len(src.LoRA) == 0 {
		t.Fatal("the tiny preset has no LoRA adapters")
	}
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	file := map[string]*torch.Tensor{"model.vision_tower.vision_tower.vision_model.embeddings.position_ids": torch.Zeros(s, torch.Int64, 1, 4)}
	for _, e := range src.Store.Entries() {
		if (nn.Match("model.*", e.Name) || nn.Match("lm_head.*", e.Name)) && !strings.Contains(e.Name, ".lora_") {
			file[e.Name] = e.Tensor
		}
	}
	dir := t.TempDir()
	if err := torch.SaveSafetensors(filepath.Join(dir, "model.safetensors"), file, nil); err != nil {
		t.Fatal(err)
	}
	writeLMConfig(t, dir, src.Config.Mistral)
	if err := dst.LoadLLaVAMed(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range file {
		if e, ok := dst.Store.Get(name); ok {
			if !reflect.DeepEqual(e.Tensor.Float32s(), want.Float32s()) {
				t.Errorf("%s is not the file's", name)
			}
		}
	}

	const gone = "lm_head.weight"
	delete(file, gone)
	broken := t.TempDir()
	if err := torch.SaveSafetensors(filepath.Join(broken, "model.safetensors"), file, nil); err != nil {
		t.Fatal(err)
	}
	writeLMConfig(t, broken, src.Config.Mistral)
	fresh := prsmedtest.TinyModel(t, 3)
	e, _ := fresh.Store.Get("model.norm.weight")
	before := e.Tensor.Float32s()
	err := fresh.LoadLLaVAMed(broken)
	var le *nn.LoadError
	if !errors.Is(err, nn.ErrLoad) || !errors.As(err, &le) {
		t.Fatalf("err = %v, want an *nn.LoadError", err)
	}
	if want := (nn.LoadReport{Missing: []string{gone}}); !reflect.DeepEqual(le.LoadReport, want) {
		t.Errorf("report %+v, want %+v", le.LoadReport, want)
	}
	if !reflect.DeepEqual(e.Tensor.Float32s(), before) {
		t.Error("a failed load changed the model")
	}
}

// writeLMConfig writes a LLaVA folder's config.json for the language model c.
func writeLMConfig(t *testing.T, dir string, c mistral.Config) {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadLLaVAMedRefusesOtherSettings: a LLaVA folder whose config.json gives another RoPE
// θ than the model was built with is refused before any tensor is read, naming the key;
// PaperFrom reads the folder's settings into the paper preset.
func TestLoadLLaVAMedRefusesOtherSettings(t *testing.T) {
	m := prsmedtest.TinyModel(t, 4)
	dir := t.TempDir()
	c := m.Config.Mistral
	c.RopeTheta = 1e6
	writeLMConfig(t, dir, c)
	err := m.LoadLLaVAMed(dir)
	if err == nil || !strings.Contains(err.Error(), "rope_theta") {
		t.Fatalf("err = %v, want one naming rope_theta", err)
	}
	paper := mistral.DefaultConfig()
	paper.RopeTheta, paper.RMSNormEps = 1e6, 1e-5
	writeLMConfig(t, dir, paper)
	cfg, err := prsmed.PaperFrom(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mistral.RopeTheta != 1e6 || cfg.Mistral.RMSNormEps != 1e-5 || cfg.Name != "paper" {
		t.Errorf("PaperFrom: θ %g eps %g preset %q", cfg.Mistral.RopeTheta, cfg.Mistral.RMSNormEps, cfg.Name)
	}
}

// A Hugging Face LlavaForConditionalGeneration checkpoint of the same weights (as
// transformers 5 saves it, and as its modules are named in memory) loads into the same
// tensors, with a config.json in LlavaConfig's form (the language model under text_config).
func TestLoadLLaVAMedHuggingFaceLayouts(t *testing.T) {
	src := prsmedtest.TinyModel(t, 1)
	tower := clip.LLaVATowerPath + "."
	for _, layout := range []struct {
		name string
		hf   []string // pairs: a Go name prefix and the file's prefix for it; the first match wins
	}{
		{"saved", []string{
			tower, "vision_tower.",
			"model.mm_projector.0.", "multi_modal_projector.linear_1.",
			"model.mm_projector.2.", "multi_modal_projector.linear_2.",
			"", "language_model.",
		}},
		{"in memory", []string{
			tower, "model.vision_tower.vision_model.",
			"model.mm_projector.0.", "model.multi_modal_projector.linear_1.",
			"model.mm_projector.2.", "model.multi_modal_projector.linear_2.",
			"model.", "model.language_model.",
		}},
	} {
		t.Run(layout.name, func(t *testing.T) {
			dst := prsmedtest.TinyModel(t, 2)
			file := map[string]*torch.Tensor{}
			want := map[string]*torch.Tensor{}
			for _, e := range src.Store.Entries() {
				if (nn.Match("model.*", e.Name) || nn.Match("lm_head.*", e.Name)) && !strings.Contains(e.Name, ".lora_") {
					file[renamePrefix(e.Name, layout.hf)] = e.Tensor
					want[e.Name] = e.Tensor
				}
			}
			dir := t.TempDir()
			if err := torch.SaveSafetensors(filepath.Join(dir, "model.safetensors"), file, nil); err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(map[string]any{"model_type": "llava", "text_config": src.Config.Mistral,
				"vision_config": map[string]any{"hidden_size": src.Config.CLIP.HiddenSize}})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := dst.LoadLLaVAMed(dir); err != nil {
				t.Fatal(err)
			}
			for name, w := range want {
				e, _ := dst.Store.Get(name)
				if !reflect.DeepEqual(e.Tensor.Float32s(), w.Float32s()) {
					t.Errorf("%s is not the file's", name)
				}
			}
		})
	}
}

// renamePrefix replaces the first of pairs' prefixes (even positions) that name starts with
// by the one after it; a name that none matches is kept.
func renamePrefix(name string, pairs []string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.HasPrefix(name, pairs[i]) {
			return pairs[i+1] + strings.TrimPrefix(name, pairs[i])
		}
	}
	return name
}

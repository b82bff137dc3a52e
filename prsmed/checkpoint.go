package prsmed

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/torch"
)

// checkpointPatterns name the tensors a PRS-Med checkpoint holds: everything some stage
// trains, and the encoder's BatchNorm buffers (under image_encoder.).
func (m *Model) checkpointPatterns() []string {
	p := []string{"image_encoder.*", "fusion.*", "decoder.*", "*.lora_A.weight", "*.lora_B.weight"}
	if m.Config.TrainBackbone {
		p = append(p, "model.*", "lm_head.*")
	}
	return p
}

// SaveCheckpoint writes the model's trained tensors to dir/model.safetensors, its config
// to dir/config.json and its LoRA adapter in PEFT's format to dir/adapter/ (each file
// atomically).
func (m *Model) SaveCheckpoint(dir string) error {
	pats := m.checkpointPatterns()
	keep := func(e *nn.Entry) bool {
		for _, p := range pats {
			if nn.Match(p, e.Name) {
				return true
			}
		}
		return false
	}
	if err := m.Store.Save(filepath.Join(dir, "model.safetensors"), keep, map[string]string{"format": "pt", "model": "prsmed", "preset": m.Config.Name}); err != nil {
		return err
	}
	if err := SaveConfig(filepath.Join(dir, "config.json"), m.Config); err != nil {
		return err
	}
	if len(m.LoRA) > 0 {
		if err := loraadapter.Save(filepath.Join(dir, "adapter"), m.LoRA, m.Config.LoRA, "llava-med-v1.5-mistral-7b"); err != nil {
			return err
		}
	}
	return nil
}

// LoadCheckpoint reads dir/model.safetensors written by SaveCheckpoint (strictly: every
// tensor it should hold must be there with the right shape).
func (m *Model) LoadCheckpoint(dir string) error {
	_, err := m.Store.Load(filepath.Join(dir, "model.safetensors"), nn.LoadOptions{Only: m.checkpointPatterns()})
	return err
}

// LoadTinySAM reads the image encoder from TinySAM's tinysam_42.3.pth (or any file with
// `image_encoder.*` keys, such as a PRS-Med checkpoint of the official code).
func (m *Model) LoadTinySAM(path string) error {
	_, err := m.Store.Load(path, nn.LoadOptions{Only: []string{"image_encoder.*"}})
	return err
}

// LoadLLaVAMed reads the CLIP tower, projector and Mistral weights of LLaVA-Med v1.5 from
// its folder (model.safetensors.index.json, or pytorch_model.bin.index.json, or a single
// model.safetensors), in LLaVA-Med's layout or in a Hugging Face
// LlavaForConditionalGeneration's (a conversion saved by transformers 4.x or 5.x). Tensors the model does not use are ignored; a missing or wrong-shape
// tensor is an error that names it.
//
// The folder's config.json must describe the language model the model was built with (see
// PaperFrom): a different RoPE θ or norm epsilon would load every tensor and still compute
// something else, so it is refused with the differing keys named.
func (m *Model) LoadLLaVAMed(dir string) error {
	if err := checkLLaVAConfig(dir, m.Config.Mistral); err != nil {
		return err
	}
	path, err := llava.WeightsIn(dir)
	if err != nil {
		return err
	}
	rename, err := llavaLayout(path)
	if err != nil {
		return err
	}
	// LLaVA-Med predates the LoRA adapters: their weights are not missing.
	_, err = m.Store.Load(path, nn.LoadOptions{
		AllowUnexpected: true,
		Only:            []string{"model.*", "lm_head.*"},
		Optional:        []string{"*.lora_*"},
		Rename:          rename,
	})
	return err
}

// llavaLayout returns the renaming that maps a LLaVA checkpoint's names onto LLaVA-Med's
// (the store's): nil for LLaVA-Med's own layout; for a Hugging Face
// LlavaForConditionalGeneration checkpoint (language_model.model.* and
// language_model.lm_head.* as transformers saves it, or model.language_model.* and lm_head.*
// as its modules are named from 4.52 on; vision_tower[.vision_model].*;
// multi_modal_projector.linear_{1,2}.*), a function that maps those names.
func llavaLayout(path string) (func(string) (string, bool), error) {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	var hf bool
	for _, n := range []string{"language_model.model.embed_tokens.weight", "model.language_model.embed_tokens.weight"} {
		if _, ok := w.Info(n); ok {
			hf = true
		}
	}
	if !hf {
		return nil, nil
	}
	return hfLlavaName, nil
}

// hfLlavaName maps a Hugging Face Llava name onto LLaVA-Med's.
func hfLlavaName(n string) (string, bool) {
	if rest, ok := strings.CutPrefix(n, "language_model."); ok {
		if body, ok := strings.CutPrefix(rest, "model."); ok {
			return "model." + body, true
		}
		return rest, true // language_model.lm_head.*
	}
	if rest, ok := strings.CutPrefix(n, "model.language_model."); ok {
		return "model." + rest, true
	}
	rest := strings.TrimPrefix(n, "model.")
	if tower, ok := strings.CutPrefix(rest, "vision_tower."); ok {
		return clip.LLaVATowerPath + "." + strings.TrimPrefix(tower, "vision_model."), true
	}
	if proj, ok := strings.CutPrefix(rest, "multi_modal_projector.linear_1."); ok {
		return "model.mm_projector.0." + proj, true
	}
	if proj, ok := strings.CutPrefix(rest, "multi_modal_projector.linear_2."); ok {
		return "model.mm_projector.2." + proj, true
	}
	return n, true
}

// Load opens a PRS-Med checkpoint folder written by SaveCheckpoint (config.json and
// model.safetensors) with its tokenizer. With the paper preset, the frozen weights come
// from TinySAM and LLaVA-Med first (tinySAM and llavaDir; empty to skip).
//
// Load is the lower-level call that LoadBundle uses and checks nothing: to open a
// checkpoint, use LoadBundle, which also reads older folders without a manifest.
func Load(dir string, tok *tokenizer.Tokenizer, tinySAM, llavaDir string, dev torch.Device) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	m, err := New(cfg, tok, dev)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Model, error) {
		m.Close()
		return nil, err
	}
	if tinySAM != "" {
		if err := m.LoadTinySAM(tinySAM); err != nil {
			return fail(err)
		}
	}
	if llavaDir != "" {
		if err := m.LoadLLaVAMed(llavaDir); err != nil {
			return fail(err)
		}
	} else if !cfg.TrainBackbone {
		return fail(errors.New("prsmed: this checkpoint keeps LLaVA-Med frozen; give the LLaVA-Med folder"))
	}
	if err := m.LoadCheckpoint(dir); err != nil {
		return fail(err)
	}
	return m, nil
}

// PaperFrom is the paper preset with the language model's settings read from a LLaVA-Med
// folder's config.json (RoPE θ, norm epsilon, sizes, in transformers 4.x or 5.x layout)
// instead of transformers' defaults, which differ from LLaVA-Med v1.5's.
func PaperFrom(llavaDir string) (Config, error) {
	c := Paper()
	lm, err := mistral.LoadConfig(filepath.Join(llavaDir, "config.json"))
	if err != nil {
		return Config{}, err
	}
	c.Mistral = lm
	return c, c.Validate()
}

// checkLLaVAConfig compares the settings that change the language model's math with the
// folder's config.json.
func checkLLaVAConfig(dir string, have mistral.Config) error {
	want, err := mistral.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	var diff []string
	add := func(key string, a, b any) {
		if a != b {
			diff = append(diff, fmt.Sprintf("%s %v (file %v)", key, a, b))
		}
	}
	add("rope_theta", have.RopeTheta, want.RopeTheta)
	add("rms_norm_eps", have.RMSNormEps, want.RMSNormEps)
	add("hidden_size", have.HiddenSize, want.HiddenSize)
	add("intermediate_size", have.IntermediateSize, want.IntermediateSize)
	add("num_hidden_layers", have.NumHiddenLayers, want.NumHiddenLayers)
	add("num_attention_heads", have.NumAttentionHeads, want.NumAttentionHeads)
	add("num_key_value_heads", have.NumKeyValueHeads, want.NumKeyValueHeads)
	add("head_dim", have.HeadDim(), want.HeadDim())
	add("vocab_size", have.VocabSize, want.VocabSize)
	if len(diff) > 0 {
		return fmt.Errorf("prsmed: the model's language settings differ from %s: %s (build the config with prsmed.PaperFrom)",
			filepath.Join(dir, "config.json"), strings.Join(diff, ", "))
	}
	return nil
}

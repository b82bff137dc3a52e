// Package clip is the vision branch of LLaVA(-Med) as PRS-Med uses it: the CLIP ViT vision
// tower (openai/clip-vit-large-patch14-336), the mlp2x_gelu projector into the language
// model's embedding space, and LLaVA-Med's image preprocessing, with the state-dict names of
// the Hugging Face checkpoints so that released weights load as they are.
//
// Data flow for one image: [Preprocess] (pad to a square with the CLIP mean colour, PIL
// bicubic resize of the shortest side to 336, centre crop, CLIP mean/std) → (B, 3, 336, 336)
// → [Tower.Forward]: Conv2d 14×14 patches → 24×24 = 576 tokens, a class token in front,
// position embeddings, `pre_layrnorm`, then pre-LN encoder layers up to the selected one
// (hidden_states[-2]: 23 of 24 layers), CLS dropped → (B, 576, 1024) → [Projector.Forward]
// (Linear, exact GELU, Linear) → (B, 576, 4096).
//
// Names: a tower built at nn.Path `model.vision_tower.vision_tower.vision_model` (see
// [LLaVATowerPath]) registers `…embeddings.patch_embedding.weight`,
// `…encoder.layers.N.self_attn.q_proj.weight` and so on, as in the LLaVA-Med shards;
// [Tower.Load] reads them from those shards or from a standalone CLIP checkpoint
// (`vision_model.*`, the text tower ignored), detecting which.
package clip

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"

	"github.com/prsmed/prsmed-go/nn"
)

// Where LLaVA checkpoints keep the vision branch.
const (
	// LLaVATowerPath is the tower's module path in LLaVA(-Med) checkpoints: LLaVA's
	// CLIPVisionTower (model.vision_tower) wraps a CLIPVisionModel (.vision_tower) whose
	// transformer is .vision_model.
	LLaVATowerPath = "model.vision_tower.vision_tower.vision_model"
	// LLaVAProjectorPath is the projector's module path in LLaVA(-Med) checkpoints.
	LLaVAProjectorPath = "model.mm_projector"
)

// Feature selections (LLaVA's mm_vision_select_feature).
const (
	FeaturePatch    = "patch"     // drop the class token
	FeatureCLSPatch = "cls_patch" // keep it
)

// VisionConfig is a CLIP vision transformer (Hugging Face CLIPVisionConfig, whose JSON keys
// it reads) plus LLaVA's choice of output features (select_layer and select_feature, keys
// that Hugging Face configs do not have; LoadVisionConfig defaults them to -2 and "patch").
type VisionConfig struct {
	HiddenSize        int64   `json:"hidden_size"`
	IntermediateSize  int64   `json:"intermediate_size"`
	NumHiddenLayers   int64   `json:"num_hidden_layers"`
	NumAttentionHeads int64   `json:"num_attention_heads"`
	NumChannels       int64   `json:"num_channels"`
	ImageSize         int64   `json:"image_size"`
	PatchSize         int64   `json:"patch_size"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
	HiddenAct         string  `json:"hidden_act"`     // quick_gelu, gelu, gelu_new / gelu_pytorch_tanh, relu
	ProjectionDim     int64   `json:"projection_dim"` // CLIP's joint embedding; unused here

	// SelectLayer is the index into hidden_states (0: the embeddings after pre_layrnorm,
	// k: the output of layer k-1; negative counts from the end, -1 being the last layer's
	// output), LLaVA's mm_vision_select_layer. Layers after it are not run.
	SelectLayer int `json:"select_layer"`
	// SelectFeature is FeaturePatch (LLaVA's default) or FeatureCLSPatch.
	SelectFeature string `json:"select_feature"`
}

// ViTL14336 is openai/clip-vit-large-patch14-336 as LLaVA-Med v1.5 uses it: width 1024, 24
// layers, 16 heads, MLP 4096, patch 14 at 336 px (576 patches), LayerNorm eps 1e-5,
// quick_gelu, features from hidden_states[-2] without the class token.
func ViTL14336() VisionConfig {
	return VisionConfig{
		HiddenSize: 1024, IntermediateSize: 4096, NumHiddenLayers: 24, NumAttentionHeads: 16,
		NumChannels: 3, ImageSize: 336, PatchSize: 14, LayerNormEps: 1e-5, HiddenAct: "quick_gelu",
		ProjectionDim: 768, SelectLayer: -2, SelectFeature: FeaturePatch,
	}
}

// Tiny is the small config the PyTorch-parity tests use (TINY in
// third_party/golden/clip_ref.py): 28 px, patch 14 (4 patches), width 32, 3 layers, 4 heads,
// MLP 64.
func Tiny() VisionConfig {
	return VisionConfig{
		HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 3, NumAttentionHeads: 4,
		NumChannels: 3, ImageSize: 28, PatchSize: 14, LayerNormEps: 1e-5, HiddenAct: "quick_gelu",
		SelectLayer: -2, SelectFeature: FeaturePatch,
	}
}

// hfDefaults are CLIPVisionConfig's constructor defaults, which keys missing from a
// config.json take.
func hfDefaults() VisionConfig {
	return VisionConfig{
		HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12, NumAttentionHeads: 12,
		NumChannels: 3, ImageSize: 224, PatchSize: 32, LayerNormEps: 1e-5, HiddenAct: "quick_gelu",
		ProjectionDim: 512, SelectLayer: -2, SelectFeature: FeaturePatch,
	}
}

// Grid is the number of patches along one side.
func (c VisionConfig) Grid() int64 { return c.ImageSize / c.PatchSize }

// NumPatches is Grid².
func (c VisionConfig) NumPatches() int64 { return c.Grid() * c.Grid() }

// NumPositions is NumPatches + 1 (the class token).
func (c VisionConfig) NumPositions() int64 { return c.NumPatches() + 1 }

// HeadDim is the width of one attention head.
func (c VisionConfig) HeadDim() int64 { return c.HiddenSize / c.NumAttentionHeads }

// SelectIndex is SelectLayer as a non-negative index into hidden_states (0..layers), i.e.
// the number of encoder layers Forward runs.
func (c VisionConfig) SelectIndex() int {
	if c.SelectLayer < 0 {
		return int(c.NumHiddenLayers) + 1 + c.SelectLayer
	}
	return c.SelectLayer
}

// NumFeatures is the number of tokens Forward returns per image.
func (c VisionConfig) NumFeatures() int64 {
	if c.SelectFeature == FeatureCLSPatch {
		return c.NumPositions()
	}
	return c.NumPatches()
}

// Activation maps hidden_act to a layer activation.
func (c VisionConfig) Activation() (nn.Activation, error) {
	switch c.HiddenAct {
	case "quick_gelu":
		return nn.QuickGELU, nil
	case "gelu":
		return nn.GELU, nil
	case "gelu_new", "gelu_pytorch_tanh":
		return nn.GELUTanh, nil
	case "relu":
		return nn.ReLU, nil
	}
	return 0, fmt.Errorf("clip: unsupported hidden_act %q", c.HiddenAct)
}

// Validate reports the first inconsistency in the config.
func (c VisionConfig) Validate() error {
	switch {
	case c.HiddenSize <= 0 || c.IntermediateSize <= 0 || c.NumHiddenLayers <= 0 || c.NumAttentionHeads <= 0 || c.NumChannels <= 0:
		return fmt.Errorf("clip: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads and num_channels must be positive")
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("clip: hidden_size %d is not divisible by %d heads", c.HiddenSize, c.NumAttentionHeads)
	case c.PatchSize <= 0 || c.ImageSize <= 0 || c.ImageSize%c.PatchSize != 0:
		return fmt.Errorf("clip: image_size %d is not a positive multiple of patch_size %d", c.ImageSize, c.PatchSize)
	case c.LayerNormEps <= 0:
		return fmt.Errorf("clip: layer_norm_eps must be positive")
	case c.SelectFeature != FeaturePatch && c.SelectFeature != FeatureCLSPatch:
		return fmt.Errorf("clip: select feature %q is neither %q nor %q", c.SelectFeature, FeaturePatch, FeatureCLSPatch)
	}
	if i := c.SelectIndex(); i < 0 || i > int(c.NumHiddenLayers) {
		return fmt.Errorf("clip: select layer %d is outside hidden_states[-%d..%d]", c.SelectLayer, c.NumHiddenLayers+1, c.NumHiddenLayers)
	}
	if _, err := c.Activation(); err != nil {
		return err
	}
	return nil
}

// LoadVisionConfig reads a vision config: "vit-l-14-336" or "" gives ViTL14336; otherwise a
// Hugging Face config.json — a CLIPConfig (its `vision_config`, or the legacy
// `vision_config_dict`, which takes precedence as in transformers), a LLaVA-style config
// that embeds one as `vision_config`, or a bare CLIPVisionConfig. Keys the file omits take
// CLIPVisionConfig's defaults (ViT-B/32 at 224 px), as in transformers; SelectLayer is -2 and
// SelectFeature "patch" (see LLaVAConfig.Apply to take them from a LLaVA config).
func LoadVisionConfig(nameOrPath string) (VisionConfig, error) {
	if nameOrPath == "" || nameOrPath == "vit-l-14-336" {
		return ViTL14336(), nil
	}
	raw, err := os.ReadFile(nameOrPath)
	if err != nil {
		return VisionConfig{}, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return VisionConfig{}, fmt.Errorf("clip: config %s: %v", nameOrPath, err)
	}
	body := raw
	if v, ok := top["vision_config_dict"]; ok && string(v) != "null" {
		body = v
	} else if v, ok := top["vision_config"]; ok && string(v) != "null" {
		body = v
	} else if _, ok := top["hidden_size"]; !ok {
		if _, ok := top["patch_size"]; !ok {
			return VisionConfig{}, fmt.Errorf("clip: config %s holds no vision_config", nameOrPath)
		}
	}
	c := hfDefaults()
	if err := json.Unmarshal(body, &c); err != nil {
		return VisionConfig{}, fmt.Errorf("clip: config %s: %v", nameOrPath, err)
	}
	return c, c.Validate()
}

// LLaVAConfig holds the multimodal keys of a LLaVA(-Med) config.json. LoadLLaVAConfig also
// reads a Hugging Face LlavaConfig (transformers' LlavaForConditionalGeneration) into the same
// fields.
type LLaVAConfig struct {
	VisionTower      string `json:"mm_vision_tower"`          // "openai/clip-vit-large-patch14-336"
	SelectLayer      *int   `json:"mm_vision_select_layer"`   // -2
	SelectFeature    string `json:"mm_vision_select_feature"` // "patch" when absent
	ProjectorType    string `json:"mm_projector_type"`        // "mlp2x_gelu"; LLaVA's default when absent is "linear"
	MMHiddenSize     int64  `json:"mm_hidden_size"`           // 1024
	HiddenSize       int64  `json:"hidden_size"`              // 4096
	ImageAspectRatio string `json:"image_aspect_ratio"`       // "pad"
}

// hfLlava holds the keys of a Hugging Face LlavaConfig that LoadLLaVAConfig maps.
type hfLlava struct {
	FeatureLayer    json.RawMessage `json:"vision_feature_layer"`           // -2; a list concatenates layers
	FeatureStrategy *string         `json:"vision_feature_select_strategy"` // "default" (no class token) or "full"
	ProjectorAct    *string         `json:"projector_hidden_act"`           // "gelu"
	ProjectorBias   *bool           `json:"multimodal_projector_bias"`      // true
	ProjectorLayers *int            `json:"projector_num_layers"`           // absent in LlavaConfig: 2
	VisionConfig    *struct {
		HiddenSize *int64 `json:"hidden_size"`
	} `json:"vision_config"`
	TextConfig *struct {
		HiddenSize *int64 `json:"hidden_size"`
	} `json:"text_config"`
}

// LoadLLaVAConfig reads the multimodal keys of a LLaVA config.json: LLaVA(-Med)'s own
// (mm_vision_select_layer, mm_projector_type, ...) or, when the file is a Hugging Face
// LlavaConfig (it has vision_config and text_config and no mm_* keys), transformers' keys
// mapped onto the same fields: vision_feature_layer → SelectLayer (default -2),
// vision_feature_select_strategy "default"/"full" → "patch"/"cls_patch",
// multi_modal_projector (Linear, projector_hidden_act, Linear) → "mlp2x_gelu" from
// vision_config.hidden_size to text_config.hidden_size. Settings the projector or the
// tower here do not implement (a list of feature layers, another projector activation, a
// projector without biases) are refused.
func LoadLLaVAConfig(path string) (LLaVAConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return LLaVAConfig{}, err
	}
	var l LLaVAConfig
	if err := json.Unmarshal(raw, &l); err != nil {
		return LLaVAConfig{}, fmt.Errorf("clip: config %s: %v", path, err)
	}
	var h hfLlava
	if err := json.Unmarshal(raw, &h); err != nil {
		return LLaVAConfig{}, fmt.Errorf("clip: config %s: %v", path, err)
	}
	if h.VisionConfig == nil || h.TextConfig == nil || l.ProjectorType != "" || l.MMHiddenSize != 0 {
		return l, nil
	}
	if err := h.apply(&l); err != nil {
		return LLaVAConfig{}, fmt.Errorf("clip: config %s: %w", path, err)
	}
	return l, nil
}

// apply maps a Hugging Face LlavaConfig onto l.
func (h hfLlava) apply(l *LLaVAConfig) error {
	layer := -2
	if len(h.FeatureLayer) > 0 && string(h.FeatureLayer) != "null" {
		if err := json.Unmarshal(h.FeatureLayer, &layer); err != nil {
			return fmt.Errorf("vision_feature_layer %s: only a single layer is supported", h.FeatureLayer)
		}
	}
	l.SelectLayer = &layer
	l.SelectFeature = FeaturePatch
	if h.FeatureStrategy != nil {
		switch *h.FeatureStrategy {
		case "default":
		case "full":
			l.SelectFeature = FeatureCLSPatch
		default:
			return fmt.Errorf("vision_feature_select_strategy %q is neither \"default\" nor \"full\"", *h.FeatureStrategy)
		}
	}
	if h.ProjectorAct != nil && *h.ProjectorAct != "gelu" {
		return fmt.Errorf("projector_hidden_act %q: only the exact gelu of mlp2x_gelu is implemented", *h.ProjectorAct)
	}
	if h.ProjectorBias != nil && !*h.ProjectorBias {
		return fmt.Errorf("multimodal_projector_bias false: the projector's linear layers have biases")
	}
	if h.ProjectorLayers != nil && *h.ProjectorLayers != 2 {
		return fmt.Errorf("projector_num_layers %d: only two linear layers are implemented", *h.ProjectorLayers)
	}
	l.ProjectorType = "mlp2x_gelu"
	l.MMHiddenSize, l.HiddenSize = hfDefaults().HiddenSize, 4096 // CLIPVisionConfig's and LlamaConfig's defaults
	if h.VisionConfig.HiddenSize != nil {
		l.MMHiddenSize = *h.VisionConfig.HiddenSize
	}
	if h.TextConfig.HiddenSize != nil {
		l.HiddenSize = *h.TextConfig.HiddenSize
	}
	return nil
}

// Apply sets the vision config's feature selection from the LLaVA config (keys it lacks
// leave the config as it is, except the feature, whose LLaVA default is "patch").
func (l LLaVAConfig) Apply(c *VisionConfig) {
	if l.SelectLayer != nil {
		c.SelectLayer = *l.SelectLayer
	}
	c.SelectFeature = FeaturePatch
	if l.SelectFeature != "" {
		c.SelectFeature = l.SelectFeature
	}
}

// Projector is the projector config the LLaVA config describes (LLaVA's builder defaults
// to "linear" when mm_projector_type is absent).
func (l LLaVAConfig) Projector() ProjectorConfig {
	t := l.ProjectorType
	if t == "" {
		t = "linear"
	}
	return ProjectorConfig{Type: t, InDim: l.MMHiddenSize, OutDim: l.HiddenSize}
}

// Preprocess is the preprocessing the LLaVA config asks for: DefaultPreprocess with Pad set
// when image_aspect_ratio is "pad".
func (l LLaVAConfig) Preprocess() PreprocessConfig {
	p := DefaultPreprocess()
	p.Pad = l.ImageAspectRatio == "pad"
	return p
}

// ProjectorConfig describes the multimodal projector (LLaVA's mm_projector_type,
// mm_hidden_size and the language model's hidden_size).
type ProjectorConfig struct {
	Type   string // "mlp2x_gelu" (LLaVA-Med v1.5), "mlpNx_gelu" or "linear"
	InDim  int64  // vision feature width (1024)
	OutDim int64  // language model width (4096)
}

// DefaultProjector is LLaVA-Med v1.5's mlp2x_gelu from 1024 to 4096.
func DefaultProjector() ProjectorConfig {
	return ProjectorConfig{Type: "mlp2x_gelu", InDim: 1024, OutDim: 4096}
}

var mlpGelu = regexp.MustCompile(`^mlp(\d+)x_gelu$`)

// Depth is the number of Linear layers the type asks for.
func (c ProjectorConfig) Depth() (int, error) {
	if c.Type == "linear" {
		return 1, nil
	}
	if m := mlpGelu.FindStringSubmatch(c.Type); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil && n >= 1 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("clip: unsupported projector type %q (want linear or mlpNx_gelu)", c.Type)
}

// Validate reports the first inconsistency in the config.
func (c ProjectorConfig) Validate() error {
	if _, err := c.Depth(); err != nil {
		return err
	}
	if c.InDim <= 0 || c.OutDim <= 0 {
		return fmt.Errorf("clip: projector sizes %d→%d must be positive", c.InDim, c.OutDim)
	}
	return nil
}

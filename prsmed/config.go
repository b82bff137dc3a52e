package prsmed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
)

// Config is every setting of the model; Paper and Tiny are the presets.
type Config struct {
	Name      string `json:"name"`
	ImageSize int64  `json:"image_size"` // S: the SAM branch's input side
	MaskSize  int64  `json:"mask_size"`  // M: the mask logits' side

	TinyViT        tinyvit.Config        `json:"tinyvit"`
	CLIP           clip.VisionConfig     `json:"clip"`
	CLIPSelect     int                   `json:"clip_select_layer"` // hidden state LLaVA reads (-2)
	CLIPPreprocess clip.PreprocessConfig `json:"clip_preprocess"`
	Projector      clip.ProjectorConfig  `json:"projector"`
	Mistral        mistral.Config        `json:"mistral"`
	LoRA           loraadapter.Config    `json:"lora"`
	Fusion         FusionConfig          `json:"fusion"`
	Decoder        DecoderConfig         `json:"decoder"`
	Loss           losses.Weights        `json:"loss"`
	Template       llava.Template        `json:"template"`

	// TrainBackbone says the CLIP tower, projector and language model start untrained and
	// learn in a stage-0 pretraining on the answers (the tiny preset); the paper model
	// loads them from LLaVA-Med and keeps them frozen.
	TrainBackbone bool `json:"train_backbone"`
	// MaxAnswerTokens caps generation.
	MaxAnswerTokens int `json:"max_answer_tokens"`
}

// Paper is the full model of the paper: TinySAM vit_t at 1024, CLIP ViT-L/14-336,
// LLaVA-Med's Mistral-7B with LoRA r16 on q/k/v/o, fusion at 256 channels, a 1024 mask.
func Paper() Config {
	return Config{
		Name: "paper", ImageSize: 1024, MaskSize: 1024,
		TinyViT: tinyvit.VitT(), CLIP: clip.ViTL14336(), CLIPSelect: -2, CLIPPreprocess: clip.DefaultPreprocess(),
		Projector: clip.DefaultProjector(),
		Mistral:   mistral.DefaultConfig(), LoRA: loraadapter.DefaultConfig(),
		Fusion:  FusionConfig{Dim: 256, TextHidden: 512, Heads: 8, FFN: 512},
		Decoder: DecoderConfig{MinChannels: 16, Groups: 8},
		Loss:    losses.DefaultWeights(), Template: llava.PRSMed, MaxAnswerTokens: 64,
	}
}

// Tiny is a small model for CPU tests and the quickstart: 64-pixel images, a 4-layer
// TinyViT, a 3-layer CLIP (read at its second layer), a 2-layer decoder over the template
// tokenizer's vocabulary; its backbone trains from scratch. Its CLIP cuts the 48-pixel image
// into a 4×4 grid of 12-pixel patches: with an even grid, as ViT-L/14-336's 24×24, the
// image centre falls on patch corners and each quadrant is whole patches, so the zone of a
// finding can be read from which patches hold it. A 3×3 grid of 16-pixel patches put the
// centre in the middle patch, and stage 0 needed twice the epochs to learn the zones
// (docs/training.md).
func Tiny(vocab int64) Config {
	m := mistral.Tiny(vocab)
	lora := loraadapter.DefaultConfig()
	lora.R, lora.Alpha = 8, 8
	pre := clip.DefaultPreprocess()
	pre.Size = 48
	return Config{
		Name: "tiny", ImageSize: 64, MaskSize: 64,
		TinyViT: tinyvit.Tiny(),
		CLIP: clip.VisionConfig{HiddenSize: 48, IntermediateSize: 96, NumHiddenLayers: 3, NumAttentionHeads: 4,
			NumChannels: 3, ImageSize: 48, PatchSize: 12, LayerNormEps: 1e-5, HiddenAct: "quick_gelu",
			SelectLayer: -2, SelectFeature: clip.FeaturePatch},
		CLIPSelect:     -2,
		CLIPPreprocess: pre,
		Projector:      clip.ProjectorConfig{Type: "mlp2x_gelu", InDim: 48, OutDim: 64},
		Mistral:        m,
		LoRA:           lora,
		Fusion:         FusionConfig{Dim: 32, TextHidden: 64, Heads: 4, FFN: 64},
		Decoder:        DecoderConfig{MinChannels: 8, Groups: 4},
		Loss:           losses.DefaultWeights(), Template: llava.PRSMed, TrainBackbone: true, MaxAnswerTokens: 24,
	}
}

// Validate checks the parts and how they fit together.
func (c Config) Validate() error {
	if c.TinyViT.ImageSize != c.ImageSize {
		return fmt.Errorf("prsmed: tinyvit.image_size %d differs from image_size %d", c.TinyViT.ImageSize, c.ImageSize)
	}
	if err := c.TinyViT.Validate(); err != nil {
		return err
	}
	if err := c.Mistral.Validate(); err != nil {
		return err
	}
	if _, err := DecoderStages(c.ImageSize/16, c.MaskSize); err != nil {
		return err
	}
	if c.Fusion.Dim != c.TinyViT.NeckDim {
		return fmt.Errorf("prsmed: fusion.dim %d must equal the encoder's neck_dim %d (the skip connection adds them)", c.Fusion.Dim, c.TinyViT.NeckDim)
	}
	if c.Fusion.Heads <= 0 || c.Fusion.Dim%c.Fusion.Heads != 0 {
		return fmt.Errorf("prsmed: fusion.dim %d is not divisible by %d heads", c.Fusion.Dim, c.Fusion.Heads)
	}
	return nil
}

// SaveConfig writes c as JSON.
func SaveConfig(path string, c Config) error {
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, raw)
}

// LoadConfig reads a JSON config written by SaveConfig. A field this version does not
// know is an error, not ignored: it is a setting of the model (written by a newer
// version, or edited by hand) that the model built here would silently lack.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return Config{}, fmt.Errorf("prsmed: config %s: %v: a setting this version of prsmed-go does not know (a checkpoint written by a newer version?)", path, err)
		}
		return Config{}, fmt.Errorf("prsmed: config %s: %v", path, err)
	}
	return c, c.Validate()
}

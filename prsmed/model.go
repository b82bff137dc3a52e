package prsmed

import (
	"fmt"
	"strings"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/torch"
)

// Model is PRS-Med: TinyViT + LLaVA (with LoRA) + fusion + mask decoder. All parameters
// live in Store under their checkpoint names: `image_encoder.*` (TinyViT),
// `model.vision_tower.vision_tower.vision_model.*` (CLIP), `model.mm_projector.*`,
// `model.*` / `lm_head.*` (Mistral), `*.lora_A/B.weight` (LoRA), `fusion.*`, `decoder.*`.
type Model struct {
	Config  Config
	Store   *nn.Store
	Encoder *tinyvit.Encoder
	CLIP    *clip.Tower
	LLaVA   *llava.Model
	LoRA    []*loraadapter.Linear
	Fusion  *Fusion
	Decoder *Decoder
}

// New builds a model with freshly initialised parameters on dev. tok is the tokenizer
// (LLaVA-Med's tokenizer.model for the paper preset; the template tokenizer for Tiny).
func New(c Config, tok *tokenizer.Tokenizer, dev torch.Device) (m *Model, err error) {
	defer torch.Recover(&err)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if int64(tok.VocabSize()) > c.Mistral.VocabSize {
		return nil, fmt.Errorf("prsmed: the tokenizer has %d pieces, the decoder's vocabulary %d", tok.VocabSize(), c.Mistral.VocabSize)
	}
	st := nn.NewStore(dev)
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	root := st.Root()
	m = &Model{Config: c, Store: st}
	if m.Encoder, err = tinyvit.New(root.Sub("image_encoder"), c.TinyViT); err != nil {
		return nil, err
	}
	vc := c.CLIP
	vc.SelectLayer, vc.SelectFeature = c.CLIPSelect, clip.FeaturePatch
	if m.CLIP, err = clip.NewTower(root.Sub("model.vision_tower.vision_tower.vision_model"), vc); err != nil {
		return nil, err
	}
	proj, err := clip.NewProjector(root.Sub("model.mm_projector"), c.Projector)
	if err != nil {
		return nil, err
	}
	lm, err := mistral.New(root, c.Mistral)
	if err != nil {
		return nil, err
	}
	m.LLaVA = &llava.Model{Vision: m.CLIP, Projector: proj, LM: lm, Tok: tok, Template: c.Template}
	if m.LoRA, err = loraadapter.Inject(st, lm.LinearSlots(), c.LoRA); err != nil {
		return nil, err
	}
	m.Fusion = NewFusion(root.Sub("fusion"), c.TinyViT.NeckDim, c.Mistral.HiddenSize, c.Fusion)
	if m.Decoder, err = NewDecoder(root.Sub("decoder"), c.Fusion.Dim, c.ImageSize/16, c.MaskSize, c.Decoder); err != nil {
		return nil, err
	}
	return m, nil
}

// Close frees every parameter.
func (m *Model) Close() { m.Store.Close() }

// Stage chooses what trains.
type Stage int

// Training stages. Stage 1 and stage 2 are the paper's: stage 1 trains fusion and decoder
// with everything else frozen; stage 2 trains LoRA, TinyViT, fusion and decoder with CLIP,
// the projector and the decoder's base weights frozen (a trainer may keep LoRA frozen too:
// train.Config.Stage2FreezeLoRA). Stage 0 exists only for presets
// whose vision-language backbone starts untrained (TrainBackbone, the tiny preset): it
// trains CLIP, the projector and the language model on the answers alone (cross-entropy),
// standing in for the LLaVA-Med pretraining that the paper model starts from.
const (
	Stage0 Stage = 0
	Stage1 Stage = 1
	Stage2 Stage = 2
)

// LoRAPatterns match the names of the language model's LoRA adapter weights (for
// nn.Store.Freeze and Unfreeze).
func LoRAPatterns() []string { return []string{"*.lora_A.weight", "*.lora_B.weight"} }

// SetStage freezes and unfreezes parameters for a stage.
func (m *Model) SetStage(stage Stage) {
	st := m.Store
	st.Freeze("*")
	switch stage {
	case Stage0:
		st.Unfreeze("model.*", "lm_head.*")
		st.Freeze(LoRAPatterns()...)
	case Stage1:
		st.Unfreeze("fusion.*", "decoder.*")
	case Stage2:
		st.Unfreeze("fusion.*", "decoder.*", "image_encoder.*")
		st.Unfreeze(LoRAPatterns()...)
	}
	// The unused classifier head of the encoder never trains.
	st.Freeze("image_encoder.head.*", "image_encoder.norm_head.*")
}

// Inputs are a batch's preprocessed tensors.
type Inputs struct {
	SAM     *torch.Tensor // (B, 3, S, S) for TinyViT
	CLIP    *torch.Tensor // (B, 3, R, R) for the CLIP tower
	Samples []llava.Sample
	Masks   *torch.Tensor // (B, 1, M, M) targets in [0, 1] (training only)
}

// Output is a forward pass's result.
type Output struct {
	MaskLogits *torch.Tensor // (B, 1, M, M)
	Loss       losses.Parts  // set when Masks were given
	LLaVA      *llava.Output // without Logits and Loss where the prompts ran alone (Forward)
}

// Forward runs the training forward pass: one decoder pass over prompt and answer; the
// mask branch reads the hidden states of the prompt positions (the causal mask makes them
// those of a pass over the prompt alone). The scope says whether the call trains
// (torch.Scope.Train): a part of the model with no trainable parameter then runs in
// evaluation mode, as fine-tuning code calls eval() on frozen modules, so the BatchNorm
// statistics of a frozen TinyViT never drift. A training call that trains no parameter of
// the language model (stage 1, or a stage 2 that keeps the LoRA adapters frozen) runs it
// over the prompts alone (llava.Model.Prompts), as prediction does: the answers would only
// give the answer loss, which trains nothing there, so Loss.CE is then nil.
func (m *Model) Forward(s *torch.Scope, in Inputs) (out *Output, err error) {
	defer torch.Recover(&err)
	zImg := m.Encoder.Forward(m.modeFor(s, "image_encoder."), in.SAM)
	var lo *llava.Output
	if lm := m.modeFor(s, "model.", "lm_head."); lm != s {
		// modeFor gave an evaluation-mode child: the call trains and nothing of the
		// language model does.
		questions := make([]string, len(in.Samples))
		for i, smp := range in.Samples {
			questions[i] = smp.Question
		}
		b, hidden, err := m.LLaVA.Prompts(lm, in.CLIP, questions)
		if err != nil {
			return nil, err
		}
		lo = &llava.Output{Batch: b, Hidden: hidden}
	} else if lo, err = m.LLaVA.Forward(lm, in.CLIP, in.Samples); err != nil {
		return nil, err
	}
	logits := m.Decoder.Forward(s, m.Fusion.Forward(s, zImg, lo.Hidden, lo.Batch.PromptMask))
	out = &Output{MaskLogits: logits, LLaVA: lo}
	if in.Masks != nil {
		out.Loss = m.Config.Loss.WithCE(s, logits, in.Masks, lo.Loss)
	}
	return out, nil
}

// modeFor is s, or an evaluation-mode child of it when s trains and no parameter whose
// name starts with one of the prefixes is trainable.
func (m *Model) modeFor(s *torch.Scope, prefixes ...string) *torch.Scope {
	if !s.Training("prsmed.Model") {
		return s
	}
	for _, e := range m.Store.Entries() {
		if e.Kind != nn.Parameter || !e.Trainable {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(e.Name, p) {
				return s
			}
		}
	}
	return s.Eval()
}

// TrainableCount is the number of parameter elements a stage trains (the model's current
// trainable flags are left as they were).
func (m *Model) TrainableCount(stage Stage) int64 {
	was := map[string]bool{}
	for _, e := range m.Store.Entries() {
		was[e.Name] = e.Trainable
	}
	m.SetStage(stage)
	n := m.Store.NumParams(true)
	for _, e := range m.Store.Entries() {
		if e.Kind == nn.Parameter && e.Trainable != was[e.Name] {
			m.Store.SetTrainable(was[e.Name], e.Name)
		}
	}
	return n
}

package prsmed

import (
	"context"
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/zones"
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

// Training stages. Stage 1 and stage 2 are MODEL.md's: stage 1 trains fusion and decoder
// with everything else frozen; stage 2 trains LoRA, TinyViT, fusion and decoder with CLIP,
// the projector and the decoder's base weights frozen. Stage 0 exists only for presets
// whose vision-language backbone starts untrained (TrainBackbone, the tiny preset): it
// trains CLIP, the projector and the language model on the answers alone (cross-entropy),
// standing in for the LLaVA-Med pretraining that the paper model starts from.
const (
	Stage0 Stage = 0
	Stage1 Stage = 1
	Stage2 Stage = 2
)

// SetStage freezes and unfreezes parameters for a stage.
func (m *Model) SetStage(stage Stage) {
	st := m.Store
	st.Freeze("*")
	switch stage {
	case Stage0:
		st.Unfreeze("model.*", "lm_head.*")
		st.Freeze("*.lora_A.weight", "*.lora_B.weight")
	case Stage1:
		st.Unfreeze("fusion.*", "decoder.*")
	case Stage2:
		st.Unfreeze("fusion.*", "decoder.*", "image_encoder.*", "*.lora_A.weight", "*.lora_B.weight")
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
	LLaVA      *llava.Output
}

// Forward runs the training forward pass: one decoder pass over prompt and answer; the
// mask branch reads the hidden states of the prompt positions (the causal mask makes them
// those of a pass over the prompt alone).
func (m *Model) Forward(s *torch.Scope, in Inputs) (out *Output, err error) {
	defer torch.Recover(&err)
	zImg := m.Encoder.Forward(s, in.SAM)
	lo, err := m.LLaVA.Forward(s, in.CLIP, in.Samples)
	if err != nil {
		return nil, err
	}
	logits := m.Decoder.Forward(s, m.Fusion.Forward(s, zImg, lo.Hidden, lo.Batch.PromptMask))
	out = &Output{MaskLogits: logits, LLaVA: lo}
	if in.Masks != nil {
		w := m.Config.Loss
		out.Loss = losses.Parts{BCE: losses.BCE(s, logits, in.Masks, nil), Dice: losses.Dice(s, logits, in.Masks), CE: lo.Loss}
		out.Loss.Total = out.Loss.BCE.MulScalar(s, w.BCE).Add(s, out.Loss.Dice.MulScalar(s, w.Dice)).Add(s, lo.Loss.MulScalar(s, w.CE))
	}
	return out, nil
}

// Prediction is the answer to one image and question.
type Prediction struct {
	Mask   *image.Gray // probabilities ×255 at the image's own size
	Prob   []float32   // probabilities at the image's own size, row-major
	Answer string      // the generated answer
	Zone   zones.Zone  // the zone the answer names (0 when it names none)
	Named  bool        // whether the answer named exactly one zone
}

// PreprocessBatch makes the SAM and CLIP inputs of images.
func (m *Model) PreprocessBatch(s *torch.Scope, imgs []image.Image) (sam, clipIn *torch.Tensor) {
	var a, b []*torch.Tensor
	for _, img := range imgs {
		a = append(a, tinyvit.Preprocess(s, img, m.Config.ImageSize))
		x, err := clip.Preprocess(s, img, m.Config.CLIPPreprocess)
		if err != nil {
			panic(&torch.Error{Op: "clip preprocess", Msg: err.Error()})
		}
		b = append(b, x)
	}
	return torch.Cat(s, 0, a...), torch.Cat(s, 0, b...)
}

// Predict segments the lesion a question asks about and answers it.
func (m *Model) Predict(ctx context.Context, img image.Image, question string) (p *Prediction, err error) {
	ps, err := m.PredictBatch(ctx, []image.Image{img}, []string{question})
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// PredictBatch is Predict for several images at once.
func (m *Model) PredictBatch(ctx context.Context, imgs []image.Image, questions []string) (ps []*Prediction, err error) {
	defer torch.Recover(&err)
	if len(imgs) != len(questions) {
		return nil, fmt.Errorf("prsmed: %d images and %d questions", len(imgs), len(questions))
	}
	training := m.Store.Training()
	m.Store.Train(false)
	defer m.Store.Train(training)
	s := torch.NewScope(m.Store.Device()).NoGrad()
	defer s.Close()
	sam, clipIn := m.PreprocessBatch(s, imgs)
	zImg := m.Encoder.Forward(s, sam)
	answers, b, hidden, err := m.LLaVA.Answer(ctx, s, clipIn, questions, mistral.GenerateOptions{MaxNewTokens: m.Config.MaxAnswerTokens})
	if err != nil {
		return nil, err
	}
	probs := m.Decoder.Forward(s, m.Fusion.Forward(s, zImg, hidden, b.PromptMask)).Sigmoid(s)
	for i, img := range imgs {
		bd := img.Bounds()
		h, w := int64(bd.Dy()), int64(bd.Dx())
		pr := torch.Interpolate(s, probs.Narrow(s, 0, int64(i), 1), h, w, torch.Bilinear, false)
		v := pr.Float32s()
		g := image.NewGray(image.Rect(0, 0, int(w), int(h)))
		for j, x := range v {
			g.Pix[j] = uint8(x*255 + 0.5)
		}
		z, ok := zones.Parse(answers[i])
		ps = append(ps, &Prediction{Mask: g, Prob: v, Answer: answers[i], Zone: z, Named: ok})
	}
	return ps, nil
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

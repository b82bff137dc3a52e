package prsmed

import (
	"context"
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/zones"
)

// Prediction is the answer to one image and question.
type Prediction struct {
	Mask   *image.Gray // probabilities ×255 at the image's own size
	Prob   []float32   // probabilities at the image's own size, row-major
	Answer string      // the generated answer
	Zone   zones.Zone  // the zone the answer names (0 when it names none)
	Named  bool        // whether the answer named exactly one zone
}

// Predict segments the lesion a question asks about and answers it.
func (m *Model) Predict(ctx context.Context, img image.Image, question string) (p *Prediction, err error) {
	ps, err := m.PredictBatch(ctx, []image.Image{img}, []string{question})
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// PredictBatch is Predict for several images at once. It changes nothing on the model (it
// runs in its own evaluation-mode, no-grad scope), so any number of goroutines may call it
// on one model at the same time; only a training step on the same model must not overlap
// it. Inputs are cast to the parameters' dtype, so a bfloat16 or float16 model predicts
// from the same images as a float32 one; probabilities are computed in float32.
func (m *Model) PredictBatch(ctx context.Context, imgs []image.Image, questions []string) (ps []*Prediction, err error) {
	defer torch.Recover(&err)
	if len(imgs) != len(questions) {
		return nil, fmt.Errorf("prsmed: %d images and %d questions", len(imgs), len(questions))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dev, dt := m.Store.Device(), m.Store.DType()
	s := torch.NewScope(dev).Eval().NoGrad()
	defer s.Close()
	host := s.On(torch.CPU)
	sam, clipIn, err := m.PreprocessBatch(host, imgs)
	if err != nil {
		return nil, err
	}
	sam, clipIn = sam.To(s, dev, dt), clipIn.To(s, dev, dt)
	zImg := m.Encoder.Forward(s, sam)
	answers, b, hidden, err := m.LLaVA.Answer(ctx, s, clipIn, questions, mistral.GenerateOptions{MaxNewTokens: m.Config.MaxAnswerTokens})
	if err != nil {
		return nil, err
	}
	probs := m.Decoder.Forward(s, m.Fusion.Forward(s, zImg, hidden, b.PromptMask)).ToDType(s, torch.Float32).Sigmoid(s)
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

package llava

import (
	"context"
	"fmt"
	"strings"

	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/torch"
)

// Model is LLaVA: vision tower → projector → image embeddings spliced into the decoder's
// input embeddings at the <image> placeholder.
type Model struct {
	Vision    nn.Layer // preprocessed images (B, 3, H, W) → patch features (B, N, D)
	Projector nn.Layer
	LM        *mistral.Model
	Tok       *tokenizer.Tokenizer
	Template  Template
	// MaxLength caps the spliced sequence (prompt, image features and answer); 0 means the
	// decoder's max_position_embeddings.
	MaxLength int64
}

// Sample is one training or inference example.
type Sample struct {
	Question string
	Answer   string // empty at inference
}

// Batch is a tokenised, spliced and right-padded batch.
type Batch struct {
	Embeds        *torch.Tensor // (B, L, H) input embeddings with the image features spliced in
	AttentionMask *torch.Tensor // (B, L) int64: 1 real, 0 padding
	Labels        *torch.Tensor // (B, L) int64: answer ids (and EOS) where trained, IgnoreLabel elsewhere
	PromptMask    *torch.Tensor // (B, L) bool: the prompt positions (image, question, template), no answer, no padding
	Lengths       []int64       // real length of each row
	PromptLengths []int64       // prompt length of each row (with the image features)
}

// Tokens gives the prompt ids (with BOS and one ImageTokenID) and the answer ids (with EOS
// when there is an answer). Prompt and answer are encoded separately and concatenated, so
// that training sees exactly the prompt ids that inference feeds.
func (m *Model) Tokens(smp Sample) (prompt, answer []int64, err error) {
	text := m.Template.Prompt(smp.Question)
	if strings.Count(text, ImageToken) != 1 {
		return nil, nil, fmt.Errorf("llava: the prompt must hold exactly one %s", ImageToken)
	}
	for _, id := range m.Tok.EncodeWithPlaceholder(text, ImageToken, ImageTokenID, tokenizer.EncodeOptions{AddBOS: true}) {
		prompt = append(prompt, int64(id))
	}
	if smp.Answer != "" {
		for _, id := range m.Tok.EncodeWith(strings.TrimSpace(smp.Answer), tokenizer.EncodeOptions{AddEOS: true}) {
			answer = append(answer, int64(id))
		}
	}
	return prompt, answer, nil
}

// Build tokenises the samples, runs the vision tower and projector on pixels (B, 3, H, W),
// splices the image embeddings in place of the placeholder, and right-pads the rows.
func (m *Model) Build(s *torch.Scope, pixels *torch.Tensor, samples []Sample) (*Batch, error) {
	if int64(len(samples)) != pixels.Size(0) {
		return nil, fmt.Errorf("llava: %d samples for %d images", len(samples), pixels.Size(0))
	}
	img := m.Projector.Forward(s, m.Vision.Forward(s, pixels)) // (B, N, H)
	n := img.Size(1)
	maxLen := m.MaxLength
	if maxLen == 0 {
		maxLen = m.LM.Config.MaxPositions
	}
	type row struct {
		pre, post, labels []int64
		promptLen         int64
	}
	rows := make([]row, len(samples))
	longest := int64(0)
	for i, smp := range samples {
		p, a, err := m.Tokens(smp)
		if err != nil {
			return nil, err
		}
		k := indexOf(p, ImageTokenID)
		r := row{pre: p[:k], post: append(append([]int64(nil), p[k+1:]...), a...)}
		r.promptLen = int64(len(p)-1) + n
		total := r.promptLen + int64(len(a))
		if total > maxLen {
			return nil, fmt.Errorf("llava: sample %d has %d positions (prompt %d with %d image features, answer %d), over the limit of %d", i, total, r.promptLen, n, len(a), maxLen)
		}
		r.labels = make([]int64, total)
		for j := range r.labels {
			r.labels[j] = IgnoreLabel
		}
		copy(r.labels[r.promptLen:], a)
		rows[i] = r
		if total > longest {
			longest = total
		}
	}
	b := int64(len(samples))
	h := m.LM.Config.HiddenSize
	out := &Batch{}
	var embeds []*torch.Tensor
	mask := make([]int64, b*longest)
	labels := make([]int64, b*longest)
	prompt := make([]bool, b*longest)
	dev := img.Device()
	for i, r := range rows {
		parts := []*torch.Tensor{}
		if len(r.pre) > 0 {
			parts = append(parts, m.embed(s, r.pre, dev))
		}
		parts = append(parts, img.Select(s, 0, int64(i)))
		if len(r.post) > 0 {
			parts = append(parts, m.embed(s, r.post, dev))
		}
		e := torch.Cat(s, 0, parts...)
		total := e.Size(0)
		if total < longest {
			e = torch.Cat(s, 0, e, torch.Zeros(s.On(dev), e.DType(), longest-total, h))
		}
		embeds = append(embeds, e)
		for j := int64(0); j < longest; j++ {
			k := int64(i)*longest + j
			labels[k] = IgnoreLabel
			if j < total {
				mask[k] = 1
				labels[k] = r.labels[j]
				prompt[k] = j < r.promptLen
			}
		}
		out.Lengths = append(out.Lengths, total)
		out.PromptLengths = append(out.PromptLengths, r.promptLen)
	}
	d := s.On(dev)
	out.Embeds = torch.Stack(s, 0, embeds...)
	out.AttentionMask = torch.FromSlice(d, mask, b, longest)
	out.Labels = torch.FromSlice(d, labels, b, longest)
	out.PromptMask = torch.FromSlice(d, prompt, b, longest)
	return out, nil
}

func (m *Model) embed(s *torch.Scope, ids []int64, dev torch.Device) *torch.Tensor {
	return m.LM.Embed.Forward(s, torch.FromSlice(s.On(dev), ids))
}

func indexOf(v []int64, x int64) int {
	for i, e := range v {
		if e == x {
			return i
		}
	}
	return -1
}

// Output is a training forward's result.
type Output struct {
	Batch  *Batch
	Logits *torch.Tensor // (B, L, V)
	Hidden *torch.Tensor // (B, L, H) final hidden states
	Loss   *torch.Tensor // next-token cross-entropy over the answer tokens (0 when none)
}

// Forward builds the batch and runs the decoder over prompt and answer, returning logits,
// final hidden states and the answer loss.
func (m *Model) Forward(s *torch.Scope, pixels *torch.Tensor, samples []Sample) (out *Output, err error) {
	defer torch.Recover(&err)
	b, err := m.Build(s, pixels, samples)
	if err != nil {
		return nil, err
	}
	r := m.LM.Forward(s, mistral.Input{Embeds: b.Embeds, AttentionMask: b.AttentionMask})
	return &Output{Batch: b, Logits: r.Logits, Hidden: r.Hidden, Loss: losses.NextTokenCE(s, r.Logits, b.Labels)}, nil
}

// Prompts runs the decoder over each question's prompt alone (image, question and
// template; no answer), as the prefill of Answer does, and returns the batch and the final
// hidden states (B, L, H), without lm_head. It is the part of Forward that PRS-Med's mask
// branch reads, for a caller that does not train the language model: the causal mask
// makes a prompt position's hidden state the same with or without an answer after it.
func (m *Model) Prompts(s *torch.Scope, pixels *torch.Tensor, questions []string) (b *Batch, hidden *torch.Tensor, err error) {
	defer torch.Recover(&err)
	samples := make([]Sample, len(questions))
	for i, q := range questions {
		samples[i] = Sample{Question: q}
	}
	if b, err = m.Build(s, pixels, samples); err != nil {
		return nil, nil, err
	}
	r := m.LM.Forward(s, mistral.Input{Embeds: b.Embeds, AttentionMask: b.AttentionMask, Logits: mistral.LogitsNone})
	return b, r.Hidden, nil
}

// Answer generates answers for images (B, 3, H, W) and questions. It also returns the
// prompt's final hidden states and prompt mask, which PRS-Med's mask branch reads.
func (m *Model) Answer(ctx context.Context, s *torch.Scope, pixels *torch.Tensor, questions []string, o mistral.GenerateOptions) (answers []string, b *Batch, hidden *torch.Tensor, err error) {
	defer torch.Recover(&err)
	samples := make([]Sample, len(questions))
	for i, q := range questions {
		samples[i] = Sample{Question: q}
	}
	ns := s.NoGrad()
	b, err = m.Build(ns, pixels, samples)
	if err != nil {
		return nil, nil, nil, err
	}
	o.OnPrefill = func(h *torch.Tensor) { hidden = h.Clone(ns) }
	if o.EOS == 0 {
		o.EOS = int64(m.Tok.EOS())
	}
	ids, err := m.LM.Generate(ctx, ns, mistral.Prompt{Embeds: b.Embeds, AttentionMask: b.AttentionMask}, o)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, row := range ids {
		v := make([]int, len(row))
		for i, id := range row {
			v[i] = int(id)
		}
		answers = append(answers, strings.TrimSpace(m.Tok.Decode(v)))
	}
	return answers, b, hidden, nil
}

package mistral

import (
	"context"
	"fmt"
	"math"

	"github.com/prsmed/prsmed-go/torch"
)

// GenerateOptions control decoding.
type GenerateOptions struct {
	MaxNewTokens int     // stop after this many new tokens (default 64)
	Temperature  float64 // 0: greedy (argmax); > 0: sample from softmax(logits / T)
	TopP         float64 // with sampling, keep the smallest set of tokens whose mass ≥ TopP (0 or 1: all)
	Generator    *torch.Generator
	EOS          int64 // stop token (default: the config's eos_token_id)
	// OnToken is called for every new token of every row as it is produced (streaming);
	// returning false stops that row.
	OnToken func(row int, id int64) bool
	// OnPrefill, when set, sees the prompt pass's final hidden states (B, L, H) before
	// decoding starts; the tensor is freed when Generate returns (clone it to keep it).
	OnPrefill func(hidden *torch.Tensor)
}

// Prompt is a batch of prompts: right-padded ids or embeddings with their attention mask.
type Prompt struct {
	IDs, Embeds   *torch.Tensor // (B, L) or (B, L, H); exactly one is set
	AttentionMask *torch.Tensor // (B, L) 1 for real tokens; nil when none is padded
}

// Generate decodes up to MaxNewTokens tokens after each prompt with a KV cache, and
// returns each row's new tokens (without the EOS). Rows are right-padded: each row's first
// new token follows its own last real token (position = its length), and the padding stays
// masked in the cache. ctx cancels between tokens.
func (m *Model) Generate(ctx context.Context, s *torch.Scope, p Prompt, o GenerateOptions) (out [][]int64, err error) {
	defer torch.Recover(&err)
	if o.MaxNewTokens <= 0 {
		o.MaxNewTokens = 64
	}
	if o.EOS == 0 {
		o.EOS = m.Config.EOSTokenID
	}
	g := s.NoGrad()
	defer g.Close()
	ref := p.IDs
	if ref == nil {
		ref = p.Embeds
	}
	if ref == nil {
		return nil, fmt.Errorf("mistral: generate needs prompt ids or embeddings")
	}
	b, l := ref.Size(0), ref.Size(1)
	dev := ref.Device()
	d := g.On(dev)
	mask := p.AttentionMask
	if mask == nil {
		mask = torch.Ones(d, torch.Int64, b, l)
	} else {
		mask = mask.ToDType(d, torch.Int64)
	}
	lengths := mask.Sum(d, []int64{1}, false).Int64s()
	for i, n := range lengths {
		if n == 0 {
			return nil, fmt.Errorf("mistral: prompt row %d is empty", i)
		}
	}
	cache := NewCacheCap(m, dev, l+int64(o.MaxNewTokens))
	defer cache.Close()
	// The padding mask over prompt and new tokens, made once; each step reads the part that
	// covers its positions. When no row is padded there is none: the prefill's causal mask
	// is the attention kernel's own and a one-token step needs no mask.
	var full *torch.Tensor
	for _, n := range lengths {
		if n != l {
			full = torch.Cat(d, 1, mask, torch.Ones(d, torch.Int64, b, int64(o.MaxNewTokens)))
			break
		}
	}
	stepMask := func(s *torch.Scope, n int64) *torch.Tensor {
		if full == nil {
			return nil
		}
		return full.Narrow(s, 1, 0, n)
	}

	// Prefill.
	res := m.Forward(d, Input{IDs: p.IDs, Embeds: p.Embeds, AttentionMask: stepMask(d, l), Cache: cache, Logits: LogitsNone})
	if o.OnPrefill != nil {
		o.OnPrefill(res.Hidden)
	}
	last := torch.FromSlice(d, lengths).SubScalar(d, 1).ToDevice(d, dev)
	idx := last.View(d, b, 1, 1).Expand(d, b, 1, res.Hidden.Size(2))
	hLast := res.Hidden.Gather(d, 1, idx)
	logits := m.LMHead.Forward(d, hLast).Select(d, 1, 0)

	out = make([][]int64, b)
	done := make([]bool, b)
	pos := append([]int64(nil), lengths...)
	for step := 0; step < o.MaxNewTokens; step++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		next := m.pick(d, logits, o)
		alive := false
		for r := range next {
			if done[r] {
				continue
			}
			if next[r] == o.EOS {
				done[r] = true
				continue
			}
			out[r] = append(out[r], next[r])
			if o.OnToken != nil && !o.OnToken(r, next[r]) {
				done[r] = true
				continue
			}
			alive = true
		}
		if !alive || step == o.MaxNewTokens-1 {
			break
		}
		step := d.Child()
		ids := torch.FromSlice(step, next, b, 1).ToDevice(step, dev)
		posT := torch.FromSlice(step, pos, b, 1).ToDevice(step, dev)
		r := m.Forward(step, Input{IDs: ids, AttentionMask: stepMask(step, cache.Len()+1), Positions: posT, Cache: cache,
			Logits: LogitsLast})
		logits.Free()
		logits = step.Escape(r.Logits.Select(step, 1, 0), d)
		step.Close()
		for i := range pos {
			pos[i]++
		}
	}
	return out, nil
}

// pick chooses the next token of every row from (B, V) logits.
func (m *Model) pick(s *torch.Scope, logits *torch.Tensor, o GenerateOptions) []int64 {
	c := s.Child()
	defer c.Close()
	if o.Temperature <= 0 {
		return logits.Argmax(c, -1, false).Int64s()
	}
	scores := logits.ToDType(c, torch.Float32).DivScalar(c, o.Temperature)
	if o.TopP > 0 && o.TopP < 1 {
		scores = TopP(c, scores, o.TopP)
	}
	probs := scores.Softmax(c, -1)
	return torch.Multinomial(c, probs, 1, false, o.Generator).View(c, -1).Int64s()
}

// TopP masks (to −∞) the tokens outside the nucleus, as transformers' TopPLogitsWarper:
// sort ascending, drop tokens whose cumulative probability is ≤ 1 − p, always keep the top
// token.
func TopP(s *torch.Scope, scores *torch.Tensor, p float64) *torch.Tensor {
	sorted, order := scores.Sort(s, -1, false)
	cum := sorted.Softmax(s, -1).Cumsum(s, -1)
	remove := cum.LeScalar(s, 1-p)
	v := remove.Size(-1)
	keepLast := torch.Zeros(s, torch.Bool, remove.Size(0), 1)
	remove = torch.Cat(s, -1, remove.Narrow(s, -1, 0, v-1), keepLast)
	removeOrig := remove.Scatter(s, -1, order, remove)
	return scores.MaskedFill(s, removeOrig, math.Inf(-1))
}

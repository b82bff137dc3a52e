package mistral

import (
	"fmt"
	"sync/atomic"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Layer is one decoder layer: h = x + o_proj(attn(input_layernorm(x))); y = h +
// down_proj(silu(gate_proj(n)) · up_proj(n)) with n = post_attention_layernorm(h).
type Layer struct {
	InputNorm, PostNorm *nn.RMSNorm
	Q, K, V, O          nn.Layer
	Gate, Up, Down      nn.Layer
}

// Model is MistralForCausalLM: model.embed_tokens, model.layers.N, model.norm, lm_head.
type Model struct {
	Config Config
	Embed  *nn.Embedding
	Layers []*Layer
	Norm   *nn.RMSNorm
	LMHead nn.Layer
	rope   nn.Rotary
	prefix string
	// entries are the parameters New registered (not adapters injected later): what Load
	// fills.
	entries []*nn.Entry

	recomputed atomic.Int64 // layers recomputed by ForwardBackward (Recomputed)
}

func linear(p nn.Path, in, out int64) nn.Layer {
	return nn.NewLinear(p, in, out, nn.LinearConfig{})
}

// New registers the decoder's parameters under p (the root for Hugging Face names).
func New(p nn.Path, c Config) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h, kv := c.HiddenSize, c.NumKeyValueHeads*c.HeadDim()
	first := len(p.Store().Entries())
	mp := p.Sub("model")
	m := &Model{Config: c, rope: nn.Rotary{Dim: c.HeadDim(), Theta: c.RopeTheta}, prefix: p.String()}
	m.Embed = nn.NewEmbedding(mp.Sub("embed_tokens"), c.VocabSize, h)
	for i := 0; i < int(c.NumHiddenLayers); i++ {
		lp := mp.Sub("layers").Index(i)
		ap, fp := lp.Sub("self_attn"), lp.Sub("mlp")
		m.Layers = append(m.Layers, &Layer{
			InputNorm: nn.NewRMSNorm(lp.Sub("input_layernorm"), h, c.RMSNormEps),
			Q:         linear(ap.Sub("q_proj"), h, c.QDim()),
			K:         linear(ap.Sub("k_proj"), h, kv),
			V:         linear(ap.Sub("v_proj"), h, kv),
			O:         linear(ap.Sub("o_proj"), c.QDim(), h),
			PostNorm:  nn.NewRMSNorm(lp.Sub("post_attention_layernorm"), h, c.RMSNormEps),
			Gate:      linear(fp.Sub("gate_proj"), h, c.IntermediateSize),
			Up:        linear(fp.Sub("up_proj"), h, c.IntermediateSize),
			Down:      linear(fp.Sub("down_proj"), c.IntermediateSize, h),
		})
	}
	m.Norm = nn.NewRMSNorm(mp.Sub("norm"), h, c.RMSNormEps)
	if c.TieWordEmbeddings {
		m.LMHead = nn.Func(func(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
			return torch.Linear(s, x, m.Embed.Weight, nil)
		})
	} else {
		m.LMHead = linear(p.Sub("lm_head"), h, c.VocabSize)
	}
	m.entries = p.Store().Entries()[first:]
	return m, nil
}

// LinearSlots lists the projections (q/k/v/o and the MLP) for adapters.
func (m *Model) LinearSlots() []nn.LinearSlot {
	var out []nn.LinearSlot
	name := func(i int, sub string) string {
		n := fmt.Sprintf("model.layers.%d.%s", i, sub)
		if m.prefix != "" {
			n = m.prefix + "." + n
		}
		return n
	}
	for i, l := range m.Layers {
		out = append(out,
			nn.LinearSlot{Name: name(i, "self_attn.q_proj"), Layer: &l.Q},
			nn.LinearSlot{Name: name(i, "self_attn.k_proj"), Layer: &l.K},
			nn.LinearSlot{Name: name(i, "self_attn.v_proj"), Layer: &l.V},
			nn.LinearSlot{Name: name(i, "self_attn.o_proj"), Layer: &l.O},
			nn.LinearSlot{Name: name(i, "mlp.gate_proj"), Layer: &l.Gate},
			nn.LinearSlot{Name: name(i, "mlp.up_proj"), Layer: &l.Up},
			nn.LinearSlot{Name: name(i, "mlp.down_proj"), Layer: &l.Down},
		)
	}
	return out
}

// Input is what a forward pass reads.
type Input struct {
	// IDs (B, L) int64 token ids, or Embeds (B, L, H) input embeddings (the LLaVA path,
	// where image features are spliced in); exactly one is set.
	IDs, Embeds *torch.Tensor
	// AttentionMask (B, L) is 1 for real tokens and 0 for right padding; nil when no
	// sample is padded. With a cache it covers the cached and the new positions (B, T+L).
	AttentionMask *torch.Tensor
	// Positions (B, L) int64; nil means 0..L−1 after the cached length.
	Positions *torch.Tensor
	// Cache holds keys and values of earlier positions and is extended in place; nil
	// runs without one.
	Cache *Cache
	// Logits chooses which positions get lm_head: LogitsAll (the default), LogitsNone
	// (hidden states only), or LogitsLast (the last position of each row).
	Logits LogitsMode
}

// LogitsMode says where the forward pass applies lm_head.
type LogitsMode int

// Logits modes.
const (
	LogitsAll LogitsMode = iota
	LogitsNone
	LogitsLast
)

// Output is a forward pass's result.
type Output struct {
	Logits *torch.Tensor // (B, L, V), (B, 1, V) with LogitsLast, nil with LogitsNone
	Hidden *torch.Tensor // (B, L, H) final hidden states, after model.norm
}

// Forward runs the decoder. It panics with *torch.Error on bad shapes; wrap calls from
// user-facing code with torch.Recover.
func (m *Model) Forward(s *torch.Scope, in Input) Output {
	x := in.Embeds
	if x == nil {
		if in.IDs == nil {
			torch.Fail("mistral", torch.ErrInvalid, "forward needs IDs or Embeds")
		}
		x = m.Embed.Forward(s, in.IDs)
	}
	b, l := x.Size(0), x.Size(1)
	past := int64(0)
	if in.Cache != nil {
		past = in.Cache.Len()
	}
	if w := m.Config.SlidingWindow; w != nil && past+l > *w {
		torch.Fail("mistral", torch.ErrInvalid, "sequence of %d positions exceeds the sliding window %d, which is not implemented", past+l, *w)
	}
	pos := in.Positions
	if pos == nil {
		c := s.On(x.Device())
		pos = torch.Arange(c, float64(past), float64(past+l), 1, torch.Int64).Unsqueeze(c, 0).Expand(c, b, l)
	}
	cos, sin := m.rope.CosSin(s, pos, x.DType())
	mask := nn.AttentionMask{Causal: true, KeyPadding: in.AttentionMask}
	if l == 1 && in.AttentionMask == nil {
		mask.Causal = false
	}
	for i, layer := range m.Layers {
		prev := x
		x = m.layer(s, layer, i, x, cos, sin, &mask, in.Cache)
		if prev != in.Embeds {
			prev.Free()
		}
	}
	if in.Cache != nil {
		in.Cache.advance(l)
	}
	h := m.Norm.Forward(s, x)
	out := Output{Hidden: h}
	switch in.Logits {
	case LogitsAll:
		out.Logits = m.LMHead.Forward(s, h)
	case LogitsLast:
		out.Logits = m.LMHead.Forward(s, h.Narrow(s, 1, l-1, 1))
	}
	return out
}

// layer runs one decoder layer. The first layer builds the attention mask's tensor (if it
// needs one) in outer, and the later layers of the pass reuse it.
func (m *Model) layer(outer *torch.Scope, ly *Layer, idx int, x, cos, sin *torch.Tensor, mask *nn.AttentionMask, cache *Cache) *torch.Tensor {
	s := outer.Child() // intermediates die here; autograd keeps what it saved
	defer s.Close()
	c := m.Config
	b, l := x.Size(0), x.Size(1)
	hd := c.HeadDim()
	n := ly.InputNorm.Forward(s, x)
	q := ly.Q.Forward(s, n).View(s, b, l, c.NumAttentionHeads, hd).Transpose(s, 1, 2)
	k := ly.K.Forward(s, n).View(s, b, l, c.NumKeyValueHeads, hd).Transpose(s, 1, 2)
	v := ly.V.Forward(s, n).View(s, b, l, c.NumKeyValueHeads, hd).Transpose(s, 1, 2)
	q, k = torch.Rotary(s, q, k, cos, sin)
	if cache != nil {
		k, v = cache.append(s, idx, k, v)
	}
	if mask.Additive == nil {
		*mask = mask.Prepare(outer, q, k.Size(2))
	}
	a := nn.Attention(s, q, k, v, *mask, 0)
	a = a.Transpose(s, 1, 2).Reshape(s, b, l, c.QDim())
	h := x.Add(s, ly.O.Forward(s, a))
	n2 := ly.PostNorm.Forward(s, h)
	mlp := swiglu(s, ly, n2)
	return s.Escape(h.Add(s, mlp), outer)
}

// swiglu is down(silu(gate(x))·up(x)): one call into libtorch when the three projections
// are plain linear layers, the layers' own Forward otherwise (adapters on the MLP).
func swiglu(s *torch.Scope, ly *Layer, x *torch.Tensor) *torch.Tensor {
	g, gok := ly.Gate.(*nn.Linear)
	u, uok := ly.Up.(*nn.Linear)
	d, dok := ly.Down.(*nn.Linear)
	if gok && uok && dok {
		return torch.SwiGLU(s, x, g.Weight, g.Bias, u.Weight, u.Bias, d.Weight, d.Bias)
	}
	return ly.Down.Forward(s, ly.Gate.Forward(s, x).Silu(s).Mul(s, ly.Up.Forward(s, x)))
}

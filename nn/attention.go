package nn

import (
	"math"

	"github.com/prsmed/prsmed-go/torch"
)

// AttentionMask describes which keys each query may see in Attention.
type AttentionMask struct {
	// Causal lets query i see keys up to its own position. With S keys and L queries the
	// queries are taken to be the last L positions (as with a KV cache).
	Causal bool
	// KeyPadding is a (B, S) tensor, non-zero / true for real tokens and zero / false for
	// padding (the Hugging Face attention_mask convention); nil when nothing is padded.
	KeyPadding *torch.Tensor
	// Additive is the mask already built by Prepare, (B or 1, 1, L, S) with 0 where a key is
	// visible and the dtype's lowest value elsewhere; when set, Causal and KeyPadding are
	// not read again. A model builds it once per forward pass instead of once per layer.
	Additive *torch.Tensor
}

// needsTensor reports whether Attention has to build a mask tensor for L queries and S
// keys: a purely causal mask over as many queries as keys goes to the attention kernel as
// its causal flag instead (which keeps CUDA's flash kernel eligible).
func (m AttentionMask) needsTensor(l, sk int64) bool {
	if m.Additive != nil || (!m.Causal && m.KeyPadding == nil) {
		return false
	}
	return m.KeyPadding != nil || l != sk
}

// Prepare builds the additive mask that Attention would build for queries q (B, H, L, D)
// and S keys, in s, so that the layers of one forward pass share it. It returns m
// unchanged when no tensor is needed (no mask, or a causal one the kernel applies itself).
func (m AttentionMask) Prepare(s *torch.Scope, q *torch.Tensor, sk int64) AttentionMask {
	l := q.Size(2)
	if !m.needsTensor(l, sk) {
		return m
	}
	return AttentionMask{Additive: additiveMask(s, q.DType(), q.Device(), l, sk, m)}
}

// Attention is softmax(Q Kᵀ·scale + mask) V for q (B, Hq, L, D) and k, v (B, Hkv, S, D),
// with grouped key/value heads (Hq a multiple of Hkv: each KV head serves Hq/Hkv query
// heads, transformers' repeat_kv) and scale 1/√D when scale is 0. Masked positions get the
// dtype's lowest finite value rather than −∞, as transformers does, so a query with no
// visible key gets a uniform average instead of NaN.
func Attention(s *torch.Scope, q, k, v *torch.Tensor, m AttentionMask, scale float64) *torch.Tensor {
	hq, hkv := q.Size(1), k.Size(1)
	if hq != hkv {
		k = RepeatKV(s, k, hq/hkv)
		v = RepeatKV(s, v, hq/hkv)
	}
	o := torch.AttentionOpts{Scale: scale}
	l, sk := q.Size(2), k.Size(2)
	switch {
	case m.Additive != nil:
		o.Mask = m.Additive
	case m.needsTensor(l, sk):
		o.Mask = additiveMask(s, q.DType(), q.Device(), l, sk, m)
	case m.Causal:
		o.Causal = true // L == S and no padding: the kernel's own causal mask
	}
	return torch.ScaledDotProductAttention(s, q, k, v, o)
}

// RepeatKV repeats each of the Hkv heads of x (B, Hkv, S, D) n times → (B, Hkv·n, S, D).
func RepeatKV(s *torch.Scope, x *torch.Tensor, n int64) *torch.Tensor {
	if n == 1 {
		return x
	}
	sh := x.Shape()
	b, h, l, d := sh[0], sh[1], sh[2], sh[3]
	return x.Unsqueeze(s, 2).Expand(s, b, h, n, l, d).Reshape(s, b, h*n, l, d)
}

// LowestFinite is the most negative finite value of a floating dtype.
func LowestFinite(dt torch.DType) float64 {
	switch dt {
	case torch.Float16:
		return -65504
	case torch.BFloat16:
		return -3.3895313892515355e38
	case torch.Float64:
		return -math.MaxFloat64
	}
	return -math.MaxFloat32
}

// additiveMask builds a (B or 1, 1, L, S) float mask: 0 where allowed, lowest elsewhere.
func additiveMask(s *torch.Scope, dt torch.DType, dev torch.Device, l, sk int64, m AttentionMask) *torch.Tensor {
	on := s.On(dev)
	defer on.Close() // closes c too; closing only c would leave on open in s
	c := on.NoGrad()
	allowed := torch.Ones(c, torch.Bool, 1, 1, l, sk)
	if m.Causal {
		allowed = allowed.Tril(c, sk-l)
	}
	if m.KeyPadding != nil {
		b := m.KeyPadding.Size(0)
		keep := m.KeyPadding.NeScalar(c, 0).View(c, b, 1, 1, sk)
		allowed = allowed.LogicalAnd(c, keep)
	}
	zeros := torch.Zeros(c, dt, 1)
	out := zeros.Expand(c, allowed.Shape()...).MaskedFill(c, allowed.LogicalNot(c), LowestFinite(dt))
	return c.Escape(out.Contiguous(c), s)
}

// MultiheadAttention is torch.nn.MultiheadAttention (equal query/key/value widths, bias
// on) with its parameter names: in_proj_weight (3E, E), in_proj_bias (3E), out_proj.weight
// and out_proj.bias. Inputs are (L, B, E) like PyTorch's default, or (B, L, E) with
// BatchFirst.
type MultiheadAttention struct {
	InProjWeight, InProjBias *torch.Tensor
	OutProj                  *Linear
	Heads                    int64
	Dropout                  float64
	BatchFirst               bool
}

// NewMultiheadAttention registers the parameters with PyTorch's initialisation, drawn in
// PyTorch's order (out_proj's default Linear init first, then xavier_uniform_ on
// in_proj_weight; both biases zero).
func NewMultiheadAttention(p Path, embed, heads int64, batchFirst bool) *MultiheadAttention {
	if heads <= 0 || embed%heads != 0 {
		invalid("nn.MultiheadAttention", "embed_dim (%d) must be divisible by num_heads (%d)", embed, heads)
	}
	st := p.store
	ipw := torch.Empty(st.allocScope(), st.dtype, 3*embed, embed)
	ipw = st.add(p.Name("in_proj_weight"), ipw, Parameter, false)
	ipb := st.add(p.Name("in_proj_bias"), torch.Empty(st.allocScope(), st.dtype, 3*embed), Parameter, false)
	out := NewLinear(p.Sub("out_proj"), embed, embed, LinearConfig{Bias: true})
	XavierUniform(1).Fill(ipw, st.gen)
	ipb.Fill(0)
	out.Bias.Fill(0)
	st.SetTrainable(true, p.Name("in_proj_weight"), p.Name("in_proj_bias"))
	return &MultiheadAttention{InProjWeight: ipw, InProjBias: ipb, OutProj: out, Heads: heads, BatchFirst: batchFirst}
}

// Forward attends query to key/value. keyPaddingMask is (B, S) bool, true where a key is
// padding (PyTorch's MHA convention), or nil; attnMask is (L, S) bool (true = not allowed)
// or float (added to the logits), or nil.
func (m *MultiheadAttention) Forward3(s *torch.Scope, query, key, value, keyPaddingMask, attnMask *torch.Tensor) *torch.Tensor {
	if !m.BatchFirst {
		query, key, value = query.Transpose(s, 0, 1), key.Transpose(s, 0, 1), value.Transpose(s, 0, 1)
	}
	e := query.Size(2)
	ws := m.InProjWeight.Chunk(s, 3, 0)
	bs := m.InProjBias.Chunk(s, 3, 0)
	heads := func(x *torch.Tensor, i int) *torch.Tensor {
		y := torch.Linear(s, x, ws[i], bs[i])
		b, l := y.Size(0), y.Size(1)
		return y.View(s, b, l, m.Heads, e/m.Heads).Transpose(s, 1, 2)
	}
	q, k, v := heads(query, 0), heads(key, 1), heads(value, 2)
	var mask *torch.Tensor
	if attnMask != nil || keyPaddingMask != nil {
		c := s.NoGrad()
		l, sk := q.Size(2), k.Size(2)
		add := torch.Zeros(c, q.DType(), 1, 1, l, sk)
		if attnMask != nil {
			if attnMask.DType() == torch.Bool {
				add = add.MaskedFill(c, attnMask.View(c, 1, 1, l, sk), math.Inf(-1))
			} else {
				add = add.Add(c, attnMask.View(c, 1, 1, l, sk))
			}
		}
		if keyPaddingMask != nil {
			b := keyPaddingMask.Size(0)
			add = add.Expand(c, b, 1, l, sk).MaskedFill(c, keyPaddingMask.View(c, b, 1, 1, sk), math.Inf(-1))
		}
		mask = c.Escape(add.Contiguous(c), s)
		c.Close()
	}
	p := 0.0
	if m.Dropout != 0 && s.Training("nn.MultiheadAttention") {
		p = m.Dropout
	}
	o := torch.ScaledDotProductAttention(s, q, k, v, torch.AttentionOpts{Mask: mask, Dropout: p, Generator: s.Generator()})
	b, l := o.Size(0), o.Size(2)
	o = m.OutProj.Forward(s, o.Transpose(s, 1, 2).Reshape(s, b, l, e))
	if !m.BatchFirst {
		o = o.Transpose(s, 0, 1)
	}
	return o
}

// Forward is self-attention: Forward3(x, x, x) with no masks.
func (m *MultiheadAttention) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return m.Forward3(s, x, x, x, nil, nil)
}

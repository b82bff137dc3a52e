package tinyvit

import (
	"math"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Attention is TinyViT's windowed multi-head self-attention over one window of ws×ws
// tokens: a pre-LayerNorm (`norm`), one `qkv` Linear whose output is laid out per head as
// [q | k | v] (interleaved by head, not q-block/k-block/v-block), scores scaled by
// head_dim^-½ plus a learned bias per head and (|Δrow|, |Δcol|) offset
// (`attention_biases`, heads × ws²), softmax, and the `proj` Linear.
type Attention struct {
	Norm       *nn.LayerNorm
	QKV, Proj  *nn.Linear
	Biases     *torch.Tensor
	Heads, Win int64
	headDim    int64
	biasIdx    []int64 // (ws², ws²) indices into the bias table
}

func newAttention(p nn.Path, dim, heads, win int64) *Attention {
	a := &Attention{
		Norm:    nn.NewLayerNorm(p.Sub("norm"), 1e-5, dim),
		QKV:     nn.NewLinear(p.Sub("qkv"), dim, 3*dim, nn.LinearConfig{Bias: true}),
		Proj:    nn.NewLinear(p.Sub("proj"), dim, dim, nn.LinearConfig{Bias: true}),
		Biases:  p.Param("attention_biases", nn.Zeros, heads, win*win),
		Heads:   heads,
		Win:     win,
		headDim: dim / heads,
	}
	n := win * win
	a.biasIdx = make([]int64, 0, n*n)
	for q := int64(0); q < n; q++ {
		for k := int64(0); k < n; k++ {
			dr, dc := abs(q/win-k/win), abs(q%win-k%win)
			a.biasIdx = append(a.biasIdx, dr*win+dc)
		}
	}
	return a
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Forward attends within each window: x is (B·windows, ws², C).
func (a *Attention) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	outer := s
	s = s.Child()
	defer s.Close()
	b, n, c := x.Size(0), x.Size(1), x.Size(2)
	x = a.Norm.Forward(s, x)
	qkv := a.QKV.Forward(s, x).View(s, b, n, a.Heads, 3*a.headDim)
	parts := qkv.Split(s, a.headDim, 3)
	q := parts[0].Permute(s, 0, 2, 1, 3)
	k := parts[1].Permute(s, 0, 2, 1, 3)
	v := parts[2].Permute(s, 0, 2, 1, 3)
	idx := torch.FromSlice(s.On(a.Biases.Device()), a.biasIdx)
	bias := a.Biases.IndexSelect(s, 1, idx).View(s, a.Heads, n, n)
	attn := q.Matmul(s, k.T(s)).MulScalar(s, 1/math.Sqrt(float64(a.headDim))).Add(s, bias).Softmax(s, -1)
	out := attn.Matmul(s, v).Transpose(s, 1, 2).Reshape(s, b, n, c)
	return s.Escape(a.Proj.Forward(s, out), outer)
}

// MLP is TinyViT's Mlp: LayerNorm, Linear (d→ratio·d), GELU, Linear back.
type MLP struct {
	Norm     *nn.LayerNorm
	FC1, FC2 *nn.Linear
}

func newMLP(p nn.Path, dim, hidden int64) *MLP {
	return &MLP{
		Norm: nn.NewLayerNorm(p.Sub("norm"), 1e-5, dim),
		FC1:  nn.NewLinear(p.Sub("fc1"), dim, hidden, nn.LinearConfig{Bias: true}),
		FC2:  nn.NewLinear(p.Sub("fc2"), hidden, dim, nn.LinearConfig{Bias: true}),
	}
}

// Forward keeps the shape.
func (m *MLP) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	return c.Escape(m.FC2.Forward(c, m.FC1.Forward(c, m.Norm.Forward(c, x)).Gelu(c)))
}

// Block is a TinyViTBlock: x += windowed attention (the grid padded with zeros at the
// bottom/right up to a multiple of the window, padding not masked, then cropped); then the
// depthwise `local_conv` (Conv2d_BN) replaces x — no residual; then x += MLP(x).
type Block struct {
	Attn      *Attention
	LocalConv *Conv2dBN
	MLP       *MLP
	Win       int64
}

func newBlock(p nn.Path, c Config, stage int) *Block {
	dim, win := c.EmbedDims[stage], c.WindowSizes[stage]
	return &Block{
		Attn:      newAttention(p.Sub("attn"), dim, c.NumHeads[stage], win),
		MLP:       newMLP(p.Sub("mlp"), dim, int64(float64(dim)*c.MLPRatio)),
		LocalConv: NewConv2dBN(p.Sub("local_conv"), dim, dim, c.LocalConv, 1, c.LocalConv/2, dim, 1),
		Win:       win,
	}
}

// Forward maps tokens (B, H·W, C) on an h×w grid to the same shape.
func (bl *Block) Forward(s *torch.Scope, x *torch.Tensor, h, w int64) *torch.Tensor {
	outer := s
	s = s.Child()
	defer s.Close()
	b, l, c := x.Size(0), x.Size(1), x.Size(2)
	ws := bl.Win
	var a *torch.Tensor
	if h == ws && w == ws {
		a = bl.Attn.Forward(s, x)
	} else {
		g := x.View(s, b, h, w, c)
		padB, padR := (ws-h%ws)%ws, (ws-w%ws)%ws
		if padB > 0 || padR > 0 {
			g = g.Pad(s, []int64{0, 0, 0, padR, 0, padB}, torch.PadConstant, 0)
		}
		ph, pw := h+padB, w+padR
		nh, nw := ph/ws, pw/ws
		win := g.View(s, b, nh, ws, nw, ws, c).Transpose(s, 2, 3).Reshape(s, b*nh*nw, ws*ws, c)
		win = bl.Attn.Forward(s, win)
		g = win.View(s, b, nh, nw, ws, ws, c).Transpose(s, 2, 3).Reshape(s, b, ph, pw, c)
		if padB > 0 || padR > 0 {
			g = g.Narrow(s, 1, 0, h).Narrow(s, 2, 0, w).Contiguous(s)
		}
		a = g.View(s, b, l, c)
	}
	x = x.Add(s, a)
	m := x.Transpose(s, 1, 2).Reshape(s, b, c, h, w)
	m = bl.LocalConv.Forward(s, m)
	x = m.View(s, b, c, l).Transpose(s, 1, 2)
	return s.Escape(x.Add(s, bl.MLP.Forward(s, x)), outer)
}

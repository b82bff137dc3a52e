package nn_test

import (
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// testModel is the Go twin of nn_ref.py's Model, with the same state-dict names:
// stem.{0,1}.*, layers.0.{conv,norm}.*, layers.1.blocks.N.{norm1,attn.qkv,attn.proj,norm2,
// mlp.0,mlp.2}.*, query_embed.weight, cross.* and head.*.
type testModel struct {
	stemConv *nn.Conv2d
	stemBN   *nn.BatchNorm2d
	neckConv *nn.Conv2d
	neckNorm *nn.LayerNorm2d
	blocks   []*testBlock
	query    *nn.Embedding
	cross    *nn.MultiheadAttention
	head     *nn.Linear
}

type testBlock struct {
	norm1, norm2 *nn.LayerNorm
	qkv, proj    *nn.Linear
	fc1, fc2     *nn.Linear
	heads        int64
}

const modelDim, modelHeads = 8, 2

func newTestModel(p nn.Path) *testModel {
	const d = modelDim
	m := &testModel{
		stemConv: nn.NewConv2d(p.Sub("stem").Index(0), 3, d, 3, nn.ConvConfig{Stride: 2, Padding: 1}),
		stemBN:   nn.NewBatchNorm2d(p.Sub("stem").Index(1), d),
		neckConv: nn.NewConv2d(p.Sub("layers").Index(0).Sub("conv"), d, d, 1, nn.ConvConfig{NoBias: true}),
		neckNorm: nn.NewLayerNorm2d(p.Sub("layers").Index(0).Sub("norm"), d, 1e-6),
	}
	blocks := p.Sub("layers").Index(1).Sub("blocks")
	for i := 0; i < 2; i++ {
		b := blocks.Index(i)
		m.blocks = append(m.blocks, &testBlock{
			norm1: nn.NewLayerNorm(b.Sub("norm1"), 1e-5, d),
			qkv:   nn.NewLinear(b.Sub("attn").Sub("qkv"), d, 3*d, nn.LinearConfig{Bias: true}),
			proj:  nn.NewLinear(b.Sub("attn").Sub("proj"), d, d, nn.LinearConfig{Bias: true}),
			norm2: nn.NewLayerNorm(b.Sub("norm2"), 1e-5, d),
			fc1:   nn.NewLinear(b.Sub("mlp").Index(0), d, 2*d, nn.LinearConfig{Bias: true}),
			fc2:   nn.NewLinear(b.Sub("mlp").Index(2), 2*d, d, nn.LinearConfig{Bias: true}),
			heads: modelHeads,
		})
	}
	m.query = nn.NewEmbedding(p.Sub("query_embed"), 2, d)
	m.cross = nn.NewMultiheadAttention(p.Sub("cross"), d, modelHeads, true)
	m.head = nn.NewLinear(p.Sub("head"), d, 3, nn.LinearConfig{Bias: true})
	return m
}

func (b *testBlock) forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	sh := x.Shape()
	bs, n, c := sh[0], sh[1], sh[2]
	qkv := b.qkv.Forward(s, b.norm1.Forward(s, x)).Reshape(s, bs, n, 3, b.heads, c/b.heads).Permute(s, 2, 0, 3, 1, 4)
	a := nn.Attention(s, qkv.Select(s, 0, 0), qkv.Select(s, 0, 1), qkv.Select(s, 0, 2), nn.AttentionMask{}, 0)
	x = x.Add(s, b.proj.Forward(s, a.Transpose(s, 1, 2).Reshape(s, bs, n, c)))
	h := b.fc2.Forward(s, nn.GELU.Forward(s, b.fc1.Forward(s, b.norm2.Forward(s, x))))
	return x.Add(s, h)
}

func (m *testModel) forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	x = m.stemBN.Forward(s, m.stemConv.Forward(s, x)).Relu(s)
	x = m.neckNorm.Forward(s, m.neckConv.Forward(s, x))
	sh := x.Shape()
	x = x.Reshape(s, sh[0], sh[1], sh[2]*sh[3]).Transpose(s, 1, 2)
	for _, b := range m.blocks {
		x = b.forward(s, x)
	}
	q := m.query.Weight.Unsqueeze(s, 0).Expand(s, sh[0], m.query.Weight.Size(0), sh[1])
	return m.head.Forward(s, m.cross.Forward3(s, q, x, x, nil, nil))
}

package nn

import "github.com/prsmed/prsmed-go/torch"

// Embedding is torch.nn.Embedding: a (num, dim) table initialised N(0, 1).
type Embedding struct {
	Weight     *torch.Tensor
	PaddingIdx int64 // -1 for none
}

// NewEmbedding registers <p>.weight.
func NewEmbedding(p Path, num, dim int64) *Embedding {
	return &Embedding{Weight: p.Param("weight", Normal(0, 1), num, dim), PaddingIdx: -1}
}

// Forward looks up int64 ids.
func (l *Embedding) Forward(s *torch.Scope, ids *torch.Tensor) *torch.Tensor {
	return torch.Embedding(s, l.Weight, ids, l.PaddingIdx)
}

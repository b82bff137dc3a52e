package mistral

import "github.com/prsmed/prsmed-go/torch"

// Cache holds every layer's keys (after RoPE) and values, (B, KV heads, T, head dim), for
// incremental decoding. Its tensors live in its own scope; Close frees them.
type Cache struct {
	scope *torch.Scope
	k, v  []*torch.Tensor
	n     int64
}

// NewCache makes an empty cache for a model's layers on dev.
func NewCache(m *Model, dev torch.Device) *Cache {
	return &Cache{
		scope: torch.NewScope(dev).NoGrad(),
		k:     make([]*torch.Tensor, len(m.Layers)),
		v:     make([]*torch.Tensor, len(m.Layers)),
	}
}

// Len is the number of cached positions.
func (c *Cache) Len() int64 { return c.n }

// Close frees the cached tensors.
func (c *Cache) Close() { c.scope.Close() }

// append adds new keys and values for a layer and returns the full ones in s.
func (c *Cache) append(s *torch.Scope, layer int, k, v *torch.Tensor) (*torch.Tensor, *torch.Tensor) {
	if c.k[layer] == nil {
		c.k[layer] = k.Detach(c.scope)
		c.v[layer] = v.Detach(c.scope)
	} else {
		nk := torch.Cat(c.scope, 2, c.k[layer], k.Detach(c.scope))
		nv := torch.Cat(c.scope, 2, c.v[layer], v.Detach(c.scope))
		c.k[layer].Free()
		c.v[layer].Free()
		c.k[layer], c.v[layer] = nk, nv
	}
	return c.k[layer], c.v[layer]
}

func (c *Cache) advance(l int64) { c.n += l }

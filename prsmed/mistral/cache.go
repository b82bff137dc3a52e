package mistral

import "github.com/prsmed/prsmed-go/torch"

// Cache holds every layer's keys (after RoPE) and values for incremental decoding, in
// buffers of shape (B, KV heads, capacity, head dim) allocated once: each step writes its
// new positions in place and the attention reads a narrowed view of the filled part, so
// decoding a token copies only that token's keys and values (a cache grown by
// concatenation copies the whole cache per layer per token). A step that would overflow
// the capacity doubles it once. Its tensors live in its own scope; Close frees them.
type Cache struct {
	scope *torch.Scope
	k, v  []*torch.Tensor
	n     int64
	caps  []int64 // positions each layer's buffers hold; 0 until the layer's first step
	want  int64   // the capacity asked for in NewCacheCap
}

// NewCache makes an empty cache for a model's layers on dev, sized by its first step
// (and doubled when a step overflows it). Prefer NewCacheCap when the total length is
// known.
func NewCache(m *Model, dev torch.Device) *Cache {
	return NewCacheCap(m, dev, 0)
}

// NewCacheCap makes an empty cache whose buffers hold capacity positions (the prompt plus
// the tokens to generate), so that decoding never reallocates.
func NewCacheCap(m *Model, dev torch.Device, capacity int64) *Cache {
	return &Cache{
		scope: torch.NewScope(dev).NoGrad(),
		k:     make([]*torch.Tensor, len(m.Layers)),
		v:     make([]*torch.Tensor, len(m.Layers)),
		caps:  make([]int64, len(m.Layers)),
		want:  capacity,
	}
}

// Len is the number of cached positions.
func (c *Cache) Len() int64 { return c.n }

// Cap is the number of positions the buffers hold now (0 before the first step). Every
// layer sees the same steps, so all layers hold the same number.
func (c *Cache) Cap() int64 {
	if len(c.caps) == 0 {
		return 0
	}
	return c.caps[0]
}

// Close frees the cached tensors.
func (c *Cache) Close() { c.scope.Close() }

// append writes a layer's new keys and values (B, KV heads, L, head dim) after the cached
// positions and returns views of all of them, (B, KV heads, Len+L, head dim), in s.
func (c *Cache) append(s *torch.Scope, layer int, k, v *torch.Tensor) (*torch.Tensor, *torch.Tensor) {
	l := k.Size(2)
	if need := c.n + l; need > c.caps[layer] {
		c.reserve(layer, k, v, need)
	}
	c.k[layer].Narrow(s, 2, c.n, l).CopyFrom(k)
	c.v[layer].Narrow(s, 2, c.n, l).CopyFrom(v)
	return c.k[layer].Narrow(s, 2, 0, c.n+l), c.v[layer].Narrow(s, 2, 0, c.n+l)
}

// reserve makes layer's buffers hold at least need positions (at least the capacity asked
// for, and at least twice what they held), keeping what they hold.
func (c *Cache) reserve(layer int, k, v *torch.Tensor, need int64) {
	n := max(need, c.want, 2*c.caps[layer])
	tmp := c.scope.Child() // the views used for copying
	defer tmp.Close()
	grow := func(old, src *torch.Tensor) *torch.Tensor {
		sh := src.Shape()
		sh[2] = n
		buf := torch.Empty(c.scope, src.DType(), sh...)
		if old != nil {
			if c.n > 0 {
				buf.Narrow(tmp, 2, 0, c.n).CopyFrom(old.Narrow(tmp, 2, 0, c.n))
			}
			old.Free()
		}
		return buf
	}
	c.k[layer] = grow(c.k[layer], k)
	c.v[layer] = grow(c.v[layer], v)
	c.caps[layer] = n
}

func (c *Cache) advance(l int64) { c.n += l }

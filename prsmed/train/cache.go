package train

import (
	"container/list"
	"sync"

	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/torch"
)

// item is one sample's preprocessed tensors on the CPU (before any flip), in a scope of its
// own. It is reference counted: the pipeline's workers and batch assembler hold it while
// they read it, and the cache holds it while it is cached; the last holder to let go frees
// it.
type item struct {
	idx             int
	scope           *torch.Scope
	sam, clip, mask *torch.Tensor
	sample          llava.Sample
	bytes           int64
	refs            int // guarded by the cache's mutex (or owned by one goroutine when uncached)
	elem            *list.Element
}

// cache keeps items up to a number of bytes, least recently used out first. It is safe for
// concurrent use; a nil *cache caches nothing.
type cache struct {
	mu          sync.Mutex
	limit, used int64
	items       map[int]*item
	lru         list.List // front: most recently used
}

func newCache(limit int64) *cache {
	if limit <= 0 {
		return nil
	}
	return &cache{limit: limit, items: map[int]*item{}}
}

// get returns the cached item of sample idx with a reference taken, or nil.
func (c *cache) get(idx int) *item {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	it := c.items[idx]
	if it != nil {
		it.refs++
		c.lru.MoveToFront(it.elem)
	}
	return it
}

// put offers a fresh item (held by its caller, refs 1) to the cache, evicting the least
// recently used items to make room; an item larger than the whole cache is not kept. When
// another worker cached the same sample first, put keeps that one.
func (c *cache) put(it *item) {
	if c == nil || it.bytes > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[it.idx]; ok {
		return
	}
	for c.used+it.bytes > c.limit && c.lru.Len() > 0 {
		old := c.lru.Remove(c.lru.Back()).(*item)
		delete(c.items, old.idx)
		c.used -= old.bytes
		old.elem = nil
		c.unref(old)
	}
	it.refs++
	it.elem = c.lru.PushFront(it)
	c.items[it.idx] = it
	c.used += it.bytes
}

// release lets go of a reference taken by get or held since the item was made.
func (c *cache) release(it *item) {
	if c == nil {
		it.scope.Close()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unref(it)
}

func (c *cache) unref(it *item) {
	if it.refs--; it.refs == 0 {
		it.scope.Close()
	}
}

// Bytes is the size of what the cache holds.
func (c *cache) Bytes() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// close drops every cached item (items still held elsewhere are freed by their holders).
func (c *cache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.lru.Len() > 0 {
		it := c.lru.Remove(c.lru.Back()).(*item)
		delete(c.items, it.idx)
		it.elem = nil
		c.unref(it)
	}
	c.used = 0
}

package torch

import (
	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// LiveTensors is the number of tensors made by this package and not yet freed (libtorch
// handles the binding holds, counted where they are made and freed).
func LiveTensors() int64 { return shim.LiveTensors() }

// Scope owns the tensors made in it and frees them all on Close. It also carries the state
// of the call it serves, so that nothing about a call is stored on the parameters: the
// device that creation functions use, the grad mode that every op runs with, whether layers
// run in training or evaluation mode (Dropout, BatchNorm) and the generator that random
// layers draw from. Children inherit all of it. A scope is used by one goroutine at a time;
// open one per training step or request.
type Scope struct {
	parent   *Scope
	device   Device
	grad     bool
	training bool
	gen      *Generator
	autocast DType    // the autocast dtype; 0 (Uint8, never valid) means off
	rowKeys  []uint64 // keys of the batch rows for keyed dropout (RowKeys); nil: none
	tensors  []*Tensor
	children []*Scope
	freed    int // tensors of this scope freed early (compacted away now and then)
	closed   bool
	// slab hands out the Tensor values of adopt from chunks, so that an op allocates
	// nothing in Go (one chunk per slabMax tensors once the scope is busy).
	slab []Tensor
	// The first tensors of a scope live in the scope itself (one allocation for a small
	// scope, as a layer's).
	slab0 [slabMin]Tensor
	list0 [slabMin]*Tensor
}

// newScope makes a scope whose first tensors use its inline arrays.
func newScope(parent *Scope, dev Device, grad bool) *Scope {
	s := &Scope{parent: parent, device: dev, grad: grad}
	s.slab = s.slab0[:0]
	s.tensors = s.list0[:0]
	return s
}

// Chunk sizes of Scope.slab: the first chunk is small (most scopes hold a few tensors),
// later ones double up to slabMax.
const (
	slabMin = 4
	slabMax = 128
)

// NewScope opens a root scope on a device with grad mode on, in evaluation mode (use Train
// for a training step).
func NewScope(dev Device) *Scope {
	return newScope(nil, dev, true)
}

// Device is where creation functions in this scope put their tensors.
func (s *Scope) Device() Device { return s.device }

// GradEnabled reports whether ops in this scope record autograd history.
func (s *Scope) GradEnabled() bool { return s.grad }

// Child opens a scope with the same device, grad mode, training mode, generator and
// autocast setting. Its tensors are freed when it closes, or when s closes, whichever comes
// first.
func (s *Scope) Child() *Scope {
	c := newScope(s, s.device, s.grad)
	c.training, c.gen, c.autocast, c.rowKeys = s.training, s.gen, s.autocast, s.rowKeys
	if len(s.children) >= 32 {
		// Drop closed children so a long-lived parent does not accumulate them.
		live := s.children[:0]
		for _, ch := range s.children {
			if !ch.closed {
				live = append(live, ch)
			}
		}
		for i := len(live); i < len(s.children); i++ {
			s.children[i] = nil
		}
		s.children = live
	}
	s.children = append(s.children, c)
	return c
}

// NoGrad opens a child scope in which ops record no autograd history.
func (s *Scope) NoGrad() *Scope {
	c := s.Child()
	c.grad = false
	return c
}

// WithGrad opens a child scope in which ops record autograd history.
func (s *Scope) WithGrad() *Scope {
	c := s.Child()
	c.grad = true
	return c
}

// Training reports whether layers run in training mode in this scope: Dropout drops,
// BatchNorm normalises with the batch's statistics and updates its running ones. It is
// PyTorch's module.training, held by the call instead of the module.
func (s *Scope) Training() bool { return s.training }

// Generator is the generator that random layers (Dropout) draw from in this scope; nil means
// libtorch's default generator.
func (s *Scope) Generator() *Generator { return s.gen }

// Train opens a child scope in training mode whose random layers draw from g (nil: the
// default generator). g must live on the device the layers compute on.
func (s *Scope) Train(g *Generator) *Scope {
	c := s.Child()
	c.training, c.gen = true, g
	return c
}

// RowKeys opens a child scope in which Dropout draws the mask of each row of its input's
// first dimension (a batch's samples) from that row's key, the scope's generator and the
// element's place in the row, instead of drawing one mask for the whole tensor. A sample
// then gets the same mask whatever else is in its batch (how many samples, how long the
// padded rows are, which process of a data-parallel run holds it), provided the scope's
// generator starts each forward in the same state. The input of every dropout in the scope
// must have len(keys) rows. Nil keys turn keyed dropout off. See Dropout.
func (s *Scope) RowKeys(keys []uint64) *Scope {
	c := s.Child()
	c.rowKeys = keys
	return c
}

// Keys is the scope's row keys (nil: none).
func (s *Scope) Keys() []uint64 { return s.rowKeys }

// Eval opens a child scope in evaluation mode (frozen modules inside a training step run in
// one, as fine-tuning code calls module.eval() on them).
func (s *Scope) Eval() *Scope {
	c := s.Child()
	c.training = false
	return c
}

// On opens a child scope whose creation functions use dev.
func (s *Scope) On(dev Device) *Scope {
	c := s.Child()
	c.device = dev
	return c
}

// Len is the number of tensors the scope still owns.
func (s *Scope) Len() int {
	n := 0
	for _, t := range s.tensors {
		if t.scope == s && !t.h.IsNil() {
			n++
		}
	}
	return n
}

// Escape hands t from this scope to its parent (or to the given scope if one is passed), so
// it outlives this scope's Close. It returns t.
func (s *Scope) Escape(t *Tensor, to ...*Scope) *Tensor {
	dst := s.parent
	if len(to) > 0 {
		dst = to[0]
	}
	if dst == nil {
		fail("escape", nil, "scope has no parent to hand the tensor to")
	}
	if t.scope != s {
		fail("escape", nil, "tensor does not belong to this scope")
	}
	t.scope = dst
	dst.tensors = append(dst.tensors, t)
	return t
}

// Close frees every tensor the scope still owns, and closes its children that are still
// open. It is safe to call twice.
func (s *Scope) Close() {
	for _, c := range s.children {
		if !c.closed {
			c.Close()
		}
	}
	s.children = nil
	// One cgo call frees everything the scope still owns (the handles gathered on the stack
	// unless there are many).
	var buf [64]shim.Handle
	hs := buf[:0]
	for i, t := range s.tensors {
		if t.scope == s && !t.h.IsNil() {
			hs = append(hs, t.h)
			t.h = shim.Handle{}
		}
		s.tensors[i] = nil
	}
	shim.FreeMany(hs)
	s.tensors = nil
	s.slab = nil
	s.closed = true
}

// adopt takes ownership of a fresh handle.
func (s *Scope) adopt(h shim.Handle) *Tensor {
	if s.closed {
		shim.Free(h)
		fail("scope", ErrFreed, "scope is closed")
	}
	if s.freed > 64 && 2*s.freed > len(s.tensors) {
		// Forget tensors freed early, so a long-lived scope that frees as it goes stays small.
		live := s.tensors[:0]
		for _, x := range s.tensors {
			if x.scope == s && !x.h.IsNil() {
				live = append(live, x)
			}
		}
		for i := len(live); i < len(s.tensors); i++ {
			s.tensors[i] = nil
		}
		s.tensors, s.freed = live, 0
	}
	if len(s.slab) == cap(s.slab) {
		n := 2 * cap(s.slab)
		if n < slabMin {
			n = slabMin
		}
		if n > slabMax {
			n = slabMax
		}
		s.slab = make([]Tensor, 0, n)
	}
	s.slab = s.slab[:len(s.slab)+1]
	t := &s.slab[len(s.slab)-1]
	t.h, t.scope = h, s
	s.tensors = append(s.tensors, t)
	return t
}

// result adopts h or panics with err.
func (s *Scope) result(op string, h shim.Handle, err error) *Tensor {
	if err != nil {
		panic(newError(op, err))
	}
	return s.adopt(h)
}

func (s *Scope) result2(op string, a, b shim.Handle, err error) (*Tensor, *Tensor) {
	if err != nil {
		panic(newError(op, err))
	}
	return s.adopt(a), s.adopt(b)
}

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
	parent    *Scope
	device    Device
	grad      bool
	trainMode Mode
	gen       *Generator
	autocast  DType    // the autocast dtype; 0 (Uint8, never valid) means off
	rowKeys   []uint64 // keys of the batch rows for keyed dropout (RowKeys); nil: none
	tensors   []*Tensor
	children  []*Scope
	freed     int // tensors of this scope freed early (compacted away now and then)
	closed    bool
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

// NewScope opens a root scope on a device with grad mode on and no mode: a layer whose
// result depends on the mode (BatchNorm, Dropout, ...) fails in it until Train or Eval
// opens a child that says which.
func NewScope(dev Device) *Scope {
	return newScope(nil, dev, true)
}

// Device is where creation functions in this scope put their tensors.
func (s *Scope) Device() Device { return s.device }

// GradEnabled reports whether ops in this scope record autograd history.
func (s *Scope) GradEnabled() bool { return s.grad }

// Child opens a scope with the same device, grad mode, training mode, generator and
// autocast setting. Its tensors are freed when it closes, or when s closes, whichever comes
// first. Every method that opens a scope (NoGrad, On, Train, Autocast, …) opens one child,
// so a chain such as s.On(dev).NoGrad() opens two: closing the last leaves the first open
// in s until s closes. Close the first one instead (it closes the second).
func (s *Scope) Child() *Scope {
	c := newScope(s, s.device, s.grad)
	c.trainMode, c.gen, c.autocast, c.rowKeys = s.trainMode, s.gen, s.autocast, s.rowKeys
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

// Mode says how layers whose result depends on it run in a scope: PyTorch's
// module.training, held by the call instead of the module.
type Mode uint8

const (
	// ModeUnset is a scope opened without Train or Eval (NewScope's). A mode-dependent
	// layer refuses to run in it: a training loop that forgot Train would otherwise run
	// BatchNorm and Dropout in evaluation mode without a word.
	ModeUnset Mode = iota
	// ModeEval runs layers for inference: Dropout passes its input through, BatchNorm
	// uses its running statistics.
	ModeEval
	// ModeTrain runs layers for a training step: Dropout drops, BatchNorm normalises with
	// the batch's statistics and updates its running ones.
	ModeTrain
)

func (m Mode) String() string {
	switch m {
	case ModeEval:
		return "eval"
	case ModeTrain:
		return "train"
	}
	return "unset"
}

// Mode is the scope's mode (ModeUnset unless Train or Eval opened it or an ancestor).
func (s *Scope) Mode() Mode { return s.trainMode }

// Training reports whether layer (its name, as "nn.Dropout") runs in training mode in this
// scope. A layer calls it only where its result depends on the mode; in a scope with no
// mode it panics with a *Error wrapping ErrNoMode that names the layer (torch.Recover and
// torch.Try turn it into a returned error).
func (s *Scope) Training(layer string) bool {
	switch s.trainMode {
	case ModeTrain:
		return true
	case ModeEval:
		return false
	}
	panic(Errorf(layer, ErrNoMode, "the scope has no mode: open it with Train(gen) for a training step or Eval() for inference"))
}

// Generator is the generator that random layers (Dropout) draw from in this scope; nil means
// libtorch's default generator.
func (s *Scope) Generator() *Generator { return s.gen }

// Train opens a child scope in training mode whose random layers draw from g (nil: the
// default generator). g must live on the device the layers compute on.
func (s *Scope) Train(g *Generator) *Scope {
	c := s.Child()
	c.trainMode, c.gen = ModeTrain, g
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
	c.trainMode = ModeEval
	return c
}

// On opens a child scope whose creation functions use dev.
func (s *Scope) On(dev Device) *Scope {
	c := s.Child()
	c.device = dev
	return c
}

// OpenChildren is the number of child scopes of s that are still open (children of
// children not counted): a long-lived scope whose users close what they open keeps it
// small.
func (s *Scope) OpenChildren() int {
	n := 0
	for _, c := range s.children {
		if !c.closed {
			n++
		}
	}
	return n
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

package nn

import "github.com/prsmed/prsmed-go/torch"

// Part makes one layer of a Seq under the path Seq hands it (<p>.<index>).
type Part func(p Path) Layer

// Sequential runs its layers one after the other, as torch.nn.Sequential: the output of
// each is the input of the next. Build one with Seq.
type Sequential struct {
	Layers []Layer
	// Names are the layers' dotted names in the store (<p>.0, <p>.1, …), one per layer.
	Names []string

	linear []bool // which positions held a *Linear when Seq built them
}

// Seq builds a Sequential under p in one expression. Part i is called with p.Index(i), so
// the parameters get torch.nn.Sequential's state-dict names: a Linear at position 2 owns
// <p>.2.weight and <p>.2.bias, and a layer without parameters (an activation) takes its
// position without registering anything, as in PyTorch. A state dict of the matching
// torch.nn.Sequential therefore loads as it is:
//
//	head := nn.Seq(root.Sub("head"),
//		nn.LinearPart(32, 64, nn.LinearConfig{Bias: true}), // head.0.weight, head.0.bias
//		nn.Use(nn.ReLU),                                     // head.1: no parameters
//		nn.LinearPart(64, 1, nn.LinearConfig{Bias: true}),  // head.2.weight, head.2.bias
//	)
//
// Seq panics with a *torch.Error (errors.Is torch.ErrInvalid, caught by torch.Try) when a
// part is nil or makes a nil layer.
func Seq(p Path, parts ...Part) *Sequential {
	q := &Sequential{Layers: make([]Layer, len(parts)), Names: make([]string, len(parts)), linear: make([]bool, len(parts))}
	for i, part := range parts {
		if part == nil {
			torch.Fail("nn.Seq", torch.ErrInvalid, "%s: part %d is nil", p, i)
		}
		sub := p.Index(i)
		l := part(sub)
		if l == nil {
			torch.Fail("nn.Seq", torch.ErrInvalid, "%s: part %d made no layer", p, i)
		}
		_, lin := l.(*Linear)
		q.Layers[i], q.Names[i], q.linear[i] = l, sub.String(), lin
	}
	return q
}

// Forward runs the layers in order.
func (q *Sequential) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	for _, l := range q.Layers {
		x = l.Forward(s, x)
	}
	return x
}

// LinearSlots lists the positions of the sequence that hold a *Linear, or held one when
// Seq built them (an adapter may stand there now), by their store names, and the slots of
// any layer that lists its own (a nested Seq, an MLP), so that loraadapter.Inject can
// target them: a target "head.0" or "0" matches the first layer of a Seq built under
// "head".
func (q *Sequential) LinearSlots() []LinearSlot {
	var out []LinearSlot
	for i, l := range q.Layers {
		switch v := l.(type) {
		case SlotLister:
			out = append(out, v.LinearSlots()...)
			continue
		case *Linear:
		default:
			if i >= len(q.linear) || !q.linear[i] {
				continue
			}
		}
		out = append(out, LinearSlot{Name: nameAt(q.Names, i), Layer: &q.Layers[i]})
	}
	return out
}

// Use is a Part that is l itself: a layer without parameters (an Activation, a Dropout, a
// Func) or one built elsewhere.
func Use(l Layer) Part { return func(Path) Layer { return l } }

// LinearPart is a Part that makes NewLinear(p, in, out, c).
func LinearPart(in, out int64, c LinearConfig) Part {
	return func(p Path) Layer { return NewLinear(p, in, out, c) }
}

// Conv2dPart is a Part that makes NewConv2d(p, in, out, k, c).
func Conv2dPart(in, out, k int64, c ConvConfig) Part {
	return func(p Path) Layer { return NewConv2d(p, in, out, k, c) }
}

// LayerNormPart is a Part that makes NewLayerNorm(p, eps, shape...).
func LayerNormPart(eps float64, shape ...int64) Part {
	return func(p Path) Layer { return NewLayerNorm(p, eps, shape...) }
}

// SeqPart is a Part that makes a nested Seq (torch.nn.Sequential inside another: its
// layers are named <p>.<i>.<j>).
func SeqPart(parts ...Part) Part {
	return func(p Path) Layer { return Seq(p, parts...) }
}

// nameAt is names[i], or "" past its end (a slot without a name, which Inject refuses).
func nameAt(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return ""
}

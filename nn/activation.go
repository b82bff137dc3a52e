package nn

import "github.com/prsmed/prsmed-go/torch"

// Activation is a parameter-free elementwise layer.
type Activation int

// Activations.
const (
	ReLU      Activation = iota
	GELU                 // exact (erf) GELU
	GELUTanh             // tanh approximation
	QuickGELU            // x·sigmoid(1.702x), as in CLIP
	SiLU
	Tanh
	Sigmoid
	Identity
)

// Forward applies the activation.
func (a Activation) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	switch a {
	case ReLU:
		return x.Relu(s)
	case GELU:
		return x.Gelu(s)
	case GELUTanh:
		return x.GeluTanh(s)
	case QuickGELU:
		return x.Mul(s, x.MulScalar(s, 1.702).Sigmoid(s))
	case SiLU:
		return x.Silu(s)
	case Tanh:
		return x.Tanh(s)
	case Sigmoid:
		return x.Sigmoid(s)
	}
	return x
}

// Dropout is torch.nn.Dropout: active only in a training scope (see torch.Scope.Train).
type Dropout struct {
	P float64
}

// NewDropout makes a dropout layer that drops a fraction p of its inputs.
// Like torch.nn.Dropout it refuses p outside [0, 1].
func NewDropout(p float64) *Dropout {
	if !(p >= 0 && p <= 1) {
		invalid("nn.Dropout", "dropout probability has to be between 0 and 1, but got %v", p)
	}
	return &Dropout{P: p}
}

// Forward drops elements when s is in training mode, drawing from s's generator.
func (d *Dropout) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	// p = 0 gives x in both modes: only a dropout that drops needs the scope's mode.
	if d.P == 0 || !s.Training("nn.Dropout") {
		return x
	}
	return torch.Dropout(s, x, d.P, true, s.Generator())
}

// MLP is a stack of Linear layers with an activation between them (not after the last),
// registered as <p>.layers.0, <p>.layers.1, … unless Names says otherwise. Its layers are
// slots (see LinearSlots), so loraadapter.Inject can put adapters in their place.
type MLP struct {
	// Layers are the *Linear layers NewMLP made, or what an adapter put in their place.
	Layers []Layer
	// Names are the layers' dotted names in the store, one per layer.
	Names []string
	Act   Activation
}

// NewMLP builds Linear(dims[0]→dims[1]) … Linear(dims[n-2]→dims[n-1]) under
// <p>.<names[i]> (default "layers.i").
func NewMLP(p Path, act Activation, dims []int64, names ...string) *MLP {
	m := &MLP{Act: act}
	for i := 0; i+1 < len(dims); i++ {
		sub := p.Sub("layers").Index(i)
		if i < len(names) {
			sub = p.Sub(names[i])
		}
		m.Layers = append(m.Layers, NewLinear(sub, dims[i], dims[i+1], LinearConfig{Bias: true}))
		m.Names = append(m.Names, sub.String())
	}
	return m
}

// Forward runs the stack.
func (m *MLP) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	for i, l := range m.Layers {
		x = l.Forward(s, x)
		if i+1 < len(m.Layers) {
			x = m.Act.Forward(s, x)
		}
	}
	return x
}

// LinearSlots lists every layer by its store name ("mlp.layers.0", …), for
// loraadapter.Inject: a target "layers.0" adapts the first layer.
func (m *MLP) LinearSlots() []LinearSlot {
	out := make([]LinearSlot, len(m.Layers))
	for i := range m.Layers {
		out[i] = LinearSlot{Name: nameAt(m.Names, i), Layer: &m.Layers[i]}
	}
	return out
}

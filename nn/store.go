package nn

import (
	"sort"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/torch"
)

// Kind tells parameters from buffers.
type Kind int

// Entry kinds.
const (
	Parameter Kind = iota // trained by optimizers, has a gradient
	Buffer                // state such as BatchNorm running statistics
)

// Entry is one named tensor of a Store.
type Entry struct {
	Name      string
	Tensor    *torch.Tensor
	Kind      Kind
	Trainable bool
}

// Store owns the parameters and buffers of a model, under PyTorch's dotted names. It holds
// no state of a call: training or evaluation mode and the generator of random layers travel
// with the call's torch.Scope (Scope.Train, Scope.Eval), so one store serves concurrent
// forwards in evaluation mode. A training step (which updates parameters and BatchNorm
// statistics) must not run at the same time as other calls on the same store.
type Store struct {
	scope   *torch.Scope
	alloc   *torch.Scope // child of scope on device: where new tensors go
	device  torch.Device
	dtype   torch.DType
	gen     *torch.Generator
	entries map[string]*Entry
	order   []string
}

// NewStore makes an empty float32 store on dev.
func NewStore(dev torch.Device) *Store {
	return &Store{
		scope:   torch.NewScope(dev).NoGrad(),
		device:  dev,
		dtype:   torch.Float32,
		entries: map[string]*Entry{},
	}
}

// SetGenerator makes initialisers draw from g (nil: libtorch's default generator, which
// torch.ManualSeed seeds — then a model built in the same order as its PyTorch twin gets the
// same initial values).
func (st *Store) SetGenerator(g *torch.Generator) { st.gen = g }

// Generator is the generator initialisers draw from (nil: the default).
func (st *Store) Generator() *torch.Generator { return st.gen }

// SetDType sets the dtype of parameters created from now on (float32 by default).
func (st *Store) SetDType(dt torch.DType) { st.dtype = dt }

// Device is where the store's tensors live.
func (st *Store) Device() torch.Device { return st.device }

// DType is the dtype new parameters get.
func (st *Store) DType() torch.DType { return st.dtype }

// Root is the path with no prefix.
func (st *Store) Root() Path { return Path{store: st} }

// Close frees every tensor of the store.
func (st *Store) Close() { st.scope.Close() }

// Entries lists the store's entries in creation order.
func (st *Store) Entries() []*Entry {
	out := make([]*Entry, 0, len(st.order))
	for _, n := range st.order {
		out = append(out, st.entries[n])
	}
	return out
}

// Get finds an entry by name.
func (st *Store) Get(name string) (*Entry, bool) {
	e, ok := st.entries[name]
	return e, ok
}

// Tensors maps every name to its tensor (parameters and buffers): the state dict.
func (st *Store) Tensors() map[string]*torch.Tensor {
	m := make(map[string]*torch.Tensor, len(st.order))
	for _, n := range st.order {
		m[n] = st.entries[n].Tensor
	}
	return m
}

// Parameters lists the parameter tensors (trainable or not) in creation order.
func (st *Store) Parameters() []*torch.Tensor {
	var out []*torch.Tensor
	for _, n := range st.order {
		if e := st.entries[n]; e.Kind == Parameter {
			out = append(out, e.Tensor)
		}
	}
	return out
}

// Trainable lists the trainable parameters in creation order.
func (st *Store) Trainable() []*torch.Tensor {
	var out []*torch.Tensor
	for _, n := range st.order {
		if e := st.entries[n]; e.Kind == Parameter && e.Trainable {
			out = append(out, e.Tensor)
		}
	}
	return out
}

// TrainableNames lists the names of the trainable parameters in creation order.
func (st *Store) TrainableNames() []string {
	var out []string
	for _, n := range st.order {
		if e := st.entries[n]; e.Kind == Parameter && e.Trainable {
			out = append(out, n)
		}
	}
	return out
}

// NumParams counts parameter elements (only trainable ones when trainableOnly).
func (st *Store) NumParams(trainableOnly bool) int64 {
	var n int64
	for _, name := range st.order {
		e := st.entries[name]
		if e.Kind != Parameter || (trainableOnly && !e.Trainable) {
			continue
		}
		n += e.Tensor.Numel()
	}
	return n
}

// Match reports whether a dotted name matches a pattern in which `*` stands for any run of
// characters (dots included): "image_encoder.*", "*.lora_A.weight", "*norm*".
func Match(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	rest := name[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(rest, p) && len(rest) >= len(p)
		}
		j := strings.Index(rest, p)
		if j < 0 {
			return false
		}
		rest = rest[j+len(p):]
	}
	return true
}

// SetTrainable freezes (false) or unfreezes (true) every parameter whose name matches one of
// the patterns (see Match) and returns how many changed. A frozen parameter records no
// gradient.
func (st *Store) SetTrainable(on bool, patterns ...string) int {
	n := 0
	for _, name := range st.order {
		e := st.entries[name]
		if e.Kind != Parameter {
			continue
		}
		for _, p := range patterns {
			if Match(p, name) {
				if e.Trainable != on {
					n++
				}
				e.Trainable = on
				e.Tensor.SetRequiresGrad(on)
				break
			}
		}
	}
	return n
}

// Freeze is SetTrainable(false, patterns...).
func (st *Store) Freeze(patterns ...string) int { return st.SetTrainable(false, patterns...) }

// Unfreeze is SetTrainable(true, patterns...).
func (st *Store) Unfreeze(patterns ...string) int { return st.SetTrainable(true, patterns...) }

// NoDecay is the usual rule for which parameters skip weight decay: biases, norm weights
// and 1-d tensors.
func NoDecay(name string, t *torch.Tensor) bool {
	return t.Dim() <= 1 || strings.HasSuffix(name, ".bias") || strings.Contains(name, "norm")
}

// ParamGroups splits the trainable parameters into a group with weight decay and one
// without (where noDecay says so), both at learning rate lr, for torch.NewAdamW.
func (st *Store) ParamGroups(lr, weightDecay float64, noDecay func(name string, t *torch.Tensor) bool) []*torch.ParamGroup {
	decay := &torch.ParamGroup{LR: torch.Float(lr), WeightDecay: torch.Float(weightDecay)}
	plain := &torch.ParamGroup{LR: torch.Float(lr), WeightDecay: torch.Float(0)}
	for _, n := range st.TrainableNames() {
		t := st.entries[n].Tensor
		if noDecay != nil && noDecay(n, t) {
			plain.Params = append(plain.Params, t)
		} else {
			decay.Params = append(decay.Params, t)
		}
	}
	var out []*torch.ParamGroup
	for _, g := range []*torch.ParamGroup{decay, plain} {
		if len(g.Params) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// To moves (and casts floating-point tensors to dt, unless dt is torch.KeepDType) every
// tensor of the store and every gradient they hold, keeping each *torch.Tensor valid, as
// Module.to does.
func (st *Store) To(dev torch.Device, dt torch.DType) (err error) {
	defer torch.Recover(&err)
	s := st.scope.Child()
	defer s.Close()
	for _, n := range st.order {
		t := st.entries[n].Tensor
		target := t.DType()
		if dt != torch.KeepDType && target.IsFloat() {
			target = dt
		}
		t.SetData(t.To(s, dev, target))
		// As Module.to does, an existing gradient moves and converts too; otherwise the
		// next backward would accumulate into a gradient of the old dtype or device.
		if g := t.Grad(s); g != nil {
			g.SetData(g.To(s, dev, target))
		}
	}
	st.device = dev
	if dt != torch.KeepDType {
		st.dtype = dt
	}
	return nil
}

func (st *Store) add(name string, t *torch.Tensor, kind Kind, trainable bool) *torch.Tensor {
	if _, dup := st.entries[name]; dup {
		torch.Fail("nn.register", torch.ErrInvalid, "%q is registered twice", name)
	}
	if kind == Parameter && trainable {
		t.SetRequiresGrad(true)
	}
	st.entries[name] = &Entry{Name: name, Tensor: t, Kind: kind, Trainable: kind == Parameter && trainable}
	st.order = append(st.order, name)
	return t
}

// Names lists every entry name, sorted.
func (st *Store) Names() []string {
	out := append([]string(nil), st.order...)
	sort.Strings(out)
	return out
}

// Path is a dotted name prefix in a Store.
type Path struct {
	store  *Store
	prefix string
}

// Store is the store the path names into.
func (p Path) Store() *Store { return p.store }

// Name is the full dotted name of a child called name.
func (p Path) Name(name string) string {
	if p.prefix == "" {
		return name
	}
	return p.prefix + "." + name
}

// String is the path's prefix.
func (p Path) String() string { return p.prefix }

// Sub is the path of a child module ("layers", then Sub("0") or Index(0)).
func (p Path) Sub(name string) Path { return Path{store: p.store, prefix: p.Name(name)} }

// Index is the path of element i of a module list.
func (p Path) Index(i int) Path { return p.Sub(strconv.Itoa(i)) }

// allocScope is the scope new parameters and buffers are made in: on the store's current
// device (which To changes).
func (st *Store) allocScope() *torch.Scope {
	if st.alloc == nil || st.alloc.Device() != st.device {
		st.alloc = st.scope.On(st.device)
	}
	return st.alloc
}

// Param creates a trainable parameter of the store's dtype, filled by init.
func (p Path) Param(name string, init Init, shape ...int64) *torch.Tensor {
	st := p.store
	t := torch.Empty(st.allocScope(), st.dtype, shape...)
	init.Fill(t, st.gen)
	return st.add(p.Name(name), t, Parameter, true)
}

// BufferOf registers t (made in a scope that is about to close, or any scope) as a buffer,
// copying it into the store.
func (p Path) BufferOf(name string, t *torch.Tensor) *torch.Tensor {
	st := p.store
	c := t.To(st.allocScope(), st.device, t.DType())
	return st.add(p.Name(name), c, Buffer, false)
}

// Buffer creates a buffer of dtype dt filled with v.
func (p Path) Buffer(name string, v float64, dt torch.DType, shape ...int64) *torch.Tensor {
	st := p.store
	return st.add(p.Name(name), torch.Full(st.allocScope(), v, dt, shape...), Buffer, false)
}

package loraadapter

import (
	"fmt"
	"math"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Linear is a LoRA layer: a frozen *nn.Linear plus the trainable low-rank update
// B·A·Scale. It is an nn.Layer, so it stands where the linear layer stood.
//
// Make one with Wrap or Inject.
// Forward, Merge and Unmerge must not run at the same time; concurrent forwards are fine.
type Linear struct {
	// Name is the module's dotted name ("model.layers.0.self_attn.q_proj"); A and B are
	// registered in the store as Name+".lora_A.weight" and Name+".lora_B.weight".
	Name string
	// Base is the wrapped layer; its weight and bias are frozen.
	Base *nn.Linear
	// A is lora_A.weight (R × in) and B is lora_B.weight (out × R).
	A, B *torch.Tensor
	// Scale multiplies the update: Alpha/R (or Alpha/√R).
	Scale float64
	// Dropout is the probability with which the adapter's input is zeroed in a training
	// scope (torch.Scope.Train), drawing from the scope's generator.
	Dropout float64

	merged      bool
	mergedScale float64 // the Scale that Merge folded in
}

// Wrap makes a LoRA layer around base, the linear layer registered at p, with cfg's rank,
// scale and dropout (cfg's Targets and Prefixes are not consulted). It registers
// p.lora_A.weight and p.lora_B.weight (trainable) and freezes base's weight and bias. A is
// drawn kaiming-uniform (a = √5) from the store's generator and B is zero, in PEFT's draw
// order: PEFT builds lora_A and lora_B as nn.Linear layers (each drawing its default init)
// and then draws A again, so a model injected after the same torch.ManualSeed as its
// PyTorch twin gets the same A.
//
// Most callers use Inject, which wraps every matching slot of a model.
func Wrap(p nn.Path, base *nn.Linear, cfg Config) (l *Linear, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if p.String() == "" {
		return nil, fmt.Errorf("loraadapter: a LoRA layer needs a module name")
	}
	if base == nil || base.Weight == nil {
		return nil, fmt.Errorf("loraadapter: %s: no linear layer to wrap", p)
	}
	if base.Weight.Dim() != 2 {
		return nil, fmt.Errorf("loraadapter: %s: weight has shape %v, want (out, in)", p, base.Weight.Shape())
	}
	defer torch.Recover(&err)
	return wrap(p, base, cfg, tensorNames(p.Store())), nil
}

// tensorNames maps each tensor of a store to its name.
func tensorNames(st *nn.Store) map[*torch.Tensor]string {
	m := map[*torch.Tensor]string{}
	for _, e := range st.Entries() {
		m[e.Tensor] = e.Name
	}
	return m
}

// wrap is Wrap after the checks; it panics with a *torch.Error when libtorch fails.
func wrap(p nn.Path, base *nn.Linear, cfg Config, names map[*torch.Tensor]string) *Linear {
	st := p.Store()
	for _, t := range []*torch.Tensor{base.Weight, base.Bias} {
		if t == nil {
			continue
		}
		if n, ok := names[t]; ok {
			st.Freeze(n)
		} else {
			t.SetRequiresGrad(false)
		}
	}
	out, in := base.Weight.Size(0), base.Weight.Size(1)
	kaiming := nn.KaimingUniform(math.Sqrt(5))
	a := p.Sub("lora_A").Param("weight", kaiming, cfg.R, in)
	b := p.Sub("lora_B").Param("weight", kaiming, out, cfg.R)
	kaiming.Fill(a, st.Generator())
	b.Fill(0)
	// The store makes parameters where it was created; after Store.To they must follow the
	// base layer (PEFT likewise draws on the CPU and moves the adapter to the base's device).
	if dev := base.Weight.Device(); a.Device() != dev {
		s := torch.NewScope(dev).NoGrad()
		defer s.Close()
		a.SetData(a.To(s, dev, a.DType()))
		b.SetData(b.To(s, dev, b.DType()))
	}
	return &Linear{
		Name:    p.String(),
		Base:    base,
		A:       a,
		B:       b,
		Scale:   cfg.Scale(),
		Dropout: cfg.Dropout,
	}
}

// Forward is base(x) + B(A(dropout(x)))·Scale, as PEFT's lora.Linear computes it: the
// adapter's input is cast to A's dtype and the sum back to the base output's dtype. After
// Merge it is base(x) alone (the update is in the weight).
func (l *Linear) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	if l.merged {
		return l.Base.Forward(s, x)
	}
	if l.Dropout == 0 || !s.Training("loraadapter.Linear") {
		// No dropout: the whole layer in one call into libtorch.
		return torch.LoRALinear(s, x, l.Base.Weight, l.Base.Bias, l.A, l.B, l.Scale)
	}
	y := l.Base.Forward(s, x)
	h := x
	if h.DType() != l.A.DType() {
		h = h.ToDType(s, l.A.DType())
	}
	h = torch.Dropout(s, h, l.Dropout, true, s.Generator())
	d := torch.Linear(s, torch.Linear(s, h, l.A, nil), l.B, nil).MulScalar(s, l.Scale)
	out := y.Add(s, d)
	if out.DType() != y.DType() {
		out = out.ToDType(s, y.DType())
	}
	return out
}

// Merged reports whether the update is folded into the base weight.
func (l *Linear) Merged() bool { return l.merged }

// Rank is r, the number of rows of A.
func (l *Linear) Rank() int64 { return l.A.Size(0) }

// ParamNames are the store names of A and B.
func (l *Linear) ParamNames() []string {
	return []string{l.Name + ".lora_A.weight", l.Name + ".lora_B.weight"}
}

// Delta computes the update B·A·Scale (out × in) in s, without autograd, in float32 when
// the base weight is a 16-bit float (as PEFT does on CPU) and cast to the weight's dtype.
func (l *Linear) Delta(s *torch.Scope) (d *torch.Tensor, err error) {
	defer torch.Recover(&err)
	c := s.NoGrad()
	defer c.Close()
	return c.Escape(l.delta(c, l.Scale), s), nil
}

func (l *Linear) delta(s *torch.Scope, scale float64) *torch.Tensor {
	a, b := l.A, l.B
	wt := l.Base.Weight.DType()
	ct := wt
	if wt == torch.Float16 || wt == torch.BFloat16 {
		ct = torch.Float32
	}
	if a.DType() != ct {
		a = a.ToDType(s, ct)
	}
	if b.DType() != ct {
		b = b.ToDType(s, ct)
	}
	d := b.Matmul(s, a).MulScalar(s, scale)
	if d.DType() != wt {
		d = d.ToDType(s, wt)
	}
	return d
}

// Merge folds B·A·Scale into the base weight in place (W ← W + ΔW, no autograd), so that
// Forward costs one matmul. Merging a merged layer does nothing. Train only unmerged
// layers: a merged layer's output no longer depends on A and B.
func (l *Linear) Merge() (err error) {
	if l.merged {
		return nil
	}
	defer torch.Recover(&err)
	s := torch.NewScope(l.Base.Weight.Device()).NoGrad()
	defer s.Close()
	w := l.Base.Weight
	w.CopyFrom(w.Add(s, l.delta(s, l.Scale)))
	l.merged, l.mergedScale = true, l.Scale
	return nil
}

// Unmerge takes the merged update out of the base weight again (W ← W − ΔW, recomputed
// from A and B). Unmerging an unmerged layer does nothing. In 16-bit weights the round
// trip is not exact, as in PEFT.
func (l *Linear) Unmerge() (err error) {
	if !l.merged {
		return nil
	}
	defer torch.Recover(&err)
	s := torch.NewScope(l.Base.Weight.Device()).NoGrad()
	defer s.Close()
	w := l.Base.Weight
	w.CopyFrom(w.Sub(s, l.delta(s, l.mergedScale)))
	l.merged = false
	return nil
}

package torch

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// ParamGroup is a set of parameters with their own hyper-parameters, as a PyTorch
// optimizer's param_groups entry.
//
// A nil field inherits the optimizer's configuration, as a PyTorch group without that key
// does: []*ParamGroup{{Params: ps}} trains with every value of the config, weight decay
// included. A set field overrides it, zero included (WeightDecay: torch.Float(0) is a group
// without weight decay). The optimizer's constructor fills each nil field with the
// inherited value, so afterwards every field is set; a schedule changes *LR.
type ParamGroup struct {
	Params      []*Tensor
	LR          *float64
	WeightDecay *float64
	// Betas and Eps are AdamW's; SGD refuses a group that sets them.
	Betas  *[2]float64
	Eps    *float64
	baseLR float64
}

// Float returns a pointer to v, to set a ParamGroup field.
func Float(v float64) *float64 { return &v }

// Betas returns a pointer to (beta1, beta2), to set ParamGroup.Betas.
func Betas(beta1, beta2 float64) *[2]float64 { return &[2]float64{beta1, beta2} }

// inherit fills the group's nil fields from an optimizer's configuration.
func (g *ParamGroup) inherit(lr, weightDecay float64, betas [2]float64, eps float64) {
	if g.LR == nil {
		g.LR = Float(lr)
	}
	if g.WeightDecay == nil {
		g.WeightDecay = Float(weightDecay)
	}
	if g.Betas == nil {
		g.Betas = &betas
	}
	if g.Eps == nil {
		g.Eps = Float(eps)
	}
}

// own gives the group its own copies of the values its fields point to, so that a schedule
// changing *LR changes only this group even when the caller shared one pointer.
func (g *ParamGroup) own() {
	g.LR, g.WeightDecay, g.Eps = Float(*g.LR), Float(*g.WeightDecay), Float(*g.Eps)
	b := *g.Betas
	g.Betas = &b
}

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient.
	Step()
	// ZeroGrad drops every parameter's gradient.
	ZeroGrad()
	// Groups are the parameter groups (their LR may be changed between steps).
	Groups() []*ParamGroup
	// StepCount is the number of steps taken.
	StepCount() int64
	// State returns the optimizer's state tensors by name (owned by the optimizer) and its
	// scalar state, for checkpoints.
	State() (map[string]*Tensor, map[string]string)
	// LoadState copies state saved by State into the optimizer.
	LoadState(tensors map[string]*Tensor, meta map[string]string) error
	// Close frees the optimizer's state.
	Close()
}

// AdamWConfig holds AdamW's hyper-parameters; DefaultAdamW gives PyTorch's defaults.
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// Impl chooses the update's implementation; the zero value (AdamWAuto) picks the
	// fastest one available.
	Impl AdamWImpl
}

// DefaultAdamW is torch.optim.AdamW's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
// weight decay 1e-2.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2}
}

// AdamW is torch.optim.AdamW: with AdamWPerTensor PyTorch 1.13's single-tensor numerics, with
// AdamWForeach its foreach=True numerics (the same formula, one libtorch call per group),
// with AdamWFused its fused=True kernel (CUDA, libtorch 2.x).
type AdamW struct {
	cfg    AdamWConfig
	groups []*ParamGroup
	state  *Scope
	m, v   map[*Tensor]*Tensor
	steps  map[*Tensor]int64 // per parameter, counting only steps in which it had a gradient
	step   int64
}

// NewAdamW makes an AdamW optimizer over groups; a group's nil fields take cfg's values
// (see ParamGroup). Pass one group for the usual case: []*ParamGroup{{Params: ps}}.
func NewAdamW(groups []*ParamGroup, cfg AdamWConfig) *AdamW {
	for _, g := range groups {
		g.inherit(cfg.LR, cfg.WeightDecay, [2]float64{cfg.Beta1, cfg.Beta2}, cfg.Eps)
		g.own()
		g.baseLR = *g.LR
	}
	return &AdamW{cfg: cfg, groups: groups, state: NewScope(CPU).NoGrad(), m: map[*Tensor]*Tensor{}, v: map[*Tensor]*Tensor{}, steps: map[*Tensor]int64{}}
}

// Groups returns the parameter groups.
func (o *AdamW) Groups() []*ParamGroup { return o.groups }

// StepCount is the number of steps taken.
func (o *AdamW) StepCount() int64 { return o.step }

func (o *AdamW) moments(p *Tensor) (*Tensor, *Tensor) {
	m, ok := o.m[p]
	if !ok {
		dev, dt, sh := p.Device(), p.DType(), p.Shape()
		s := o.state.On(dev)
		m = s.Escape(Zeros(s, dt, sh...), o.state)
		o.m[p] = m
		o.v[p] = s.Escape(Zeros(s, dt, sh...), o.state)
		s.Close()
	}
	return m, o.v[p]
}

// Step applies one AdamW update.
func (o *AdamW) Step() {
	o.step++
	for _, g := range o.groups {
		g.inherit(o.cfg.LR, o.cfg.WeightDecay, [2]float64{o.cfg.Beta1, o.cfg.Beta2}, o.cfg.Eps) // a field set back to nil inherits again
		if impl := o.groupImpl(g); impl != AdamWPerTensor {
			o.stepMulti(g, impl)
			continue
		}
		for _, p := range g.Params {
			m, v := o.moments(p)
			updated, err := shim.AdamWStep(p.handle("adamw"), m.h, v.h, o.steps[p]+1, *g.LR, g.Betas[0], g.Betas[1], *g.Eps, *g.WeightDecay)
			if err != nil {
				panic(newError("adamw", err))
			}
			if updated {
				o.steps[p]++
			}
		}
	}
}

// ZeroGrad drops every parameter's gradient.
func (o *AdamW) ZeroGrad() { zeroGrads(o.groups) }

// State returns exp_avg / exp_avg_sq tensors named "<group>.<index>.exp_avg", the
// optimizer's step count ("step") and each parameter's ("<group>.<index>.step", the steps
// in which it had a gradient, which its bias correction uses).
func (o *AdamW) State() (map[string]*Tensor, map[string]string) {
	ts := map[string]*Tensor{}
	meta := map[string]string{"step": strconv.FormatInt(o.step, 10), "optimizer": "adamw"}
	for gi, g := range o.groups {
		for pi, p := range g.Params {
			m, v := o.moments(p)
			ts[fmt.Sprintf("%d.%d.exp_avg", gi, pi)] = m
			ts[fmt.Sprintf("%d.%d.exp_avg_sq", gi, pi)] = v
			meta[fmt.Sprintf("%d.%d.step", gi, pi)] = strconv.FormatInt(o.steps[p], 10)
		}
	}
	return ts, meta
}

// LoadState restores state saved by State.
func (o *AdamW) LoadState(tensors map[string]*Tensor, meta map[string]string) (err error) {
	defer Recover(&err)
	step, err := strconv.ParseInt(meta["step"], 10, 64)
	if err != nil {
		return fmt.Errorf("adamw state: bad step %q", meta["step"])
	}
	for gi, g := range o.groups {
		for pi, p := range g.Params {
			m, v := o.moments(p)
			for name, dst := range map[string]*Tensor{"exp_avg": m, "exp_avg_sq": v} {
				key := fmt.Sprintf("%d.%d.%s", gi, pi, name)
				src, ok := tensors[key]
				if !ok {
					return fmt.Errorf("adamw state: missing %s", key)
				}
				if !slices.Equal(src.Shape(), dst.Shape()) {
					return fmt.Errorf("adamw state: %s has shape %v, parameter has %v", key, src.Shape(), dst.Shape())
				}
				dst.CopyFrom(src)
			}
			ps := step // files written before per-parameter steps: every parameter at the global step
			if v, ok := meta[fmt.Sprintf("%d.%d.step", gi, pi)]; ok {
				if ps, err = strconv.ParseInt(v, 10, 64); err != nil {
					return fmt.Errorf("adamw state: bad step %q for %d.%d", v, gi, pi)
				}
			}
			o.steps[p] = ps
		}
	}
	o.step = step
	return nil
}

// Close frees the optimizer's state.
func (o *AdamW) Close() { o.state.Close() }

// SGDConfig holds SGD's hyper-parameters (PyTorch's defaults are all zero but LR).
type SGDConfig struct {
	LR, Momentum, Dampening, WeightDecay float64
	Nesterov                             bool
}

// SGD is torch.optim.SGD with PyTorch 1.13's single-tensor numerics.
type SGD struct {
	cfg    SGDConfig
	groups []*ParamGroup
	state  *Scope
	buf    map[*Tensor]*Tensor
	seen   map[*Tensor]bool
	step   int64
}

// NewSGD makes an SGD optimizer; a group's nil LR and WeightDecay take cfg's values (see
// ParamGroup). A group that sets Betas or Eps, which SGD does not have, is refused with a
// *Error (ErrInvalid) panic.
func NewSGD(groups []*ParamGroup, cfg SGDConfig) *SGD {
	for i, g := range groups {
		if g.Betas != nil || g.Eps != nil {
			fail("sgd", ErrInvalid, "group %d sets Betas or Eps, which SGD does not have", i)
		}
		g.inherit(cfg.LR, cfg.WeightDecay, [2]float64{}, 0)
		g.own()
		g.Betas, g.Eps = nil, nil
		g.baseLR = *g.LR
	}
	return &SGD{cfg: cfg, groups: groups, state: NewScope(CPU).NoGrad(), buf: map[*Tensor]*Tensor{}, seen: map[*Tensor]bool{}}
}

// Groups returns the parameter groups.
func (o *SGD) Groups() []*ParamGroup { return o.groups }

// StepCount is the number of steps taken.
func (o *SGD) StepCount() int64 { return o.step }

func (o *SGD) buffer(p *Tensor) *Tensor {
	b, ok := o.buf[p]
	if !ok {
		s := o.state.On(p.Device())
		b = s.Escape(Zeros(s, p.DType(), p.Shape()...), o.state)
		s.Close()
		o.buf[p] = b
	}
	return b
}

// Step applies one SGD update.
func (o *SGD) Step() {
	o.step++
	for _, g := range o.groups {
		g.inherit(o.cfg.LR, o.cfg.WeightDecay, [2]float64{}, 0)
		g.Betas, g.Eps = nil, nil
		for _, p := range g.Params {
			var bh shim.Handle
			first := false
			if o.cfg.Momentum != 0 {
				bh = o.buffer(p).h
				ph := p.handle("sgd")
				gh, err := shim.Grad(ph)
				if err != nil {
					panic(newError("sgd", err))
				}
				if gh.IsNil() {
					continue
				}
				shim.Free(gh)
				first = !o.seen[p]
				o.seen[p] = true
			}
			if err := shim.SGDStep(p.handle("sgd"), bh, first, *g.LR, o.cfg.Momentum, o.cfg.Dampening, *g.WeightDecay, o.cfg.Nesterov); err != nil {
				panic(newError("sgd", err))
			}
		}
	}
}

// ZeroGrad drops every parameter's gradient.
func (o *SGD) ZeroGrad() { zeroGrads(o.groups) }

// State returns the momentum buffers named "<group>.<index>.momentum_buffer".
func (o *SGD) State() (map[string]*Tensor, map[string]string) {
	ts := map[string]*Tensor{}
	for gi, g := range o.groups {
		for pi, p := range g.Params {
			if o.seen[p] {
				ts[fmt.Sprintf("%d.%d.momentum_buffer", gi, pi)] = o.buffer(p)
			}
		}
	}
	return ts, map[string]string{"step": strconv.FormatInt(o.step, 10), "optimizer": "sgd"}
}

// LoadState restores state saved by State.
func (o *SGD) LoadState(tensors map[string]*Tensor, meta map[string]string) (err error) {
	defer Recover(&err)
	step, err := strconv.ParseInt(meta["step"], 10, 64)
	if err != nil {
		return fmt.Errorf("sgd state: bad step %q", meta["step"])
	}
	for gi, g := range o.groups {
		for pi, p := range g.Params {
			key := fmt.Sprintf("%d.%d.momentum_buffer", gi, pi)
			src, ok := tensors[key]
			if !ok {
				continue
			}
			b := o.buffer(p)
			if !slices.Equal(src.Shape(), b.Shape()) {
				return fmt.Errorf("sgd state: %s has shape %v, parameter has %v", key, src.Shape(), b.Shape())
			}
			b.CopyFrom(src)
			o.seen[p] = true
		}
	}
	o.step = step
	return nil
}

// Close frees the optimizer's state.
func (o *SGD) Close() { o.state.Close() }

func zeroGrads(groups []*ParamGroup) {
	for _, g := range groups {
		for _, p := range g.Params {
			p.ZeroGrad()
		}
	}
}

// Schedule gives a group's learning rate at a step from its base learning rate.
type Schedule interface {
	LR(base float64, step int64) float64
}

// CosineAnnealing is the closed form of torch.optim.lr_scheduler.CosineAnnealingLR within
// its first TMax steps: the rate falls from base to Min along half a cosine. Past TMax it
// stays at Min (PyTorch's scheduler would climb back up along the cosine).
type CosineAnnealing struct {
	TMax int64
	Min  float64
}

// LR is Min + (base − Min)·(1 + cos(π·step/TMax))/2.
func (c CosineAnnealing) LR(base float64, step int64) float64 {
	if c.TMax <= 0 || step >= c.TMax {
		return c.Min
	}
	return c.Min + (base-c.Min)*(1+math.Cos(math.Pi*float64(step)/float64(c.TMax)))/2
}

// LinearWarmup is torch.optim.lr_scheduler.LinearLR(start_factor=StartFactor,
// total_iters=Steps): the factor grows linearly from StartFactor to 1 over Steps steps.
type LinearWarmup struct {
	Steps       int64
	StartFactor float64
}

// LR is base times the warm-up factor.
func (w LinearWarmup) LR(base float64, step int64) float64 {
	if step >= w.Steps || w.Steps <= 0 {
		return base
	}
	return base * (w.StartFactor + (1-w.StartFactor)*float64(step)/float64(w.Steps))
}

// WarmupCosine warms up linearly for Warmup steps, then anneals along a cosine to Min by
// Total steps.
type WarmupCosine struct {
	Warmup, Total int64
	StartFactor   float64
	Min           float64
}

// LR is the learning rate at step.
func (w WarmupCosine) LR(base float64, step int64) float64 {
	if step < w.Warmup {
		return LinearWarmup{Steps: w.Warmup, StartFactor: w.StartFactor}.LR(base, step)
	}
	return CosineAnnealing{TMax: w.Total - w.Warmup, Min: w.Min}.LR(base, step-w.Warmup)
}

// ApplySchedule sets every group's LR from its base rate for the given step.
func ApplySchedule(o Optimizer, sch Schedule, step int64) {
	for _, g := range o.Groups() {
		base := g.baseLR
		if base == 0 && g.LR != nil {
			base = *g.LR
			g.baseLR = base
		}
		if g.LR == nil {
			g.LR = new(float64)
		}
		*g.LR = sch.LR(base, step)
	}
}

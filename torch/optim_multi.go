package torch

import (
	"fmt"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// AdamWImpl selects how AdamW updates a parameter group.
type AdamWImpl int

const (
	// AdamWAuto uses AdamWFused where libtorch has it and every parameter of the group is a
	// floating-point tensor on one CUDA device, and AdamWForeach otherwise.
	AdamWAuto AdamWImpl = iota
	// AdamWPerTensor makes one libtorch call per parameter (torch.optim.AdamW(foreach=False)).
	AdamWPerTensor
	// AdamWForeach updates a whole group with libtorch's multi-tensor (_foreach_*) kernels,
	// as torch.optim.AdamW(foreach=True).
	AdamWForeach
	// AdamWFused uses libtorch's fused AdamW kernel (_fused_adamw_, libtorch 2.x on CUDA),
	// as torch.optim.AdamW(fused=True). Step panics with an error when it is not available.
	AdamWFused
)

// String names the implementation.
func (i AdamWImpl) String() string {
	switch i {
	case AdamWAuto:
		return "auto"
	case AdamWPerTensor:
		return "per-tensor"
	case AdamWForeach:
		return "foreach"
	case AdamWFused:
		return "fused"
	}
	return fmt.Sprintf("AdamWImpl(%d)", int(i))
}

// FusedAdamWAvailable reports whether the libtorch this package was built against has the
// fused AdamW kernel (libtorch 2.x; Debian's 1.13 has not).
func FusedAdamWAvailable() bool { return shim.FusedAdamWCompiled() }

// groupImpl resolves the configured implementation for one group.
func (o *AdamW) groupImpl(g *ParamGroup) AdamWImpl {
	if o.cfg.Impl != AdamWAuto {
		return o.cfg.Impl
	}
	if !shim.FusedAdamWCompiled() || len(g.Params) == 0 {
		return AdamWForeach
	}
	dev := g.Params[0].Device()
	if !dev.IsCUDA() {
		return AdamWForeach
	}
	for _, p := range g.Params {
		if p.Device() != dev || !p.DType().IsFloat() {
			return AdamWForeach
		}
	}
	return AdamWFused
}

// stepMulti updates one group with one libtorch call.
func (o *AdamW) stepMulti(g *ParamGroup, impl AdamWImpl) {
	if impl == AdamWFused && !shim.FusedAdamWCompiled() {
		fail("adamw", ErrDevice, "fused AdamW needs libtorch 2.x (this is %s)", shim.Version())
	}
	n := len(g.Params)
	ps := make([]shim.Handle, n)
	ms := make([]shim.Handle, n)
	vs := make([]shim.Handle, n)
	steps := make([]int64, n)
	for i, p := range g.Params {
		m, v := o.moments(p)
		ps[i], ms[i], vs[i], steps[i] = p.handle("adamw"), m.h, v.h, o.steps[p]
	}
	var mode int
	switch impl {
	case AdamWForeach:
		mode = shim.AdamWForeach
	case AdamWFused:
		mode = shim.AdamWFused
	default:
		fail("adamw", nil, "unknown implementation %v", impl)
	}
	if _, err := shim.AdamWMulti(ps, ms, vs, steps, *g.LR, g.Betas[0], g.Betas[1], *g.Eps, *g.WeightDecay, mode); err != nil {
		panic(newError("adamw", err))
	}
	for i, p := range g.Params {
		o.steps[p] = steps[i]
	}
}

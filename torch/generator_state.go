package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// RNGState is a saved state of a generator: restoring it makes the generator repeat the
// draws that followed the save. It is what torch.utils.checkpoint keeps (preserve_rng_state)
// so that a recomputed layer draws the dropout masks of its first run.
type RNGState struct {
	gen   *Generator
	dev   Device
	state *Tensor // uint8, on the CPU
}

// SaveRNG saves the state of the generator that random layers in s draw from: s's generator
// (Scope.Generator), or, when that is nil, libtorch's default generator of dev (the device of
// the tensors the layers will draw for). The state is a small tensor owned by s.
func (s *Scope) SaveRNG(dev Device) *RNGState {
	h, err := shim.GenState(s.gen.gen(), dev.code())
	return &RNGState{gen: s.gen, dev: dev, state: s.result("generator state", h, err)}
}

// Restore sets the generator back to the saved state. It can be called any number of times
// while the scope that holds the state is open.
func (r *RNGState) Restore() {
	if err := shim.SetGenState(r.gen.gen(), r.dev.code(), r.state.handle("set generator state")); err != nil {
		panic(newError("set generator state", err))
	}
}

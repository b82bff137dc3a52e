package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// Device is the device whose random streams the generator draws (a CUDA generator serves
// tensors on its CUDA device, a CPU generator CPU tensors). A nil generator reports the CPU.
func (g *Generator) Device() Device {
	if g == nil {
		return CPU
	}
	return g.device
}

// genFor is gen for an op that draws numbers for a tensor on dev: a generator on another
// device is refused with ErrDevice, naming both devices (libtorch's own message only names
// the device type). used is false when the op will not draw at all (dropout in eval mode),
// in which case any generator is accepted.
func (g *Generator) genFor(op string, dev Device, used bool) shim.Gen {
	h := g.gen()
	if g != nil && used && g.device.code() != dev.code() {
		fail(op, ErrDevice, "the generator is on %s but the tensor is on %s (make one there with NewGenerator(seed, %s))",
			g.device, dev, dev)
	}
	return h
}

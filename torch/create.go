package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// Generator is a seeded random number generator. A nil *Generator means libtorch's default
// generator, which ManualSeed seeds (as torch.manual_seed does in Python).
type Generator struct {
	g      shim.Gen
	device Device
	closed bool
}

// NewGenerator makes a generator on a device, seeded like torch.Generator().manual_seed(seed).
// Close releases it.
func NewGenerator(seed uint64, dev Device) (*Generator, error) {
	g := shim.NewGen(seed, dev.code())
	if g.IsNil() {
		return nil, &Error{Op: "generator", Code: shim.CodeErr, Msg: "cannot make a generator on " + dev.String(), kind: ErrDevice}
	}
	return &Generator{g: g, device: dev}, nil
}

// Close releases the generator.
func (g *Generator) Close() {
	if g != nil && !g.g.IsNil() {
		shim.FreeGen(g.g)
		g.g = shim.Gen{}
		g.closed = true
	}
}

func (g *Generator) gen() shim.Gen {
	if g == nil {
		return shim.Gen{}
	}
	if g.closed {
		fail("generator", ErrFreed, "the generator was closed")
	}
	return g.g
}

// ManualSeed seeds libtorch's default generators (CPU and every CUDA device).
func ManualSeed(seed uint64) error {
	if err := shim.ManualSeed(seed); err != nil {
		return newError("manual_seed", err)
	}
	return nil
}

// Empty makes an uninitialised tensor.
func Empty(s *Scope, dt DType, shape ...int64) *Tensor {
	h, err := shim.Empty(shape, int(dt), s.device.code())
	return s.result("empty", h, err)
}

// Zeros makes a tensor of zeros.
func Zeros(s *Scope, dt DType, shape ...int64) *Tensor { return Full(s, 0, dt, shape...) }

// Ones makes a tensor of ones.
func Ones(s *Scope, dt DType, shape ...int64) *Tensor { return Full(s, 1, dt, shape...) }

// Full makes a tensor filled with v.
func Full(s *Scope, v float64, dt DType, shape ...int64) *Tensor {
	h, err := shim.Full(shape, v, int(dt), s.device.code())
	return s.result("full", h, err)
}

// Scalar makes a 0-d tensor.
func Scalar(s *Scope, v float64, dt DType) *Tensor { return Full(s, v, dt) }

// Arange is torch.arange(start, end, step).
func Arange(s *Scope, start, end, step float64, dt DType) *Tensor {
	h, err := shim.Arange(start, end, step, int(dt), s.device.code())
	return s.result("arange", h, err)
}

// Linspace is torch.linspace(start, end, steps).
func Linspace(s *Scope, start, end float64, steps int64, dt DType) *Tensor {
	h, err := shim.Linspace(start, end, steps, int(dt), s.device.code())
	return s.result("linspace", h, err)
}

// Rand draws uniform [0, 1) values from g (nil: the default generator).
func Rand(s *Scope, g *Generator, dt DType, shape ...int64) *Tensor {
	h, err := shim.Random(0, g.genFor("rand", s.device, true), shape, int(dt), s.device.code())
	return s.result("rand", h, err)
}

// Randn draws standard normal values from g (nil: the default generator).
func Randn(s *Scope, g *Generator, dt DType, shape ...int64) *Tensor {
	h, err := shim.Random(1, g.genFor("randn", s.device, true), shape, int(dt), s.device.code())
	return s.result("randn", h, err)
}

// Randint draws integers in [low, high) as int64.
func Randint(s *Scope, g *Generator, low, high int64, shape ...int64) *Tensor {
	h, err := shim.Randint(g.genFor("randint", s.device, true), low, high, shape, int(Int64), s.device.code())
	return s.result("randint", h, err)
}

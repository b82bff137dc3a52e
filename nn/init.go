package nn

import (
	"math"

	"github.com/prsmed/prsmed-go/torch"
)

// Init fills a freshly made parameter, drawing from g (nil: the default generator).
type Init interface {
	Fill(t *torch.Tensor, g *torch.Generator)
}

// InitFunc adapts a function to an Init.
type InitFunc func(t *torch.Tensor, g *torch.Generator)

// Fill calls f.
func (f InitFunc) Fill(t *torch.Tensor, g *torch.Generator) { f(t, g) }

// Zeros fills with 0.
var Zeros = Constant(0)

// Ones fills with 1.
var Ones = Constant(1)

// Constant fills with v.
func Constant(v float64) Init {
	return InitFunc(func(t *torch.Tensor, _ *torch.Generator) { t.Fill(v) })
}

// Uniform draws U(a, b).
func Uniform(a, b float64) Init {
	return InitFunc(func(t *torch.Tensor, g *torch.Generator) { t.UniformFill(a, b, g) })
}

// Normal draws N(mean, std²).
func Normal(mean, std float64) Init {
	return InitFunc(func(t *torch.Tensor, g *torch.Generator) { t.NormalFill(mean, std, g) })
}

// Fans are torch.nn.init._calculate_fan_in_and_fan_out: dim 1 and dim 0 times the
// receptive field (the product of the dims after the first two).
func Fans(shape []int64) (fanIn, fanOut int64) {
	if len(shape) < 2 {
		torch.Fail("nn.Fans", torch.ErrInvalid, "fan in and fan out need at least 2 dims, got shape %v", shape)
	}
	rf := int64(1)
	for _, d := range shape[2:] {
		rf *= d
	}
	return shape[1] * rf, shape[0] * rf
}

// KaimingUniform is nn.init.kaiming_uniform_(t, a=a) with mode fan_in and the leaky_relu
// gain √(2/(1+a²)). With a = √5 it is the default init of Linear and Conv weights.
func KaimingUniform(a float64) Init {
	return InitFunc(func(t *torch.Tensor, g *torch.Generator) {
		// PyTorch's arithmetic, step by step, so that the bound is the same double.
		fanIn, _ := Fans(t.Shape())
		gain := math.Sqrt(2 / (1 + a*a))
		std := gain / math.Sqrt(float64(fanIn))
		bound := math.Sqrt(3) * std
		t.UniformFill(-bound, bound, g)
	})
}

// XavierUniform is nn.init.xavier_uniform_(t, gain).
func XavierUniform(gain float64) Init {
	return InitFunc(func(t *torch.Tensor, g *torch.Generator) {
		fi, fo := Fans(t.Shape())
		std := gain * math.Sqrt(2/float64(fi+fo))
		bound := math.Sqrt(3) * std // as PyTorch computes it
		t.UniformFill(-bound, bound, g)
	})
}

// XavierNormal is nn.init.xavier_normal_(t, gain).
func XavierNormal(gain float64) Init {
	return InitFunc(func(t *torch.Tensor, g *torch.Generator) {
		fi, fo := Fans(t.Shape())
		t.NormalFill(0, gain*math.Sqrt(2/float64(fi+fo)), g)
	})
}

// TruncNormal is nn.init.trunc_normal_(t, mean, std, a, b): inverse-CDF sampling of a
// normal truncated to [a, b], with PyTorch's arithmetic (uniform in [2l−1, 2u−1], erfinv,
// scale, shift, clamp).
func TruncNormal(mean, std, a, b float64) Init {
	return InitFunc(func(t *torch.Tensor, g *torch.Generator) {
		cdf := func(x float64) float64 { return (1 + math.Erf(x/math.Sqrt2)) / 2 }
		l, u := cdf((a-mean)/std), cdf((b-mean)/std)
		s := torch.NewScope(t.Device()).NoGrad()
		defer s.Close()
		t.UniformFill(2*l-1, 2*u-1, g)
		v := t.Erfinv(s).MulScalar(s, std*math.Sqrt2).AddScalar(s, mean).Clamp(s, a, b)
		t.CopyFrom(v)
	})
}

// FanInUniform draws U(−1/√fanIn, 1/√fanIn): the default bias init of Linear and Conv.
func FanInUniform(fanIn int64) Init {
	bound := 0.0
	if fanIn > 0 {
		bound = 1 / math.Sqrt(float64(fanIn))
	}
	return Uniform(-bound, bound)
}

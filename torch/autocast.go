package torch

import (
	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// Autocast opens a child scope whose ops run under libtorch's automatic mixed precision
// (torch.autocast in Python) for the scope's device type: ops that autocast lists as
// low-precision-safe (matmul, linear, conv, bmm, baddbmm, …) compute in dt, ops listed as
// float32-only compute in float32, the rest follow their inputs. dt is BFloat16 or Float16
// (on the CPU libtorch 1.13 supports only BFloat16; an op then fails with a clear error).
// Gradients flow back to float32 leaves in their own dtype. Unlike Python's context manager,
// autocast here never caches casts of weights: each op casts afresh, so a cast never goes
// stale after an optimizer step and nothing is kept between calls. Children inherit it;
// NoAutocast opens a child without it. It panics with ErrDType for another dtype.
func (s *Scope) Autocast(dt DType) *Scope {
	if dt != BFloat16 && dt != Float16 {
		fail("autocast", ErrDType, "autocast dtype must be bfloat16 or float16, not %s", dt)
	}
	c := s.Child()
	c.autocast = dt
	return c
}

// NoAutocast opens a child scope in which ops run without autocast.
func (s *Scope) NoAutocast() *Scope {
	c := s.Child()
	c.autocast = 0
	return c
}

// AutocastDType reports the dtype ops in this scope autocast to, and whether autocast is on.
func (s *Scope) AutocastDType() (DType, bool) {
	if s.autocast == 0 {
		return 0, false
	}
	return s.autocast, true
}

// mode is the per-call flags word for an op run in this scope: grad recording, and autocast
// for the scope's device type.
func (s *Scope) mode() shim.Mode {
	m := shim.GradMode(s.grad)
	if s.autocast != 0 {
		m = m.WithAutocast(s.device.IsCUDA(), int(s.autocast))
	}
	return m
}

package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// ShimHandle is t's handle in the internal cgo shim, for the binding packages under torch/
// (torch/dist) that call shim functions of their own; code outside this module cannot use
// its type. It panics with ErrFreed when t was freed (Recover turns that into an error).
func ShimHandle(t *Tensor) shim.Handle { return t.handle("shim_handle") }

// AdoptShimHandle gives s ownership of h, a fresh handle that a binding package under
// torch/ got from its own shim call.
func AdoptShimHandle(s *Scope, h shim.Handle) *Tensor { return s.adopt(h) }

// ShimMode is the mode flags (grad recording, autocast) that s's operations run under, for
// the binding packages' shim calls that record autograd.
func ShimMode(s *Scope) shim.Mode { return s.mode() }

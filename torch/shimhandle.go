package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// ShimHandle is t's handle in the internal cgo shim, for the binding packages under torch/
// (torch/dist) that call shim functions of their own; code outside this module cannot use
// its type. It panics with ErrFreed when t was freed (Recover turns that into an error).
func ShimHandle(t *Tensor) shim.Handle { return t.handle("shim_handle") }

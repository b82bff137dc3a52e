// Package torch binds libtorch, PyTorch's C++ core, for Go.
//
// Every tensor lives in a [Scope]: an arena that frees everything made in it when it is
// closed. Ops take the scope their result goes into as the first argument:
//
//	s := torch.NewScope(torch.CPU)
//	defer s.Close()
//	x := torch.Randn(s, nil, torch.Float32, 2, 3)
//	y := x.Matmul(s, x.T(s)).Relu(s)
//
// Ops panic with a *Error when libtorch rejects them (a shape mismatch, out of memory); the
// public entry points of the packages built on torch recover such panics with [Recover] and
// return them as errors. Grad mode is a property of the scope ([Scope.NoGrad]) and travels
// into every call, so it holds whichever OS thread a goroutine runs on.
//
// Memory never depends on Go's garbage collector: a tensor's storage is released by
// [Tensor.Free] or by closing its scope, and [LiveTensors] counts what is still held.
package torch

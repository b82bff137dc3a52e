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
// Ops panic with a *Error when libtorch rejects them (a shape mismatch, out of memory); code
// built on the ops rejects its own input the same way with [Fail]. The public entry points of
// the packages built on torch recover such panics with [Recover] and return them as errors,
// which match the sentinels ([ErrShape], [ErrOutOfMemory], …) with errors.Is.
//
// A scope also carries the state of the call it serves, so none of it lives on the
// parameters: the device of created tensors ([Scope.On]), grad mode ([Scope.NoGrad]),
// training or evaluation mode and the generator that random layers draw from ([Scope.Train],
// [Scope.Eval]). A root scope has no mode: a layer whose result depends on it fails there
// with [ErrNoMode] until Train or Eval says which ([Scope.Training]). It travels into every call, so it holds whichever OS thread a goroutine runs
// on, and calls on different scopes may run at the same time.
//
// Memory never depends on Go's garbage collector: a tensor's storage is released by
// [Tensor.Free] or by closing its scope, and [LiveTensors] counts what is still held.
package torch

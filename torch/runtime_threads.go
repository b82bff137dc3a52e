package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// SetThreadNumThreads gives the calling OS thread its own intra-op thread count, leaving
// other threads at SetNumThreads's; 0 returns it to the process-wide count. Lock the
// goroutine to its thread first (runtime.LockOSThread). Data-loading goroutines use 1, as
// PyTorch's DataLoader workers do, so that their small ops do not start OpenMP thread teams
// that compete with the training step's.
func SetThreadNumThreads(n int) { shim.SetThreadNumThreads(n) }

package torch

import (
	"errors"
	"fmt"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// The C allocator settings RetainHostMemory makes: blocks up to 32 MiB (glibc's largest
// mmap threshold on 64-bit machines) come from the heap, the heap is given back to the
// kernel only when more than 1 GiB is free at its top, and it grows 64 MiB beyond each
// request.
const (
	retainMmapThreshold = 32 << 20
	retainTrimThreshold = 1 << 30
	retainTopPad        = 64 << 20
)

// RetainHostMemory makes the C allocator (glibc's malloc, which libtorch's CPU tensors come
// from) keep freed memory for reuse instead of returning it to the kernel, for the rest of
// the process.
//
// By default glibc maps each block above its mmap threshold (128 KiB at first, rising as
// such blocks are freed) afresh and unmaps it when it is freed, and returns free memory at
// the top of its heaps to the kernel; a training loop that allocates and frees the same
// activations every step then faults their pages in again, each one zeroed by the kernel,
// at every step. After RetainHostMemory the process keeps, until it exits, about the most
// host memory it has had in use at once. The training programs call it at start (stage 2
// of the tiny model trained 5–7% faster, with about 40% less system time; BENCHMARKS.md). It
// returns an error wrapping errors.ErrUnsupported when the C library is not glibc.
func RetainHostMemory() error {
	switch shim.RetainHostMemory(retainMmapThreshold, retainTrimThreshold, retainTopPad) {
	case 1:
		return nil
	case -1:
		return fmt.Errorf("torch: RetainHostMemory: the C library is not glibc: %w", errors.ErrUnsupported)
	}
	return errors.New("torch: RetainHostMemory: mallopt refused the allocator settings")
}

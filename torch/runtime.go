package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// Version is the libtorch version the binding was built against (e.g. "1.13.0").
func Version() string { return shim.Version() }

// SetNumThreads sets libtorch's intra-op thread count. Unlike at::set_num_threads alone, it
// holds on every OS thread that later runs an op (libtorch 1.13 keeps the OpenMP count per
// thread).
func SetNumThreads(n int) { shim.SetNumThreads(n) }

// NumThreads is the intra-op thread count of the OS thread the call runs on, as it is: an
// op run on that thread first applies the count SetNumThreads configured.
func NumThreads() int { return shim.NumThreads() }

// CUDAAvailable reports whether a CUDA device can be used.
func CUDAAvailable() bool { return shim.CUDAAvailable() }

// CUDADeviceCount is the number of CUDA devices.
func CUDADeviceCount() int { return shim.CUDADeviceCount() }

// CUDASynchronize waits for all queued work on a CUDA device.
func CUDASynchronize(dev Device) error {
	if err := shim.CUDASynchronize(dev.Index); err != nil {
		return newError("cuda_synchronize", err)
	}
	return nil
}

// CUDAMemoryStats are the CUDA caching allocator's current byte counts on one device.
type CUDAMemoryStats struct {
	Allocated, Reserved int64
}

// CUDAMemory reads the caching allocator's statistics for a device.
func CUDAMemory(dev Device) (CUDAMemoryStats, error) {
	a, err := shim.CUDAMemoryAllocated(dev.Index)
	if err != nil {
		return CUDAMemoryStats{}, newError("cuda_memory", err)
	}
	r, err := shim.CUDAMemoryReserved(dev.Index)
	if err != nil {
		return CUDAMemoryStats{}, newError("cuda_memory", err)
	}
	return CUDAMemoryStats{Allocated: int64(a), Reserved: int64(r)}, nil
}

// CUDAEmptyCache returns the caching allocator's unused blocks to the driver.
func CUDAEmptyCache() error {
	if err := shim.CUDAEmptyCache(); err != nil {
		return newError("cuda_empty_cache", err)
	}
	return nil
}

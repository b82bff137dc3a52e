package torch

import (
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// CUDACompiled reports whether this build of the binding has CUDA support (a CUDA libtorch
// and the torchenv tag), whether or not a GPU is present.
func CUDACompiled() bool { return shim.CUDACompiled() }

func parseErr(op, msg string, kind error) error {
	return &Error{Op: op, Code: shim.CodeValue, Msg: msg, kind: kind}
}

// ParseDevice reads a device as written on a command line: "cpu", "cuda" (device 0) or
// "cuda:N". A CUDA device this build cannot use (no CUDA compiled in, no GPU, or N beyond the
// device count) is an error wrapping ErrDevice that says which.
func ParseDevice(s string) (Device, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "cpu" {
		return CPU, nil
	}
	idx := 0
	switch {
	case t == "cuda":
	case strings.HasPrefix(t, "cuda:"):
		n, err := strconv.Atoi(t[len("cuda:"):])
		if err != nil || n < 0 {
			return CPU, parseErr("device", strconv.Quote(s)+" is not a device: want cpu, cuda or cuda:N", ErrDevice)
		}
		idx = n
	default:
		return CPU, parseErr("device", strconv.Quote(s)+" is not a device: want cpu, cuda or cuda:N", ErrDevice)
	}
	dev := CUDA(idx)
	switch {
	case !CUDACompiled():
		return CPU, parseErr("device", dev.String()+": this build has no CUDA (build against a CUDA libtorch with -tags torchenv; see third_party/libtorch/torchenv.sh)", ErrDevice)
	case !CUDAAvailable():
		return CPU, parseErr("device", dev.String()+": no CUDA device is available", ErrDevice)
	case idx >= CUDADeviceCount():
		return CPU, parseErr("device", dev.String()+": there are "+strconv.Itoa(CUDADeviceCount())+" CUDA devices", ErrDevice)
	}
	return dev, nil
}

// ParseDType reads a floating-point dtype as written on a command line: float32 (fp32,
// float), bfloat16 (bf16) or float16 (fp16, half).
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "float32", "fp32", "float", "f32":
		return Float32, nil
	case "bfloat16", "bf16":
		return BFloat16, nil
	case "float16", "fp16", "half", "f16":
		return Float16, nil
	}
	return Float32, parseErr("dtype", strconv.Quote(s)+" is not a dtype: want float32, bfloat16 or float16", ErrDType)
}

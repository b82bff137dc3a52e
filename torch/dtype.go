package torch

import "fmt"

// DType is a tensor element type; its values are c10::ScalarType codes.
type DType int8

// The element types this package supports.
const (
	Uint8    DType = 0
	Int8     DType = 1
	Int16    DType = 2
	Int32    DType = 3
	Int64    DType = 4
	Float16  DType = 5
	Float32  DType = 6
	Float64  DType = 7
	Bool     DType = 11
	BFloat16 DType = 15
)

var dtypeNames = map[DType]string{
	Uint8: "uint8", Int8: "int8", Int16: "int16", Int32: "int32", Int64: "int64",
	Float16: "float16", Float32: "float32", Float64: "float64", Bool: "bool", BFloat16: "bfloat16",
}

var dtypeSizes = map[DType]int{
	Uint8: 1, Int8: 1, Int16: 2, Int32: 4, Int64: 8, Float16: 2, Float32: 4, Float64: 8, Bool: 1, BFloat16: 2,
}

// String is the PyTorch name of the type ("float32", "bfloat16", …).
func (d DType) String() string {
	if n, ok := dtypeNames[d]; ok {
		return n
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// Size is the number of bytes of one element (0 for an unknown type).
func (d DType) Size() int { return dtypeSizes[d] }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float16 || d == Float32 || d == Float64 || d == BFloat16
}

// Valid reports whether d is one of the supported types.
func (d DType) Valid() bool { _, ok := dtypeNames[d]; return ok }

// DeviceKind tells the CPU from CUDA.
type DeviceKind int8

// Device kinds.
const (
	KindCPU DeviceKind = iota
	KindCUDA
)

// Device is where a tensor's storage lives.
type Device struct {
	Kind  DeviceKind
	Index int
}

// CPU is the host.
var CPU = Device{Kind: KindCPU}

// CUDA is CUDA device i.
func CUDA(i int) Device { return Device{Kind: KindCUDA, Index: i} }

// IsCUDA reports whether d is a CUDA device.
func (d Device) IsCUDA() bool { return d.Kind == KindCUDA }

// String is "cpu" or "cuda:N".
func (d Device) String() string {
	if d.Kind == KindCUDA {
		return fmt.Sprintf("cuda:%d", d.Index)
	}
	return "cpu"
}

// code is the shim's encoding: -1 for the CPU, the index for CUDA.
func (d Device) code() int {
	if d.Kind == KindCUDA {
		return d.Index
	}
	return -1
}

func deviceFromCode(c int) Device {
	if c < 0 {
		return CPU
	}
	return CUDA(c)
}

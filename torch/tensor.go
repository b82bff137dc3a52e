package torch

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// Tensor is a libtorch tensor owned by a Scope (or by an nn.Store for parameters).
type Tensor struct {
	h     shim.Handle
	scope *Scope
}

// handle returns the live handle or panics with ErrFreed.
func (t *Tensor) handle(op string) shim.Handle {
	if t == nil {
		fail(op, ErrFreed, "nil tensor")
	}
	if t.h.IsNil() {
		fail(op, ErrFreed, "tensor was freed (its scope closed or Free was called)")
	}
	return t.h
}

// Free releases the tensor's storage now. It is idempotent; the tensor must not be used after.
func (t *Tensor) Free() {
	if t == nil || t.h.IsNil() {
		return
	}
	shim.Free(t.h)
	t.h = shim.Handle{}
	if t.scope != nil {
		t.scope.freed++
	}
}

// Freed reports whether the tensor has been released.
func (t *Tensor) Freed() bool { return t == nil || t.h.IsNil() }

// Shape is the tensor's sizes.
func (t *Tensor) Shape() []int64 { return shim.Sizes(t.handle("shape"), nil) }

// Strides is the tensor's strides in elements.
func (t *Tensor) Strides() []int64 { return shim.Strides(t.handle("strides"), nil) }

// Dim is the number of dimensions.
func (t *Tensor) Dim() int { return shim.Dim(t.handle("dim")) }

// Size is the size of one dim (negative dims count from the end).
func (t *Tensor) Size(dim int) int64 {
	var buf [8]int64
	sh := shim.Sizes(t.handle("size"), buf[:0])
	if dim < 0 {
		dim += len(sh)
	}
	if dim < 0 || dim >= len(sh) {
		fail("size", ErrIndex, "dim %d out of range for a %d-d tensor", dim, len(sh))
	}
	return sh[dim]
}

// Numel is the number of elements.
func (t *Tensor) Numel() int64 { return shim.Numel(t.handle("numel")) }

// DType is the element type.
func (t *Tensor) DType() DType { return DType(shim.DType(t.handle("dtype"))) }

// Device is where the storage lives.
func (t *Tensor) Device() Device { return deviceFromCode(shim.Device(t.handle("device"))) }

// IsContiguous reports whether the tensor is laid out contiguously.
func (t *Tensor) IsContiguous() bool { return shim.IsContiguous(t.handle("is_contiguous")) }

// Item is the value of a one-element tensor as a float64.
func (t *Tensor) Item() float64 {
	v, err := shim.Item(t.handle("item"))
	if err != nil {
		panic(newError("item", err))
	}
	return v
}

// Bytes copies the tensor's values (contiguous, on the CPU) into a new byte slice.
func (t *Tensor) Bytes() []byte {
	h := t.handle("bytes")
	n := shim.Numel(h) * int64(DType(shim.DType(h)).Size())
	out := make([]byte, n)
	var p unsafe.Pointer
	if n > 0 {
		p = unsafe.Pointer(&out[0])
	}
	if err := shim.CopyOut(h, p, n); err != nil {
		panic(newError("bytes", err))
	}
	return out
}

// String describes the tensor: shape, dtype and device (not its values).
func (t *Tensor) String() string {
	if t.Freed() {
		return "Tensor(freed)"
	}
	sh := t.Shape()
	parts := make([]string, len(sh))
	for i, d := range sh {
		parts[i] = fmt.Sprint(d)
	}
	return fmt.Sprintf("Tensor[%s] %s %s", strings.Join(parts, "×"), t.DType(), t.Device())
}

// Half is the bit pattern of an IEEE float16, for moving float16 data in and out.
type Half uint16

// BF16 is the bit pattern of a bfloat16.
type BF16 uint16

// Element is a Go type that maps onto a tensor dtype.
type Element interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~int16 | ~int8 | ~uint8 | ~bool | Half | BF16
}

// DTypeOf is the dtype that holds elements of type T.
func DTypeOf[T Element]() DType {
	var z T
	switch any(z).(type) {
	case Half:
		return Float16
	case BF16:
		return BFloat16
	}
	switch reflect.TypeOf(z).Kind() {
	case reflect.Float32:
		return Float32
	case reflect.Float64:
		return Float64
	case reflect.Int64:
		return Int64
	case reflect.Int32:
		return Int32
	case reflect.Int16:
		return Int16
	case reflect.Int8:
		return Int8
	case reflect.Uint8:
		return Uint8
	case reflect.Bool:
		return Bool
	}
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int64:
		return Int64
	case int32:
		return Int32
	case int16:
		return Int16
	case int8:
		return Int8
	case uint8:
		return Uint8
	case bool:
		return Bool
	case Half:
		return Float16
	case BF16:
		return BFloat16
	}
	panic(Errorf("dtype", ErrDType, "unsupported element type %T", z)) // unreachable: Element lists the types above
}

// FromSlice copies data into a new tensor of the given shape on the scope's device (one
// memcpy on the CPU). With no shape the tensor is 1-d.
func FromSlice[T Element](s *Scope, data []T, shape ...int64) *Tensor {
	if shape == nil {
		shape = []int64{int64(len(data))}
	}
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if n != int64(len(data)) {
		fail("from_slice", ErrShape, "shape %v holds %d elements, the slice has %d", shape, n, len(data))
	}
	dt := DTypeOf[T]()
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	h, err := shim.FromData(p, n*int64(dt.Size()), shape, contiguousStrides(shape), 0, int(dt), int(dt), s.device.code())
	return s.result("from_slice", h, err)
}

// FromBytes makes a tensor of dtype dt from raw little-endian bytes laid out contiguously.
func FromBytes(s *Scope, dt DType, data []byte, shape ...int64) *Tensor {
	return FromStrided(s, dt, data, shape, contiguousStrides(shape), 0)
}

// FromStrided copies a strided view of raw storage bytes (strides and offset in elements)
// into a new contiguous tensor. It is how weight files become tensors.
func FromStrided(s *Scope, dt DType, storage []byte, shape, strides []int64, offset int64) *Tensor {
	return fromStrided(s, dt, dt, storage, shape, strides, offset)
}

// fromStrided is FromStrided that also converts the source dtype src to dt during the copy.
func fromStrided(s *Scope, src, dt DType, storage []byte, shape, strides []int64, offset int64) *Tensor {
	if !dt.Valid() || !src.Valid() {
		fail("from_bytes", ErrDType, "unsupported dtype %d", int(dt))
	}
	if len(shape) != len(strides) {
		fail("from_bytes", ErrShape, "%d sizes but %d strides", len(shape), len(strides))
	}
	var p unsafe.Pointer
	if len(storage) > 0 {
		p = unsafe.Pointer(&storage[0])
	}
	h, err := shim.FromData(p, int64(len(storage)), shape, strides, offset, int(src), int(dt), s.device.code())
	return s.result("from_bytes", h, err)
}

// Data copies the tensor's values into a new Go slice; T must match the dtype.
func Data[T Element](t *Tensor) []T {
	h := t.handle("data")
	dt := DTypeOf[T]()
	if got := DType(shim.DType(h)); got != dt {
		fail("data", ErrDType, "tensor is %s, asked for %s", got, dt)
	}
	n := shim.Numel(h)
	out := make([]T, n)
	var p unsafe.Pointer
	if n > 0 {
		p = unsafe.Pointer(&out[0])
	}
	if err := shim.CopyOut(h, p, n*int64(dt.Size())); err != nil {
		panic(newError("data", err))
	}
	return out
}

// Float32s copies the values of a tensor of any dtype as float32.
func (t *Tensor) Float32s() []float32 {
	if t.DType() == Float32 {
		return Data[float32](t)
	}
	s := NewScope(CPU)
	defer s.Close()
	return Data[float32](t.To(s, CPU, Float32))
}

// Float64s copies the values of a tensor of any dtype as float64.
func (t *Tensor) Float64s() []float64 {
	if t.DType() == Float64 {
		return Data[float64](t)
	}
	s := NewScope(CPU)
	defer s.Close()
	return Data[float64](t.To(s, CPU, Float64))
}

// Int64s copies the values of a tensor of any dtype as int64.
func (t *Tensor) Int64s() []int64 {
	if t.DType() == Int64 {
		return Data[int64](t)
	}
	s := NewScope(CPU)
	defer s.Close()
	return Data[int64](t.To(s, CPU, Int64))
}

func contiguousStrides(shape []int64) []int64 {
	st := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		if shape[i] > 1 {
			acc *= shape[i]
		}
	}
	return st
}

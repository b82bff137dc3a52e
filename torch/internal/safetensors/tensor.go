package safetensors

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// DType names an element type with the safetensors spelling ("F32", "BF16", …).
type DType string

// The element types that both readers understand.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size is the number of bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// Valid reports whether d is one of the dtypes listed above.
func (d DType) Valid() bool { return d.Size() != 0 }

// Tensor is a raw, typed view of little-endian bytes: no libtorch, no copy.
//
// Element (i0, i1, …) lives at element index Offset + Σ ik·Strides[k] of Data, that is at
// bytes [idx·size, (idx+1)·size). For safetensors, Data holds exactly the tensor's bytes,
// Offset is 0 and Strides are the contiguous row-major strides. For PyTorch files, Data is
// the whole storage that several tensors may share, and Offset/Strides are as saved.
//
// Data usually aliases a memory-mapped file: it must not be written to (the mapping is
// read-only) and is invalid once the file it came from is closed.
type Tensor struct {
	Name    string
	DType   DType
	Shape   []int64
	Strides []int64 // in elements; nil means contiguous row-major
	Offset  int64   // storage offset in elements
	Data    []byte
}

// ErrInvalidTensor is wrapped by the errors of Tensor.Validate.
var ErrInvalidTensor = errors.New("invalid tensor")

// NumElements is the product of the shape (1 for a 0-dim tensor), or -1 if a dimension is
// negative or the product overflows int64.
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		var ok bool
		if n, ok = mulInt64(n, d); !ok {
			return -1
		}
	}
	return n
}

// NumElements is the product of t.Shape; see the function NumElements.
func (t Tensor) NumElements() int64 { return NumElements(t.Shape) }

// ContiguousStrides returns the row-major strides (in elements) of shape.
func ContiguousStrides(shape []int64) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		if shape[i] > 1 {
			acc *= shape[i]
		}
	}
	return s
}

// mulInt64 multiplies two non-negative numbers, reporting overflow.
func mulInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// addInt64 adds two non-negative numbers, reporting overflow.
func addInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

func (t Tensor) strides() []int64 {
	if t.Strides == nil {
		return ContiguousStrides(t.Shape)
	}
	return t.Strides
}

// Validate checks that the dtype is known, the shape and strides are non-negative and of
// the same rank, nothing overflows, and every element lies inside Data. A tensor that
// passes can be handed to libtorch's from_blob/as_strided without reading out of bounds.
func (t Tensor) Validate() error {
	size := int64(t.DType.Size())
	if size == 0 {
		return fmt.Errorf("%w %q: unknown dtype %q", ErrInvalidTensor, t.Name, string(t.DType))
	}
	if t.Strides != nil && len(t.Strides) != len(t.Shape) {
		return fmt.Errorf("%w %q: %d strides for %d dimensions", ErrInvalidTensor, t.Name, len(t.Strides), len(t.Shape))
	}
	if t.Offset < 0 {
		return fmt.Errorf("%w %q: negative storage offset %d", ErrInvalidTensor, t.Name, t.Offset)
	}
	n := NumElements(t.Shape)
	if n < 0 {
		return fmt.Errorf("%w %q: shape %v has a negative dimension or overflows", ErrInvalidTensor, t.Name, t.Shape)
	}
	if _, ok := mulInt64(n, size); !ok {
		return fmt.Errorf("%w %q: shape %v overflows the byte count", ErrInvalidTensor, t.Name, t.Shape)
	}
	storageElems := int64(len(t.Data)) / size
	if n == 0 {
		// Nothing is read; torch still requires the offset to lie in (or at the end of) the storage.
		if t.Offset > storageElems {
			return fmt.Errorf("%w %q: storage offset %d beyond storage of %d elements", ErrInvalidTensor, t.Name, t.Offset, storageElems)
		}
		return nil
	}
	// Largest element index touched: Offset + Σ (shape_k − 1)·stride_k.
	last := t.Offset
	for k, st := range t.strides() {
		if st < 0 {
			return fmt.Errorf("%w %q: negative stride %d", ErrInvalidTensor, t.Name, st)
		}
		span, ok := mulInt64(t.Shape[k]-1, st)
		if ok {
			last, ok = addInt64(last, span)
		}
		if !ok {
			return fmt.Errorf("%w %q: shape %v with strides %v overflows", ErrInvalidTensor, t.Name, t.Shape, t.Strides)
		}
	}
	if last >= storageElems {
		return fmt.Errorf("%w %q: shape %v, strides %v, offset %d need %d elements, storage has %d",
			ErrInvalidTensor, t.Name, t.Shape, t.strides(), t.Offset, last+1, storageElems)
	}
	return nil
}

// IsContiguous reports whether the elements are laid out row-major without gaps, as
// PyTorch's is_contiguous does (strides of size-1 dimensions do not matter).
func (t Tensor) IsContiguous() bool {
	if t.Strides == nil {
		return true
	}
	if len(t.Strides) != len(t.Shape) {
		return false
	}
	for _, d := range t.Shape {
		if d == 0 {
			return true
		}
	}
	expected := int64(1)
	for i := len(t.Shape) - 1; i >= 0; i-- {
		d := t.Shape[i]
		if d == 1 {
			continue
		}
		if t.Strides[i] != expected {
			return false
		}
		expected *= d
	}
	return true
}

// Bytes returns the tensor's elements as one contiguous slice of Data (no copy) when the
// tensor is valid and contiguous; otherwise ok is false.
func (t Tensor) Bytes() (b []byte, ok bool) {
	if t.Validate() != nil || !t.IsContiguous() {
		return nil, false
	}
	size := int64(t.DType.Size())
	n := t.NumElements()
	if n == 0 {
		return []byte{}, true
	}
	start := t.Offset * size
	return t.Data[start : start+n*size : start+n*size], true
}

// Contiguous returns a tensor whose Data holds exactly its elements in row-major order,
// with Offset 0 and contiguous Strides. A contiguous input is returned without copying
// (its Data resliced); a strided one is gathered into new memory.
func (t Tensor) Contiguous() (Tensor, error) {
	if err := t.Validate(); err != nil {
		return Tensor{}, err
	}
	out := Tensor{Name: t.Name, DType: t.DType, Shape: append([]int64{}, t.Shape...), Strides: ContiguousStrides(t.Shape)}
	if b, ok := t.Bytes(); ok {
		out.Data = b
		return out, nil
	}
	size := int64(t.DType.Size())
	buf := make([]byte, 0, t.NumElements()*size)
	forEachRun(t.Shape, t.strides(), t.Offset, func(elem, count int64) {
		buf = append(buf, t.Data[elem*size:(elem+count)*size]...)
	})
	out.Data = buf
	return out, nil
}

// forEachRun calls fn for every run of elements in row-major order: count elements that
// are consecutive in storage, starting at element index elem. The tensor must be valid
// and hold at least one element.
func forEachRun(shape, strides []int64, offset int64, fn func(elem, count int64)) {
	nd := len(shape)
	if nd == 0 {
		fn(offset, 1)
		return
	}
	for _, d := range shape {
		if d == 0 {
			return
		}
	}
	inner := shape[nd-1]
	step := strides[nd-1]
	idx := make([]int64, nd-1)
	for {
		base := offset
		for k, i := range idx {
			base += i * strides[k]
		}
		if step == 1 || inner == 1 {
			fn(base, inner)
		} else {
			for i := int64(0); i < inner; i++ {
				fn(base+i*step, 1)
			}
		}
		k := nd - 2
		for ; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

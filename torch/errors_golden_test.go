package torch_test

// Error handling (sentinels, Try, Recover) and data round trips through FromSlice / Data /
// Bytes / FromBytes for every element type.

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

// tryErr runs f and returns the *torch.Error it panicked with (failing the test when it
// did not panic, or panicked with something else).
func tryErr(t *testing.T, what string, f func()) *torch.Error {
	t.Helper()
	err := torch.Try(f)
	if err == nil {
		t.Errorf("%s: no error", what)
		return nil
	}
	var te *torch.Error
	if !errors.As(err, &te) {
		t.Errorf("%s: error %T %v is not a *torch.Error", what, err, err)
		return nil
	}
	return te
}

// dtypeCase is the dtype error of TestGoldenErrors: libtorch 1.13 has no float16 matmul on
// the CPU (third_party/golden/torch_ops.py notes it); libtorch 2.x has one (TestFloat16MatmulCPU),
// so there the error comes from multiplying float32 by int64.
func dtypeCase(s *torch.Scope, a *torch.Tensor) (c struct {
	name     string
	f        func()
	want     error
	op       string
	knownBug string
}) {
	if strings.HasPrefix(torch.Version(), "1.") {
		c.name, c.f = "float16 matmul on the CPU", func() {
			h := torch.Ones(s, torch.Float16, 2, 2)
			h.Matmul(s, h)
		}
	} else {
		c.name, c.f = "float32 times int64 matmul", func() { a.T(s).Matmul(s, torch.Ones(s, torch.Int64, 2, 2)) }
	}
	c.want, c.op = torch.ErrDType, "matmul"
	return c
}

// TestFloat16MatmulCPU: where libtorch multiplies float16 on the CPU (2.x), the product is
// right (ones(2,3) · ones(3,2) = 3 everywhere, exact in float16); on 1.13 it is an error.
func TestFloat16MatmulCPU(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	var got []float64
	err := torch.Try(func() {
		got = torch.Ones(s, torch.Float16, 2, 3).Matmul(s, torch.Ones(s, torch.Float16, 3, 2)).Float64s()
	})
	if strings.HasPrefix(torch.Version(), "1.") {
		if !errors.Is(err, torch.ErrDType) {
			t.Fatalf("libtorch %s: float16 matmul on the CPU gave %v, want ErrDType", torch.Version(), err)
		}
		return
	}
	if err != nil {
		t.Fatalf("libtorch %s: float16 matmul on the CPU: %v", torch.Version(), err)
	}
	if !slices.Equal(got, []float64{3, 3, 3, 3}) {
		t.Fatalf("float16 ones(2,3)·ones(3,2) = %v, want all 3", got)
	}
}

func TestGoldenErrors(t *testing.T) {
	base := torch.LiveTensors()
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	a := torch.Ones(s, torch.Float32, 2, 3)
	b := torch.Ones(s, torch.Float32, 4, 5)

	for _, c := range []struct {
		name     string
		f        func()
		want     error
		op       string
		knownBug string
	}{
		{"matmul mismatch", func() { a.Matmul(s, b) }, torch.ErrShape, "matmul", ""},
		{"add mismatch", func() { a.Add(s, b) }, torch.ErrShape, "add", ""},
		{"reshape mismatch", func() { a.Reshape(s, 7) }, torch.ErrShape, "reshape", ""},
		{"view of a transpose", func() { a.T(s).View(s, 6) }, torch.ErrShape, "view", ""},
		{"FromSlice shape", func() { torch.FromSlice(s, []float32{1, 2, 3}, 2, 2) }, torch.ErrShape, "from_slice", ""},
		{"Data dtype", func() { torch.Data[float32](torch.Zeros(s, torch.Int64, 2)) }, torch.ErrDType, "data", ""},
		{"Data bool of float", func() { torch.Data[bool](a) }, torch.ErrDType, "data", ""},
		dtypeCase(s, a),
		{"select out of range", func() { a.Select(s, 0, 5) }, torch.ErrIndex, "select", ""},
		{"Size out of range", func() { a.Size(3) }, torch.ErrIndex, "size", ""},
		{"index_select out of range", func() {
			a.IndexSelect(s, 1, torch.FromSlice(s, []int64{0, 9}))
		}, torch.ErrIndex, "index_select", ""},
		{"gather out of range", func() {
			a.Gather(s, 1, torch.FromSlice(s, []int64{0, 9}, 1, 2))
		}, torch.ErrIndex, "gather", ""},
		{"embedding out of range", func() {
			torch.Embedding(s, a, torch.FromSlice(s, []int64{5}), -1)
		}, torch.ErrIndex, "embedding", ""},
		{"chunk of zero", func() { a.Chunk(s, 0, 0) }, torch.ErrShape, "chunk", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, done := reporter(t, c.knownBug)
			defer done()
			te := tryErr(t, c.name, c.f)
			if te == nil {
				return
			}
			if !errors.Is(te, c.want) {
				r.Errorf("%v: errors.Is(err, %v) is false (Code %d)", te, c.want, te.Code)
			}
			if te.Op != c.op {
				t.Errorf("%v: Op %q, want %q", te, te.Op, c.op)
			}
			if strings.Contains(te.Msg, "Exception raised from") {
				t.Errorf("message keeps the C++ backtrace: %q", te.Msg)
			}
			t.Logf("%v", te)
		})
	}

	t.Run("freed", func(t *testing.T) {
		x := torch.Ones(s, torch.Float32, 3)
		x.Free()
		x.Free() // idempotent
		if !x.Freed() {
			t.Errorf("Freed() is false after Free")
		}
		for name, f := range map[string]func(){
			"Exp":   func() { x.Exp(s) },
			"Add":   func() { a.Add(s, x) },
			"Shape": func() { x.Shape() },
			"Data":  func() { torch.Data[float32](x) },
		} {
			if te := tryErr(t, "use after Free: "+name, f); te != nil && !errors.Is(te, torch.ErrFreed) {
				t.Errorf("use after Free (%s): %v does not match ErrFreed", name, te)
			}
		}
		c := s.Child()
		y := torch.Ones(c, torch.Float32, 3)
		c.Close()
		c.Close() // safe twice
		if te := tryErr(t, "use after scope Close", func() { y.Exp(s) }); te != nil && !errors.Is(te, torch.ErrFreed) {
			t.Errorf("use after Close: %v does not match ErrFreed", te)
		}
		if te := tryErr(t, "op into a closed scope", func() { a.Exp(c) }); te != nil {
			t.Logf("op into a closed scope: %v (matches ErrFreed: %v)", te, errors.Is(te, torch.ErrFreed))
		}
		var nilT *torch.Tensor
		if te := tryErr(t, "nil tensor", func() { nilT.Exp(s) }); te != nil && !errors.Is(te, torch.ErrFreed) {
			t.Errorf("nil tensor: %v does not match ErrFreed", te)
		}
	})

	t.Run("escape", func(t *testing.T) {
		c := s.Child()
		y := c.Escape(torch.Ones(c, torch.Float32, 3))
		c.Close()
		if y.Freed() {
			t.Fatalf("an escaped tensor was freed with its scope")
		}
		if got := torch.Data[float32](y); !reflect.DeepEqual(got, []float32{1, 1, 1}) {
			t.Errorf("escaped tensor holds %v", got)
		}
	})

	t.Run("try_and_recover", func(t *testing.T) {
		if err := torch.Try(func() { a.Add(s, a) }); err != nil {
			t.Errorf("Try of a good op: %v", err)
		}
		f := func() (err error) {
			defer torch.Recover(&err)
			a.Matmul(s, b)
			return nil
		}
		if err := f(); !errors.Is(err, torch.ErrShape) {
			t.Errorf("Recover: got %v, want ErrShape", err)
		}
		// A panic that is not a *torch.Error goes on through Recover.
		var got any
		func() {
			defer func() { got = recover() }()
			_ = func() (err error) {
				defer torch.Recover(&err)
				panic("not a torch error")
			}()
		}()
		if got != "not a torch error" {
			t.Errorf("Recover swallowed or changed a foreign panic: %v", got)
		}
	})

	s.Close()
	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}

func roundTrip[E torch.Element](t *testing.T, s *torch.Scope, vals []E, shape ...int64) {
	t.Helper()
	x := torch.FromSlice(s, vals, shape...)
	if x.DType() != torch.DTypeOf[E]() {
		t.Errorf("%T: dtype %s, want %s", vals, x.DType(), torch.DTypeOf[E]())
	}
	if !reflect.DeepEqual(x.Shape(), shape) {
		t.Errorf("%T: shape %v, want %v", vals, x.Shape(), shape)
	}
	if got := torch.Data[E](x); !reflect.DeepEqual(got, vals) {
		t.Errorf("%T: Data %v, want %v", vals, got, vals)
	}
	// Bytes and FromBytes are inverse too.
	y := torch.FromBytes(s, x.DType(), x.Bytes(), shape...)
	if got := torch.Data[E](y); !reflect.DeepEqual(got, vals) {
		t.Errorf("%T: FromBytes(Bytes) %v, want %v", vals, got, vals)
	}
	// A non-contiguous view reads back in logical order.
	if len(shape) == 2 {
		tt := x.T(s)
		want := make([]E, len(vals))
		r, c := shape[0], shape[1]
		for i := int64(0); i < r; i++ {
			for j := int64(0); j < c; j++ {
				want[j*r+i] = vals[i*c+j]
			}
		}
		if got := torch.Data[E](tt); !reflect.DeepEqual(got, want) {
			t.Errorf("%T: Data of the transpose %v, want %v", vals, got, want)
		}
	}
}

func TestGoldenRoundTrips(t *testing.T) {
	base := torch.LiveTensors()
	s := torch.NewScope(torch.CPU)
	roundTrip(t, s, []float32{1.5, -2, float32(math.Inf(1)), 3e-38, 0, -0.25}, 2, 3)
	roundTrip(t, s, []float64{math.Pi, -1e300, 5e-324, 0, 1, 2}, 3, 2)
	roundTrip(t, s, []int64{math.MaxInt64, math.MinInt64, 0, -1, 42, 7}, 2, 3)
	roundTrip(t, s, []int32{math.MaxInt32, math.MinInt32, 0, -1, 5, 6}, 2, 3)
	roundTrip(t, s, []int16{math.MaxInt16, math.MinInt16, 3, -4}, 2, 2)
	roundTrip(t, s, []int8{127, -128, 0, 1}, 4)
	roundTrip(t, s, []uint8{0, 255, 128, 7, 9, 1}, 2, 3)
	roundTrip(t, s, []bool{true, false, false, true, true, false}, 3, 2)
	roundTrip(t, s, []torch.Half{0x3c00, 0xc000, 0x7c00, 0x0001}, 2, 2)
	roundTrip(t, s, []torch.BF16{0x3f80, 0xc000, 0x7f80, 0x0001}, 2, 2)
	roundTrip(t, s, []float32{}, 0, 3)

	// Scalars: 0-d tensors.
	x := torch.Scalar(s, 2.5, torch.Float32)
	if x.Dim() != 0 || x.Numel() != 1 || x.Item() != 2.5 {
		t.Errorf("Scalar: dim %d numel %d item %g", x.Dim(), x.Numel(), x.Item())
	}
	// Accessors convert from any dtype.
	i := torch.FromSlice(s, []int64{1, -2, 3})
	if got := i.Float32s(); !reflect.DeepEqual(got, []float32{1, -2, 3}) {
		t.Errorf("Float32s of int64: %v", got)
	}
	if got := i.Float64s(); !reflect.DeepEqual(got, []float64{1, -2, 3}) {
		t.Errorf("Float64s of int64: %v", got)
	}
	if got := torch.FromSlice(s, []float32{1.9, -2.9}).Int64s(); !reflect.DeepEqual(got, []int64{1, -2}) {
		t.Errorf("Int64s of float32 (truncates as a cast): %v", got)
	}
	// Casts round trip where exact: int32 → int64 → int32, uint8 → float32 → uint8, bool ↔ uint8.
	i32 := torch.FromSlice(s, []int32{-7, 0, 9})
	if got := torch.Data[int32](i32.ToDType(s, torch.Int64).ToDType(s, torch.Int32)); !reflect.DeepEqual(got, []int32{-7, 0, 9}) {
		t.Errorf("int32→int64→int32: %v", got)
	}
	u8 := torch.FromSlice(s, []uint8{0, 200, 255})
	if got := torch.Data[uint8](u8.ToDType(s, torch.Float32).ToDType(s, torch.Uint8)); !reflect.DeepEqual(got, []uint8{0, 200, 255}) {
		t.Errorf("uint8→float32→uint8: %v", got)
	}
	bl := torch.FromSlice(s, []bool{true, false, true})
	if got := torch.Data[uint8](bl.ToDType(s, torch.Uint8)); !reflect.DeepEqual(got, []uint8{1, 0, 1}) {
		t.Errorf("bool→uint8: %v", got)
	}
	if got := torch.Data[bool](u8.ToDType(s, torch.Bool)); !reflect.DeepEqual(got, []bool{false, true, true}) {
		t.Errorf("uint8→bool: %v", got)
	}
	s.Close()
	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}

// goldFloat is a named float32: the Element constraint admits it (~float32).
type goldFloat float32

func TestGoldenAPIEdges(t *testing.T) {
	base := torch.LiveTensors()
	s := torch.NewScope(torch.CPU)
	defer func() {
		s.Close()
		if got := torch.LiveTensors(); got != base {
			t.Errorf("LiveTensors: %d after, %d before", got, base)
		}
	}()

	t.Run("named_element_type", func(t *testing.T) {
		r, done := reporter(t, "")
		defer done()
		var got []goldFloat
		var perr any
		func() {
			defer func() { perr = recover() }()
			x := torch.FromSlice(s, []goldFloat{1, 2.5})
			got = torch.Data[goldFloat](x)
		}()
		if perr != nil {
			r.Errorf("FromSlice/Data of a named float32 type panicked: %v", perr)
			return
		}
		if !reflect.DeepEqual(got, []goldFloat{1, 2.5}) {
			r.Errorf("round trip gave %v", got)
		}
	})

	t.Run("closed_generator", func(t *testing.T) {
		r, done := reporter(t, "")
		defer done()
		g, err := torch.NewGenerator(5, torch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		g.Close()
		g.Close() // safe twice
		if err := torch.Try(func() { torch.Randn(s, g, torch.Float32, 3) }); err == nil {
			r.Errorf("Randn with a closed generator succeeded (it drew from the default generator)")
		}
	})

	t.Run("generators_are_independent", func(t *testing.T) {
		g1, _ := torch.NewGenerator(9, torch.CPU)
		g2, _ := torch.NewGenerator(9, torch.CPU)
		defer g1.Close()
		defer g2.Close()
		a := torch.Randn(s, g1, torch.Float32, 5)
		torch.Randn(s, nil, torch.Float32, 5) // the default generator does not disturb g2
		b := torch.Randn(s, g2, torch.Float32, 5)
		if !reflect.DeepEqual(torch.Data[float32](a), torch.Data[float32](b)) {
			t.Errorf("two generators with seed 9 drew different values")
		}
		c := torch.Randn(s, g1, torch.Float32, 5)
		if reflect.DeepEqual(torch.Data[float32](a), torch.Data[float32](c)) {
			t.Errorf("a generator repeated its draw")
		}
	})

	t.Run("manual_seed_repeats", func(t *testing.T) {
		torch.ManualSeed(3)
		a := torch.Rand(s, nil, torch.Float64, 6)
		torch.ManualSeed(3)
		b := torch.Rand(s, nil, torch.Float64, 6)
		if !reflect.DeepEqual(torch.Data[float64](a), torch.Data[float64](b)) {
			t.Errorf("ManualSeed(3) twice drew different values")
		}
	})
}

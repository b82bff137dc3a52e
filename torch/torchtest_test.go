package torch_test

// Tests of the torchtest helpers themselves: the safetensors reader rejects malformed
// files, values decode exactly, and AllClose/Compare notice differences.

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

func writeST(t *testing.T, header string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.safetensors")
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(append(b, header...), data...)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTorchtestLoad(t *testing.T) {
	data := make([]byte, 0, 16)
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(1.5))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(-2))
	data = binary.LittleEndian.AppendUint16(data, 0x3c00) // f16 1
	data = binary.LittleEndian.AppendUint16(data, 0xc000) // f16 -2
	data = binary.LittleEndian.AppendUint16(data, 0x3f80) // bf16 1
	data = binary.LittleEndian.AppendUint16(data, 0x0001) // bf16 9.18e-41
	hdr := `{"a.in0":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"a.out":{"dtype":"F16","shape":[1,2],"data_offsets":[8,12]},` +
		`"b.grad1":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},` +
		`"other":{"dtype":"BF16","shape":[],"data_offsets":[12,14]},` +
		`"__metadata__":{"k":"v"}}`
	f, err := torchtest.Load(writeST(t, hdr, data))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Cases(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Cases = %v", got)
	}
	if f.Metadata["k"] != "v" {
		t.Errorf("metadata %v", f.Metadata)
	}
	for name, want := range map[string][]float64{
		"a.in0":   {1.5, -2},
		"a.out":   {1, -2},
		"b.grad1": {1, math.Float64frombits(0x3810000000000000) / 128}, // 2^-133
		"other":   {1},
	} {
		if got := f.Raw(name).Float64s(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s decodes to %v, want %v", name, got, want)
		}
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	x := f.Tensor(s, "a.out")
	if x.DType() != torch.Float16 || !reflect.DeepEqual(x.Shape(), []int64{1, 2}) {
		t.Errorf("tensor %v", x)
	}
	if got := x.Float64s(); !reflect.DeepEqual(got, []float64{1, -2}) {
		t.Errorf("tensor values %v", got)
	}

	for name, bad := range map[string]string{
		"offsets past the end": `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}}`,
		"size mismatch":        `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`,
		"unknown dtype":        `{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}`,
		"not json":             `{"a":`,
	} {
		if _, err := torchtest.Load(writeST(t, bad, data)); err == nil {
			t.Errorf("%s: Load accepted %s", name, bad)
		}
	}
	p := filepath.Join(t.TempDir(), "short")
	os.WriteFile(p, []byte{1, 2, 3}, 0o644)
	if _, err := torchtest.Load(p); err == nil {
		t.Errorf("Load accepted a 3-byte file")
	}
	p2 := writeST(t, `{}`, nil)
	b, _ := os.ReadFile(p2)
	binary.LittleEndian.PutUint64(b, 1<<40)
	os.WriteFile(p2, b, 0o644)
	if _, err := torchtest.Load(p2); err == nil {
		t.Errorf("Load accepted a header length past the end")
	}
}

func TestTorchtestHalf(t *testing.T) {
	for bits, want := range map[uint16]float64{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: math.Ldexp(1, -24),
		0x0400: math.Ldexp(1, -14), 0x3555: 0.333251953125, 0x7c00: math.Inf(1), 0xfc00: math.Inf(-1),
	} {
		if got := weighttest.HalfToFloat64(bits); got != want {
			t.Errorf("HalfToFloat64(%#04x) = %v, want %v", bits, got, want)
		}
	}
	if !math.IsNaN(weighttest.HalfToFloat64(0x7e00)) {
		t.Errorf("0x7e00 is not NaN")
	}
	// Cross-check against libtorch's own float16 → float64 cast for every bit pattern.
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	all := make([]torch.Half, 1<<16)
	for i := range all {
		all[i] = torch.Half(i)
	}
	got := torch.FromSlice(s, all).Float64s()
	for i, g := range got {
		w := weighttest.HalfToFloat64(uint16(i))
		if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Fatalf("%#04x: libtorch %v, HalfToFloat64 %v", i, g, w)
		}
	}
}

func TestTorchtestCompare(t *testing.T) {
	f32 := torchtest.DefaultTol(torch.Float32)
	cases := []struct {
		name      string
		got, want []float64
		tol       torchtest.Tol
		ok        bool
	}{
		{"equal", []float64{1, 2, 3}, []float64{1, 2, 3}, f32, true},
		{"within rtol", []float64{1 + 5e-6, 2}, []float64{1, 2}, f32, true},
		{"outside rtol", []float64{1 + 5e-5, 2}, []float64{1, 2}, f32, false},
		{"near zero under the floor", []float64{1e-7, 100}, []float64{0, 100}, f32, true},
		{"near zero above the floor", []float64{1e-3, 100}, []float64{0, 100}, f32, false},
		{"nan equals nan", []float64{math.NaN()}, []float64{math.NaN()}, f32, true},
		{"nan vs number", []float64{math.NaN()}, []float64{1}, f32, false},
		{"inf vs inf", []float64{math.Inf(-1)}, []float64{math.Inf(-1)}, f32, true},
		{"inf vs big", []float64{math.Inf(1)}, []float64{1e38}, f32, false},
		{"exact equal", []float64{0.1, 7}, []float64{0.1, 7}, torchtest.Tol{Exact: true}, true},
		{"exact one ulp", []float64{math.Nextafter(0.1, 1)}, []float64{0.1}, torchtest.Tol{Exact: true}, false},
		{"length", []float64{1}, []float64{1, 2}, f32, false},
		// A zero-by-construction tensor of rounding noise (the clip k_proj.bias case):
		// relative error 23 fails on its own scale, passes on the computation's scale (17).
		{"noise on own scale", []float64{2.3e-6, 1e-7}, []float64{1e-7, 1e-7}, f32, false},
		{"noise on computation scale", []float64{2.3e-6, 1e-7}, []float64{1e-7, 1e-7}, torchtest.Tol{RTol: 1e-5, ATol: 1e-6, Scale: 17}, true},
		{"scale still bounds", []float64{3e-5, 1e-7}, []float64{1e-7, 1e-7}, torchtest.Tol{RTol: 1e-5, ATol: 1e-6, Scale: 17}, false},
		{"scale below max|want| is ignored", []float64{1 + 5e-5, 2}, []float64{1, 2}, torchtest.Tol{RTol: 1e-5, ATol: 1e-6, Scale: 1e-9}, false},
	}
	for _, c := range cases {
		st := torchtest.CompareValues(c.got, c.want, c.tol)
		if st.OK() != c.ok {
			t.Errorf("%s: OK = %v, want %v (%s)", c.name, st.OK(), c.ok, st)
		}
	}
	st := torchtest.CompareValues([]float64{1, 2.5, 3}, []float64{1, 2, 3}, f32)
	if st.MaxAbs != 0.5 || st.MaxRel != 0.25 || st.Worst != 1 || st.Bad != 1 {
		t.Errorf("stats %+v", st)
	}

	// Tensor comparisons notice a dtype, a shape and a value difference.
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	a := torch.FromSlice(s, []float32{1, 2, 3, 4}, 2, 2)
	b := torch.FromSlice(s, []float32{1, 2, 3, 4.001}, 2, 2)
	if st := torchtest.CompareTensors(a, a.Clone(s), f32); !st.OK() {
		t.Errorf("a vs its clone: %s", st)
	}
	if st := torchtest.CompareTensors(a, b, f32); st.OK() {
		t.Errorf("a vs b passed")
	}
	if st := torchtest.CompareTensors(a, a.Reshape(s, 4), f32); st.OK() {
		t.Errorf("shape mismatch passed")
	}
	if st := torchtest.CompareTensors(a, a.ToDType(s, torch.Float64), f32); st.OK() {
		t.Errorf("dtype mismatch passed")
	}
	if m := torchtest.MaxAbs(a, nil, torch.FromSlice(s, []float32{-7, 1})); m != 7 {
		t.Errorf("MaxAbs = %v, want 7", m)
	}
	// AllClose reports through the TB it is given.
	rec := &recordTB{TB: t}
	torchtest.AllClose(rec, "b", b, a, 1e-5)
	if !rec.failed {
		t.Errorf("AllClose did not report a difference of 1e-3")
	}
	rec = &recordTB{TB: t}
	torchtest.AllClose(rec, "a", a, a.Clone(s), 1e-5)
	if rec.failed {
		t.Errorf("AllClose reported equal tensors")
	}
	rec = &recordTB{TB: t}
	torchtest.AllClose(rec, "ints", torch.FromSlice(s, []int64{1, 2}), torch.FromSlice(s, []int64{1, 3}), 1)
	if !rec.failed {
		t.Errorf("AllClose passed different int64 tensors with a loose rtol")
	}
}

// recordTB records Errorf instead of failing.
type recordTB struct {
	testing.TB
	failed bool
}

func (r *recordTB) Errorf(format string, args ...any) {
	r.failed = true
	r.TB.Logf("(expected) "+format, args...)
}

// Package torchtest holds test helpers for package torch and the packages built on it: a
// small reader for safetensors goldens (such as those third_party/golden/torch_ops.py
// writes), and AllClose, which compares a tensor with an expected value and reports the
// maximum absolute and relative errors with sample values.
//
// Expected values are decoded from the golden file's bytes in pure Go and the tensor under
// test is read back with Tensor.Bytes (a plain copy in its own dtype), so no comparison
// goes through a libtorch op (such as a cast) that could itself be wrong.
package torchtest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
)

// Raw is one tensor of a safetensors file: its dtype, shape and little-endian bytes.
type Raw struct {
	DType torch.DType
	Shape []int64
	Data  []byte
}

// Numel is the number of elements.
func (r Raw) Numel() int64 {
	n := int64(1)
	for _, d := range r.Shape {
		n *= d
	}
	return n
}

// Float64s decodes the values as float64 (exactly, for every supported dtype).
func (r Raw) Float64s() []float64 { return decode(r.DType, r.Data) }

// File is a loaded safetensors file.
type File struct {
	Path     string
	Tensors  map[string]Raw
	Metadata map[string]string
}

var stDTypes = map[string]torch.DType{
	"F64": torch.Float64, "F32": torch.Float32, "F16": torch.Float16, "BF16": torch.BFloat16,
	"I64": torch.Int64, "I32": torch.Int32, "I16": torch.Int16, "I8": torch.Int8,
	"U8": torch.Uint8, "BOOL": torch.Bool,
}

// Load reads a safetensors file: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}} (and an optional __metadata__), then the data.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: too short for a safetensors header", path)
	}
	hl := binary.LittleEndian.Uint64(b[:8])
	if hl > uint64(len(b)-8) {
		return nil, fmt.Errorf("%s: header length %d exceeds the file", path, hl)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+hl], &hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %v", path, err)
	}
	data := b[8+hl:]
	f := &File{Path: path, Tensors: map[string]Raw{}, Metadata: map[string]string{}}
	for name, msg := range hdr {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("%s: metadata: %v", path, err)
			}
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, name, err)
		}
		dt, ok := stDTypes[e.DType]
		if !ok {
			return nil, fmt.Errorf("%s: %s: unknown dtype %q", path, name, e.DType)
		}
		r := Raw{DType: dt, Shape: e.Shape}
		if e.Shape == nil {
			r.Shape = []int64{}
		}
		lo, hi := e.Offsets[0], e.Offsets[1]
		if lo < 0 || hi < lo || hi > int64(len(data)) {
			return nil, fmt.Errorf("%s: %s: bad data offsets %v", path, name, e.Offsets)
		}
		if want := r.Numel() * int64(dt.Size()); hi-lo != want {
			return nil, fmt.Errorf("%s: %s: %d bytes for %d elements of %s", path, name, hi-lo, r.Numel(), dt)
		}
		r.Data = data[lo:hi]
		f.Tensors[name] = r
	}
	return f, nil
}

// Has reports whether the file holds a tensor called name.
func (f *File) Has(name string) bool { _, ok := f.Tensors[name]; return ok }

// Raw returns a tensor's raw entry; it panics when there is none.
func (f *File) Raw(name string) Raw {
	r, ok := f.Tensors[name]
	if !ok {
		panic(fmt.Sprintf("torchtest: %s has no tensor %q", f.Path, name))
	}
	return r
}

// Tensor makes a tensor in s from the entry called name (torch.FromBytes); it panics
// when there is none.
func (f *File) Tensor(s *torch.Scope, name string) *torch.Tensor {
	r := f.Raw(name)
	return torch.FromBytes(s, r.DType, r.Data, r.Shape...)
}

// Cases lists the distinct case names: the part of each tensor name before the last
// ".inN", ".outN", ".goutN" or ".gradN" suffix (names without one are skipped).
func (f *File) Cases() []string {
	seen := map[string]bool{}
	for name := range f.Tensors {
		i := strings.LastIndexByte(name, '.')
		if i < 0 {
			continue
		}
		sfx := strings.TrimRight(name[i+1:], "0123456789")
		switch sfx {
		case "in", "out", "gout", "grad":
			seen[name[:i]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Tol is a comparison tolerance: an element passes when
// |got − want| ≤ RTol·|want| + ATol·max|want| (ATol is relative to the largest magnitude in
// want, a floor for elements near zero). Exact asks for bit-equal values (NaN equals NaN).
//
// Scale, when larger than max|want|, replaces it in the floor: the magnitude of the
// computation the values come from. A tensor that is zero by construction (the gradient of
// an attention key bias, which softmax cancels) holds only rounding noise, whose size follows
// the magnitudes the computation went through, not its own; compare it with ATol·Scale,
// Scale being, for example, the largest gradient of the same backward pass.
type Tol struct {
	RTol, ATol float64
	Exact      bool
	Scale      float64
}

// DefaultTol is the tolerance for a dtype: float32 rel 1e-5 with an absolute floor of
// 1e-6·max|want|; float64 1e-10 / 1e-12; float16 1e-3 / 1e-3; bfloat16 1e-2 / 1e-2;
// integers and bools exact.
func DefaultTol(dt torch.DType) Tol {
	switch dt {
	case torch.Float32:
		return Tol{RTol: 1e-5, ATol: 1e-6}
	case torch.Float64:
		return Tol{RTol: 1e-10, ATol: 1e-12}
	case torch.Float16:
		return Tol{RTol: 1e-3, ATol: 1e-3}
	case torch.BFloat16:
		return Tol{RTol: 1e-2, ATol: 1e-2}
	}
	return Tol{Exact: true}
}

// Stats describes a comparison.
type Stats struct {
	N        int     // elements compared
	Bad      int     // elements outside the tolerance
	MaxAbs   float64 // max |got − want|
	MaxRel   float64 // max |got − want| / |want| over want ≠ 0
	Worst    int     // flat index of the element furthest outside (or nearest to) the bound
	GotW     float64 // got at Worst
	WantW    float64 // want at Worst
	MaxWant  float64 // max |want|
	Mismatch string  // a dtype or shape mismatch, if any (then nothing was compared)
}

// OK reports whether every element passed.
func (st Stats) OK() bool { return st.Mismatch == "" && st.Bad == 0 }

func (st Stats) String() string {
	if st.Mismatch != "" {
		return st.Mismatch
	}
	return fmt.Sprintf("n=%d bad=%d max_abs=%.3g max_rel=%.3g (worst [%d] got %.9g want %.9g, max|want| %.3g)",
		st.N, st.Bad, st.MaxAbs, st.MaxRel, st.Worst, st.GotW, st.WantW, st.MaxWant)
}

// Compare compares got with want under tol.
func Compare(got *torch.Tensor, want Raw, tol Tol) Stats {
	if got == nil || got.Freed() {
		return Stats{Mismatch: "got a nil or freed tensor"}
	}
	if got.DType() != want.DType {
		return Stats{Mismatch: fmt.Sprintf("dtype %s, want %s", got.DType(), want.DType)}
	}
	if sh := got.Shape(); !slices.Equal(sh, want.Shape) {
		return Stats{Mismatch: fmt.Sprintf("shape %v, want %v", sh, want.Shape)}
	}
	return CompareValues(decode(want.DType, got.Bytes()), want.Float64s(), tol)
}

// CompareTensors compares two tensors (both read back with Bytes).
func CompareTensors(got, want *torch.Tensor, tol Tol) Stats {
	if want == nil {
		return Stats{Mismatch: "want is a nil tensor"}
	}
	return Compare(got, Raw{DType: want.DType(), Shape: want.Shape(), Data: want.Bytes()}, tol)
}

// CompareValues compares two equally long slices under tol.
func CompareValues(got, want []float64, tol Tol) Stats {
	st := Stats{N: len(got)}
	if len(got) != len(want) {
		st.Mismatch = fmt.Sprintf("%d values, want %d", len(got), len(want))
		return st
	}
	for _, w := range want {
		if a := math.Abs(w); a > st.MaxWant && !math.IsInf(a, 0) {
			st.MaxWant = a
		}
	}
	worst := math.Inf(-1)
	for i := range got {
		g, w := got[i], want[i]
		var d, excess float64
		switch {
		case math.IsNaN(g) || math.IsNaN(w):
			if math.IsNaN(g) && math.IsNaN(w) {
				continue
			}
			d, excess = math.Inf(1), math.Inf(1)
		case math.IsInf(g, 0) || math.IsInf(w, 0):
			if g == w {
				continue
			}
			d, excess = math.Inf(1), math.Inf(1)
		default:
			d = math.Abs(g - w)
			if tol.Exact {
				if g != w || math.Signbit(g) != math.Signbit(w) && g != 0 {
					excess = d
					if excess == 0 {
						excess = math.SmallestNonzeroFloat64
					}
				} else {
					excess = -1
				}
			} else {
				excess = d - (tol.RTol*math.Abs(w) + tol.ATol*math.Max(st.MaxWant, tol.Scale))
			}
		}
		if d > st.MaxAbs {
			st.MaxAbs = d
		}
		if w != 0 {
			if r := d / math.Abs(w); r > st.MaxRel {
				st.MaxRel = r
			}
		}
		if excess > 0 {
			st.Bad++
		}
		if excess > worst {
			worst, st.Worst, st.GotW, st.WantW = excess, i, g, w
		}
	}
	return st
}

// Golden loads every tensor of a safetensors file into s, keyed by name; it stops the test
// when the file cannot be read.
func Golden(t testing.TB, s *torch.Scope, path string) map[string]*torch.Tensor {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	out := make(map[string]*torch.Tensor, len(f.Tensors))
	for name := range f.Tensors {
		out[name] = f.Tensor(s, name)
	}
	return out
}

// Want returns g[name], stopping the test when the golden has no such tensor.
func Want(t testing.TB, g map[string]*torch.Tensor, name string) *torch.Tensor {
	t.Helper()
	w, ok := g[name]
	if !ok || w == nil {
		t.Fatalf("golden has no tensor %q", name)
	}
	return w
}

// AllClose compares got with want (same dtype and shape) with relative tolerance rtol and
// an absolute floor of rtol/10·max|want|; integer and bool tensors must be equal. It logs
// the maximum absolute and relative errors under name and reports an error with sample
// values when they differ.
func AllClose(t testing.TB, name string, got, want *torch.Tensor, rtol float64) Stats {
	t.Helper()
	tol := Tol{RTol: rtol, ATol: rtol / 10}
	if want != nil && !want.DType().IsFloat() {
		tol = Tol{Exact: true}
	}
	return AllCloseTol(t, name, got, want, tol)
}

// AllCloseScaled is AllClose with the absolute floor rtol/10·max(scale, max|want|): for
// tensors whose true value is (near) zero, where the error follows the scale of the
// computation (see Tol.Scale). MaxAbs finds such a scale in the expected tensors.
func AllCloseScaled(t testing.TB, name string, got, want *torch.Tensor, rtol, scale float64) Stats {
	t.Helper()
	return AllCloseTol(t, name, got, want, Tol{RTol: rtol, ATol: rtol / 10, Scale: scale})
}

// MaxAbs is the largest magnitude in the given tensors (read back with Bytes; nil tensors
// are skipped).
func MaxAbs(ts ...*torch.Tensor) float64 {
	m := 0.0
	for _, x := range ts {
		if x == nil || x.Freed() {
			continue
		}
		for _, v := range decode(x.DType(), x.Bytes()) {
			if a := math.Abs(v); a > m && !math.IsInf(a, 0) {
				m = a
			}
		}
	}
	return m
}

// AllCloseTol is AllClose with an explicit tolerance.
func AllCloseTol(t testing.TB, name string, got, want *torch.Tensor, tol Tol) Stats {
	t.Helper()
	if want == nil {
		t.Errorf("%s: want is a nil tensor", name)
		return Stats{Mismatch: "want is nil"}
	}
	if want.Freed() {
		t.Errorf("%s: want was freed", name)
		return Stats{Mismatch: "want was freed"}
	}
	return AllCloseRaw(t, name, got, Raw{DType: want.DType(), Shape: want.Shape(), Data: want.Bytes()}, tol)
}

// AllCloseRaw compares got with a raw golden entry under tol, logs the statistics under
// name and reports an error (with sample values) when they differ.
func AllCloseRaw(t testing.TB, name string, got *torch.Tensor, want Raw, tol Tol) Stats {
	t.Helper()
	if got == nil || got.Freed() {
		t.Errorf("%s: got a nil or freed tensor", name)
		return Stats{Mismatch: "got is nil or freed"}
	}
	st := Compare(got, want, tol)
	report(t, name, st, got, want)
	return st
}

func report(t testing.TB, name string, st Stats, got *torch.Tensor, want Raw) {
	t.Helper()
	if st.OK() {
		t.Logf("%-28s max_abs %.3g  max_rel %.3g  (n=%d)", name, st.MaxAbs, st.MaxRel, st.N)
		return
	}
	if st.Mismatch != "" {
		t.Errorf("%s: %s", name, st.Mismatch)
		return
	}
	t.Errorf("%s: %s\n  got  %s\n  want %s", name, st, Sample(decode(want.DType, got.Bytes())), Sample(want.Float64s()))
}

// Sample formats the first few values of v.
func Sample(v []float64) string {
	const n = 8
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i == n {
			fmt.Fprintf(&b, " … (%d values)", len(v))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.6g", x)
	}
	b.WriteByte(']')
	return b.String()
}

// decode reads little-endian values of dtype dt as float64 (exact for every dtype here).
func decode(dt torch.DType, b []byte) []float64 {
	sz := dt.Size()
	if sz == 0 {
		panic(fmt.Sprintf("torchtest: cannot decode dtype %s", dt))
	}
	n := len(b) / sz
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range out {
		p := b[i*sz:]
		switch dt {
		case torch.Float64:
			out[i] = math.Float64frombits(le.Uint64(p))
		case torch.Float32:
			out[i] = float64(math.Float32frombits(le.Uint32(p)))
		case torch.Float16:
			out[i] = weighttest.HalfToFloat64(le.Uint16(p))
		case torch.BFloat16:
			out[i] = float64(math.Float32frombits(uint32(le.Uint16(p)) << 16))
		case torch.Int64:
			out[i] = float64(int64(le.Uint64(p)))
		case torch.Int32:
			out[i] = float64(int32(le.Uint32(p)))
		case torch.Int16:
			out[i] = float64(int16(le.Uint16(p)))
		case torch.Int8:
			out[i] = float64(int8(p[0]))
		case torch.Uint8:
			out[i] = float64(p[0])
		case torch.Bool:
			if p[0] != 0 {
				out[i] = 1
			}
		default:
			panic(fmt.Sprintf("torchtest: cannot decode dtype %s", dt))
		}
	}
	return out
}

// Decode reads little-endian values of dtype dt as float64.
func Decode(dt torch.DType, b []byte) []float64 { return decode(dt, b) }

// NoLeak fails the test when it ends with another number of live tensors than it started
// with (torch.LiveTensors).
func NoLeak(t testing.TB) {
	t.Helper()
	before := torch.LiveTensors()
	t.Cleanup(func() {
		if after := torch.LiveTensors(); after != before {
			t.Errorf("live tensors: %d before the test, %d after", before, after)
		}
	})
}

// WeightPairs opens the weight files got and want, fails the test unless they hold the same
// number of tensors (at least one), and calls f with each of want's tensor names and the
// values of the two tensors of that name (a name got lacks fails the test).
func WeightPairs(t testing.TB, got, want string, f func(name string, got, want []float64)) {
	t.Helper()
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g, err := torch.OpenWeights(got)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	w, err := torch.OpenWeights(want)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(w.Names()) == 0 || len(g.Names()) != len(w.Names()) {
		t.Fatalf("%s holds %d tensors, %s %d", got, len(g.Names()), want, len(w.Names()))
	}
	for _, n := range w.Names() {
		a, err := g.Load(s, n, torch.KeepDType)
		if err != nil {
			t.Fatal(err)
		}
		b, err := w.Load(s, n, torch.KeepDType)
		if err != nil {
			t.Fatal(err)
		}
		f(n, a.Float64s(), b.Float64s())
	}
}

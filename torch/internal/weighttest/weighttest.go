// Package weighttest holds what the weight-file readers' tests share: the expected values
// that third_party/golden/weightfiles.py wrote, and an element-by-element check of a raw
// tensor against them that does not use the readers' own indexing.
package weighttest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Raw is a reader's tensor view as the check needs it.
type Raw struct {
	Invalid error  // what the reader's own validation said; non-nil fails the check
	DType   string // safetensors spelling: F32, BF16, I64, …
	Shape   []int64
	Strides []int64 // nil: contiguous
	Offset  int64
	Data    []byte
}

func size(dt string) int {
	switch dt {
	case "F64", "I64":
		return 8
	case "F32", "I32":
		return 4
	case "F16", "BF16", "I16":
		return 2
	}
	return 1
}

func contiguous(shape []int64) []int64 {
	st := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

// Dir holds the files written by third_party/golden/weightfiles.py.
var Dir = filepath.Join("..", "..", "..", "testdata", "weightfiles")

// Expected is one entry of expected.json.
type Expected struct {
	DType  string        `json:"dtype"`
	Shape  []int64       `json:"shape"`
	Values []json.Number `json:"values"`
}

// LoadExpected reads expected.json's section for one file.
func LoadExpected(t testing.TB, file string) map[string]Expected {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	sec, ok := all[file]
	if !ok {
		t.Fatalf("expected.json has no section %q", file)
	}
	var out map[string]Expected
	dec := json.NewDecoder(bytes.NewReader(sec))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// HalfToFloat64 converts IEEE binary16 bits to a float64, exactly (torch's
// torchtest_test.go checks it against libtorch for every bit pattern).
func HalfToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * mant * math.Pow(2, -24)
	case 0x1f:
		if mant == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * (1024 + mant) * math.Pow(2, float64(exp-25))
}

// element decodes one element of t at element index i as (float, int, isInt).
func element(t Raw, i int64) (float64, int64, bool) {
	b := t.Data[i*int64(size(t.DType)):]
	switch t.DType {
	case "F64":
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), 0, false
	case "F32":
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 0, false
	case "F16":
		return HalfToFloat64(binary.LittleEndian.Uint16(b)), 0, false
	case "BF16":
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)), 0, false
	case "I64":
		return 0, int64(binary.LittleEndian.Uint64(b)), true
	case "I32":
		return 0, int64(int32(binary.LittleEndian.Uint32(b))), true
	case "I16":
		return 0, int64(int16(binary.LittleEndian.Uint16(b))), true
	case "I8":
		return 0, int64(int8(b[0])), true
	case "U8", "BOOL":
		return 0, int64(b[0]), true
	}
	panic("unknown dtype " + t.DType)
}

// rowMajorIndices lists the storage element index of every element of t, row-major,
// computed independently of the package's own iteration.
func rowMajorIndices(t Raw) []int64 {
	strides := t.Strides
	if strides == nil {
		strides = contiguous(t.Shape)
	}
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	out := make([]int64, 0, n)
	for lin := int64(0); lin < n; lin++ {
		rem, idx := lin, t.Offset
		for k := len(t.Shape) - 1; k >= 0; k-- {
			idx += (rem % t.Shape[k]) * strides[k]
			rem /= t.Shape[k]
		}
		out = append(out, idx)
	}
	return out
}

// CheckTensor compares every element of got with want, exactly (float bits included),
// once the reader's validation (got.Invalid) has passed.
func CheckTensor(t testing.TB, name string, got Raw, want Expected) {
	t.Helper()
	if got.Invalid != nil {
		t.Errorf("%s: %v", name, got.Invalid)
		return
	}
	if got.DType != want.DType {
		t.Errorf("%s: dtype %s, want %s", name, got.DType, want.DType)
		return
	}
	if !slices.Equal(got.Shape, want.Shape) {
		t.Errorf("%s: shape %v, want %v", name, got.Shape, want.Shape)
		return
	}
	idx := rowMajorIndices(got)
	if len(idx) != len(want.Values) {
		t.Errorf("%s: %d elements, want %d", name, len(idx), len(want.Values))
		return
	}
	for i, e := range idx {
		f, n, isInt := element(got, e)
		if isInt {
			w, err := strconv.ParseInt(want.Values[i].String(), 10, 64)
			if err != nil {
				t.Fatalf("%s: expected value %q: %v", name, want.Values[i], err)
			}
			if n != w {
				t.Errorf("%s[%d] = %d, want %d", name, i, n, w)
				return
			}
			continue
		}
		w, err := strconv.ParseFloat(want.Values[i].String(), 64)
		if err != nil {
			t.Fatalf("%s: expected value %q: %v", name, want.Values[i], err)
		}
		if math.Float64bits(f) != math.Float64bits(w) {
			t.Errorf("%s[%d] = %v, want %v", name, i, f, w)
			return
		}
	}
}

// CheckError fails the test unless err wraps is and its message holds every one of words
// (the file name and what is wrong, as the readers' errors must say).
func CheckError(t testing.TB, err, is error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, is) {
		t.Errorf("%v does not wrap %v", err, is)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// CheckLookupAndClose checks what every reader promises: an unknown name is not found, and
// Close succeeds, a second time too.
func CheckLookupAndClose[T any](t testing.TB, f interface {
	Tensor(name string) (T, bool)
	Close() error
}) {
	t.Helper()
	if _, ok := f.Tensor("nope"); ok {
		t.Error("Tensor(nope) found")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// EachTensor checks that f holds exactly the tensors expected.json lists for file, in
// sorted order, and calls check with each one and its expected values.
func EachTensor[T any](t testing.TB, f interface {
	Names() []string
	Tensor(name string) (T, bool)
}, file string, check func(name string, got T, want Expected)) {
	t.Helper()
	want := LoadExpected(t, file)
	if got := f.Names(); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("names\n %v\nwant\n %v", got, slices.Sorted(maps.Keys(want)))
	}
	for _, name := range f.Names() {
		tn, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("Tensor(%q) missing", name)
		}
		check(name, tn, want[name])
	}
}

// ValidListed calls check with each tensor f lists, after failing the test when a listed
// name has no tensor or its tensor does not validate: what every file that opens must hand
// out, whatever its bytes.
func ValidListed[T interface{ Validate() error }](t testing.TB, f interface {
	Names() []string
	Tensor(name string) (T, bool)
}, check func(name string, tn T)) {
	t.Helper()
	for _, n := range f.Names() {
		tn, ok := f.Tensor(n)
		if !ok {
			t.Fatalf("listed tensor %q missing", n)
		}
		if err := tn.Validate(); err != nil {
			t.Fatalf("opened file hands out an invalid tensor %q: %v", n, err)
		}
		check(n, tn)
	}
}

// Listed returns the tensors f lists, in the order of its names.
func Listed[T any](f interface {
	Names() []string
	Tensor(name string) (T, bool)
}) []T {
	var ts []T
	for _, n := range f.Names() {
		if tn, ok := f.Tensor(n); ok {
			ts = append(ts, tn)
		}
	}
	return ts
}

// FuzzFiles seeds f with the named files of Dir and runs check on every input, written to
// a file whose name ends in ext.
func FuzzFiles(f *testing.F, ext string, seeds []string, check func(t *testing.T, path string)) {
	for _, name := range seeds {
		b, err := os.ReadFile(filepath.Join(Dir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in"+ext)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, p)
	})
}

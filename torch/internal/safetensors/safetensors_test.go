package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
)

func TestGoldenFile(t *testing.T) {
	path := filepath.Join(weighttest.Dir, "dtypes.safetensors")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	weighttest.EachTensor(t, f, "dtypes.safetensors", func(name string, tn Tensor, want weighttest.Expected) {
		if tn.Name != name || tn.Offset != 0 || !tn.IsContiguous() {
			t.Errorf("%s: name %q offset %d strides %v", name, tn.Name, tn.Offset, tn.Strides)
		}
		if int64(len(tn.Data)) != tn.NumElements()*int64(tn.DType.Size()) {
			t.Errorf("%s: %d data bytes for %d elements", name, len(tn.Data), tn.NumElements())
		}
		checkTensor(t, name, tn, want)
	})
	md := f.Metadata()
	if md["format"] != "pt" || md["source"] != "weightfiles.py" || len(md) != 2 {
		t.Errorf("metadata %v", md)
	}
	md["format"] = "changed"
	if f.Metadata()["format"] != "pt" {
		t.Error("Metadata returned the internal map")
	}
	tn, _ := f.Tensor("scalar")
	if len(tn.Shape) != 0 || tn.NumElements() != 1 {
		t.Errorf("scalar: shape %v", tn.Shape)
	}
	weighttest.CheckLookupAndClose(t, f)
	if _, ok := f.Tensor("f32"); ok {
		t.Error("Tensor after Close succeeded")
	}
}

func TestIndex(t *testing.T) {
	path := filepath.Join(weighttest.Dir, "sharded", "model.safetensors.index.json")
	ix, err := OpenIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	shards := map[string]bool{}
	weighttest.EachTensor(t, ix, "sharded/model.safetensors.index.json", func(name string, tn Tensor, want weighttest.Expected) {
		checkTensor(t, name, tn, want)
		s, ok := ix.Shard(name)
		if !ok || !strings.HasPrefix(s, "model-0000") {
			t.Errorf("Shard(%q) = %q, %v", name, s, ok)
		}
		shards[s] = true
	})
	if len(shards) != 2 {
		t.Errorf("tensors come from %d shards, want 2", len(shards))
	}
	if md := ix.Metadata(); md["total_size"] == "" {
		t.Errorf("metadata %v lacks total_size", md)
	}
	weighttest.CheckLookupAndClose(t, ix)
}

// copyShardDir copies the sharded golden set into a temp dir and returns the index path.
func copyShardDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(weighttest.Dir, "sharded")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "model.safetensors.index.json")
}

func TestIndexErrors(t *testing.T) {
	t.Run("missing shard", func(t *testing.T) {
		idx := copyShardDir(t)
		os.Remove(filepath.Join(filepath.Dir(idx), "model-00002-of-00002.safetensors"))
		_, err := OpenIndex(idx)
		if err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
			t.Fatalf("err = %v, want one naming the missing shard", err)
		}
	})
	writeIndex := func(t *testing.T, idx, body string) {
		t.Helper()
		if err := os.WriteFile(idx, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, body string
		want       []string
	}{
		{"wrong shard", `{"weight_map":{"0.weight":"model-00002-of-00002.safetensors"}}`,
			[]string{"0.weight", "model-00002-of-00002.safetensors"}},
		{"unknown name", `{"weight_map":{"ghost":"model-00001-of-00002.safetensors"}}`, []string{"ghost"}},
		{"escaping shard", `{"weight_map":{"a":"../x.safetensors"}}`, []string{"../x.safetensors"}},
		{"absolute shard", `{"weight_map":{"a":"/etc/passwd"}}`, []string{"/etc/passwd"}},
		{"no weight map", `{"metadata":{}}`, []string{"weight_map"}},
		{"bad json", `{"weight_map":`, []string{"index.json"}},
		{"weight map of numbers", `{"weight_map":{"a":1}}`, []string{"index.json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idx := copyShardDir(t)
			writeIndex(t, idx, c.body)
			_, err := OpenIndex(idx)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := OpenIndex(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing index: %v", err)
	}
}

func TestTruncated(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(weighttest.Dir, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(full); cut++ {
		if _, err := parse("cut.safetensors", full[:cut]); err == nil {
			t.Fatalf("file cut at %d of %d bytes parsed", cut, len(full))
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("cut at %d: %v does not wrap ErrInvalid", cut, err)
		}
	}
	// And through Open, a few cuts.
	dir := t.TempDir()
	for _, cut := range []int{0, 3, 8, 100, len(full) - 1} {
		p := filepath.Join(dir, fmt.Sprintf("cut%d.safetensors", cut))
		os.WriteFile(p, full[:cut], 0o644)
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Open(cut %d): %v", cut, err)
		}
	}
}

// file builds a safetensors image from a header string and a data section.
func file(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestCorruptHeaders(t *testing.T) {
	eight := make([]byte, 8)
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, MaxHeaderSize+1)
	over := make([]byte, 8)
	binary.LittleEndian.PutUint64(over, 1<<63)
	cases := []struct {
		name  string
		image []byte
		want  string // substring of the error
	}{
		{"empty file", nil, "shorter than"},
		{"header length beyond file", append(append([]byte{}, 20, 0, 0, 0, 0, 0, 0, 0), "{}"...), "exceeds"},
		{"header length over limit", append(huge, "{}"...), "limit"},
		{"header length 2^63", append(over, "{}"...), "limit"},
		{"zero-length header", eight, "'{'"},
		{"not an object", file(`["a"]`, nil), "'{'"},
		{"leading space", file(` {}`, nil), "'{'"},
		{"invalid json", file(`{"a":`, nil), "JSON"},
		{"trailing garbage", file(`{}x`, nil), "JSON"},
		{"invalid utf8", file("{\"\xff\":1}", nil), "UTF-8"},
		{"unknown dtype", file(`{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), `"a"`},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), "negative"},
		{"float dim", file(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}`, nil), `"a"`},
		{"overflowing shape", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "overflow"},
		{"overflowing bytes", file(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, nil), "overflow"},
		{"missing dtype", file(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs dtype"},
		{"null shape", file(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, make([]byte, 4)), "needs dtype"},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}`, make([]byte, 4)), "2 entries"},
		{"offsets out of range", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 2)), "outside"},
		{"negative offset", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, nil), "outside"},
		{"reversed offsets", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "outside"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlap"},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "gap"},
		{"trailing data", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "cover 4 bytes of a 8-byte"},
		{"duplicate key", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), "duplicate"},
		{"non-string metadata", file(`{"__metadata__":{"n":1}}`, nil), "__metadata__"},
		{"entry not an object", file(`{"a":[1]}`, nil), `"a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("bad.safetensors", c.image)
			weighttest.CheckError(t, err, ErrInvalid, "bad.safetensors", c.want)
		})
	}
}

func TestValidEdgeCases(t *testing.T) {
	cases := []struct {
		name  string
		image []byte
		names []string
	}{
		{"empty header", file(`{}`, nil), []string{}},
		{"padded header", file(`{}      `, nil), []string{}},
		{"null metadata", file(`{"__metadata__":null}`, nil), []string{}},
		{"zero-size tensors share an offset", file(`{"a":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"I8","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 4)), []string{"a", "b", "c"}},
		{"unknown fields ignored", file(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"extra":true}}`, []byte{7}), []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := parse("ok.safetensors", c.image)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Names(); !slices.Equal(got, c.names) {
				t.Errorf("names %v, want %v", got, c.names)
			}
		})
	}
}

func readBack(t *testing.T, path string) *File {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestWriteRoundTrip(t *testing.T) {
	golden := filepath.Join(weighttest.Dir, "dtypes.safetensors")
	src := readBack(t, golden)
	tensors := weighttest.Listed(src)
	out := filepath.Join(t.TempDir(), "out.safetensors")
	if err := Write(out, tensors, src.Metadata()); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(golden)
	b, _ := os.ReadFile(out)
	if !bytes.Equal(a, b) {
		t.Errorf("Write output (%d bytes) differs from the Python-written file (%d bytes)", len(b), len(a))
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	got := readBack(t, out)
	want := weighttest.LoadExpected(t, "dtypes.safetensors")
	for _, n := range got.Names() {
		tn, _ := got.Tensor(n)
		checkTensor(t, n, tn, want[n])
	}
}

func TestWriteStrided(t *testing.T) {
	// A 3×4 storage with a transposed view, a column slice with an offset, and a 0-dim view.
	storage := make([]byte, 12*4)
	for i := 0; i < 12; i++ {
		binary.LittleEndian.PutUint32(storage[i*4:], uint32(i))
	}
	tensors := []Tensor{
		{Name: "t", DType: I32, Shape: []int64{4, 3}, Strides: []int64{1, 4}, Data: storage},
		{Name: "cols", DType: I32, Shape: []int64{3, 2}, Strides: []int64{4, 1}, Offset: 1, Data: storage},
		{Name: "every_other", DType: I32, Shape: []int64{2, 2}, Strides: []int64{8, 2}, Offset: 1, Data: storage},
		{Name: "s", DType: I32, Shape: []int64{}, Strides: []int64{}, Offset: 11, Data: storage},
		{Name: "row", DType: I32, Shape: []int64{4}, Offset: 4, Data: storage},
	}
	want := map[string][]int64{
		"t":           {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11},
		"cols":        {1, 2, 5, 6, 9, 10},
		"every_other": {1, 3, 9, 11},
		"s":           {11},
		"row":         {4, 5, 6, 7},
	}
	out := filepath.Join(t.TempDir(), "strided.safetensors")
	if err := Write(out, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f := readBack(t, out)
	if f.Metadata() != nil {
		t.Errorf("metadata %v, want nil", f.Metadata())
	}
	for _, in := range tensors {
		tn, ok := f.Tensor(in.Name)
		if !ok {
			t.Fatalf("%s missing", in.Name)
		}
		if !slices.Equal(tn.Shape, in.Shape) {
			t.Errorf("%s: shape %v", in.Name, tn.Shape)
		}
		for i, w := range want[in.Name] {
			if got := int64(int32(binary.LittleEndian.Uint32(tn.Data[i*4:]))); got != w {
				t.Errorf("%s[%d] = %d, want %d", in.Name, i, got, w)
			}
		}
		// Contiguous gathers the same values in memory.
		c, err := in.Contiguous()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Data, tn.Data) || c.Offset != 0 || !c.IsContiguous() {
			t.Errorf("%s: Contiguous() = %v", in.Name, c.Data)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.safetensors")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f32 := func(name string, shape ...int64) Tensor {
		return Tensor{Name: name, DType: F32, Shape: shape, Data: make([]byte, 4*NumElements(shape))}
	}
	cases := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"duplicate", []Tensor{f32("a", 1), f32("a", 2)}, "duplicate"},
		{"metadata name", []Tensor{f32("__metadata__", 1)}, "__metadata__"},
		{"unknown dtype", []Tensor{{Name: "a", DType: "C64", Shape: []int64{1}, Data: make([]byte, 8)}}, "dtype"},
		{"short data", []Tensor{{Name: "a", DType: F32, Shape: []int64{3}, Data: make([]byte, 8)}}, `"a"`},
		{"strides out of range", []Tensor{{Name: "a", DType: U8, Shape: []int64{2}, Strides: []int64{5}, Data: make([]byte, 5)}}, `"a"`},
		{"negative dim", []Tensor{{Name: "a", DType: U8, Shape: []int64{-1}}}, `"a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(out, c.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
	// A fill callback that writes too little, too much or fails leaves the old file alone.
	fills := map[string]func(Tensor, io.Writer) error{
		"short": func(t Tensor, w io.Writer) error { _, err := w.Write([]byte{1}); return err },
		"long":  func(t Tensor, w io.Writer) error { _, err := w.Write(make([]byte, 9)); return err },
		"fails": func(t Tensor, w io.Writer) error { return errors.New("boom") },
	}
	for name, fill := range fills {
		err := WriteFunc(out, []Tensor{{Name: "a", DType: F32, Shape: []int64{2}}}, nil, fill)
		if err == nil || !strings.Contains(err.Error(), `"a"`) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Errorf("failed writes changed the file to %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	if err := Write(filepath.Join(dir, "missing", "x.safetensors"), nil, nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestWriteFuncStreams(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.safetensors")
	specs := []Tensor{
		{Name: "b", DType: U8, Shape: []int64{3}},
		{Name: "a", DType: F64, Shape: []int64{2}},
		{Name: "empty", DType: BF16, Shape: []int64{0, 7}},
	}
	var order []string
	err := WriteFunc(out, specs, map[string]string{"k": "<&>"}, func(t Tensor, w io.Writer) error {
		order = append(order, t.Name)
		_, err := w.Write(bytes.Repeat([]byte{byte(len(t.Name))}, int(t.NumElements())*t.DType.Size()))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "a,empty,b" {
		t.Errorf("fill order %v, want by decreasing element size then name", order)
	}
	raw, _ := os.ReadFile(out)
	if n := binary.LittleEndian.Uint64(raw); (8+n)%8 != 0 || !bytes.Contains(raw, []byte(`"<&>"`)) {
		t.Errorf("header %q", raw[8:8+n])
	}
	f := readBack(t, out)
	if f.Metadata()["k"] != "<&>" {
		t.Errorf("metadata %v", f.Metadata())
	}
	b, _ := f.Tensor("b")
	if !bytes.Equal(b.Data, []byte{1, 1, 1}) {
		t.Errorf("b = %v", b.Data)
	}
}

func TestTensorValidate(t *testing.T) {
	data := make([]byte, 24)
	cases := []struct {
		name string
		t    Tensor
		ok   bool
	}{
		{"contiguous", Tensor{DType: F32, Shape: []int64{2, 3}, Data: data}, true},
		{"0-dim", Tensor{DType: F64, Shape: nil, Data: data[:8]}, true},
		{"0-dim short", Tensor{DType: F64, Shape: nil, Data: data[:7]}, false},
		{"empty at end", Tensor{DType: F32, Shape: []int64{0}, Offset: 6, Data: data}, true},
		{"empty past end", Tensor{DType: F32, Shape: []int64{0}, Offset: 7, Data: data}, false},
		{"last element", Tensor{DType: F32, Shape: []int64{1}, Offset: 5, Data: data}, true},
		{"past end", Tensor{DType: F32, Shape: []int64{2}, Offset: 5, Data: data}, false},
		{"strided fits", Tensor{DType: F32, Shape: []int64{3, 2}, Strides: []int64{1, 3}, Data: data}, true},
		{"strided overflows storage", Tensor{DType: F32, Shape: []int64{3, 2}, Strides: []int64{2, 3}, Data: data}, false},
		{"broadcast stride 0", Tensor{DType: F32, Shape: []int64{5, 6}, Strides: []int64{0, 1}, Data: data}, true},
		{"negative stride", Tensor{DType: F32, Shape: []int64{2}, Strides: []int64{-1}, Offset: 1, Data: data}, false},
		{"rank mismatch", Tensor{DType: F32, Shape: []int64{2}, Strides: []int64{1, 1}, Data: data}, false},
		{"negative offset", Tensor{DType: F32, Shape: []int64{1}, Offset: -1, Data: data}, false},
		{"unknown dtype", Tensor{DType: "X", Shape: []int64{1}, Data: data}, false},
		{"huge stride", Tensor{DType: U8, Shape: []int64{3}, Strides: []int64{1 << 62}, Data: data}, false},
		{"huge offset", Tensor{DType: U8, Shape: []int64{2}, Strides: []int64{1}, Offset: 1<<63 - 1, Data: data}, false},
		{"huge shape", Tensor{DType: F64, Shape: []int64{1 << 61}, Data: data}, false},
	}
	for _, c := range cases {
		err := c.t.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidTensor) {
			t.Errorf("%s: %v does not wrap ErrInvalidTensor", c.name, err)
		}
		if _, err := c.t.Contiguous(); (err == nil) != c.ok {
			t.Errorf("%s: Contiguous() = %v", c.name, err)
		}
	}
}

func TestIsContiguous(t *testing.T) {
	cases := []struct {
		shape, strides []int64
		want           bool
	}{
		{[]int64{2, 3}, nil, true},
		{[]int64{2, 3}, []int64{3, 1}, true},
		{[]int64{2, 3}, []int64{1, 2}, false},
		{[]int64{2, 1, 3}, []int64{3, 99, 1}, true},
		{[]int64{0, 3}, []int64{7, 7}, true},
		{[]int64{}, []int64{}, true},
		{[]int64{4}, []int64{2}, false},
	}
	for _, c := range cases {
		if got := (Tensor{Shape: c.shape, Strides: c.strides}).IsContiguous(); got != c.want {
			t.Errorf("IsContiguous(%v, %v) = %v", c.shape, c.strides, got)
		}
	}
	if s := ContiguousStrides([]int64{2, 1, 0, 3}); fmt.Sprint(s) != "[3 3 3 1]" {
		t.Errorf("ContiguousStrides = %v", s)
	}
}

func TestDType(t *testing.T) {
	sizes := map[DType]int{F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, "F8_E4M3": 0, "": 0}
	for d, s := range sizes {
		if d.Size() != s || d.Valid() != (s != 0) {
			t.Errorf("%q: Size %d Valid %v", d, d.Size(), d.Valid())
		}
	}
}

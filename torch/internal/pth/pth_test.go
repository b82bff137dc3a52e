package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/torch/internal/safetensors"

	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
)

var goldenFiles = []string{"dtypes.pt", "legacy.pt", "module.pt", "checkpoint.pt", "parameters.pt"}

func openGolden(t *testing.T, name string) *File {
	t.Helper()
	f, err := Open(filepath.Join(weighttest.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestGolden(t *testing.T) {
	formats := map[string]string{"legacy.pt": "legacy"}
	for _, name := range goldenFiles {
		t.Run(name, func(t *testing.T) {
			f := openGolden(t, name)
			weighttest.EachTensor(t, f, name, func(n string, tn Tensor, want weighttest.Expected) {
				if tn.Name != n {
					t.Errorf("Tensor(%q).Name = %q", n, tn.Name)
				}
				checkTensor(t, n, tn, want)
			})
			wantFormat := formats[name]
			if wantFormat == "" {
				wantFormat = "zip"
			}
			if f.Format() != wantFormat {
				t.Errorf("Format() = %q, want %q", f.Format(), wantFormat)
			}
			weighttest.CheckLookupAndClose(t, f)
			if len(f.Names()) != 0 {
				t.Error("names after Close")
			}
		})
	}
}

// TestViews checks strides, offsets and storage sharing against what torch reported.
func TestViews(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(weighttest.Dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		Views map[string]struct {
			Stride []int64 `json:"stride"`
			Offset int64   `json:"offset"`
		} `json:"_views"`
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dtypes.pt", "legacy.pt"} {
		t.Run(name, func(t *testing.T) {
			f := openGolden(t, name)
			for n, v := range all.Views {
				tn, ok := f.Tensor(n)
				if !ok {
					t.Fatalf("%s missing", n)
				}
				if !slices.Equal(tn.Strides, v.Stride) || tn.Offset != v.Offset {
					t.Errorf("%s: strides %v offset %d, want %v %d", n, tn.Strides, tn.Offset, v.Stride, v.Offset)
				}
			}
			full, _ := f.Tensor("shared_full")
			for _, n := range []string{"shared_row", "shared_cols", "shared_strided", "shared_flat"} {
				tn, _ := f.Tensor(n)
				if &tn.Data[0] != &full.Data[0] || len(tn.Data) != len(full.Data) {
					t.Errorf("%s does not share shared_full's storage", n)
				}
			}
			tr, _ := f.Tensor("transposed")
			if tr.IsContiguous() {
				t.Error("transposed reported contiguous")
			}
			if _, ok := tr.Bytes(); ok {
				t.Error("Bytes() of a transposed tensor")
			}
		})
	}
}

func TestHostileFiles(t *testing.T) {
	cases := map[string]string{
		"hostile_system.pt":      "os.system",
		"hostile_stackglobal.pt": "posix.system",
		"hostile_nested.pt":      "__builtin__.getattr",
		"hostile_legacy.pt":      "os.system",
	}
	for file, global := range cases {
		t.Run(file, func(t *testing.T) {
			_, err := Open(filepath.Join(weighttest.Dir, file))
			weighttest.CheckError(t, err, ErrForbiddenGlobal, file, "refusing to load global "+global)
		})
	}
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(weighttest.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTruncated(t *testing.T) {
	for _, name := range goldenFiles {
		full := readGolden(t, name)
		for cut := 0; cut < len(full); cut++ {
			_, err := parse(name, full[:cut])
			if err == nil {
				t.Fatalf("%s cut at %d of %d bytes parsed", name, cut, len(full))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s cut at %d: %v does not wrap ErrInvalid", name, cut, err)
			}
		}
	}
}

// TestCorrupt flips random bytes: the reader may accept or refuse, but never panics, and
// whatever it accepts is in bounds.
func TestCorrupt(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, name := range goldenFiles {
		full := readGolden(t, name)
		for i := 0; i < 1500; i++ {
			b := append([]byte(nil), full...)
			for k := 0; k < 1+rng.Intn(4); k++ {
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			}
			f, err := parse(name, b)
			if err != nil {
				continue
			}
			for _, n := range f.Names() {
				tn, _ := f.Tensor(n)
				if err := tn.Validate(); err != nil {
					t.Fatalf("%s: accepted an invalid tensor: %v", name, err)
				}
			}
		}
	}
}

// rezip rewrites a zip image with every entry compressed by method.
func rezip(t *testing.T, image []byte, method uint16, rename func(string) string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(image), int64(len(image)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, e := range zr.File {
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(rc)
		rc.Close()
		name := e.Name
		if rename != nil {
			name = rename(name)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestDeflatedAndRenamed(t *testing.T) {
	want := weighttest.LoadExpected(t, "dtypes.pt")
	full := readGolden(t, "dtypes.pt")
	for _, c := range []struct {
		name   string
		method uint16
		rename func(string) string
	}{
		{"deflate", zip.Deflate, nil},
		{"archive prefix", zip.Store, func(s string) string { return "archive" + strings.TrimPrefix(s, "dtypes") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := parse("x.pt", rezip(t, full, c.method, c.rename))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Names(), slices.Sorted(maps.Keys(want))) {
				t.Fatalf("names %v", f.Names())
			}
			for _, n := range f.Names() {
				tn, _ := f.Tensor(n)
				checkTensor(t, n, tn, want[n])
			}
		})
	}
}

// ---- hand-built pickles ----

func op(b ...byte) []byte { return b }

func ustr(s string) []byte {
	b := []byte{'X', 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[1:], uint32(len(s)))
	return append(b, s...)
}

func global(mod, name string) []byte { return []byte("c" + mod + "\n" + name + "\n") }

func int1(n int) []byte { return []byte{'K', byte(n)} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tupleOf builds MARK items TUPLE.
func tupleOf(items ...[]byte) []byte { return cat(op('('), cat(items...), op('t')) }

// tensorArgs pushes the argument tuple of _rebuild_tensor_v2 for a storage persistent id.
func tensorArgs(storageType, key string, numel int, offset int, shape, strides []int) []byte {
	ints := func(v []int) []byte {
		var parts [][]byte
		for _, x := range v {
			parts = append(parts, int1(x))
		}
		return tupleOf(parts...)
	}
	pid := tupleOf(ustr("storage"), global("torch", storageType), ustr(key), ustr("cpu"), int1(numel))
	return tupleOf(cat(pid, op('Q')), int1(offset), ints(shape), ints(strides), op(0x89),
		global("collections", "OrderedDict"), op(')', 'R'))
}

// tensorOps pushes _rebuild_tensor_v2 of a storage persistent id.
func tensorOps(storageType, key string, numel int, offset int, shape, strides []int) []byte {
	return cat(global("torch._utils", "_rebuild_tensor_v2"), tensorArgs(storageType, key, numel, offset, shape, strides), op('R'))
}

// fromTypeOps pushes torch._tensor._rebuild_from_type_v2(_rebuild_tensor_v2, cls, args, {}).
func fromTypeOps(clsMod, clsName string) []byte {
	return cat(global("torch._tensor", "_rebuild_from_type_v2"), tupleOf(global("torch._utils", "_rebuild_tensor_v2"),
		global(clsMod, clsName), tensorArgs("FloatStorage", "0", 4, 0, []int{4}, []int{1}), op('}')), op('R'))
}

// dictOps builds an OrderedDict from key/value opcode pairs.
func dictOps(kv ...[]byte) []byte {
	return cat(global("collections", "OrderedDict"), op(')', 'R'), op('('), cat(kv...), op('u'))
}

func pickle(body []byte) []byte { return cat(op(0x80, 2), body, op('.')) }

type record struct {
	name string
	data []byte
}

func zipOf(t *testing.T, recs ...record) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, r := range recs {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: r.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestHandBuiltArchives(t *testing.T) {
	f32x4 := make([]byte, 16)
	for i := 0; i < 4; i++ {
		binary.LittleEndian.PutUint32(f32x4[4*i:], uint32(0x3f800000+i)) // ≈1.0
	}
	good := pickle(dictOps(ustr("w"), tensorOps("FloatStorage", "0", 4, 0, []int{2, 2}, []int{2, 1})))
	okCases := []struct {
		name  string
		recs  []record
		names []string
	}{
		{"minimal", []record{{"a/data.pkl", good}, {"a/data/0", f32x4}}, []string{"w"}},
		{"byteorder little", []record{{"a/data.pkl", good}, {"a/byteorder", []byte("little")}, {"a/data/0", f32x4}}, []string{"w"}},
		{"bare tensor", []record{{"a/data.pkl", pickle(tensorOps("FloatStorage", "0", 4, 1, []int{3}, []int{1}))}, {"a/data/0", f32x4}}, []string{""}},
		{"list of tensors and junk", []record{{"a/data.pkl", pickle(cat(op(']', '('),
			tensorOps("FloatStorage", "0", 4, 0, []int{4}, []int{1}), op('N'), int1(3), ustr("s"),
			tensorOps("FloatStorage", "0", 4, 3, []int{}, []int{}), op('e')))}, {"a/data/0", f32x4}}, []string{"0", "4"}},
		{"int and odd keys", []record{{"a/data.pkl", pickle(cat(op('}', '('),
			int1(7), tensorOps("FloatStorage", "0", 4, 0, []int{1}, []int{1}),
			op('N'), tensorOps("FloatStorage", "0", 4, 0, []int{1}, []int{1}), op('u')))}, {"a/data/0", f32x4}}, []string{"7"}},
		{"parameter", []record{{"a/data.pkl", pickle(dictOps(ustr("p"), cat(global("torch._utils", "_rebuild_parameter"),
			tupleOf(tensorOps("FloatStorage", "0", 4, 0, []int{4}, []int{1}), op(0x88), dictOps()), op('R'))))}, {"a/data/0", f32x4}}, []string{"p"}},
		{"from_type_v2", []record{{"a/data.pkl", pickle(dictOps(ustr("t"), fromTypeOps("torch", "Tensor"),
			ustr("p"), fromTypeOps("torch.nn.parameter", "Parameter")))}, {"a/data/0", f32x4}}, []string{"p", "t"}},
		{"untyped storage", []record{{"a/data.pkl", pickle(dictOps(ustr("u"), tensorOps("UntypedStorage", "0", 16, 0, []int{4, 4}, []int{4, 1})))}, {"a/data/0", f32x4}}, []string{"u"}},
		{"zero-size storage", []record{{"a/data.pkl", pickle(dictOps(ustr("e"), tensorOps("FloatStorage", "0", 0, 0, []int{0, 3}, []int{3, 1})))}, {"a/data/0", nil}}, []string{"e"}},
		{"nested state_dict", []record{{"a/data.pkl", pickle(cat(op('}', '('), ustr("state_dict"),
			dictOps(ustr("w"), tensorOps("FloatStorage", "0", 4, 0, []int{2, 2}, []int{2, 1})), ustr("epoch"), int1(3), op('u')))},
			{"a/data/0", f32x4}}, []string{"state_dict.w"}},
	}
	for _, c := range okCases {
		t.Run(c.name, func(t *testing.T) {
			f, err := parse("ok.pt", zipOf(t, c.recs...))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Names(), c.names) {
				t.Errorf("names %q, want %q", f.Names(), c.names)
			}
		})
	}

	badCases := []struct {
		name string
		recs []record
		is   error
		want string
	}{
		{"no data.pkl", []record{{"a/version", []byte("3")}}, ErrInvalid, "data.pkl"},
		{"two prefixes", []record{{"a/data.pkl", good}, {"b/data.pkl", good}}, ErrInvalid, "several"},
		{"missing storage", []record{{"a/data.pkl", good}}, ErrInvalid, `"0"`},
		{"short storage", []record{{"a/data.pkl", good}, {"a/data/0", f32x4[:12]}}, ErrInvalid, "needs 16"},
		{"big endian", []record{{"a/data.pkl", good}, {"a/byteorder", []byte("big")}, {"a/data/0", f32x4}}, ErrUnsupported, "big-endian"},
		{"odd byteorder", []record{{"a/data.pkl", good}, {"a/byteorder", []byte("middle")}, {"a/data/0", f32x4}}, ErrInvalid, "byteorder"},
		{"torchscript", []record{{"a/data.pkl", good}, {"a/constants.pkl", good}, {"a/data/0", f32x4}}, ErrUnsupported, "TorchScript"},
		{"duplicate entry", []record{{"a/data.pkl", good}, {"a/data/0", f32x4}, {"a/data/0", f32x4}}, ErrInvalid, "duplicate"},
		{"tensor past storage", []record{{"a/data.pkl", pickle(dictOps(ustr("w"), tensorOps("FloatStorage", "0", 4, 1, []int{2, 2}, []int{2, 1})))},
			{"a/data/0", f32x4}}, ErrInvalid, `"w"`},
		{"transposed past storage", []record{{"a/data.pkl", pickle(dictOps(ustr("w"), tensorOps("FloatStorage", "0", 4, 0, []int{2, 3}, []int{1, 2})))},
			{"a/data/0", f32x4}}, safetensors.ErrInvalidTensor, `"w"`},
		{"storage type conflict", []record{{"a/data.pkl", pickle(dictOps(
			ustr("a"), tensorOps("FloatStorage", "0", 4, 0, []int{4}, []int{1}),
			ustr("b"), tensorOps("IntStorage", "0", 4, 0, []int{4}, []int{1})))}, {"a/data/0", f32x4}}, ErrInvalid, "IntStorage"},
		{"duplicate names", []record{{"a/data.pkl", pickle(cat(op('}', '('),
			ustr("a.b"), tensorOps("FloatStorage", "0", 4, 0, []int{1}, []int{1}),
			ustr("a"), dictOps(ustr("b"), tensorOps("FloatStorage", "0", 4, 0, []int{1}, []int{1})), op('u')))},
			{"a/data/0", f32x4}}, ErrInvalid, `"a.b"`},
		{"complex storage", []record{{"a/data.pkl", pickle(dictOps(ustr("c"), tensorOps("ComplexFloatStorage", "0", 2, 0, []int{2}, []int{1})))},
			{"a/data/0", f32x4}}, ErrUnsupported, "ComplexFloatStorage"},
		{"quantized rebuild", []record{{"a/data.pkl", pickle(cat(global("torch._utils", "_rebuild_qtensor"), op(')', 'R')))}}, ErrUnsupported, "_rebuild_qtensor"},
		{"from_type_v2 subclass", []record{{"a/data.pkl", pickle(fromTypeOps("__main__", "MyTensor"))}}, ErrForbiddenGlobal, "__main__.MyTensor"},
		{"from_type_v2 of a class", []record{{"a/data.pkl", pickle(cat(global("torch._tensor", "_rebuild_from_type_v2"),
			tupleOf(global("torch", "Tensor"), global("torch", "Tensor"), op(')', '}')), op('R')))}}, ErrInvalid, "not callable"},
		{"calling torch.Tensor", []record{{"a/data.pkl", pickle(cat(global("torch", "Tensor"), op(')', 'R')))}}, ErrInvalid, "not callable"},
		{"eval", []record{{"a/data.pkl", pickle(cat(global("builtins", "eval"), tupleOf(ustr("1")), op('R')))}}, ErrForbiddenGlobal, "builtins.eval"},
		{"numpy scalar", []record{{"a/data.pkl", pickle(cat(global("numpy.core.multiarray", "scalar"), op(')', 'R')))}}, ErrForbiddenGlobal, "numpy.core.multiarray.scalar"},
		{"stack global", []record{{"a/data.pkl", pickle(cat(op(0x8c, 2), []byte("os"), op(0x8c, 6), []byte("system"), op(0x93)))}}, ErrForbiddenGlobal, "os.system"},
		{"inst", []record{{"a/data.pkl", pickle(cat(op('('), []byte("isubprocess\nPopen\n")))}}, ErrForbiddenGlobal, "subprocess.Popen"},
		{"protocol 6", []record{{"a/data.pkl", cat(op(0x80, 6), op('N', '.'))}}, ErrUnsupported, "protocol"},
	}
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("bad.pt", zipOf(t, c.recs...))
			weighttest.CheckError(t, err, c.is, "bad.pt", c.want)
		})
	}
}

func TestUnpickleErrors(t *testing.T) {
	cases := []struct {
		name string
		pkl  []byte
		want string
	}{
		{"empty", nil, "end of data"},
		{"no stop", op(0x80, 2, 'N'), "end of data"},
		{"underflow", op('0', '.'), "underflow"},
		{"pop below mark", op('N', '(', '0', '.'), "underflow"},
		{"tuple without mark", op('N', 't', '.'), "MARK"},
		{"two values at stop", op('N', 'N', '.'), "STOP"},
		{"memo miss", op('h', 3, '.'), "memo"},
		{"long memo miss", op('j', 0xff, 0xff, 0xff, 0xff, '.'), "memo"},
		{"put on empty", op('q', 0, '.'), "underflow"},
		{"unknown opcode", op('I', '1', '\n', '.'), "opcode"},
		{"string past end", op('X', 0xff, 0xff, 0, 0, 'a', '.'), "exceeds"},
		{"unicode8 huge", op(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '.'), "exceeds"},
		{"long too long", cat(op(0x8b, 0, 0, 1, 0), make([]byte, 65536), op('.')), "integer"},
		{"append to dict", op('}', 'N', 'a', '.'), "APPEND"},
		{"setitem on list", op(']', 'N', 'N', 's', '.'), "SETITEM"},
		{"odd setitems", op('}', '(', 'N', 'u', '.'), "odd"},
		{"list key", op('}', ']', 'N', 's', '.'), "key"},
		{"reduce non-callable", op('N', ')', 'R', '.'), "REDUCE"},
		{"reduce with list args", cat(global("collections", "OrderedDict"), op(']', 'R', '.')), "REDUCE"},
		{"ordered dict with args", cat(global("collections", "OrderedDict"), tupleOf(int1(1)), op('R', '.')), "OrderedDict"},
		{"rebuild bad arity", cat(global("torch._utils", "_rebuild_tensor_v2"), op(')', 'R', '.')), "arguments"},
		{"rebuild non storage", cat(global("torch._utils", "_rebuild_tensor_v2"), tupleOf(op('N'), int1(0), op(')', ')', 0x89, 'N')), op('R', '.')), "storage"},
		{"build on int", op('K', 1, 'N', 'b', '.'), "BUILD"},
		{"newobj of int", op('K', 1, ')', 0x81, '.'), "NEWOBJ"},
		{"persid not a tuple", op('N', 'Q', '.'), "persistent id"},
		{"persid wrong tag", cat(tupleOf(ustr("module"), global("torch", "FloatStorage"), ustr("0"), ustr("cpu"), int1(1)), op('Q', '.')), "storage"},
		{"persid bad type", cat(tupleOf(ustr("storage"), global("collections", "OrderedDict"), ustr("0"), ustr("cpu"), int1(1)), op('Q', '.')), "storage type"},
		{"persid negative numel", cat(tupleOf(ustr("storage"), global("torch", "FloatStorage"), ustr("0"), ustr("cpu"), op('J', 0xff, 0xff, 0xff, 0xff)), op('Q', '.')), "element count"},
		{"persid huge numel", cat(tupleOf(ustr("storage"), global("torch", "DoubleStorage"), ustr("0"), ustr("cpu"), op(0x8a, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)), op('Q', '.')), "overflow"},
		{"global without newline", []byte("cos\nsystem"), "unterminated"},
		{"stack global of ints", op('K', 1, 'K', 2, 0x93, '.'), "STACK_GLOBAL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newStorageTable()
			u := newUnpickler(c.pkl, 0, func(pid any) (any, error) { return st.load(pid, false) })
			_, err := u.load()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("%v wraps neither ErrInvalid nor ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestUnpickleValues(t *testing.T) {
	pkl := cat(op(0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0), op('('),
		op('J', 0xfe, 0xff, 0xff, 0xff),        // BININT -2
		op('M', 0x34, 0x12),                    // BININT2 0x1234
		op(0x8a, 0),                            // LONG1 0
		op(0x8a, 2, 0xff, 0x7f),                // LONG1 32767
		op(0x8a, 1, 0x80),                      // LONG1 -128
		op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1), // LONG1 2^64
		op('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0),  // BINFLOAT 1.5
		op('U', 2), []byte("hi"),               // SHORT_BINSTRING
		op('C', 2, 1, 2), // SHORT_BINBYTES
		op(0x88, 0x89, 'N'),
		op('K', 9, 0x94, '0', 'h', 0), // MEMOIZE, POP, BINGET
		op('K', 5, '2', 0x86),         // DUP, TUPLE2
		op('l', '.'))
	v, err := newUnpickler(pkl, 0, nil).load()
	if err != nil {
		t.Fatal(err)
	}
	l, ok := v.(*pyList)
	if !ok {
		t.Fatalf("got %#v", v)
	}
	got := fmt.Sprintf("%v", l.items)
	want := "[-2 4660 0 32767 -128 18446744073709551616 1.5 hi [1 2] true false {} 9 [5 5]]"
	if got != want {
		t.Errorf("values\n %s\nwant\n %s", got, want)
	}
}

func TestFlattenLimits(t *testing.T) {
	f32x4 := make([]byte, 16)
	// A dict that contains itself.
	cyc := pickle(cat(op('}', 'q', 0, '('), ustr("self"), op('h', 0), op('u')))
	if _, err := parse("c.pt", zipOf(t, record{"a/data.pkl", cyc})); err == nil || !strings.Contains(err.Error(), "contains itself") {
		t.Errorf("cycle: %v", err)
	}
	// Exponential sharing: each level is a list of 16 references to the level below.
	body := cat(op(']'), tensorOps("FloatStorage", "0", 4, 0, []int{1}, []int{1}), op('a', 'q', 0))
	for lvl := 0; lvl < 8; lvl++ {
		body = cat(body, op('0', ']', '('))
		for i := 0; i < 16; i++ {
			body = cat(body, op('h', byte(lvl)))
		}
		body = cat(body, op('e', 'q', byte(lvl+1)))
	}
	_, err := parse("exp.pt", zipOf(t, record{"a/data.pkl", pickle(body)}, record{"a/data/0", f32x4}))
	if err == nil || !strings.Contains(err.Error(), "nodes") {
		t.Errorf("exponential graph: %v", err)
	}
	// Deep nesting.
	deep := bytes.Repeat(op(']'), 300)
	deep = cat(deep, bytes.Repeat(op('a'), 299))
	if _, err := parse("deep.pt", zipOf(t, record{"a/data.pkl", pickle(deep)})); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestLegacyErrors(t *testing.T) {
	full := readGolden(t, "legacy.pt")
	// Locate the end of the sys_info pickle: the third STOP.
	magicPkl := cat(op(0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'))
	version := op(0x80, 2, 'M', 0xe9, 0x03, '.')
	sysInfo := func(le byte) []byte {
		return cat(op(0x80, 2, '}', '('), ustr("little_endian"), op(le), op('u', '.'))
	}
	emptyList := op(0x80, 2, ']', '.')
	cases := []struct {
		name  string
		image []byte
		is    error
		want  string
	}{
		{"bad magic", cat(op(0x80, 2, 'K', 1, '.'), version), ErrInvalid, "magic"},
		{"bad version", cat(magicPkl, op(0x80, 2, 'K', 1, '.')), ErrUnsupported, "version"},
		{"big endian", cat(magicPkl, version, sysInfo(0x89), op(0x80, 2, 'N', '.'), emptyList), ErrUnsupported, "big-endian"},
		{"keys not a list", cat(magicPkl, version, sysInfo(0x88), op(0x80, 2, 'N', '.'), op(0x80, 2, 'N', '.')), ErrInvalid, "storage keys"},
		{"unused key", cat(magicPkl, version, sysInfo(0x88), op(0x80, 2, 'N', '.'), op(0x80, 2, ']', '('), ustr("k"), op('e', '.')), ErrInvalid, `"k"`},
		{"tar", func() []byte { b := make([]byte, 600); copy(b[257:], "ustar"); return b }(), ErrUnsupported, "tar"},
		{"garbage", []byte("hello world"), ErrInvalid, "neither"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("l.pt", c.image)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %v mentioning %q", err, c.is, c.want)
			}
		})
	}
	// Wrong element count in front of the first storage.
	pos := 0
	for i := 0; i < 5; i++ { // magic, version, sys_info, data, keys
		st := newStorageTable()
		u := newUnpickler(full, pos, func(pid any) (any, error) { return st.load(pid, true) })
		if _, err := u.load(); err != nil {
			t.Fatal(err)
		}
		pos = u.pos
	}
	c := append([]byte(nil), full...)
	binary.LittleEndian.PutUint64(c[pos:], binary.LittleEndian.Uint64(c[pos:])+1)
	if _, err := parse("l.pt", c); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "on disk") {
		t.Errorf("wrong count: %v", err)
	}
}

// TestToSafetensors converts every pth golden to safetensors with the writer and reads it
// back: strided views come out gathered, values unchanged.
func TestToSafetensors(t *testing.T) {
	for _, name := range goldenFiles {
		f := openGolden(t, name)
		ts := weighttest.Listed(f)
		out := filepath.Join(t.TempDir(), "x.safetensors")
		if err := safetensors.Write(out, ts, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
		sf, err := safetensors.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		want := weighttest.LoadExpected(t, name)
		for _, n := range sf.Names() {
			tn, _ := sf.Tensor(n)
			checkTensor(t, name+":"+n, tn, want[n])
		}
		sf.Close()
	}
}

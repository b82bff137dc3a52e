// Package pth reads PyTorch torch.save files (.pth, .pt, .bin) in pure Go, without Python
// and without libtorch, and hands out raw tensor views (safetensors.Tensor) into the
// memory-mapped file.
//
// Two layouts are understood:
//
//   - the zip archive written by torch ≥ 1.6: <prefix>/data.pkl, <prefix>/data/<key> (one
//     entry per storage), <prefix>/version and maybe <prefix>/byteorder. Stored (not
//     deflated) storage entries are sliced straight out of the mapping; deflated ones are
//     inflated into memory.
//   - the legacy stream written with _use_new_zipfile_serialization=False (and by torch
//     < 1.6): magic-number, protocol and sys_info pickles, the data pickle, the list of
//     storage keys, then each storage's raw bytes after an 8-byte element count.
//
// The very old tar layout (torch < 0.4) and TorchScript archives are refused with
// ErrUnsupported. Only little-endian files are read.
//
// data.pkl is run by a restricted unpickler that imports and calls nothing. It accepts only
// the globals a state dict needs: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state,
// torch._tensor._rebuild_from_type_v2 (only to rebuild a torch.Tensor or
// torch.nn.parameter.Parameter, whose Python attributes are dropped), and the storage
// classes torch.{Double,Float,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage and
// torch.UntypedStorage. Any other global fails the whole file with an error that
// wraps ErrForbiddenGlobal (for example "refusing to load global os.system"), or
// ErrUnsupported for tensor kinds that the reader cannot represent (complex, quantized,
// sparse, …).
//
// The unpickled object is flattened into named tensors: nested dicts (and lists or tuples)
// are walked, and each tensor is named by the keys on its path joined with dots, so a
// checkpoint {"model": {"fc.weight": t}, "epoch": 3} yields the single tensor
// "model.fc.weight". Integer dict keys and list positions become decimal names. Values
// that are not tensors (numbers, strings, None, bare storages, …) are skipped silently and
// reported nowhere. A file that is a bare tensor yields one tensor named "".
package pth

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/prsmed/prsmed-go/torch/internal/safetensors"
)

// Tensor is the raw tensor view shared with the safetensors reader. For a pth file, Data
// is the whole storage (shared by every tensor that views it) and Offset and Strides are
// as saved; a non-contiguous tensor is meant to be rebuilt with as_strided.
type Tensor = safetensors.Tensor

// DType is the element type, spelled as in safetensors.
type DType = safetensors.DType

// Element types, re-exported for convenience.
const (
	F64  = safetensors.F64
	F32  = safetensors.F32
	F16  = safetensors.F16
	BF16 = safetensors.BF16
	I64  = safetensors.I64
	I32  = safetensors.I32
	I16  = safetensors.I16
	I8   = safetensors.I8
	U8   = safetensors.U8
	BOOL = safetensors.BOOL
)

var (
	// ErrForbiddenGlobal is wrapped by the error for a pickle that names a global outside
	// the allowlist (such as os.system or builtins.eval).
	ErrForbiddenGlobal = errors.New("refusing to load global")
	// ErrUnsupported is wrapped by the errors for files that are well-formed but of a kind
	// this reader does not handle: legacy tar files, TorchScript archives, big-endian
	// files, complex or quantized tensors, pickle protocols above 5.
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalid is wrapped by the errors for malformed or truncated files.
	ErrInvalid = errors.New("invalid PyTorch file")
)

var _ safetensors.Reader = (*File)(nil)

// File is an open PyTorch weight file.
//
// Its methods may be called concurrently, except Close. After Close, the Data of every
// Tensor obtained from the file refers to unmapped memory and must not be touched.
type File struct {
	path    string
	format  string
	unmap   func() error
	tensors map[string]Tensor
	names   []string
}

// Open memory-maps path, parses it and validates every tensor against its storage.
// Errors name the file and, where one is to blame, the tensor or storage key.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	defer fh.Close() // the mapping outlives the descriptor
	data, unmap, err := safetensors.MapFile(fh)
	if err != nil {
		return nil, fmt.Errorf("pth: %s: %w", path, err)
	}
	f, err := parse(path, data)
	if err != nil {
		_ = unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// parse reads a whole file image.
func parse(path string, data []byte) (*File, error) {
	var (
		format string
		root   any
		st     *storageTable
		err    error
	)
	switch {
	case len(data) >= 4 && string(data[:2]) == "PK" && (data[2] == 3 && data[3] == 4 || data[2] == 5 && data[3] == 6):
		format = "zip"
		root, st, err = readZip(data)
	case isTar(data):
		err = fmt.Errorf("%w: legacy tar format (torch < 0.4); re-save it with a newer torch", ErrUnsupported)
	case len(data) >= 2 && data[0] == 0x80:
		format = "legacy"
		root, st, err = readLegacy(data)
	default:
		err = fmt.Errorf("%w: neither a zip archive nor a legacy pickle stream", ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("pth: %s: %w", path, err)
	}
	tensors, err := flatten(root, st)
	if err != nil {
		return nil, fmt.Errorf("pth: %s: %w", path, err)
	}
	f := &File{path: path, format: format, tensors: tensors, names: make([]string, 0, len(tensors))}
	for name := range tensors {
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	return f, nil
}

// isTar recognises a POSIX tar header ("ustar" at offset 257).
func isTar(data []byte) bool {
	return len(data) >= 262 && string(data[257:262]) == "ustar"
}

// Path is the file name given to Open.
func (f *File) Path() string { return f.path }

// Format is "zip" or "legacy".
func (f *File) Format() string { return f.format }

// Names lists the flattened tensor names in sorted order (a fresh slice).
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Tensor returns the named tensor. Its Data is the whole storage; use Offset and Strides
// (always set, in elements) to address elements. ok is false for an unknown name or a
// closed file.
func (f *File) Tensor(name string) (t Tensor, ok bool) {
	t, ok = f.tensors[name]
	if !ok {
		return Tensor{}, false
	}
	t.Shape = append([]int64{}, t.Shape...)
	t.Strides = append([]int64{}, t.Strides...)
	return t, true
}

// Close unmaps the file; tensors obtained earlier become invalid. Calling it again does
// nothing.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.tensors = nil
	f.names = nil
	if err != nil {
		return fmt.Errorf("pth: %s: munmap: %w", f.path, err)
	}
	return nil
}

// storageTable collects the storages named by persistent ids while unpickling; their
// bytes are attached afterwards (legacy files store them after the pickle).
type storageTable struct {
	roots map[string]*rootStorage // key → root storage
	views map[string]*storageRef  // key → storage (legacy views have their own keys)
	order []string                // root keys in first-seen order
}

type rootStorage struct {
	dtype    DType
	typeName string
	numel    int64
	data     []byte // set once located; len == numel × dtype size
	located  bool
}

func newStorageTable() *storageTable {
	return &storageTable{roots: map[string]*rootStorage{}, views: map[string]*storageRef{}}
}

// asString accepts str, or bytes as Python 2 files may hold.
func asString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// load is the persistent_load of both layouts:
// ('storage', storage_type, key, location, numel) for zip files, with a sixth element
// view_metadata (None or (view_key, offset, view_size)) in legacy files.
func (st *storageTable) load(pid any, legacy bool) (any, error) {
	t, ok := pid.(pyTuple)
	want := 5
	if legacy {
		want = 6
	}
	if !ok || len(t) != want {
		return nil, fmt.Errorf("%w: persistent id %s of %d elements, want a tuple of %d", errPickle, typeName(pid), len(t), want)
	}
	if tag, _ := asString(t[0]); tag != "storage" {
		return nil, fmt.Errorf("%w: persistent id of kind %v, want 'storage'", errPickle, t[0])
	}
	g, ok := t[1].(*pyGlobal)
	if !ok || g.kind != globalStorage {
		return nil, fmt.Errorf("%w: persistent id storage type is a %s", errPickle, typeName(t[1]))
	}
	key, ok := asString(t[2])
	if !ok {
		return nil, fmt.Errorf("%w: storage key is a %s", errPickle, typeName(t[2]))
	}
	if _, ok := asString(t[3]); !ok {
		return nil, fmt.Errorf("%w: storage %q: location is a %s", errPickle, key, typeName(t[3]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, fmt.Errorf("%w: storage %q: element count %v", errPickle, key, t[4])
	}
	if _, ok := mulNonNeg(numel, int64(g.dtype.Size())); !ok {
		return nil, fmt.Errorf("%w: storage %q: %d elements overflow", errPickle, key, numel)
	}
	root, ok := st.roots[key]
	if !ok {
		if len(st.roots) >= maxMemo {
			return nil, fmt.Errorf("%w: more than %d storages", errPickle, maxMemo)
		}
		root = &rootStorage{dtype: g.dtype, typeName: g.name, numel: numel}
		st.roots[key] = root
		st.order = append(st.order, key)
	} else if root.dtype != g.dtype || root.numel != numel {
		return nil, fmt.Errorf("%w: storage %q is named as %s of %d elements and as %s of %d",
			ErrInvalid, key, root.typeName, root.numel, g.name, numel)
	}
	ref := &storageRef{key: key, dtype: g.dtype, typeName: g.name, numel: numel, viewNumel: -1}
	if legacy {
		if vm, ok := t[5].(pyTuple); ok {
			if len(vm) != 3 {
				return nil, fmt.Errorf("%w: storage %q: view metadata of %d elements", errPickle, key, len(vm))
			}
			viewKey, ok1 := asString(vm[0])
			off, ok2 := vm[1].(int64)
			size, ok3 := vm[2].(int64)
			if !ok1 || !ok2 || !ok3 || off < 0 || size < 0 || off > numel || size > numel-off {
				return nil, fmt.Errorf("%w: storage %q: bad view metadata %v", ErrInvalid, key, vm)
			}
			if v, ok := st.views[viewKey]; ok {
				return v, nil
			}
			ref.viewOffset, ref.viewNumel = off, size
			st.views[viewKey] = ref
			return ref, nil
		} else if _, ok := t[5].(pyNone); !ok {
			return nil, fmt.Errorf("%w: storage %q: view metadata is a %s", errPickle, key, typeName(t[5]))
		}
	}
	return ref, nil
}

func mulNonNeg(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	if a != 0 && b > (1<<63-1)/a {
		return 0, false
	}
	return a * b, true
}

// Limits on flattening: the object graph can share values through the memo, so a small
// pickle could otherwise describe exponentially many paths.
const (
	maxVisits    = 1 << 20
	maxDepth     = 256
	maxNameBytes = 64 << 20
)

type flattener struct {
	st        *storageTable
	out       map[string]Tensor
	visits    int
	nameBytes int
	active    map[any]bool // containers on the current path (cycle check)
}

// flatten walks the unpickled object and returns its tensors, named by dotted paths,
// each validated against its storage.
func flatten(root any, st *storageTable) (map[string]Tensor, error) {
	fl := &flattener{st: st, out: map[string]Tensor{}, active: map[any]bool{}}
	if err := fl.walk(root, "", 0); err != nil {
		return nil, err
	}
	return fl.out, nil
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func (fl *flattener) walk(v any, name string, depth int) error {
	fl.visits++
	if fl.visits > maxVisits {
		return fmt.Errorf("%w: object graph has more than %d nodes", ErrInvalid, maxVisits)
	}
	if depth > maxDepth {
		return fmt.Errorf("%w: %q: nesting deeper than %d", ErrInvalid, name, maxDepth)
	}
	switch x := v.(type) {
	case *tensorRef:
		return fl.add(name, x)
	case *pyDict:
		if fl.active[x] {
			return fmt.Errorf("%w: %q: the dict contains itself", ErrInvalid, name)
		}
		fl.active[x] = true
		defer delete(fl.active, x)
		for i, k := range x.keys {
			var ks string
			switch k := k.(type) {
			case string:
				ks = k
			case int64:
				ks = strconv.FormatInt(k, 10)
			default:
				continue // keys that cannot make a name: skipped with their values
			}
			child := join(name, ks)
			fl.nameBytes += len(child)
			if fl.nameBytes > maxNameBytes {
				return fmt.Errorf("%w: tensor names longer than %d bytes in all", ErrInvalid, maxNameBytes)
			}
			if err := fl.walk(x.vals[i], child, depth+1); err != nil {
				return err
			}
		}
	case *pyList:
		if fl.active[x] {
			return fmt.Errorf("%w: %q: the list contains itself", ErrInvalid, name)
		}
		fl.active[x] = true
		defer delete(fl.active, x)
		return fl.walkSeq(x.items, name, depth)
	case pyTuple:
		return fl.walkSeq(x, name, depth)
	}
	return nil // not a tensor: skipped
}

func (fl *flattener) walkSeq(items []any, name string, depth int) error {
	for i, it := range items {
		child := join(name, strconv.Itoa(i))
		fl.nameBytes += len(child)
		if fl.nameBytes > maxNameBytes {
			return fmt.Errorf("%w: tensor names longer than %d bytes in all", ErrInvalid, maxNameBytes)
		}
		if err := fl.walk(it, child, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (fl *flattener) add(name string, t *tensorRef) error {
	if _, dup := fl.out[name]; dup {
		return fmt.Errorf("%w: two tensors are named %q", ErrInvalid, name)
	}
	ref := t.storage
	root := fl.st.roots[ref.key]
	if root == nil || !root.located {
		return fmt.Errorf("%w: tensor %q: storage %q has no data", ErrInvalid, name, ref.key)
	}
	data := root.data
	if ref.viewNumel >= 0 {
		size := int64(ref.dtype.Size())
		data = data[ref.viewOffset*size : (ref.viewOffset+ref.viewNumel)*size]
	}
	out := Tensor{
		Name:    name,
		DType:   ref.dtype,
		Shape:   t.shape,
		Strides: t.strides,
		Offset:  t.offset,
		Data:    data,
	}
	if err := out.Validate(); err != nil {
		return fmt.Errorf("%w: storage %q: %w", ErrInvalid, ref.key, err)
	}
	fl.out[name] = out
	return nil
}

// Package safetensors reads and writes the Hugging Face safetensors format in pure Go.
//
// A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON (tensor name →
// {"dtype", "shape", "data_offsets": [begin, end)}, plus an optional "__metadata__" map of
// strings), then the data section: every tensor's row-major little-endian bytes, packed
// without gaps. Open memory-maps a file and hands out Tensor views into the mapping;
// OpenIndex does the same over a sharded checkpoint described by a *.safetensors.index.json.
//
// The Tensor and DType types defined here are shared with the PyTorch (.pth) reader in
// torch/internal/pth.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header accepted (100 MB, as the reference reader).
const MaxHeaderSize = 100_000_000

// ErrInvalid is wrapped by every error about a malformed file or index.
var ErrInvalid = errors.New("invalid safetensors data")

// Reader is what File, Index and the PyTorch reader's File have in common: named tensors
// backed by open, memory-mapped files.
type Reader interface {
	// Names lists the tensor names, sorted.
	Names() []string
	// Tensor returns the named tensor; ok is false when there is none.
	Tensor(name string) (t Tensor, ok bool)
	// Close releases the mapping; tensors obtained earlier become invalid.
	Close() error
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Index)(nil)
)

// File is an open, memory-mapped safetensors file.
//
// Its methods may be called from several goroutines at once, except Close. After Close,
// the Data of every Tensor obtained from the file refers to unmapped memory and must not
// be touched (doing so faults). Likewise, truncating the file on disk while it is mapped
// makes reads of the lost pages fault (SIGBUS).
type File struct {
	path     string
	data     []byte
	unmap    func() error
	tensors  map[string]Tensor
	names    []string
	metadata map[string]string
}

// Open memory-maps path read-only and parses and validates its header. Errors name the
// file and, where one is to blame, the tensor; malformed content wraps ErrInvalid.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close() // the mapping outlives the descriptor
	data, unmap, err := MapFile(fh)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	f, err := parse(path, data)
	if err != nil {
		_ = unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Path is the file name given to Open.
func (f *File) Path() string { return f.path }

// Names lists the tensor names in sorted order (a fresh slice).
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Tensor returns the named tensor: Data is exactly its bytes (a slice of the mapping),
// Offset is 0 and Strides are contiguous. ok is false for an unknown name or a closed file.
func (f *File) Tensor(name string) (t Tensor, ok bool) {
	t, ok = f.tensors[name]
	if !ok {
		return Tensor{}, false
	}
	t.Shape = append([]int64{}, t.Shape...)
	t.Strides = append([]int64{}, t.Strides...)
	return t, true
}

// Metadata returns a copy of the "__metadata__" map (nil when the file has none).
func (f *File) Metadata() map[string]string { return copyMap(f.metadata) }

// Close unmaps the file. Tensors obtained earlier become invalid. Calling Close again
// does nothing.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.data = nil
	f.tensors = nil
	f.names = nil
	if err != nil {
		return fmt.Errorf("safetensors: %s: munmap: %w", f.path, err)
	}
	return nil
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// headerEntry is one tensor's description in the JSON header. Pointers tell a missing
// field from a zero one; unknown fields are ignored as by the reference reader.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parse validates the whole file image: header length, JSON, dtypes, shapes, offsets.
func parse(path string, data []byte) (*File, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: %w: %s", path, ErrInvalid, fmt.Sprintf(format, args...))
	}
	if len(data) < 8 {
		return nil, bad("file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > MaxHeaderSize {
		return nil, bad("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, bad("header length %d exceeds the %d bytes after the length field", n, len(data)-8)
	}
	header := data[8 : 8+n]
	if len(header) == 0 || header[0] != '{' {
		return nil, bad("header does not start with '{'")
	}
	if !utf8.Valid(header) {
		return nil, bad("header is not valid UTF-8")
	}
	if !json.Valid(header) {
		return nil, bad("header is not valid JSON")
	}
	dataSection := data[8+n:]

	f := &File{path: path, data: data, tensors: map[string]Tensor{}}
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span

	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil { // '{', checked above
		return nil, bad("header: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, bad("header: unexpected token %v", tok)
		}
		if seen[key] {
			return nil, bad("duplicate key %q in header", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			var md map[string]string
			if err := dec.Decode(&md); err != nil {
				return nil, bad("__metadata__ must map strings to strings: %v", err)
			}
			f.metadata = md
			continue
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return nil, bad("tensor %q: %v", key, err)
		}
		if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
			return nil, bad("tensor %q: needs dtype, shape and data_offsets", key)
		}
		dt := DType(*e.DType)
		if !dt.Valid() {
			return nil, bad("tensor %q: unknown dtype %q", key, *e.DType)
		}
		shape := *e.Shape
		if shape == nil {
			shape = []int64{}
		}
		numel := NumElements(shape)
		if numel < 0 {
			return nil, bad("tensor %q: shape %v has a negative dimension or overflows", key, shape)
		}
		nbytes, ok := mulInt64(numel, int64(dt.Size()))
		if !ok {
			return nil, bad("tensor %q: shape %v overflows the byte count", key, shape)
		}
		offs := *e.DataOffsets
		if len(offs) != 2 {
			return nil, bad("tensor %q: data_offsets must have 2 entries, has %d", key, len(offs))
		}
		begin, end := offs[0], offs[1]
		if begin < 0 || end < begin || end > int64(len(dataSection)) {
			return nil, bad("tensor %q: data_offsets [%d, %d) outside the data section of %d bytes", key, begin, end, len(dataSection))
		}
		if end-begin != nbytes {
			return nil, bad("tensor %q: data_offsets [%d, %d) hold %d bytes, dtype %s × shape %v needs %d",
				key, begin, end, end-begin, dt, shape, nbytes)
		}
		f.tensors[key] = Tensor{
			Name:    key,
			DType:   dt,
			Shape:   shape,
			Strides: ContiguousStrides(shape),
			Data:    dataSection[begin:end:end],
		}
		spans = append(spans, span{key, begin, end})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, bad("header: %v", err)
	}

	// The tensors must tile the data section exactly: no overlap, no gap, nothing after.
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	pos := int64(0)
	for _, s := range spans {
		switch {
		case s.begin < pos:
			return nil, bad("tensor %q: data_offsets [%d, %d) overlap the previous tensor (ending at %d)", s.name, s.begin, s.end, pos)
		case s.begin > pos:
			return nil, bad("tensor %q: data_offsets [%d, %d) leave a gap after byte %d", s.name, s.begin, s.end, pos)
		}
		pos = s.end
	}
	if pos != int64(len(dataSection)) {
		return nil, bad("tensors cover %d bytes of a %d-byte data section", pos, len(dataSection))
	}

	f.names = make([]string, 0, len(f.tensors))
	for name := range f.tensors {
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	return f, nil
}

// readAllLimit reads r up to limit bytes; more is an error.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
)

// Write stores tensors and metadata as a safetensors file at path.
//
// Each tensor must pass Validate; strided tensors (and tensors with an Offset into a larger
// storage, as the pth reader returns) are written in row-major order. The header is
// compact JSON with keys sorted, padded with spaces so the data section starts at a
// multiple of 8; tensors are packed in order of decreasing element size, then name (as
// the reference writer does). metadata may be nil.
//
// The file appears atomically: it is written to a temporary file in the same directory,
// synced, and renamed over path.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	for _, t := range tensors {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("safetensors: write %s: %w", path, err)
		}
	}
	return WriteFunc(path, tensors, metadata, writeElements)
}

// WriteFunc is Write for data that is produced on the fly, so that a large set of
// tensors need not be held in memory twice. Only Name, DType and Shape of each tensor are
// used for the header; fill is then called once per tensor, in file order, with the
// caller's Tensor value, and must write exactly its byte count (elements × dtype size,
// little-endian, row-major) to w. An error from fill aborts the write and leaves no file.
func WriteFunc(path string, tensors []Tensor, metadata map[string]string, fill func(t Tensor, w io.Writer) error) error {
	fail := func(err error) error { return fmt.Errorf("safetensors: write %s: %w", path, err) }

	type item struct {
		t      Tensor
		nbytes int64
	}
	items := make([]item, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if t.Name == "__metadata__" {
			return fail(errors.New(`"__metadata__" cannot name a tensor`))
		}
		if seen[t.Name] {
			return fail(fmt.Errorf("duplicate tensor name %q", t.Name))
		}
		seen[t.Name] = true
		if !t.DType.Valid() {
			return fail(fmt.Errorf("tensor %q: unknown dtype %q", t.Name, string(t.DType)))
		}
		n := NumElements(t.Shape)
		if n < 0 {
			return fail(fmt.Errorf("tensor %q: invalid shape %v", t.Name, t.Shape))
		}
		nb, ok := mulInt64(n, int64(t.DType.Size()))
		if !ok {
			return fail(fmt.Errorf("tensor %q: shape %v overflows the byte count", t.Name, t.Shape))
		}
		items[i] = item{t, nb}
	}
	sort.SliceStable(items, func(i, j int) bool {
		si, sj := items[i].t.DType.Size(), items[j].t.DType.Size()
		if si != sj {
			return si > sj
		}
		return items[i].t.Name < items[j].t.Name
	})

	type entry struct {
		DType       DType    `json:"dtype"`
		Shape       []int64  `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	header := make(map[string]any, len(items)+1)
	if metadata != nil {
		header["__metadata__"] = metadata
	}
	off := int64(0)
	for _, it := range items {
		shape := it.t.Shape
		if shape == nil {
			shape = []int64{}
		}
		end, ok := addInt64(off, it.nbytes)
		if !ok {
			return fail(errors.New("total size overflows int64"))
		}
		header[it.t.Name] = entry{it.t.DType, shape, [2]int64{off, end}}
		off = end
	}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return fail(err)
	}
	hb.Truncate(hb.Len() - 1) // Encode's newline
	for (8+hb.Len())%8 != 0 {
		hb.WriteByte(' ')
	}
	if hb.Len() > MaxHeaderSize {
		return fail(fmt.Errorf("header of %d bytes exceeds the limit of %d", hb.Len(), MaxHeaderSize))
	}

	return writeAtomic(path, func(w io.Writer) error {
		var lenField [8]byte
		binary.LittleEndian.PutUint64(lenField[:], uint64(hb.Len()))
		if _, err := w.Write(lenField[:]); err != nil {
			return err
		}
		if _, err := w.Write(hb.Bytes()); err != nil {
			return err
		}
		for _, it := range items {
			cw := &countingWriter{w: w}
			if err := fill(it.t, cw); err != nil {
				return fmt.Errorf("tensor %q: %w", it.t.Name, err)
			}
			if cw.err != nil {
				return fmt.Errorf("tensor %q: %w", it.t.Name, cw.err)
			}
			if cw.n != it.nbytes {
				return fmt.Errorf("tensor %q: fill wrote %d bytes, want %d", it.t.Name, cw.n, it.nbytes)
			}
		}
		return nil
	})
}

// writeElements writes a validated tensor's elements in row-major order.
func writeElements(t Tensor, w io.Writer) error {
	if b, ok := t.Bytes(); ok {
		_, err := w.Write(b)
		return err
	}
	size := int64(t.DType.Size())
	var err error
	forEachRun(t.Shape, t.strides(), t.Offset, func(elem, count int64) {
		if err == nil {
			_, err = w.Write(t.Data[elem*size : (elem+count)*size])
		}
	})
	return err
}

// countingWriter counts the bytes written through it and keeps the first error.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// writeAtomic writes path through body with atomicfile.WriteFunc, naming the file in errors.
func writeAtomic(path string, body func(w io.Writer) error) error {
	if err := atomicfile.WriteFunc(path, body); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}

package torch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prsmed/prsmed-go/torch/internal/pth"
	"github.com/prsmed/prsmed-go/torch/internal/safetensors"
)

// ErrWeightFile is wrapped by the errors of reading weight files.
var ErrWeightFile = errors.New("torch: bad weight file")

// TensorInfo describes a tensor in a weight file without loading it.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
	File  string // the file (shard) that holds it
}

// WeightFile is an open weight file: safetensors, a sharded checkpoint's index
// (`*.safetensors.index.json` or `pytorch_model.bin.index.json`), or a `torch.save` state
// dict (`.pth`, `.pt`, `.bin`, `.ckpt`). Files are memory-mapped: a tensor is copied once,
// from the mapping into its libtorch storage, when it is loaded.
type WeightFile struct {
	path   string
	names  []string
	where  map[string]rawSource
	meta   map[string]string
	closer []func() error
}

type rawSource interface {
	Tensor(name string) (safetensors.Tensor, bool)
}

var stDTypes = map[safetensors.DType]DType{
	safetensors.F64: Float64, safetensors.F32: Float32, safetensors.F16: Float16, safetensors.BF16: BFloat16,
	safetensors.I64: Int64, safetensors.I32: Int32, safetensors.I16: Int16, safetensors.I8: Int8,
	safetensors.U8: Uint8, safetensors.BOOL: Bool,
}

func stDType(d DType) (safetensors.DType, bool) {
	for k, v := range stDTypes {
		if v == d {
			return k, true
		}
	}
	return "", false
}

// OpenWeights opens a weight file; the format follows the name (an `.index.json` opens
// every shard it lists; `.safetensors`; anything else is read as a torch.save file).
func OpenWeights(path string) (*WeightFile, error) {
	w := &WeightFile{path: path, where: map[string]rawSource{}, meta: map[string]string{}}
	if strings.HasSuffix(path, ".index.json") {
		if err := w.openIndex(path); err != nil {
			w.Close()
			return nil, err
		}
	} else if err := w.openOne(path, nil); err != nil {
		w.Close()
		return nil, err
	}
	sort.Strings(w.names)
	return w, nil
}

func (w *WeightFile) openOne(path string, only map[string]bool) error {
	var src rawSource
	var names []string
	if strings.HasSuffix(path, ".safetensors") {
		f, err := safetensors.Open(path)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrWeightFile, err)
		}
		w.closer = append(w.closer, f.Close)
		for k, v := range f.Metadata() {
			w.meta[k] = v
		}
		src, names = f, f.Names()
	} else {
		f, err := pth.Open(path)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrWeightFile, err)
		}
		w.closer = append(w.closer, f.Close)
		src, names = f, f.Names()
	}
	for _, n := range names {
		if only != nil && !only[n] {
			continue
		}
		if _, dup := w.where[n]; dup {
			return fmt.Errorf("%w: %s: tensor %q appears in two shards", ErrWeightFile, path, n)
		}
		w.where[n] = src
		w.names = append(w.names, n)
	}
	return nil
}

func (w *WeightFile) openIndex(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWeightFile, err)
	}
	var ix struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &ix); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrWeightFile, path, err)
	}
	if len(ix.WeightMap) == 0 {
		return fmt.Errorf("%w: %s: empty weight_map", ErrWeightFile, path)
	}
	byShard := map[string]map[string]bool{}
	for name, shard := range ix.WeightMap {
		if shard == "" || strings.Contains(shard, "..") || filepath.IsAbs(shard) {
			return fmt.Errorf("%w: %s: tensor %q maps to a bad shard name %q", ErrWeightFile, path, name, shard)
		}
		if byShard[shard] == nil {
			byShard[shard] = map[string]bool{}
		}
		byShard[shard][name] = true
	}
	shards := make([]string, 0, len(byShard))
	for sh := range byShard {
		shards = append(shards, sh)
	}
	sort.Strings(shards)
	dir := filepath.Dir(path)
	for _, sh := range shards {
		full := filepath.Join(dir, sh)
		if _, err := os.Stat(full); err != nil {
			return fmt.Errorf("%w: %s names shard %s, which cannot be opened: %v", ErrWeightFile, path, sh, err)
		}
		before := len(w.names)
		if err := w.openOne(full, byShard[sh]); err != nil {
			return err
		}
		if got := len(w.names) - before; got != len(byShard[sh]) {
			var missing []string
			for n := range byShard[sh] {
				if _, ok := w.where[n]; !ok {
					missing = append(missing, n)
				}
			}
			sort.Strings(missing)
			return fmt.Errorf("%w: shard %s lacks %d tensor(s) the index assigns to it: %s", ErrWeightFile, full, len(missing), strings.Join(missing, ", "))
		}
	}
	return nil
}

// Path is the file that was opened.
func (w *WeightFile) Path() string { return w.path }

// Names lists the tensors, sorted.
func (w *WeightFile) Names() []string { return append([]string(nil), w.names...) }

// Metadata is the safetensors `__metadata__` (merged over shards; empty for .pth).
func (w *WeightFile) Metadata() map[string]string {
	m := make(map[string]string, len(w.meta))
	for k, v := range w.meta {
		m[k] = v
	}
	return m
}

// Info describes a tensor without loading it.
func (w *WeightFile) Info(name string) (TensorInfo, bool) {
	src, ok := w.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	t, ok := src.Tensor(name)
	if !ok {
		return TensorInfo{}, false
	}
	file := w.path
	if f, ok := src.(interface{ Path() string }); ok {
		file = f.Path()
	}
	return TensorInfo{Name: name, DType: stDTypes[t.DType], Shape: append([]int64(nil), t.Shape...), File: file}, true
}

// Load copies one tensor into the scope's device. dt converts it during the copy; pass the
// zero DType (Uint8 is 0, so use KeepDType) to keep the file's type.
func (w *WeightFile) Load(s *Scope, name string, dt DType) (t *Tensor, err error) {
	defer Recover(&err)
	src, ok := w.where[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no tensor %q", ErrWeightFile, w.path, name)
	}
	raw, ok := src.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no tensor %q", ErrWeightFile, w.path, name)
	}
	from, ok := stDTypes[raw.DType]
	if !ok {
		return nil, fmt.Errorf("%w: %s: tensor %q has unsupported dtype %s", ErrWeightFile, w.path, name, raw.DType)
	}
	if dt == KeepDType {
		dt = from
	}
	strides := raw.Strides
	if strides == nil {
		strides = contiguousStrides(raw.Shape)
	}
	return fromStrided(s, from, dt, raw.Data, raw.Shape, strides, raw.Offset), nil
}

// KeepDType tells Load to keep the dtype stored in the file.
const KeepDType DType = -1

// Close unmaps every file; tensors already loaded stay valid.
func (w *WeightFile) Close() error {
	var first error
	for _, c := range w.closer {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	w.closer = nil
	return first
}

// LoadWeights reads every tensor of a weight file into the scope (on its device).
func LoadWeights(s *Scope, path string) (map[string]*Tensor, error) {
	w, err := OpenWeights(path)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	out := make(map[string]*Tensor, len(w.names))
	for _, n := range w.names {
		t, err := w.Load(s, n, KeepDType)
		if err != nil {
			return nil, err
		}
		out[n] = t
	}
	return out, nil
}

// SaveSafetensors writes tensors to a safetensors file atomically (a temporary file in the
// same folder, then a rename): a crash never leaves a half-written file under path. Each
// tensor is copied out of libtorch one at a time, so the whole set is never held twice.
func SaveSafetensors(path string, tensors map[string]*Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	raws := make([]safetensors.Tensor, 0, len(names))
	byName := map[string]*Tensor{}
	for _, n := range names {
		t := tensors[n]
		if t.Freed() {
			return fmt.Errorf("save %s: tensor %q was freed", path, n)
		}
		d, ok := stDType(t.DType())
		if !ok {
			return fmt.Errorf("save %s: tensor %q has unsupported dtype %s", path, n, t.DType())
		}
		raws = append(raws, safetensors.Tensor{Name: n, DType: d, Shape: t.Shape()})
		byName[n] = t
	}
	return safetensors.WriteFunc(path, raws, metadata, func(r safetensors.Tensor, wr io.Writer) error {
		var b []byte
		if err := Try(func() { b = byName[r.Name].Bytes() }); err != nil {
			return err
		}
		_, err := wr.Write(b)
		return err
	})
}

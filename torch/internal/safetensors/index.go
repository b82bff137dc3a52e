package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// maxIndexSize bounds the size of an index JSON file.
const maxIndexSize = 100_000_000

// Index is a sharded checkpoint: a *.safetensors.index.json whose "weight_map" sends each
// tensor name to a shard file in the same directory. Every shard is opened (mapped) by
// OpenIndex; only the names listed in the weight map are exposed.
//
// Methods other than Close may be called concurrently. Tensors are invalid after Close.
type Index struct {
	path     string
	shards   map[string]*File // shard file name → open file
	owner    map[string]*File // tensor name → its shard
	names    []string
	metadata map[string]string
}

// OpenIndex reads the index at indexPath and opens every shard it names. It fails, naming
// the shard and the tensor, when a shard is missing or unreadable, when a shard lacks a
// tensor the weight map gives it, or when a shard name leaves the index's directory.
func OpenIndex(indexPath string) (*Index, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: %w: %s", indexPath, ErrInvalid, fmt.Sprintf(format, args...))
	}
	fh, err := os.Open(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	raw, err := readAllLimit(fh, maxIndexSize)
	fh.Close()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", indexPath, err)
	}
	var doc struct {
		Metadata  map[string]json.RawMessage `json:"metadata"`
		WeightMap map[string]string          `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, bad("%v", err)
	}
	if doc.WeightMap == nil {
		return nil, bad("no weight_map")
	}

	ix := &Index{
		path:   indexPath,
		shards: map[string]*File{},
		owner:  make(map[string]*File, len(doc.WeightMap)),
		names:  make([]string, 0, len(doc.WeightMap)),
	}
	if doc.Metadata != nil {
		ix.metadata = make(map[string]string, len(doc.Metadata))
		for k, v := range doc.Metadata {
			var s string
			if json.Unmarshal(v, &s) == nil {
				ix.metadata[k] = s
			} else {
				ix.metadata[k] = string(bytes.TrimSpace(v))
			}
		}
	}

	dir := filepath.Dir(indexPath)
	shardNames := make([]string, 0)
	for _, shard := range doc.WeightMap {
		if _, ok := ix.shards[shard]; !ok {
			ix.shards[shard] = nil
			shardNames = append(shardNames, shard)
		}
	}
	sort.Strings(shardNames)
	for _, shard := range shardNames {
		if !filepath.IsLocal(shard) {
			ix.Close()
			return nil, bad("shard %q is not a plain file name inside the index's directory", shard)
		}
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			ix.Close()
			return nil, fmt.Errorf("safetensors: %s: shard %q: %w", indexPath, shard, err)
		}
		ix.shards[shard] = f
	}
	for name, shard := range doc.WeightMap {
		f := ix.shards[shard]
		if _, ok := f.tensors[name]; !ok {
			ix.Close()
			return nil, bad("tensor %q is mapped to shard %q, which does not hold it", name, shard)
		}
		ix.owner[name] = f
		ix.names = append(ix.names, name)
	}
	sort.Strings(ix.names)
	return ix, nil
}

// Path is the index file name given to OpenIndex.
func (ix *Index) Path() string { return ix.path }

// Names lists every tensor name in the weight map, sorted (a fresh slice).
func (ix *Index) Names() []string { return append([]string(nil), ix.names...) }

// Tensor returns the named tensor from its shard; see File.Tensor.
func (ix *Index) Tensor(name string) (Tensor, bool) {
	f, ok := ix.owner[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensor(name)
}

// Shard returns the shard file name that holds the named tensor.
func (ix *Index) Shard(name string) (string, bool) {
	f, ok := ix.owner[name]
	if !ok {
		return "", false
	}
	return filepath.Base(f.path), true
}

// Metadata returns a copy of the index's "metadata" object. String values are kept as
// they are; other JSON values (such as the number "total_size") are given as JSON text.
func (ix *Index) Metadata() map[string]string { return copyMap(ix.metadata) }

// Close unmaps every shard and returns their errors joined. Calling it again does nothing.
func (ix *Index) Close() error {
	var errs []error
	for name, f := range ix.shards {
		if f != nil {
			errs = append(errs, f.Close())
		}
		delete(ix.shards, name)
	}
	ix.owner = nil
	ix.names = nil
	return errors.Join(errs...)
}

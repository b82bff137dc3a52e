package nn

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/prsmed/prsmed-go/torch"
)

// LoadOptions tune Store.Load.
type LoadOptions struct {
	// NonStrict returns the missing, unexpected and wrong-shape names in the report
	// instead of failing; every matching tensor is still loaded.
	NonStrict bool
	// Prefix keeps only the file's tensors whose names start with it, and strips it before
	// matching store names ("image_encoder." loads a SAM encoder out of a full SAM
	// checkpoint). Tensors without the prefix are ignored, not unexpected.
	Prefix string
	// Only restricts the store entries that must be present to those matching one of
	// these patterns (see Match); the rest are neither loaded nor reported missing.
	Only []string
}

// LoadReport lists what did not line up between a file and a store.
type LoadReport struct {
	Loaded     int
	Missing    []string // in the store, not in the file
	Unexpected []string // in the file, not in the store
	Mismatched []string // in both, with different shapes ("name: file [..] store [..]")
}

// ErrLoad is wrapped by a strict load's error.
var ErrLoad = errors.New("nn: checkpoint does not match the model")

// LoadError is a strict load that found missing, unexpected or wrong-shape tensors; it
// names all of them.
type LoadError struct {
	File string
	LoadReport
}

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nn: %s does not match the model:", e.File)
	list := func(what string, names []string) {
		if len(names) > 0 {
			fmt.Fprintf(&b, " %d %s (%s);", len(names), what, strings.Join(names, ", "))
		}
	}
	list("missing", e.Missing)
	list("unexpected", e.Unexpected)
	list("with the wrong shape", e.Mismatched)
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap makes errors.Is(err, ErrLoad) true.
func (e *LoadError) Unwrap() error { return ErrLoad }

// Load copies tensors from a weight file (safetensors, a sharded index, or a torch.save
// state dict) into the store's tensors by name, converting dtypes to each entry's. The
// file is memory-mapped and each tensor is copied once into its entry (through one
// temporary at a time), so a large file is never held twice: the pages of the mapping that
// a copy touched count toward the process's RSS until the file is unmapped, so Load
// re-opens (re-maps) the file after every remapBytes of data it read.
func (st *Store) Load(path string, o LoadOptions) (rep LoadReport, err error) {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return rep, err
	}
	cur := w
	defer func() { cur.Close() }()
	return st.loadFrom(w, o, func() (*torch.WeightFile, error) {
		if err := cur.Close(); err != nil {
			return nil, err
		}
		nw, err := torch.OpenWeights(path)
		if err != nil {
			return nil, err
		}
		cur = nw
		return nw, nil
	})
}

// remapBytes is how much file data Load reads through one mapping before it re-maps the
// file, bounding the RSS that the mapping adds to the store's own memory.
var remapBytes int64 = 64 << 20

// LoadFrom is Load from an already open weight file (which it does not re-map: the pages it
// reads stay resident until the caller closes w).
func (st *Store) LoadFrom(w *torch.WeightFile, o LoadOptions) (rep LoadReport, err error) {
	return st.loadFrom(w, o, nil)
}

// loadFrom is LoadFrom; remap, when not nil, closes the file and opens it again (dropping
// the mapping's resident pages) after every remapBytes of data read.
func (st *Store) loadFrom(w *torch.WeightFile, o LoadOptions, remap func() (*torch.WeightFile, error)) (rep LoadReport, err error) {
	defer torch.Recover(&err)
	fileNames := map[string]string{} // store name -> file name
	for _, n := range w.Names() {
		if !strings.HasPrefix(n, o.Prefix) {
			continue
		}
		fileNames[strings.TrimPrefix(n, o.Prefix)] = n
	}
	want := func(name string) bool {
		if len(o.Only) == 0 {
			return true
		}
		for _, p := range o.Only {
			if Match(p, name) {
				return true
			}
		}
		return false
	}
	for _, name := range st.order {
		if !want(name) {
			continue
		}
		if _, ok := fileNames[name]; !ok {
			rep.Missing = append(rep.Missing, name)
		}
	}
	for name, fn := range fileNames {
		e, ok := st.entries[name]
		if !ok {
			if want(name) {
				rep.Unexpected = append(rep.Unexpected, fn)
			}
			continue
		}
		if !want(name) {
			continue
		}
		info, _ := w.Info(fn)
		if !sameShape(info.Shape, e.Tensor.Shape()) {
			rep.Mismatched = append(rep.Mismatched, fmt.Sprintf("%s: file %v, model %v", fn, info.Shape, e.Tensor.Shape()))
		}
	}
	sort.Strings(rep.Unexpected)
	sort.Strings(rep.Mismatched)
	if !o.NonStrict && (len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) > 0) {
		return rep, &LoadError{File: w.Path(), LoadReport: rep}
	}
	bad := map[string]bool{}
	for _, m := range rep.Mismatched {
		bad[m[:strings.Index(m, ": file ")]] = true
	}
	var sinceMap int64 // bytes read through the current mapping
	for _, name := range st.order {
		fn, ok := fileNames[name]
		if !ok || bad[fn] || !want(name) {
			continue
		}
		e := st.entries[name]
		info, _ := w.Info(fn)
		if remap != nil && sinceMap > 0 && sinceMap+infoBytes(info) > remapBytes {
			nw, err := remap()
			if err != nil {
				return rep, fmt.Errorf("nn: re-opening %s: %w", w.Path(), err)
			}
			w, sinceMap = nw, 0
			if info, ok = w.Info(fn); !ok || !sameShape(info.Shape, e.Tensor.Shape()) {
				return rep, fmt.Errorf("nn: %s changed while it was being loaded (tensor %s)", w.Path(), fn)
			}
		}
		sinceMap += infoBytes(info)
		// One scope per tensor, on the entry's device, closed right after the copy: the
		// temporary is freed before the next tensor is read.
		s := st.scope.On(e.Tensor.Device())
		t, err := w.Load(s, fn, e.Tensor.DType())
		if err != nil {
			s.Close()
			return rep, fmt.Errorf("nn: loading %s from %s: %w", fn, w.Path(), err)
		}
		e.Tensor.CopyFrom(t)
		s.Close()
		rep.Loaded++
	}
	return rep, nil
}

// Save writes the store's tensors (those for which keep returns true; all when keep is
// nil) to a safetensors file, atomically.
func (st *Store) Save(path string, keep func(e *Entry) bool, metadata map[string]string) error {
	m := map[string]*torch.Tensor{}
	for _, n := range st.order {
		e := st.entries[n]
		if keep == nil || keep(e) {
			m[n] = e.Tensor
		}
	}
	return torch.SaveSafetensors(path, m, metadata)
}

// OnlyTrainable is a Save filter that keeps the trainable parameters.
func OnlyTrainable(e *Entry) bool { return e.Kind == Parameter && e.Trainable }

// infoBytes is the size of a tensor's data in the file.
func infoBytes(i torch.TensorInfo) int64 {
	n := int64(i.DType.Size())
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package nn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prsmed/prsmed-go/torch"
)

// LoadOptions tune Store.Load, LoadEntries and Check.
//
// A file tensor goes through Prefix, then Rename, to the name of the entry it fills. The
// entries a load expects are the ones it is given (a store's, or a module's) that match
// Only; those that also match Optional may be absent from the file. Component sets Prefix,
// Rename and Only together for the common case of one part of a bigger checkpoint.
type LoadOptions struct {
	// NonStrict returns the missing, unexpected and wrong-shape tensors in the report
	// instead of failing; every matching tensor is still loaded.
	NonStrict bool
	// AllowUnexpected lets a strict load succeed when the file holds tensors that fill no
	// expected entry: they are skipped and listed in the report's Unexpected, not in the
	// error. Missing and wrong-shape tensors still fail.
	AllowUnexpected bool
	// Prefix keeps only the file's tensors whose names start with it, and strips it before
	// Rename ("image_encoder." loads a SAM encoder out of a full SAM checkpoint). Tensors
	// without the prefix are ignored, not unexpected.
	Prefix string
	// Rename maps a file tensor's name (after Prefix) to the name of the entry it fills; nil
	// keeps the name. ok false ignores the tensor (neither loaded nor unexpected); a name
	// that no expected entry has (such as "") makes the tensor unexpected.
	Rename func(fileName string) (entryName string, ok bool)
	// Only restricts the entries that must be present to those matching one of these
	// patterns (see Match); the rest are neither loaded nor reported missing, and a file
	// tensor whose entry name matches none of them is ignored rather than unexpected.
	Only []string
	// Optional entries (matching one of these patterns) are loaded when the file has them
	// and not reported missing when it does not: LoRA weights that a base checkpoint
	// predates, say.
	Optional []string
}

// LoadReport lists what did not line up between a file and the entries a load expected.
// Each list is sorted.
type LoadReport struct {
	Loaded     int             // tensors copied
	Missing    []string        // entry names the file has no tensor for
	Unexpected []string        // file names that fill no expected entry
	Mismatched []ShapeMismatch // in both, with different shapes
}

// ShapeMismatch is a file tensor whose shape differs from its entry's.
type ShapeMismatch struct {
	Name  string  // the file's name for the tensor
	File  []int64 // its shape in the file
	Store []int64 // the entry's shape
}

// String is the mismatch as a LoadError names it: "name: file [..], model [..]".
func (m ShapeMismatch) String() string {
	return fmt.Sprintf("%s: file %v, model %v", m.Name, m.File, m.Store)
}

// ErrLoad is wrapped by a strict load's error.
var ErrLoad = errors.New("nn: checkpoint does not match the model")

// LoadError is a strict load that found missing, unexpected or wrong-shape tensors; it
// names all of them (with AllowUnexpected, the unexpected ones are not counted and not
// listed).
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
	shapes := make([]string, len(e.Mismatched))
	for i, m := range e.Mismatched {
		shapes[i] = m.String()
	}
	list("with the wrong shape", shapes)
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap makes errors.Is(err, ErrLoad) true.
func (e *LoadError) Unwrap() error { return ErrLoad }

// Load copies tensors from a weight file (safetensors, a sharded index, or a torch.save
// state dict) into the store's entries by name (see LoadOptions), converting dtypes to each
// entry's. A strict load checks every name and shape before it copies anything. The file
// is memory-mapped and each tensor is copied once into its entry (through one temporary at
// a time), so a large file is never held twice: the pages of the mapping that a copy
// touched count toward the process's RSS until the file is unmapped, so Load re-opens
// (re-maps) the file after every remapBytes of data it read.
func (st *Store) Load(path string, o LoadOptions) (rep LoadReport, err error) {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return rep, err
	}
	cur := w
	defer func() { cur.Close() }()
	return load(w, st.targets(), o, func() (*torch.WeightFile, error) {
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
func (st *Store) LoadFrom(w *torch.WeightFile, o LoadOptions) (LoadReport, error) {
	return load(w, st.targets(), o, nil)
}

// LoadEntries is LoadFrom into the given entries only (a module's part of a store, say):
// they are the entries the load expects, before Only.
func LoadEntries(w *torch.WeightFile, entries []*Entry, o LoadOptions) (LoadReport, error) {
	ts := make([]target, len(entries))
	for i, e := range entries {
		if e == nil || e.Tensor == nil {
			return LoadReport{}, fmt.Errorf("nn: loading %s: entry %d is nil", w.Path(), i)
		}
		ts[i] = target{name: e.Name, shape: e.Tensor.Shape(), entry: e}
	}
	return load(w, ts, o, nil)
}

// Check compares a weight file with entries that do not exist yet, given by name and
// shape, and copies nothing: it returns the report (and, unless o.NonStrict, the error)
// that loading the file into such entries with the same options would.
func Check(w *torch.WeightFile, shapes map[string][]int64, o LoadOptions) (LoadReport, error) {
	ts := make([]target, 0, len(shapes))
	for n, s := range shapes {
		ts = append(ts, target{name: n, shape: s})
	}
	_, rep := plan(w, ts, o)
	return rep, o.check(w.Path(), rep)
}

// targets are the store's entries, in order.
func (st *Store) targets() []target {
	ts := make([]target, len(st.order))
	for i, n := range st.order {
		e := st.entries[n]
		ts[i] = target{name: n, shape: e.Tensor.Shape(), entry: e}
	}
	return ts
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

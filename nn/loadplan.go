package nn

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/prsmed/prsmed-go/torch"
)

// target is an entry a load expects: its name, its shape, and the entry it fills (nil
// when the load only checks).
type target struct {
	name  string
	shape []int64
	entry *Entry
}

// binding is a file tensor and the target it fills.
type binding struct {
	file  string
	info  torch.TensorInfo
	to    *target
	order int // the target's index: tensors are copied in the targets' order
}

// plan lines the file's tensors up with the targets under o: the tensors to copy, and the
// report of everything that did not line up (Loaded is 0).
func plan(w *torch.WeightFile, targets []target, o LoadOptions) ([]binding, LoadReport) {
	var rep LoadReport
	byName := make(map[string]int, len(targets))
	for i, t := range targets {
		byName[t.name] = i
	}
	filled := map[string]bool{}
	var binds []binding
	for _, fn := range w.Names() {
		name, ok := strings.CutPrefix(fn, o.Prefix)
		if !ok {
			continue
		}
		if o.Rename != nil {
			if name, ok = o.Rename(name); !ok {
				continue
			}
		}
		if !matchAny(o.Only, name, true) {
			continue
		}
		i, ok := byName[name]
		if !ok || filled[name] {
			// No such entry, or a second file tensor for one.
			rep.Unexpected = append(rep.Unexpected, fn)
			continue
		}
		filled[name] = true
		t := &targets[i]
		info, _ := w.Info(fn)
		if !slices.Equal(info.Shape, t.shape) {
			rep.Mismatched = append(rep.Mismatched, ShapeMismatch{Name: fn, File: info.Shape, Store: t.shape})
			continue
		}
		binds = append(binds, binding{file: fn, info: info, to: t, order: i})
	}
	for _, t := range targets {
		if !filled[t.name] && matchAny(o.Only, t.name, true) && !matchAny(o.Optional, t.name, false) {
			rep.Missing = append(rep.Missing, t.name)
		}
	}
	sort.Strings(rep.Missing)
	sort.Strings(rep.Unexpected)
	sort.Slice(rep.Mismatched, func(i, j int) bool { return rep.Mismatched[i].Name < rep.Mismatched[j].Name })
	sort.Slice(binds, func(i, j int) bool { return binds[i].order < binds[j].order })
	return binds, rep
}

// matchAny reports whether name matches one of the patterns; empty is true when there are
// none.
func matchAny(patterns []string, name string, empty bool) bool {
	if len(patterns) == 0 {
		return empty
	}
	for _, p := range patterns {
		if Match(p, name) {
			return true
		}
	}
	return false
}

// check is the error of a report under o: nil when the load may go on.
func (o LoadOptions) check(path string, rep LoadReport) error {
	if o.NonStrict {
		return nil
	}
	if o.AllowUnexpected {
		rep.Unexpected = nil
	}
	if len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) == 0 {
		return nil
	}
	return &LoadError{File: path, LoadReport: rep}
}

// load plans a load of w into the targets and, unless the plan fails o's checks, copies
// every tensor that lines up. remap, when not nil, closes the file and opens it again
// (dropping the mapping's resident pages) after every remapBytes of data read.
func load(w *torch.WeightFile, targets []target, o LoadOptions, remap func() (*torch.WeightFile, error)) (LoadReport, error) {
	binds, rep := plan(w, targets, o)
	if err := o.check(w.Path(), rep); err != nil {
		return rep, err
	}
	var sinceMap int64 // bytes read through the current mapping
	for _, b := range binds {
		size := infoBytes(b.info)
		if remap != nil && sinceMap > 0 && sinceMap+size > remapBytes {
			nw, err := remap()
			if err != nil {
				return rep, fmt.Errorf("nn: re-opening %s: %w", w.Path(), err)
			}
			w, sinceMap = nw, 0
			if info, ok := w.Info(b.file); !ok || !slices.Equal(info.Shape, b.info.Shape) {
				return rep, fmt.Errorf("nn: %s changed while it was being loaded (tensor %s)", w.Path(), b.file)
			}
		}
		sinceMap += size
		if err := copyIn(w, b.file, b.to.entry.Tensor); err != nil {
			return rep, fmt.Errorf("nn: loading %s from %s: %w", b.file, w.Path(), err)
		}
		rep.Loaded++
	}
	return rep, nil
}

// copyIn loads one tensor of w into dst, converting to dst's dtype, through a temporary
// freed before it returns.
func copyIn(w *torch.WeightFile, name string, dst *torch.Tensor) (err error) {
	defer torch.Recover(&err)
	s := torch.NewScope(dst.Device()).NoGrad()
	defer s.Close()
	t, err := w.Load(s, name, dst.DType())
	if err != nil {
		return err
	}
	dst.CopyFrom(t)
	return nil
}

// infoBytes is the size of a tensor's data in the file.
func infoBytes(i torch.TensorInfo) int64 {
	n := int64(i.DType.Size())
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

package pth

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
)

// fuzzSeeds are the golden files, hostile ones included.
var fuzzSeeds = []string{
	"dtypes.pt", "legacy.pt", "module.pt", "checkpoint.pt", "parameters.pt",
	"hostile_system.pt", "hostile_stackglobal.pt", "hostile_nested.pt", "hostile_legacy.pt",
}

// FuzzOpen writes each input to a file and opens it: no input may panic, and whatever
// opens must hand out only valid, in-bounds tensors.
func FuzzOpen(f *testing.F) {
	weighttest.FuzzFiles(f, ".pt", fuzzSeeds, func(t *testing.T, p string) {
		pf, err := Open(p)
		if err != nil {
			return
		}
		defer pf.Close()
		checkOpened(t, pf)
	})
}

func checkOpened(t *testing.T, pf *File) {
	t.Helper()
	weighttest.ValidListed(t, pf, func(n string, tn Tensor) {
		if c, err := tn.Contiguous(); err != nil || int64(len(c.Data)) != c.NumElements()*int64(c.DType.Size()) {
			t.Fatalf("%q: Contiguous: %v", n, err)
		}
	})
}

// FuzzUnpickle runs the restricted unpickler on raw data.pkl programs and flattens the
// result, with every named storage backed by zeros (when small enough).
func FuzzUnpickle(f *testing.F) {
	for _, name := range fuzzSeeds {
		b, err := os.ReadFile(filepath.Join(weighttest.Dir, name))
		if err != nil {
			f.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Add(b) // legacy stream: its first pickle
			continue
		}
		for _, e := range zr.File {
			if filepath.Base(e.Name) == "data.pkl" {
				rc, _ := e.Open()
				var buf bytes.Buffer
				buf.ReadFrom(rc)
				rc.Close()
				f.Add(buf.Bytes())
			}
		}
	}
	f.Fuzz(func(t *testing.T, pkl []byte) {
		st := newStorageTable()
		u := newUnpickler(pkl, 0, func(pid any) (any, error) { return st.load(pid, false) })
		root, err := u.load()
		if err != nil {
			return
		}
		total := int64(0)
		for _, key := range st.order {
			rs := st.roots[key]
			n := rs.numel * int64(rs.dtype.Size())
			if total += n; total > 1<<20 {
				return
			}
			rs.data, rs.located = make([]byte, n), true
		}
		tensors, err := flatten(root, st)
		if err != nil {
			return
		}
		for name, tn := range tensors {
			if err := tn.Validate(); err != nil {
				t.Fatalf("%q: %v", name, err)
			}
		}
	})
}

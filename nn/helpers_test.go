package nn_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// Goldens written by third_party/golden/nn_ref.py.
const (
	layersGolden  = "../testdata/nn/layers.safetensors"
	initGolden    = "../testdata/nn/init.safetensors"
	modelPTH      = "../testdata/nn/model.pth"
	modelST       = "../testdata/nn/model.safetensors"
	modelIO       = "../testdata/nn/model_io.safetensors"
	samPTH        = "../testdata/nn/sam.pth"
	badPTH        = "../testdata/nn/bad.pth"
	fp32RTol      = 1e-5
	bf16RTol      = 1e-2
	maxLiveLeaked = 0
)

// errSummary collects, per case, the largest relative error of the values that were
// compared (and the largest absolute error relative to the largest expected magnitude,
// which is what the tolerance floor looks at), and logs a table at the end of a test.
//
// A third column is the largest relative error over the elements whose expected magnitude
// is at least 1e-3 of the largest: elementwise relative error means little for values
// that are analytically zero (the gradient of MultiheadAttention's key bias, for one).
type errSummary struct {
	mu   sync.Mutex
	rows map[string][3]float64
}

func (e *errSummary) add(name string, st torchtest.Stats) {
	e.addRow(name, st.MaxRel, st.MaxAbs, st.MaxWant, 0)
}

// addValues is add plus the third column, from the compared tensors.
func (e *errSummary) addValues(name string, st torchtest.Stats, got, want *torch.Tensor) {
	sig := 0.0
	if st.Mismatch == "" && got.DType().IsFloat() {
		g, w := got.Float64s(), want.Float64s()
		for i := range w {
			if math.Abs(w[i]) >= 1e-3*st.MaxWant && w[i] != 0 {
				sig = math.Max(sig, math.Abs(g[i]-w[i])/math.Abs(w[i]))
			}
		}
	}
	e.addRow(name, st.MaxRel, st.MaxAbs, st.MaxWant, sig)
}

func (e *errSummary) addRow(name string, maxRel, maxAbs, maxWant, sig float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rows == nil {
		e.rows = map[string][3]float64{}
	}
	r := e.rows[name]
	r[0] = math.Max(r[0], maxRel)
	if maxWant > 0 {
		r[1] = math.Max(r[1], maxAbs/maxWant)
	}
	r[2] = math.Max(r[2], sig)
	e.rows[name] = r
}

func (e *errSummary) log(t *testing.T) {
	names := make([]string, 0, len(e.rows))
	for n := range e.rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %10s %18s %22s\n", "case", "max_rel", "max_abs/max|want|", "max_rel(|want|>=1e-3max)")
	for _, n := range names {
		fmt.Fprintf(&b, "%-28s %10.3g %18.3g %22.3g\n", n, e.rows[n][0], e.rows[n][1], e.rows[n][2])
	}
	t.Log("\n" + b.String())
}

// goldenTest starts a test against a golden file: it checks the test for leaks, opens a
// scope, loads the golden into it and returns a summary of the errors; the scope closes and
// the summary is logged when the test ends.
func goldenTest(t *testing.T, path string) (*torch.Scope, golden, *errSummary) {
	t.Helper()
	noLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	sum := &errSummary{}
	t.Cleanup(func() {
		sum.log(t)
		s.Close()
	})
	return s, loadGolden(t, s, path), sum
}

// golden is one loaded golden file.
type golden struct {
	path string
	g    map[string]*torch.Tensor
}

func loadGolden(t *testing.T, s *torch.Scope, path string) golden {
	t.Helper()
	return golden{path: path, g: torchtest.Golden(t, s, path)}
}

func (g golden) want(t *testing.T, name string) *torch.Tensor {
	t.Helper()
	return torchtest.Want(t, g.g, name)
}

func (g golden) has(name string) bool { _, ok := g.g[name]; return ok }

// loadCase loads <c>.sd.* of the golden into st strictly (every store entry present, no
// extra tensor under the prefix, shapes equal).
func (g golden) loadCase(t *testing.T, st *nn.Store, c string) {
	t.Helper()
	rep, err := st.Load(g.path, nn.LoadOptions{Prefix: c + ".sd."})
	if err != nil {
		t.Fatalf("loading %s.sd.*: %v", c, err)
	}
	if rep.Loaded != len(st.Entries()) {
		t.Fatalf("loaded %d tensors into a store of %d", rep.Loaded, len(st.Entries()))
	}
}

// input returns a copy of <c>.in<i>; floating inputs require grad.
func (g golden) input(t *testing.T, s *torch.Scope, c string, i int) *torch.Tensor {
	t.Helper()
	x := g.want(t, fmt.Sprintf("%s.in%d", c, i)).Clone(s)
	if x.DType().IsFloat() {
		x.SetRequiresGrad(true)
	}
	return x
}

// checkCase compares out with <c>.out, backpropagates <c>.gout and compares the gradient
// of every input and of every trainable parameter of st with <c>.grad.*. A gradient that
// Go computed and PyTorch did not (or the reverse) is an error.
func (g golden) checkCase(t *testing.T, s *torch.Scope, sum *errSummary, c string, st *nn.Store, out *torch.Tensor,
	inputs []*torch.Tensor, rtol float64) {
	t.Helper()
	record := func(what string, got, want *torch.Tensor) {
		t.Helper()
		sum.addValues(c, torchtest.AllClose(t, c+"."+what, got, want, rtol), got, want)
	}
	record("out", out, g.want(t, c+".out"))
	if !g.has(c + ".gout") {
		return
	}
	out.BackwardWith(g.want(t, c+".gout"), false)
	for i, x := range inputs {
		name := fmt.Sprintf("%s.grad.in%d", c, i)
		if x == nil || !x.RequiresGrad() {
			if g.has(name) {
				t.Errorf("%s: PyTorch has a gradient for input %d, Go's input does not require grad", c, i)
			}
			continue
		}
		gr := x.Grad(s)
		if gr == nil {
			t.Errorf("%s: input %d got no gradient", c, i)
			continue
		}
		record(fmt.Sprintf("grad.in%d", i), gr, g.want(t, name))
	}
	if st == nil {
		return
	}
	for _, e := range st.Entries() {
		if e.Kind != nn.Parameter {
			continue
		}
		name := c + ".grad." + e.Name
		gr := e.Tensor.Grad(s)
		switch {
		case gr == nil && g.has(name):
			t.Errorf("%s: parameter %s got no gradient", c, e.Name)
		case gr != nil && !g.has(name):
			t.Errorf("%s: parameter %s got a gradient PyTorch does not have", c, e.Name)
		case gr != nil:
			record("grad."+e.Name, gr, g.want(t, name))
		}
	}
}

// zeroGrads drops the gradients of every parameter of st.
func zeroGrads(st *nn.Store) {
	for _, p := range st.Parameters() {
		p.ZeroGrad()
	}
}

// exact compares got and want bit for bit.
func exact(t *testing.T, name string, got, want *torch.Tensor) {
	t.Helper()
	torchtest.AllCloseTol(t, name, got, want, torchtest.Tol{Exact: true})
}

// savedSmall saves a store holding one 4→3 linear layer ("fc") to dir/ckpt.safetensors;
// it returns the store (the caller closes it), the file's path and the bytes saved.
func savedSmall(t *testing.T, dir string) (*nn.Store, string, []byte) {
	t.Helper()
	path := filepath.Join(dir, "ckpt.safetensors")
	st := nn.NewStore(torch.CPU)
	nn.NewLinear(st.Root().Sub("fc"), 4, 3, nn.LinearConfig{Bias: true})
	if err := st.Save(path, nil, nil); err != nil {
		st.Close()
		t.Fatal(err)
	}
	saved, err := os.ReadFile(path)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, path, saved
}

// fileTensors loads every tensor of the weight file path into an evaluation-mode scope
// that is closed when the test ends.
func fileTensors(t *testing.T, path string) map[string]*torch.Tensor {
	t.Helper()
	s := torch.NewScope(torch.CPU).Eval()
	t.Cleanup(s.Close)
	ref, err := torch.LoadWeights(s, path)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// noLeak fails the test when it leaves more live tensors behind than it found.
func noLeak(t *testing.T) {
	before := torch.LiveTensors()
	t.Cleanup(func() {
		if after := torch.LiveTensors(); after > before+maxLiveLeaked {
			t.Errorf("%d tensors leaked (live %d before, %d after)", after-before, before, after)
		}
	})
}

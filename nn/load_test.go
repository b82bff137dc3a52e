package nn_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// newModelStore builds testModel in a fresh evaluation-mode store.
func newModelStore(t *testing.T) (*nn.Store, *testModel) {
	t.Helper()
	st := nn.NewStore(torch.CPU)
	t.Cleanup(st.Close)
	m := newTestModel(st.Root())
	return st, m
}

// checkModelOutput runs the model on model_io's x and compares with PyTorch's output.
func checkModelOutput(t *testing.T, m *testModel, what string) {
	t.Helper()
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	io := loadGolden(t, s, modelIO)
	torchtest.AllClose(t, what, m.forward(s, io.want(t, "x")), io.want(t, "y"), fp32RTol)
}

// TestLoadStateDict loads torch.save and safetensors state dicts of nn_ref.py's Model
// strictly and gets PyTorch's outputs, and the same tensors from either file.
func TestLoadStateDict(t *testing.T) {
	noLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	io := loadGolden(t, s, modelIO)
	stores := map[string]*nn.Store{}
	for _, c := range []struct{ name, path, prefix string }{
		{"pth", modelPTH, ""},
		{"safetensors", modelST, ""},
		{"prefix", samPTH, "image_encoder."},
	} {
		st, m := newModelStore(t) // closed when the whole test ends: compared below
		t.Run(c.name, func(t *testing.T) {
			if got, want := len(st.Entries()), int(io.want(t, "num_entries").Item()); got != want {
				t.Fatalf("the Go model has %d state-dict entries, PyTorch's %d", got, want)
			}
			rep, err := st.Load(c.path, nn.LoadOptions{Prefix: c.prefix})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Loaded != len(st.Entries()) || len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) != 0 {
				t.Fatalf("report %+v", rep)
			}
			if n := m.stemBN.NumBatchesTracked.Item(); n != 2 {
				t.Errorf("num_batches_tracked = %v, want 2 (the file's)", n)
			}
			checkModelOutput(t, m, c.name+" output")
			stores[c.name] = st
		})
	}
	if len(stores) == 3 {
		for _, e := range stores["pth"].Entries() {
			for _, other := range []string{"safetensors", "prefix"} {
				o, ok := stores[other].Get(e.Name)
				if !ok {
					t.Fatalf("%s store lacks %s", other, e.Name)
				}
				exact(t, other+" "+e.Name, o.Tensor, e.Tensor)
			}
		}
	}
}

// TestLoadWithoutPrefixReportsEverything: the SAM-style checkpoint without Prefix has
// nothing under the model's names.
func TestLoadWithoutPrefixReportsEverything(t *testing.T) {
	noLeak(t)
	st, _ := newModelStore(t)
	rep, err := st.Load(samPTH, nn.LoadOptions{NonStrict: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Loaded != 0 || len(rep.Missing) != len(st.Entries()) {
		t.Errorf("loaded %d, %d missing of %d", rep.Loaded, len(rep.Missing), len(st.Entries()))
	}
	for _, n := range rep.Unexpected {
		if !strings.HasPrefix(n, "image_encoder.") && !strings.HasPrefix(n, "prompt_encoder.") && !strings.HasPrefix(n, "mask_decoder.") {
			t.Errorf("unexpected name %q", n)
		}
	}
	if len(rep.Unexpected) != len(st.Entries())+2 {
		t.Errorf("%d unexpected, want %d", len(rep.Unexpected), len(st.Entries())+2)
	}
}

// TestLoadMismatchIsOneError: one renamed, one missing and one wrong-shape tensor give one
// *nn.LoadError that wraps nn.ErrLoad and names all of them, and change nothing; NonStrict
// returns the lists and loads the rest.
func TestLoadMismatchIsOneError(t *testing.T) {
	noLeak(t)
	st, m := newModelStore(t)
	before := m.stemConv.Weight.Float32s()
	_, err := st.Load(badPTH, nn.LoadOptions{})
	if err == nil {
		t.Fatal("a broken checkpoint loaded")
	}
	if !errors.Is(err, nn.ErrLoad) {
		t.Errorf("errors.Is(err, nn.ErrLoad) is false for %v", err)
	}
	var le *nn.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("%T is not a *nn.LoadError", err)
	}
	msg := err.Error()
	for _, name := range []string{
		"layers.1.blocks.0.attn.qkv.weight",         // renamed: missing …
		"layers.1.blocks.0.attn.qkv_renamed.weight", // … and unexpected
		"head.bias",     // removed
		"stem.0.weight", // wrong shape
		"bad.pth",
	} {
		if !strings.Contains(msg, name) {
			t.Errorf("the error does not name %s: %s", name, msg)
		}
	}
	if !strings.Contains(msg, "[8 3 5 5]") || !strings.Contains(msg, "[8 3 3 3]") {
		t.Errorf("the error does not give both shapes of stem.0.weight: %s", msg)
	}
	wantMissing := []string{"head.bias", "layers.1.blocks.0.attn.qkv.weight"}
	missing := append([]string(nil), le.Missing...)
	sort.Strings(missing)
	if !reflect.DeepEqual(missing, wantMissing) {
		t.Errorf("Missing = %v, want %v", le.Missing, wantMissing)
	}
	if !reflect.DeepEqual(le.Unexpected, []string{"layers.1.blocks.0.attn.qkv_renamed.weight"}) {
		t.Errorf("Unexpected = %v", le.Unexpected)
	}
	wantShapes := []nn.ShapeMismatch{{Name: "stem.0.weight", File: []int64{8, 3, 5, 5}, Store: []int64{8, 3, 3, 3}}}
	if !reflect.DeepEqual(le.Mismatched, wantShapes) {
		t.Errorf("Mismatched = %v, want %v", le.Mismatched, wantShapes)
	}
	if !slices.Equal(m.stemConv.Weight.Float32s(), before) {
		t.Error("a failed strict load changed the store")
	}
	if le.Loaded != 0 {
		t.Errorf("a failed strict load reports %d loaded", le.Loaded)
	}

	rep, err := st.Load(badPTH, nn.LoadOptions{NonStrict: true})
	if err != nil {
		t.Fatalf("NonStrict: %v", err)
	}
	missing = append([]string(nil), rep.Missing...)
	sort.Strings(missing)
	if !reflect.DeepEqual(missing, wantMissing) || !reflect.DeepEqual(rep.Unexpected, le.Unexpected) ||
		!reflect.DeepEqual(rep.Mismatched, le.Mismatched) {
		t.Errorf("NonStrict report %+v differs from the strict error's %+v", rep, le.LoadReport)
	}
	if want := len(st.Entries()) - 3; rep.Loaded != want {
		t.Errorf("NonStrict loaded %d, want %d", rep.Loaded, want)
	}
	if !slices.Equal(m.stemConv.Weight.Float32s(), before) {
		t.Error("NonStrict overwrote the wrong-shape tensor")
	}
	// The rest came from the file: head.weight equals model.pth's.
	ref := fileTensors(t, modelPTH)
	exact(t, "head.weight", m.head.Weight, ref["head.weight"])
}

// TestLoadOnly restricts a load to some entries.
func TestLoadOnly(t *testing.T) {
	noLeak(t)
	st, m := newModelStore(t)
	before := m.stemConv.Weight.Float32s()
	rep, err := st.Load(modelPTH, nn.LoadOptions{Only: []string{"head.*", "cross.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Loaded != 6 {
		t.Errorf("loaded %d, want 6 (head.weight, head.bias and 4 cross.*)", rep.Loaded)
	}
	if !slices.Equal(m.stemConv.Weight.Float32s(), before) {
		t.Error("Only loaded a tensor it does not match")
	}
}

// TestLoadConvertsDType loads the float32 file into a float64 model (and its buffers).
func TestLoadConvertsDType(t *testing.T) {
	noLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	st.SetDType(torch.Float64)
	m := newTestModel(st.Root())
	if _, err := st.Load(modelST, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Entries() {
		want := torch.Float64
		if e.Name == "stem.1.num_batches_tracked" {
			want = torch.Int64
		}
		if e.Tensor.DType() != want {
			t.Errorf("%s is %s, want %s", e.Name, e.Tensor.DType(), want)
		}
	}
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	io := loadGolden(t, s, modelIO)
	y := m.forward(s, io.want(t, "x").ToDType(s, torch.Float64))
	torchtest.AllClose(t, "float64 model", y.ToDType(s, torch.Float32), io.want(t, "y"), 1e-5)
}

// TestSaveRoundTrip saves everything and only the trainable parameters, atomically.
func TestSaveRoundTrip(t *testing.T) {
	noLeak(t)
	st, m := newModelStore(t)
	if _, err := st.Load(modelPTH, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	all := filepath.Join(dir, "all.safetensors")
	if err := st.Save(all, nil, map[string]string{"format": "pt", "step": "7"}); err != nil {
		t.Fatal(err)
	}
	st2, m2 := newModelStore(t)
	rep, err := st2.Load(all, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Loaded != len(st.Entries()) {
		t.Errorf("loaded %d of %d", rep.Loaded, len(st.Entries()))
	}
	for _, e := range st.Entries() {
		o, _ := st2.Get(e.Name)
		exact(t, "round trip "+e.Name, o.Tensor, e.Tensor)
	}
	checkModelOutput(t, m2, "reloaded output")
	w, err := torch.OpenWeights(all)
	if err != nil {
		t.Fatal(err)
	}
	if md := w.Metadata(); md["step"] != "7" {
		t.Errorf("metadata %v", md)
	}
	w.Close()

	// Only the trainable parameters.
	if n := st.Freeze("layers.*", "stem.*"); n == 0 {
		t.Fatal("Freeze matched nothing")
	}
	part := filepath.Join(dir, "trainable.safetensors")
	if err := st.Save(part, nn.OnlyTrainable, nil); err != nil {
		t.Fatal(err)
	}
	w, err = torch.OpenWeights(part)
	if err != nil {
		t.Fatal(err)
	}
	names := w.Names()
	w.Close()
	want := st.TrainableNames()
	sort.Strings(want)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("trainable file holds %v, want %v", names, want)
	}
	// Loading it back: only what it holds is reported missing-free under Only.
	st3, m3 := newModelStore(t)
	rep, err = st3.Load(part, nn.LoadOptions{NonStrict: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Loaded != len(want) || len(rep.Missing) != len(st.Entries())-len(want) || len(rep.Unexpected) != 0 {
		t.Errorf("report: loaded %d, %d missing, %d unexpected", rep.Loaded, len(rep.Missing), len(rep.Unexpected))
	}
	exact(t, "trainable head.weight", m3.head.Weight, m.head.Weight)

	// No temporary file is left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	if !reflect.DeepEqual(files, []string{"all.safetensors", "trainable.safetensors"}) {
		t.Errorf("the folder holds %v", files)
	}
}

// TestFailedSaveKeepsTheOldFile: a save that fails (the store's tensors are gone) leaves
// the previous file as it was and no temporary file.
func TestFailedSaveKeepsTheOldFile(t *testing.T) {
	noLeak(t)
	dir := t.TempDir()
	st, path, old := savedSmall(t, dir)
	st.Close()
	if err := st.Save(path, nil, nil); err == nil {
		t.Fatal("saving a closed store succeeded")
	}
	checkUntouched(t, dir, path, old)
}

func checkUntouched(t *testing.T, dir, path string, old []byte) {
	t.Helper()
	now, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(now) != string(old) {
		t.Error("a failed save changed the old file")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("a failed save left %v", names)
	}
}

// TestLoadRemapsLargeFiles: Load re-opens the file every few bytes here (every tensor),
// and still loads every tensor right, from either format.
func TestLoadRemapsLargeFiles(t *testing.T) {
	noLeak(t)
	old := nn.SetRemapBytes(100)
	defer nn.SetRemapBytes(old)
	for _, path := range []string{modelPTH, modelST} {
		st, m := newModelStore(t)
		rep, err := st.Load(path, nn.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Loaded != len(st.Entries()) {
			t.Errorf("%s: loaded %d of %d", path, rep.Loaded, len(st.Entries()))
		}
		checkModelOutput(t, m, path+" output with re-mapping")
	}
}

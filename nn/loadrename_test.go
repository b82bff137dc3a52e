package nn_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

const qkv0 = "layers.1.blocks.0.attn.qkv"

// TestLoadRename: a renaming that moves the whole file under a module path gives PyTorch's
// outputs, and one that replaces Prefix loads what Prefix loads.
func TestLoadRename(t *testing.T) {
	noLeak(t)
	for _, c := range []struct {
		name, path, under string
		rename            func(string) (string, bool)
	}{
		{"into a module", modelST, "enc", func(n string) (string, bool) { return "enc." + n, true }},
		{"instead of Prefix", samPTH, "", func(n string) (string, bool) { return strings.CutPrefix(n, "image_encoder.") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := nn.NewStore(torch.CPU)
			defer st.Close()
			p := st.Root()
			if c.under != "" {
				p = p.Sub(c.under)
			}
			m := newTestModel(p)
			rep, err := st.Load(c.path, nn.LoadOptions{Rename: c.rename})
			if err != nil {
				t.Fatal(err)
			}
			if want := (nn.LoadReport{Loaded: len(st.Entries())}); !reflect.DeepEqual(rep, want) {
				t.Errorf("report %+v, want %+v", rep, want)
			}
			checkModelOutput(t, m, c.name)
		})
	}
}

// TestLoadRenameOutcomes: a tensor renamed with ok false is ignored, one renamed to a name
// no entry has is unexpected, two renamed onto one entry make the second unexpected; a
// missing tensor is named by its entry, the others by their file names.
func TestLoadRenameOutcomes(t *testing.T) {
	noLeak(t)
	st, m := newModelStore(t)
	before := m.head.Weight.Float32s()
	rename := func(n string) (string, bool) {
		switch {
		case strings.HasPrefix(n, "layers.1."): // not this model's
			return "", false
		case n == "query_embed.weight":
			return "", true
		case strings.HasPrefix(n, "head."): // head.bias and head.weight both fill head.weight
			return "head.weight", true
		}
		return n, true
	}
	_, err := st.Load(modelST, nn.LoadOptions{Rename: rename, Only: []string{"stem.*", "head.*", "query_embed.*", "cross.*"}})
	var le *nn.LoadError
	if !errors.Is(err, nn.ErrLoad) || !errors.As(err, &le) {
		t.Fatalf("err = %v, want an *nn.LoadError", err)
	}
	// Rename("query_embed.weight") is "", which Only does not cover: ignored, and the
	// entry is missing.
	want := nn.LoadReport{
		Missing:    []string{"head.bias", "query_embed.weight"},
		Unexpected: []string{"head.weight"},
		Mismatched: []nn.ShapeMismatch{{Name: "head.bias", File: []int64{3}, Store: []int64{3, 8}}},
	}
	if !reflect.DeepEqual(le.LoadReport, want) {
		t.Errorf("report %+v\nwant   %+v", le.LoadReport, want)
	}
	for _, s := range []string{"2 missing (head.bias, query_embed.weight)", "1 unexpected (head.weight)", "head.bias: file [3], model [3 8]"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the error does not say %q: %v", s, err)
		}
	}
	if !slices.Equal(m.head.Weight.Float32s(), before) {
		t.Error("a failed strict load changed the store")
	}

	// Without Only, "" is not an entry's name: the tensor is unexpected.
	rep, err := st.Load(modelST, nn.LoadOptions{Rename: rename, NonStrict: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Unexpected, []string{"head.weight", "query_embed.weight"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unexpected = %v, want %v", got, want)
	}
}

// TestLoadOptionalAndAllowUnexpected: bad.pth lacks head.bias and qkv.weight (renamed) and
// has stem.0.weight with the wrong shape. Declaring the first two optional, ignoring the
// wrong one and allowing unexpected tensors loads the rest strictly.
func TestLoadOptionalAndAllowUnexpected(t *testing.T) {
	noLeak(t)
	skipStem := func(n string) (string, bool) { return n, n != "stem.0.weight" }
	optional := []string{"head.bias", qkv0 + ".*", "stem.0.weight"}

	st, m := newModelStore(t)
	before := m.stemConv.Weight.Float32s()
	rep, err := st.Load(badPTH, nn.LoadOptions{Rename: skipStem, Optional: optional, AllowUnexpected: true})
	if err != nil {
		t.Fatal(err)
	}
	want := nn.LoadReport{Loaded: len(st.Entries()) - 3, Unexpected: []string{qkv0 + "_renamed.weight"}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	if !slices.Equal(m.stemConv.Weight.Float32s(), before) {
		t.Error("the ignored stem.0.weight was loaded")
	}
	ref := fileTensors(t, badPTH)
	exact(t, "head.weight", m.head.Weight, ref["head.weight"])

	// Unexpected tensors fail a strict load unless allowed; optional entries are not
	// missing.
	st2, _ := newModelStore(t)
	_, err = st2.Load(badPTH, nn.LoadOptions{Rename: skipStem, Optional: optional})
	var le *nn.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want an *nn.LoadError", err)
	}
	if want := (nn.LoadReport{Unexpected: []string{qkv0 + "_renamed.weight"}}); !reflect.DeepEqual(le.LoadReport, want) {
		t.Errorf("report %+v, want %+v", le.LoadReport, want)
	}
	// AllowUnexpected does not allow missing tensors, and the error then does not list
	// the allowed unexpected ones.
	_, err = st2.Load(badPTH, nn.LoadOptions{Rename: skipStem, AllowUnexpected: true})
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want an *nn.LoadError", err)
	}
	if want := (nn.LoadReport{Missing: []string{"head.bias", qkv0 + ".weight", "stem.0.weight"}}); !reflect.DeepEqual(le.LoadReport, want) {
		t.Errorf("report %+v, want %+v", le.LoadReport, want)
	}
}

// TestLoadEntries loads into some entries of a store: the file's other tensors are
// unexpected unless Only leaves them out, and the other entries are not touched.
func TestLoadEntries(t *testing.T) {
	noLeak(t)
	st, m := newModelStore(t)
	beforeStem := m.stemConv.Weight.Float32s()
	beforeHead := m.head.Weight.Float32s()
	var head []*nn.Entry
	for _, e := range st.Entries() {
		if strings.HasPrefix(e.Name, "head.") {
			head = append(head, e)
		}
	}
	w, err := torch.OpenWeights(modelST)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = nn.LoadEntries(w, head, nn.LoadOptions{})
	var le *nn.LoadError
	if !errors.As(err, &le) || len(le.Unexpected) != len(st.Entries())-2 || len(le.Missing)+len(le.Mismatched) != 0 {
		t.Fatalf("err = %v, want every tensor but head's unexpected", err)
	}
	if !slices.Equal(m.head.Weight.Float32s(), beforeHead) {
		t.Error("a failed strict load changed the store")
	}
	rep, err := nn.LoadEntries(w, head, nn.LoadOptions{Only: []string{"head.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Loaded != 2 {
		t.Errorf("loaded %d, want 2", rep.Loaded)
	}
	ref := fileTensors(t, modelST)
	exact(t, "head.weight", m.head.Weight, ref["head.weight"])
	exact(t, "head.bias", m.head.Bias, ref["head.bias"])
	if !slices.Equal(m.stemConv.Weight.Float32s(), beforeStem) {
		t.Error("LoadEntries loaded an entry it was not given")
	}
	if _, err := nn.LoadEntries(w, []*nn.Entry{nil}, nn.LoadOptions{}); err == nil {
		t.Error("a nil entry loaded")
	}
}

// TestCheck reports on entries given by name and shape, as a load would, and copies
// nothing.
func TestCheck(t *testing.T) {
	noLeak(t)
	w, err := torch.OpenWeights(modelST)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	shapes := map[string][]int64{"head.weight": {3, 8}, "head.bias": {4}, "head.extra": {1}}
	o := nn.LoadOptions{Only: []string{"head.*"}}
	want := nn.LoadReport{
		Missing:    []string{"head.extra"},
		Mismatched: []nn.ShapeMismatch{{Name: "head.bias", File: []int64{3}, Store: []int64{4}}},
	}
	_, err = nn.Check(w, shapes, o)
	var le *nn.LoadError
	if !errors.Is(err, nn.ErrLoad) || !errors.As(err, &le) {
		t.Fatalf("err = %v, want an *nn.LoadError", err)
	}
	if !reflect.DeepEqual(le.LoadReport, want) {
		t.Errorf("report %+v\nwant   %+v", le.LoadReport, want)
	}
	o.NonStrict = true
	rep, err := nn.Check(w, shapes, o)
	if err != nil || !reflect.DeepEqual(rep, want) {
		t.Errorf("NonStrict: report %+v, err %v; want %+v", rep, err, want)
	}
	if rep, err := nn.Check(w, map[string][]int64{"head.weight": {3, 8}, "head.bias": {3}}, nn.LoadOptions{Only: []string{"head.*"}}); err != nil || !reflect.DeepEqual(rep, nn.LoadReport{}) {
		t.Errorf("a matching check: report %+v, err %v", rep, err)
	}
}

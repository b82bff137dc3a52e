package nn_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// TestLoadComponent loads the model that sam.pth holds under "image_encoder." (beside other
// components) into a store that keeps it under "backbone" beside a head of its own: one
// call, PyTorch's outputs, the head neither loaded nor reported missing, the file's other
// components ignored. The same component with tensors missing, renamed and misshapen
// (bad.pth, at the top level) fails strictly, naming them by their store names.
func TestLoadComponent(t *testing.T) {
	noLeak(t)
	for _, c := range []struct {
		name, path, from string
		want             nn.LoadReport
		err              bool
	}{
		{name: "prefixed in a bigger file", path: samPTH, from: "image_encoder"},
		{name: "trailing dot", path: samPTH, from: "image_encoder."},
		{name: "whole file", path: modelST, from: ""},
		{name: "broken component", path: badPTH, from: "", err: true, want: nn.LoadReport{
			Missing:    []string{"backbone.head.bias", "backbone.layers.1.blocks.0.attn.qkv.weight"},
			Unexpected: []string{"layers.1.blocks.0.attn.qkv_renamed.weight"},
			Mismatched: []nn.ShapeMismatch{{Name: "stem.0.weight", File: []int64{8, 3, 5, 5}, Store: []int64{8, 3, 3, 3}}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := nn.NewStore(torch.CPU)
			defer st.Close()
			head := nn.NewLinear(st.Root().Sub("head"), 3, 2, nn.LinearConfig{Bias: true})
			headBefore := head.Weight.Float32s()
			m := newTestModel(st.Root().Sub("backbone"))
			rep, err := st.LoadComponent(c.path, c.from, st.Root().Sub("backbone"))
			if c.err {
				var le *nn.LoadError
				if !errors.As(err, &le) || !errors.Is(err, nn.ErrLoad) {
					t.Fatalf("err = %v, want an *nn.LoadError", err)
				}
				if !reflect.DeepEqual(le.LoadReport, c.want) {
					t.Errorf("report %+v\nwant   %+v", le.LoadReport, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := (nn.LoadReport{Loaded: len(st.Entries()) - 2}); !reflect.DeepEqual(rep, want) {
				t.Errorf("report %+v, want %+v", rep, want)
			}
			if !slices.Equal(head.Weight.Float32s(), headBefore) {
				t.Error("the head outside the component changed")
			}
			checkModelOutput(t, m, c.name)
		})
	}
}

// TestComponentOptions: the options are Prefix, Rename and Only together; the root as the
// destination keeps the names.
func TestComponentOptions(t *testing.T) {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	o := nn.Component("image_encoder", st.Root().Sub("enc"))
	if o.Prefix != "image_encoder." || !slices.Equal(o.Only, []string{"enc.*"}) || o.Rename == nil {
		t.Fatalf("options %+v", o)
	}
	if n, ok := o.Rename("neck.0.weight"); !ok || n != "enc.neck.0.weight" {
		t.Errorf("Rename = %q, %v", n, ok)
	}
	if o := nn.Component("", st.Root()); o.Prefix != "" || o.Rename != nil || o.Only != nil {
		t.Errorf("root options %+v, want none", o)
	}
}

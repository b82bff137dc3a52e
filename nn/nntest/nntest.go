// Package nntest holds what tests of models built on package nn share.
package nntest

import (
	"math"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// FillSeeded repeats fill_seeded of the reference scripts (third_party/golden/clip_ref.py
// and tinyvit_ref.py): tensor i of the store's sorted names is drawn after
// torch.ManualSeed(seed*100000+i) — running_var U(0.5, 1.5), running_mean N(0, 0.1),
// attention_biases N(0, 0.5), num_batches_tracked 0, 1-d *.weight N(1, 0.1), other 1-d
// N(0, 0.1), n-d N(0, 1/fan_in) with fan_in = numel/size(0). (clip_ref.py's models hold
// none of the buffer and bias names, so its shorter rule is the same.)
func FillSeeded(t testing.TB, st *nn.Store, seed uint64) {
	t.Helper()
	for i, name := range st.Names() {
		e, _ := st.Get(name)
		x := e.Tensor
		if err := torch.ManualSeed(seed*100000 + uint64(i)); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, "num_batches_tracked"):
			x.Fill(0)
		case strings.HasSuffix(name, "running_var"):
			x.UniformFill(0.5, 1.5, nil)
		case strings.HasSuffix(name, "running_mean"):
			x.NormalFill(0, 0.1, nil)
		case strings.HasSuffix(name, "attention_biases"):
			x.NormalFill(0, 0.5, nil)
		case x.Dim() == 1 && strings.HasSuffix(name, ".weight"):
			x.NormalFill(1, 0.1, nil)
		case x.Dim() == 1:
			x.NormalFill(0, 0.1, nil)
		default:
			x.NormalFill(0, math.Pow(float64(x.Numel()/x.Size(0)), -0.5), nil)
		}
	}
}

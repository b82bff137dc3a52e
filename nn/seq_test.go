package nn_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

const composeGolden = "../testdata/nn/compose.safetensors"

// newSeq is compose_ref.py's torch.nn.Sequential.
func newSeq(p nn.Path) *nn.Sequential {
	return nn.Seq(p,
		nn.LinearPart(5, 8, nn.LinearConfig{Bias: true}),
		nn.Use(nn.ReLU),
		nn.SeqPart(nn.LinearPart(8, 8, nn.LinearConfig{Bias: true}), nn.Use(nn.Tanh)),
		nn.LayerNormPart(1e-5, 8),
		nn.LinearPart(8, 3, nn.LinearConfig{Bias: true}),
	)
}

// TestSeqMatchesPyTorch: a Seq has torch.nn.Sequential's state-dict names (the PyTorch
// state dict loads strictly, with nothing left over) and computes its outputs and gradients.
func TestSeqMatchesPyTorch(t *testing.T) {
	s, g, sum := goldenTest(t, composeGolden)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	q := newSeq(st.Root())
	want := []string{"0.bias", "0.weight", "2.0.bias", "2.0.weight", "3.bias", "3.weight", "4.bias", "4.weight"}
	if got := st.Names(); !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	g.loadCase(t, st, "seq")
	ts := s.Train(nil)
	x := g.input(t, ts, "seq", 0)
	g.checkCase(t, ts, sum, "seq", st, q.Forward(ts, x), []*torch.Tensor{x}, fp32RTol)
}

// TestSeqSlots: the Linear positions of a Seq (nested ones included) are slots named as in
// the store; activations are not.
func TestSeqSlots(t *testing.T) {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	q := newSeq(st.Root().Sub("head"))
	var names []string
	for _, sl := range q.LinearSlots() {
		names = append(names, sl.Name)
		if _, ok := (*sl.Layer).(*nn.Linear); !ok {
			t.Errorf("slot %s holds a %T", sl.Name, *sl.Layer)
		}
	}
	if want := []string{"head.0", "head.2.0", "head.4"}; !slices.Equal(names, want) {
		t.Errorf("slots %v, want %v", names, want)
	}
	// A slot points into the sequence: what is put there runs.
	sl := q.LinearSlots()[2]
	*sl.Layer = nn.Func(func(s *torch.Scope, x *torch.Tensor) *torch.Tensor { return x.MulScalar(s, 0) })
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	if y := q.Forward(s.Eval(), torch.Ones(s, torch.Float32, 2, 5)); y.Abs(s).SumAll(s).Item() != 0 {
		t.Error("the replaced layer did not run")
	}
}

// TestSeqBadPart: a nil part, or one that makes no layer, is a *torch.Error that Try catches.
func TestSeqBadPart(t *testing.T) {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	for name, part := range map[string]nn.Part{
		"nil part":  nil,
		"nil layer": func(nn.Path) nn.Layer { return nil },
	} {
		err := torch.Try(func() { nn.Seq(st.Root().Sub("h"), nn.Use(nn.ReLU), part) })
		var te *torch.Error
		if !errors.As(err, &te) || !errors.Is(err, torch.ErrInvalid) {
			t.Errorf("%s: err = %v, want a *torch.Error (ErrInvalid)", name, err)
		}
	}
}

package losses_test

import (
	"math"
	"testing"

	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

const golden = "../testdata/losses/losses.safetensors"

func TestMaskLossesMatchPyTorch(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, golden)
	fns := map[string]func(s *torch.Scope, x, y *torch.Tensor) *torch.Tensor{
		"bce":    func(s *torch.Scope, x, y *torch.Tensor) *torch.Tensor { return losses.BCE(s, x, y, nil) },
		"bce_pw": func(s *torch.Scope, x, y *torch.Tensor) *torch.Tensor { return losses.BCE(s, x, y, g["pos_weight"]) },
		"dice":   losses.Dice,
	}
	for _, c := range []string{"b1", "b3", "empty"} {
		for name, fn := range fns {
			t.Run(c+"/"+name, func(t *testing.T) {
				x := torchtest.Want(t, g, c+".logits").Clone(s).SetRequiresGrad(true)
				v := fn(s, x, torchtest.Want(t, g, c+".target"))
				v.Backward()
				torchtest.AllClose(t, "value", v, torchtest.Want(t, g, c+"."+name+".value"), 1e-5)
				torchtest.AllClose(t, "grad", x.Grad(s), torchtest.Want(t, g, c+"."+name+".grad"), 1e-5)
			})
		}
	}
}

func TestTokenCEMatchesPyTorch(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, golden)
	for name, fn := range map[string]func(*torch.Scope, *torch.Tensor, *torch.Tensor) *torch.Tensor{
		"ce": losses.TokenCE, "next": losses.NextTokenCE,
	} {
		t.Run(name, func(t *testing.T) {
			x := g["tok.logits"].Clone(s).SetRequiresGrad(true)
			v := fn(s, x, g["tok.labels"])
			v.Backward()
			torchtest.AllClose(t, "value", v, torchtest.Want(t, g, "tok."+name+".value"), 1e-5)
			torchtest.AllClose(t, "grad", x.Grad(s), torchtest.Want(t, g, "tok."+name+".grad"), 1e-5)
		})
	}
}

func TestAllIgnoredTokensGiveZero(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	x := torch.Randn(s, nil, torch.Float32, 2, 4, 5).SetRequiresGrad(true)
	labels := torch.Full(s, losses.IgnoreIndex, torch.Int64, 2, 4)
	v := losses.TokenCE(s, x, labels)
	v.Backward()
	if got := v.Item(); got != 0 {
		t.Fatalf("all-ignored CE = %v, want 0", got)
	}
	for i, gv := range x.Grad(s).Float32s() {
		if gv != 0 || math.IsNaN(float64(gv)) {
			t.Fatalf("gradient element %d = %v, want 0", i, gv)
		}
	}
}

func TestObjectiveMatchesPyTorch(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, golden)
	ml := g["obj.mask_logits"].Clone(s).SetRequiresGrad(true)
	tl := g["obj.tok_logits"].Clone(s).SetRequiresGrad(true)
	p := losses.DefaultWeights().Objective(s, ml, g["obj.mask_target"], tl, g["obj.labels"])
	p.Total.Backward()
	for name, got := range map[string]*torch.Tensor{"total": p.Total, "bce": p.BCE, "dice": p.Dice, "ce": p.CE} {
		torchtest.AllClose(t, name, got, torchtest.Want(t, g, "obj."+name), 1e-5)
	}
	torchtest.AllClose(t, "grad mask", ml.Grad(s), g["obj.grad_mask"], 1e-5)
	torchtest.AllClose(t, "grad tokens", tl.Grad(s), g["obj.grad_tok"], 1e-5)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRejectsNaN(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	x := torch.Full(s, math.NaN(), torch.Float32, 1, 1, 2, 2)
	y := torch.Zeros(s, torch.Float32, 1, 1, 2, 2)
	p := losses.DefaultWeights().Objective(s, x, y, nil, nil)
	if err := p.Check(); err == nil {
		t.Fatal("Check accepted a NaN loss")
	}
}

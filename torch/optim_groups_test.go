package torch_test

import (
	"errors"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

// TestParamGroupsInheritLikePyTorch: a group field left nil takes the optimizer's value,
// one set (zero included) keeps it, as PyTorch's param groups do with and without the key.
// One case per field: the golden (third_party/golden/optim_groups_ref.py) holds the values
// PyTorch's param_groups hold after construction and the result of 20 steps; group 0 never
// sets anything, group 1 sets the case's field.
func TestParamGroupsInheritLikePyTorch(t *testing.T) {
	f := loadGoldenFile(t, "optim_groups")
	adamw := torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2}
	sgd := torch.SGDConfig{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-3}
	cases := []struct {
		name string
		set  torch.ParamGroup // the second group's fields
	}{
		{"adamw_none", torch.ParamGroup{}},
		{"adamw_lr", torch.ParamGroup{LR: torch.Float(5e-3)}},
		{"adamw_lr_zero", torch.ParamGroup{LR: torch.Float(0)}},
		{"adamw_betas", torch.ParamGroup{Betas: torch.Betas(0.8, 0.99)}},
		{"adamw_eps", torch.ParamGroup{Eps: torch.Float(1e-3)}},
		{"adamw_weight_decay", torch.ParamGroup{WeightDecay: torch.Float(0.5)}},
		{"adamw_weight_decay_zero", torch.ParamGroup{WeightDecay: torch.Float(0)}},
		{"sgd_none", torch.ParamGroup{}},
		{"sgd_lr", torch.ParamGroup{LR: torch.Float(0.02)}},
		{"sgd_weight_decay", torch.ParamGroup{WeightDecay: torch.Float(0.1)}},
		{"sgd_weight_decay_zero", torch.ParamGroup{WeightDecay: torch.Float(0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newGoldMLP(f, false)
			defer m.s.Close()
			second := c.set
			second.Params = m.params("W2", "b2")
			groups := []*torch.ParamGroup{{Params: m.params("W1", "b1")}, &second}
			var opt torch.Optimizer
			isAdamW := c.name[:5] == "adamw"
			if isAdamW {
				opt = torch.NewAdamW(groups, adamw)
			} else {
				opt = torch.NewSGD(groups, sgd)
			}
			defer opt.Close()
			want := f.Raw(c.name + ".groups")
			wv, cols := want.Float64s(), int(want.Shape[1])
			for i, g := range opt.Groups() {
				got := []float64{*g.LR, *g.WeightDecay}
				if isAdamW {
					got = []float64{*g.LR, g.Betas[0], g.Betas[1], *g.Eps, *g.WeightDecay}
				}
				for j := range got {
					if got[j] != wv[i*cols+j] {
						t.Errorf("group %d: values %v, PyTorch's param_groups hold %v", i, got, wv[i*cols:(i+1)*cols])
						break
					}
				}
			}
			losses := m.run(opt, 20)
			m.check(t, c.name, losses, 0)
		})
	}
}

// TestSGDRefusesAdamWFields: SGD has no betas or eps; a group that sets them is refused.
func TestSGDRefusesAdamWFields(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	p := torch.Zeros(s, torch.Float32, 2).SetRequiresGrad(true)
	err := torch.Try(func() {
		torch.NewSGD([]*torch.ParamGroup{{Params: []*torch.Tensor{p}, Eps: torch.Float(1e-3)}}, torch.SGDConfig{LR: 0.1})
	})
	if !errors.Is(err, torch.ErrInvalid) {
		t.Errorf("SGD with a group setting Eps: %v, want ErrInvalid", err)
	}
}

package torch_test

// The fused calls (RMSNorm, Rotary, SwiGLU, LoRALinear), the multi-tensor AdamW and the
// device-side clipping against fused.safetensors (third_party/golden/fused_ref.py, PyTorch
// 1.13): outputs and input gradients of the fused calls against the same maths written
// op by op in PyTorch; AdamW(foreach=True) and torch.nn.utils.clip_grad_norm_ runs. The
// single-tensor AdamW goldens of optim.safetensors must hold for every implementation too.

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

var fusedOps = map[string]goldenCase{
	"rms_norm_f32": {fn: func(s *torch.Scope, in []*torch.Tensor) []*torch.Tensor {
		return one(torch.RMSNorm(s, in[0], in[1], 1e-5))
	}},
	"rms_norm_bf16": {fn: func(s *torch.Scope, in []*torch.Tensor) []*torch.Tensor {
		return one(torch.RMSNorm(s, in[0], in[1], 1e-5))
	}},
	"rotary": {fn: func(s *torch.Scope, in []*torch.Tensor) []*torch.Tensor {
		q, k := torch.Rotary(s, in[0], in[1], in[2], in[3])
		return []*torch.Tensor{q, k}
	}},
	"swiglu": {fn: func(s *torch.Scope, in []*torch.Tensor) []*torch.Tensor {
		return one(torch.SwiGLU(s, in[0], in[1], nil, in[2], nil, in[3], nil))
	}},
	"swiglu_bias": {fn: func(s *torch.Scope, in []*torch.Tensor) []*torch.Tensor {
		return one(torch.SwiGLU(s, in[0], in[1], in[2], in[3], in[4], in[5], in[6]))
	}},
	"lora": {fn: func(s *torch.Scope, in []*torch.Tensor) []*torch.Tensor {
		return one(torch.LoRALinear(s, in[0], in[1], in[2], in[3], in[4], 2.0))
	}},
	"lora_bf16": {fn: func(s *torch.Scope, in []*torch.Tensor) []*torch.Tensor {
		return one(torch.LoRALinear(s, in[0], in[1], nil, in[2], in[3], 0.5))
	}},
}

func one(t *torch.Tensor) []*torch.Tensor { return []*torch.Tensor{t} }

func TestGoldenFused(t *testing.T) {
	base := torch.LiveTensors()
	f := loadGoldenFile(t, "fused")
	seen := map[string]bool{}
	for _, name := range f.Cases() {
		c, ok := fusedOps[name]
		if !ok {
			t.Errorf("%s: golden case has no Go implementation", name)
			continue
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) { runGoldenCase(t, f, name, c) })
	}
	for name := range fusedOps {
		if !seen[name] {
			t.Errorf("%s: no golden case", name)
		}
	}
	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}

func TestFusedErrors(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	x := torch.Ones(s, torch.Float32, 2, 8)
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"rms_norm weight size", func() { torch.RMSNorm(s, x, torch.Ones(s, torch.Float32, 5), 1e-5) }},
		{"rotary cos shape", func() { torch.Rotary(s, x, nil, torch.Ones(s, torch.Float32, 3), torch.Ones(s, torch.Float32, 3)) }},
		{"swiglu inner size", func() {
			torch.SwiGLU(s, x, torch.Ones(s, torch.Float32, 4, 8), nil, torch.Ones(s, torch.Float32, 4, 8), nil, torch.Ones(s, torch.Float32, 8, 3), nil)
		}},
		{"lora rank", func() {
			torch.LoRALinear(s, x, torch.Ones(s, torch.Float32, 6, 8), nil, torch.Ones(s, torch.Float32, 4, 8), torch.Ones(s, torch.Float32, 6, 3), 1)
		}},
		{"freed input", func() {
			y := torch.Ones(s, torch.Float32, 2, 8)
			y.Free()
			torch.RMSNorm(s, y, torch.Ones(s, torch.Float32, 8), 1e-5)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := torch.Try(c.fn)
			var te *torch.Error
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *torch.Error", err)
			}
			t.Logf("%v", err)
		})
	}
}

func TestGoldenClipGradNormTensor(t *testing.T) {
	base := torch.LiveTensors()
	f := loadGoldenFile(t, "fused")
	for _, c := range []struct {
		name             string
		maxNorm, normTyp float64
		dt               torch.DType
	}{
		{"clip5_l2", 1, 2, torch.Float32},
		{"clip5_inf", 0.5, math.Inf(1), torch.Float32},
		{"clip5_noop", 1e3, 2, torch.Float32},
		{"clip5_l2_bf16", 1, 2, torch.BFloat16},
	} {
		for _, impl := range []struct {
			name string
			fn   func(s *torch.Scope, ps []*torch.Tensor, maxNorm, normType float64) *torch.Tensor
		}{{"foreach", torch.ClipGradNormTensor}, {"per_tensor", torch.ClipGradNormPerTensor}} {
			t.Run(c.name+"/"+impl.name, func(t *testing.T) {
				s := torch.NewScope(torch.CPU)
				defer s.Close()
				var ps []*torch.Tensor
				shapes := [][]int64{{4, 3}, {7}, {2, 2, 2}, {3}, {5, 1}}
				for i, sh := range shapes {
					p := torch.Zeros(s, c.dt, sh...).SetRequiresGrad(true)
					if i != 3 {
						// d/dp Σ p·g = g: the gradient PyTorch's case set directly.
						p.Mul(s, f.Tensor(s, c.name+".g"+string(rune('0'+i)))).SumAll(s).Backward()
					}
					ps = append(ps, p)
				}
				total := impl.fn(s, ps, c.maxNorm, c.normTyp)
				if total == nil {
					t.Fatalf("no total norm")
				}
				if total.Dim() != 0 || total.DType() != c.dt || total.Device() != torch.CPU {
					t.Errorf("total is %v, want a 0-d %v tensor on the CPU", total, c.dt)
				}
				tol := torchtest.DefaultTol(c.dt)
				want := f.Raw(c.name + ".total").Float64s()[0]
				st := torchtest.CompareValues([]float64{total.Item()}, []float64{want}, tol)
				if !st.OK() {
					t.Errorf("total norm %.9g, want %.9g (%s)", total.Item(), want, st)
				}
				for i, p := range ps {
					g := p.Grad(s)
					key := c.name + ".clipped" + string(rune('0'+i))
					if !f.Has(key) {
						if g != nil {
							t.Errorf("param %d had no gradient and now has one", i)
						}
						continue
					}
					torchtest.AllCloseRaw(t, key, g, f.Raw(key), tol)
				}
			})
		}
	}
	t.Run("no_grads", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		p := torch.Ones(s, torch.Float32, 3).SetRequiresGrad(true)
		if n := torch.ClipGradNormTensor(s, []*torch.Tensor{p}, 1, 2); n != nil {
			t.Errorf("ClipGradNormTensor without gradients = %v, want nil", n)
		}
	})
	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}

// TestGoldenAdamWImpls runs every AdamW implementation against PyTorch's single-tensor
// (optim.safetensors) and foreach (fused.safetensors) runs, and checks that the
// implementations agree with each other to float32 rounding.
func TestGoldenAdamWImpls(t *testing.T) {
	base := torch.LiveTensors()
	single := loadGoldenFile(t, "optim")
	foreach := loadGoldenFile(t, "fused")
	impls := []torch.AdamWImpl{torch.AdamWAuto, torch.AdamWPerTensor, torch.AdamWForeach}
	if cpuFusedAdamW() {
		impls = append(impls, torch.AdamWFused)
	}
	final := map[torch.AdamWImpl]map[string][]float64{}
	for _, impl := range impls {
		for _, g := range []struct {
			file   *torchtest.File
			golden string
			late   bool
		}{
			{single, "adamw", false}, {single, "adamw_late", true},
			{foreach, "adamw_foreach", false}, {foreach, "adamw_late_foreach", true},
		} {
			t.Run(impl.String()+"/"+g.golden, func(t *testing.T) {
				m := newGoldMLP(g.file, g.late)
				defer m.s.Close()
				var opt *torch.AdamW
				if g.late {
					cfg := torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2, Impl: impl}
					opt = torch.NewAdamW([]*torch.ParamGroup{{Params: m.params("W1", "b1", "W2", "b2", "W3")}}, cfg)
				} else {
					cfg := adamwCfg
					cfg.Impl = impl
					opt = torch.NewAdamW(adamwGroups(m), cfg)
				}
				defer opt.Close()
				losses := m.run(opt, 20)
				m.check(t, g.golden, losses, 0)
				if g.golden == "adamw_late" {
					vals := map[string][]float64{}
					for n, p := range m.p {
						vals[n] = torchtest.Decode(p.DType(), p.Bytes())
					}
					final[impl] = vals
				}
			})
		}
	}
	ref := final[torch.AdamWPerTensor]
	for _, impl := range impls {
		for n, v := range final[impl] {
			if st := torchtest.CompareValues(v, ref[n], torchtest.Tol{RTol: 1e-6, ATol: 1e-7}); !st.OK() {
				t.Errorf("%v vs per-tensor, %s: %s", impl, n, st)
			}
		}
	}
	if !torch.FusedAdamWAvailable() {
		t.Run("fused_unavailable", func(t *testing.T) {
			m := newGoldMLP(single, false)
			defer m.s.Close()
			cfg := adamwCfg
			cfg.Impl = torch.AdamWFused
			opt := torch.NewAdamW(adamwGroups(m), cfg)
			defer opt.Close()
			err := torch.Try(func() { m.run(opt, 1) })
			if !errors.Is(err, torch.ErrDevice) {
				t.Errorf("fused AdamW on %s: got %v, want ErrDevice", torch.Version(), err)
			}
		})
	}
	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}

// cpuFusedAdamW reports whether AdamWFused runs on CPU tensors here: libtorch has the fused
// kernel (2.x) and, from 2.4 on, a CPU implementation of it.
func cpuFusedAdamW() bool {
	if !torch.FusedAdamWAvailable() {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(torch.Version(), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || (major == 2 && minor >= 4)
}

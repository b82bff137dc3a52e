package torch_test

// Autocast against autocast.safetensors (third_party/golden/autocast_ref.py): ops run in a
// Scope.Autocast(BFloat16) scope on the CPU give what torch.autocast("cpu",
// dtype=torch.bfloat16) gives (output dtype and values), gradients reach the float32
// leaves in float32, and the same op outside autocast stays float32.

import (
	"errors"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/internal/shim"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

func TestGoldenAutocastCPU(t *testing.T) {
	f := loadGoldenFile(t, "autocast")
	conv := func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor {
		return torch.Conv2d(s, in[0], in[1], in[2], torch.ConvOpts{Padding: [2]int64{1, 1}})
	}
	cases := []struct {
		name     string
		n        int
		autocast bool
		fn       func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor
	}{
		{"linear", 3, true, func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor { return torch.Linear(s, in[0], in[1], in[2]) }},
		{"linear.plain", 3, false, func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor { return torch.Linear(s, in[0], in[1], in[2]) }},
		{"matmul", 2, true, func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor { return in[0].Matmul(s, in[1]) }},
		{"bmm", 2, true, func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor { return in[0].Bmm(s, in[1]) }},
		{"conv2d", 3, true, conv},
		{"chain", 3, true, func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor {
			return torch.Linear(s, in[0], in[1], nil).Gelu(s).Add(s, in[2])
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := torch.NewScope(torch.CPU)
			defer s.Close()
			in := make([]*torch.Tensor, c.n)
			for i := range in {
				in[i] = f.Tensor(s, c.name+".in"+itoa(i)).SetRequiresGrad(true)
			}
			run := s
			if c.autocast {
				run = s.Autocast(torch.BFloat16)
				if dt, on := run.AutocastDType(); !on || dt != torch.BFloat16 {
					t.Fatalf("AutocastDType = %v, %v; want bfloat16, true", dt, on)
				}
				if _, on := run.Child().AutocastDType(); !on {
					t.Errorf("a child of an autocast scope does not inherit it")
				}
			}
			out := c.fn(run, in)
			want := f.Raw(c.name + ".out")
			torchtest.AllCloseRaw(t, "out", out, want, torchtest.DefaultTol(want.DType))
			// Backward outside autocast, as in the golden script.
			out.Mul(s, f.Tensor(s, c.name+".gout")).SumAll(s).Backward()
			for i := range in {
				if dt := in[i].Grad(s).DType(); dt != torch.Float32 {
					t.Errorf("grad%d is %s, want float32", i, dt)
				}
				torchtest.AllCloseRaw(t, "grad"+itoa(i), in[i].Grad(s), f.Raw(c.name+".grad"+itoa(i)),
					torchtest.Tol{RTol: 1e-2, ATol: 1e-2})
			}
		})
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestAutocastScopes(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	if _, on := s.AutocastDType(); on {
		t.Fatalf("a new scope has autocast on")
	}
	x := torch.Randn(s, nil, torch.Float32, 3, 4)
	w := torch.Randn(s, nil, torch.Float32, 4, 2)
	ac := s.Autocast(torch.BFloat16)
	if got := x.Matmul(ac, w).DType(); got != torch.BFloat16 {
		t.Errorf("matmul under autocast is %s, want bfloat16", got)
	}
	if got := x.Matmul(ac.NoAutocast(), w).DType(); got != torch.Float32 {
		t.Errorf("matmul in NoAutocast child is %s, want float32", got)
	}
	if got := x.Matmul(ac.NoGrad(), w).DType(); got != torch.BFloat16 {
		t.Errorf("matmul in a NoGrad child of an autocast scope is %s, want bfloat16", got)
	}
	// The thread is left as it was: the next call without autocast is float32.
	if got := x.Matmul(s, w).DType(); got != torch.Float32 {
		t.Errorf("matmul after an autocast call is %s, want float32", got)
	}
	// An unsupported dtype is refused when the scope is made.
	err := torch.Try(func() { s.Autocast(torch.Float32) })
	if !errors.Is(err, torch.ErrDType) {
		t.Errorf("Autocast(Float32): %v, want ErrDType", err)
	}
}

// TestModeGuard checks the shim's per-call guard directly: inside a call the flags are what
// was asked (autocast cache off), and after it the thread is back to its default state.
func TestModeGuard(t *testing.T) {
	bf := int(torch.BFloat16)
	cases := []struct {
		name string
		in   shim.Mode
		want shim.Mode
	}{
		{"none", 0, 0},
		{"grad", shim.ModeGrad, shim.ModeGrad},
		{"cpu bf16", shim.ModeGrad.WithAutocast(false, bf), shim.ModeGrad.WithAutocast(false, bf)},
		{"cpu bf16 no grad", shim.Mode(0).WithAutocast(false, bf), shim.Mode(0).WithAutocast(false, bf)},
		// CUDA autocast is thread-local dispatch state; setting it needs no GPU.
		{"cuda bf16", shim.ModeGrad.WithAutocast(true, bf), shim.ModeGrad.WithAutocast(true, bf)},
		{"cuda fp16", shim.ModeGrad.WithAutocast(true, int(torch.Float16)), shim.ModeGrad.WithAutocast(true, int(torch.Float16))},
	}
	for _, c := range cases {
		got, err := shim.ProbeMode(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: inside the call %#x, want %#x", c.name, got, c.want)
		}
		after, err := shim.ProbeMode(0)
		if err != nil || after != 0 {
			t.Errorf("%s: after the call the thread has mode %#x (%v), want 0", c.name, after, err)
		}
	}
	if _, err := shim.ProbeMode(shim.ModeGrad.WithAutocast(false, int(torch.Float32))); err == nil {
		t.Errorf("autocast to float32 was accepted")
	}
	// float16 CPU autocast: refused by libtorch 1.13's guard, accepted from 2.4 on.
	_, err := shim.ProbeMode(shim.ModeGrad.WithAutocast(false, int(torch.Float16)))
	if old := strings.HasPrefix(torch.Version(), "1.") || strings.HasPrefix(torch.Version(), "2.0") ||
		strings.HasPrefix(torch.Version(), "2.1.") || strings.HasPrefix(torch.Version(), "2.2.") ||
		strings.HasPrefix(torch.Version(), "2.3."); old != (err != nil) {
		t.Errorf("float16 CPU autocast on libtorch %s: error %v", torch.Version(), err)
	}
}

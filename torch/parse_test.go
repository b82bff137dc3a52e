package torch_test

import (
	"errors"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

func TestParseDevice(t *testing.T) {
	cuda := torch.CUDAAvailable()
	cases := []struct {
		in   string
		want torch.Device
		ok   bool
	}{
		{"cpu", torch.CPU, true},
		{" CPU ", torch.CPU, true},
		{"cuda", torch.CUDA(0), cuda},
		{"cuda:0", torch.CUDA(0), cuda},
		{"cuda:999", torch.CUDA(999), false},
		{"cuda:-1", torch.CPU, false},
		{"cuda:x", torch.CPU, false},
		{"gpu", torch.CPU, false},
		{"", torch.CPU, false},
	}
	for _, c := range cases {
		got, err := torch.ParseDevice(c.in)
		if c.ok {
			if err != nil || got != c.want {
				t.Errorf("ParseDevice(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		if !errors.Is(err, torch.ErrDevice) {
			t.Errorf("ParseDevice(%q) = %v, %v; want ErrDevice", c.in, got, err)
		} else {
			t.Logf("ParseDevice(%q): %v", c.in, err)
		}
	}
}

func TestParseDType(t *testing.T) {
	cases := []struct {
		in   string
		want torch.DType
		ok   bool
	}{
		{"float32", torch.Float32, true}, {"fp32", torch.Float32, true},
		{"bfloat16", torch.BFloat16, true}, {"BF16", torch.BFloat16, true},
		{"float16", torch.Float16, true}, {"half", torch.Float16, true},
		{"float64", torch.Float32, false}, {"int8", torch.Float32, false}, {"", torch.Float32, false},
	}
	for _, c := range cases {
		got, err := torch.ParseDType(c.in)
		if c.ok != (err == nil) || c.ok && got != c.want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v (ok %v)", c.in, got, err, c.want, c.ok)
		}
		if !c.ok && !errors.Is(err, torch.ErrDType) {
			t.Errorf("ParseDType(%q): %v, want ErrDType", c.in, err)
		}
	}
}

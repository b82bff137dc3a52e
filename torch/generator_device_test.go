package torch

// An internal test: a CUDA generator cannot be made on a machine without CUDA, so the
// device check is exercised with a CPU generator labelled as a CUDA one.

import (
	"errors"
	"strings"
	"testing"
)

func TestGeneratorOnWrongDevice(t *testing.T) {
	s := NewScope(CPU)
	defer s.Close()
	g, err := NewGenerator(1, CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	x := Ones(s, Float32, 4, 4)
	q := Ones(s, Float32, 1, 2, 3, 4)
	p := Ones(s, Float32, 2, 4)
	ops := []struct {
		name string
		fn   func(g *Generator)
	}{
		{"rand", func(g *Generator) { Rand(s, g, Float32, 3) }},
		{"randn", func(g *Generator) { Randn(s, g, Float32, 3) }},
		{"randint", func(g *Generator) { Randint(s, g, 0, 5, 3) }},
		{"uniform_", func(g *Generator) { x.UniformFill(0, 1, g) }},
		{"normal_", func(g *Generator) { x.NormalFill(0, 1, g) }},
		{"dropout", func(g *Generator) { Dropout(s, x, 0.5, true, g) }},
		{"sdpa", func(g *Generator) { ScaledDotProductAttention(s, q, q, q, AttentionOpts{Dropout: 0.1, Generator: g}) }},
		{"multinomial", func(g *Generator) { Multinomial(s, p, 1, false, g) }},
	}
	for _, op := range ops {
		if err := Try(func() { op.fn(g) }); err != nil {
			t.Errorf("%s with a CPU generator on the CPU: %v", op.name, err)
		}
		wrong := &Generator{g: g.g, device: CUDA(0)}
		err := Try(func() { op.fn(wrong) })
		if !errors.Is(err, ErrDevice) || !strings.Contains(err.Error(), "cuda:0") {
			t.Errorf("%s with a cuda:0 generator on the CPU: %v, want ErrDevice naming cuda:0", op.name, err)
		}
	}
	// A generator an op will not draw from is not checked (dropout in eval mode).
	wrong := &Generator{g: g.g, device: CUDA(0)}
	if err := Try(func() { Dropout(s, x, 0.5, false, wrong) }); err != nil {
		t.Errorf("eval-mode dropout with an unused generator: %v", err)
	}
	if !CUDAAvailable() {
		if _, err := NewGenerator(1, CUDA(0)); !errors.Is(err, ErrDevice) {
			t.Errorf("NewGenerator on cuda:0 without CUDA: %v, want ErrDevice", err)
		}
	}
}

package torch_test

// The host path of an op allocates nothing in Go: a scope hands out its Tensor values from
// chunks, and shape queries keep their buffers on the stack. Counts, not times.

import (
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

func TestOpAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	root := torch.NewScope(torch.CPU)
	defer root.Close()
	x := torch.FromSlice(root, []float32{1, 2, 3, 4}, 2, 2)
	y := torch.FromSlice(root, []float32{5, 6, 7, 8}, 2, 2)
	s := root.Child()
	defer s.Close()
	for _, c := range []struct {
		name string
		max  float64
		fn   func()
	}{
		{"add then free", 0, func() { x.Add(s, y).Free() }},
		{"add kept in the scope", 0, func() { x.Add(s, y) }},
		{"size", 0, func() { _ = x.Size(-1) }},
		{"child scope with four ops", 1, func() {
			c := s.Child()
			for i := 0; i < 4; i++ {
				x.Add(c, y)
			}
			c.Close()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// AllocsPerRun averages with integer division: the occasional chunk or list
			// growth of a long-lived scope rounds away, one allocation per op does not.
			if n := testing.AllocsPerRun(2000, c.fn); n > c.max {
				t.Errorf("%s: %v allocations per run, want at most %v", c.name, n, c.max)
			}
		})
	}
}

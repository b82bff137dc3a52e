package torch_test

import (
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

// Restoring a saved state repeats the draws that followed the save (dropout masks
// included), for a generator of the scope's own and for libtorch's default one, and can be
// done more than once.
func TestSaveRNGRestoreRepeatsDraws(t *testing.T) {
	own, err := torch.NewGenerator(5, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	for _, g := range []*torch.Generator{own, nil} {
		s := torch.NewScope(torch.CPU).Train(g)
		x := torch.Ones(s, torch.Float32, 64)
		draw := func() []float32 {
			return slices.Concat(torch.Rand(s, g, torch.Float32, 8).Float32s(), torch.Dropout(s, x, 0.5, true, s.Generator()).Float32s())
		}
		draw()
		st := s.SaveRNG(torch.CPU)
		a := draw()
		if b := draw(); slices.Equal(a, b) {
			t.Fatalf("generator %v: two draws in a row are equal", g)
		}
		for range 2 {
			st.Restore()
			if b := draw(); !slices.Equal(a, b) {
				t.Fatalf("generator %v: the draws after Restore differ from those after the save", g)
			}
		}
		s.Close()
	}
}

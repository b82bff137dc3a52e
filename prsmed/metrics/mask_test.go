package metrics

import (
	"errors"
	"slices"
	"testing"
)

func TestNearestSource(t *testing.T) {
	tests := []struct {
		src, dst int
		want     []int
	}{
		{4, 4, []int{0, 1, 2, 3}},
		{2, 4, []int{0, 0, 1, 1}},
		{4, 2, []int{0, 2}},
		{3, 5, []int{0, 0, 1, 1, 2}},
		{5, 3, []int{0, 1, 3}},
		{1, 3, []int{0, 0, 0}},
		{3, 1, []int{0}},
		// 1/(18/14) rounds so that x = 9 gives 6.999…: OpenCV reads 6, not 7.
		{14, 18, []int{0, 0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 10, 10, 11, 12, 13}},
	}
	for _, tt := range tests {
		if got := NearestSource(tt.src, tt.dst); !slices.Equal(got, tt.want) {
			t.Errorf("NearestSource(%d, %d) = %v, want %v", tt.src, tt.dst, got, tt.want)
		}
	}
}

func TestResize(t *testing.T) {
	p := probOf([]float64{0.1, 0.2, 0.3}, []float64{0.4, 0.5, 0.6})
	r, err := Resize(p, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.1, 0.1, 0.2, 0.2, 0.3, 0.3}; r.W != 6 || r.H != 1 || !slices.Equal(r.Pix, want) {
		t.Errorf("Resize to 6×1 = %+v, want %v", r, want)
	}
	same, err := Resize(p, 3, 2)
	if err != nil || &same.Pix[0] != &p.Pix[0] {
		t.Errorf("Resize to the same size copied or failed: %v", err)
	}
	if _, err := Resize(p, 0, 2); !errors.Is(err, ErrShape) {
		t.Errorf("Resize to 0×2: %v", err)
	}
}

func TestMaskCount(t *testing.T) {
	if n := maskOf("#.#", "..#").Count(); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	if n := NewMask(4, 4).Count(); n != 0 {
		t.Errorf("empty Count = %d", n)
	}
}

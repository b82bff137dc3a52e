package window

import (
	"errors"
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Window
		bad  bool
	}{
		{"", File(), false},
		{"file", File(), false},
		{"file:2", Window{Kind: FromFile, Index: 2}, false},
		{"minmax", MinMaxWindow(), false},
		{"Lung", Window{Kind: Explicit, Center: -600, Width: 1500, Name: "lung"}, false},
		{"brain", Window{Kind: Explicit, Center: 40, Width: 80, Name: "brain"}, false},
		{"-600, 1500", CenterWidth(-600, 1500), false},
		{"40,0", Window{}, true},
		{"40,-3", Window{}, true},
		{"40", Window{}, true},
		{"nan,4", Window{}, true},
		{"file:-1", Window{}, true},
		{"liver", Window{}, true},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if (err != nil) != c.bad {
			t.Errorf("Parse(%q): error %v", c.in, err)
			continue
		}
		if c.bad {
			if !errors.Is(err, ErrBadWindow) {
				t.Errorf("Parse(%q): error %v is not ErrBadWindow", c.in, err)
			}
			continue
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if back, err := Parse(got.String()); err != nil || back != got {
			t.Errorf("Parse(%q.String() = %q) = %+v, %v", c.in, got.String(), back, err)
		}
	}
}

// TestNormalize checks DICOM's LINEAR, LINEAR_EXACT and SIGMOID functions (PS3.3
// C.11.2.1.2) at hand-computed points.
func TestNormalize(t *testing.T) {
	cases := []struct {
		f    Func
		c, w float64
		x    []float64
		want []float64
	}{
		// LINEAR, c=40 w=400: x <= 40-0.5-199.5 = -160 → 0; x > 239 → 1.
		{Linear, 40, 400, []float64{-160, -159, 39.5, 239, 239.5}, []float64{0, 1.0 / 399, 0.5, 1, 1}},
		{LinearExact, 100, 50, []float64{75, 100, 124.9, 125, 126}, []float64{0, 0.5, 0.998, 1, 1}},
		{Sigmoid, 0, 10, []float64{0, 10}, []float64{0.5, 1 / (1 + math.Exp(-4))}},
	}
	for _, c := range cases {
		got, err := Normalize(nil, c.x, c.c, c.w, c.f)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("func %d c %v w %v: f(%v) = %v, want %v", c.f, c.c, c.w, c.x[i], got[i], c.want[i])
			}
		}
	}
	if _, err := Normalize(nil, []float64{1}, 0, 0.5, Linear); !errors.Is(err, ErrBadWindow) {
		t.Errorf("LINEAR width 0.5: error %v", err)
	}
	if _, err := Normalize(nil, []float64{1}, 0, 0, LinearExact); !errors.Is(err, ErrBadWindow) {
		t.Errorf("LINEAR_EXACT width 0: error %v", err)
	}
}

func TestMinMaxAndLevels(t *testing.T) {
	got := NormalizeMinMax(nil, []float64{-10, 0, 10, math.NaN()})
	want := []float64{0, 0.5, 1, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("minmax[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if c := NormalizeMinMax(nil, []float64{3, 3}); c[0] != 0 || c[1] != 0 {
		t.Errorf("constant image: %v", c)
	}
	levels := map[float64]uint8{-1: 0, 0: 0, 0.5: 128, 1.0 / 255: 1, 0.4999 / 255: 0, 1: 255, 2: 255, math.NaN(): 0}
	for v, want := range levels {
		if got := Level8(v); got != want {
			t.Errorf("Level8(%v) = %d, want %d", v, got, want)
		}
	}
	g := Gray8([]float64{0, 1, 0.5, 0.25}, 2, 2, true)
	if g.Pix[0] != 255 || g.Pix[1] != 0 || g.Pix[2] != 128 || g.Pix[3] != 191 {
		t.Errorf("inverted gray %v", g.Pix)
	}
}

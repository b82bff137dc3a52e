package metrics_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// TestInt64Sizes: the constructors take int64 sizes as a torch shape holds them and make
// what int sizes make.
func TestInt64Sizes(t *testing.T) {
	v := []float32{0.1, 0.9, 0.5, 0.25, 1, 0}
	shape := []int64{2, 3} // (H, W)
	a, err := metrics.ProbFromFloat32(shape[1], shape[0], v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := metrics.ProbFromFloat32(3, 2, v)
	if !reflect.DeepEqual(a, b) || a.W != 3 || a.H != 2 {
		t.Errorf("int64 %+v, int %+v", a, b)
	}
	if !reflect.DeepEqual(metrics.NewMask(int64(4), 5), metrics.NewMask(4, 5)) {
		t.Error("NewMask differs between int64 and int")
	}
	r64, err := metrics.Resize(a, shape[1]*2, shape[0]*2)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := metrics.Resize(b, 6, 4); !reflect.DeepEqual(r64, r) {
		t.Error("Resize differs between int64 and int")
	}
}

// TestProbsFromFloat32: a (B, 1, H, W) or (B, H, W) batch splits into B maps, each the map
// of its own slice; a shape that does not fit the values is an ErrShape naming it.
func TestProbsFromFloat32(t *testing.T) {
	v := make([]float32, 2*2*3)
	for i := range v {
		v[i] = float32(i) / 12
	}
	for _, shape := range [][]int64{{2, 1, 2, 3}, {2, 2, 3}} {
		ps, err := metrics.ProbsFromFloat32(shape, v)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 {
			t.Fatalf("%v: %d maps, want 2", shape, len(ps))
		}
		for i, p := range ps {
			want, _ := metrics.ProbFromFloat32(3, 2, v[i*6:(i+1)*6])
			if !reflect.DeepEqual(p, want) {
				t.Errorf("%v: map %d = %+v, want %+v", shape, i, p, want)
			}
		}
	}
	for _, shape := range [][]int64{{2, 2, 2, 3}, {2, 2, 4}, {12}, {0, 2, 3}} {
		if _, err := metrics.ProbsFromFloat32(shape, v); !errors.Is(err, metrics.ErrShape) {
			t.Errorf("%v: err = %v, want ErrShape", shape, err)
		}
	}
}

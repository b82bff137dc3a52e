package torch_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

// keyedMask runs keyed dropout (p) on ones of the given shape, in a training scope whose
// generator is freshly seeded with seed, and returns the result.
func keyedMask(t *testing.T, s *torch.Scope, keys []uint64, p float64, seed uint64, shape ...int64) *torch.Tensor {
	t.Helper()
	g, err := torch.NewGenerator(seed, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	ks := s.Train(g).RowKeys(keys)
	return torch.Dropout(ks, torch.Ones(ks, torch.Float32, shape...), p, true, ks.Generator())
}

// TestKeyedDropoutFollowsTheRow: under Scope.RowKeys a row's dropout mask depends on its key
// and the generator's state only, not on the rows beside it nor on how long the row is
// padded, and it still drops a fraction p with the 1/(1-p) scale of F.dropout, independently
// from element to element and from call to call.
func TestKeyedDropoutFollowsTheRow(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	keys := []uint64{10, 11, 512, 13}
	const p = 0.3
	whole := keyedMask(t, s, keys, p, 3, 4, 5, 6).Float32s()
	// The batch cut in two, as two processes (or two micro-batches) see it.
	half := append(keyedMask(t, s, keys[:2], p, 3, 2, 5, 6).Float32s(), keyedMask(t, s, keys[2:], p, 3, 2, 5, 6).Float32s()...)
	if !slices.Equal(whole, half) {
		t.Error("a row's mask changes when the batch is cut in two")
	}
	// The rows padded to 7 positions instead of 5: the first 5 keep their mask.
	long := keyedMask(t, s, keys, p, 3, 4, 7, 6).Float32s()
	for b := 0; b < 4; b++ {
		if !slices.Equal(whole[b*30:(b+1)*30], long[b*42:b*42+30]) {
			t.Errorf("row %d: the mask of its first 5 positions changes when the row is padded to 7", b)
		}
	}
	// The rows in another order: each row keeps its own mask.
	swapped := keyedMask(t, s, []uint64{512, 13, 10, 11}, p, 3, 4, 5, 6).Float32s()
	if !slices.Equal(swapped[:60], whole[60:]) || !slices.Equal(swapped[60:], whole[:60]) {
		t.Error("a row's mask depends on its place in the batch")
	}
	// Another generator seed draws other masks.
	if other := keyedMask(t, s, keys, p, 4, 4, 5, 6).Float32s(); slices.Equal(other, whole) {
		t.Error("the generator's seed does not change the masks")
	}

	// Statistics over 4 rows of 250 000: the kept fraction, the scale, and pairs of
	// neighbouring elements and of two successive calls (independent draws keep both with
	// probability (1-p)²). 4σ of a binomial fraction over 10⁶ draws is 0.0018.
	g, err := torch.NewGenerator(9, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ks := s.Train(g).RowKeys([]uint64{0, 1, 2, 3})
	x := torch.Ones(ks, torch.Float32, 4, 500, 500)
	first := torch.Dropout(ks, x, p, true, g).Float32s()
	second := torch.Dropout(ks, x, p, true, g).Float32s()
	var kept, pairs, both int
	for i, v := range first {
		switch {
		case v == 0:
		case math.Abs(float64(v)-1/(1-p)) < 1e-6:
			kept++
		default:
			t.Fatalf("element %d is %v, want 0 or 1/(1-p)", i, v)
		}
		if v != 0 && second[i] != 0 {
			both++
		}
		if i%250000 != 0 && v != 0 && first[i-1] != 0 {
			pairs++
		}
	}
	n := float64(len(first))
	checks := []struct {
		name      string
		got, want float64
	}{
		{"kept fraction", float64(kept) / n, 1 - p},
		{"both neighbours kept", float64(pairs) / (n - 4), (1 - p) * (1 - p)},
		{"kept by both calls", float64(both) / n, (1 - p) * (1 - p)},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 0.002 {
			t.Errorf("%s: %.4f, want %.4f ± 0.002", c.name, c.got, c.want)
		}
	}

	// An input whose first dimension is not the keyed rows is refused.
	err = torch.Try(func() { torch.Dropout(ks, torch.Ones(ks, torch.Float32, 3, 2), p, true, g) })
	if !errors.Is(err, torch.ErrShape) {
		t.Errorf("3 rows under 4 keys: got %v, want ErrShape", err)
	}
}

// TestKeyedMaskHostMatchesOps: the CPU's host pass computes the very mask of the tensor ops
// that other devices run (and that the CPU ran before it), for draws across [0, 2³¹−1),
// rows of many lengths and probabilities whose thresholds round differently in float32.
func TestKeyedMaskHostMatchesOps(t *testing.T) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	keys := []uint64{0, 1, 77, 1 << 40, math.MaxUint64}
	for _, p := range []float64{0.05, 0.1, 0.3, 0.5, 0.9, 0.999999} {
		for _, call := range []int64{0, 1, 123456789, 1<<31 - 2} {
			for _, n := range []int64{1, 7, 4096} {
				host, ops := torch.KeyedMasks(s, keys, n, call, p)
				if h, o := host.Float32s(), ops.Float32s(); !slices.Equal(h, o) {
					diff := 0
					for i := range h {
						if h[i] != o[i] {
							diff++
						}
					}
					t.Errorf("p %v, draw %d, rows of %d: %d of %d mask elements differ", p, call, n, diff, len(h))
				}
			}
		}
	}
}

package data

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSamplerOrder(t *testing.T) {
	s, err := NewSampler(10, SamplerConfig{Seed: 42, Shuffle: true, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	o0, o1 := s.Order(0), s.Order(1)
	for _, o := range [][]int{o0, o1} {
		sorted := slices.Sorted(slices.Values(o))
		for i, v := range sorted {
			if v != i {
				t.Fatalf("order %v is not a permutation", o)
			}
		}
	}
	if slices.Equal(o0, o1) {
		t.Errorf("epochs 0 and 1 share order %v", o0)
	}
	// A new sampler (a resumed run) sees the same orders, in any call order.
	s2, _ := NewSampler(10, SamplerConfig{Seed: 42, Shuffle: true, BatchSize: 3})
	if !slices.Equal(s2.Order(1), o1) || !slices.Equal(s2.Order(0), o0) {
		t.Error("orders differ between samplers with the same seed")
	}
	s3, _ := NewSampler(10, SamplerConfig{Seed: 43, Shuffle: true, BatchSize: 3})
	if slices.Equal(s3.Order(0), o0) {
		t.Error("seeds 42 and 43 give the same order")
	}
	// The orders are fixed by this package's own shuffle over PCG-DXSM, so
	// they stay the same across Go releases: pin two.
	if !slices.Equal(o0, []int{6, 2, 5, 3, 4, 7, 0, 1, 9, 8}) {
		t.Errorf("Order(0) = %v", o0)
	}
	if got := s.Order(7); !slices.Equal(got, []int{2, 9, 1, 0, 5, 3, 6, 8, 4, 7}) {
		t.Errorf("Order(7) = %v", got)
	}
	plain, _ := NewSampler(4, SamplerConfig{BatchSize: 2})
	if !slices.Equal(plain.Order(5), []int{0, 1, 2, 3}) {
		t.Errorf("unshuffled order = %v", plain.Order(5))
	}
}

func TestSamplerBatches(t *testing.T) {
	for _, tc := range []struct {
		n, size  int
		dropLast bool
		want     []int // batch lengths
	}{
		{10, 3, false, []int{3, 3, 3, 1}},
		{10, 3, true, []int{3, 3, 3}},
		{9, 3, true, []int{3, 3, 3}},
		{2, 3, true, nil},
		{2, 3, false, []int{2}},
		{0, 1, false, nil},
	} {
		s, err := NewSampler(tc.n, SamplerConfig{Seed: 1, Shuffle: true, BatchSize: tc.size, DropLast: tc.dropLast})
		if err != nil {
			t.Fatal(err)
		}
		b := s.Batches(3)
		var lens []int
		var flat []int
		for _, x := range b {
			lens = append(lens, len(x))
			flat = append(flat, x...)
		}
		if !slices.Equal(lens, tc.want) || s.NumBatches() != len(tc.want) {
			t.Errorf("n=%d size=%d drop=%v: lengths %v (NumBatches %d), want %v", tc.n, tc.size, tc.dropLast, lens, s.NumBatches(), tc.want)
		}
		if o := s.Order(3); !slices.Equal(flat, o[:len(flat)]) {
			t.Errorf("batches %v do not follow order %v", b, o)
		}
	}
	if _, err := NewSampler(3, SamplerConfig{BatchSize: 0}); err == nil {
		t.Error("batch size 0 accepted")
	}
	if _, err := NewSampler(-1, SamplerConfig{BatchSize: 1}); err == nil {
		t.Error("negative n accepted")
	}
	if _, err := Chunk([]int{1}, 0, false); err == nil {
		t.Error("Chunk size 0 accepted")
	}
}

func TestBoundedUniform(t *testing.T) {
	src := rand.NewPCG(1, 2)
	var counts [3]int
	for range 30000 {
		counts[boundedUint64(src, 3)]++
	}
	for i, c := range counts {
		if c < 9500 || c > 10500 {
			t.Errorf("value %d drawn %d times of 30000", i, c)
		}
	}
}

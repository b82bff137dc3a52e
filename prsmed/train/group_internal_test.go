package train

import (
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/data"
)

// TestImageSampler: every sample once per epoch, the rows of one image next to each other,
// the image order changing from epoch to epoch, batches of the step's size.
func TestImageSampler(t *testing.T) {
	var samples []data.Sample
	for i, img := range []string{"a", "b", "a", "c", "b", "a", "d", "e", "f", "g"} {
		samples = append(samples, data.Sample{ImagePath: img, MaskPath: string(rune('0' + i))})
	}
	s := newImageSampler(samples, 3, 4)
	if s.Len() != 10 || s.NumBatches() != 3 {
		t.Fatalf("Len %d NumBatches %d, want 10 and 3", s.Len(), s.NumBatches())
	}
	o0, o1 := s.Order(0), s.Order(1)
	for _, o := range [][]int{o0, o1} {
		got := slices.Sorted(slices.Values(o))
		if !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Fatalf("order %v is not a permutation", o)
		}
		// Runs of one image: each image path appears in one contiguous run.
		seen := map[string]bool{}
		for i, k := range o {
			p := samples[k].ImagePath
			if i > 0 && samples[o[i-1]].ImagePath == p {
				continue
			}
			if seen[p] {
				t.Errorf("order %v splits image %s", o, p)
			}
			seen[p] = true
		}
	}
	if slices.Equal(o0, o1) {
		t.Errorf("epochs 0 and 1 have the same order %v", o0)
	}
	if b := s.Batches(0); len(b) != 3 || len(b[0]) != 4 || len(b[2]) != 2 || !slices.Equal(slices.Concat(b...), o0) {
		t.Errorf("batches %v of order %v", b, o0)
	}
}

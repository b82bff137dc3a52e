package train

import (
	"bytes"
	"context"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
)

// sampleView is what one sample of a batch became: its (possibly mirrored) inputs and
// answer.
type sampleView struct {
	sam, clip, mask []byte
	answer          string
}

// preparedSamples runs the pipeline over batches (flips on) and returns each training-set
// index's prepared sample.
func preparedSamples(t *testing.T, m *prsmed.Model, set []data.Sample, seed uint64, epoch int, batches [][]int) map[int]sampleView {
	t.Helper()
	p := startPipeline(context.Background(), m, set, nil, batches, pipelineConfig{workers: 2, depth: 2, seed: seed, epoch: epoch, flip: true})
	defer p.close()
	out := map[int]sampleView{}
	split := func(b []byte, n, k int) []byte { w := len(b) / n; return b[k*w : (k+1)*w] }
	for i, idx := range batches {
		b, err := p.next()
		if err != nil {
			t.Fatal(err)
		}
		if b.err != nil || len(b.skipped) > 0 || b.n != len(idx) {
			t.Fatalf("batch %d: err %v, skipped %v, %d samples", i, b.err, b.skipped, b.n)
		}
		sam, clip, mask := b.in.SAM.Bytes(), b.in.CLIP.Bytes(), b.in.Masks.Bytes()
		for k, j := range idx {
			out[j] = sampleView{sam: split(sam, b.n, k), clip: split(clip, b.n, k), mask: split(mask, b.n, k), answer: b.in.Samples[k].Answer}
		}
		b.free()
	}
	return out
}

// TestFlipsFollowTheSample: a sample's flips do not depend on how the epoch's order is cut
// into batches. One process with a batch of 8 and the two shards of a two-process run with
// batches of 4 (the order sharded as DistributedSampler shards it: rank r takes every
// second sample from r) prepare every sample identically, and some samples are flipped and
// some are not.
func TestFlipsFollowTheSample(t *testing.T) {
	m := prsmedtest.TinyModel(t, 1)
	set := prsmedtest.SynthSet(t, 4, 3).Samples("train")[:8]
	order := []int{3, 1, 4, 0, 5, 2, 7, 6}
	one := preparedSamples(t, m, set, 11, 1, [][]int{order})
	two := preparedSamples(t, m, set, 11, 1, [][]int{{3, 4, 5, 7}, {1, 0, 2, 6}})
	flipped := 0
	for _, j := range order {
		a, b := one[j], two[j]
		if !bytes.Equal(a.sam, b.sam) || !bytes.Equal(a.clip, b.clip) || !bytes.Equal(a.mask, b.mask) || a.answer != b.answer {
			t.Errorf("sample %d: prepared differently in a batch of 8 and in a rank's batch of 4 (answers %q and %q)", j, a.answer, b.answer)
		}
		if f := drawFlips(11, 1, j); f != (Flips{}) {
			flipped++
		}
	}
	if flipped == 0 || flipped == len(order) {
		t.Fatalf("%d of %d samples flipped: the comparison cannot tell flipped from unflipped", flipped, len(order))
	}
}

// TestFlipStreamsAreDistinct: every (epoch, sample index) gets a generator stream of its
// own, also beyond 256 samples (a key packed into 8 bits would repeat there).
func TestFlipStreamsAreDistinct(t *testing.T) {
	seen := map[uint64][2]int{}
	for epoch := 0; epoch < 3; epoch++ {
		for idx := 0; idx < 5000; idx++ {
			k := flipStream(uint64(epoch), idx)
			if was, ok := seen[k]; ok {
				t.Fatalf("epoch %d sample %d shares its stream with epoch %d sample %d", epoch, idx, was[0], was[1])
			}
			seen[k] = [2]int{epoch, idx}
		}
	}
	// Within an epoch the draws vary with the index, beyond 256 too: of the 4 possible
	// flips, samples 256…511 draw each at least once, and not as samples 0…255 do.
	var counts [4]int
	same := 0
	for idx := 256; idx < 512; idx++ {
		f := drawFlips(5, 0, idx)
		counts[btoi(f.H)*2+btoi(f.V)]++
		if f == drawFlips(5, 0, idx-256) {
			same++
		}
	}
	for k, c := range counts {
		if c == 0 {
			t.Errorf("flip combination %d never drawn among samples 256…511", k)
		}
	}
	if same == 256 {
		t.Error("samples 256…511 repeat the flips of samples 0…255")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

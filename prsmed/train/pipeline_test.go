package train

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/torch"
)

// batchDump is a batch's content in bytes, for exact comparison.
type batchDump struct {
	step            int
	sam, clip, mask []byte
	answers         []string
	idx             []int
}

func runPipeline(t *testing.T, m *prsmed.Model, set []data.Sample, c *cache, workers, depth, first int, cancelAfter int) []batchDump {
	t.Helper()
	smp, _ := data.NewSampler(len(set), data.SamplerConfig{Seed: 9, Shuffle: true, BatchSize: 5})
	batches := smp.Batches(2)
	p := startPipeline(context.Background(), m, set, c, batches, pipelineConfig{workers: workers, depth: depthOf(depth, workers, 5), seed: 9, epoch: 2, first: first, flip: true})
	defer p.close()
	var out []batchDump
	for i := first; i < len(batches); i++ {
		if cancelAfter >= 0 && len(out) == cancelAfter {
			return out // close with batches in flight
		}
		b, err := p.next()
		if err != nil {
			t.Fatal(err)
		}
		if b.step != i || b.err != nil || len(b.skipped) > 0 || b.n != len(batches[i]) {
			t.Fatalf("batch %d: step %d, err %v, skipped %v, %d samples", i, b.step, b.err, b.skipped, b.n)
		}
		d := batchDump{idx: batches[i], step: b.step, sam: b.in.SAM.Bytes(), clip: b.in.CLIP.Bytes(), mask: b.in.Masks.Bytes()}
		for _, s := range b.in.Samples {
			d.answers = append(d.answers, s.Answer)
		}
		out = append(out, d)
		b.free()
	}
	return out
}

// TestPipelineOrderIgnoresWorkers: the batches are the same, byte for byte and in order,
// with 1 worker and with 4, with a cache or without, and when a resumed epoch starts
// mid-way; closing the pipeline with batches in flight frees every tensor.
func TestPipelineOrderIgnoresWorkers(t *testing.T) {
	m := prsmedtest.TinyModel(t, 1)
	set := prsmedtest.SynthSet(t, 5, 3).Samples("train")
	base := torch.LiveTensors()
	want := runPipeline(t, m, set, nil, 1, 2, 0, -1)
	if len(want) < 4 {
		t.Fatalf("only %d batches", len(want))
	}
	flipped := false
	for _, d := range want {
		for k, a := range d.answers {
			if a != set[d.idx[k]].Answer {
				flipped = true
			}
		}
	}
	if !flipped {
		t.Fatal("no answer was rewritten by a flip")
	}
	c := newCache(1 << 30)
	for _, tc := range []struct {
		name                  string
		workers, depth, first int
		c                     *cache
	}{
		{"4 workers", 4, 0, 0, nil},
		{"4 workers depth 1", 4, 1, 0, nil},
		{"3 workers, cache fills", 3, 3, 0, c},
		{"2 workers, from the cache", 2, 2, 0, c},
		{"resumed at batch 2", 4, 0, 2, nil},
	} {
		got := runPipeline(t, m, set, tc.c, tc.workers, tc.depth, tc.first, -1)
		if len(got) != len(want)-tc.first {
			t.Fatalf("%s: %d batches, want %d", tc.name, len(got), len(want)-tc.first)
		}
		for i, g := range got {
			w := want[i+tc.first]
			if g.step != w.step || !bytes.Equal(g.sam, w.sam) || !bytes.Equal(g.clip, w.clip) || !bytes.Equal(g.mask, w.mask) ||
				len(g.answers) != len(w.answers) {
				t.Fatalf("%s: batch %d differs from the 1-worker run", tc.name, g.step)
			}
			for k := range g.answers {
				if g.answers[k] != w.answers[k] {
					t.Fatalf("%s: batch %d answer %d %q, want %q", tc.name, g.step, k, g.answers[k], w.answers[k])
				}
			}
		}
	}
	if c.Bytes() == 0 || len(c.items) != len(set) {
		t.Fatalf("the cache holds %d bytes in %d items; want all %d samples", c.Bytes(), len(c.items), len(set))
	}
	c.close()
	c = newCache(1 << 20)
	runPipeline(t, m, set, c, 4, 3, 0, 1) // closed with batches in flight
	c.close()
	if n := torch.LiveTensors(); n != base {
		t.Fatalf("%d live tensors after the pipelines closed, %d before", n, base)
	}
}

// TestCacheStaysWithinItsBytes: a cache smaller than the data keeps at most its limit,
// evicting the least recently used, and frees what it evicts.
func TestCacheStaysWithinItsBytes(t *testing.T) {
	m := prsmedtest.TinyModel(t, 1)
	set := prsmedtest.SynthSet(t, 2, 3).Samples("train")
	base := torch.LiveTensors()
	it, err := preprocess(m, set[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	size := it.bytes
	const want = 64*64*3*4 + 48*48*3*4 + 64*64*4 // TinyViT input, CLIP input, mask in float32
	if size != want {
		t.Fatalf("a sample takes %d bytes, want %d", size, want)
	}
	c := newCache(3*size + size/2)
	c.put(it)
	c.release(it)
	for i := 1; i < len(set); i++ {
		x, err := preprocess(m, set[i], i)
		if err != nil {
			t.Fatal(err)
		}
		c.put(x)
		c.release(x)
		if c.Bytes() > c.limit {
			t.Fatalf("the cache holds %d bytes, over its %d", c.Bytes(), c.limit)
		}
	}
	if len(c.items) != 3 || c.get(len(set)-1) == nil || c.get(0) != nil {
		t.Fatalf("the cache holds %d items; want the 3 most recent", len(c.items))
	}
	c.release(c.items[len(set)-1])
	if n := torch.LiveTensors(); n != base+3*3 {
		t.Fatalf("%d live tensors with 3 items cached, want %d (3 tensors each)", n, base+9)
	}
	c.close()
	if n := torch.LiveTensors(); n != base {
		t.Fatalf("%d live tensors after the cache closed, %d before", n, base)
	}
}

// TestAccumulatedGradients: the gradient of one step over a batch of 8 and that of four
// accumulated micro-batches of 2 agree (stage 1, no clipping, so a wrong scale shows).
func TestAccumulatedGradients(t *testing.T) {
	runtime.LockOSThread() // see oneThread in runs_test.go
	defer runtime.UnlockOSThread()
	prev := torch.NumThreads()
	torch.SetNumThreads(1)
	defer torch.SetNumThreads(prev)
	m := prsmedtest.TinyModel(t, 1)
	set := prsmedtest.SynthSet(t, 3, 3).Samples("train")
	grads := func(accum int) map[string][]float64 {
		cfg := DefaultConfig()
		// A zero learning rate leaves the parameters as they were for the second run.
		cfg.BatchSize, cfg.Accum, cfg.ClipNorm, cfg.LR, cfg.WeightDecay = 8/accum, accum, 0, 0, 0
		tr, err := New(m, set, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		opt := tr.optimizer(prsmed.Stage1)
		p := startPipeline(context.Background(), m, set, nil, [][]int{{0, 1, 2, 3, 4, 5, 6, 7}}, pipelineConfig{workers: 2, depth: 1})
		defer p.close()
		b, err := p.next()
		if err != nil {
			t.Fatal(err)
		}
		defer b.free()
		if _, err := tr.trainStep(context.Background(), opt, prsmed.Stage1, b, 1); err != nil {
			t.Fatal(err)
		}
		s := torch.NewScope(torch.CPU).Eval()
		defer s.Close()
		out := map[string][]float64{}
		for _, e := range m.Store.Entries() {
			if e.Trainable {
				if g := e.Tensor.Grad(s); g != nil {
					out[e.Name] = g.Float64s()
				}
			}
		}
		return out
	}
	whole, acc, again := grads(1), grads(4), grads(1)
	for name, w := range whole {
		for i := range w {
			if again[name][i] != w[i] {
				t.Fatalf("the model changed between runs: %s[%d] %g then %g", name, i, w[i], again[name][i])
			}
		}
	}
	if len(whole) == 0 || len(whole) != len(acc) {
		t.Fatalf("%d and %d gradients", len(whole), len(acc))
	}
	for name, w := range whole {
		a := acc[name]
		scale := 0.0
		for _, v := range w {
			scale = max(scale, math.Abs(v))
		}
		for i := range w {
			if math.Abs(a[i]-w[i]) > 1e-6+1e-4*scale {
				t.Fatalf("%s[%d]: accumulated %g, one batch %g (largest |g| %g)", name, i, a[i], w[i], scale)
			}
		}
	}
}

// panicMagic starts the files of an image format, registered for the tests, whose decoder
// panics: a stand-in for a decoder bug on one file.
const panicMagic = "PRSMED-PANIC"

func init() {
	image.RegisterFormat("prsmed-panic", panicMagic,
		func(io.Reader) (image.Image, error) { panic("decoder bug") },
		func(io.Reader) (image.Config, error) { return image.Config{}, errors.New("no config") })
}

// TestPipelineSkipsASamplePanic: a decoder that panics on one file skips that sample, with
// an error naming it and wrapping ErrSamplePanic, as an unreadable file is skipped; the
// other samples of its batch and the other batches arrive, and nothing leaks.
func TestPipelineSkipsASamplePanic(t *testing.T) {
	m := prsmedtest.TinyModel(t, 1)
	set := prsmedtest.SynthSet(t, 2, 3).Samples("train")
	if len(set) < 8 {
		t.Fatalf("%d samples, want at least 8", len(set))
	}
	bad := 3
	if err := os.WriteFile(set[bad].ImagePath, []byte(panicMagic+" and some bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := torch.LiveTensors()
	batches := [][]int{{0, 1, 2}, {bad, 4, 5}, {6, 7}}
	p := startPipeline(context.Background(), m, set, nil, batches, pipelineConfig{workers: 2, depth: 2, seed: 9})
	skipped := 0
	for i := range batches {
		b, err := p.next()
		if err != nil {
			t.Fatal(err)
		}
		if b.err != nil {
			t.Fatalf("batch %d: %v", i, b.err)
		}
		want := len(batches[i])
		for _, sk := range b.skipped {
			skipped++
			want--
			if !errors.Is(sk.Err, ErrSamplePanic) || !strings.Contains(sk.Err.Error(), set[bad].String()) ||
				!strings.Contains(sk.Err.Error(), "decoder bug") || sk.Sample.ImagePath != set[bad].ImagePath {
				t.Errorf("batch %d skipped %v: %v; want the panic of sample %d", i, sk.Sample, sk.Err, bad)
			}
		}
		if b.n != want {
			t.Errorf("batch %d: %d samples, want %d", i, b.n, want)
		}
		b.free()
	}
	p.close()
	if skipped != 1 {
		t.Fatalf("%d samples skipped, want 1", skipped)
	}
	if n := torch.LiveTensors(); n != base {
		t.Fatalf("%d live tensors after the pipeline closed, %d before", n, base)
	}
}

// TestPipelineKeepsSidedQuestions: samples whose question names a side ("the left
// kidney", as volumeset writes them) are never mirrored horizontally, so their answer
// keeps the structure's name and its zone's left/right, while other samples still flip.
func TestPipelineKeepsSidedQuestions(t *testing.T) {
	m := prsmedtest.TinyModel(t, 1)
	set := prsmedtest.SynthSet(t, 5, 3).Samples("train")
	sided := map[int]bool{}
	for i := range set {
		if i%2 == 0 {
			set[i].Question = "Where is the left kidney in this image?"
			set[i].Answer = "The left kidney is in the top right of the image."
			sided[i] = true
		}
	}
	got := runPipeline(t, m, set, nil, 1, 2, 0, -1)
	flippedOther, sidedSeen := false, 0
	for _, d := range got {
		for k, a := range d.answers {
			i := d.idx[k]
			if sided[i] {
				sidedSeen++
				if a != "The left kidney is in the top right of the image." && a != "The left kidney is in the bottom right of the image." {
					t.Fatalf("sample %d: answer %q: a horizontal flip renamed the structure or moved it", i, a)
				}
			} else if a != set[i].Answer {
				flippedOther = true
			}
		}
	}
	if sidedSeen == 0 || !flippedOther {
		t.Fatalf("sided samples seen %d, other samples flipped %v", sidedSeen, flippedOther)
	}
}

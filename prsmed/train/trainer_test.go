package train_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
)

// synthSet is prsmedtest.SynthSet with the seed these tests use.
func synthSet(t *testing.T, n int) *data.Dataset {
	t.Helper()
	return prsmedtest.SynthSet(t, n, 3)
}

// runTrainer builds a trainer and runs it to the end; the caller closes it.
func runTrainer(t *testing.T, m *prsmed.Model, trainSet, valSet []data.Sample, tc train.Config) *train.Trainer {
	t.Helper()
	tr, err := train.New(m, trainSet, valSet, tc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		tr.Close()
		t.Fatal(err)
	}
	return tr
}

// snapshot copies every tensor of m's store, by name.
func snapshot(m *prsmed.Model) map[string][]float64 {
	out := map[string][]float64{}
	for name, x := range m.Store.Tensors() {
		out[name] = x.Float64s()
	}
	return out
}

func trainCfg(out string, e1, e2 int) train.Config {
	tc := train.DefaultConfig()
	tc.Stage1Epochs, tc.Stage2Epochs, tc.BatchSize, tc.LR, tc.MinLR, tc.Seed, tc.OutDir = e1, e2, 8, 2e-3, 1e-4, 5, out
	return tc
}

// TestShortTrainingLearns: a few epochs on a small synthetic set lower the loss and lift
// the validation Dice well above the trivial all-background / all-foreground baselines.
func TestShortTrainingLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	ds := synthSet(t, 40)
	m := prsmedtest.TinyModel(t, 1)
	defer m.Close()
	tc := trainCfg(t.TempDir(), 1, 14)
	tc.ValEvery = 100 // validate at the end of each stage only
	tr := runTrainer(t, m, ds.Samples("train"), ds.Samples("val"), tc)
	defer tr.Close()
	h := tr.History()
	first, last := h[0], h[len(h)-1]
	mask := func(e train.EpochStats) float64 { return e.BCE + e.Dice }
	t.Logf("mask loss (BCE+Dice) %.3f → %.3f, val mDice %.3f → %.3f", mask(first), mask(last), first.Val.Overall.MeanDice, last.Val.Overall.MeanDice)
	// Without stage 0 the language model stays at its random start, so the CE part barely
	// moves: judge the mask loss.
	if !(mask(last) < 0.7*mask(first)) {
		t.Errorf("mask loss went from %.3f to %.3f; want a clear fall", mask(first), mask(last))
	}
	// The trivial baseline: after stage 1 (one epoch of fusion and decoder on random
	// backbones) the masks are close to constant, which scores ≈ 2·lesion area at the
	// thresholds below the constant and 0 above: a few hundredths.
	base := first.Val.Overall.MeanDice
	if last.Val.Overall.MeanDice < math.Max(0.2, 5*base) {
		t.Errorf("val mDice %.3f after training, want ≥ max(0.2, 5 × the %.3f after stage 1)", last.Val.Overall.MeanDice, base)
	}
	for _, f := range []string{"log.csv", "curves.png", "checkpoint/model.safetensors", "checkpoint/trainer.json", "checkpoint/adapter/adapter_config.json"} {
		if _, err := os.Stat(filepath.Join(tr.Cfg.OutDir, f)); err != nil {
			t.Errorf("training left no %s: %v", f, err)
		}
	}
}

// TestResumeEqualsUninterrupted: training with 4 workers cut after one epoch (and,
// separately, mid-epoch by cancellation) and resumed from its checkpoint ends with exactly the parameters of an
// uninterrupted run.
func TestResumeEqualsUninterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	// Bit-identical results need the same intra-op thread count in both runs: libtorch's
	// parallel reductions split work by thread.
	oneThread(t)
	ds := synthSet(t, 10)
	trainSet := ds.Samples("train")
	run := func(out string, stopAfter int) *prsmed.Model {
		m := prsmedtest.TinyModel(t, 2)
		tc := trainCfg(out, 1, 1)
		tc.Workers, tc.Flip = 4, true // resumed mid-epoch with workers and flips
		tr, err := train.New(m, trainSet, nil, tc)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		ok, err := tr.Resume()
		if err != nil {
			t.Fatal(err)
		}
		if stopAfter > 0 {
			if ok {
				t.Fatal("a fresh folder had a checkpoint")
			}
			ctx, cancel := context.WithCancel(context.Background())
			steps := 0
			tr.OnStep = func() {
				if steps++; steps == stopAfter {
					cancel()
				}
			}
			if err := tr.Run(ctx); err == nil {
				t.Fatal("cancelled run returned no error")
			}
			m.Close()
			return nil
		}
		if err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	straight := run(t.TempDir(), 0)
	defer straight.Close()
	for _, stop := range []int{2, 3} { // mid stage 1, and mid stage 2 (stage 1 has 2 steps)
		out := t.TempDir()
		run(out, stop)
		resumed := run(out, 0)
		for name, want := range straight.Store.Tensors() {
			e, _ := resumed.Store.Get(name)
			a, b := e.Tensor.Float64s(), want.Float64s()
			for i := range a {
				if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
					t.Fatalf("stop after %d steps: %s[%d] = %v after resuming, %v uninterrupted", stop, name, i, a[i], b[i])
				}
			}
		}
		resumed.Close()
	}
}

// TestFrozenEncoderStaysFrozen: in stage 1 the TinyViT encoder is frozen, so it runs in
// evaluation mode: after a stage-1 epoch every one of its tensors — parameters and the
// BatchNorm running statistics and counters alike — is exactly what it was, while the
// fusion and decoder did train.
func TestFrozenEncoderStaysFrozen(t *testing.T) {
	ds := synthSet(t, 16)
	m := prsmedtest.TinyModel(t, 4)
	defer m.Close()
	before := snapshot(m)
	tc := trainCfg("", 1, 0)
	tr := runTrainer(t, m, ds.Samples("train"), nil, tc)
	defer tr.Close()
	var encoder, trained int
	for name, x := range m.Store.Tensors() {
		a, b := x.Float64s(), before[name]
		changed := false
		for i := range a {
			if a[i] != b[i] {
				changed = true
				break
			}
		}
		switch {
		case strings.HasPrefix(name, "image_encoder."):
			encoder++
			if changed {
				t.Errorf("stage 1 changed the frozen encoder's %s", name)
			}
		case strings.HasPrefix(name, "decoder.") || strings.HasPrefix(name, "fusion."):
			if changed {
				trained++
			}
		}
	}
	if encoder == 0 || trained == 0 {
		t.Fatalf("checked %d encoder tensors; %d fusion/decoder tensors trained", encoder, trained)
	}
}

// TestCheckpointIsABundle: with TokenizerModel set, the trainer's checkpoint carries its
// tokenizer and manifest, so prsmed.LoadBundle opens it alone and the loaded model holds
// the trained weights.
func TestCheckpointIsABundle(t *testing.T) {
	ds := synthSet(t, 8)
	m := prsmedtest.TinyModel(t, 6)
	defer m.Close()
	out := t.TempDir()
	tc := trainCfg(out, 1, 0)
	tc.TokenizerModel = assets.TemplateModel()
	tr := runTrainer(t, m, ds.Samples("train"), nil, tc)
	defer tr.Close()
	got, man, err := prsmed.LoadBundle(filepath.Join(out, "checkpoint"), torch.CPU, prsmed.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if man == nil || man.Tokenizer.SHA256 == "" {
		t.Fatalf("manifest %+v has no tokenizer hash", man)
	}
	want, _ := m.Store.Get("decoder.out.weight")
	have, ok := got.Store.Get("decoder.out.weight")
	if want == nil || !ok {
		t.Fatal("no decoder.out.weight")
	}
	a, b := want.Tensor.Float32s(), have.Tensor.Float32s()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("decoder.out.weight[%d] = %v loaded, %v trained", i, b[i], a[i])
		}
	}
}

package train_test

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
)

// oneThread makes libtorch's reductions split their work the same way in every run, so that
// runs can be compared bit for bit. The test's goroutine keeps its OS thread: libtorch's
// OpenMP thread count is per OS thread once a thread has run a parallel op, and earlier
// tests ran with the default on threads that Go may hand to this one.
func oneThread(t *testing.T) {
	runtime.LockOSThread()
	prev := torch.NumThreads()
	torch.SetNumThreads(1)
	t.Cleanup(func() {
		torch.SetNumThreads(prev)
		runtime.UnlockOSThread()
	})
}

// trained runs cfg on a fresh tiny model (seed 2) and returns the model.
func trained(t *testing.T, set []data.Sample, tc train.Config) *prsmed.Model {
	t.Helper()
	m := prsmedtest.TinyModel(t, 2)
	trainOn(t, m, set, tc)
	return m
}

// trainOn runs cfg on m and returns the finished epochs.
func trainOn(t *testing.T, m *prsmed.Model, set []data.Sample, tc train.Config) []train.EpochStats {
	t.Helper()
	tr := runTrainer(t, m, set, nil, tc)
	defer tr.Close()
	return tr.History()
}

// sameTraining fails unless training moved fresh's parameters by at least 1e-3 (so that
// the comparison means something) and got ends within tol of want.
func sameTraining(t *testing.T, what string, want, got, fresh *prsmed.Model, tol float64) {
	t.Helper()
	moved, _ := maxDiff(want, fresh)
	d, at := maxDiff(want, got)
	t.Logf("%s: max |Δ| %.3g (in %s); training moved parameters by up to %.3g", what, d, at, moved)
	if moved < 1e-3 {
		t.Fatalf("training moved the parameters by only %g", moved)
	}
	if d > tol {
		t.Fatalf("%s: they differ by %g in %s", what, d, at)
	}
}

// maxDiff is the largest |a − b| over every tensor of two models, and where.
func maxDiff(a, b *prsmed.Model) (float64, string) {
	worst, at := 0.0, ""
	for name, x := range a.Store.Tensors() {
		e, _ := b.Store.Get(name)
		u, v := x.Float64s(), e.Tensor.Float64s()
		for i := range u {
			if d := math.Abs(u[i] - v[i]); d > worst || (math.IsNaN(d) && !math.IsNaN(worst)) {
				worst, at = d, name
			}
		}
	}
	return worst, at
}

// TestWorkersGiveIdenticalTraining: 1 and 4 workers (stage 1 then stage 2, flips on) end
// with bit-identical parameters.
func TestWorkersGiveIdenticalTraining(t *testing.T) {
	oneThread(t)
	set := synthSet(t, 6).Samples("train")
	tc := trainCfg("", 1, 1)
	tc.Flip = true
	tc.Workers = 1
	one := trained(t, set, tc)
	defer one.Close()
	tc.Workers, tc.Prefetch = 4, 3
	four := trained(t, set, tc)
	defer four.Close()
	if d, at := maxDiff(one, four); d != 0 {
		t.Fatalf("1 and 4 workers differ by %g in %s", d, at)
	}
}

// TestAccumulationEqualsOneBatch: four micro-batches of 2 accumulated give the step that
// one batch of 8 gives (stage 1, frozen encoder in evaluation mode), within float32
// rounding of the summation order.
func TestAccumulationEqualsOneBatch(t *testing.T) {
	oneThread(t)
	set := synthSet(t, 6).Samples("train")
	tc := trainCfg("", 1, 0)
	tc.BatchSize = 8
	whole := trained(t, set, tc)
	defer whole.Close()
	tc.BatchSize, tc.Accum = 2, 4
	acc := trained(t, set, tc)
	defer acc.Close()
	fresh := prsmedtest.TinyModel(t, 2)
	defer fresh.Close()
	sameTraining(t, "one batch of 8 vs 4×2 accumulated", whole, acc, fresh, 1e-5)
}

// spoil writes a corrupt PNG over one sample's image and a mask of the wrong size over
// another's.
func spoil(t *testing.T, set []data.Sample, corrupt, resized int) {
	t.Helper()
	if err := os.WriteFile(set[corrupt].ImagePath, []byte("\x89PNG\r\n\x1a\nnot really a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	small := image.NewGray(image.Rect(0, 0, 17, 23))
	small.Pix[5] = 255
	f, err := os.Create(set[resized].MaskPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, small); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestBadSamplesAreSkipped: a corrupt PNG and a mask of the wrong size in the middle of an
// epoch are skipped, reported (file and reason) and counted, and the run finishes; under
// Strict the run stops with ErrBadSample and the last checkpoint stays intact.
func TestBadSamplesAreSkipped(t *testing.T) {
	set := synthSet(t, 4).Samples("train")
	spoil(t, set, len(set)/2, len(set)/2+1)
	out := t.TempDir()
	var log strings.Builder
	tc := trainCfg(out, 1, 1)
	tc.Progress = &log
	tc.Workers = 3
	m := trained(t, set, tc)
	m.Close()
	text := log.String()
	for _, want := range []string{filepath.Base(set[len(set)/2].ImagePath), data.ErrSizeMismatch.Error()} {
		if strings.Count(text, want) != 1 {
			t.Errorf("the progress output names %q %d times, want once (reported once per run):\n%s", want, strings.Count(text, want), text)
		}
	}
	csv, err := os.ReadFile(filepath.Join(out, "log.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], ",skipped,steps,seconds") {
		t.Fatalf("log.csv:\n%s", csv)
	}
	for _, l := range lines[1:] {
		if f := strings.Split(l, ","); f[11] != "2" {
			t.Errorf("log.csv line %q counts %s skipped samples, want 2", l, f[11])
		}
	}

	// Strict: the second epoch's checkpoint must survive the failure in the third.
	tc.Stage2Epochs, tc.Strict, tc.Progress = 2, true, nil
	m = prsmedtest.TinyModel(t, 2)
	defer m.Close()
	tr, err := train.New(m, set, nil, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if ok, err := tr.Resume(); err != nil || !ok {
		t.Fatalf("resume: %v %v", ok, err)
	}
	err = tr.Run(context.Background())
	if !errors.Is(err, train.ErrBadSample) || !strings.Contains(err.Error(), "epoch 3") {
		t.Fatalf("strict run: %v; want ErrBadSample in epoch 3", err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "checkpoint", "trainer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Epoch, Step int }
	if err := json.Unmarshal(raw, &st); err != nil || st.Epoch != 2 || st.Step != 0 {
		t.Fatalf("checkpoint after the strict failure: epoch %d step %d (%v); want the end of epoch 2", st.Epoch, st.Step, err)
	}
}

// TestBestAndKeepLast: validating every 2 steps keeps best/ (the highest mDice, as
// validation.csv says), checkpoint/ and the last 2 checkpoints.
func TestBestAndKeepLast(t *testing.T) {
	ds := synthSet(t, 4)
	out := t.TempDir()
	tc := trainCfg(out, 1, 2)
	tc.ValEverySteps, tc.KeepLast, tc.ValSamples, tc.WarmupSteps, tc.BatchSize = 2, 2, 6, 2, 4
	m := prsmedtest.TinyModel(t, 2)
	defer m.Close()
	tr := runTrainer(t, m, ds.Samples("train"), ds.Samples("val"), tc)
	defer tr.Close()
	vs := tr.Validations()
	steps := (len(ds.Samples("train")) + 3) / 4 // batches per epoch
	mid := 0
	for _, v := range vs {
		if v.Step != steps {
			mid++
		}
	}
	wantAll, wantMid := 0, 0
	for g := 1; g <= 3*steps; g++ {
		if g%steps == 0 || g%2 == 0 {
			wantAll++
		}
		if g%steps != 0 && g%2 == 0 {
			wantMid++
		}
	}
	if len(vs) != wantAll || mid != wantMid {
		t.Fatalf("%d validations, %d of them mid-epoch; want %d and %d (3 epochs of %d steps, every 2 steps)", len(vs), mid, wantAll, wantMid, steps)
	}
	best := tr.Best()
	for _, v := range vs {
		if v.Summary.Overall.MeanDice > best.Summary.Overall.MeanDice {
			t.Fatalf("best %v, but step %d scored %v", best.Summary.Overall.MeanDice, v.GlobalStep, v.Summary.Overall.MeanDice)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "best", "trainer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		GlobalStep int `json:"global_step"`
	}
	if err := json.Unmarshal(raw, &st); err != nil || st.GlobalStep != best.GlobalStep {
		t.Fatalf("best/ holds step %d (%v), the best validation is at step %d", st.GlobalStep, err, best.GlobalStep)
	}
	kept, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if err != nil || len(kept) != 2 {
		t.Fatalf("checkpoints/ holds %d entries (%v), want 2", len(kept), err)
	}
	if _, err := os.Stat(filepath.Join(out, "validation.csv")); err != nil {
		t.Fatal(err)
	}
}

// TestGradCheckpointEqualsPlain: with GradCheckpoint the language model's layers run without
// history and are recomputed one at a time during the backward pass; stage 0 (the whole
// backbone trains) and stage 2 (its LoRA adapters) end where plain training ends, within
// float32 rounding, with the tiny preset's LoRA dropout (0.05) drawing masks: the
// recomputation replays each layer's generator state. The recomputation count shows that
// checkpointing ran (without it the two runs are trivially the same).
func TestGradCheckpointEqualsPlain(t *testing.T) {
	oneThread(t)
	set := synthSet(t, 6).Samples("train")
	run := func(checkpoint bool) *prsmed.Model {
		m := prsmedtest.TinyModelWith(t, 2, nil)
		if m.Config.LoRA.Dropout == 0 {
			t.Fatal("the tiny preset has no LoRA dropout: this test would not cover it")
		}
		tc := trainCfg("", 0, 1)
		tc.Stage0Epochs, tc.BatchSize, tc.GradCheckpoint = 1, 8, checkpoint
		hist := trainOn(t, m, set, tc)
		if n := len(hist); n != 2 {
			t.Fatalf("%d epochs ran, want stage 0 and stage 2", n)
		}
		want := int64(0)
		if checkpoint {
			want = int64(len(m.LLaVA.LM.Layers) * (hist[0].Steps + hist[1].Steps))
		}
		if got := m.LLaVA.LM.Recomputed(); got != want || (checkpoint && got == 0) {
			t.Fatalf("GradCheckpoint %v: %d layer recomputations, want %d", checkpoint, got, want)
		}
		return m
	}
	plain, ckpt := run(false), run(true)
	sameTraining(t, "plain vs gradient checkpointing", plain, ckpt, prsmedtest.TinyModelWith(t, 2, nil), 1e-5)
}

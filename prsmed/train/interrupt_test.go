package train_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/prsmed/train"
)

// TestInterruptedSaysWhatWasSaved: a run cancelled between steps saves the step reached and
// says where; one whose save fails says so and that nothing was saved; one cancelled
// during validation (which saves nothing) says since which step nothing was saved. Before,
// every case read as "checkpoint saved".
func TestInterruptedSaysWhatWasSaved(t *testing.T) {
	ds := synthSet(t, 12)
	trainSet, val := ds.Samples("train"), ds.Samples("val")
	if len(val) == 0 {
		t.Fatal("the synthetic set has no validation samples")
	}
	for _, c := range []struct {
		name string
		// stop is called after every step (step counts them from 1); it cancels the run
		// (and may break its saving).
		stop func(tr *train.Trainer, step int, cancel func())
		// check looks at the returned error; perEpoch is the first epoch's steps.
		check func(t *testing.T, in *train.Interrupted, out string, perEpoch int)
	}{
		{"between steps",
			func(tr *train.Trainer, step int, cancel func()) { cancel() },
			func(t *testing.T, in *train.Interrupted, out string, _ int) {
				want := filepath.Join(out, "checkpoint")
				if in.Saved != want || in.SaveErr != nil || in.During != "training" || in.Step != 1 || in.LastSaved != 1 {
					t.Fatalf("%+v; want saved to %s at step 1", in, want)
				}
				if _, err := os.Stat(filepath.Join(want, "trainer.json")); err != nil {
					t.Fatal(err)
				}
			}},
		{"save fails",
			func(tr *train.Trainer, step int, cancel func()) {
				tr.Cfg.TokenizerModel = []byte("not a tokenizer") // the manifest cannot be written
				cancel()
			},
			func(t *testing.T, in *train.Interrupted, out string, _ int) {
				if in.Saved != "" || in.SaveErr == nil || in.LastSaved != -1 {
					t.Fatalf("%+v; want a failed save and nothing saved", in)
				}
				if _, err := os.Stat(filepath.Join(out, "checkpoint")); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("checkpoint/ exists (%v) after a failed save", err)
				}
				if !strings.Contains(in.Error(), "saving the checkpoint failed") || !strings.Contains(in.Error(), "nothing saved") {
					t.Fatalf("%q does not say that saving failed", in)
				}
			}},
		{"during validation",
			func(tr *train.Trainer, step int, cancel func()) {
				// The second epoch's last step: the stage's closing validation comes next.
				if h := tr.History(); len(h) == 1 && step == 2*h[0].Steps {
					cancel()
				}
			},
			func(t *testing.T, in *train.Interrupted, out string, perEpoch int) {
				if in.Saved != "" || in.SaveErr != nil || in.During != "validation" || in.Step != 2*perEpoch || in.LastSaved != perEpoch {
					t.Fatalf("%+v; want interrupted during validation at step %d, nothing saved since step %d", in, 2*perEpoch, perEpoch)
				}
				if !strings.Contains(in.Error(), "nothing saved since step") {
					t.Fatalf("%q does not say that nothing was saved", in)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			tc := trainCfg(out, 2, 0)
			tc.BatchSize, tc.ValSamples = 2, 2
			tr, err := train.New(prsmedtest.TinyModel(t, 2), trainSet, val, tc)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			step := 0
			tr.OnStep = func() {
				step++
				c.stop(tr, step, cancel)
			}
			err = tr.Run(ctx)
			var in *train.Interrupted
			if !errors.As(err, &in) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v; want an *Interrupted wrapping context.Canceled", err)
			}
			t.Log(err)
			perEpoch := 0
			if h := tr.History(); len(h) > 0 {
				perEpoch = h[0].Steps
			}
			c.check(t, in, out, perEpoch)
		})
	}
}

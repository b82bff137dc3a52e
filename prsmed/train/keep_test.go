package train_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/prsmed/train"
)

// TestKeepLastSurvivesAFailedSave: with KeepLast 1, a checkpoint whose save fails (here the
// bundle manifest cannot be written) stops the run and leaves the kept copy of the
// previous checkpoint whole; before, it was deleted before the new save was attempted.
// No half-written checkpoint.tmp stays behind.
func TestKeepLastSurvivesAFailedSave(t *testing.T) {
	set := synthSet(t, 6).Samples("train")
	out := t.TempDir()
	tc := trainCfg(out, 3, 0)
	tc.KeepLast = 1
	tr, err := train.New(prsmedtest.TinyModel(t, 2), set, nil, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.OnStep = func() {
		if len(tr.History()) == 1 {
			tr.Cfg.TokenizerModel = []byte("not a tokenizer") // the second epoch's save fails
		}
	}
	if err := tr.Run(context.Background()); err == nil {
		t.Fatal("Run succeeded with a failing save")
	}
	h := tr.History()
	if len(h) != 2 {
		t.Fatalf("%d epochs ran, want 2 (the second one's checkpoint fails)", len(h))
	}
	kept, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 {
		t.Fatalf("checkpoints/ holds %d entries after the failed save, want the first epoch's", len(kept))
	}
	for _, f := range []string{"trainer.json", "model.safetensors", "optimizer.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, "checkpoints", kept[0].Name(), f)); err != nil {
			t.Errorf("the kept checkpoint: %v", err)
		}
	}
	if got := trainerStep(t, filepath.Join(out, "checkpoints", kept[0].Name())); got != h[0].Steps {
		t.Errorf("the kept checkpoint is at step %d, want %d (the first epoch's end)", got, h[0].Steps)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint.tmp")); !os.IsNotExist(err) {
		t.Errorf("checkpoint.tmp is left behind (%v)", err)
	}
}

// trainerStep reads the global step of a checkpoint folder.
func trainerStep(t *testing.T, dir string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		GlobalStep int `json:"global_step"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.GlobalStep
}

package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/torch"
)

// Checkpoint layout inside OutDir/checkpoint: model.safetensors (every tensor that any
// stage trains, plus buffers), optimizer.safetensors, trainer.json, config.json, and the
// LoRA adapter in PEFT's format under adapter/. A new checkpoint is written to
// checkpoint.tmp and swapped in with renames, so a kill at any moment leaves the previous
// complete checkpoint (as checkpoint or checkpoint.old).
func (t *Trainer) Save() error {
	dir := filepath.Join(t.Cfg.OutDir, "checkpoint")
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	defer os.RemoveAll(tmp) // a failed save leaves no half-written folder (after the swap, none is there)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := t.M.SaveCheckpoint(tmp); err != nil {
		return err
	}
	if t.Cfg.TokenizerModel != nil {
		if err := prsmed.WriteManifest(tmp, t.Cfg.TokenizerModel, t.Cfg.Base); err != nil {
			return err
		}
	}
	if t.opt != nil {
		st, meta := t.opt.State()
		meta["stage"] = fmt.Sprint(int(t.optStage))
		if err := torch.SaveSafetensors(filepath.Join(tmp, "optimizer.safetensors"), st, meta); err != nil {
			return err
		}
	}
	t.state.World = t.world()
	t.state.GlobalBatch = t.stepBatch() * t.world()
	raw, err := json.MarshalIndent(t.state, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(tmp, "trainer.json"), raw); err != nil {
		return err
	}
	old := dir + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	t.savedStep = t.state.GlobalStep
	return os.RemoveAll(old)
}

// Resume loads a checkpoint written by Save (from OutDir/checkpoint, or checkpoint.old when
// a kill interrupted the swap) into the trainer's model and optimizer, so that Run
// continues exactly where the checkpoint was taken. It returns false when there is none.
// Every part of the checkpoint must read: a missing or damaged trainer.json, model or
// optimizer state is an error that names the file, never a silent fresh start of that part.
// Under Config.Dist every rank calls it on the same checkpoint. One written with another
// world size continues elastically (see elasticBatch): Config.BatchSize becomes the
// recorded global batch over this run's processes and micro-batches.
func (t *Trainer) Resume() (bool, error) {
	dir := filepath.Join(t.Cfg.OutDir, "checkpoint")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		// A kill between Save's two renames leaves only checkpoint.old.
		dir += ".old"
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		return false, fmt.Errorf("train: resume: %w", err)
	}
	var st trainState
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, fmt.Errorf("prsmed: %s: %v", filepath.Join(dir, "trainer.json"), err)
	}
	batch, err := t.elasticBatch(dir, st)
	if err != nil {
		return false, err
	}
	if err := t.M.LoadCheckpoint(dir); err != nil {
		return false, fmt.Errorf("train: resume: %w", err)
	}
	if err := t.loadOptimizer(filepath.Join(dir, "optimizer.safetensors"), st.GlobalStep); err != nil {
		return false, err
	}
	t.Cfg.BatchSize = batch
	st.Config = t.Cfg
	t.state = st
	t.savedStep = st.GlobalStep
	return true, nil
}

// loadOptimizer restores the optimizer state Save wrote to path. The file may be absent only
// for a checkpoint taken before the first step (Save before Run has no optimizer state).
func (t *Trainer) loadOptimizer(path string, globalStep int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("train: resume: %s: %s", path, fmt.Sprintf(format, args...))
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && globalStep == 0 {
		return nil
	}
	ow, err := torch.OpenWeights(path)
	if err != nil {
		return fmt.Errorf("train: resume: the optimizer state: %w", err)
	}
	defer ow.Close()
	meta := ow.Metadata()
	stage, err := strconv.Atoi(meta["stage"])
	if err != nil || stage < int(prsmed.Stage0) || stage > int(prsmed.Stage2) {
		return bad("stage %q in the metadata is not 0, 1 or 2", meta["stage"])
	}
	opt := t.optimizer(prsmed.Stage(stage))
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	tensors := map[string]*torch.Tensor{}
	for _, n := range ow.Names() {
		x, err := ow.Load(s, n, torch.KeepDType)
		if err != nil {
			return bad("%v", err)
		}
		tensors[n] = x
	}
	if err := opt.LoadState(tensors, meta); err != nil {
		return bad("%v", err)
	}
	return nil
}

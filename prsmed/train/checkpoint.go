package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

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
	return os.RemoveAll(old)
}

// Resume loads a checkpoint written by Save (from OutDir/checkpoint, or checkpoint.old when
// a kill interrupted the swap) into the trainer's model and optimizer, so that Run
// continues exactly where the checkpoint was taken. It returns false when there is none.
// Under Config.Dist every rank calls it on the same checkpoint; one written with another
// world size is refused with ErrWorldSize.
func (t *Trainer) Resume() (bool, error) {
	dir := filepath.Join(t.Cfg.OutDir, "checkpoint")
	if _, err := os.Stat(filepath.Join(dir, "trainer.json")); err != nil {
		dir += ".old"
		if _, err := os.Stat(filepath.Join(dir, "trainer.json")); err != nil {
			return false, nil
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		return false, err
	}
	var st trainState
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, fmt.Errorf("prsmed: %s: %v", filepath.Join(dir, "trainer.json"), err)
	}
	if w := max(st.World, 1); w != t.world() {
		return false, fmt.Errorf("%w: %s was written by %d process(es), this run has %d; resume with WORLD_SIZE=%d (the batch order and the steps per epoch depend on it)",
			ErrWorldSize, dir, w, t.world(), w)
	}
	if err := t.M.LoadCheckpoint(dir); err != nil {
		return false, err
	}
	if ow, err := torch.OpenWeights(filepath.Join(dir, "optimizer.safetensors")); err == nil {
		meta := ow.Metadata()
		var stage int
		fmt.Sscan(meta["stage"], &stage)
		opt := t.optimizer(prsmed.Stage(stage))
		s := torch.NewScope(torch.CPU)
		tensors := map[string]*torch.Tensor{}
		for _, n := range ow.Names() {
			x, err := ow.Load(s, n, torch.KeepDType)
			if err != nil {
				s.Close()
				ow.Close()
				return false, err
			}
			tensors[n] = x
		}
		err = opt.LoadState(tensors, meta)
		s.Close()
		ow.Close()
		if err != nil {
			return false, err
		}
	}
	st.Config = t.Cfg
	t.state = st
	return true, nil
}

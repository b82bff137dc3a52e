package train

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// checkpoint saves the run's state after an epoch or a validation: checkpoint/ (the
// latest), best/ when the last validation is the best so far, KeepLast's copies under
// checkpoints/, and the logs. Without OutDir it does nothing.
func (t *Trainer) checkpoint() error {
	if t.Cfg.OutDir == "" || !t.writer() {
		t.newBest = false
		return nil
	}
	newBest := t.newBest
	t.newBest = false
	// KeepLast's list after this checkpoint; the folders that fall off it are deleted only
	// once the new checkpoint is complete, so a failed save never costs an older one.
	prev := t.state.Kept
	var drop []string
	if t.Cfg.KeepLast > 0 {
		name := fmt.Sprintf("step-%08d", t.state.GlobalStep)
		kept := slices.Clone(prev)
		if n := len(kept); n == 0 || kept[n-1] != name {
			kept = append(kept, name)
		}
		if n := len(kept) - t.Cfg.KeepLast; n > 0 {
			drop, kept = kept[:n], kept[n:]
		}
		t.state.Kept = kept
	}
	if err := t.Save(); err != nil {
		t.state.Kept = prev
		return err
	}
	latest := filepath.Join(t.Cfg.OutDir, "checkpoint")
	if newBest {
		if err := replaceWithCopy(latest, filepath.Join(t.Cfg.OutDir, "best")); err != nil {
			t.state.Kept = prev
			return fmt.Errorf("train: keeping the best checkpoint: %w", err)
		}
	}
	if n := len(t.state.Kept); n > 0 {
		if err := replaceWithCopy(latest, filepath.Join(t.Cfg.OutDir, "checkpoints", t.state.Kept[n-1])); err != nil {
			t.state.Kept = prev
			return fmt.Errorf("train: keeping a checkpoint: %w", err)
		}
	}
	for _, name := range drop {
		if err := os.RemoveAll(filepath.Join(t.Cfg.OutDir, "checkpoints", name)); err != nil {
			return err
		}
	}
	return t.writeLogs()
}

// replaceWithCopy makes dst a copy of the folder src, built beside it and swapped in with
// renames so that dst is never half written. Files are hard links where the file system
// allows (Save writes every file anew, so a link never sees a later change).
func replaceWithCopy(src, dst string) error {
	tmp := dst + ".tmp"
	os.RemoveAll(tmp)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(tmp, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if os.Link(path, to) == nil {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, raw, 0o644)
	})
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	old := dst + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(dst); err == nil {
		if err := os.Rename(dst, old); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

package train_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
)

// copyDir copies the folder src to dst (files only, for test checkpoints).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// setOptimizerStage rewrites optimizer.safetensors with its "stage" metadata set to v.
func setOptimizerStage(t *testing.T, path, v string) {
	t.Helper()
	ow, err := torch.OpenWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ow.Close()
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	tensors := map[string]*torch.Tensor{}
	for _, n := range ow.Names() {
		if tensors[n], err = ow.Load(s, n, torch.KeepDType); err != nil {
			t.Fatal(err)
		}
	}
	meta := ow.Metadata()
	meta["stage"] = v
	if err := torch.SaveSafetensors(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
}

// TestResumeRefusesADamagedCheckpoint: every part of a checkpoint that does not read is an
// error naming the file (before, a truncated or missing optimizer state or a bad stage in
// it silently restarted Adam from zero while the run reported an exact resume); the
// undamaged checkpoint resumes.
func TestResumeRefusesADamagedCheckpoint(t *testing.T) {
	set := synthSet(t, 6).Samples("train")
	pristine := t.TempDir()
	tc := trainCfg(pristine, 1, 0)
	trainOn(t, prsmedtest.TinyModel(t, 2), set, tc)
	truncate := func(name string) func(dir string) {
		return func(dir string) {
			if err := os.Truncate(filepath.Join(dir, name), 100); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(name string) func(dir string) {
		return func(dir string) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	stage := func(v string) func(dir string) {
		return func(dir string) { setOptimizerStage(t, filepath.Join(dir, "optimizer.safetensors"), v) }
	}
	for _, c := range []struct {
		name   string
		damage func(dir string)
		want   []string // in the error
	}{
		{"undamaged", func(string) {}, nil},
		{"optimizer truncated to 100 bytes", truncate("optimizer.safetensors"), []string{"optimizer.safetensors"}},
		{"optimizer missing", remove("optimizer.safetensors"), []string{"optimizer.safetensors"}},
		{"stage not a number", stage("two"), []string{"optimizer.safetensors", `stage "two"`}},
		{"stage out of range", stage("7"), []string{"optimizer.safetensors", `stage "7"`}},
		{"stage missing", stage(""), []string{"optimizer.safetensors", `stage ""`}},
		{"model truncated to 100 bytes", truncate("model.safetensors"), []string{"model.safetensors"}},
		{"trainer.json truncated", truncate("trainer.json"), []string{"trainer.json"}},
		{"trainer.json missing", remove("trainer.json"), []string{"trainer.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			copyDir(t, pristine, out)
			c.damage(filepath.Join(out, "checkpoint"))
			tc.OutDir = out
			tr, err := train.New(prsmedtest.TinyModel(t, 2), set, nil, tc)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ok, err := tr.Resume()
			if c.want == nil {
				if !ok || err != nil {
					t.Fatalf("Resume: %v, %v; want true, nil", ok, err)
				}
				return
			}
			if ok || err == nil {
				t.Fatalf("Resume: %v, %v; want an error", ok, err)
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error %q does not say %q", err, w)
				}
			}
		})
	}
}

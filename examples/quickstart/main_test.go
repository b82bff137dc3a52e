package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/internal/gocmd"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// logSteps reads a trainer's log.csv: the stage and the optimisation steps of each epoch.
func logSteps(t *testing.T, path string) (stages, steps []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %v (%d rows)", path, err, len(rows))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, r := range rows[1:] {
		st, err1 := strconv.Atoi(r[col["stage"]])
		n, err2 := strconv.Atoi(r[col["steps"]])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: row %q", path, r)
		}
		stages, steps = append(stages, st), append(steps, n)
	}
	return stages, steps
}

// trainerState is what these tests read of a checkpoint's trainer.json.
type trainerState struct {
	World  int `json:"world_size"`
	Config struct {
		FreezeLoRA bool `json:"stage2_freeze_lora"`
	} `json:"train_config"`
}

// readTrainerState reads a checkpoint's trainer.json.
func readTrainerState(t *testing.T, dir string) trainerState {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st trainerState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	st.World = max(st.World, 1) // 1 when it records none
	return st
}

// TestQuickstartRuns runs a very short quickstart in one process and in two and three
// data-parallel ones (three with a global batch of 15, which two could not split). Stage 0 trains in -out/stage0 on the one-finding rows alone (its steps per epoch
// are those of the one-finding training split), stages 1 and 2 in -out on every row; the
// checkpoints record the world size and whether stage 2 kept LoRA frozen (-freeze-lora2,
// on by default); the report ends with both sets of goals.
func TestQuickstartRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quickstart")
	}
	bin := gocmd.BuildTest(t, ".")
	// The one-process run turns -freeze-lora2 off; the others leave the preset's default (on).
	for _, c := range []struct {
		nproc, batch int
		freeze       bool
	}{{1, 16, false}, {2, 16, true}, {3, 15, true}} {
		nproc, batch := c.nproc, c.batch
		t.Run("nproc="+strconv.Itoa(nproc), func(t *testing.T) {
			if nproc > 1 && !dist.Gloo.Available() {
				t.Skip("this build has no Gloo backend")
			}
			out := t.TempDir()
			args := []string{"-out", out, "-n", "6", "-multi", "6", "-epochs0", "1", "-epochs1", "1", "-epochs2", "1",
				"-overlays", "1", "-workers", "1", "-threads", "1", "-nproc", strconv.Itoa(nproc), "-batch", strconv.Itoa(batch)}
			if !c.freeze {
				args = append(args, "-freeze-lora2=false")
			}
			cmd := exec.Command(bin, args...)
			res, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("quickstart: %v\n%s", err, res)
			}
			for _, want := range []string{"goals: mDice", "multi-finding goals: referring accuracy"} {
				if !strings.Contains(string(res), want) {
					t.Errorf("no %q in the output:\n%s", want, res)
				}
			}
			one, err := data.Open(filepath.Join(out, "data"))
			if err != nil {
				t.Fatal(err)
			}
			multi, err := data.Open(filepath.Join(out, "data-multi"))
			if err != nil {
				t.Fatal(err)
			}
			nOne := len(one.Samples("train"))
			nAll := nOne + len(multi.Samples("train"))
			perStep := batch // the global batch, split over the processes
			stages, steps := logSteps(t, filepath.Join(out, "stage0", "log.csv"))
			if len(stages) != 1 || stages[0] != 0 || steps[0] != (nOne+perStep-1)/perStep {
				t.Errorf("stage0/log.csv: stages %v, steps %v; want one stage-0 epoch of %d steps (%d one-finding rows)", stages, steps, (nOne+perStep-1)/perStep, nOne)
			}
			stages, steps = logSteps(t, filepath.Join(out, "log.csv"))
			want := (nAll + perStep - 1) / perStep
			if len(stages) != 2 || stages[0] != 1 || stages[1] != 2 || steps[0] != want || steps[1] != want {
				t.Errorf("log.csv: stages %v, steps %v; want stages 1 and 2 of %d steps each (%d rows)", stages, steps, want, nAll)
			}
			if st := readTrainerState(t, filepath.Join(out, "checkpoint")); st.Config.FreezeLoRA != c.freeze {
				t.Errorf("checkpoint trained with Stage2FreezeLoRA %v, want %v (-freeze-lora2=%v)", st.Config.FreezeLoRA, c.freeze, c.freeze)
			}
			for _, dir := range []string{filepath.Join(out, "stage0", "checkpoint"), filepath.Join(out, "checkpoint")} {
				if st := readTrainerState(t, dir); st.World != nproc {
					t.Errorf("%s records world size %d, want %d", dir, st.World, nproc)
				}
			}
		})
	}
}

// TestQuickstartRefusesUnevenBatch: a batch that two processes cannot split is refused
// before any data is written, with a one-line error naming both flags.
func TestQuickstartRefusesUnevenBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quickstart")
	}
	bin := gocmd.BuildTest(t, ".")
	out := t.TempDir()
	res, err := exec.Command(bin, "-out", out, "-batch", "15", "-nproc", "2").CombinedOutput()
	if err == nil || !strings.Contains(string(res), "-batch 15 does not split over -nproc 2") {
		t.Fatalf("quickstart -batch 15 -nproc 2: %v\n%s", err, res)
	}
	if lines := strings.Count(strings.TrimSpace(string(res)), "\n") + 1; lines != 1 {
		t.Errorf("%d lines of output, want one:\n%s", lines, res)
	}
	if _, err := os.Stat(filepath.Join(out, "data")); err == nil {
		t.Error("data was written before the refusal")
	}
}

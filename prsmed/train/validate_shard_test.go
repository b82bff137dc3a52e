package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/data/synth"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// distWorkers are worker processes other than the ddpCases' training runs, by the name
// in distCaseVar.
var distWorkers = map[string]func(out, root string) error{
	"validate": valWorker,
}

// valSamples is the validation set's size: not a multiple of valRanks, so the shards differ.
const (
	valSamples = 7
	valRanks   = 3
)

// valResult is what a validation worker reports.
type valResult struct {
	Summary metrics.Summary `json:"summary"`
	Share   int             `json:"share"` // the samples this rank predicted
}

// validateOnce validates the tiny model (seed 1) on the first valSamples samples with
// batch 1 over g (nil: one process).
func validateOnce(root string, g *dist.Group) (valResult, error) {
	ds, err := data.Open(root)
	if err != nil {
		return valResult{}, err
	}
	samples := ds.Samples("train")
	if len(samples) < valSamples {
		return valResult{}, fmt.Errorf("only %d samples", len(samples))
	}
	m, err := ddpModel(1, 0)
	if err != nil {
		return valResult{}, err
	}
	defer m.Close()
	tc := train.DefaultConfig()
	tc.BatchSize, tc.Dist = 1, g
	tr, err := train.New(m, samples[:1], samples[:valSamples], tc)
	if err != nil {
		return valResult{}, err
	}
	defer tr.Close()
	sum, err := tr.Validate(context.Background())
	return valResult{Summary: sum, Share: tr.ValShare()}, err
}

func valWorker(out, root string) error {
	torch.SetNumThreads(1)
	env, err := dist.FromEnv()
	if err != nil {
		return err
	}
	g, err := dist.Init(context.Background(), dist.Config{Env: env, Backend: dist.Gloo, Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer g.Close()
	r, err := validateOnce(root, g)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, fmt.Sprintf("rank%d.json", env.Rank)), raw, 0o644)
}

// TestShardedValidationEqualsOneProcess: three ranks validate 7 samples (batch 1), each
// predicting only its share (3, 2 and 2 samples), and every rank's summary — Dice, IoU and
// zone accuracy per modality and overall — equals one process's exactly.
func TestShardedValidationEqualsOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	if !dist.Gloo.Available() {
		t.Skip("this build has no Gloo backend")
	}
	root := filepath.Join(t.TempDir(), "posmed")
	if err := synth.Generate(root, synth.Config{N: 12, Size: 64, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var cmds []*exec.Cmd
	var errs []*bytes.Buffer
	for r := 0; r < valRanks; r++ {
		c := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), distWorkerVar+"="+out, distDataVar+"="+root, distCaseVar+"=validate", "RANK="+strconv.Itoa(r),
			"LOCAL_RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(valRanks), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port), "OMP_NUM_THREADS=1")
		var b bytes.Buffer
		c.Stderr, c.WaitDelay = &b, 5*time.Second
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, errs = append(cmds, c), append(errs, &b)
	}
	torch.SetNumThreads(1)
	want, err := validateOnce(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for r, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("rank %d: %v\n%s", r, err, errs[r])
		}
	}
	if want.Share != valSamples || want.Summary.Overall.Images != valSamples || want.Summary.Overall.Answers != valSamples {
		t.Fatalf("one process: %+v", want)
	}
	for r := 0; r < valRanks; r++ {
		raw, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("rank%d.json", r)))
		if err != nil {
			t.Fatal(err)
		}
		var got valResult
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if share := (valSamples - r + valRanks - 1) / valRanks; got.Share != share {
			t.Errorf("rank %d predicted %d samples, want its share of %d", r, got.Share, share)
		}
		if !reflect.DeepEqual(got.Summary, want.Summary) {
			t.Errorf("rank %d: summary\n%+v\nwant (one process)\n%+v", r, got.Summary, want.Summary)
		}
	}
	t.Logf("overall: %+v", want.Summary.Overall)
}

package train_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

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
	samples, err := firstSamples(root, valSamples)
	if err != nil {
		return valResult{}, err
	}
	m, err := ddpModel(1, 0)
	if err != nil {
		return valResult{}, err
	}
	defer m.Close()
	tc := train.DefaultConfig()
	tc.BatchSize, tc.Dist = 1, g
	tr, err := train.New(m, samples[:1], samples, tc)
	if err != nil {
		return valResult{}, err
	}
	defer tr.Close()
	sum, err := tr.Validate(context.Background())
	return valResult{Summary: sum, Share: tr.ValShare()}, err
}

func valWorker(out, root string) error {
	env, g, err := joinWorkers()
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
	needGloo(t, "starts three processes")
	root := distData(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	wait := startRanks(t, ctx, ddpLaunch{world: valRanks}, "validate", root, out)
	torch.SetNumThreads(1)
	want, err := validateOnce(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	wait()
	if want.Share != valSamples || want.Summary.Overall.Images != valSamples || want.Summary.Overall.Answers != valSamples {
		t.Fatalf("one process: %+v", want)
	}
	for r := 0; r < valRanks; r++ {
		var got valResult
		readJSON(t, filepath.Join(out, fmt.Sprintf("rank%d.json", r)), &got)
		if share := (valSamples - r + valRanks - 1) / valRanks; got.Share != share {
			t.Errorf("rank %d predicted %d samples, want its share of %d", r, got.Share, share)
		}
		if !reflect.DeepEqual(got.Summary, want.Summary) {
			t.Errorf("rank %d: summary\n%+v\nwant (one process)\n%+v", r, got.Summary, want.Summary)
		}
	}
	t.Logf("overall: %+v", want.Summary.Overall)
}

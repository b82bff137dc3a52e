package train_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/data/synth"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// distWorkers are worker processes other than the ddpCases' training runs, by the name
// in distCaseVar.
var distWorkers = map[string]func(out, root string) error{
	"validate":       valWorker(valSamples),
	"validate-refer": valWorker(referSamples),
}

// valSamples is the validation set's size: not a multiple of valRanks, so the shards differ.
const (
	valSamples = 7
	valRanks   = 3
)

// valResult is what a validation worker reports.
type valResult struct {
	Summary   metrics.Summary    `json:"summary"`
	Referring *metrics.Referring `json:"referring,omitempty"` // multi-finding sets only
	Share     int                `json:"share"`               // the samples this rank predicted
}

// validateOnce validates the tiny model (seed 1) on the first n training samples of root
// with batch 1 over g (nil: one process).
func validateOnce(root string, n int, g *dist.Group) (valResult, error) {
	samples, err := firstSamples(root, n)
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
	sum, ref, err := tr.ValidateScores(context.Background())
	return valResult{Summary: sum, Referring: ref, Share: tr.ValShare()}, err
}

// valWorker is a worker process that validates the first n samples and writes its result
// to rankR.json.
func valWorker(n int) func(out, root string) error {
	return func(out, root string) error {
		env, g, err := joinWorkers()
		if err != nil {
			return err
		}
		defer g.Close()
		r, err := validateOnce(root, n, g)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(out, fmt.Sprintf("rank%d.json", env.Rank)), raw, 0o644)
	}
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
	want, err := validateOnce(root, valSamples, nil)
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

// referSamples is the size of the multi-finding validation set of
// TestShardedReferringEqualsOneProcess.
const referSamples = 11

// TestShardedReferringEqualsOneProcess: three ranks validate 11 multi-finding questions
// (batch 1), each predicting every question of its images; every rank's summary equals one
// process's exactly, and so do the referring counts, with the Dice means equal to
// rounding (the ranks' sums are added in rank order).
func TestShardedReferringEqualsOneProcess(t *testing.T) {
	needGloo(t, "starts three processes")
	root := filepath.Join(t.TempDir(), "multi")
	if err := synth.Generate(root, synth.Config{N: 12, Size: 64, Seed: 3, Findings: 3}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	wait := startRanks(t, ctx, ddpLaunch{world: valRanks}, "validate-refer", root, out)
	torch.SetNumThreads(1)
	want, err := validateOnce(root, referSamples, nil)
	if err != nil {
		t.Fatal(err)
	}
	wait()
	if want.Referring == nil || want.Referring.Images < valRanks || want.Referring.Pairs == 0 {
		t.Fatalf("one process: referring %+v; want images with several findings on every rank", want.Referring)
	}
	shares := 0
	for r := 0; r < valRanks; r++ {
		var got valResult
		readJSON(t, filepath.Join(out, fmt.Sprintf("rank%d.json", r)), &got)
		shares += got.Share
		if !reflect.DeepEqual(got.Summary, want.Summary) {
			t.Errorf("rank %d: summary\n%+v\nwant (one process)\n%+v", r, got.Summary, want.Summary)
		}
		g, w := got.Referring, want.Referring
		if g == nil {
			t.Errorf("rank %d: no referring scores", r)
			continue
		}
		if g.Images != w.Images || g.Questions != w.Questions || g.Correct != w.Correct || g.Pairs != w.Pairs || g.Accuracy != w.Accuracy {
			t.Errorf("rank %d: referring counts %+v, want %+v", r, *g, *w)
		}
		for _, d := range [][2]float64{{g.AskedDice, w.AskedDice}, {g.OtherDice, w.OtherDice}, {g.Alike, w.Alike}} {
			if math.Abs(d[0]-d[1]) > 1e-12*math.Max(1, math.Abs(d[1])) {
				t.Errorf("rank %d: referring %+v, want %+v", r, *g, *w)
				break
			}
		}
	}
	if shares != referSamples {
		t.Errorf("the ranks predicted %d questions, want %d (each once)", shares, referSamples)
	}
	t.Logf("referring: %+v", *want.Referring)
}

package train

import (
	"math"

	"github.com/prsmed/prsmed-go/prsmed"
)

// trainState is what a checkpoint needs besides tensors to resume exactly.
type trainState struct {
	Epoch       int          `json:"epoch"`       // the epoch in progress (or next to run)
	Step        int          `json:"step"`        // batches of it already done
	GlobalStep  int          `json:"global_step"` // optimisation steps of the run done
	History     []EpochStats `json:"history"`     // finished epochs
	Partial     sums         `json:"partial"`     // sums of the epoch in progress
	Validations []Validation `json:"validations"`
	Best        *Validation  `json:"best,omitempty"` // the best validation so far (Validation.Score)
	Kept        []string     `json:"kept,omitempty"` // KeepLast's checkpoint folders, oldest first
	Config      Config       `json:"train_config"`
	// World is the number of data-parallel processes that wrote the state (0 in
	// checkpoints from before data parallelism: one).
	World int `json:"world_size"`
	// GlobalBatch is the samples of one optimisation step over every process (BatchSize ×
	// Accum × World); a resume with another world size keeps it (0 in older checkpoints:
	// derived from Config and World).
	GlobalBatch int `json:"global_batch,omitempty"`
}

// sums accumulates an epoch's losses, weighted by samples.
type sums struct {
	Loss, BCE, Dice, CE float64
	N                   int
	Skipped             int
	Steps               int
	Seconds             float64
}

func (p *sums) add(parts [4]float64, n, skipped int, seconds float64) {
	w := float64(n)
	p.Loss += parts[0] * w
	p.BCE += parts[1] * w
	p.Dice += parts[2] * w
	p.CE += parts[3] * w
	p.N += n
	p.Skipped += skipped
	p.Steps++
	p.Seconds += seconds
}

func (p sums) stats(epoch int, stage prsmed.Stage, lr float64) EpochStats {
	es := EpochStats{Epoch: epoch, Stage: stage, LR: lr, Skipped: p.Skipped, Steps: p.Steps, Seconds: p.Seconds}
	if p.N > 0 {
		n := float64(p.N)
		es.Loss, es.BCE, es.Dice, es.CE = p.Loss/n, p.BCE/n, p.Dice/n, p.CE/n
		es.SamplesSec = n / math.Max(p.Seconds, 1e-9)
	}
	return es
}

// doneSteps is the number of steps of the run already done, with perEpoch steps an epoch.
func (t *Trainer) doneSteps(perEpoch int) int { return t.state.Epoch*perEpoch + t.state.Step }

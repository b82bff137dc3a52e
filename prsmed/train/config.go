package train

import (
	"io"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// Config holds the training settings (the paper's recipe from DefaultConfig).
type Config struct {
	// Stage0Epochs pretrain the vision-language backbone on the answers (presets with
	// TrainBackbone only; see prsmed.Stage0).
	Stage0Epochs int     `json:"stage0_epochs"`
	Stage1Epochs int     `json:"stage1_epochs"`
	Stage2Epochs int     `json:"stage2_epochs"`
	BatchSize    int     `json:"batch_size"`
	LR           float64 `json:"lr"`
	Stage0LR     float64 `json:"stage0_lr"` // stage 0's peak rate (0: LR)
	MinLR        float64 `json:"min_lr"`    // cosine floor
	WeightDecay  float64 `json:"weight_decay"`
	Eps          float64 `json:"eps"`
	ClipNorm     float64 `json:"clip_norm"` // global gradient-norm clip (0: none)
	Seed         uint64  `json:"seed"`
	// OutDir receives the checkpoint, log.csv and curves.png.
	OutDir string `json:"out_dir"`
	// Progress receives the progress bar and per-epoch summaries (nil: silent).
	Progress io.Writer `json:"-"`
	// ValSamples caps the validation samples per epoch (0: all).
	ValSamples int `json:"val_samples"`
	// ValEvery validates every ValEvery epochs and at the end of each stage (0 or 1: every
	// epoch).
	ValEvery int `json:"val_every"`
	// Flip mirrors each training sample of stages 1 and 2 horizontally and vertically with
	// probability ½, rewriting the answer's position words to match (see Flips). Off in
	// the paper's recipe; the quickstart turns it on to stretch its small synthetic set (it
	// lifted the test mDice; in stage 0 it slowed the zone learning, so stage 0 never flips).
	Flip bool `json:"flip"`
}

// DefaultConfig is the paper's recipe: AdamW lr 1e-4, weight decay 1e-5, eps 1e-6, cosine to
// 1e-6, clip 1.0, batch 4.
func DefaultConfig() Config {
	return Config{Stage1Epochs: 1, Stage2Epochs: 3, BatchSize: 4, LR: 1e-4, MinLR: 1e-6, WeightDecay: 1e-5, Eps: 1e-6, ClipNorm: 1, Seed: 1}
}

// EpochStats is one epoch's summary.
type EpochStats struct {
	Epoch      int              `json:"epoch"`
	Stage      prsmed.Stage     `json:"stage"`
	Loss       float64          `json:"loss"`
	BCE        float64          `json:"bce"`
	Dice       float64          `json:"dice"`
	CE         float64          `json:"ce"`
	LR         float64          `json:"lr"`
	SamplesSec float64          `json:"samples_per_sec"`
	Val        *metrics.Summary `json:"val,omitempty"`
}

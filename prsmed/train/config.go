package train

import (
	"io"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// Config holds the training settings (the paper's recipe from DefaultConfig; Preset gives
// the recipes the command-line tools start from).
type Config struct {
	// Stage0Epochs pretrain the vision-language backbone on the answers (presets with
	// TrainBackbone only; see prsmed.Stage0).
	Stage0Epochs int `json:"stage0_epochs"`
	Stage1Epochs int `json:"stage1_epochs"`
	Stage2Epochs int `json:"stage2_epochs"`
	// Stage1MinSteps and Stage2MinSteps lengthen stages 1 and 2 to at least this many
	// optimisation steps, in whole epochs, whatever the size of the training set (0: the
	// epochs as given). New applies them: Trainer.Cfg holds the epochs that run. A fixed
	// number of epochs gives a small set few steps, and with too few steps in stage 1 the
	// fusion and decoder learn masks that ignore the question (docs/training.md).
	Stage1MinSteps int `json:"stage1_min_steps"`
	Stage2MinSteps int `json:"stage2_min_steps"`
	// Stage2FreezeLoRA keeps the language model's LoRA adapters frozen in stage 2, which
	// then trains TinyViT, fusion and decoder only: the generated answers stay those of the
	// model stage 2 starts from, and the mask loss cannot pull the language model away from
	// answering. Off in the paper's recipe, whose stage 2 fine-tunes LoRA on a LLaVA-Med
	// that already answers; the tiny preset turns it on, since its small language model,
	// trained on the answers in stage 0, lost 5–10 points of zone accuracy in a stage 2
	// that trained its LoRA (docs/training.md). A stage 2 without LoRA also runs faster:
	// nothing is propagated back through the language model.
	Stage2FreezeLoRA bool `json:"stage2_freeze_lora,omitempty"`
	// GroupImages visits the training samples image by image (the images shuffled, the
	// rows of one image together), so that a batch holds one image asked about its
	// different findings; otherwise the rows are shuffled one by one.
	GroupImages bool `json:"group_images"`
	// BatchSize is the number of samples per forward pass (the micro-batch); an
	// optimisation step sees BatchSize × Accum samples.
	BatchSize int `json:"batch_size"`
	// Accum accumulates the gradients of Accum micro-batches before each optimisation step
	// (0 or 1: none), as Hugging Face's gradient_accumulation_steps.
	Accum       int     `json:"accum"`
	LR          float64 `json:"lr"`
	Stage0LR    float64 `json:"stage0_lr"` // stage 0's peak rate (0: LR)
	MinLR       float64 `json:"min_lr"`    // cosine floor
	WeightDecay float64 `json:"weight_decay"`
	Eps         float64 `json:"eps"`
	ClipNorm    float64 `json:"clip_norm"` // global gradient-norm clip (0: none)
	// WarmupSteps ramps each stage's learning rate linearly from 0 to its peak over its
	// first WarmupSteps optimisation steps, before the cosine decay (0: none).
	WarmupSteps int    `json:"warmup_steps"`
	Seed        uint64 `json:"seed"`
	// OutDir receives checkpoint/ (the latest), best/ (the best validation so far by
	// Validation.Score: mDice, averaged with referring accuracy on multi-finding data),
	// log.csv, validation.csv and curves.png.
	OutDir string `json:"out_dir"`
	// KeepLast keeps, besides checkpoint/ and best/, the last KeepLast saved checkpoints
	// under checkpoints/step-NNNNNNNN (0: none).
	KeepLast int `json:"keep_last"`
	// Progress receives the progress line and the per-epoch and per-validation summaries
	// (nil: silent).
	Progress io.Writer `json:"-"`
	// Bar redraws a progress bar on Progress after every step (with carriage returns: for
	// terminals); without it Progress gets one plain line per epoch and per validation.
	Bar bool `json:"-"`
	// ValSamples caps the validation samples (0: all).
	ValSamples int `json:"val_samples"`
	// ValEvery validates every ValEvery epochs and at the end of each stage (0 or 1: every
	// epoch).
	ValEvery int `json:"val_every"`
	// ValEverySteps also validates (and saves a checkpoint) every ValEverySteps
	// optimisation steps of the run (0: only at the epochs ValEvery chooses).
	ValEverySteps int `json:"val_every_steps"`
	// Flip mirrors each training sample of stages 1 and 2 horizontally and vertically with
	// probability ½, rewriting the answer's position words to match (see Flips); a flip is
	// skipped for a question that names a side on its axis ("the left kidney", see
	// Flips.ForQuestion). Off in the paper's recipe; the quickstart turns it on to stretch
	// its small synthetic set (it lifted the test mDice; in stage 0 it slowed the zone
	// learning, so stage 0 never flips).
	Flip bool `json:"flip"`
	// Workers is the number of goroutines that load, decode and preprocess samples ahead
	// of the step (0: one per CPU). The batches do not depend on it.
	Workers int `json:"workers"`
	// Prefetch is the number of batches prepared or waiting ahead of the step, the one in
	// use included (0: enough to keep the workers busy, at least 2). It bounds the
	// pipeline's memory.
	Prefetch int `json:"prefetch"`
	// CacheBytes keeps preprocessed samples (before flips) in host memory up to this many
	// bytes, least recently used out first (0: no cache; samples are decoded every epoch).
	CacheBytes int64 `json:"cache_bytes"`
	// Strict stops the run at the first sample that cannot be read or decoded or whose
	// image and mask sizes disagree; otherwise such samples are skipped, reported on
	// Progress and counted in log.csv.
	Strict bool `json:"strict"`
	// GradCheckpoint recomputes the language model's layers in the backward pass
	// (mistral.Model.ForwardBackward) in the stages that train it, trading compute for
	// activation memory.
	GradCheckpoint bool `json:"grad_checkpoint"`
	// Autocast runs each training step under libtorch's autocast to this dtype (BFloat16 or
	// Float16; 0: off), as the official code trains with bf16 autocast on CUDA: parameters
	// keep their dtype (float32 master weights), matmuls and convolutions compute in the
	// low precision, losses in float32.
	Autocast torch.DType `json:"autocast,omitempty"`
	// TokenizerModel, when set (the raw tokenizer.model bytes the model was built with),
	// makes every checkpoint self-contained: the tokenizer and a manifest naming Base are
	// written beside the weights (prsmed.WriteManifest), so prsmed.LoadBundle needs nothing
	// else and refuses a tokenizer or base weights that do not match.
	TokenizerModel []byte `json:"-"`
	// Base names the released weights the run started from (paper preset).
	Base prsmed.BaseWeights `json:"-"`
	// Dist, when set, trains data-parallel with the other processes of this process group
	// (one model replica per process, as DistributedDataParallel); nil: one process. See
	// the package documentation's section on data parallelism: BatchSize is per rank, rank 0 alone
	// writes files, BatchNorm statistics stay per rank unless SyncBN.
	Dist *dist.Group `json:"-"`
	// SyncBN, with Dist, normalises the TinyViT BatchNorms with the statistics of every
	// rank's batch together, as torch.nn.SyncBatchNorm does (two small all-reduces per layer
	// in the forward and two in the backward), so a data-parallel run of a stage that trains
	// TinyViT equals one process with the global batch. Without Dist it changes nothing.
	SyncBN bool `json:"sync_bn,omitempty"`
	// DistNoOverlap averages the gradients after the backward passes (dist.AllReduceGrads)
	// instead of overlapping the all-reduces with backward (dist.Reducer, the default). Both
	// give the same parameters; the option is there to measure the overlap.
	DistNoOverlap bool `json:"-"`
	// DistBucketBytes is the size of the gradient buckets (0: dist.DefaultBucketBytes,
	// 25 MiB, as DistributedDataParallel's bucket_cap_mb).
	DistBucketBytes int64 `json:"-"`
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
	// Skipped counts the samples of the epoch left out as unreadable.
	Skipped int `json:"skipped"`
	// Steps is the number of optimisation steps of the epoch; Seconds the time they took
	// (without validation).
	Steps   int     `json:"steps"`
	Seconds float64 `json:"seconds"`
}

// Validation is one validation's result, at the end of an epoch or every ValEverySteps.
type Validation struct {
	Epoch      int             `json:"epoch"`       // 1-based epoch it ran in
	Step       int             `json:"step"`        // steps of that epoch done
	GlobalStep int             `json:"global_step"` // optimisation steps of the run done
	Summary    metrics.Summary `json:"summary"`
	// Referring holds the referring scores when the validation samples hold several
	// findings per image (nil otherwise); see Score.
	Referring *metrics.Referring `json:"referring,omitempty"`
}

package train

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// ErrBadSample is wrapped by the error Run returns, under Config.Strict, for a sample that
// cannot be used.
var ErrBadSample = errors.New("train: unusable sample")

// Trainer runs PRS-Med's training stages (stage 0 for presets whose backbone trains, then
// stages 1 and 2) over PosMed samples.
type Trainer struct {
	M        *prsmed.Model
	Cfg      Config
	TrainSet []data.Sample
	ValSet   []data.Sample
	cache    *cache
	state    trainState
	opt      *torch.AdamW
	optStage prsmed.Stage
	red      *dist.Reducer // overlapped gradient reduction of stage redStage (Config.Dist)
	redStage prsmed.Stage
	reported map[string]bool // bad samples already reported
	clock    clock
	valDue   bool // ValEverySteps fell on an epoch's last step
	newBest  bool // the last validation is the best so far and best/ does not hold it yet
	valShare int  // the samples this rank predicted in its last validation
	// onBatch, when set (tests), is called after each step with this rank's sample indices.
	onBatch func(epoch, step int, idx []int)
	stepN   int // samples of the last step, over all ranks
	// savedStep is the global step of the newest checkpoint/ written or resumed from, -1
	// when there is none.
	savedStep int
	// OnStep, when set, is called after every optimisation step (tests and tools use it to
	// stop or observe a run).
	OnStep func()
}

// New prepares a trainer. Samples are loaded and preprocessed during the run by
// Config.Workers goroutines, a few batches ahead of the step.
func New(m *prsmed.Model, train, val []data.Sample, cfg Config) (*Trainer, error) {
	if len(train) == 0 {
		return nil, errors.New("prsmed: no training samples")
	}
	if cfg.BatchSize <= 0 {
		return nil, errors.New("prsmed: batch size must be positive")
	}
	if cfg.Accum < 0 || cfg.Workers < 0 || cfg.Prefetch < 0 || cfg.WarmupSteps < 0 || cfg.ValEverySteps < 0 || cfg.KeepLast < 0 || cfg.CacheBytes < 0 {
		return nil, errors.New("prsmed: accum, workers, prefetch, warmup, val-every-steps, keep-last and the cache size must not be negative")
	}
	if cfg.Stage1MinSteps < 0 || cfg.Stage2MinSteps < 0 {
		return nil, errors.New("prsmed: stage minimum steps must not be negative")
	}
	t := &Trainer{M: m, Cfg: cfg, TrainSet: train, ValSet: val, cache: newCache(cfg.CacheBytes),
		reported: map[string]bool{}, savedStep: -1}
	if cfg.Stage1MinSteps > 0 || cfg.Stage2MinSteps > 0 {
		per := max(t.stepsPerEpoch(t.sampler()), 1)
		atLeast := func(epochs, steps int) int { return max(epochs, (steps+per-1)/per) }
		t.Cfg.Stage1Epochs = atLeast(cfg.Stage1Epochs, cfg.Stage1MinSteps)
		t.Cfg.Stage2Epochs = atLeast(cfg.Stage2Epochs, cfg.Stage2MinSteps)
	}
	t.state = trainState{Config: t.Cfg}
	if err := t.syncBatchNorms(); err != nil {
		return nil, err
	}
	return t, nil
}

// Close frees the trainer's cache, optimizer and gradient hooks, and gives the model's
// BatchNorms back their per-process statistics.
func (t *Trainer) Close() {
	t.unsyncBatchNorms()
	t.cache.close()
	t.closeReducer()
	if t.opt != nil {
		t.opt.Close()
	}
}

// Epoch is the index of the epoch in progress (or next to run), counting from 0 over all
// stages.
func (t *Trainer) Epoch() int { return t.state.Epoch }

// History lists the finished epochs.
func (t *Trainer) History() []EpochStats { return t.state.History }

// Validations lists every validation of the run so far.
func (t *Trainer) Validations() []Validation { return t.state.Validations }

// Best is the validation with the highest Score so far (its checkpoint is OutDir/best), or
// nil.
func (t *Trainer) Best() *Validation { return t.state.Best }

func (t *Trainer) stage0() int {
	if !t.M.Config.TrainBackbone {
		return 0
	}
	return t.Cfg.Stage0Epochs
}

func (t *Trainer) totalEpochs() int { return t.stage0() + t.Cfg.Stage1Epochs + t.Cfg.Stage2Epochs }

// stageOf gives the stage of an epoch, the stage's first epoch and its number of epochs.
func (t *Trainer) stageOf(epoch int) (stage prsmed.Stage, first, n int) {
	s0, s1 := t.stage0(), t.Cfg.Stage1Epochs
	switch {
	case epoch < s0:
		return prsmed.Stage0, 0, s0
	case epoch < s0+s1:
		return prsmed.Stage1, s0, s1
	}
	return prsmed.Stage2, s0 + s1, t.Cfg.Stage2Epochs
}

// loraFrozen reports whether stage is a stage 2 whose LoRA adapters Stage2FreezeLoRA keeps
// frozen.
func (t *Trainer) loraFrozen(stage prsmed.Stage) bool {
	return stage == prsmed.Stage2 && t.Cfg.Stage2FreezeLoRA
}

// setStage sets the model's trainable parameters for stage as this configuration trains
// it (prsmed.Model.SetStage, less the LoRA adapters under Stage2FreezeLoRA).
func (t *Trainer) setStage(stage prsmed.Stage) {
	t.M.SetStage(stage)
	if t.loraFrozen(stage) {
		t.M.Store.Freeze(prsmed.LoRAPatterns()...)
	}
}

// TrainableCount is the number of parameter elements stage trains under this
// configuration: prsmed.Model.TrainableCount, less the LoRA adapters in a stage 2 under
// Stage2FreezeLoRA.
func (t *Trainer) TrainableCount(stage prsmed.Stage) int64 {
	n := t.M.TrainableCount(stage)
	if t.loraFrozen(stage) {
		n -= loraadapter.Adapters(t.M.LoRA).NumParams()
	}
	return n
}

func (t *Trainer) optimizer(stage prsmed.Stage) *torch.AdamW {
	if t.opt != nil && t.optStage == stage {
		return t.opt
	}
	if t.opt != nil {
		t.opt.Close()
	}
	t.setStage(stage)
	lr := t.Cfg.LR
	if stage == prsmed.Stage0 && t.Cfg.Stage0LR > 0 {
		lr = t.Cfg.Stage0LR
	}
	groups := t.M.Store.ParamGroups(lr, t.Cfg.WeightDecay, nil)
	t.opt = torch.NewAdamW(groups, torch.AdamWConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: t.Cfg.Eps, WeightDecay: t.Cfg.WeightDecay})
	t.optStage = stage
	return t.opt
}

// stepBatch is the number of samples per optimisation step.
func (t *Trainer) stepBatch() int { return t.Cfg.BatchSize * max(t.Cfg.Accum, 1) }

// sampler orders the training samples; an epoch is cut into batches of stepBatch samples.
func (t *Trainer) sampler() samplerLike {
	if t.Cfg.GroupImages {
		return newImageSampler(t.TrainSet, t.Cfg.Seed, t.stepBatch())
	}
	s, _ := data.NewSampler(len(t.TrainSet), data.SamplerConfig{Seed: t.Cfg.Seed, Shuffle: true, BatchSize: t.stepBatch()})
	return s
}

// Run trains until the configured epochs are done or ctx is cancelled; on cancellation
// during a step it saves a checkpoint of the step reached (when OutDir is set), and it
// returns an *Interrupted that says what was saved.
//
// Run keeps its goroutine on one OS thread while it runs: libtorch's OpenMP thread count is
// a per-thread setting, and a run whose ops hopped between threads set differently would
// sum in different orders from step to step.
func (t *Trainer) Run(ctx context.Context) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() { err = t.asInterrupted(ctx, "training", err) }()
	if err := t.broadcastModel(ctx); err != nil {
		return err
	}
	smp := t.sampler()
	perEpoch := t.stepsPerEpoch(smp)
	t.clock = clock{start: time.Now(), from: t.doneSteps(perEpoch), total: t.totalEpochs() * perEpoch}
	for t.state.Epoch < t.totalEpochs() {
		epoch := t.state.Epoch
		stage, first, stageEpochs := t.stageOf(epoch)
		opt := t.optimizer(stage)
		batches, err := t.epochBatches(smp, epoch)
		if err != nil {
			return err
		}
		if err := t.runEpoch(ctx, opt, stage, batches, epoch-first, stageEpochs); err != nil {
			return err
		}
		es := t.state.Partial.stats(epoch+1, stage, *opt.Groups()[0].LR)
		lastOfStage := epoch == first+stageEpochs-1
		due := t.valDue
		t.valDue = false
		if len(t.ValSet) > 0 && (due || t.Cfg.ValEvery <= 1 || lastOfStage || (epoch+1)%t.Cfg.ValEvery == 0) {
			v, err := t.validate(ctx)
			if err != nil {
				return err
			}
			es.Val = &v.Summary
		}
		t.state.History = append(t.state.History, es)
		t.state.Epoch++
		t.state.Step = 0
		t.state.Partial = sums{}
		t.report(es)
		if err := t.checkpoint(); err != nil {
			return err
		}
	}
	return nil
}

// runEpoch runs the remaining steps of an epoch, the index-th of its stage.
func (t *Trainer) runEpoch(ctx context.Context, opt *torch.AdamW, stage prsmed.Stage, batches [][]int, index, stageEpochs int) error {
	epoch := t.state.Epoch
	total := int64(stageEpochs * len(batches))
	sched := torch.WarmupCosine{Warmup: min(int64(t.Cfg.WarmupSteps), total), Total: total, Min: t.Cfg.MinLR}
	workers := workersOf(t.Cfg.Workers)
	p := startPipeline(ctx, t.M, t.TrainSet, t.cache, batches, pipelineConfig{
		workers: workers, depth: depthOf(t.Cfg.Prefetch, workers, t.stepBatch()), seed: t.Cfg.Seed, epoch: epoch,
		first: t.state.Step, flip: t.Cfg.Flip && stage != prsmed.Stage0,
	})
	defer p.close()
	for t.state.Step < len(batches) {
		if ctx.Err() != nil {
			return t.interrupted(ctx, "training", true)
		}
		start := time.Now()
		b, err := p.next()
		if err != nil {
			if ctx.Err() != nil {
				return t.interrupted(ctx, "training", true)
			}
			return err
		}
		step := t.state.Step
		if err := t.skipped(b.skipped); err != nil {
			b.free()
			return fmt.Errorf("epoch %d step %d: %w", epoch+1, step+1, err)
		}
		if b.err != nil {
			b.free()
			return fmt.Errorf("epoch %d step %d: %w", epoch+1, step+1, b.err)
		}
		torch.ApplySchedule(opt, sched, int64(index*len(batches)+step))
		var parts [4]float64
		t.stepN = b.n
		if b.n > 0 || t.Cfg.Dist != nil {
			parts, err = t.trainStep(ctx, opt, stage, b, uint64(epoch)<<32|uint64(step))
		}
		b.free()
		if err != nil {
			if t.Cfg.Dist != nil && ctx.Err() != nil {
				// Interrupted while waiting for a rank that already stopped: the step's
				// collectives failed before its optimizer step. The parameters are the
				// previous step's, but the step's forward pass has already moved the
				// BatchNorm running statistics (stage 2), so saving now would write a
				// state no uninterrupted run passes through. Nothing is saved: the last
				// complete checkpoint stays the one to resume from.
				return t.interrupted(ctx, "training", false)
			}
			return fmt.Errorf("epoch %d step %d: %w", epoch+1, step+1, err)
		}
		t.state.Partial.add(parts, t.stepN, len(b.skipped), time.Since(start).Seconds())
		if t.onBatch != nil {
			t.onBatch(epoch, step, batches[step])
		}
		t.state.Step++
		t.state.GlobalStep++
		t.progress(epoch, stage, len(batches), *opt.Groups()[0].LR)
		if t.OnStep != nil {
			t.OnStep()
		}
		if n := t.Cfg.ValEverySteps; n > 0 && t.state.GlobalStep%n == 0 && len(t.ValSet) > 0 {
			if t.state.Step == len(batches) {
				t.valDue = true // the epoch's end validates
				continue
			}
			v, err := t.validate(ctx)
			if err != nil {
				return err
			}
			t.reportValidation(v)
			if err := t.checkpoint(); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipped reports unusable samples (each file once per run) and, under Strict, fails.
func (t *Trainer) skipped(sk []skip) error {
	for _, x := range sk {
		if t.Cfg.Strict {
			return fmt.Errorf("%w: %v", ErrBadSample, x.Err)
		}
		key := x.Sample.String()
		if !t.reported[key] {
			t.reported[key] = true
			t.say("skipping a sample: %v\n", x.Err)
		}
	}
	return nil
}

package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/torch"
)

// Trainer runs PRS-Med's training stages (stage 0 for presets whose backbone trains, then
// stages 1 and 2) over PosMed samples.
type Trainer struct {
	M        *prsmed.Model
	Cfg      Config
	TrainSet []data.Sample
	ValSet   []data.Sample
	cache    *torch.Scope
	prep     map[int]*prepared
	valPrep  map[int]*prepared
	state    trainState
	opt      *torch.AdamW
	optStage prsmed.Stage
	// OnStep, when set, is called after every optimisation step (tests and tools use it to
	// stop or observe a run).
	OnStep func()
}

// New prepares a trainer; it preprocesses samples lazily and caches them.
func New(m *prsmed.Model, train, val []data.Sample, cfg Config) (*Trainer, error) {
	if len(train) == 0 {
		return nil, errors.New("prsmed: no training samples")
	}
	if cfg.BatchSize <= 0 {
		return nil, errors.New("prsmed: batch size must be positive")
	}
	return &Trainer{M: m, Cfg: cfg, TrainSet: train, ValSet: val, cache: torch.NewScope(torch.CPU).NoGrad(),
		prep: map[int]*prepared{}, valPrep: map[int]*prepared{}, state: trainState{Config: cfg}}, nil
}

// Close frees the trainer's caches and optimizer.
func (t *Trainer) Close() {
	t.cache.Close()
	if t.opt != nil {
		t.opt.Close()
	}
}

// Epoch is the index of the epoch in progress (or next to run), counting from 0 over all
// stages.
func (t *Trainer) Epoch() int { return t.state.Epoch }

// History lists the finished epochs.
func (t *Trainer) History() []EpochStats { return t.state.History }

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

func (t *Trainer) optimizer(stage prsmed.Stage) *torch.AdamW {
	if t.opt != nil && t.optStage == stage {
		return t.opt
	}
	if t.opt != nil {
		t.opt.Close()
	}
	t.M.SetStage(stage)
	lr := t.Cfg.LR
	if stage == prsmed.Stage0 && t.Cfg.Stage0LR > 0 {
		lr = t.Cfg.Stage0LR
	}
	groups := t.M.Store.ParamGroups(lr, t.Cfg.WeightDecay, nil)
	t.opt = torch.NewAdamW(groups, torch.AdamWConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: t.Cfg.Eps, WeightDecay: t.Cfg.WeightDecay})
	t.optStage = stage
	return t.opt
}

// stepsPerEpoch is the number of batches in an epoch.
func (t *Trainer) sampler() *data.Sampler {
	s, _ := data.NewSampler(len(t.TrainSet), data.SamplerConfig{Seed: t.Cfg.Seed, Shuffle: true, BatchSize: t.Cfg.BatchSize})
	return s
}

// Run trains until the configured epochs are done or ctx is cancelled; on cancellation it
// saves a checkpoint of the step reached (when OutDir is set) and returns ctx's error.
func (t *Trainer) Run(ctx context.Context) error {
	smp := t.sampler()
	for t.state.Epoch < t.totalEpochs() {
		epoch := t.state.Epoch
		stage, first, stageEpochs := t.stageOf(epoch)
		opt := t.optimizer(stage)
		batches := smp.Batches(epoch)
		sched := torch.CosineAnnealing{TMax: int64(stageEpochs * len(batches)), Min: t.Cfg.MinLR}
		for t.state.Step < len(batches) {
			if err := ctx.Err(); err != nil {
				if t.Cfg.OutDir != "" {
					if serr := t.Save(); serr != nil {
						return fmt.Errorf("%w (and saving the checkpoint failed: %v)", err, serr)
					}
				}
				return err
			}
			step := t.state.Step
			global := int64((epoch-first)*len(batches) + step)
			torch.ApplySchedule(opt, sched, global)
			start := time.Now()
			parts, err := t.trainStep(opt, stage, batches[step], uint64(epoch)<<32|uint64(step))
			if err != nil {
				return fmt.Errorf("epoch %d step %d: %w", epoch+1, step+1, err)
			}
			p := &t.state.Partial
			p.Loss += parts[0] * float64(len(batches[step]))
			p.BCE += parts[1] * float64(len(batches[step]))
			p.Dice += parts[2] * float64(len(batches[step]))
			p.CE += parts[3] * float64(len(batches[step]))
			p.N += len(batches[step])
			p.Seconds += time.Since(start).Seconds()
			t.state.Step++
			t.progress(epoch, stage, len(batches), opt.Groups()[0].LR)
			if t.OnStep != nil {
				t.OnStep()
			}
		}
		es := EpochStats{Epoch: epoch + 1, Stage: stage, LR: opt.Groups()[0].LR}
		p := t.state.Partial
		if p.N > 0 {
			n := float64(p.N)
			es.Loss, es.BCE, es.Dice, es.CE = p.Loss/n, p.BCE/n, p.Dice/n, p.CE/n
			es.SamplesSec = n / math.Max(p.Seconds, 1e-9)
		}
		lastOfStage := epoch == first+stageEpochs-1
		if len(t.ValSet) > 0 && (t.Cfg.ValEvery <= 1 || lastOfStage || (epoch+1)%t.Cfg.ValEvery == 0) {
			sum, err := t.Validate(ctx)
			if err != nil {
				return err
			}
			es.Val = &sum
		}
		t.state.History = append(t.state.History, es)
		t.state.Epoch++
		t.state.Step = 0
		t.state.Partial = sums{}
		t.report(es)
		if t.Cfg.OutDir != "" {
			if err := t.Save(); err != nil {
				return err
			}
			if err := t.writeLogs(); err != nil {
				return err
			}
		}
	}
	return nil
}

package prsmed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/torch"
)

// TrainConfig holds the training settings (MODEL.md's defaults from DefaultTrainConfig).
type TrainConfig struct {
	// Stage0Epochs pretrain the vision-language backbone on the answers (presets with
	// TrainBackbone only; see Stage0).
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
	// MODEL.md's recipe; the quickstart turns it on to stretch its small synthetic set (it
	// lifted the test mDice; in stage 0 it slowed the zone learning, so stage 0 never flips).
	Flip bool `json:"flip"`
}

// DefaultTrainConfig is MODEL.md's: AdamW lr 1e-4, weight decay 1e-5, eps 1e-6, cosine to
// 1e-6, clip 1.0, batch 4.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Stage1Epochs: 1, Stage2Epochs: 3, BatchSize: 4, LR: 1e-4, MinLR: 1e-6, WeightDecay: 1e-5, Eps: 1e-6, ClipNorm: 1, Seed: 1}
}

// EpochStats is one epoch's summary.
type EpochStats struct {
	Epoch      int              `json:"epoch"`
	Stage      Stage            `json:"stage"`
	Loss       float64          `json:"loss"`
	BCE        float64          `json:"bce"`
	Dice       float64          `json:"dice"`
	CE         float64          `json:"ce"`
	LR         float64          `json:"lr"`
	SamplesSec float64          `json:"samples_per_sec"`
	Val        *metrics.Summary `json:"val,omitempty"`
}

// trainState is what a checkpoint needs besides tensors to resume exactly.
type trainState struct {
	Epoch   int          `json:"epoch"`   // the epoch in progress (or next to run)
	Step    int          `json:"step"`    // batches of it already done
	History []EpochStats `json:"history"` // finished epochs
	Partial sums         `json:"partial"` // sums of the epoch in progress
	Config  TrainConfig  `json:"train_config"`
}

type sums struct {
	Loss, BCE, Dice, CE float64
	N                   int
	Seconds             float64
}

// prepared is a sample's preprocessed tensors, kept on the CPU.
type prepared struct {
	sam, clip, mask *torch.Tensor
	sample          llava.Sample
}

// Trainer runs PRS-Med's two training stages over PosMed samples.
type Trainer struct {
	M        *Model
	Cfg      TrainConfig
	TrainSet []data.Sample
	ValSet   []data.Sample
	cache    *torch.Scope
	prep     map[int]*prepared
	valPrep  map[int]*prepared
	state    trainState
	opt      *torch.AdamW
	optStage Stage
	// OnStep, when set, is called after every optimisation step (tests and tools use it to
	// stop or observe a run).
	OnStep func()
}

// NewTrainer prepares a trainer; it preprocesses samples lazily and caches them.
func NewTrainer(m *Model, train, val []data.Sample, cfg TrainConfig) (*Trainer, error) {
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
func (t *Trainer) stageOf(epoch int) (stage Stage, first, n int) {
	s0, s1 := t.stage0(), t.Cfg.Stage1Epochs
	switch {
	case epoch < s0:
		return Stage0, 0, s0
	case epoch < s0+s1:
		return Stage1, s0, s1
	}
	return Stage2, s0 + s1, t.Cfg.Stage2Epochs
}

func (t *Trainer) prepare(set []data.Sample, cache map[int]*prepared, i int) (*prepared, error) {
	if p, ok := cache[i]; ok {
		return p, nil
	}
	smp := set[i]
	img, mask, err := data.LoadSample(smp)
	if err != nil {
		return nil, err
	}
	p := &prepared{sample: llava.Sample{Question: smp.Question, Answer: smp.Answer}}
	if err := torch.Try(func() {
		s := t.cache
		sam, clipIn := t.M.PreprocessBatch(s, []image.Image{img})
		p.sam, p.clip = sam, clipIn
		p.mask = MaskTensor(s, mask, t.M.Config.MaskSize)
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", smp, err)
	}
	cache[i] = p
	return p, nil
}

// MaskTensor turns a gray mask (foreground > 127) into a (1, 1, M, M) float target,
// resized with nearest neighbour.
func MaskTensor(s *torch.Scope, mask *image.Gray, m int64) *torch.Tensor {
	b := mask.Bounds()
	w, h := b.Dx(), b.Dy()
	v := make([]float32, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mask.Pix[(y)*mask.Stride+x] > 127 {
				v[y*w+x] = 1
			}
		}
	}
	t := torch.FromSlice(s, v, 1, 1, int64(h), int64(w))
	if int64(h) != m || int64(w) != m {
		t = torch.Interpolate(s, t, m, m, torch.Nearest, false)
	}
	return t
}

func (t *Trainer) batch(s *torch.Scope, set []data.Sample, cache map[int]*prepared, idx []int) (Inputs, error) {
	var sam, clipIn, masks []*torch.Tensor
	var smps []llava.Sample
	for k, i := range idx {
		p, err := t.prepare(set, cache, i)
		if err != nil {
			return Inputs{}, err
		}
		if !t.Cfg.Flip || t.state.Epoch < t.stage0() {
			sam, clipIn, masks = append(sam, p.sam), append(clipIn, p.clip), append(masks, p.mask)
			smps = append(smps, p.sample)
			continue
		}
		f := drawFlips(t.Cfg.Seed, uint64(t.state.Epoch), t.state.Step, k)
		if err := torch.Try(func() {
			sam = append(sam, f.Tensor(s, p.sam))
			clipIn = append(clipIn, f.Tensor(s, p.clip))
			masks = append(masks, f.Tensor(s, p.mask))
		}); err != nil {
			return Inputs{}, err
		}
		smps = append(smps, llava.Sample{Question: p.sample.Question, Answer: f.Answer(p.sample.Answer)})
	}
	dev := t.M.Store.Device()
	in := Inputs{Samples: smps}
	err := torch.Try(func() {
		in.SAM = torch.Cat(s, 0, sam...).ToDevice(s, dev)
		in.CLIP = torch.Cat(s, 0, clipIn...).ToDevice(s, dev)
		in.Masks = torch.Cat(s, 0, masks...).ToDevice(s, dev)
	})
	return in, err
}

func (t *Trainer) optimizer(stage Stage) *torch.AdamW {
	if t.opt != nil && t.optStage == stage {
		return t.opt
	}
	if t.opt != nil {
		t.opt.Close()
	}
	t.M.SetStage(stage)
	lr := t.Cfg.LR
	if stage == Stage0 && t.Cfg.Stage0LR > 0 {
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
		t.M.Store.Train(true)
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

// trainStep runs one optimisation step and returns total, bce, dice and ce.
func (t *Trainer) trainStep(opt *torch.AdamW, stage Stage, idx []int, seed uint64) (vals [4]float64, err error) {
	defer torch.Recover(&err)
	s := torch.NewScope(t.M.Store.Device())
	defer s.Close()
	g, err := torch.NewGenerator(t.Cfg.Seed*1_000_003+seed, torch.CPU)
	if err != nil {
		return vals, err
	}
	defer g.Close()
	t.M.Store.SetGenerator(g)
	defer t.M.Store.SetGenerator(nil)
	in, err := t.batch(s, t.TrainSet, t.prep, idx)
	if err != nil {
		return vals, err
	}
	if stage == Stage0 {
		// The backbone learns to answer: cross-entropy on the answers alone, no mask branch.
		lo, err := t.M.LLaVA.Forward(s, in.CLIP, in.Samples)
		if err != nil {
			return vals, err
		}
		ce := lo.Loss.Item()
		if math.IsNaN(ce) || math.IsInf(ce, 0) {
			return vals, fmt.Errorf("non-finite answer loss %v", ce)
		}
		opt.ZeroGrad()
		lo.Loss.Backward()
		if t.Cfg.ClipNorm > 0 {
			torch.ClipGradNorm(t.M.Store.Trainable(), t.Cfg.ClipNorm, 2)
		}
		opt.Step()
		vals[0], vals[3] = ce, ce
		return vals, nil
	}
	out, err := t.M.Forward(s, in)
	if err != nil {
		return vals, err
	}
	if err := out.Loss.Check(); err != nil {
		return vals, err
	}
	opt.ZeroGrad()
	out.Loss.Total.Backward()
	if t.Cfg.ClipNorm > 0 {
		torch.ClipGradNorm(t.M.Store.Trainable(), t.Cfg.ClipNorm, 2)
	}
	opt.Step()
	vals[0], vals[1], vals[2], vals[3] = out.Loss.Values()
	return vals, nil
}

// Validate predicts masks and answers for the validation samples and scores them.
func (t *Trainer) Validate(ctx context.Context) (metrics.Summary, error) {
	set := t.ValSet
	if t.Cfg.ValSamples > 0 && t.Cfg.ValSamples < len(set) {
		set = set[:t.Cfg.ValSamples]
	}
	return Evaluate(ctx, t.M, set, t.Cfg.BatchSize, nil)
}

func (t *Trainer) progress(epoch int, stage Stage, steps int, lr float64) {
	if t.Cfg.Progress == nil {
		return
	}
	p := t.state.Partial
	done := t.state.Step
	width := 24
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < done*width/steps {
			bar[i] = '#'
		}
	}
	rate := float64(p.N) / math.Max(p.Seconds, 1e-9)
	fmt.Fprintf(t.Cfg.Progress, "\rstage %d epoch %d/%d [%s] %d/%d loss %.4f lr %.2e %.1f samples/s ",
		stage, epoch+1, t.totalEpochs(), bar, done, steps, p.Loss/math.Max(float64(p.N), 1), lr, rate)
}

func (t *Trainer) report(es EpochStats) {
	if t.Cfg.Progress == nil {
		return
	}
	fmt.Fprintf(t.Cfg.Progress, "\rstage %d epoch %d/%d loss %.4f (bce %.4f dice %.4f ce %.4f) %.1f samples/s",
		es.Stage, es.Epoch, t.totalEpochs(), es.Loss, es.BCE, es.Dice, es.CE, es.SamplesSec)
	if es.Val != nil {
		o := es.Val.Overall
		fmt.Fprintf(t.Cfg.Progress, " | val mDice %.3f mIoU %.3f zone acc %.1f%%", o.MeanDice, o.MeanIoU, 100*o.ZoneAccuracy)
	}
	fmt.Fprintln(t.Cfg.Progress)
}

// Checkpoint layout inside OutDir/checkpoint: model.safetensors (every tensor that any
// stage trains, plus buffers), optimizer.safetensors, trainer.json, config.json, and the
// LoRA adapter in PEFT's format under adapter/. A new checkpoint is written to
// checkpoint.tmp and swapped in with renames, so a kill at any moment leaves the previous
// complete checkpoint (as checkpoint or checkpoint.old).
func (t *Trainer) Save() error {
	dir := filepath.Join(t.Cfg.OutDir, "checkpoint")
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := t.M.SaveCheckpoint(tmp); err != nil {
		return err
	}
	if t.opt != nil {
		st, meta := t.opt.State()
		meta["stage"] = fmt.Sprint(int(t.optStage))
		if err := torch.SaveSafetensors(filepath.Join(tmp, "optimizer.safetensors"), st, meta); err != nil {
			return err
		}
	}
	raw, err := json.MarshalIndent(t.state, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(tmp, "trainer.json"), raw); err != nil {
		return err
	}
	old := dir + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// Resume loads a checkpoint written by Save (from OutDir/checkpoint, or checkpoint.old when
// a kill interrupted the swap) into the trainer's model and optimizer, so that Run
// continues exactly where the checkpoint was taken. It returns false when there is none.
func (t *Trainer) Resume() (bool, error) {
	dir := filepath.Join(t.Cfg.OutDir, "checkpoint")
	if _, err := os.Stat(filepath.Join(dir, "trainer.json")); err != nil {
		dir += ".old"
		if _, err := os.Stat(filepath.Join(dir, "trainer.json")); err != nil {
			return false, nil
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		return false, err
	}
	var st trainState
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, fmt.Errorf("prsmed: %s: %v", filepath.Join(dir, "trainer.json"), err)
	}
	if err := t.M.LoadCheckpoint(dir); err != nil {
		return false, err
	}
	if ow, err := torch.OpenWeights(filepath.Join(dir, "optimizer.safetensors")); err == nil {
		meta := ow.Metadata()
		var stage int
		fmt.Sscan(meta["stage"], &stage)
		opt := t.optimizer(Stage(stage))
		s := torch.NewScope(torch.CPU)
		tensors := map[string]*torch.Tensor{}
		for _, n := range ow.Names() {
			x, err := ow.Load(s, n, torch.KeepDType)
			if err != nil {
				s.Close()
				ow.Close()
				return false, err
			}
			tensors[n] = x
		}
		err = opt.LoadState(tensors, meta)
		s.Close()
		ow.Close()
		if err != nil {
			return false, err
		}
	}
	st.Config = t.Cfg
	t.state = st
	return true, nil
}

// writeLogs writes log.csv and curves.png for the finished epochs.
func (t *Trainer) writeLogs() error {
	h := t.state.History
	var b []byte
	b = append(b, "epoch,stage,loss,bce,dice,ce,lr,samples_per_sec,val_mdice,val_miou,val_zone_acc\n"...)
	for _, e := range h {
		md, mi, za := math.NaN(), math.NaN(), math.NaN()
		if e.Val != nil {
			md, mi, za = e.Val.Overall.MeanDice, e.Val.Overall.MeanIoU, e.Val.Overall.ZoneAccuracy
		}
		b = append(b, fmt.Sprintf("%d,%d,%.6f,%.6f,%.6f,%.6f,%.3e,%.2f,%.4f,%.4f,%.4f\n", e.Epoch, e.Stage, e.Loss, e.BCE, e.Dice, e.CE, e.LR, e.SamplesSec, md, mi, za)...)
	}
	if err := writeAtomic(filepath.Join(t.Cfg.OutDir, "log.csv"), b); err != nil {
		return err
	}
	series := map[string][]float64{}
	for _, e := range h {
		series["train loss"] = append(series["train loss"], e.Loss)
		if e.Val != nil {
			series["val mDice"] = append(series["val mDice"], e.Val.Overall.MeanDice)
			series["val zone acc"] = append(series["val zone acc"], e.Val.Overall.ZoneAccuracy)
		}
	}
	names := make([]string, 0, len(series))
	for k := range series {
		names = append(names, k)
	}
	sort.Strings(names)
	return WriteCurves(filepath.Join(t.Cfg.OutDir, "curves.png"), names, series)
}

// Command benchstep times PRS-Med's stage-2 training step (forward, backward, gradient-norm
// clipping, AdamW) on random weights of a preset's shapes and prints one JSON line. It is
// the Go side of the paper-size comparison with third_party/bench/paper_step.py
// (PyTorch + transformers + PEFT doing the same work).
//
//	go run ./examples/benchstep -preset tiny -steps 5                       # CPU smoke run
//	go run ./examples/benchstep -preset paper -device cuda -dtype bfloat16 -batch 2 -steps 20
//	go run ./examples/benchstep -preset paper -device cuda -dtype bfloat16 -batch 8 -phases
//	go run ./examples/benchstep -preset paper -device cuda -configs autocast-bf16:2,bf16:2,f32:2
//
// -configs times several configurations in one process, on one model (built once, its
// parameters cast between configurations), and prints one JSON line per configuration:
// a configuration is NAME:BATCH, NAME one of f32 (float32 throughout), bf16 (every
// parameter and input bfloat16), autocast-bf16 and autocast-f16 (float32 parameters, the
// step under autocast), or predict-f32 and predict-bf16: not a training step but one
// PredictBatch call on BATCH random 1024×1024 images (preprocessing, TinyViT, CLIP, the
// prompt's prefill, -answer greedy tokens with the stop token disabled so that every call
// generates them all, fusion, decoder, resize to the image), step_s being its latency. On a GPU lent for minutes this saves building the 7.6-billion
// parameter model once per configuration; third_party/bench/gpu_step_compare.py runs it and
// its PyTorch twin alternately.
//
// Without -phases the timed steps run back to back and the device is synchronised once at
// the end (step_s is the total over the steps), as a training loop runs. With -phases the
// device is synchronised after the forward pass, the backward pass, the clipping and the
// optimizer step of every timed step, and the JSON holds the median of each phase.
// Weights are random (the model's own initialisers); inputs are random images and masks
// and one question/answer pair per sample, the question padded with words until the
// decoder's sequence is at least -seq tokens long.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/torch"
)

// options are the command's flags.
type options struct {
	preset   string
	batch    int
	dtype    string
	autocast string
	steps    int
	warmup   int
	device   string
	phases   bool
	seq      int
	seed     uint64
	threads  int
	adamw    string
	lr       float64
	clip     float64
	configs  string
	answer   int
	pSteps   int
	pWarmup  int
	dump     string  // write the initial weights, the batch and every step's loss here
	loraDrop float64 // LoRA dropout; negative: the preset's
}

// stepConfig is one timed configuration: the parameters' dtype, the autocast dtype (0: off)
// and the batch size.
type stepConfig struct {
	name     string
	dtype    torch.DType
	autocast torch.DType
	batch    int
	predict  bool // time PredictBatch instead of a training step
}

// configNames maps the names -configs accepts to dtype and autocast.
var configNames = map[string][2]torch.DType{
	"f32":           {torch.Float32, 0},
	"bf16":          {torch.BFloat16, 0},
	"autocast-bf16": {torch.Float32, torch.BFloat16},
	"autocast-f16":  {torch.Float32, torch.Float16},
	"predict-f32":   {torch.Float32, 0},
	"predict-bf16":  {torch.BFloat16, 0},
}

// parseConfigs reads -configs: NAME:BATCH, comma-separated.
func parseConfigs(s string) ([]stepConfig, error) {
	var out []stepConfig
	for _, item := range strings.Split(s, ",") {
		name, batch, ok := strings.Cut(strings.TrimSpace(item), ":")
		dt, known := configNames[name]
		n, err := strconv.Atoi(batch)
		if !ok || !known || err != nil || n <= 0 {
			return nil, fmt.Errorf("-configs: %q is not NAME:BATCH with NAME f32, bf16, autocast-bf16, autocast-f16, predict-f32 or predict-bf16 and a positive batch", item)
		}
		out = append(out, stepConfig{name: name, dtype: dt[0], autocast: dt[1], batch: n, predict: strings.HasPrefix(name, "predict-")})
	}
	return out, nil
}

func main() {
	var o options
	c := cli.NewCommand("benchstep", "benchstep [flags]", "Times a PRS-Med stage-2 training step on random weights and prints one JSON line.")
	fs := c.Flags
	fs.StringVar(&o.preset, "preset", "tiny", "model shapes: tiny or paper")
	fs.IntVar(&o.batch, "batch", 2, "batch size")
	fs.StringVar(&o.dtype, "dtype", "float32", "parameter and activation dtype: float32 or bfloat16 (pure, every parameter)")
	fs.StringVar(&o.autocast, "autocast", "", "run the forward under autocast to this dtype (bfloat16 or float16; empty: off), parameters staying -dtype")
	fs.IntVar(&o.steps, "steps", 10, "timed steps")
	fs.IntVar(&o.warmup, "warmup", 2, "untimed steps first")
	fs.StringVar(&o.device, "device", "cpu", "cpu, cuda or cuda:N")
	fs.BoolVar(&o.phases, "phases", false, "synchronise after each phase and report its median time")
	fs.IntVar(&o.seq, "seq", -1, "pad the question until the decoder sequence has at least this many tokens (-1: 642 for paper, none for tiny)")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed")
	fs.IntVar(&o.threads, "threads", 0, "intra-op threads (0: libtorch's default)")
	fs.StringVar(&o.adamw, "adamw", "auto", "AdamW implementation: auto, foreach, per-tensor or fused")
	fs.Float64Var(&o.lr, "lr", 1e-4, "AdamW learning rate")
	fs.Float64Var(&o.clip, "clip", 1, "gradient-norm clipping threshold")
	fs.StringVar(&o.configs, "configs", "", "time several configurations NAME:BATCH in one process, comma-separated (NAME: f32, bf16, autocast-bf16, autocast-f16, predict-f32, predict-bf16); overrides -dtype, -autocast and -batch")
	fs.IntVar(&o.answer, "answer", 64, "tokens each prediction generates (predict-* configurations)")
	fs.IntVar(&o.pSteps, "predict-steps", 3, "timed calls of a predict-* configuration")
	fs.IntVar(&o.pWarmup, "predict-warmup", 1, "untimed calls of a predict-* configuration first")
	fs.StringVar(&o.dump, "dump", "", "write the config, the initial weights, the batch and each step's loss to this directory "+
		"(paper_step.py --from reads them; needs -warmup 0, float32 and no autocast)")
	fs.Float64Var(&o.loraDrop, "lora-dropout", -1, "LoRA dropout (negative: the preset's); 0 makes a step deterministic")
	c.Parse(os.Args[1:])
	c.Main(func(ctx context.Context) error {
		return run(ctx, o, func(r *result) error {
			line, err := json.Marshal(r)
			if err == nil {
				fmt.Println(string(line))
			}
			return err
		})
	})
}

// result is the JSON line.
type result struct {
	Impl      string             `json:"impl"`
	Config    string             `json:"config,omitempty"`
	Answer    int                `json:"answer_tokens,omitempty"` // predict-*: tokens generated per image
	Preset    string             `json:"preset"`
	Device    string             `json:"device"`
	DType     string             `json:"dtype"`
	Autocast  string             `json:"autocast,omitempty"`
	Batch     int                `json:"batch"`
	SeqLen    int64              `json:"seq_len"`
	Params    int64              `json:"params"`
	Trainable int64              `json:"trainable"`
	Steps     int                `json:"steps"`
	StepS     float64            `json:"step_s"`
	SamplesS  float64            `json:"samples_per_s"`
	Phases    map[string]float64 `json:"phases_median_s,omitempty"`
	AdamW     string             `json:"adamw"`
	Libtorch  string             `json:"libtorch"`
	Loss      float64            `json:"loss"`
	GradNorm  float64            `json:"grad_norm"`
	LoRA      string             `json:"lora"`
	Reserved  float64            `json:"reserved_gib,omitempty"`
}

func parseImpl(s string) (torch.AdamWImpl, error) {
	for _, i := range []torch.AdamWImpl{torch.AdamWAuto, torch.AdamWForeach, torch.AdamWPerTensor, torch.AdamWFused} {
		if i.String() == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown -adamw %q (auto, foreach, per-tensor or fused)", s)
}

// run builds the model once and times each configuration (the one of -dtype, -autocast and
// -batch, or those of -configs), handing each result to emit as soon as it is measured.
func run(ctx context.Context, o options, emit func(*result) error) (err error) {
	defer torch.Recover(&err)
	if o.batch <= 0 || o.steps <= 0 || o.warmup < 0 || o.answer <= 0 || o.pSteps <= 0 || o.pWarmup < 0 {
		return fmt.Errorf("-batch, -steps, -predict-steps and -answer must be positive, -warmup and -predict-warmup not negative")
	}
	if o.dump != "" && (o.warmup != 0 || o.configs != "" || o.dtype != "float32" || o.autocast != "") {
		return fmt.Errorf("-dump needs -warmup 0, -dtype float32, no -autocast and no -configs (the dumped weights must be the first step's)")
	}
	dev, err := torch.ParseDevice(o.device)
	if err != nil {
		return err
	}
	configs := []stepConfig{{batch: o.batch}}
	if o.configs != "" {
		if configs, err = parseConfigs(o.configs); err != nil {
			return err
		}
	} else {
		switch o.dtype {
		case "float32":
			configs[0].dtype = torch.Float32
		case "bfloat16":
			configs[0].dtype = torch.BFloat16
		default:
			return fmt.Errorf("unknown -dtype %q (float32 or bfloat16)", o.dtype)
		}
		if o.autocast != "" {
			if configs[0].autocast, err = torch.ParseDType(o.autocast); err != nil {
				return fmt.Errorf("-autocast: %w", err)
			}
		}
	}
	impl, err := parseImpl(o.adamw)
	if err != nil {
		return err
	}
	if o.threads > 0 {
		torch.SetNumThreads(o.threads)
	}
	if err := torch.ManualSeed(o.seed); err != nil {
		return err
	}
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		return err
	}
	var cfg prsmed.Config
	seq := o.seq
	switch o.preset {
	case "tiny":
		cfg = prsmed.Tiny(int64(tok.VocabSize()))
		if seq < 0 {
			seq = 0
		}
	case "paper":
		cfg = prsmed.Paper()
		if seq < 0 {
			seq = 642
		}
	default:
		return fmt.Errorf("unknown -preset %q (tiny or paper)", o.preset)
	}
	if o.loraDrop >= 0 {
		cfg.LoRA.Dropout = o.loraDrop
	}
	m, err := prsmed.New(cfg, tok, dev)
	if err != nil {
		return err
	}
	defer m.Close()
	m.SetStage(prsmed.Stage2)
	for _, c := range configs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := useDType(m, dev, c.dtype); err != nil {
			return err
		}
		var res *result
		if c.predict {
			res, err = timePredict(ctx, m, cfg, o, c, dev)
		} else {
			res, err = timeConfig(ctx, m, cfg, o, c, impl, dev, seq)
		}
		if err != nil {
			return err
		}
		if dev.IsCUDA() {
			st, err := torch.CUDAMemory(dev)
			if err != nil {
				return err
			}
			res.Reserved = float64(st.Reserved) / (1 << 30)
		}
		if err := emit(res); err != nil {
			return err
		}
	}
	return nil
}

// useDType casts the model's parameters to dt when they are not in it yet and, on CUDA,
// returns the allocator's unused blocks, so that the memory reserved after a configuration
// is that configuration's.
func useDType(m *prsmed.Model, dev torch.Device, dt torch.DType) error {
	if m.Store.DType() != dt {
		if err := m.Store.To(dev, dt); err != nil {
			return err
		}
	}
	if dev.IsCUDA() {
		return torch.CUDAEmptyCache()
	}
	return nil
}

// timeConfig times o.steps training steps of c after o.warmup untimed ones, with a fresh
// optimizer, on the model as run left it (in c's dtype).
func timeConfig(ctx context.Context, m *prsmed.Model, cfg prsmed.Config, o options, c stepConfig, impl torch.AdamWImpl,
	dev torch.Device, seq int) (res *result, err error) {
	defer torch.Recover(&err)
	dt := c.dtype
	samples, err := paddedSamples(m, cfg, c.batch, seq)
	if err != nil {
		return nil, err
	}
	s := torch.NewScope(dev)
	defer s.Close()
	g, err := torch.NewGenerator(o.seed+1, dev)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	s = s.Train(g) // every step runs in training mode, dropout drawing from g
	b := int64(c.batch)
	rc := clipSide(cfg)
	in := prsmed.Inputs{
		SAM:     torch.Randn(s, g, torch.Float32, b, 3, cfg.ImageSize, cfg.ImageSize).ToDType(s, dt),
		CLIP:    torch.Randn(s, g, torch.Float32, b, 3, rc, rc).ToDType(s, dt),
		Samples: samples,
		Masks:   torch.Rand(s, g, torch.Float32, b, 1, cfg.MaskSize, cfg.MaskSize).GtScalar(s, 0.5).ToDType(s, dt),
	}

	groups := m.Store.ParamGroups(o.lr, 1e-5, nil)
	opt := torch.NewAdamW(groups, torch.AdamWConfig{LR: o.lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-5, Impl: impl})
	defer opt.Close()
	trainable := m.Store.Trainable()
	var dumped []float64
	if o.dump != "" {
		if err := dumpStart(o.dump, m, cfg, in); err != nil {
			return nil, err
		}
	}

	sync := func() {
		if dev.IsCUDA() {
			if err := torch.CUDASynchronize(dev); err != nil {
				panic(err)
			}
		}
	}
	phases := map[string][]float64{}
	var seqLen int64
	var loss, norm *torch.Tensor
	step := func(sc *torch.Scope, timed bool) error {
		mark := time.Now()
		lap := func(name string) {
			if timed && o.phases {
				sync()
				now := time.Now()
				phases[name] = append(phases[name], now.Sub(mark).Seconds())
				mark = now
			}
		}
		opt.ZeroGrad()
		fc := sc
		if c.autocast != 0 {
			fc = sc.Autocast(c.autocast)
		}
		out, err := m.Forward(fc, in)
		if err != nil {
			return err
		}
		lap("forward")
		out.Loss.Total.Backward()
		lap("backward")
		norm = torch.ClipGradNormTensor(sc, trainable, o.clip, 2)
		lap("clip")
		opt.Step()
		lap("optimizer")
		seqLen = out.LLaVA.Hidden.Size(1)
		loss = out.Loss.Total.Detach(sc)
		if o.dump != "" {
			dumped = append(dumped, loss.Item())
		}
		return nil
	}
	for i := 0; i < o.warmup; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sc := s.Child()
		err := step(sc, false)
		sc.Close()
		if err != nil {
			return nil, err
		}
	}
	sync()
	start := time.Now()
	last := s.Child()
	defer last.Close()
	for i := 0; i < o.steps; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sc := s.Child()
		if err := step(sc, true); err != nil {
			return nil, err
		}
		if i == o.steps-1 {
			// Keep the last step's loss and norm to report them after the timing.
			loss, norm = sc.Escape(loss, last), sc.Escape(norm, last)
		}
		sc.Close()
	}
	sync()
	total := time.Since(start).Seconds()

	res = &result{
		// The dtype is read from a parameter: what the step ran with.
		Impl: "prsmed-go", Config: c.name, Preset: o.preset, Device: dev.String(), DType: dtypeName(trainable[0].DType()),
		Autocast: dtypeName(c.autocast), Batch: c.batch, SeqLen: seqLen,
		Params: m.Store.NumParams(false), Trainable: m.Store.NumParams(true), Steps: o.steps,
		StepS: total / float64(o.steps), SamplesS: float64(c.batch*o.steps) / total,
		AdamW: resolvedImpl(impl, dev, dt), Libtorch: torch.Version(), Loss: loss.Item(),
		LoRA: fmt.Sprintf("r%d/alpha%g/dropout%g on %s", cfg.LoRA.R, cfg.LoRA.Alpha, cfg.LoRA.Dropout, strings.Join(cfg.LoRA.Targets, ",")),
	}
	if norm != nil {
		res.GradNorm = norm.Item()
	}
	if o.dump != "" {
		if err := dumpLosses(o.dump, res, dumped); err != nil {
			return nil, err
		}
	}
	if o.phases {
		res.Phases = map[string]float64{}
		for k, v := range phases {
			res.Phases[k] = median(v)
		}
	}
	return res, nil
}

// timePredict times o.pSteps PredictBatch
// calls on c.batch random 1024×1024 images after o.pWarmup untimed ones; every call
// generates o.answer tokens (the stop token is disabled for the run).
func timePredict(ctx context.Context, m *prsmed.Model, cfg prsmed.Config, o options, c stepConfig, dev torch.Device) (res *result, err error) {
	defer torch.Recover(&err)
	maxTokens, eos := m.Config.MaxAnswerTokens, m.LLaVA.LM.Config.EOSTokenID
	m.Config.MaxAnswerTokens, m.LLaVA.LM.Config.EOSTokenID = o.answer, -1
	defer func() { m.Config.MaxAnswerTokens, m.LLaVA.LM.Config.EOSTokenID = maxTokens, eos }()
	rng := rand.New(rand.NewPCG(o.seed, 1))
	imgs := make([]image.Image, c.batch)
	questions := make([]string, c.batch)
	for i := range imgs {
		img := image.NewRGBA(image.Rect(0, 0, 1024, 1024))
		for j := range img.Pix {
			img.Pix[j] = uint8(rng.UintN(256))
		}
		imgs[i], questions[i] = img, "Where is the tumour in this image?"
	}
	predict := func() error {
		ps, err := m.PredictBatch(ctx, imgs, questions)
		if err == nil && len(ps) != c.batch {
			err = fmt.Errorf("%d predictions for %d images", len(ps), c.batch)
		}
		return err
	}
	for i := 0; i < o.pWarmup; i++ {
		if err := predict(); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	for i := 0; i < o.pSteps; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := predict(); err != nil {
			return nil, err
		}
	}
	total := time.Since(start).Seconds() // PredictBatch returns host masks: the device is done
	prompt, _, err := m.LLaVA.Tokens(llava.Sample{Question: questions[0]})
	if err != nil {
		return nil, err
	}
	res = &result{
		Impl: "prsmed-go", Config: c.name, Preset: o.preset, Device: dev.String(), DType: dtypeName(m.Store.Parameters()[0].DType()),
		Batch: c.batch, Answer: o.answer, SeqLen: int64(len(prompt) - 1 + imagePatches(cfg)), Params: m.Store.NumParams(false), Steps: o.pSteps,
		StepS: total / float64(o.pSteps), SamplesS: float64(c.batch*o.pSteps) / total, Libtorch: torch.Version(),
	}
	return res, nil
}

// dtypeName is the name -dtype and -autocast use for dt ("" for 0).
func dtypeName(dt torch.DType) string {
	switch dt {
	case 0:
		return ""
	case torch.Float32:
		return "float32"
	case torch.BFloat16:
		return "bfloat16"
	case torch.Float16:
		return "float16"
	}
	return dt.String()
}

// resolvedImpl names the AdamW implementation that Auto picks for parameters on dev.
func resolvedImpl(impl torch.AdamWImpl, dev torch.Device, dt torch.DType) string {
	if impl != torch.AdamWAuto {
		return impl.String()
	}
	if dev.IsCUDA() && torch.FusedAdamWAvailable() && dt.IsFloat() {
		return "auto (fused)"
	}
	return "auto (foreach)"
}

// paddedSamples makes batch question/answer pairs whose decoder sequence (prompt with the
// image features, then the answer) has at least seq tokens.
func paddedSamples(m *prsmed.Model, cfg prsmed.Config, batch, seq int) ([]llava.Sample, error) {
	const answer = "The tumour is in the top left of the image."
	q := "Where is the tumour in this image?"
	patches := imagePatches(cfg)
	for i := 0; ; i++ {
		p, a, err := m.LLaVA.Tokens(llava.Sample{Question: q, Answer: answer})
		if err != nil {
			return nil, err
		}
		if len(p)-1+patches+len(a) >= seq {
			break
		}
		if i > 10000 {
			return nil, fmt.Errorf("cannot pad the question to %d tokens", seq)
		}
		q += " Please look carefully."
	}
	out := make([]llava.Sample, batch)
	for i := range out {
		out[i] = llava.Sample{Question: q, Answer: answer}
	}
	return out, nil
}

// imagePatches is the number of image tokens the vision tower puts in the prompt.
func imagePatches(cfg prsmed.Config) int {
	n := int(clipSide(cfg) / cfg.CLIP.PatchSize)
	return n * n
}

// clipSide is the side of the vision tower's input images.
func clipSide(cfg prsmed.Config) int64 {
	if cfg.CLIPPreprocess.Size != 0 {
		return int64(cfg.CLIPPreprocess.Size)
	}
	return cfg.CLIP.ImageSize
}

func median(v []float64) float64 {
	w := append([]float64(nil), v...)
	sort.Float64s(w)
	n := len(w)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return w[n/2]
	}
	return (w[n/2-1] + w[n/2]) / 2
}

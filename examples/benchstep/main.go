// Command benchstep times PRS-Med's stage-2 training step (forward, backward, gradient-norm
// clipping, AdamW) on random weights of a preset's shapes and prints one JSON line. It is
// the Go side of the paper-size comparison with third_party/bench/paper_step.py
// (PyTorch + transformers + PEFT doing the same work).
//
//	go run ./examples/benchstep -preset tiny -steps 5                       # CPU smoke run
//	go run ./examples/benchstep -preset paper -device cuda -dtype bfloat16 -batch 2 -steps 20
//	go run ./examples/benchstep -preset paper -device cuda -dtype bfloat16 -batch 8 -phases
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
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
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
}

func main() {
	var o options
	flag.StringVar(&o.preset, "preset", "tiny", "model shapes: tiny or paper")
	flag.IntVar(&o.batch, "batch", 2, "batch size")
	flag.StringVar(&o.dtype, "dtype", "float32", "parameter and activation dtype: float32 or bfloat16 (pure, every parameter)")
	flag.StringVar(&o.autocast, "autocast", "", "run the forward under autocast to this dtype (bfloat16 or float16; empty: off), parameters staying -dtype")
	flag.IntVar(&o.steps, "steps", 10, "timed steps")
	flag.IntVar(&o.warmup, "warmup", 2, "untimed steps first")
	flag.StringVar(&o.device, "device", "cpu", "cpu, cuda or cuda:N")
	flag.BoolVar(&o.phases, "phases", false, "synchronise after each phase and report its median time")
	flag.IntVar(&o.seq, "seq", -1, "pad the question until the decoder sequence has at least this many tokens (-1: 642 for paper, none for tiny)")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed")
	flag.IntVar(&o.threads, "threads", 0, "intra-op threads (0: libtorch's default)")
	flag.StringVar(&o.adamw, "adamw", "auto", "AdamW implementation: auto, foreach, per-tensor or fused")
	flag.Float64Var(&o.lr, "lr", 1e-4, "AdamW learning rate")
	flag.Float64Var(&o.clip, "clip", 1, "gradient-norm clipping threshold")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: benchstep [flags]\n\nTimes a PRS-Med stage-2 training step on random weights and prints one JSON line.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchstep:", err)
		os.Exit(1)
	}
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchstep:", err)
		os.Exit(1)
	}
	fmt.Println(string(line))
}

// result is the JSON line.
type result struct {
	Impl      string             `json:"impl"`
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
}

func parseImpl(s string) (torch.AdamWImpl, error) {
	for _, i := range []torch.AdamWImpl{torch.AdamWAuto, torch.AdamWForeach, torch.AdamWPerTensor, torch.AdamWFused} {
		if i.String() == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown -adamw %q (auto, foreach, per-tensor or fused)", s)
}

func run(ctx context.Context, o options) (res *result, err error) {
	defer torch.Recover(&err)
	if o.batch <= 0 || o.steps <= 0 || o.warmup < 0 {
		return nil, fmt.Errorf("-batch and -steps must be positive, -warmup not negative")
	}
	dev, err := cli.Device(o.device)
	if err != nil {
		return nil, err
	}
	var dt torch.DType
	switch o.dtype {
	case "float32":
		dt = torch.Float32
	case "bfloat16":
		dt = torch.BFloat16
	default:
		return nil, fmt.Errorf("unknown -dtype %q (float32 or bfloat16)", o.dtype)
	}
	var ac torch.DType
	if o.autocast != "" {
		if ac, err = torch.ParseDType(o.autocast); err != nil {
			return nil, fmt.Errorf("-autocast: %w", err)
		}
	}
	impl, err := parseImpl(o.adamw)
	if err != nil {
		return nil, err
	}
	if o.threads > 0 {
		torch.SetNumThreads(o.threads)
	}
	if err := torch.ManualSeed(o.seed); err != nil {
		return nil, err
	}
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("unknown -preset %q (tiny or paper)", o.preset)
	}
	m, err := prsmed.New(cfg, tok, dev)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if dt != torch.Float32 {
		if err := m.Store.To(dev, dt); err != nil {
			return nil, err
		}
	}
	m.SetStage(prsmed.Stage2)

	samples, err := paddedSamples(m, cfg, o.batch, seq)
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
	b := int64(o.batch)
	rc := int64(cfg.CLIPPreprocess.Size)
	if rc == 0 {
		rc = cfg.CLIP.ImageSize
	}
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
	step := func(c *torch.Scope, timed bool) error {
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
		fc := c
		if ac != 0 {
			fc = c.Autocast(ac)
		}
		out, err := m.Forward(fc, in)
		if err != nil {
			return err
		}
		lap("forward")
		out.Loss.Total.Backward()
		lap("backward")
		norm = torch.ClipGradNormTensor(c, trainable, o.clip, 2)
		lap("clip")
		opt.Step()
		lap("optimizer")
		seqLen = out.LLaVA.Hidden.Size(1)
		loss = out.Loss.Total.Detach(c)
		return nil
	}
	for i := 0; i < o.warmup; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := s.Child()
		err := step(c, false)
		c.Close()
		if err != nil {
			return nil, err
		}
	}
	sync()
	start := time.Now()
	last := s.Child()
	for i := 0; i < o.steps; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := s.Child()
		if err := step(c, true); err != nil {
			return nil, err
		}
		if i == o.steps-1 {
			// Keep the last step's loss and norm to report them after the timing.
			loss, norm = c.Escape(loss, last), c.Escape(norm, last)
		}
		c.Close()
	}
	sync()
	total := time.Since(start).Seconds()
	defer last.Close()

	res = &result{
		Impl: "prsmed-go", Preset: o.preset, Device: dev.String(), DType: o.dtype, Autocast: o.autocast, Batch: o.batch, SeqLen: seqLen,
		Params: m.Store.NumParams(false), Trainable: m.Store.NumParams(true), Steps: o.steps,
		StepS: total / float64(o.steps), SamplesS: float64(o.batch*o.steps) / total,
		AdamW: resolvedImpl(impl, dev, dt), Libtorch: torch.Version(), Loss: loss.Item(),
		LoRA: fmt.Sprintf("r%d/alpha%g/dropout%g on %s", cfg.LoRA.R, cfg.LoRA.Alpha, cfg.LoRA.Dropout, strings.Join(cfg.LoRA.Targets, ",")),
	}
	if norm != nil {
		res.GradNorm = norm.Item()
	}
	if o.phases {
		res.Phases = map[string]float64{}
		for k, v := range phases {
			res.Phases[k] = median(v)
		}
	}
	return res, nil
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
	side := int64(cfg.CLIPPreprocess.Size)
	if side == 0 {
		side = cfg.CLIP.ImageSize
	}
	patches := int(side/cfg.CLIP.PatchSize) * int(side/cfg.CLIP.PatchSize)
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

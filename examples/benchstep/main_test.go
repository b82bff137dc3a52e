package main

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

// tinyOptions are the flags' defaults for the tiny preset on the CPU, with few steps.
func tinyOptions() options {
	return options{preset: "tiny", batch: 2, dtype: "float32", steps: 2, warmup: 1, device: "cpu", seq: -1,
		seed: 3, threads: 1, adamw: "auto", lr: 1e-4, clip: 1, answer: 8, pSteps: 2, pWarmup: 1, loraDrop: -1}
}

// runAll runs o and returns every result it emits.
func runAll(o options) ([]*result, error) {
	var out []*result
	err := run(context.Background(), o, func(r *result) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// runN runs o, which must emit n results.
func runN(t *testing.T, o options, n int) []*result {
	t.Helper()
	res, err := runAll(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != n {
		t.Fatalf("%d results, want %d", len(res), n)
	}
	return res
}

// runOne runs o, which must emit one result.
func runOne(t *testing.T, o options) *result { t.Helper(); return runN(t, o, 1)[0] }

// checkResult holds for every result: finite positive loss and gradient norm, a trained
// part of the model, consistent counts and rates.
func checkResult(t *testing.T, res *result, steps, batch int) {
	t.Helper()
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) || res.Loss <= 0 {
		t.Errorf("loss %v, want a positive finite number", res.Loss)
	}
	if math.IsNaN(res.GradNorm) || res.GradNorm <= 0 {
		t.Errorf("grad norm %v, want positive", res.GradNorm)
	}
	if res.Trainable <= 0 || res.Trainable >= res.Params {
		t.Errorf("trainable %d of %d parameters: stage 2 trains a part of the model", res.Trainable, res.Params)
	}
	if res.Steps != steps || res.Batch != batch || res.StepS <= 0 {
		t.Errorf("steps %d batch %d step_s %v, want %d, %d and positive", res.Steps, res.Batch, res.StepS, steps, batch)
	}
	if got := math.Abs(res.SamplesS*res.StepS - float64(batch)); got > 1e-6 {
		t.Errorf("samples/s %v × step %v s is not the batch %d", res.SamplesS, res.StepS, batch)
	}
}

// The paper-size comparison runs this program for the first time on a GPU machine, where
// device time is short: every flag combination it uses runs here first, on the tiny preset.
func TestRunConfigurations(t *testing.T) {
	cases := []struct {
		name string
		edit func(*options)
	}{
		{"float32", func(o *options) {}},
		{"pure bfloat16", func(o *options) { o.dtype = "bfloat16" }},
		{"bfloat16 autocast", func(o *options) { o.autocast = "bfloat16" }},
		{"phases", func(o *options) { o.phases = true }},
		{"per-tensor AdamW", func(o *options) { o.adamw = "per-tensor" }},
		{"padded to 120 tokens", func(o *options) { o.seq = 120 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tinyOptions()
			c.edit(&o)
			res := runOne(t, o)
			checkResult(t, res, o.steps, o.batch)
			if res.DType != o.dtype || res.Autocast != o.autocast {
				t.Errorf("dtype %q autocast %q, want %q and %q", res.DType, res.Autocast, o.dtype, o.autocast)
			}
			var keys []string
			for k := range res.Phases {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			want := []string(nil)
			if o.phases {
				want = []string{"backward", "clip", "forward", "optimizer"}
			}
			if !slices.Equal(keys, want) {
				t.Errorf("phases %v, want %v", keys, want)
			}
			if o.seq > 0 && res.SeqLen < int64(o.seq) {
				t.Errorf("decoder sequence %d tokens, want at least -seq %d", res.SeqLen, o.seq)
			}
			if o.seq <= 0 && res.SeqLen >= 120 {
				t.Errorf("unpadded decoder sequence %d tokens: the padded case would not test the padding", res.SeqLen)
			}
		})
	}
}

// The two AdamW implementations the GPU comparison selects between take the same steps.
func TestAdamWImplementationsAgree(t *testing.T) {
	loss := map[string]float64{}
	for _, impl := range []string{"foreach", "per-tensor"} {
		o := tinyOptions()
		o.adamw, o.steps = impl, 3
		res := runOne(t, o)
		if res.AdamW != impl {
			t.Errorf("adamw %q reported as %q", impl, res.AdamW)
		}
		loss[impl] = res.Loss
	}
	if d := math.Abs(loss["foreach"] - loss["per-tensor"]); d > 1e-5*math.Abs(loss["per-tensor"]) {
		t.Errorf("loss after 3 steps: foreach %v, per-tensor %v", loss["foreach"], loss["per-tensor"])
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	cases := []struct {
		edit func(*options)
		want string
	}{
		{func(o *options) { o.preset = "huge" }, `unknown -preset "huge"`},
		{func(o *options) { o.dtype = "float64" }, `unknown -dtype "float64"`},
		{func(o *options) { o.autocast = "int7" }, "-autocast"},
		{func(o *options) { o.adamw = "sgd" }, `unknown -adamw "sgd"`},
		{func(o *options) { o.batch = 0 }, "must be positive"},
		{func(o *options) { o.device = "tpu" }, "tpu"},
		{func(o *options) { o.configs = "f32:2,fp8:2" }, `"fp8:2" is not NAME:BATCH`},
		{func(o *options) { o.configs = "bf16:0" }, `"bf16:0" is not NAME:BATCH`},
		{func(o *options) { o.configs = "bf16" }, `"bf16" is not NAME:BATCH`},
		{func(o *options) { o.answer = 0 }, "and -answer must be positive"},
	}
	for _, c := range cases {
		o := tinyOptions()
		c.edit(&o)
		before := torch.LiveTensors()
		_, err := runAll(o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
		if after := torch.LiveTensors(); after != before {
			t.Errorf("%d tensors left alive after the error", after-before)
		}
	}
}

// -configs times each configuration on the one model, casting its parameters between them
// (the reported dtype is read from a parameter), one JSON line per configuration, in
// order; the first configuration, on the model as built, steps as a run of its own.
func TestConfigsInOneProcess(t *testing.T) {
	o := tinyOptions()
	o.configs = "autocast-bf16:2,bf16:1,f32:2"
	want := []struct {
		config, dtype, autocast string
		batch                   int
	}{{"autocast-bf16", "float32", "bfloat16", 2}, {"bf16", "bfloat16", "", 1}, {"f32", "float32", "", 2}}
	res := runN(t, o, len(want))
	for i, w := range want {
		r := res[i]
		if r.Config != w.config || r.DType != w.dtype || r.Autocast != w.autocast || r.Batch != w.batch {
			t.Errorf("result %d: config %q dtype %q autocast %q batch %d, want %+v", i, r.Config, r.DType, r.Autocast, r.Batch, w)
		}
		checkResult(t, r, o.steps, w.batch)
	}
	// The first configuration ran on the model as built, so it matches a run of its own.
	alone := tinyOptions()
	alone.autocast, alone.batch = "bfloat16", 2
	if a := runOne(t, alone); a.Loss != res[0].Loss {
		t.Errorf("autocast-bf16 loss %v in -configs, %v alone", res[0].Loss, a.Loss)
	}
}

// predict-* configurations time PredictBatch on the same model: the prompt alone (no
// answer in the sequence), the dtype cast, one result per configuration; a training
// configuration after a float32 prediction steps exactly as one run alone (prediction
// leaves nothing behind in the model).
func TestPredictConfigurations(t *testing.T) {
	o := tinyOptions()
	o.configs = "predict-f32:2,f32:2,predict-bf16:1"
	res := runN(t, o, 3)
	train := res[1]
	for i, w := range []struct {
		at            int
		config, dtype string
		batch         int
	}{{0, "predict-f32", "float32", 2}, {2, "predict-bf16", "bfloat16", 1}} {
		r := res[w.at]
		if r.Config != w.config || r.DType != w.dtype || r.Batch != w.batch || r.Answer != o.answer || r.Steps != o.pSteps {
			t.Errorf("result %d: config %q dtype %q batch %d answer %d steps %d, want %+v, answer %d, steps %d",
				i, r.Config, r.DType, r.Batch, r.Answer, r.Steps, w, o.answer, o.pSteps)
		}
		if r.StepS <= 0 || r.SeqLen <= 0 || r.SeqLen >= train.SeqLen {
			t.Errorf("result %d: latency %v s, prompt %d tokens (training sequence with its answer: %d)", i, r.StepS, r.SeqLen, train.SeqLen)
		}
	}
	// (The bf16 prediction comes last: casting to bf16 and back would round the weights.)
	alone := tinyOptions()
	if a := runOne(t, alone); a.Loss != train.Loss {
		t.Errorf("f32 loss %v after a prediction, %v alone", train.Loss, a.Loss)
	}
}

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
		seed: 3, threads: 1, adamw: "auto", lr: 1e-4, clip: 1}
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
			res, err := run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) || res.Loss <= 0 {
				t.Errorf("loss %v, want a positive finite number", res.Loss)
			}
			if math.IsNaN(res.GradNorm) || res.GradNorm <= 0 {
				t.Errorf("grad norm %v, want positive", res.GradNorm)
			}
			if res.Trainable <= 0 || res.Trainable >= res.Params {
				t.Errorf("trainable %d of %d parameters: stage 2 trains a part of the model", res.Trainable, res.Params)
			}
			if res.Steps != o.steps || res.Batch != o.batch || res.StepS <= 0 {
				t.Errorf("steps %d batch %d step_s %v, want %d, %d and positive", res.Steps, res.Batch, res.StepS, o.steps, o.batch)
			}
			if got := math.Abs(res.SamplesS*res.StepS - float64(o.batch)); got > 1e-6 {
				t.Errorf("samples/s %v × step %v s is not the batch %d", res.SamplesS, res.StepS, o.batch)
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
		res, err := run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
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
	}
	for _, c := range cases {
		o := tinyOptions()
		c.edit(&o)
		before := torch.LiveTensors()
		_, err := run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
		if after := torch.LiveTensors(); after != before {
			t.Errorf("%d tensors left alive after the error", after-before)
		}
	}
}

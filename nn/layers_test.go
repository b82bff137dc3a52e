package nn_test

import (
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// forwardFn runs a layer built by a layerCase on the case's inputs.
type forwardFn func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor

// one adapts a single-input Layer.
func one(l nn.Layer) forwardFn {
	return func(s *torch.Scope, in []*torch.Tensor) *torch.Tensor { return l.Forward(s, in[0]) }
}

type layerCase struct {
	name   string
	inputs int
	eval   bool                      // run in evaluation mode
	dtype  torch.DType               // parameter dtype (float32 when zero)
	rtol   float64                   // fp32RTol when zero
	build  func(p nn.Path) forwardFn // registers the layer's parameters under p
}

func TestLayersMatchPyTorch(t *testing.T) {
	s, g, sum := goldenTest(t, layersGolden)

	conv := func(in, out, k int64, c nn.ConvConfig) func(p nn.Path) forwardFn {
		return func(p nn.Path) forwardFn { return one(nn.NewConv2d(p, in, out, k, c)) }
	}
	convT := func(in, out, k int64, c nn.ConvConfig) func(p nn.Path) forwardFn {
		return func(p nn.Path) forwardFn { return one(nn.NewConvTranspose2d(p, in, out, k, c)) }
	}
	act := func(a nn.Activation) func(p nn.Path) forwardFn {
		return func(nn.Path) forwardFn { return one(a) }
	}
	cases := []layerCase{
		{name: "linear_bias", inputs: 1, build: func(p nn.Path) forwardFn {
			return one(nn.NewLinear(p, 5, 4, nn.LinearConfig{Bias: true}))
		}},
		{name: "linear_nobias", inputs: 1, build: func(p nn.Path) forwardFn {
			return one(nn.NewLinear(p, 5, 4, nn.LinearConfig{}))
		}},
		{name: "conv_basic", inputs: 1, build: conv(3, 4, 3, nn.ConvConfig{})},
		{name: "conv_stride_pad", inputs: 1, build: conv(3, 5, 3, nn.ConvConfig{Stride: 2, Padding: 1})},
		{name: "conv_dilation", inputs: 1, build: conv(2, 3, 3, nn.ConvConfig{Padding: 2, Dilation: 2})},
		{name: "conv_groups", inputs: 1, build: conv(4, 6, 3, nn.ConvConfig{Padding: 1, Groups: 2})},
		{name: "conv_depthwise_nobias", inputs: 1, build: conv(4, 4, 3, nn.ConvConfig{Padding: 1, Groups: 4, NoBias: true})},
		{name: "conv_1x1", inputs: 1, build: conv(4, 2, 1, nn.ConvConfig{})},
		{name: "convt_s2_op1", inputs: 1, build: convT(4, 3, 3, nn.ConvConfig{Stride: 2, Padding: 1, OutputPadding: 1})},
		{name: "convt_s2_k2", inputs: 1, build: convT(4, 2, 2, nn.ConvConfig{Stride: 2})},
		{name: "convt_groups_nobias", inputs: 1, build: convT(4, 6, 3, nn.ConvConfig{Stride: 2, Groups: 2, NoBias: true})},
		{name: "layernorm", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewLayerNorm(p, 1e-5, 6)) }},
		{name: "layernorm_2dims", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewLayerNorm(p, 1e-6, 3, 4)) }},
		{name: "layernorm2d", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewLayerNorm2d(p, 4, 1e-6)) }},
		{name: "groupnorm", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewGroupNorm(p, 2, 4, 1e-5)) }},
		{name: "instancenorm_train", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewInstanceNorm2d(p, 3, 1e-5)) }},
		{name: "instancenorm_eval", inputs: 1, eval: true, build: func(p nn.Path) forwardFn {
			return one(nn.NewInstanceNorm2d(p, 3, 1e-5))
		}},
		{name: "rmsnorm", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewRMSNorm(p, 8, 1e-6)) }},
		{name: "rmsnorm_bf16", inputs: 1, dtype: torch.BFloat16, rtol: bf16RTol, build: func(p nn.Path) forwardFn {
			return one(nn.NewRMSNorm(p, 8, 1e-6))
		}},
		{name: "embedding", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewEmbedding(p, 10, 4)) }},
		{name: "dropout_eval", inputs: 1, eval: true, build: func(p nn.Path) forwardFn {
			return one(nn.NewDropout(0.3))
		}},
		{name: "act_relu", inputs: 1, build: act(nn.ReLU)},
		{name: "act_gelu", inputs: 1, build: act(nn.GELU)},
		{name: "act_gelu_tanh", inputs: 1, build: act(nn.GELUTanh)},
		{name: "act_quick_gelu", inputs: 1, build: act(nn.QuickGELU)},
		{name: "act_silu", inputs: 1, build: act(nn.SiLU)},
		{name: "act_tanh", inputs: 1, build: act(nn.Tanh)},
		{name: "act_sigmoid", inputs: 1, build: act(nn.Sigmoid)},
		{name: "mlp", inputs: 1, build: func(p nn.Path) forwardFn { return one(nn.NewMLP(p, nn.ReLU, []int64{5, 8, 8, 3})) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := nn.NewStore(torch.CPU)
			defer st.Close()
			if c.dtype != 0 {
				st.SetDType(c.dtype)
			}
			fwd := c.build(st.Root())
			g.loadCase(t, st, c.name)
			s := s.Eval()
			defer s.Close()
			if !c.eval {
				s = s.Train(nil)
			}
			in := make([]*torch.Tensor, c.inputs)
			for i := range in {
				in[i] = g.input(t, s, c.name, i)
			}
			rtol := c.rtol
			if rtol == 0 {
				rtol = fp32RTol
			}
			g.checkCase(t, s, sum, c.name, st, fwd(s, in), in, rtol)
		})
	}
}

// TestBatchNormMatchesPyTorch runs three training steps (outputs, input and parameter
// gradients, then running statistics and num_batches_tracked) and one evaluation step.
func TestBatchNormMatchesPyTorch(t *testing.T) {
	s, g, sum := goldenTest(t, layersGolden)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	bn := nn.NewBatchNorm2d(st.Root(), 3)
	g.loadCase(t, st, "bn_train0")
	exact(t, "initial running_var", bn.RunningVar, g.want(t, "bn_train0.sd.running_var"))
	for _, c := range []string{"bn_train0", "bn_train1", "bn_train2"} {
		s := s.Train(nil)
		zeroGrads(st)
		x := g.input(t, s, c, 0)
		g.checkCase(t, s, sum, c, st, bn.Forward(s, x), []*torch.Tensor{x}, fp32RTol)
		s.Close()
	}
	for name, got := range map[string]*torch.Tensor{
		"running_mean": bn.RunningMean, "running_var": bn.RunningVar, "num_batches_tracked": bn.NumBatchesTracked,
	} {
		sum.add("bn_running_stats", torchtest.AllClose(t, name, got, g.want(t, "bn."+name), fp32RTol))
	}
	if n := bn.NumBatchesTracked.Item(); n != 3 {
		t.Errorf("num_batches_tracked = %v, want 3", n)
	}

	zeroGrads(st) // s is in evaluation mode
	x := g.input(t, s, "bn_eval", 0)
	g.checkCase(t, s, sum, "bn_eval", st, bn.Forward(s, x), []*torch.Tensor{x}, fp32RTol)
	// Evaluation must not touch the running statistics.
	sum.add("bn_running_stats", torchtest.AllClose(t, "running_mean after eval", bn.RunningMean, g.want(t, "bn.running_mean"), fp32RTol))
	if n := bn.NumBatchesTracked.Item(); n != 3 {
		t.Errorf("num_batches_tracked after eval = %v, want 3", n)
	}
}

// TestDropoutMatchesPyTorch: with the default generator seeded as torch.manual_seed(123),
// the mask (and so the output and input gradient) is PyTorch's, for F.dropout and
// nn.Dropout alike; in evaluation mode dropout is the identity.
func TestDropoutMatchesPyTorch(t *testing.T) {
	s, g, sum := goldenTest(t, layersGolden)
	d := nn.NewDropout(0.3)
	for _, c := range []string{"dropout_functional", "dropout_module"} {
		t.Run(c, func(t *testing.T) {
			s := s.Train(nil)
			defer s.Close()
			x := g.input(t, s, c, 0)
			if err := torch.ManualSeed(123); err != nil {
				t.Fatal(err)
			}
			y := d.Forward(s, x)
			zeros := 0
			for _, v := range y.Float32s() {
				if v == 0 {
					zeros++
				}
			}
			if zeros == 0 || zeros == int(y.Numel()) {
				t.Errorf("dropout zeroed %d of %d elements", zeros, y.Numel())
			}
			g.checkCase(t, s, sum, c, nil, y, []*torch.Tensor{x}, fp32RTol)
		})
	}
	// A different seed gives a different mask.
	c := s.Train(nil)
	defer c.Close()
	x := g.input(t, c, "dropout_module", 0)
	if err := torch.ManualSeed(124); err != nil {
		t.Fatal(err)
	}
	if st := torchtest.CompareTensors(d.Forward(c, x), g.want(t, "dropout_module.out"), torchtest.Tol{Exact: true}); st.OK() {
		t.Error("seed 124 gave the mask of seed 123")
	}
	if y := d.Forward(c.Eval(), x); y != x {
		exact(t, "eval dropout", y, x)
	}
}

// TestMultiheadAttentionMatchesPyTorch compares with nn.MultiheadAttention (batch first
// and sequence first, self and cross attention, key_padding_mask, bool and float
// attn_mask): outputs and the gradients of the inputs, in_proj_weight, in_proj_bias and
// out_proj.*; and PyTorch's fused evaluation path.
func TestMultiheadAttentionMatchesPyTorch(t *testing.T) {
	s, g, sum := goldenTest(t, layersGolden)
	cases := []struct {
		name       string
		batchFirst bool
		self       bool
		eval       bool
	}{
		{"mha_self_bf", true, true, false},
		{"mha_self_seqfirst", false, true, false},
		{"mha_cross_kpm_seqfirst", false, false, false},
		{"mha_cross_kpm_bf", true, false, false},
		{"mha_boolmask_bf", true, false, false},
		{"mha_floatmask_kpm_seqfirst", false, false, false},
		{"mha_boolmask_kpm_bf", true, false, false},
		{"mha_eval_fast", true, true, true},
		{"mha_dropout_bf", true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := nn.NewStore(torch.CPU)
			defer st.Close()
			m := nn.NewMultiheadAttention(st.Root(), 8, 2, c.batchFirst)
			g.loadCase(t, st, c.name)
			s := s.Eval()
			defer s.Close()
			if !c.eval {
				s = s.Train(nil)
			}
			var kpm, mask *torch.Tensor
			if g.has(c.name + ".kpm") {
				kpm = g.want(t, c.name+".kpm")
			}
			if g.has(c.name + ".attn_mask") {
				mask = g.want(t, c.name+".attn_mask")
			}
			var in []*torch.Tensor
			var y *torch.Tensor
			if c.self {
				x := g.input(t, s, c.name, 0)
				in = []*torch.Tensor{x}
				fs := s
				if c.eval {
					fs = s.NoGrad()
					defer fs.Close()
				}
				if kpm == nil && mask == nil {
					y = m.Forward(fs, x)
				} else {
					y = m.Forward3(fs, x, x, x, kpm, mask)
				}
			} else {
				in = []*torch.Tensor{g.input(t, s, c.name, 0), g.input(t, s, c.name, 1), g.input(t, s, c.name, 2)}
				if g.has(c.name + ".seed") { // dropout 0.25 on the attention weights, seeded
					m.Dropout = 0.25
					if err := torch.ManualSeed(uint64(g.want(t, c.name+".seed").Item())); err != nil {
						t.Fatal(err)
					}
				}
				y = m.Forward3(s, in[0], in[1], in[2], kpm, mask)
			}
			g.checkCase(t, s, sum, c.name, st, y, in, fp32RTol)
		})
	}
}

// TestRotaryMatchesMistral compares cos, sin and the rotated queries (and their gradient)
// with transformers' Mistral rotary embedding.
func TestRotaryMatchesMistral(t *testing.T) {
	s, g, sum := goldenTest(t, layersGolden)

	q := g.input(t, s, "rotary", 0)
	pos := g.want(t, "rotary.in1")
	cos, sin := nn.Rotary{Dim: 8, Theta: 10000}.CosSin(s, pos, torch.Float32)
	sum.add("rotary", torchtest.AllClose(t, "cos", cos, g.want(t, "rotary.cos"), fp32RTol))
	sum.add("rotary", torchtest.AllClose(t, "sin", sin, g.want(t, "rotary.sin"), fp32RTol))
	g.checkCase(t, s, sum, "rotary", nil, nn.ApplyRotary(s, q, cos, sin), []*torch.Tensor{q, nil}, fp32RTol)

	cos, sin = nn.Rotary{Dim: 16, Theta: 1e6}.CosSin(s, g.want(t, "rotary_bf16.in0"), torch.BFloat16)
	sum.add("rotary_bf16", torchtest.AllClose(t, "cos bf16", cos, g.want(t, "rotary_bf16.cos"), bf16RTol))
	sum.add("rotary_bf16", torchtest.AllClose(t, "sin bf16", sin, g.want(t, "rotary_bf16.sin"), bf16RTol))

	// rotate_half is cat(−x2, x1).
	x := torch.FromSlice(s, []float32{1, 2, 3, 4})
	if got, want := nn.RotateHalf(s, x).Float32s(), []float32{-3, -4, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("RotateHalf([1 2 3 4]) = %v, want %v", got, want)
	}
}

// TestAttentionMatchesEager compares nn.Attention with transformers' eager attention
// (repeat_kv, additive mask of torch.finfo(float32).min): plain, causal, grouped KV heads,
// key padding (1 = real token) on either side, and KV-cache shapes (L < S).
func TestAttentionMatchesEager(t *testing.T) {
	s, g, sum := goldenTest(t, layersGolden)
	cases := []struct {
		name   string
		causal bool
	}{
		{"attn_plain", false},
		{"attn_causal", true},
		{"attn_gqa", false},
		{"attn_pad_right", false},
		{"attn_causal_pad_left_gqa", true},
		{"attn_kvcache", true},
		{"attn_kvcache_one", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := s.Child()
			defer s.Close()
			in := []*torch.Tensor{g.input(t, s, c.name, 0), g.input(t, s, c.name, 1), g.input(t, s, c.name, 2)}
			m := nn.AttentionMask{Causal: c.causal}
			if g.has(c.name + ".attention_mask") {
				m.KeyPadding = g.want(t, c.name+".attention_mask")
			}
			y := nn.Attention(s, in[0], in[1], in[2], m, 0)
			// The mask a model builds once per forward pass (Prepare) gives the same result. It
			// runs with gradients as y does: on libtorch 2.x a query row with every key masked
			// (left padding under the causal mask) takes the explicit path only when gradients
			// flow (see tt_sdpa), so without them the fused kernel's rounding would differ.
			ng := s.NoGrad()
			prepared := nn.Attention(s, in[0], in[1], in[2], m.Prepare(ng, in[0], in[1].Size(2)), 0)
			torchtest.AllCloseTol(t, c.name+" prepared mask", prepared.Detach(ng), y.Detach(ng), torchtest.Tol{Exact: true})
			ng.Close()
			g.checkCase(t, s, sum, c.name, nil, y, in, fp32RTol)
		})
	}
}

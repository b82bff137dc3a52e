package torch_test

// The Go side of every op case in third_party/golden/torch_ops.py. Each entry must do
// exactly what the Python case does (same dims, constants and seeds).

import (
	"math"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

type gT = torch.Tensor

func gOuts(ts ...*gT) []*gT { return ts }

func gUn(f func(*gT, *torch.Scope) *gT) goldenCase {
	return goldenCase{fn: func(s *torch.Scope, in []*gT) []*gT { return gOuts(f(in[0], s)) }}
}

func gBin(f func(*gT, *torch.Scope, *gT) *gT) goldenCase {
	return goldenCase{fn: func(s *torch.Scope, in []*gT) []*gT { return gOuts(f(in[0], s, in[1])) }}
}

func gSc(f func(*gT, *torch.Scope, float64) *gT, v float64) goldenCase {
	return goldenCase{fn: func(s *torch.Scope, in []*gT) []*gT { return gOuts(f(in[0], s, v)) }}
}

func gFn(f goldenFn) goldenCase { return goldenCase{fn: f} }

// exact marks a case whose float outputs must match bit for bit (random draws).
func gExact(f goldenFn) goldenCase { return goldenCase{fn: f, tol: torchtest.Tol{Exact: true}} }

func gDims(v ...int64) []int64 { return v }

func gGen(seed uint64) *torch.Generator {
	g, err := torch.NewGenerator(seed, torch.CPU)
	if err != nil {
		panic(err)
	}
	return g
}

func gSeed(v uint64) {
	if err := torch.ManualSeed(v); err != nil {
		panic(err)
	}
}

func gCastTo(dt torch.DType) goldenCase {
	return gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].ToDType(s, dt)) })
}

func gBnTrain(s *torch.Scope, in []*gT) []*gT {
	y := torch.BatchNorm(s, in[0], in[1], in[2], in[3], in[4], true, 0.1, 1e-5)
	return gOuts(y, in[3], in[4])
}

var goldenOps = map[string]goldenCase{
	// ---- elementwise.safetensors
	"add_bcast":      gBin((*gT).Add),
	"add_bcast2":     gBin((*gT).Add),
	"sub_bcast":      gBin((*gT).Sub),
	"mul_bcast":      gBin((*gT).Mul),
	"div_bcast":      gBin((*gT).Div),
	"pow_tensor":     gBin((*gT).Pow),
	"pow_scalar":     gSc((*gT).PowScalar, 2.5),
	"pow_scalar_int": gSc((*gT).PowScalar, 3),
	"add_scalar":     gSc((*gT).AddScalar, 1.5),
	"sub_scalar":     gSc((*gT).SubScalar, 0.25),
	"rsub_scalar":    gSc((*gT).RSubScalar, 1),
	"mul_scalar":     gSc((*gT).MulScalar, -2),
	"div_scalar":     gSc((*gT).DivScalar, 3),
	"neg":            gUn((*gT).Neg),
	"exp":            gUn((*gT).Exp),
	"log":            gUn((*gT).Log),
	"log1p":          gUn((*gT).Log1p),
	"sqrt":           gUn((*gT).Sqrt),
	"rsqrt":          gUn((*gT).Rsqrt),
	"abs":            gUn((*gT).Abs),
	"sin":            gUn((*gT).Sin),
	"cos":            gUn((*gT).Cos),
	"erf":            gUn((*gT).Erf),
	"square":         gUn((*gT).Square),
	"reciprocal":     gUn((*gT).Reciprocal),
	"relu":           gUn((*gT).Relu),
	"sigmoid":        gUn((*gT).Sigmoid),
	"tanh":           gUn((*gT).Tanh),
	"silu":           gUn((*gT).Silu),
	"gelu":           gUn((*gT).Gelu),
	"gelu_tanh":      gUn((*gT).GeluTanh),
	"maximum":        gBin((*gT).Maximum),
	"minimum":        gBin((*gT).Minimum),
	"maximum_scalar": gSc((*gT).ClampMin, 0.2),
	"atan2":          gBin((*gT).Atan2),
	"remainder":      gBin((*gT).Remainder),
	"floor":          gUn((*gT).Floor),
	"ceil":           gUn((*gT).Ceil),
	"round":          gUn((*gT).Round),
	"sign":           gUn((*gT).Sign),
	"floor_divide":   gBin((*gT).FloorDivide),
	"eq":             gBin((*gT).Eq),
	"ne":             gBin((*gT).Ne),
	"lt":             gBin((*gT).Lt),
	"le":             gBin((*gT).Le),
	"gt":             gBin((*gT).Gt),
	"ge":             gBin((*gT).Ge),
	"eq_scalar":      gSc((*gT).EqScalar, 1),
	"ne_scalar":      gSc((*gT).NeScalar, 1),
	"lt_scalar":      gSc((*gT).LtScalar, 0.5),
	"le_scalar":      gSc((*gT).LeScalar, 1),
	"gt_scalar":      gSc((*gT).GtScalar, -0.25),
	"ge_scalar":      gSc((*gT).GeScalar, 2),
	"logical_and":    gBin((*gT).LogicalAnd),
	"logical_or":     gBin((*gT).LogicalOr),
	"logical_not":    gUn((*gT).LogicalNot),
	"isnan":          gUn((*gT).IsNaN),
	"where":          gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Where(s, in[0], in[1], in[2])) }),
	"clamp":          gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Clamp(s, -0.5, 0.5)) }),
	"clamp_min":      gSc((*gT).ClampMin, 0.1),
	"clamp_max":      gSc((*gT).ClampMax, -0.1),
	"masked_fill":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].MaskedFill(s, in[1], -2.5)) }),
	"triu":           gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Triu(s, 0)) }),
	"triu_k1":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Triu(s, 1)) }),
	"tril":           gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Tril(s, 0)) }),
	"tril_km1":       gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Tril(s, -1)) }),
	"addcmul":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Addcmul(s, in[1], in[2], 0.5)) }),

	"int_sub_scalar":      gSc((*gT).SubScalar, 1),
	"int_add_scalar":      gSc((*gT).AddScalar, 3),
	"int_mul_scalar":      gSc((*gT).MulScalar, 2),
	"int_mul_scalar_frac": gSc((*gT).MulScalar, 2.5),
	"int_div_scalar":      gSc((*gT).DivScalar, 2),
	"int_floor_divide_scalar": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(in[0].FloorDivide(s, torch.Scalar(s, 2, torch.Int64)))
	}),
	"int_remainder_scalar": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(in[0].Remainder(s, torch.Scalar(s, 3, torch.Int64)))
	}),
	"int_pow_scalar":       gSc((*gT).PowScalar, 2),
	"int_rsub_scalar":      gSc((*gT).RSubScalar, 5),
	"int_lt_scalar_frac":   gSc((*gT).LtScalar, 0.5),
	"int_add_tensor_float": gBin((*gT).Add),

	// ---- reduce.safetensors
	"sum_dim1_keep":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Sum(s, gDims(1), true)) }),
	"sum_dims02":       gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Sum(s, gDims(0, 2), false)) }),
	"sum_all":          gUn((*gT).SumAll),
	"mean_dim2":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Mean(s, gDims(-1), false)) }),
	"mean_dims01_keep": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Mean(s, gDims(0, 1), true)) }),
	"mean_all":         gUn((*gT).MeanAll),
	"max_dim1":         gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Max(s, 1, false)) }),
	"max_dim2_keep":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Max(s, 2, true)) }),
	"min_dim0":         gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Min(s, 0, false)) }),
	"min_dim1_keep":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Min(s, -2, true)) }),
	"amax_dims12":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Amax(s, gDims(1, 2), false)) }),
	"amin_dim0_keep":   gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Amin(s, gDims(0), true)) }),
	"max_all":          gUn((*gT).MaxAll),
	"min_all":          gUn((*gT).MinAll),
	"argmax_dim1":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Argmax(s, 1, false)) }),
	"argmax_dim2_keep": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Argmax(s, 2, true)) }),
	"argmin_dim0":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Argmin(s, 0, false)) }),
	"argmax_all":       gUn((*gT).ArgmaxAll),
	"var_dim1":         gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Var(s, gDims(1), true, false)) }),
	"var_dims02_keep":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Var(s, gDims(0, 2), true, true)) }),
	"var_all":          gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Var(s, nil, true, false)) }),
	"var_biased_dim2":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Var(s, gDims(2), false, false)) }),
	"norm2_dim2":       gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Norm(s, 2, gDims(-1), false)) }),
	"norm1_dim0_keep":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Norm(s, 1, gDims(0), true)) }),
	"norm2_all":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Norm(s, 2, nil, false)) }),
	"norm1_all":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Norm(s, 1, nil, false)) }),
	"cumsum_dim1":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Cumsum(s, 1)) }),
	"cumsum_dim0":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Cumsum(s, 0)) }),
	"topk3_largest":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Topk(s, 3, -1, true, true)) }),
	"topk2_smallest_dim1": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(in[0].Topk(s, 2, 1, false, true))
	}),
	"sort_dim1":           gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Sort(s, 1, false)) }),
	"sort_desc_dim2":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Sort(s, 2, true)) }),
	"logsumexp_dim1_keep": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].LogSumExp(s, gDims(1), true)) }),
	"logsumexp_dims02":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].LogSumExp(s, gDims(0, 2), false)) }),
	"prod_dim1":           gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Prod(s, gDims(1), false)) }),
	"all_dim1":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].All(s, gDims(1), false)) }),
	"any_all":             gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Any(s, nil, false)) }),

	"norminf_dim1":   gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Norm(s, math.Inf(1), gDims(1), false)) }),
	"sum_bool_dim1":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Sum(s, gDims(1), false)) }),
	"sum_int32_all":  gUn((*gT).SumAll),
	"cumsum_int32":   gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Cumsum(s, 1)) }),
	"max_int64_dim0": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Max(s, 0, false)) }),

	// ---- view.safetensors
	"reshape":           gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Reshape(s, 2, 6)) }),
	"reshape_infer":     gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Reshape(s, -1, 3)) }),
	"reshape_noncontig": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].T(s).Reshape(s, 12)) }),
	"view":              gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].View(s, 6, 4)) }),
	"permute":           gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Permute(s, 2, 0, 1)) }),
	"transpose02":       gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Transpose(s, 0, 2)) }),
	"t":                 gUn((*gT).T),
	"contiguous":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Transpose(s, 0, 1).Contiguous(s)) }),
	"squeeze_dim1":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Squeeze(s, 1)) }),
	"squeeze_all":       gUn((*gT).SqueezeAll),
	"unsqueeze1":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Unsqueeze(s, 1)) }),
	"unsqueeze_last":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Unsqueeze(s, -1)) }),
	"expand":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Expand(s, 3, 4)) }),
	"expand_new_dims":   gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Expand(s, 2, 3, 4)) }),
	"expand_keep":       gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Expand(s, 2, -1, 4)) }),
	"narrow":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Narrow(s, 1, 1, 2)) }),
	"slice_step":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Slice(s, 1, 1, 5, 2)) }),
	"select":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Select(s, 0, 1)) }),
	"index_select":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].IndexSelect(s, 1, in[1])) }),
	"gather":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Gather(s, 1, in[1])) }),
	"scatter":           gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Scatter(s, 1, in[1], in[2])) }),
	"scatter_add":       gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].ScatterAdd(s, 0, in[1], in[2])) }),
	"index_put":         gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].IndexPut(s, in[1], in[2])) }),
	"index_put_bool":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].IndexPut(s, in[1], in[2])) }),
	"cat0":              gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Cat(s, 0, in...)) }),
	"cat1":              gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Cat(s, 1, in...)) }),
	"cat_last":          gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Cat(s, -1, in...)) }),
	"stack0":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Stack(s, 0, in...)) }),
	"stack1":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Stack(s, 1, in...)) }),
	"stack_last":        gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Stack(s, -1, in...)) }),
	"split2_dim1":       gFn(func(s *torch.Scope, in []*gT) []*gT { return in[0].Split(s, 2, 1) }),
	"chunk3_dim0":       gFn(func(s *torch.Scope, in []*gT) []*gT { return in[0].Chunk(s, 3, 0) }),
	"chunk4_of6":        gFn(func(s *torch.Scope, in []*gT) []*gT { return in[0].Chunk(s, 4, 0) }),
	"flip0":             gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Flip(s, 0)) }),
	"flip02":            gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Flip(s, 0, 2)) }),
	"roll1":             gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Roll(s, gDims(1), gDims(0))) }),
	"roll2":             gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Roll(s, gDims(2, -1), gDims(0, 1))) }),
	"pad_constant": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(in[0].Pad(s, gDims(1, 2), torch.PadConstant, 0.5))
	}),
	"pad_constant4": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(in[0].Pad(s, gDims(1, 0, 2, 1), torch.PadConstant, 0))
	}),
	"pad_reflect2d": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(in[0].Pad(s, gDims(2, 1, 1, 2), torch.PadReflect, 0))
	}),
	"pad_reflect1d": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Pad(s, gDims(2, 3), torch.PadReflect, 0)) }),
	"pad_replicate2d": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(in[0].Pad(s, gDims(1, 2, 2, 1), torch.PadReplicate, 0))
	}),
	"pad_circular1d": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Pad(s, gDims(1, 2), torch.PadCircular, 0)) }),

	// ---- linalg.safetensors
	"matmul_2d":      gBin((*gT).Matmul),
	"matmul_batched": gBin((*gT).Matmul),
	"matmul_bcast":   gBin((*gT).Matmul),
	"matmul_mv":      gBin((*gT).Matmul),
	"matmul_vm":      gBin((*gT).Matmul),
	"matmul_dot":     gBin((*gT).Matmul),
	"bmm":            gBin((*gT).Bmm),
	"linear_bias":    gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Linear(s, in[0], in[1], in[2])) }),
	"linear_nobias":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Linear(s, in[0], in[1], nil)) }),
	"baddbmm": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.Baddbmm(s, in[0], in[1], in[2], 0.5, 1.5))
	}),
	"baddbmm_bcast": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Baddbmm(s, in[0], in[1], in[2], 1, 1)) }),

	// ---- nn.safetensors: convolution and pooling
	"conv2d": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.Conv2d(s, in[0], in[1], in[2], torch.ConvOpts{}))
	}),
	"conv2d_stride2_pad1": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.Conv2d(s, in[0], in[1], in[2], torch.ConvOpts{Stride: [2]int64{2, 2}, Padding: [2]int64{1, 1}}))
	}),
	"conv2d_dilation2": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.Conv2d(s, in[0], in[1], nil, torch.ConvOpts{Padding: [2]int64{2, 2}, Dilation: [2]int64{2, 2}}))
	}),
	"conv2d_groups3": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.Conv2d(s, in[0], in[1], nil, torch.ConvOpts{Groups: 3}))
	}),
	"conv2d_asym": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.Conv2d(s, in[0], in[1], in[2],
			torch.ConvOpts{Stride: [2]int64{2, 1}, Padding: [2]int64{1, 0}, Dilation: [2]int64{1, 2}}))
	}),
	"conv_transpose2d": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.ConvTranspose2d(s, in[0], in[1], in[2],
			torch.ConvOpts{Stride: [2]int64{2, 2}, Padding: [2]int64{1, 1}, OutputPadding: [2]int64{1, 1}}))
	}),
	"conv_transpose2d_groups2": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.ConvTranspose2d(s, in[0], in[1], nil,
			torch.ConvOpts{Stride: [2]int64{2, 2}, OutputPadding: [2]int64{1, 1}, Groups: 2}))
	}),
	"conv_transpose2d_dilation2": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.ConvTranspose2d(s, in[0], in[1], in[2],
			torch.ConvOpts{Dilation: [2]int64{2, 2}, Padding: [2]int64{1, 1}}))
	}),
	"max_pool2d": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.MaxPool2d(s, in[0], torch.PoolOpts{Kernel: [2]int64{2, 2}}))
	}),
	"max_pool2d_ceil": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.MaxPool2d(s, in[0], torch.PoolOpts{Kernel: [2]int64{3, 3}, Stride: [2]int64{2, 2}, CeilMode: true}))
	}),
	"max_pool2d_pad_dil": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.MaxPool2d(s, in[0], torch.PoolOpts{Kernel: [2]int64{2, 2}, Stride: [2]int64{1, 1},
			Padding: [2]int64{1, 1}, Dilation: [2]int64{2, 2}}))
	}),
	"avg_pool2d_pad": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.AvgPool2d(s, in[0], torch.PoolOpts{Kernel: [2]int64{3, 3}, Stride: [2]int64{2, 2}, Padding: [2]int64{1, 1}}))
	}),
	"avg_pool2d_nopadcount": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.AvgPool2d(s, in[0], torch.PoolOpts{Kernel: [2]int64{3, 3}, Stride: [2]int64{2, 2},
			Padding: [2]int64{1, 1}, ExcludePadCount: true}))
	}),
	"avg_pool2d_ceil": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.AvgPool2d(s, in[0], torch.PoolOpts{Kernel: [2]int64{2, 2}, Stride: [2]int64{2, 2},
			CeilMode: true, ExcludePadCount: true}))
	}),
	"adaptive_avg_pool2d":   gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.AdaptiveAvgPool2d(s, in[0], 3, 2)) }),
	"adaptive_avg_pool2d_1": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.AdaptiveAvgPool2d(s, in[0], 1, 1)) }),

	// ---- nn.safetensors: interpolation
	"interp_nearest_up":       gInterp(6, 8, torch.Nearest, false),
	"interp_nearest_down":     gInterp(3, 4, torch.Nearest, false),
	"interp_nearest_exact":    gInterp(5, 3, torch.NearestExact, false),
	"interp_bilinear_up":      gInterp(5, 7, torch.Bilinear, false),
	"interp_bilinear_down":    gInterp(3, 2, torch.Bilinear, false),
	"interp_bicubic_up":       gInterp(6, 7, torch.Bicubic, false),
	"interp_bicubic_down":     gInterp(3, 4, torch.Bicubic, false),
	"interp_bilinear_up_ac":   gInterp(5, 7, torch.Bilinear, true),
	"interp_bilinear_down_ac": gInterp(3, 2, torch.Bilinear, true),
	"interp_bicubic_up_ac":    gInterp(6, 7, torch.Bicubic, true),
	"interp_bicubic_down_ac":  gInterp(3, 4, torch.Bicubic, true),

	// ---- nn.safetensors: normalisation, embedding, softmax
	"layer_norm": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.LayerNorm(s, in[0], gDims(4), in[1], in[2], 1e-5))
	}),
	"layer_norm_2d": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.LayerNorm(s, in[0], gDims(3, 4), in[1], in[2], 1e-5))
	}),
	"layer_norm_noaffine": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.LayerNorm(s, in[0], gDims(5), nil, nil, 1e-6))
	}),
	"group_norm": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.GroupNorm(s, in[0], 3, in[1], in[2], 1e-5))
	}),
	"batch_norm_train":    gFn(gBnTrain),
	"batch_norm_train_2d": gFn(gBnTrain),
	"batch_norm_train3": gFn(func(s *torch.Scope, in []*gT) []*gT {
		w, b, rm, rv := in[3], in[4], in[5], in[6]
		torch.BatchNorm(s, in[0], w, b, rm, rv, true, 0.1, 1e-5)
		torch.BatchNorm(s, in[1], w, b, rm, rv, true, 0.1, 1e-5)
		y := torch.BatchNorm(s, in[2], w, b, rm, rv, true, 0.1, 1e-5)
		return gOuts(y, rm, rv)
	}),
	"batch_norm_eval": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.BatchNorm(s, in[0], in[1], in[2], in[3], in[4], false, 0.1, 1e-5))
	}),
	"instance_norm": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.InstanceNorm(s, in[0], in[1], in[2], nil, nil, true, 0.1, 1e-5))
	}),
	"embedding":         gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Embedding(s, in[0], in[1], -1)) }),
	"embedding_padding": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Embedding(s, in[0], in[1], 0)) }),
	"softmax_last":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Softmax(s, -1)) }),
	"softmax_dim0":      gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Softmax(s, 0)) }),
	"log_softmax_dim1":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].LogSoftmax(s, 1)) }),

	// ---- nn.safetensors: dropout (bit-exact masks)
	"dropout_default": gExact(func(s *torch.Scope, in []*gT) []*gT {
		gSeed(1234)
		return gOuts(torch.Dropout(s, in[0], 0.3, true, nil))
	}),
	"dropout_generator": gExact(func(s *torch.Scope, in []*gT) []*gT {
		g := gGen(4321)
		defer g.Close()
		return gOuts(torch.Dropout(s, in[0], 0.3, true, g))
	}),
	"dropout_eval": gExact(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Dropout(s, in[0], 0.3, false, nil)) }),

	// ---- nn.safetensors: attention
	"sdpa":               gSDPA(torch.AttentionOpts{}),
	"sdpa_causal":        gSDPA(torch.AttentionOpts{Causal: true}),
	"sdpa_causal_square": gSDPA(torch.AttentionOpts{Causal: true}),
	"sdpa_bool_mask":     gSDPA(torch.AttentionOpts{}),
	"sdpa_float_mask":    gSDPA(torch.AttentionOpts{}),
	"sdpa_scale":         gSDPA(torch.AttentionOpts{Scale: 0.3}),
	"sdpa_dropout_generator": gFn(func(s *torch.Scope, in []*gT) []*gT {
		g := gGen(31)
		defer g.Close()
		return gOuts(torch.ScaledDotProductAttention(s, in[0], in[1], in[2], torch.AttentionOpts{Dropout: 0.25, Generator: g}))
	}),

	// ---- nn.safetensors: losses
	"bce_logits_mean_posw": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.BCEWithLogits(s, in[0], in[1], nil, in[2], torch.ReduceMean))
	}),
	"bce_logits_sum_weight": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.BCEWithLogits(s, in[0], in[1], in[2], nil, torch.ReduceSum))
	}),
	"bce_logits_none": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.BCEWithLogits(s, in[0], in[1], nil, nil, torch.ReduceNone))
	}),
	"cross_entropy_ignore": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.CrossEntropy(s, in[0], in[1], nil, torch.ReduceMean, -100, 0))
	}),
	"cross_entropy_smooth": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.CrossEntropy(s, in[0], in[1], nil, torch.ReduceMean, -100, 0.1))
	}),
	"cross_entropy_weight_sum": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.CrossEntropy(s, in[0], in[1], in[2], torch.ReduceSum, -100, 0))
	}),
	"cross_entropy_none": gFn(func(s *torch.Scope, in []*gT) []*gT {
		return gOuts(torch.CrossEntropy(s, in[0], in[1], nil, torch.ReduceNone, -100, 0))
	}),
	"mse_mean": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.MSELoss(s, in[0], in[1], torch.ReduceMean)) }),
	"mse_sum":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.MSELoss(s, in[0], in[1], torch.ReduceSum)) }),
	"mse_none": gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.MSELoss(s, in[0], in[1], torch.ReduceNone)) }),

	// ---- random.safetensors (bit-exact)
	"randn_seed": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		gSeed(2024)
		return gOuts(torch.Randn(s, nil, torch.Float32, 4, 5))
	}),
	"randn_seed_small": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		gSeed(2024)
		return gOuts(torch.Randn(s, nil, torch.Float32, 3))
	}),
	"randn_seed_f64": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		gSeed(2024)
		return gOuts(torch.Randn(s, nil, torch.Float64, 2, 9))
	}),
	"rand_seed": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		gSeed(2024)
		return gOuts(torch.Rand(s, nil, torch.Float32, 4, 5))
	}),
	"randint_seed": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		gSeed(2024)
		return gOuts(torch.Randint(s, nil, 0, 10, 3, 7))
	}),
	"randn_gen": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		g := gGen(77)
		defer g.Close()
		return gOuts(torch.Randn(s, g, torch.Float32, 4, 5))
	}),
	"randn_gen_twice": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		g := gGen(77)
		defer g.Close()
		a := torch.Randn(s, g, torch.Float32, 3, 6)
		return gOuts(a, torch.Randn(s, g, torch.Float32, 7))
	}),
	"rand_gen": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		g := gGen(77)
		defer g.Close()
		return gOuts(torch.Rand(s, g, torch.Float32, 4, 5))
	}),
	"rand_gen_f64": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		g := gGen(77)
		defer g.Close()
		return gOuts(torch.Rand(s, g, torch.Float64, 17))
	}),
	"randint_gen": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		g := gGen(77)
		defer g.Close()
		return gOuts(torch.Randint(s, g, -5, 5, 3, 7))
	}),
	"uniform_gen": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		g := gGen(77)
		defer g.Close()
		t := torch.Empty(s, torch.Float32, 5, 4)
		t.UniformFill(-2, 3, g)
		return gOuts(t)
	}),
	"normal_gen": gExact(func(s *torch.Scope, _ []*gT) []*gT {
		g := gGen(77)
		defer g.Close()
		t := torch.Empty(s, torch.Float32, 5, 4)
		t.NormalFill(1, 0.5, g)
		return gOuts(t)
	}),
	"multinomial_norepl": gFn(func(s *torch.Scope, in []*gT) []*gT {
		g := gGen(5)
		defer g.Close()
		return gOuts(torch.Multinomial(s, in[0], 3, false, g))
	}),
	"multinomial_repl": gFn(func(s *torch.Scope, in []*gT) []*gT {
		g := gGen(6)
		defer g.Close()
		return gOuts(torch.Multinomial(s, in[0], 10, true, g))
	}),
	"multinomial_default": gFn(func(s *torch.Scope, in []*gT) []*gT {
		gSeed(99)
		return gOuts(torch.Multinomial(s, in[0], 4, true, nil))
	}),
	"arange_f32": gExact(func(s *torch.Scope, _ []*gT) []*gT { return gOuts(torch.Arange(s, -1, 2, 0.25, torch.Float32)) }),
	"arange_i64": gFn(func(s *torch.Scope, _ []*gT) []*gT { return gOuts(torch.Arange(s, 2, 17, 3, torch.Int64)) }),
	"linspace":   gExact(func(s *torch.Scope, _ []*gT) []*gT { return gOuts(torch.Linspace(s, -1, 1, 7, torch.Float32)) }),
	// libtorch 2.x computes the second half of linspace from the end: 0.6 where 1.13 (the
	// golden) has 0.6000000000000001 (torch 2.15 gives these values bit for bit), so there
	// one float64 rounding step is allowed.
	"linspace_f64": {fn: func(s *torch.Scope, _ []*gT) []*gT { return gOuts(torch.Linspace(s, 0, 1, 11, torch.Float64)) },
		tol: torchtest.Tol{Exact: true}, tol2: torchtest.Tol{RTol: 2.3e-16}},
	"full":     gExact(func(s *torch.Scope, _ []*gT) []*gT { return gOuts(torch.Full(s, 2.5, torch.Float32, 2, 3)) }),
	"full_i32": gFn(func(s *torch.Scope, _ []*gT) []*gT { return gOuts(torch.Full(s, 7, torch.Int32, 2, 2)) }),
	"one_hot":  gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.OneHot(s, in[0], 5)) }),

	// ---- dtype.safetensors
	"bf16_matmul":      gBin((*gT).Matmul),
	"bf16_add":         gBin((*gT).Add),
	"bf16_mul":         gBin((*gT).Mul),
	"bf16_softmax":     gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Softmax(s, -1)) }),
	"bf16_matmul_grad": gBin((*gT).Matmul),
	"bf16_exp":         gUn((*gT).Exp),
	"f16_add":          gBin((*gT).Add),
	"f16_mul":          gBin((*gT).Mul),
	"f16_div":          gBin((*gT).Div),
	"f16_sum_dim1":     gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(in[0].Sum(s, gDims(1), false)) }),
	"cast_f32_bf16":    gCastTo(torch.BFloat16),
	"cast_f32_f16":     gCastTo(torch.Float16),
	"cast_f32_f64":     gCastTo(torch.Float64),
	"cast_f64_f32":     gCastTo(torch.Float32),
	"cast_f32_i64":     gCastTo(torch.Int64),
	"cast_f32_i32":     gCastTo(torch.Int32),
	"cast_f32_u8":      gCastTo(torch.Uint8),
	"cast_f32_bool":    gCastTo(torch.Bool),
	"cast_i64_f32":     gCastTo(torch.Float32),
	"cast_bool_f32":    gCastTo(torch.Float32),
	"cast_bf16_f32":    gCastTo(torch.Float32),
	"cast_f16_bf16":    gCastTo(torch.BFloat16),
	"cast_i64_bf16":    gCastTo(torch.BFloat16),
}

func gInterp(h, w int64, mode torch.InterpMode, ac bool) goldenCase {
	return gFn(func(s *torch.Scope, in []*gT) []*gT { return gOuts(torch.Interpolate(s, in[0], h, w, mode, ac)) })
}

// sdpa runs ScaledDotProductAttention on in[0:3] with in[3] (if any) as the mask.
func gSDPA(o torch.AttentionOpts) goldenCase {
	return gFn(func(s *torch.Scope, in []*gT) []*gT {
		if len(in) > 3 {
			o.Mask = in[3]
		}
		return gOuts(torch.ScaledDotProductAttention(s, in[0], in[1], in[2], o))
	})
}

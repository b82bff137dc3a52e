package nn

import (
	"github.com/prsmed/prsmed-go/torch"
)

// BatchNorm2d is torch.nn.BatchNorm2d (affine, tracking running statistics).
type BatchNorm2d struct {
	Weight, Bias, RunningMean, RunningVar, NumBatchesTracked *torch.Tensor
	Momentum, Eps                                            float64
	// Sync, when set, makes the layer torch.nn.SyncBatchNorm in training mode: the batch
	// statistics are those of every process's batch together (see syncForward).
	Sync StatsReducer
}

// NewBatchNorm2d registers weight, bias, running_mean, running_var and num_batches_tracked.
// The running statistics take the store's dtype, as the parameters do (PyTorch makes them
// with the module's factory dtype); num_batches_tracked is int64.
func NewBatchNorm2d(p Path, c int64) *BatchNorm2d {
	dt := p.store.dtype
	return &BatchNorm2d{
		Weight:            p.Param("weight", Ones, c),
		Bias:              p.Param("bias", Zeros, c),
		RunningMean:       p.Buffer("running_mean", 0, dt, c),
		RunningVar:        p.Buffer("running_var", 1, dt, c),
		NumBatchesTracked: p.Buffer("num_batches_tracked", 0, torch.Int64),
		Momentum:          0.1,
		Eps:               1e-5,
	}
}

// Forward normalises with batch statistics and updates the running ones when s is in
// training mode, and with the running statistics in evaluation mode. The batch counter is
// incremented on the device, so a forward never waits for the device.
func (l *BatchNorm2d) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	train := s.Training("nn.BatchNorm2d")
	if train {
		c := s.NoGrad()
		l.NumBatchesTracked.CopyFrom(l.NumBatchesTracked.AddScalar(c, 1))
		c.Close()
		if l.Sync != nil {
			return l.syncForward(s, x)
		}
	}
	return torch.BatchNorm(s, x, l.Weight, l.Bias, l.RunningMean, l.RunningVar, train, l.Momentum, l.Eps)
}

// LayerNorm is torch.nn.LayerNorm over the last dims.
type LayerNorm struct {
	Weight, Bias *torch.Tensor
	Shape        []int64
	Eps          float64
}

// NewLayerNorm registers weight (ones) and bias (zeros) of the normalised shape.
func NewLayerNorm(p Path, eps float64, shape ...int64) *LayerNorm {
	return &LayerNorm{Weight: p.Param("weight", Ones, shape...), Bias: p.Param("bias", Zeros, shape...), Shape: shape, Eps: eps}
}

// Forward is F.layer_norm.
func (l *LayerNorm) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return torch.LayerNorm(s, x, l.Shape, l.Weight, l.Bias, l.Eps)
}

// LayerNorm2d is SAM's channels-first LayerNorm over dim 1 of (B, C, H, W):
// u = mean_c x; σ² = mean_c (x−u)²; y = w·(x−u)/√(σ²+eps) + b.
type LayerNorm2d struct {
	Weight, Bias *torch.Tensor
	Eps          float64
}

// NewLayerNorm2d registers weight and bias of c channels (eps 1e-6 as in SAM).
func NewLayerNorm2d(p Path, c int64, eps float64) *LayerNorm2d {
	return &LayerNorm2d{Weight: p.Param("weight", Ones, c), Bias: p.Param("bias", Zeros, c), Eps: eps}
}

// Forward normalises over channels with SAM's arithmetic.
func (l *LayerNorm2d) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	u := x.Mean(s, []int64{1}, true)
	d := x.Sub(s, u)
	v := d.Square(s).Mean(s, []int64{1}, true)
	y := d.Div(s, v.AddScalar(s, l.Eps).Sqrt(s))
	c := l.Weight.Size(0)
	return y.Mul(s, l.Weight.View(s, c, 1, 1)).Add(s, l.Bias.View(s, c, 1, 1))
}

// GroupNorm is torch.nn.GroupNorm (affine).
type GroupNorm struct {
	Weight, Bias *torch.Tensor
	Groups       int64
	Eps          float64
}

// NewGroupNorm registers weight and bias of c channels.
func NewGroupNorm(p Path, groups, c int64, eps float64) *GroupNorm {
	checkGroups("nn.GroupNorm", groups, map[string]int64{"num_channels": c})
	return &GroupNorm{Weight: p.Param("weight", Ones, c), Bias: p.Param("bias", Zeros, c), Groups: groups, Eps: eps}
}

// Forward is F.group_norm.
func (l *GroupNorm) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return torch.GroupNorm(s, x, l.Groups, l.Weight, l.Bias, l.Eps)
}

// InstanceNorm2d is torch.nn.InstanceNorm2d(c, affine=True) without running statistics: it
// normalises each sample and channel over H×W in both modes.
type InstanceNorm2d struct {
	Weight, Bias *torch.Tensor
	Eps          float64
}

// NewInstanceNorm2d registers weight and bias of c channels.
func NewInstanceNorm2d(p Path, c int64, eps float64) *InstanceNorm2d {
	return &InstanceNorm2d{Weight: p.Param("weight", Ones, c), Bias: p.Param("bias", Zeros, c), Eps: eps}
}

// Forward is F.instance_norm with input statistics.
func (l *InstanceNorm2d) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return torch.InstanceNorm(s, x, l.Weight, l.Bias, nil, nil, true, 0.1, l.Eps)
}

// RMSNorm is Mistral's / LLaMA's RMSNorm: computed in float32 and cast back,
// y = w · (x / √(mean(x²) + eps)).
type RMSNorm struct {
	Weight *torch.Tensor
	Eps    float64
}

// NewRMSNorm registers weight (ones) of size d.
func NewRMSNorm(p Path, d int64, eps float64) *RMSNorm {
	return &RMSNorm{Weight: p.Param("weight", Ones, d), Eps: eps}
}

// Forward normalises the last dim as transformers' MistralRMSNorm does, in one call into
// libtorch (torch.RMSNorm).
func (l *RMSNorm) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return torch.RMSNorm(s, x, l.Weight, l.Eps)
}

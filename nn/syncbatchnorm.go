package nn

import (
	"reflect"

	"github.com/prsmed/prsmed-go/torch"
)

// StatsReducer sums a tensor over the processes of a data-parallel group, differentiably:
// the result's backward sums its gradient over the processes as well
// (torch.distributed.nn.functional.all_reduce). *dist.Group implements it (SumAcross).
type StatsReducer interface {
	SumAcross(s *torch.Scope, t *torch.Tensor) (*torch.Tensor, error)
}

// syncForward is SyncBatchNorm's training forward. The batch mean is the all-reduced
// per-channel sum over the all-reduced count, the (biased) variance the all-reduced sum of
// squared deviations from that mean over the count: two passes, as exact as one process
// computing them over the whole batch up to the order of the sums. The normalisation is an
// ordinary autograd composition whose only cross-process steps are the two all-reduces,
// whose backward sums the gradients of the statistics over the processes; so every rank's
// input gradient is what one process with the whole batch computes for that rank's part,
// which is what SyncBatchNorm's backward (all-reducing sum_dy and sum_dy_xmu) gives. The
// running statistics move as SyncBatchNorm moves them: momentum towards the global mean and
// the unbiased global variance. A failed all-reduce panics with its error, as a failed
// operation does (torch.Recover catches it).
func (l *BatchNorm2d) syncForward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	if x.Dim() != 4 {
		torch.Fail("nn.BatchNorm2d (sync)", torch.ErrShape, "want a (N, C, H, W) input, got shape %v", x.Shape())
	}
	c := x.Shape()[1]
	dims := []int64{0, 2, 3}
	n := float64(x.Numel() / c)
	sum := l.sumAcross(s, torch.Cat(s, 0, x.Sum(s, dims, false), torch.Full(s, n, x.DType(), 1)))
	total := sum.Narrow(s, 0, c, 1)
	mean := sum.Narrow(s, 0, 0, c).Div(s, total)
	d := x.Sub(s, mean.View(s, 1, c, 1, 1))
	sq := l.sumAcross(s, d.Mul(s, d).Sum(s, dims, false))
	variance := sq.Div(s, total)
	inv := variance.AddScalar(s, l.Eps).Rsqrt(s)
	y := d.Mul(s, inv.View(s, 1, c, 1, 1))
	if l.Weight != nil {
		y = y.Mul(s, l.Weight.View(s, 1, c, 1, 1))
	}
	if l.Bias != nil {
		y = y.Add(s, l.Bias.View(s, 1, c, 1, 1))
	}
	ng := s.NoGrad()
	defer ng.Close()
	m := l.Momentum
	unbiased := variance.Detach(ng).Mul(ng, total.Detach(ng)).Div(ng, total.Detach(ng).AddScalar(ng, -1))
	l.RunningMean.CopyFrom(l.RunningMean.MulScalar(ng, 1-m).Add(ng, mean.Detach(ng).MulScalar(ng, m).ToDType(ng, l.RunningMean.DType())))
	l.RunningVar.CopyFrom(l.RunningVar.MulScalar(ng, 1-m).Add(ng, unbiased.MulScalar(ng, m).ToDType(ng, l.RunningVar.DType())))
	return y
}

func (l *BatchNorm2d) sumAcross(s *torch.Scope, t *torch.Tensor) *torch.Tensor {
	out, err := l.Sync.SumAcross(s, t)
	if err != nil {
		torch.Fail("nn.BatchNorm2d (sync)", nil, "all-reducing the batch statistics: %v", err)
	}
	return out
}

// SetBatchNormSync sets Sync to r on every *BatchNorm2d reachable from module through
// exported struct fields, pointers, slices, arrays and interfaces (r nil: back to per-process
// statistics), and returns how many it set: torch.nn.SyncBatchNorm.convert_sync_batchnorm.
func SetBatchNormSync(module any, r StatsReducer) int {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value) int
	walk = func(v reflect.Value) int {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return 0
			}
			seen[v.Pointer()] = true
			if bn, ok := v.Interface().(*BatchNorm2d); ok {
				bn.Sync = r
				return 1
			}
			return walk(v.Elem())
		case reflect.Interface:
			if v.IsNil() {
				return 0
			}
			return walk(v.Elem())
		case reflect.Struct:
			k := 0
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					k += walk(v.Field(i))
				}
			}
			return k
		case reflect.Slice, reflect.Array:
			k := 0
			for i := 0; i < v.Len(); i++ {
				k += walk(v.Index(i))
			}
			return k
		}
		return 0
	}
	return walk(reflect.ValueOf(module))
}

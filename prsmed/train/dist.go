package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// ErrWorldSize is returned by Resume for a checkpoint written by a run with another number
// of processes whose global batch this run's processes cannot split evenly.
var ErrWorldSize = errors.New("train: checkpoint world size differs")

// world is the number of processes of the run (1 without Config.Dist).
func (t *Trainer) world() int {
	if t.Cfg.Dist == nil {
		return 1
	}
	return t.Cfg.Dist.World()
}

// rank is this process's rank (0 without Config.Dist).
func (t *Trainer) rank() int {
	if t.Cfg.Dist == nil {
		return 0
	}
	return t.Cfg.Dist.Rank()
}

// writer reports whether this process writes files and progress: rank 0.
func (t *Trainer) writer() bool { return t.rank() == 0 }

// epochBatches is this rank's batches of an epoch: the global order sharded across the
// ranks as DistributedSampler shards it, cut into batches of stepBatch.
func (t *Trainer) epochBatches(smp samplerLike, epoch int) ([][]int, error) {
	if t.world() == 1 {
		return smp.Batches(epoch), nil
	}
	share, err := dist.ShardOrder(smp.Order(epoch), t.rank(), t.world(), false)
	if err != nil {
		return nil, err
	}
	var out [][]int
	for b := t.stepBatch(); len(share) > 0; share = share[min(b, len(share)):] {
		out = append(out, share[:min(b, len(share))])
	}
	return out, nil
}

// stepsPerEpoch is the number of optimisation steps of an epoch on every rank.
func (t *Trainer) stepsPerEpoch(smp samplerLike) int {
	if t.world() == 1 {
		return smp.NumBatches()
	}
	per := (smp.Len() + t.world() - 1) / t.world()
	b := t.stepBatch()
	return (per + b - 1) / b
}

type samplerLike interface {
	Batches(epoch int) [][]int
	Order(epoch int) []int
	Len() int
	NumBatches() int
}

// broadcastModel copies rank 0's parameters and buffers into every rank's.
func (t *Trainer) broadcastModel(ctx context.Context) error {
	if t.Cfg.Dist == nil {
		return nil
	}
	all := t.M.Store.Tensors()
	names := t.M.Store.Names()
	ts := make([]*torch.Tensor, 0, len(names))
	for _, n := range names {
		ts = append(ts, all[n])
	}
	if err := t.Cfg.Dist.BroadcastParams(ctx, ts, 0, 0); err != nil {
		return fmt.Errorf("train: broadcasting the model from rank 0: %w", err)
	}
	return nil
}

// gradReducer is the run's overlapped gradient reduction for stage: a dist.Reducer over the
// stage's trainable parameters, made on the stage's first step (every rank at the same step)
// and replaced when the stage, and with it the trainable set, changes. Nil without
// Config.Dist or with Config.DistNoOverlap.
func (t *Trainer) gradReducer(ctx context.Context, stage prsmed.Stage) (*dist.Reducer, error) {
	if t.Cfg.Dist == nil || t.Cfg.DistNoOverlap {
		return nil, nil
	}
	if t.red != nil && t.redStage == stage {
		return t.red, nil
	}
	t.closeReducer()
	r, err := dist.NewReducer(ctx, t.Cfg.Dist, t.M.Store.Trainable(), t.Cfg.DistBucketBytes)
	if err != nil {
		return nil, fmt.Errorf("train: setting up the gradient reducer: %w", err)
	}
	t.red, t.redStage = r, stage
	return r, nil
}

// GradBuckets is the number of gradient buckets of the overlapping reduction and how many
// of them the hooks started during the last step's backward (the rest started after it);
// 0, 0 before the first step and without an overlapping reduction.
func (t *Trainer) GradBuckets() (buckets, overlapped int) {
	if t.red == nil {
		return 0, 0
	}
	return t.red.Buckets(), t.red.Overlapped()
}

// closeReducer removes the reducer's gradient hooks.
func (t *Trainer) closeReducer() {
	if t.red != nil {
		t.red.Close()
		t.red = nil
	}
}

// syncGrads averages the trainable parameters' gradients over the ranks: with red, by
// waiting for the buckets its hooks started during the last backward (and starting the
// rest); without, by bucketed all-reduces after backward.
func (t *Trainer) syncGrads(ctx context.Context, red *dist.Reducer) error {
	if t.Cfg.Dist == nil {
		return nil
	}
	if red != nil {
		return red.Sync(ctx)
	}
	return t.Cfg.Dist.AllReduceGrads(ctx, t.M.Store.Trainable(), t.Cfg.DistBucketBytes)
}

// averageLosses turns this rank's losses over n samples into the average over every
// rank's samples, and returns the total number of samples.
func (t *Trainer) averageLosses(ctx context.Context, vals [4]float64, n int) ([4]float64, int, error) {
	if t.Cfg.Dist == nil {
		return vals, n, nil
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	w := float64(n)
	x := torch.FromSlice(s, []float64{vals[0] * w, vals[1] * w, vals[2] * w, vals[3] * w, w}, 5)
	if dev := t.Cfg.Dist.Device(); dev != torch.CPU {
		x = x.ToDevice(s, dev)
	}
	if err := t.Cfg.Dist.AllReduce(ctx, x, dist.Sum); err != nil {
		return vals, n, fmt.Errorf("train: averaging the losses: %w", err)
	}
	r := x.Float64s()
	var out [4]float64
	if r[4] > 0 {
		for i := range out {
			out[i] = r[i] / r[4]
		}
	}
	return out, int(r[4] + 0.5), nil
}

// syncBatchNorms makes TinyViT's BatchNorms synchronised across the ranks (Config.SyncBN).
func (t *Trainer) syncBatchNorms() error {
	if !t.Cfg.SyncBN || t.Cfg.Dist == nil {
		return nil
	}
	if nn.SetBatchNormSync(t.M.Encoder, t.Cfg.Dist) == 0 {
		return errors.New("train: -sync-bn: the image encoder has no BatchNorm layer")
	}
	return nil
}

// unsyncBatchNorms undoes syncBatchNorms, so that the model outlives the group.
func (t *Trainer) unsyncBatchNorms() {
	if t.Cfg.SyncBN && t.Cfg.Dist != nil {
		nn.SetBatchNormSync(t.M.Encoder, nil)
	}
}

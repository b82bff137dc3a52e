package dist

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// DefaultBucketBytes is the gradient bucket size when none is given: 25 MiB, as
// DistributedDataParallel's bucket_cap_mb.
const DefaultBucketBytes = 25 << 20

func bucketOr(b int64) int64 {
	if b <= 0 {
		return DefaultBucketBytes
	}
	return b
}

func (g *Group) handles(op string, ts []*torch.Tensor) ([]shim.Handle, error) {
	hs := make([]shim.Handle, len(ts))
	for i, t := range ts {
		h, err := g.handle(op, t)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return hs, nil
}

// Op codes for agree: the ranks must be in the same collective.
const (
	opAllReduce = iota + 1
	opBroadcast
	opAllGather
	opBroadcastParams
	opAllReduceGrads
	opReducer
)

var opNames = map[int64]string{opAllReduce: "all_reduce", opBroadcast: "broadcast", opAllGather: "all_gather",
	opBroadcastParams: "broadcast_params", opAllReduceGrads: "all_reduce_grads", opReducer: "reducer"}

// agree checks, with one small all-gather, that every rank is in the same collective
// (same op, same root) with the same number of tensors of the same shapes and dtypes. Gloo
// does not survive ranks that pass buffers of different sizes (its network thread aborts
// the process), so every collective but Barrier and the Reducer's buckets (whose layout is
// checked once, when the Reducer is made) starts with it.
func (g *Group) agree(ctx context.Context, op string, code, root int, ts []*torch.Tensor) (err error) {
	if g.world == 1 {
		return nil
	}
	s := torch.NewScope(g.device)
	defer s.Close()
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Op: op, Rank: g.rank, World: g.world, Msg: fmt.Sprint(r)}
		}
	}()
	h := fnv.New64a()
	var numel int64
	for _, t := range ts {
		if t == nil || t.Freed() {
			return &Error{Op: op, Rank: g.rank, World: g.world, Msg: "nil or freed tensor"}
		}
		fmt.Fprintf(h, "%v/%v;", t.Shape(), t.DType())
		numel += t.Numel()
	}
	const k = 5
	mine := []int64{int64(code), int64(root), int64(len(ts)), numel, int64(h.Sum64() >> 1)}
	all, err := g.allGather(ctx, s, torch.FromSlice(s, mine))
	if err != nil {
		var de *Error
		if errors.As(err, &de) {
			de.Op = op + " (shape check)"
		}
		return err
	}
	v := torch.Data[int64](all)
	var bad []int
	for r := 0; r < g.world; r++ {
		for i := 0; i < k; i++ {
			if v[k*r+i] != mine[i] {
				bad = append(bad, r)
				break
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	r := bad[0]
	o := v[k*r : k*r+k]
	var msg string
	switch {
	case o[0] != mine[0]:
		msg = fmt.Sprintf("that rank called %s while this one called %s (every rank must call the same collectives in "+
			"the same order)", opNames[o[0]], opNames[mine[0]])
	case o[1] != mine[1] && (code == opBroadcast || code == opBroadcastParams):
		msg = fmt.Sprintf("that rank broadcasts from rank %d, this one from rank %d", o[1], mine[1])
	case o[1] != mine[1]:
		msg = "that rank reduces with another operation (sum, avg, max, min) than this one"

	default:
		msg = fmt.Sprintf("the ranks' tensors differ: this rank passes %d tensor(s) of %d elements in all, that rank "+
			"%d of %d (or the same counts with other shapes or dtypes)", mine[2], mine[3], o[2], o[3])
	}
	return &Error{Op: op, Rank: g.rank, World: g.world, Peers: bad, kinds: []error{ErrMismatch}, Msg: msg}
}

// paramsCall is what BroadcastParams and AllReduceGrads check before they call Gloo: that
// every rank passes the same shapes and dtypes (agree), that the group is open and ctx
// leaves time (opTimeout, which gives the timeout), and that every parameter is a live
// tensor (handles).
func (g *Group) paramsCall(ctx context.Context, name string, code, root int, params []*torch.Tensor) (hs []shim.Handle, to int64, err error) {
	if err := g.agree(ctx, name, code, root, params); err != nil {
		return nil, 0, err
	}
	if to, err = g.opTimeout(ctx, name); err != nil {
		return nil, 0, err
	}
	hs, err = g.handles(name, params)
	return hs, to, err
}

// BroadcastParams copies root's values of params into every rank's (in buckets of at most
// bucketBytes; 0 means DefaultBucketBytes), so that all ranks start from the same model, as
// DistributedDataParallel does when it is built. It first checks that every rank passes the
// same shapes and dtypes.
func (g *Group) BroadcastParams(ctx context.Context, params []*torch.Tensor, root int, bucketBytes int64) error {
	const name = "broadcast_params"
	hs, to, err := g.paramsCall(ctx, name, opBroadcastParams, root, params)
	if err != nil {
		return err
	}
	return g.wrap(name, g.pg.BroadcastBuckets(hs, root, bucketOr(bucketBytes), to))
}

// AllReduceGrads replaces every parameter's gradient with its average over the ranks, after
// backward: the gradients are copied into flat buckets of at most bucketBytes (0 means
// DefaultBucketBytes), one all-reduce runs per bucket, and the averages are copied back.
// Parameters without a gradient follow DistributedDataParallel with
// find_unused_parameters, so that the ranks take the step one process would take with all
// their samples: a parameter that has no gradient on any rank keeps none (the optimizer
// skips it, weight decay included, as it does in one process); one that has a gradient on
// some ranks counts as zeros on the others and gets the average everywhere. Which is the
// case costs one more small all-reduce. The parameters must be passed in the same order on
// every rank. Use it with gradient accumulation (several
// backward passes per step); a Reducer overlaps the all-reduces with backward instead.
func (g *Group) AllReduceGrads(ctx context.Context, params []*torch.Tensor, bucketBytes int64) error {
	const name = "all_reduce_grads"
	hs, to, err := g.paramsCall(ctx, name, opAllReduceGrads, 0, params)
	if err != nil {
		return err
	}
	return g.wrap(name, g.pg.AllReduceGrads(hs, bucketOr(bucketBytes), to))
}

// Reducer averages gradients across the ranks while backward runs, as
// DistributedDataParallel's reducer does: it registers a gradient hook (in C++) on every
// parameter, lays the parameters out in buckets of at most bucketBytes in reverse order
// (the order backward produces their gradients), and as soon as every gradient of a bucket
// has been computed, starts that bucket's all-reduce on Gloo's threads while backward goes
// on. Buckets start in the same order on every rank. Sync, called after backward, waits for
// the buckets (starting those whose parameters got no gradient, as zeros), divides by the
// group size and writes the averages into the parameters' gradients. A parameter that got
// no gradient on any rank keeps none, as with AllReduceGrads.
//
// What is averaged is each parameter's .grad as it stands after backward, so gradient
// accumulation works as with DistributedDataParallel's no_sync: turn the hooks off with
// SetSync(false) for every micro-batch but the last (its gradients accumulate locally, no
// communication), on for the last, and call Sync once after it. The hook of the last
// backward adds the gradient it sees to the accumulated one in the order autograd does, so
// the result is the one AllReduceGrads gives after the same backward passes, bit for bit.
// Call the optimizer's ZeroGrad before each step's first backward.
type Reducer struct {
	g      *Group
	r      shim.Reducer
	params []*torch.Tensor
	closed bool
}

// NewReducer makes a reducer over params (leaves that require grad, on the group's device,
// passed in the same order on every rank). It checks that every rank passes the same shapes.
func NewReducer(ctx context.Context, g *Group, params []*torch.Tensor, bucketBytes int64) (*Reducer, error) {
	const name = "reducer"
	if g.closed {
		return nil, &Error{Op: name, Rank: g.rank, World: g.world, Msg: "the group is closed", kinds: []error{ErrClosed}}
	}
	if err := g.agree(ctx, name, opReducer, 0, params); err != nil {
		return nil, err
	}
	hs, err := g.handles(name, params)
	if err != nil {
		return nil, err
	}
	r, err := shim.NewReducer(g.pg, hs, bucketOr(bucketBytes))
	if err != nil {
		return nil, g.wrap(name, err)
	}
	red := &Reducer{g: g, r: r, params: params}
	g.reducers = append(g.reducers, red)
	return red, nil
}

// Sync waits for the gradient all-reduces of the last backward and writes the averaged
// gradients. Call it once after every backward, before the optimizer step.
func (r *Reducer) Sync(ctx context.Context) error {
	const name = "all_reduce_grads"
	if r.closed {
		return &Error{Op: name, Rank: r.g.rank, World: r.g.world, Msg: "the reducer is closed", kinds: []error{ErrClosed}}
	}
	to, err := r.g.opTimeout(ctx, name)
	if err != nil {
		return err
	}
	return r.g.wrap(name, r.r.Finish(to))
}

// SetSync turns the gradient hooks on (the default) or off. With them off, backward only
// accumulates gradients locally (DDP's no_sync); Sync still averages every parameter's
// accumulated gradient, starting all buckets itself.
func (r *Reducer) SetSync(on bool) {
	if r.closed {
		return
	}
	r.r.SetSync(on)
}

// Buckets is the number of gradient buckets.
func (r *Reducer) Buckets() int { return r.r.Buckets() }

// Overlapped is the number of buckets whose all-reduce started during the last backward
// (the others started in Sync).
func (r *Reducer) Overlapped() int { return r.r.HookLaunched() }

// Close removes the hooks (the group's Close does it too). After Close, backward passes
// through the parameters no longer start all-reduces.
func (r *Reducer) Close() {
	if r == nil || r.closed {
		return
	}
	r.closed = true
	r.r.Free()
}

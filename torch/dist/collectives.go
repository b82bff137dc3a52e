package dist

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// Op is a reduction.
type Op int

const (
	// Sum adds the ranks' tensors.
	Sum Op = iota
	// Avg adds them and divides by the group size.
	Avg
	// Max takes the element-wise maximum.
	Max
	// Min takes the element-wise minimum.
	Min
)

func (o Op) code() (int, error) {
	switch o {
	case Sum:
		return shim.RedSum, nil
	case Avg:
		return shim.RedAvg, nil
	case Max:
		return shim.RedMax, nil
	case Min:
		return shim.RedMin, nil
	}
	return 0, fmt.Errorf("%w: unknown reduction %d", ErrConfig, int(o))
}

// AllReduce replaces t, on every rank, with the reduction of all ranks' t. t must be
// contiguous, on the group's device, and of the same shape and dtype on every rank.
func (g *Group) AllReduce(ctx context.Context, t *torch.Tensor, op Op) error {
	const name = "all_reduce"
	to, err := g.opTimeout(ctx, name)
	if err != nil {
		return err
	}
	c, err := op.code()
	if err != nil {
		return &Error{Op: name, Rank: g.rank, World: g.world, Msg: err.Error(), kinds: []error{ErrConfig}}
	}
	if op == Avg && t != nil && !t.Freed() && !t.DType().IsFloat() {
		return &Error{Op: name, Rank: g.rank, World: g.world, kinds: []error{ErrConfig},
			Msg: fmt.Sprintf("avg needs a floating-point tensor, got %v (use Sum)", t.DType())}
	}
	if err := g.agree(ctx, name, opAllReduce, c, []*torch.Tensor{t}); err != nil {
		return err
	}
	h, err := g.handle(name, t)
	if err != nil {
		return err
	}
	return g.wrap(name, g.pg.AllReduce(h, c, to))
}

// Broadcast replaces t, on every rank, with root's t.
func (g *Group) Broadcast(ctx context.Context, t *torch.Tensor, root int) error {
	const name = "broadcast"
	to, err := g.opTimeout(ctx, name)
	if err != nil {
		return err
	}
	if root < 0 || root >= g.world {
		return &Error{Op: name, Rank: g.rank, World: g.world, kinds: []error{ErrConfig},
			Msg: fmt.Sprintf("root %d is outside the group", root)}
	}
	if err := g.agree(ctx, name, opBroadcast, root, []*torch.Tensor{t}); err != nil {
		return err
	}
	h, err := g.handle(name, t)
	if err != nil {
		return err
	}
	return g.wrap(name, g.pg.Broadcast(h, root, to))
}

// AllGather returns, in s, a tensor of shape (World, *t.shape) whose row r is rank r's t.
func (g *Group) AllGather(ctx context.Context, s *torch.Scope, t *torch.Tensor) (*torch.Tensor, error) {
	if err := g.agree(ctx, "all_gather", opAllGather, 0, []*torch.Tensor{t}); err != nil {
		return nil, err
	}
	return g.allGather(ctx, s, t)
}

// allGather is AllGather without the check that every rank passes the same shape (a size
// mismatch would abort the process inside Gloo); agree uses it for its fixed-size record.
func (g *Group) allGather(ctx context.Context, s *torch.Scope, t *torch.Tensor) (out *torch.Tensor, err error) {
	const name = "all_gather"
	to, err := g.opTimeout(ctx, name)
	if err != nil {
		return nil, err
	}
	h, err := g.handle(name, t)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &Error{Op: name, Rank: g.rank, World: g.world, Msg: fmt.Sprint(r)}
		}
	}()
	os := s
	if s.Device() != t.Device() {
		os = s.On(t.Device())
	}
	out = torch.Empty(os, t.DType(), append([]int64{int64(g.world)}, t.Shape()...)...)
	if err := g.pg.AllGather(h, torch.ShimHandle(out), to); err != nil {
		out.Free()
		return nil, g.wrap(name, err)
	}
	return out, nil
}

// Barrier returns when every rank has called it. On Gloo it is a monitored barrier: when a
// rank does not arrive within the timeout, rank 0's error names it, and the other ranks
// learn from the store's heartbeats which ranks are gone.
func (g *Group) Barrier(ctx context.Context) error {
	const name = "barrier"
	to, err := g.opTimeout(ctx, name)
	if err != nil {
		return err
	}
	g.barriers++
	return g.barrierError(g.pg.Barrier(to))
}

var missingRanks = regexp.MustCompile(`Ranks? ([0-9][0-9, ]*) failed to pass monitoredBarrier`)

// barrierError names the ranks that missed a barrier: rank 0 reads them from Gloo's
// message and leaves them in the store, where the other ranks look for them.
func (g *Group) barrierError(err error) error {
	if err == nil {
		return nil
	}
	const name = "barrier"
	g.failedAt = time.Now()
	key := fmt.Sprintf("prsmed/barrier/%d/missing", g.barriers)
	msg := libtorchMsg(err)
	var peers []int
	if m := missingRanks.FindStringSubmatch(msg); m != nil {
		for _, f := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
			if r, err := strconv.Atoi(f); err == nil {
				peers = append(peers, r)
			}
		}
	}
	if g.rank == 0 && len(peers) > 0 {
		_ = g.store.Set(key, []byte(strings.Trim(fmt.Sprint(peers), "[]")))
		return &Error{Op: name, Rank: g.rank, World: g.world, Peers: peers, kinds: []error{ErrTimeout},
			Msg: "did not arrive within the timeout: " + msg}
	}
	if g.rank != 0 {
		if v, gerr := g.store.Get(key, ms(deadAfter+time.Second)); gerr == nil {
			for _, f := range strings.Fields(string(v)) {
				if r, err := strconv.Atoi(f); err == nil {
					peers = append(peers, r)
				}
			}
			return &Error{Op: name, Rank: g.rank, World: g.world, Peers: peers, kinds: []error{ErrTimeout},
				Msg: "did not arrive within the timeout (reported by rank 0): " + msg}
		}
	}
	return g.wrap(name, err)
}

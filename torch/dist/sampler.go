package dist

import (
	"fmt"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// ShardOrder is rank's share of one epoch's global order, cut the way PyTorch's
// DistributedSampler cuts it: every rank gets the same number of samples, so the order is
// first padded by repeating its head (cyclically, when it has to grow by more than its own
// length) up to a multiple of world — or, with dropLast, truncated down to one — and then
// rank r takes positions r, r+world, r+2·world, … . Running the same order through one
// process sees every sample once; through world ranks the union of the shards is the
// padded order.
func ShardOrder(order []int, rank, world int, dropLast bool) ([]int, error) {
	if world < 1 || rank < 0 || rank >= world {
		return nil, fmt.Errorf("%w: rank %d of a world of %d", ErrConfig, rank, world)
	}
	n := len(order)
	per := (n + world - 1) / world
	if dropLast && n%world != 0 {
		per = n / world // ceil((n - world) / world) for n ≥ world, 0 below
	}
	out := make([]int, per)
	for k := range out {
		out[k] = order[(rank+k*world)%n]
	}
	return out, nil
}

// TorchOrder is torch.randperm(n, generator=torch.Generator().manual_seed(seed)): the
// order DistributedSampler draws for an epoch with seed = its seed + the epoch.
func TorchOrder(n int, seed uint64) ([]int, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: negative sample count %d", ErrConfig, n)
	}
	p, err := shim.Randperm(n, seed)
	if err != nil {
		return nil, fmt.Errorf("dist: randperm: %w", err)
	}
	out := make([]int, n)
	for i, v := range p {
		out[i] = int(v)
	}
	return out, nil
}

// Sampler is PyTorch's DistributedSampler over N samples: each epoch's global order is
// TorchOrder(N, Seed+epoch) when Shuffle is set (0 … N-1 otherwise), and Rank's share of it
// is cut by ShardOrder. Every rank must use the same N, Seed, Shuffle and DropLast.
type Sampler struct {
	N, Rank, World int
	Seed           uint64
	Shuffle        bool
	DropLast       bool
}

// Order is the epoch's global order (before sharding): what a single process with the same
// seed visits.
func (s Sampler) Order(epoch int) ([]int, error) {
	if !s.Shuffle {
		o := make([]int, s.N)
		for i := range o {
			o[i] = i
		}
		return o, nil
	}
	return TorchOrder(s.N, s.Seed+uint64(epoch))
}

// Indices is this rank's sample indices for the epoch, in order.
func (s Sampler) Indices(epoch int) ([]int, error) {
	o, err := s.Order(epoch)
	if err != nil {
		return nil, err
	}
	return ShardOrder(o, s.Rank, s.World, s.DropLast)
}

// Len is the number of samples each rank sees per epoch.
func (s Sampler) Len() int {
	if s.World < 1 {
		return 0
	}
	if s.DropLast && s.N%s.World != 0 {
		return s.N / s.World
	}
	return (s.N + s.World - 1) / s.World
}

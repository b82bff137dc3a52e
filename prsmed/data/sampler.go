package data

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// SamplerConfig configures a [Sampler].
type SamplerConfig struct {
	// Seed selects the shuffles. The same seed, size and epoch always give
	// the same order.
	Seed uint64
	// Shuffle permutes the samples every epoch; when false every epoch is
	// 0, 1, …, n-1.
	Shuffle bool
	// BatchSize is the number of samples per batch; it must be ≥ 1.
	BatchSize int
	// DropLast leaves out the last batch of an epoch when it is smaller
	// than BatchSize.
	DropLast bool
}

// Sampler orders the n samples of a data set for each epoch and cuts the
// order into batches. Epoch e's order depends only on the seed, n and e —
// each epoch draws from its own generator, seeded with (Seed, e) — so a run
// resumed at epoch e and step k sees exactly the batches Batches(e)[k:] that
// the interrupted run would have seen. The shuffle is a Fisher–Yates shuffle
// written out in this package over a PCG-DXSM source (math/rand/v2's
// NewPCG), so the orders do not depend on the standard library's shuffle
// algorithm. A Sampler is immutable and safe for concurrent use.
type Sampler struct {
	n   int
	cfg SamplerConfig
}

// NewSampler returns a sampler over n samples. n must be ≥ 0 and
// cfg.BatchSize ≥ 1.
func NewSampler(n int, cfg SamplerConfig) (*Sampler, error) {
	if n < 0 {
		return nil, fmt.Errorf("sampler: negative sample count %d", n)
	}
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("sampler: batch size %d, need at least 1", cfg.BatchSize)
	}
	return &Sampler{n: n, cfg: cfg}, nil
}

// Len returns the number of samples the sampler orders.
func (s *Sampler) Len() int { return s.n }

// Config returns the sampler's configuration.
func (s *Sampler) Config() SamplerConfig { return s.cfg }

// Order returns the sample indices of epoch in the order they are visited:
// a permutation of 0 … n-1 (the identity when Shuffle is false). The slice is
// new on every call.
func (s *Sampler) Order(epoch int) []int {
	order := make([]int, s.n)
	for i := range order {
		order[i] = i
	}
	if !s.cfg.Shuffle {
		return order
	}
	src := rand.NewPCG(s.cfg.Seed, uint64(epoch))
	for i := s.n - 1; i > 0; i-- {
		j := int(boundedUint64(src, uint64(i)+1))
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// NumBatches returns the number of batches per epoch.
func (s *Sampler) NumBatches() int {
	if s.cfg.DropLast {
		return s.n / s.cfg.BatchSize
	}
	return (s.n + s.cfg.BatchSize - 1) / s.cfg.BatchSize
}

// Batches returns epoch's order cut into batches of BatchSize indices; the
// last batch is shorter unless DropLast leaves it out.
func (s *Sampler) Batches(epoch int) [][]int {
	b, _ := Chunk(s.Order(epoch), s.cfg.BatchSize, s.cfg.DropLast)
	return b
}

// Chunk cuts order into consecutive batches of size indices. The last batch
// holds the remainder, or is left out when dropLast is true. The batches
// share order's memory. size must be ≥ 1.
func Chunk(order []int, size int, dropLast bool) ([][]int, error) {
	if size < 1 {
		return nil, errors.New("chunk: batch size must be at least 1")
	}
	var out [][]int
	for i := 0; i < len(order); i += size {
		end := i + size
		if end > len(order) {
			if dropLast {
				break
			}
			end = len(order)
		}
		out = append(out, order[i:end:end])
	}
	return out, nil
}

// boundedUint64 returns a uniform value in [0, n) for n ≥ 1, by Lemire's
// multiply-and-reject method over src.
func boundedUint64(src rand.Source, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

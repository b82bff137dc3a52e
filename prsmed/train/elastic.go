package train

import (
	"fmt"
)

// elasticBatch is the per-rank batch (Config.BatchSize) under which this run continues the
// checkpoint in dir with state st. With the world size the checkpoint was written with it
// is Config.BatchSize unchanged. With another, the checkpoint's global batch G (samples per
// optimisation step over every process) is kept and split over this run's World × Accum
// micro-batches, which must divide it: an error naming both otherwise (ErrWorldSize).
//
// Keeping G keeps the run's position exactly: an epoch's global order does not depend on
// the world size, rank r takes its positions r, r+World, …, and its k-th batch of G/World
// holds positions k·G … (k+1)·G−1 of its share's interleaving, so the k-th step of every
// world size that divides G sees the same G samples of the order (the ranks share them
// differently). A checkpoint taken after step s of an epoch therefore resumes at position
// s·G on any such world size, with the same number of steps per epoch and so the same
// learning-rate schedule. Only where the epoch's length is not a multiple of the world size
// does its last step differ: DistributedSampler pads each world size's order with its own
// repeats.
func (t *Trainer) elasticBatch(dir string, st trainState) (int, error) {
	old := max(st.World, 1)
	if old == t.world() {
		return t.Cfg.BatchSize, nil
	}
	g := st.GlobalBatch
	if g == 0 {
		g = st.Config.BatchSize * max(st.Config.Accum, 1) * old
	}
	parts := t.world() * max(t.Cfg.Accum, 1)
	if g <= 0 || g%parts != 0 {
		return 0, fmt.Errorf("%w: %s was written by %d process(es) with a global batch of %d samples per step, which %d process(es) × %d micro-batch(es) cannot split evenly; resume with a world size (and -accum) dividing %d",
			ErrWorldSize, dir, old, g, t.world(), max(t.Cfg.Accum, 1), g)
	}
	return g / parts, nil
}

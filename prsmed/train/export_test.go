package train

import (
	"context"

	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// ValShare is the number of samples this rank predicted in its last validation.
func (t *Trainer) ValShare() int { return t.valShare }

// OnBatch sets a function called after each step with the epoch, the step within it and
// this rank's sample indices.
func (t *Trainer) OnBatch(f func(epoch, step int, idx []int)) { t.onBatch = f }

// ValidateScores is Validate with the referring scores (nil unless images of the
// validation set hold several findings).
func (t *Trainer) ValidateScores(ctx context.Context) (metrics.Summary, *metrics.Referring, error) {
	return t.validateScores(ctx)
}

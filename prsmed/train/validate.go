package train

import (
	"context"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// Validate predicts masks and answers for the validation samples and scores them.
func (t *Trainer) Validate(ctx context.Context) (metrics.Summary, error) {
	set := t.ValSet
	if t.Cfg.ValSamples > 0 && t.Cfg.ValSamples < len(set) {
		set = set[:t.Cfg.ValSamples]
	}
	return prsmed.Evaluate(ctx, t.M, set, t.Cfg.BatchSize, nil)
}

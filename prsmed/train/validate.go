package train

import (
	"context"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// Validate predicts masks and answers for the validation samples and scores them. In a
// data-parallel run the samples are split across the ranks (validateSharded), and every
// rank gets the summary of the whole set.
func (t *Trainer) Validate(ctx context.Context) (metrics.Summary, error) {
	set := t.ValSet
	if t.Cfg.ValSamples > 0 && t.Cfg.ValSamples < len(set) {
		set = set[:t.Cfg.ValSamples]
	}
	if t.world() > 1 {
		return t.validateSharded(ctx, set)
	}
	t.valShare = len(set)
	return prsmed.Evaluate(ctx, t.M, set, t.Cfg.BatchSize, nil)
}

// validate runs Validate at the current step and records it, with the best so far.
func (t *Trainer) validate(ctx context.Context) (Validation, error) {
	sum, err := t.Validate(ctx)
	if err != nil {
		return Validation{}, t.asInterrupted(ctx, "validation", err)
	}
	v := Validation{Epoch: t.state.Epoch + 1, Step: t.state.Step, GlobalStep: t.state.GlobalStep, Summary: sum}
	t.state.Validations = append(t.state.Validations, v)
	if t.state.Best == nil || sum.Overall.MeanDice > t.state.Best.Summary.Overall.MeanDice {
		b := v
		t.state.Best = &b
		t.newBest = true
	}
	return v, nil
}

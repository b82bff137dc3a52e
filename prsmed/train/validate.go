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
	sum, _, err := t.validateScores(ctx)
	return sum, err
}

// validateScores is Validate that also returns the referring scores when an image of the
// validation samples holds several findings (nil otherwise).
func (t *Trainer) validateScores(ctx context.Context) (metrics.Summary, *metrics.Referring, error) {
	set := t.ValSet
	if t.Cfg.ValSamples > 0 && t.Cfg.ValSamples < len(set) {
		set = set[:t.Cfg.ValSamples]
	}
	if t.world() > 1 {
		// Sharded: each rank scores its share (by image when images hold several
		// findings, so that the referring scores compare one image's masks on one rank).
		return t.validateSharded(ctx, set)
	}
	t.valShare = len(set)
	if !prsmed.SeveralFindings(set) {
		sum, err := prsmed.Evaluate(ctx, t.M, set, t.Cfg.BatchSize, nil)
		return sum, nil, err
	}
	var acc metrics.ReferAccumulator
	sum, err := prsmed.Evaluate(ctx, t.M, set, t.Cfg.BatchSize, prsmed.ReferEach(&acc))
	if err != nil {
		return sum, nil, err
	}
	r := acc.Result()
	return sum, &r, nil
}

// Score is what best/ is chosen on: the validation mDice, or, when the validation data
// holds several findings per image, the mean of mDice and referring accuracy, so that a
// model whose masks ignore the question does not win on mask quality alone.
func (v Validation) Score() float64 {
	if v.Referring != nil {
		return (v.Summary.Overall.MeanDice + v.Referring.Accuracy) / 2
	}
	return v.Summary.Overall.MeanDice
}

// validate runs Validate at the current step and records it, with the best so far.
func (t *Trainer) validate(ctx context.Context) (Validation, error) {
	sum, ref, err := t.validateScores(ctx)
	if err != nil {
		return Validation{}, t.asInterrupted(ctx, "validation", err)
	}
	v := Validation{Epoch: t.state.Epoch + 1, Step: t.state.Step, GlobalStep: t.state.GlobalStep, Summary: sum, Referring: ref}
	t.state.Validations = append(t.state.Validations, v)
	if t.state.Best == nil || v.Score() > t.state.Best.Score() {
		b := v
		t.state.Best = &b
		t.newBest = true
	}
	return v, nil
}

package main

import (
	"io"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/train"
)

// TestExactEpochs: the tiny preset's minimum stage steps stay unless -epochs1/-epochs2 are
// given without -min-steps1/-min-steps2.
func TestExactEpochs(t *testing.T) {
	preset, err := train.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args       []string
		min1, min2 int
	}{
		{nil, preset.Stage1MinSteps, preset.Stage2MinSteps},
		{[]string{"-epochs1", "3"}, 0, preset.Stage2MinSteps},
		{[]string{"-epochs2", "3"}, preset.Stage1MinSteps, 0},
		{[]string{"-epochs1", "3", "-min-steps1", "40"}, 40, preset.Stage2MinSteps},
		{[]string{"-min-steps2", "0"}, preset.Stage1MinSteps, 0},
	} {
		tc := preset
		if _, err := parse(c.args, &tc, io.Discard); err != nil {
			t.Fatal(err)
		}
		if tc.Stage1MinSteps != c.min1 || tc.Stage2MinSteps != c.min2 {
			t.Errorf("%q: min steps %d and %d, want %d and %d", c.args, tc.Stage1MinSteps, tc.Stage2MinSteps, c.min1, c.min2)
		}
	}
	if preset.Stage1MinSteps == 0 || preset.Stage2MinSteps == 0 {
		t.Errorf("tiny preset has no minimum stage steps: %d, %d", preset.Stage1MinSteps, preset.Stage2MinSteps)
	}
}

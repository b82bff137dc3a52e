package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/train"
)

// TestInterruptReport: Ctrl-C reports what happened (the checkpoint saved, a failed save, an
// interruption during validation or before training), never "checkpoint saved" when
// nothing was.
func TestInterruptReport(t *testing.T) {
	saveErr := errors.New("disk full")
	for _, c := range []struct {
		name       string
		err        error
		want, not  []string
		wantResume bool
	}{
		{"saved", &train.Interrupted{Cause: context.Canceled, During: "training", Step: 7, Saved: "out/checkpoint", LastSaved: 7},
			[]string{"step 7", "checkpoint saved to out/checkpoint"}, nil, true},
		{"save failed", fmt.Errorf("run: %w", &train.Interrupted{Cause: context.Canceled, During: "training", Step: 7, SaveErr: saveErr, LastSaved: 4}),
			[]string{"saving the checkpoint failed", "disk full", "nothing saved since step 4"}, []string{"checkpoint saved"}, true},
		{"save failed, no checkpoint yet", &train.Interrupted{Cause: context.Canceled, During: "training", Step: 2, SaveErr: saveErr, LastSaved: -1},
			[]string{"saving the checkpoint failed", "nothing saved"}, []string{"checkpoint saved"}, false},
		{"during validation", &train.Interrupted{Cause: context.Canceled, During: "validation", Step: 48, LastSaved: 24},
			[]string{"during validation", "nothing saved since step 24"}, []string{"checkpoint saved"}, true},
		{"before training", fmt.Errorf("rendezvous: %w", context.Canceled),
			[]string{"before training started", "nothing saved"}, []string{"checkpoint saved"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := interruptReport(c.err)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q does not say %q", got, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(got, w) {
					t.Errorf("%q says %q", got, w)
				}
			}
			if strings.Contains(got, "-resume") != c.wantResume {
				t.Errorf("%q: mentions -resume: %v, want %v", got, !c.wantResume, c.wantResume)
			}
		})
	}
}

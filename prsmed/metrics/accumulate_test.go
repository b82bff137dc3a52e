package metrics

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/zones"
)

// flat returns a Result whose Dice and IoU are the same at every threshold.
func flat(dice, iou float64) *Result {
	r := &Result{Dice05: dice, IoU05: iou}
	for j := range r.Dice {
		r.Dice[j], r.IoU[j] = dice, iou
	}
	return r
}

func TestAccumulator(t *testing.T) {
	var a Accumulator
	a.Add("polyp", flat(1, 1))
	a.Add("polyp", flat(0.5, 0.25))
	a.Add("brain", flat(0, 0))
	// A result that peaks at one threshold.
	peak := flat(0, 0)
	peak.Dice[10], peak.IoU[10] = 1, 0.5
	a.Add("brain", peak)

	s := a.Summary()
	if len(s.Groups) != 2 || s.Groups[0].Name != "brain" || s.Groups[1].Name != "polyp" {
		t.Fatalf("groups = %+v, want brain then polyp", s.Groups)
	}
	polyp := s.Groups[1]
	if polyp.Images != 2 || polyp.Dice05 != 0.75 || polyp.IoU05 != 0.625 ||
		polyp.MeanDice != 0.75 || polyp.MaxDice != 0.75 || polyp.MeanIoU != 0.625 {
		t.Errorf("polyp = %+v", polyp)
	}
	brain := s.Groups[0]
	if brain.MaxDice != 0.5 || brain.MaxIoU != 0.25 || brain.MeanDice != 0.5/NumThresholds {
		t.Errorf("brain = %+v", brain)
	}
	o := s.Overall
	if o.Name != "overall" || o.Images != 4 || o.Dice05 != 1.5/4 {
		t.Errorf("overall = %+v", o)
	}
	// Pooled, not the mean of group maxima: max over thresholds of the
	// mean over all four images.
	if want := (1 + 0.5 + 1) / 4.0; o.MaxDice != want {
		t.Errorf("overall maxDice = %v, want %v", o.MaxDice, want)
	}
}

func TestAccumulatorAnswers(t *testing.T) {
	var a Accumulator
	tests := []struct {
		group, answer string
		truth         zones.Zone
		correct       bool
	}{
		{"skin", "The lesion is in the upper-left quadrant, near the center.", zones.TopLeft, true},
		{"skin", "It lies in the middle of the image.", zones.Center, true},
		{"skin", "The lesion is in the top right.", zones.TopLeft, false},
		{"skin", "I am not sure.", zones.BottomLeft, false},
		{"polyp", "bottom right or center", zones.BottomRight, false},
	}
	for _, tt := range tests {
		if got := a.AddAnswer(tt.group, tt.answer, tt.truth); got != tt.correct {
			t.Errorf("AddAnswer(%q, %v) = %v, want %v", tt.answer, tt.truth, got, tt.correct)
		}
	}
	s := a.Summary()
	skin := s.Groups[1]
	if skin.Answers != 4 || skin.ZoneCorrect != 2 || skin.ZoneUnparsed != 1 || skin.ZoneAccuracy != 0.5 || skin.Images != 0 {
		t.Errorf("skin = %+v", skin)
	}
	if s.Overall.Answers != 5 || s.Overall.ZoneCorrect != 2 || s.Overall.ZoneUnparsed != 2 || s.Overall.ZoneAccuracy != 0.4 {
		t.Errorf("overall = %+v", s.Overall)
	}
}

func TestEmptySummary(t *testing.T) {
	var a Accumulator
	s := a.Summary()
	if len(s.Groups) != 0 || s.Overall.Images != 0 || s.Overall.MeanDice != 0 {
		t.Errorf("empty summary = %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"mDice":0`) {
		t.Errorf("JSON %s lacks mDice", b)
	}
}

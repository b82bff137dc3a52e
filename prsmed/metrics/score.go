package metrics

import (
	"fmt"
	"sort"
)

// NumThresholds is the number of thresholds in the paper's sweep.
const NumThresholds = 256

// Threshold05 is the single threshold of Dice@0.5 and IoU@0.5.
const Threshold05 = 0.5

// Thresholds returns the sweep numpy.linspace(1, 0, 256) of the official
// evaluation, computed the way numpy computes it so that every value is
// bit-identical: t[j] = j·(−1/255) + 1, rounding after the product, and
// t[255] = 0 exactly. The values decrease strictly from 1.
func Thresholds() [NumThresholds]float64 {
	var t [NumThresholds]float64
	step := (0.0 - 1.0) / float64(NumThresholds-1)
	for j := range t {
		// The explicit conversion forbids fusing the multiply-add.
		t[j] = float64(float64(j)*step) + 1
	}
	t[NumThresholds-1] = 0
	return t
}

// Counts are the pixel counts behind Dice and IoU at one threshold.
type Counts struct {
	TP    int // predicted and true foreground
	Pred  int // predicted foreground
	Truth int // true foreground
}

// Dice returns 2·TP/(Pred+Truth), or 0 when TP is 0 — also when both the
// prediction and the ground truth are empty, as in the official code.
func (c Counts) Dice() float64 {
	if c.TP == 0 {
		return 0
	}
	return float64(2*c.TP) / float64(c.Pred+c.Truth)
}

// IoU returns TP/(Pred+Truth−TP), that is TP/(TP+FP+FN), or 0 when TP is 0
// — also when both the prediction and the ground truth are empty.
func (c Counts) IoU() float64 {
	if c.TP == 0 {
		return 0
	}
	return float64(c.TP) / float64(c.Pred+c.Truth-c.TP)
}

// CountAt binarises pred at threshold t (foreground where probability ≥ t,
// as the official code does) after resizing it to gt's size with [Resize],
// and counts it against gt.
func CountAt(pred Prob, gt Mask, t float64) (Counts, error) {
	p, err := aligned(pred, gt)
	if err != nil {
		return Counts{}, err
	}
	var c Counts
	for i, v := range p.Pix {
		on := v >= t
		if on {
			c.Pred++
		}
		if gt.Pix[i] {
			c.Truth++
			if on {
				c.TP++
			}
		}
	}
	return c, nil
}

// Result holds one image's scores.
type Result struct {
	// Dice05 and IoU05 are Dice and IoU at threshold 0.5.
	Dice05, IoU05 float64
	// Dice[j] and IoU[j] are Dice and IoU at threshold Thresholds()[j].
	Dice, IoU [NumThresholds]float64
}

// MeanDice returns the mean of r.Dice over the thresholds. Averaging it over
// images gives the paper's mDice.
func (r *Result) MeanDice() float64 { return mean(r.Dice[:]) }

// MeanIoU returns the mean of r.IoU over the thresholds.
func (r *Result) MeanIoU() float64 { return mean(r.IoU[:]) }

// MaxDice returns the largest of r.Dice.
func (r *Result) MaxDice() float64 { return maxOf(r.Dice[:]) }

// Evaluate scores pred against gt at 0.5 and at every threshold of
// [Thresholds]. pred is first resized to gt's size with [Resize]. The sweep
// makes one pass over the pixels: each pixel's first passing threshold is
// found by binary search and the counts are accumulated per threshold, which
// gives exactly the counts of 256 separate comparisons.
func Evaluate(pred Prob, gt Mask) (Result, error) {
	p, err := aligned(pred, gt)
	if err != nil {
		return Result{}, err
	}
	ts := Thresholds()
	// onTruth[j] and onBack[j] count the foreground and background pixels
	// whose first passing threshold is ts[j] (j = NumThresholds: none).
	var onTruth, onBack [NumThresholds + 1]int
	var at05 Counts
	for i, v := range p.Pix {
		j := sort.Search(NumThresholds, func(k int) bool { return v >= ts[k] })
		truth := gt.Pix[i]
		if truth {
			onTruth[j]++
			at05.Truth++
		} else {
			onBack[j]++
		}
		if v >= Threshold05 {
			at05.Pred++
			if truth {
				at05.TP++
			}
		}
	}
	r := Result{Dice05: at05.Dice(), IoU05: at05.IoU()}
	c := Counts{Truth: at05.Truth}
	for j := 0; j < NumThresholds; j++ {
		c.TP += onTruth[j]
		c.Pred += onTruth[j] + onBack[j]
		r.Dice[j], r.IoU[j] = c.Dice(), c.IoU()
	}
	return r, nil
}

// aligned validates both maps and resizes pred to gt's size.
func aligned(pred Prob, gt Mask) (Prob, error) {
	if err := gt.Validate(); err != nil {
		return Prob{}, err
	}
	p, err := Resize(pred, gt.W, gt.H)
	if err != nil {
		return Prob{}, fmt.Errorf("resizing prediction to %d×%d: %w", gt.W, gt.H, err)
	}
	return p, nil
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}

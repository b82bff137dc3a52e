package metrics

import (
	"fmt"
	"math"
)

// Referring measures whether masks follow the question on images that hold
// several findings, each asked about by its own question. All Dice values
// are at [Threshold05].
type Referring struct {
	// Images is the number of images with at least two findings; images
	// with one finding are left out of every field.
	Images int `json:"images"`
	// Questions is the number of predictions (questions) on those images.
	Questions int `json:"questions"`
	// Correct counts the questions whose predicted mask has a higher Dice
	// with the asked finding than with every other finding of the image
	// (a tie, including all zero, is not correct).
	Correct int `json:"correct"`
	// Accuracy is Correct/Questions, the referring accuracy; 0 with no
	// question.
	Accuracy float64 `json:"referring_accuracy"`
	// AskedDice is the mean Dice with the asked finding.
	AskedDice float64 `json:"asked_dice"`
	// OtherDice is the mean over questions of the highest Dice with a
	// finding that was not asked.
	OtherDice float64 `json:"best_other_dice"`
	// Pairs is the number of pairs of questions on one image that Alike
	// averages over.
	Pairs int `json:"pairs"`
	// Alike is the mean Dice between the masks predicted for two different
	// questions on the same image, over all such pairs: 1 when every
	// question gets the same mask (a model deaf to the question), near 0
	// when the masks are disjoint. Two empty masks count as alike (1). 0
	// when Pairs is 0.
	Alike float64 `json:"masks_alike"`
}

// referImage is what an accumulator keeps of one image: its findings by
// key, in the order first seen, and the binarised prediction made for each
// question with the key of the finding it asked about.
type referImage struct {
	keys     []string
	findings map[string]Mask
	asked    []string
	preds    []Mask
}

// ReferAccumulator gathers predictions per image for [Referring]. Add
// them in a fixed order for reproducible sums. The zero value is ready to
// use; it is not safe for concurrent use.
type ReferAccumulator struct {
	order  []string
	images map[string]*referImage
}

// Add records the prediction pred made for the question about finding
// (any key naming the finding, such as its mask path) of image (any key
// naming the image, such as its path), whose ground truth is truth. The
// prediction is resized to the truth's size and binarised at
// [Threshold05]. Every finding of one image must have the same size; a
// finding added twice must have the same truth (the first is kept).
func (a *ReferAccumulator) Add(image, finding string, truth Mask, pred Prob) error {
	if err := truth.Validate(); err != nil {
		return err
	}
	p, err := aligned(pred, truth)
	if err != nil {
		return err
	}
	bin := NewMask(truth.W, truth.H)
	for i, v := range p.Pix {
		bin.Pix[i] = v >= Threshold05
	}
	if a.images == nil {
		a.images = map[string]*referImage{}
	}
	im := a.images[image]
	if im == nil {
		im = &referImage{findings: map[string]Mask{}}
		a.images[image] = im
		a.order = append(a.order, image)
	}
	if len(im.keys) > 0 {
		first := im.findings[im.keys[0]]
		if first.W != truth.W || first.H != truth.H {
			return fmt.Errorf("%w: image %s: finding %s is %d×%d, finding %s is %d×%d",
				ErrShape, image, finding, truth.W, truth.H, im.keys[0], first.W, first.H)
		}
	}
	if _, ok := im.findings[finding]; !ok {
		im.keys = append(im.keys, finding)
		im.findings[finding] = truth
	}
	im.asked = append(im.asked, finding)
	im.preds = append(im.preds, bin)
	return nil
}

// Result computes the referring scores of everything added so far.
func (a *ReferAccumulator) Result() Referring { return a.Sums().Referring() }

// ReferSums are the totals behind [Referring] before the means are taken.
// Sums over disjoint sets of images add ([ReferSums.Add]): a validation
// sharded by image over several processes sums each process's and divides
// once.
type ReferSums struct {
	Images, Questions, Correct, Pairs int
	// Asked, Other and Alike are the sums of the asked finding's Dice, of
	// the best other finding's Dice (over Questions) and of the Dice
	// between masks of two questions on one image (over Pairs).
	Asked, Other, Alike float64
}

// Add is the sums of s and o together.
func (s ReferSums) Add(o ReferSums) ReferSums {
	return ReferSums{Images: s.Images + o.Images, Questions: s.Questions + o.Questions, Correct: s.Correct + o.Correct,
		Pairs: s.Pairs + o.Pairs, Asked: s.Asked + o.Asked, Other: s.Other + o.Other, Alike: s.Alike + o.Alike}
}

// Referring divides the sums into the scores.
func (s ReferSums) Referring() Referring {
	r := Referring{Images: s.Images, Questions: s.Questions, Correct: s.Correct, Pairs: s.Pairs}
	if s.Questions > 0 {
		n := float64(s.Questions)
		r.Accuracy = float64(s.Correct) / n
		r.AskedDice, r.OtherDice = s.Asked/n, s.Other/n
	}
	if s.Pairs > 0 {
		r.Alike = s.Alike / float64(s.Pairs)
	}
	return r
}

// Sums are the totals of everything added so far.
func (a *ReferAccumulator) Sums() ReferSums {
	var r ReferSums
	for _, name := range a.order {
		im := a.images[name]
		if len(im.keys) < 2 {
			continue
		}
		r.Images++
		for q, pred := range im.preds {
			r.Questions++
			best := math.Inf(-1)
			var own float64
			for _, k := range im.keys {
				d := maskDice(pred, im.findings[k], false)
				if k == im.asked[q] {
					own = d
				} else {
					best = max(best, d)
				}
			}
			r.Asked += own
			r.Other += best
			if own > best {
				r.Correct++
			}
			for _, p2 := range im.preds[q+1:] {
				r.Pairs++
				r.Alike += maskDice(pred, p2, true)
			}
		}
	}
	return r
}

// maskDice is the Dice of two binary masks of one size; two empty masks
// give emptyBoth.
func maskDice(a, b Mask, emptyBoth bool) float64 {
	var c Counts
	for i, on := range a.Pix {
		if on {
			c.Pred++
			if b.Pix[i] {
				c.TP++
			}
		}
		if b.Pix[i] {
			c.Truth++
		}
	}
	if c.Pred == 0 && c.Truth == 0 && emptyBoth {
		return 1
	}
	return c.Dice()
}

package train

import (
	"math/rand/v2"
	"regexp"
	"strings"

	"github.com/prsmed/prsmed-go/torch"
)

// Flips is a mirror augmentation: the image, the mask and the answer's position words are
// mirrored together, so the zone named in the answer stays true (a horizontal flip turns
// "left" into "right", a vertical one "top"/"upper" into "bottom"/"lower"; "center" and the
// distance from the centre do not change).
type Flips struct {
	H, V bool
}

var (
	horizWords = regexp.MustCompile(`(?i)\b(left|right)\b`)
	vertWords  = regexp.MustCompile(`(?i)\b(top|bottom|upper|lower)\b`)
	swaps      = map[string]string{"left": "right", "right": "left", "top": "bottom", "bottom": "top", "upper": "lower", "lower": "upper"}
)

// Answer rewrites an answer's position words for the flips, keeping each word's case.
func (f Flips) Answer(a string) string {
	swap := func(w string) string {
		to := swaps[strings.ToLower(w)]
		switch {
		case w == strings.ToUpper(w) && len(w) > 1:
			return strings.ToUpper(to)
		case w[0] >= 'A' && w[0] <= 'Z':
			return strings.ToUpper(to[:1]) + to[1:]
		}
		return to
	}
	if f.H {
		a = horizWords.ReplaceAllStringFunc(a, swap)
	}
	if f.V {
		a = vertWords.ReplaceAllStringFunc(a, swap)
	}
	return a
}

// ForQuestion drops the flips that a question naming a side would contradict: the
// horizontal flip when the question says left or right, the vertical one when it says
// top, bottom, upper or lower. Questions name no image position, so such a word names
// anatomy ("Where is the left kidney?"): mirrored, the image would show the patient's left
// kidney where and as the right one appears, teaching the model to ignore the side the
// question asks for, and Answer would rename the structure in the answer ("the right
// kidney") while the question still says left.
func (f Flips) ForQuestion(q string) Flips {
	if f.H && horizWords.MatchString(q) {
		f.H = false
	}
	if f.V && vertWords.MatchString(q) {
		f.V = false
	}
	return f
}

// Tensor mirrors a (…, H, W) tensor.
func (f Flips) Tensor(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	var dims []int64
	if f.V {
		dims = append(dims, -2)
	}
	if f.H {
		dims = append(dims, -1)
	}
	if len(dims) == 0 {
		return x
	}
	return x.Flip(s, dims...)
}

// drawFlips picks each flip with probability ½ from a generator seeded by the run's seed,
// the epoch and the sample's index in the training set. The draw belongs to the sample, not
// to its place in a batch: a resumed run draws the same flips, and so does a run whose
// batches are cut differently (another batch size, or the epoch's order sharded over
// several processes), so that data-parallel training sees the flips one process sees.
func drawFlips(seed, epoch uint64, idx int) Flips {
	r := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, flipStream(epoch, idx)))
	return Flips{H: r.IntN(2) == 1, V: r.IntN(2) == 1}
}

// flipStream is the generator stream of a sample's flips: distinct for every (epoch, index)
// with an index below 2⁴⁰ and an epoch below 2²⁴.
func flipStream(epoch uint64, idx int) uint64 {
	return epoch<<40 | uint64(idx)&(1<<40-1)
}

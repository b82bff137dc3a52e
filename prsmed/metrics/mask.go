package metrics

import (
	"errors"
	"fmt"
	"math"
)

// ErrShape is wrapped by every error about a map whose width, height and
// pixel count disagree or are not positive.
var ErrShape = errors.New("metrics: bad mask shape")

// Prob is a W×H map of foreground probabilities stored row by row:
// Pix[y*W+x] is column x of row y. Values are normally in [0, 1]; a value
// above 1 counts as foreground at every threshold, and NaN or a negative
// value at none.
//
// Probabilities are float64 so that a map read from an 8-bit PNG holds
// exactly the values value/255 that the official evaluation compares with
// its thresholds.
type Prob struct {
	W, H int
	Pix  []float64
}

// Mask is a W×H binary ground truth stored row by row: Pix[y*W+x] is true
// for a foreground pixel.
type Mask struct {
	W, H int
	Pix  []bool
}

// Size is the type of a width or height that the constructors take: an int, or an int64
// as a torch shape holds it (Prob and Mask store int).
type Size interface{ ~int | ~int64 }

// NewProb returns a w×h map of zeros.
func NewProb[N Size](w, h N) Prob {
	return newProb(int(w), int(h))
}

func newProb(w, h int) Prob {
	return Prob{W: w, H: h, Pix: make([]float64, max(w, 0)*max(h, 0))}
}

// NewMask returns an empty w×h mask.
func NewMask[N Size](w, h N) Mask {
	W, H := int(w), int(h)
	return Mask{W: W, H: H, Pix: make([]bool, max(W, 0)*max(H, 0))}
}

// ProbFromFloat32 copies w×h row-major float32 probabilities (for example a
// model's sigmoid output) into a Prob.
func ProbFromFloat32[N Size](w, h N, v []float32) (Prob, error) {
	W, H := int(w), int(h)
	if int64(W) != int64(w) || int64(H) != int64(h) {
		return Prob{}, fmt.Errorf("%w: probabilities: size %d×%d does not fit an int", ErrShape, int64(w), int64(h))
	}
	if err := checkShape("probabilities", W, H, len(v)); err != nil {
		return Prob{}, err
	}
	p := newProb(W, H)
	for i, x := range v {
		p.Pix[i] = float64(x)
	}
	return p, nil
}

// ProbsFromFloat32 splits a batch of row-major float32 probabilities of a torch shape
// (B, H, W) or (B, 1, H, W) (a segmentation head's sigmoid output, read with Float32s)
// into B maps.
func ProbsFromFloat32(shape []int64, v []float32) ([]Prob, error) {
	if len(shape) == 4 && shape[1] == 1 {
		shape = []int64{shape[0], shape[2], shape[3]}
	}
	if len(shape) != 3 || shape[0] <= 0 {
		return nil, fmt.Errorf("%w: probabilities of shape %v, want (B, H, W) or (B, 1, H, W)", ErrShape, shape)
	}
	n := shape[1] * shape[2]
	if int64(len(v)) != shape[0]*n {
		return nil, fmt.Errorf("%w: %d probabilities for shape %v", ErrShape, len(v), shape)
	}
	out := make([]Prob, shape[0])
	for i := range out {
		p, err := ProbFromFloat32(shape[2], shape[1], v[int64(i)*n:int64(i+1)*n])
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Validate reports an error wrapping [ErrShape] unless W and H are positive
// and Pix holds W·H values.
func (p Prob) Validate() error { return checkShape("prediction", p.W, p.H, len(p.Pix)) }

// Validate reports an error wrapping [ErrShape] unless W and H are positive
// and Pix holds W·H values.
func (m Mask) Validate() error { return checkShape("ground truth", m.W, m.H, len(m.Pix)) }

// Count returns the number of foreground pixels.
func (m Mask) Count() int {
	n := 0
	for _, on := range m.Pix {
		if on {
			n++
		}
	}
	return n
}

func checkShape(what string, w, h, n int) error {
	if w <= 0 || h <= 0 || w > math.MaxInt32 || h > math.MaxInt32 || n != w*h {
		return fmt.Errorf("%w: %s is %d×%d with %d pixels", ErrShape, what, w, h, n)
	}
	return nil
}

// Resize returns p resized to w×h by nearest neighbour exactly as OpenCV's
// cv2.resize(..., interpolation=INTER_NEAREST), which the official
// evaluation applies to predictions: destination column x reads source
// column min(⌊x·s⌋, p.W−1) with s = 1/(w/p.W) computed in float64 (the
// division order matters for bit-exact results), and rows likewise. This
// aligns the top-left corners of the two grids; it is not the
// centre-aligned mapping of INTER_NEAREST_EXACT or PyTorch's
// "nearest-exact". When the size already matches, Resize returns p itself.
func Resize[N Size](p Prob, width, height N) (Prob, error) {
	w, h := int(width), int(height)
	if err := p.Validate(); err != nil {
		return Prob{}, err
	}
	if err := checkShape("target", w, h, w*h); err != nil {
		return Prob{}, err
	}
	if p.W == w && p.H == h {
		return p, nil
	}
	xs, ys := NearestSource(p.W, w), NearestSource(p.H, h)
	out := newProb(w, h)
	for y, sy := range ys {
		src := p.Pix[sy*p.W : (sy+1)*p.W]
		dst := out.Pix[y*w : (y+1)*w]
		for x, sx := range xs {
			dst[x] = src[sx]
		}
	}
	return out, nil
}

// NearestSource returns, for each of dst destination positions along one
// axis, the source index that [Resize] reads from an axis of src pixels.
// Both sizes must be positive.
func NearestSource(src, dst int) []int {
	inv := 1 / (float64(dst) / float64(src))
	idx := make([]int, dst)
	for i := range idx {
		idx[i] = min(int(math.Floor(float64(i)*inv)), src-1)
	}
	return idx
}

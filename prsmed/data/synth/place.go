package synth

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/prsmed/prsmed-go/zones"
)

// placement bounds how a lesion may be placed on an s×s image.
type placement struct {
	s          int
	minR, maxR float64                             // lesion radius range, fractions of s
	newShape   func(r *rand.Rand, R float64) shape // the modality's outline
}

// margin is the gap in pixels that a quadrant lesion keeps from the centre
// row and column, so that its zone is plain from the image.
func (p placement) margin() int { return max(2, p.s/32) }

// place draws lesions until one lies in zone z and returns it with its
// location by the PosMed rule. For a quadrant the whole lesion lies inside
// the quadrant, at least margin pixels from the centre row and column; with
// wantNear the lesion is drawn smaller (radius 0.04–0.10 of the side, within
// the modality's range where possible) and placed toward the image centre
// (the location's Near flag, computed from the mask, is what counts). For
// [zones.Center] the lesion covers the centre pixel itself, not only with
// its bounding box. Every lesion keeps one pixel from the image border.
func (p placement) place(r *rand.Rand, z zones.Zone, wantNear bool) (*lesion, zones.Location, error) {
	s, c := p.s, p.s/2
	lo, hi := p.minR, p.maxR
	if wantNear && z != zones.Center {
		// A quadrant lesion can be near only if it is small: its box centre
		// lies at least (half-width + margin) from both centre lines, so
		// √2·(half-width + margin) must stay below 0.2·s.
		lo, hi = max(0.7*p.minR, 0.04), min(p.maxR, 0.10)
		lo = min(lo, hi)
	}
	scale := 1.0
	for attempt := 0; attempt < 60; attempt++ {
		R := max(float64(s)*(lo+(hi-lo)*r.Float64())*scale, 1.5)
		st := rasterise(p.newShape(r, R))
		px, py, ok := p.position(r, st, z, wantNear)
		if !ok {
			scale *= 0.9
			continue
		}
		l := place(st, s, px, py, R)
		loc, err := zones.Locate(l.maskImage())
		if err != nil {
			return nil, zones.Location{}, err
		}
		if loc.Zone != z {
			return nil, zones.Location{}, fmt.Errorf("internal error: lesion placed for %v lies in %v (box %v, centre %d)", z, loc.Zone, loc.Box, c)
		}
		return l, loc, nil
	}
	return nil, zones.Location{}, fmt.Errorf("cannot place a lesion in zone %v on a %dx%d image", z, s, s)
}

// position returns the centre pixel for stamp st in zone z, or false when
// the stamp does not fit.
func (p placement) position(r *rand.Rand, st stamp, z zones.Zone, wantNear bool) (int, int, bool) {
	s, c, edge := p.s, p.s/2, 1
	b := st.box
	if z == zones.Center {
		j := max(1, s/16)
		for range 40 {
			px, py := c+r.IntN(2*j+1)-j, c+r.IntN(2*j+1)-j
			if !p.inside(b, px, py) || !hasPoint(st, c-px, c-py) {
				continue
			}
			return px, py, true
		}
		return c, c, p.inside(b, c, c) && hasPoint(st, 0, 0)
	}
	m := p.margin()
	left := z == zones.TopLeft || z == zones.BottomLeft
	top := z == zones.TopLeft || z == zones.TopRight
	// Ranges of centre pixels that keep the box inside the quadrant; the
	// "toward" end is the one nearest the image centre.
	span := func(first bool, lo, hi int) (int, int, int, bool) {
		var a, bnd int
		if first { // left or top: box.Max-1 ≤ c-1-m
			a, bnd = edge-lo, c-1-m-(hi-1)
			return a, bnd, bnd, a <= bnd
		}
		a, bnd = c+m-lo, s-1-edge-(hi-1)
		return a, bnd, a, a <= bnd
	}
	x0, x1, xNear, okx := span(left, b.Min.X, b.Max.X)
	y0, y1, yNear, oky := span(top, b.Min.Y, b.Max.Y)
	if !okx || !oky {
		return 0, 0, false
	}
	pick := func(lo, hi, toward int) int {
		if !wantNear {
			return lo + r.IntN(hi-lo+1)
		}
		w := (hi - lo) / 3
		if toward == lo {
			return lo + r.IntN(w+1)
		}
		return hi - r.IntN(w+1)
	}
	px, py := pick(x0, x1, xNear), pick(y0, y1, yNear)
	if wantNear && !p.near(b, px, py) {
		px, py = xNear, yNear
	}
	return px, py, true
}

// inside reports whether box b centred at (px, py) keeps one pixel from
// every border.
func (p placement) inside(b image.Rectangle, px, py int) bool {
	return px+b.Min.X >= 1 && py+b.Min.Y >= 1 && px+b.Max.X <= p.s-1 && py+b.Max.Y <= p.s-1
}

// near applies the PosMed near-centre rule to box b centred at (px, py).
func (p placement) near(b image.Rectangle, px, py int) bool {
	tx := (px + b.Min.X + px + b.Max.X - 1) / 2
	ty := (py + b.Min.Y + py + b.Max.Y - 1) / 2
	dx, dy := float64(tx-p.s/2), float64(ty-p.s/2)
	return math.Sqrt(dx*dx+dy*dy) < zones.NearFraction*float64(p.s)
}

// hasPoint reports whether the stamp covers offset (dx, dy).
func hasPoint(st stamp, dx, dy int) bool {
	for _, q := range st.pts {
		if q.X == dx && q.Y == dy {
			return true
		}
	}
	return false
}

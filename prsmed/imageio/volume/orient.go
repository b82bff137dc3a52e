package volume

import (
	"fmt"
	"math"
)

// AxisMap says where one voxel axis points in world space: the world axis (0 R, 1 A,
// 2 S) that changes most along it and whether it runs towards (+1) or away from (-1) that
// axis's positive end. It is one row of nibabel's orientation array.
type AxisMap struct {
	World int
	Flip  int
}

// Orientation returns, for each voxel axis, the RAS axis it runs closest to, as nibabel's
// orientations.io_orientation computes it: the affine's columns are normalised, replaced by
// the closest orthogonal matrix (polar decomposition), and the axes are assigned from the
// strongest column to the weakest, each taking the world axis of its largest remaining
// component.
func (v *Volume) Orientation() ([3]AxisMap, error) {
	var out [3]AxisMap
	if err := checkAffine(v.Affine); err != nil {
		return out, err
	}
	m := rzs(v.Affine)
	for j := 0; j < 3; j++ {
		z := math.Sqrt(m[0][j]*m[0][j] + m[1][j]*m[1][j] + m[2][j]*m[2][j])
		for i := 0; i < 3; i++ {
			m[i][j] /= z
		}
	}
	r := polar(m)
	// Strongest column first (largest max |component|), stable on ties.
	order := []int{0, 1, 2}
	strength := func(j int) float64 {
		return math.Max(math.Abs(r[0][j]), math.Max(math.Abs(r[1][j]), math.Abs(r[2][j])))
	}
	for a := 1; a < 3; a++ {
		for b := a; b > 0 && -strength(order[b])*strength(order[b]) < -strength(order[b-1])*strength(order[b-1]); b-- {
			order[b], order[b-1] = order[b-1], order[b]
		}
	}
	used := [3]bool{}
	for _, j := range order {
		best, bestAbs := -1, -1.0
		for i := 0; i < 3; i++ {
			if used[i] {
				continue
			}
			if a := math.Abs(r[i][j]); a > bestAbs {
				best, bestAbs = i, a
			}
		}
		if bestAbs <= 1e-8 {
			return out, fmt.Errorf("%w: voxel axis %d has no direction in %v", ErrGeometry, j, v.Affine)
		}
		out[j] = AxisMap{World: best, Flip: 1}
		if r[best][j] < 0 {
			out[j].Flip = -1
		}
		used[best] = true
	}
	return out, nil
}

// AxisCodes returns the orientation as nibabel's aff2axcodes letters, e.g. "LPS" or "RAS".
func (v *Volume) AxisCodes() (string, error) {
	o, err := v.Orientation()
	if err != nil {
		return "", err
	}
	pos, neg := "RAS", "LPI"
	b := make([]byte, 3)
	for j, a := range o {
		if a.Flip > 0 {
			b[j] = pos[a.World]
		} else {
			b[j] = neg[a.World]
		}
	}
	return string(b), nil
}

// canonicalMap says, for each canonical axis c (R, A, S), which source axis it reads and
// whether that axis is reversed.
type canonicalMap struct {
	src  [3]int
	flip [3]bool
	dims [3]int // canonical sizes
	str  [3]int // source strides of each canonical axis (negative when reversed)
	base int    // source index of canonical voxel (0, 0, 0)
}

func (v *Volume) canonical() (canonicalMap, error) {
	var c canonicalMap
	o, err := v.Orientation()
	if err != nil {
		return c, err
	}
	srcStride := [3]int{1, v.Dims[0], v.Dims[0] * v.Dims[1]}
	for j, a := range o {
		c.src[a.World] = j
		c.flip[a.World] = a.Flip < 0
		c.dims[a.World] = v.Dims[j]
		if a.Flip < 0 {
			c.str[a.World] = -srcStride[j]
			c.base += (v.Dims[j] - 1) * srcStride[j]
		} else {
			c.str[a.World] = srcStride[j]
		}
	}
	return c, nil
}

// Canonical returns the volume reoriented to the closest RAS+ axis order, as nibabel's
// as_closest_canonical: voxel axes permuted and reversed (never resampled) so that i runs
// closest to right, j to anterior, k to superior, with the affine updated so every voxel
// keeps its world position. A volume already in that order is returned as a copy.
func (v *Volume) Canonical() (*Volume, error) {
	if err := v.Check(); err != nil {
		return nil, err
	}
	c, err := v.canonical()
	if err != nil {
		return nil, err
	}
	out := &Volume{Dims: c.dims, XformCode: v.XformCode, Data: make([]float32, len(v.Data))}
	n := 0
	for k := 0; k < c.dims[2]; k++ {
		for j := 0; j < c.dims[1]; j++ {
			p := c.base + k*c.str[2] + j*c.str[1]
			for i := 0; i < c.dims[0]; i++ {
				out.Data[n] = v.Data[p]
				n++
				p += c.str[0]
			}
		}
	}
	// new affine = old affine · M, M mapping canonical index to source index.
	var m [4][4]float64
	m[3][3] = 1
	for w := 0; w < 3; w++ {
		s := c.src[w]
		if c.flip[w] {
			m[s][w] = -1
			m[s][3] = float64(v.Dims[s] - 1)
		} else {
			m[s][w] = 1
		}
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			var x float64
			for k := 0; k < 4; k++ {
				x += v.Affine[i][k] * m[k][j]
			}
			out.Affine[i][j] = x
		}
	}
	return out, nil
}

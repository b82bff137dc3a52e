package volume

import "math"

type mat3 = [3][3]float64

// rzs is the affine's 3×3 rotation-zoom-shear part.
func rzs(a [4][4]float64) mat3 {
	var m mat3
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			m[i][j] = a[i][j]
		}
	}
	return m
}

func det3(m mat3) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// inv3T returns the inverse transpose of m (m must be non-singular).
func inv3T(m mat3) mat3 {
	d := det3(m)
	var c mat3 // cofactors: (m⁻¹)ᵀ = cof(m)/det
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			i1, i2 := (i+1)%3, (i+2)%3
			j1, j2 := (j+1)%3, (j+2)%3
			c[i][j] = (m[i1][j1]*m[i2][j2] - m[i1][j2]*m[i2][j1]) / d
		}
	}
	return c
}

// polar returns the orthogonal factor of m's polar decomposition (the orthogonal matrix
// closest to m, U·Vᵀ of its SVD), by Newton's iteration X ← (X + X⁻ᵀ)/2, which converges
// quadratically for a non-singular m.
func polar(m mat3) mat3 {
	x := m
	for it := 0; it < 100; it++ {
		y := inv3T(x)
		var next mat3
		diff := 0.0
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				next[i][j] = (x[i][j] + y[i][j]) / 2
				diff = math.Max(diff, math.Abs(next[i][j]-x[i][j]))
			}
		}
		x = next
		if diff < 1e-15 {
			break
		}
	}
	return x
}

// matToQuat returns the unit quaternion (w, x, y, z), w ≥ 0, of the rotation matrix r.
func matToQuat(r mat3) [4]float64 {
	var q [4]float64
	tr := r[0][0] + r[1][1] + r[2][2]
	switch {
	case tr > 0:
		s := 2 * math.Sqrt(tr+1)
		q = [4]float64{s / 4, (r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s}
	case r[0][0] > r[1][1] && r[0][0] > r[2][2]:
		s := 2 * math.Sqrt(1+r[0][0]-r[1][1]-r[2][2])
		q = [4]float64{(r[2][1] - r[1][2]) / s, s / 4, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s}
	case r[1][1] > r[2][2]:
		s := 2 * math.Sqrt(1+r[1][1]-r[0][0]-r[2][2])
		q = [4]float64{(r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, s / 4, (r[1][2] + r[2][1]) / s}
	default:
		s := 2 * math.Sqrt(1+r[2][2]-r[0][0]-r[1][1])
		q = [4]float64{(r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, s / 4}
	}
	if q[0] < 0 {
		for i := range q {
			q[i] = -q[i]
		}
	}
	n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	for i := range q {
		q[i] /= n
	}
	return q
}

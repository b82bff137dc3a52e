package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// canvas is an S×S image being painted, as float planes of values in
// 0 … 255 (one plane for grey modalities, three for colour ones).
type canvas struct {
	s      int
	planes [][]float32
}

// newCanvas returns a black canvas with ch planes.
func newCanvas(s, ch int) *canvas {
	c := &canvas{s: s, planes: make([][]float32, ch)}
	for i := range c.planes {
		c.planes[i] = make([]float32, s*s)
	}
	return c
}

// paint sets every pixel to f(x, y, i), where i = y·s+x, writing the first
// len(planes) values of the returned colour.
func (c *canvas) paint(f func(x, y, i int) [3]float32) {
	for y := 0; y < c.s; y++ {
		for x := 0; x < c.s; x++ {
			i := y*c.s + x
			v := f(x, y, i)
			for p := range c.planes {
				c.planes[p][i] = v[p]
			}
		}
	}
}

// blend mixes colour v into pixel i with weight a in [0, 1].
func (c *canvas) blend(i int, a float32, v [3]float32) {
	for p := range c.planes {
		c.planes[p][i] = (1-a)*c.planes[p][i] + a*v[p]
	}
}

// addNoise adds zero-mean Gaussian noise of standard deviation sigma to
// every value.
func (c *canvas) addNoise(r *rand.Rand, sigma float64) {
	for _, pl := range c.planes {
		for i := range pl {
			pl[i] += float32(r.NormFloat64() * sigma)
		}
	}
}

// image quantises the canvas to an 8-bit grey or RGBA image.
func (c *canvas) image() image.Image {
	q := func(v float32) uint8 {
		return uint8(math.Round(float64(min(max(v, 0), 255))))
	}
	rect := image.Rect(0, 0, c.s, c.s)
	if len(c.planes) == 1 {
		g := image.NewGray(rect)
		for i, v := range c.planes[0] {
			g.Pix[i] = q(v)
		}
		return g
	}
	m := image.NewRGBA(rect)
	for i := range c.planes[0] {
		m.Pix[4*i] = q(c.planes[0][i])
		m.Pix[4*i+1] = q(c.planes[1][i])
		m.Pix[4*i+2] = q(c.planes[2][i])
		m.Pix[4*i+3] = 255
	}
	return m
}

// noiseField returns an s×s smooth random field with values in [0, 1]:
// uniform values on a (cells+1)² grid, interpolated with smoothstep
// weights.
func noiseField(r *rand.Rand, s, cells int) []float32 {
	g := make([]float32, (cells+1)*(cells+1))
	for i := range g {
		g[i] = r.Float32()
	}
	out := make([]float32, s*s)
	step := float32(cells) / float32(s)
	smooth := func(t float32) float32 { return t * t * (3 - 2*t) }
	for y := 0; y < s; y++ {
		fy := (float32(y) + 0.5) * step
		gy := min(int(fy), cells-1)
		ty := smooth(fy - float32(gy))
		for x := 0; x < s; x++ {
			fx := (float32(x) + 0.5) * step
			gx := min(int(fx), cells-1)
			tx := smooth(fx - float32(gx))
			a := g[gy*(cells+1)+gx]
			b := g[gy*(cells+1)+gx+1]
			c := g[(gy+1)*(cells+1)+gx]
			d := g[(gy+1)*(cells+1)+gx+1]
			top := a + (b-a)*tx
			bot := c + (d-c)*tx
			out[y*s+x] = top + (bot-top)*ty
		}
	}
	return out
}

// shape is a lesion outline around the origin: in reports whether the
// pixel at integer offset (dx, dy) from the lesion's centre pixel belongs to
// the lesion. Every shape contains the origin and lies within radius of it.
type shape struct {
	in     func(dx, dy float64) bool
	radius float64
}

// ellipseShape is an ellipse with semi-axes R and aspect·R, rotated by a
// random angle.
func ellipseShape(r *rand.Rand, R, minAspect float64) shape {
	a := R
	b := R * (minAspect + (1-minAspect)*r.Float64())
	sin, cos := math.Sincos(r.Float64() * math.Pi)
	return shape{radius: R, in: func(dx, dy float64) bool {
		u := (dx*cos + dy*sin) / a
		v := (-dx*sin + dy*cos) / b
		return u*u+v*v <= 1
	}}
}

// blobShape is an irregular blob: a central disc and k more discs whose
// centres lie around it, all inside radius R.
func blobShape(r *rand.Rand, R float64, k int) shape {
	type disc struct{ x, y, r float64 }
	ds := []disc{{0, 0, R * (0.5 + 0.15*r.Float64())}}
	for range k {
		cr := R * (0.28 + 0.2*r.Float64())
		d := (R - cr) * (0.45 + 0.55*r.Float64())
		sin, cos := math.Sincos(r.Float64() * 2 * math.Pi)
		ds = append(ds, disc{d * cos, d * sin, cr})
	}
	return shape{radius: R, in: func(dx, dy float64) bool {
		for _, c := range ds {
			if (dx-c.x)*(dx-c.x)+(dy-c.y)*(dy-c.y) <= c.r*c.r {
				return true
			}
		}
		return false
	}}
}

// polygonShape is a star-shaped polygon of k vertices at jittered, evenly
// spread angles and radii between 0.55·R and R.
func polygonShape(r *rand.Rand, R float64, k int) shape {
	xs, ys := make([]float64, k), make([]float64, k)
	phase := r.Float64() * 2 * math.Pi
	for i := range k {
		ang := phase + (float64(i)+0.35*(r.Float64()-0.5))*2*math.Pi/float64(k)
		rad := R * (0.55 + 0.45*r.Float64())
		sin, cos := math.Sincos(ang)
		xs[i], ys[i] = rad*cos, rad*sin
	}
	return shape{radius: R, in: func(dx, dy float64) bool {
		// Even-odd ray casting.
		in := false
		for i, j := 0, k-1; i < k; j, i = i, i+1 {
			if (ys[i] > dy) != (ys[j] > dy) &&
				dx < (xs[j]-xs[i])*(dy-ys[i])/(ys[j]-ys[i])+xs[i] {
				in = !in
			}
		}
		return in
	}}
}

// stamp is a shape rasterised at integer offsets from its centre pixel.
type stamp struct {
	pts []image.Point
	box image.Rectangle // half-open bounding box of pts
}

// rasterise evaluates sh at every integer offset within its radius.
func rasterise(sh shape) stamp {
	n := int(math.Ceil(sh.radius)) + 1
	st := stamp{box: image.Rect(n, n, -n, -n)}
	for dy := -n; dy <= n; dy++ {
		for dx := -n; dx <= n; dx++ {
			if sh.in(float64(dx), float64(dy)) {
				st.pts = append(st.pts, image.Pt(dx, dy))
				st.box = st.box.Union(image.Rect(dx, dy, dx+1, dy+1))
			}
		}
	}
	return st
}

// lesion is a placed lesion: its mask, a soft version for painting, and a
// radial coordinate for shading.
type lesion struct {
	s      int
	cx, cy int       // centre pixel
	radius float64   // outline radius in pixels
	mask   []bool    // s×s, true inside
	alpha  []float32 // mask averaged over 3×3, in [0, 1]
	t      []float32 // distance from the centre / radius, for pixels with alpha > 0
}

// place puts stamp st with its centre at (cx, cy) on an s×s image.
func place(st stamp, s, cx, cy int, radius float64) *lesion {
	l := &lesion{s: s, cx: cx, cy: cy, radius: radius,
		mask: make([]bool, s*s), alpha: make([]float32, s*s), t: make([]float32, s*s)}
	for _, p := range st.pts {
		x, y := cx+p.X, cy+p.Y
		if x >= 0 && x < s && y >= 0 && y < s {
			l.mask[y*s+x] = true
		}
	}
	// Only pixels within one of the lesion can have a positive alpha.
	area := st.box.Add(image.Pt(cx, cy)).Inset(-1).Intersect(image.Rect(0, 0, s, s))
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			n, on := 0, 0
			for yy := max(y-1, 0); yy <= min(y+1, s-1); yy++ {
				for xx := max(x-1, 0); xx <= min(x+1, s-1); xx++ {
					n++
					if l.mask[yy*s+xx] {
						on++
					}
				}
			}
			i := y*s + x
			a := float32(on) / float32(n)
			if l.mask[i] {
				a = 0.35 + 0.65*a // inside pixels stay clearly lesion
			}
			l.alpha[i] = a
			if a > 0 {
				dx, dy := float64(x-cx), float64(y-cy)
				l.t[i] = float32(min(math.Sqrt(dx*dx+dy*dy)/radius, 1))
			}
		}
	}
	return l
}

// maskImage returns the lesion mask as an 8-bit grey image, 255 inside and
// 0 outside.
func (l *lesion) maskImage() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, l.s, l.s))
	for i, on := range l.mask {
		if on {
			g.Pix[i] = 255
		}
	}
	return g
}

// paint blends colour f(x, y, i, t) into c wherever the lesion's
// alpha is positive, with weight opacity·alpha.
func (l *lesion) paint(c *canvas, opacity float32, f func(x, y, i int, t float32) [3]float32) {
	for i, a := range l.alpha {
		if a == 0 {
			continue
		}
		x, y := i%l.s, i/l.s
		c.blend(i, opacity*a, f(x, y, i, l.t[i]))
	}
}

// grey is a grey colour for canvas functions.
func grey(v float32) [3]float32 { return [3]float32{v, v, v} }

// rgb is a colour for canvas functions.
func rgb(r, g, b float32) [3]float32 { return [3]float32{r, g, b} }

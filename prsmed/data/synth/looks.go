package synth

import (
	"math"
	"math/rand/v2"
)

// look is how one synthetic modality is drawn.
type look struct {
	name       string
	color      bool // RGB rather than grey
	jpeg       bool // images stored as JPEG with ISIC-style names
	minR, maxR float64
	shape      func(r *rand.Rand, R float64) shape
	// draw paints the background, then the findings fs in order, then
	// any after-effects, on c. A one-finding image draws the same random
	// numbers in the same order whatever else the modality may draw.
	draw func(r *rand.Rand, c *canvas, fs []finding)
	// word2 is the second lesion word of the modality in the multi-finding
	// mode: a finding of kind 1, drawn with the modality's alternative look.
	word2 string
}

// looks returns the six synthetic modalities, in the order of
// [Modalities].
func looks() []look {
	return []look{
		{
			name: "brain_tumors_ct_scan", minR: 0.06, maxR: 0.14,
			shape: func(r *rand.Rand, R float64) shape { return ellipseShape(r, R, 0.55) },
			draw:  drawBrain, word2: "cyst",
		},
		{
			name: "breast_tumors_ct_scan", minR: 0.08, maxR: 0.16,
			shape: func(r *rand.Rand, R float64) shape { return blobShape(r, R, 3+r.IntN(3)) },
			draw:  drawBreast, word2: "cyst",
		},
		{
			name: "lung_CT", minR: 0.045, maxR: 0.09,
			shape: func(r *rand.Rand, R float64) shape { return ellipseShape(r, R, 0.8) },
			draw:  drawLungCT, word2: "cyst",
		},
		{
			name: "lung_Xray", minR: 0.08, maxR: 0.16,
			shape: func(r *rand.Rand, R float64) shape { return polygonShape(r, R, 6+r.IntN(4)) },
			draw:  drawLungXray, word2: "cavity",
		},
		{
			name: "polyp_endoscopy", color: true, minR: 0.07, maxR: 0.15,
			shape: func(r *rand.Rand, R float64) shape { return ellipseShape(r, R, 0.7) },
			draw:  drawPolyp, word2: "ulcer",
		},
		{
			name: "skin_rgbimage", color: true, jpeg: true, minR: 0.09, maxR: 0.18,
			shape: func(r *rand.Rand, R float64) shape { return blobShape(r, R, 4+r.IntN(4)) },
			draw:  drawSkin, word2: "mole",
		},
	}
}

// ellipseDist returns ((x-cx)/rx)² + ((y-cy)/ry)²: below 1 inside the
// ellipse.
func ellipseDist(x, y int, cx, cy, rx, ry float64) float64 {
	u, v := (float64(x)+0.5-cx)/rx, (float64(y)+0.5-cy)/ry
	return u*u + v*v
}

// ramp maps v linearly from [lo, hi] to [0, 1], clamped.
func ramp(v, lo, hi float64) float32 {
	return float32(min(max((v-lo)/(hi-lo), 0), 1))
}

// jitter returns v·(1 ± f) with a uniform random factor.
func jitter(r *rand.Rand, v, f float64) float64 {
	return v * (1 + f*(2*r.Float64()-1))
}

// drawBrain: T1 MRI look. Dark background, an elliptic head with a bright
// skull ring and mottled grey tissue; the tumour is a bright ellipse.
func drawBrain(r *rand.Rand, c *canvas, fs []finding) {
	s := float64(c.s)
	hx, hy := s/2+jitter(r, 0.02*s, 1), s/2+jitter(r, 0.02*s, 1)
	rx, ry := jitter(r, 0.42*s, 0.05), jitter(r, 0.47*s, 0.03)
	coarse, fine := noiseField(r, c.s, 4), noiseField(r, c.s, 12)
	c.paint(func(x, y, i int) [3]float32 {
		e := ellipseDist(x, y, hx, hy, rx, ry)
		switch {
		case e >= 1:
			return grey(6)
		case e >= 0.84:
			return grey(150 + 20*fine[i])
		}
		return grey(55 + 40*coarse[i] + 14*fine[i])
	})
	for _, f := range fs {
		if f.paintAlt(c, altRing) {
			continue
		}
		base := float32(jitter(r, 215, 0.04))
		tex := noiseField(r, c.s, 10)
		f.paint(c, f.opacity(1), func(x, y, i int, t float32) [3]float32 {
			return grey(base + 18*(1-t) - 10*tex[i])
		})
	}
	c.addNoise(r, 5)
}

// drawBreast: ultrasound look. Brightness falls with depth, a bright skin
// line on top, faint tissue layers and multiplicative speckle; the mass is
// a dark (hypoechoic) irregular blob.
func drawBreast(r *rand.Rand, c *canvas, fs []finding) {
	s := float64(c.s)
	coarse, warp := noiseField(r, c.s, 3), noiseField(r, c.s, 5)
	phase := r.Float64() * 2 * math.Pi
	skin := jitter(r, 0.06*s, 0.2)
	c.paint(func(x, y, i int) [3]float32 {
		fy := float64(y) / s
		if float64(y) < skin {
			return grey(175)
		}
		layer := 16 * math.Sin(2*math.Pi*(fy*4+0.4*float64(warp[i]))+phase)
		return grey(float32(140 - 45*fy + layer + 40*(float64(coarse[i])-0.5)))
	})
	for _, f := range fs {
		if f.paintAlt(c, altRing) {
			continue
		}
		base := float32(jitter(r, 26, 0.2))
		f.paint(c, f.opacity(1), func(x, y, i int, t float32) [3]float32 {
			return grey(base + 14*t)
		})
	}
	// Speckle: multiply by a Rayleigh variable of mean about 1.
	pl := c.planes[0]
	for i := range pl {
		a, b := r.NormFloat64(), r.NormFloat64()
		ray := math.Sqrt(a*a+b*b) / 1.2533
		pl[i] *= float32(0.5 + 0.5*ray)
	}
}

// drawLungCT: axial CT look. Black air outside an elliptic body of soft
// tissue, two dark lung fields with faint vessels; the nodule is a bright,
// nearly round ellipse.
func drawLungCT(r *rand.Rand, c *canvas, fs []finding) {
	s := float64(c.s)
	brx, bry := jitter(r, 0.47*s, 0.03), jitter(r, 0.40*s, 0.05)
	lrx, lry := jitter(r, 0.16*s, 0.08), jitter(r, 0.27*s, 0.08)
	off := jitter(r, 0.2*s, 0.05)
	vessels, tissue := noiseField(r, c.s, 14), noiseField(r, c.s, 5)
	c.paint(func(x, y, i int) [3]float32 {
		if ellipseDist(x, y, s/2, s/2, brx, bry) >= 1 {
			return grey(8)
		}
		if ellipseDist(x, y, s/2-off, 0.48*s, lrx, lry) < 1 || ellipseDist(x, y, s/2+off, 0.48*s, lrx, lry) < 1 {
			v := vessels[i]
			return grey(28 + 60*v*v*v*v)
		}
		return grey(110 + 20*tissue[i])
	})
	for _, f := range fs {
		if f.paintAlt(c, altRing) {
			continue
		}
		base := float32(jitter(r, 225, 0.04))
		f.paint(c, f.opacity(1), func(x, y, i int, t float32) [3]float32 {
			return grey(base + 10*(1-t))
		})
	}
	c.addNoise(r, 4)
}

// drawLungXray: chest radiograph look. A vertical brightness gradient, two
// dark lung fields crossed by curved rib shadows, a bright mediastinum down
// the middle; the opacity is a hazy bright polygon.
func drawLungXray(r *rand.Rand, c *canvas, fs []finding) {
	s := float64(c.s)
	lrx, lry := jitter(r, 0.17*s, 0.08), jitter(r, 0.30*s, 0.06)
	off := jitter(r, 0.21*s, 0.05)
	med := jitter(r, 0.07*s, 0.15)
	period := s / (6 + 2*r.Float64())
	phase := r.Float64()
	c.paint(func(x, y, i int) [3]float32 {
		fx, fy := float64(x)+0.5, float64(y)+0.5
		v := 75 + 45*fy/s
		lung := max(ramp(1-ellipseDist(x, y, s/2-off, 0.45*s, lrx, lry), 0, 0.25),
			ramp(1-ellipseDist(x, y, s/2+off, 0.45*s, lrx, lry), 0, 0.25))
		rib := math.Sin(2 * math.Pi * ((fy+0.12*(fx-s/2)*(fx-s/2)/s)/period + phase))
		rib = math.Pow(max(rib, 0), 6)
		v = v*(1-float64(lung)) + float64(lung)*(40+22*rib)
		dm := (fx - s/2) / med
		v += 70 * math.Exp(-dm*dm)
		return grey(float32(v))
	})
	for _, f := range fs {
		if f.paintAlt(c, altRing) {
			continue
		}
		base := float32(jitter(r, 205, 0.05))
		haze := noiseField(r, c.s, 8)
		f.paint(c, f.opacity(0.9), func(x, y, i int, t float32) [3]float32 {
			return grey(base - 12*t + 10*haze[i])
		})
	}
	c.addNoise(r, 3)
}

// drawPolyp: colonoscopy look. Red-pink mucosa with texture, a strong
// vignette inside a round field of view (black corners) and small specular
// highlights; the polyp is a paler, shaded ellipse lit from the upper left.
func drawPolyp(r *rand.Rand, c *canvas, fs []finding) {
	s := float64(c.s)
	coarse, fine := noiseField(r, c.s, 4), noiseField(r, c.s, 14)
	br, bg, bb := jitter(r, 175, 0.06), jitter(r, 85, 0.12), jitter(r, 75, 0.12)
	fov := 0.5 * s * 1.08
	vig := func(x, y int) float64 {
		dx, dy := float64(x)+0.5-s/2, float64(y)+0.5-s/2
		d := math.Sqrt(dx*dx+dy*dy) / fov
		return 1 - 0.55*d*d
	}
	c.paint(func(x, y, i int) [3]float32 {
		dx, dy := float64(x)+0.5-s/2, float64(y)+0.5-s/2
		if math.Sqrt(dx*dx+dy*dy) > fov {
			return rgb(0, 0, 0)
		}
		t := 40*(float64(coarse[i])-0.5) + 12*(float64(fine[i])-0.5)
		v := vig(x, y)
		return rgb(float32((br+t)*v), float32((bg+0.6*t)*v), float32((bb+0.5*t)*v))
	})
	for range 2 + r.IntN(2) {
		highlight(c, r.IntN(c.s), r.IntN(c.s), max(1, s/90))
	}
	for _, f := range fs {
		if f.paintAlt(c, altUlcer) {
			continue
		}
		l := f.lesion
		pr, pg, pb := jitter(r, 235, 0.03), jitter(r, 155, 0.06), jitter(r, 130, 0.08)
		R := l.radius
		f.paint(c, f.opacity(1), func(x, y, i int, t float32) [3]float32 {
			light := 1 - 0.14*(float64(x-l.cx)+float64(y-l.cy))/(1.4*R) - 0.12*float64(t*t)
			v := light * (0.75 + 0.25*vig(x, y))
			return rgb(float32(pr*v), float32(pg*v), float32(pb*v))
		})
		highlight(c, l.cx-int(0.35*R), l.cy-int(0.35*R), max(1, s/100))
	}
	c.addNoise(r, 3)
}

// highlight paints a small white specular spot of radius rad at (x, y).
func highlight(c *canvas, x, y int, rad float64) {
	n := int(math.Ceil(rad))
	for yy := y - n; yy <= y+n; yy++ {
		for xx := x - n; xx <= x+n; xx++ {
			if xx < 0 || yy < 0 || xx >= c.s || yy >= c.s {
				continue
			}
			d := math.Hypot(float64(xx-x), float64(yy-y))
			if d <= rad {
				c.blend(yy*c.s+xx, float32(1-0.5*d/rad), rgb(250, 250, 245))
			}
		}
	}
}

// drawSkin: dermoscopy look. Skin-tone background (tone varies per image)
// with soft lighting and texture; the lesion is a brown irregular blob with
// a darker core and mottled pigment; a few thin dark hairs cross the image.
func drawSkin(r *rand.Rand, c *canvas, fs []finding) {
	s := float64(c.s)
	sr := 200 + 35*r.Float64()
	sg := sr - 40 - 20*r.Float64()
	sb := sg - 25 - 15*r.Float64()
	ang := r.Float64() * 2 * math.Pi
	gx, gy := math.Cos(ang), math.Sin(ang)
	tex := noiseField(r, c.s, 10)
	c.paint(func(x, y, i int) [3]float32 {
		light := 1 + 0.07*((float64(x)/s-0.5)*gx+(float64(y)/s-0.5)*gy)*2
		t := 10 * (float64(tex[i]) - 0.5)
		return rgb(float32((sr+t)*light), float32((sg+t)*light), float32((sb+t)*light))
	})
	for _, f := range fs {
		if f.paintAlt(c, altMole) {
			continue
		}
		lr := 110 + 40*r.Float64()
		pig := noiseField(r, c.s, 16)
		f.paint(c, f.opacity(1), func(x, y, i int, t float32) [3]float32 {
			v := (0.72 + 0.28*float64(t)) * (0.88 + 0.24*float64(pig[i]))
			return rgb(float32(lr*v), float32(0.62*lr*v), float32(0.45*lr*v))
		})
	}
	for range r.IntN(3) {
		hair(r, c)
	}
	c.addNoise(r, 3)
}

// hair draws one thin, gently curved dark line across part of the image.
func hair(r *rand.Rand, c *canvas) {
	s := float64(c.s)
	x, y := r.Float64()*s, r.Float64()*s
	ang := r.Float64() * 2 * math.Pi
	bend := (r.Float64() - 0.5) * 0.012
	steps := int((0.3 + 0.4*r.Float64()) * s * 2)
	for range steps {
		xi, yi := int(x), int(y)
		if xi >= 0 && yi >= 0 && xi < c.s && yi < c.s {
			c.blend(yi*c.s+xi, 0.7, rgb(55, 40, 30))
		}
		x += 0.5 * math.Cos(ang)
		y += 0.5 * math.Sin(ang)
		ang += bend
	}
}

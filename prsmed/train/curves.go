package train

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
)

// WriteCurves draws each named series (one value per epoch) in its own panel and writes
// the picture as a PNG.
func WriteCurves(path string, names []string, series map[string][]float64) error {
	const w, ph, pad = 640, 160, 36
	h := ph * len(names)
	if h == 0 {
		h = ph
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	palette := []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}}
	gray := color.RGBA{200, 200, 200, 255}
	for i, name := range names {
		v := series[name]
		top := i * ph
		x0, x1, y0, y1 := pad, w-12, top+ph-pad/2, top+pad/2+6
		line(img, x0, y0, x1, y0, gray)
		line(img, x0, y0, x0, y1, gray)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			if !math.IsNaN(x) {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
		if hi <= lo {
			hi, lo = lo+1, lo-1
		}
		label := name
		if len(v) > 0 {
			label += "   last " + trimFloat(v[len(v)-1]) + "   range " + trimFloat(lo) + " .. " + trimFloat(hi)
		}
		text(img, x0, top+pad/2, label)
		c := palette[i%len(palette)]
		px := func(k int) int {
			if len(v) == 1 {
				return (x0 + x1) / 2
			}
			return x0 + k*(x1-x0)/(len(v)-1)
		}
		py := func(x float64) int { return y0 - int(float64(y0-y1)*(x-lo)/(hi-lo)) }
		for k := range v {
			if k > 0 && !math.IsNaN(v[k]) && !math.IsNaN(v[k-1]) {
				line(img, px(k-1), py(v[k-1]), px(k), py(v[k]), c)
			}
			if !math.IsNaN(v[k]) {
				for dx := -2; dx <= 2; dx++ {
					for dy := -2; dy <= 2; dy++ {
						img.Set(px(k)+dx, py(v[k])+dy, c)
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}

func trimFloat(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

func line(img *image.RGBA, xa, ya, xb, yb int, c color.Color) {
	dx, dy := abs(xb-xa), -abs(yb-ya)
	sx, sy := 1, 1
	if xa > xb {
		sx = -1
	}
	if ya > yb {
		sy = -1
	}
	e := dx + dy
	for {
		img.Set(xa, ya, c)
		if xa == xb && ya == yb {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			xa += sx
		}
		if e2 <= dx {
			e += dx
			ya += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func text(img *image.RGBA, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.Black, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

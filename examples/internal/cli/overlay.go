package cli

import (
	"image"
	"image/color"
)

// Overlay draws a prediction over an image: predicted foreground (probability ≥ 0.5)
// tinted red, and the outline of the ground truth (when gt is not nil) in green.
func Overlay(img image.Image, pred *image.Gray, gt *image.Gray) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	fg := func(m *image.Gray, x, y int) bool {
		if m == nil || x < 0 || y < 0 || x >= m.Bounds().Dx() || y >= m.Bounds().Dy() {
			return false
		}
		return m.Pix[y*m.Stride+x] > 127
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			c := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}
			if fg(pred, x, y) {
				c.R = uint8((uint16(c.R) + 255) / 2)
				c.G = uint8(uint16(c.G) / 2)
				c.B = uint8(uint16(c.B) / 2)
			}
			if fg(gt, x, y) && (!fg(gt, x-1, y) || !fg(gt, x+1, y) || !fg(gt, x, y-1) || !fg(gt, x, y+1)) {
				c = color.RGBA{0, 220, 0, 255}
			}
			out.SetRGBA(x, y, c)
		}
	}
	return out
}

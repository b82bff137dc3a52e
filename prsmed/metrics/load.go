package metrics

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // ground-truth masks are sometimes JPEG files
	_ "image/png"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
)

// MaskThreshold is the grey level above which a ground-truth pixel is
// foreground. The official evaluation reads the mask as 8-bit grey, divides
// by 255 and keeps values > 0.5, which is grey > 127.5, i.e. grey ≥ 128.
const MaskThreshold = 127

// LoadImage decodes an image file (PNG, JPEG, BMP, TIFF) with imageio.Load.
func LoadImage(path string) (image.Image, error) { return imageio.Load(path) }

// LoadProb reads a predicted probability mask; see [ProbFromImage].
func LoadProb(path string) (Prob, error) {
	img, err := LoadImage(path)
	if err != nil {
		return Prob{}, err
	}
	p := ProbFromImage(img)
	if err := p.Validate(); err != nil {
		return Prob{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// LoadMask reads a ground-truth mask; see [MaskFromImage].
func LoadMask(path string) (Mask, error) {
	img, err := LoadImage(path)
	if err != nil {
		return Mask{}, err
	}
	m := MaskFromImage(img)
	if err := m.Validate(); err != nil {
		return Mask{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ProbFromImage turns an image into probabilities grey/255, where grey is
// the image's 8-bit grey level: the stored value for 8-bit grey images,
// otherwise the color.GrayModel conversion (ITU-R BT.601 weights; the high
// byte of 16-bit grey; colour images may differ by one level from OpenCV's
// rounding). This is the official cv2.imread(path, 0) / 255.
func ProbFromImage(img image.Image) Prob {
	b := img.Bounds()
	p := NewProb(b.Dx(), b.Dy())
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p.Pix[i] = float64(gray8(img, x, y)) / 255
			i++
		}
	}
	return p
}

// MaskFromImage turns an image into a binary mask: foreground where the
// 8-bit grey level (as in [ProbFromImage]) is above [MaskThreshold].
//
// Note that the zone rule (zones.FromMask) counts every grey level > 0 as
// foreground instead; the two agree on clean 0/255 masks.
func MaskFromImage(img image.Image) Mask {
	b := img.Bounds()
	m := NewMask(b.Dx(), b.Dy())
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			m.Pix[i] = gray8(img, x, y) > MaskThreshold
			i++
		}
	}
	return m
}

// gray8 returns the 8-bit grey level of one pixel.
func gray8(img image.Image, x, y int) uint8 {
	if g, ok := img.(*image.Gray); ok {
		return g.Pix[g.PixOffset(x, y)]
	}
	return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
}

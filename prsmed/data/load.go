package data

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG images (ISIC)
	_ "image/png"
	"os"
	"runtime"
	"sync"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
)

// ErrEmptyMask is wrapped by the error [LoadSample] returns for a mask
// without a foreground pixel (grey level > 0).
var ErrEmptyMask = errors.New("mask has no foreground pixel")

// ErrSizeMismatch is wrapped by the error [LoadSample] and [Validate] return
// when an image and its mask differ in size.
var ErrSizeMismatch = errors.New("image and mask sizes differ")

// LoadSample decodes the sample's image (PNG or JPEG, as stored: grey or
// colour) and its mask, converted to 8-bit grey with color.GrayModel. Mask
// values are kept as stored (0/255 in PosMed); foreground is grey > 0, the
// rule the zones were labelled with. Errors name the sample's CSV file and
// line; an image whose size differs from the mask's gives an error wrapping
// [ErrSizeMismatch], and a mask with no foreground pixel one wrapping
// [ErrEmptyMask] (training code should skip such samples; see [Validate]).
func LoadSample(s Sample) (img image.Image, mask *image.Gray, err error) {
	img, err = decodeFile(s.ImagePath)
	if err != nil {
		return nil, nil, fmt.Errorf("%v: image: %w", s, err)
	}
	m, err := decodeFile(s.MaskPath)
	if err != nil {
		return nil, nil, fmt.Errorf("%v: mask: %w", s, err)
	}
	if ib, mb := img.Bounds(), m.Bounds(); ib.Size() != mb.Size() {
		return nil, nil, fmt.Errorf("%v: %w: image %s is %dx%d, mask %s is %dx%d", s, ErrSizeMismatch,
			s.ImagePath, ib.Dx(), ib.Dy(), s.MaskPath, mb.Dx(), mb.Dy())
	}
	mask = toGray(m)
	if !hasForeground(mask) {
		return nil, nil, fmt.Errorf("%v: mask %s: %w", s, s.MaskPath, ErrEmptyMask)
	}
	return img, mask, nil
}

// decodeFile decodes an image file with imageio.Load.
func decodeFile(path string) (image.Image, error) { return imageio.Load(path) }

// decodeSize reads only the header of an image file.
func decodeSize(path string) (image.Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Point{}, err
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		return image.Point{}, fmt.Errorf("decoding %s: %w", path, err)
	}
	return image.Pt(c.Width, c.Height), nil
}

// toGray converts m to an 8-bit grey image whose bounds start at (0, 0),
// with color.GrayModel for images that are not already 8-bit grey.
func toGray(m image.Image) *image.Gray {
	b := m.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	if g, ok := m.(*image.Gray); ok {
		if b.Min == (image.Point{}) {
			return g
		}
		for y := 0; y < b.Dy(); y++ {
			copy(out.Pix[y*out.Stride:(y+1)*out.Stride], g.Pix[g.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return out
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Pix[y*out.Stride+x] = color.GrayModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return out
}

// hasForeground reports whether any pixel of g is > 0.
func hasForeground(g *image.Gray) bool {
	for y := 0; y < g.Rect.Dy(); y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+g.Rect.Dx()]
		for _, v := range row {
			if v > 0 {
				return true
			}
		}
	}
	return false
}

// Skipped is a sample that [Validate] left out, and why.
type Skipped struct {
	Sample Sample
	Reason string
}

// Validate checks that every sample can be used for training: its image and
// mask decode (the image only as far as its header), have the same size,
// and the mask has a foreground pixel. Samples with an empty mask are
// dropped and listed in skipped; any other problem is returned as an error
// (the one of the earliest sample, naming its CSV file and line). kept
// preserves the order of samples. Files are checked in parallel.
func Validate(samples []Sample) (kept []Sample, skipped []Skipped, err error) {
	errs := make([]error, len(samples))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), max(len(samples), 1)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = check(samples[i])
			}
		})
	}
	for i := range samples {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, e := range errs {
		switch {
		case e == nil:
			kept = append(kept, samples[i])
		case errors.Is(e, ErrEmptyMask):
			skipped = append(skipped, Skipped{Sample: samples[i], Reason: e.Error()})
		default:
			return nil, nil, e
		}
	}
	return kept, skipped, nil
}

// check is Validate for one sample.
func check(s Sample) error {
	size, err := decodeSize(s.ImagePath)
	if err != nil {
		return fmt.Errorf("%v: image: %w", s, err)
	}
	m, err := decodeFile(s.MaskPath)
	if err != nil {
		return fmt.Errorf("%v: mask: %w", s, err)
	}
	if mb := m.Bounds(); mb.Size() != size {
		return fmt.Errorf("%v: %w: image %s is %dx%d, mask %s is %dx%d", s, ErrSizeMismatch,
			s.ImagePath, size.X, size.Y, s.MaskPath, mb.Dx(), mb.Dy())
	}
	if !hasForeground(toGray(m)) {
		return fmt.Errorf("%v: mask %s: %w", s, s.MaskPath, ErrEmptyMask)
	}
	return nil
}

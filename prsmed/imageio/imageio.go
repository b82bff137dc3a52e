// Package imageio decodes images (PNG, JPEG, BMP, TIFF, and DICOM and NIfTI through its
// sub-packages) and turns them into float planes for the encoders' preprocessing. It is
// plain Go (no libtorch), so the metrics and the data reader use it too: every image file
// the project reads goes through Load or LoadWith. The one exception is examples/serve,
// which receives images as bytes over HTTP: PNG, JPEG, BMP and TIFF go through
// image.Decode (the same registered decoders as Load), DICOM and NIfTI through the
// dicom and nifti packages' in-memory parsers with the same options.
package imageio

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG decoding
	_ "image/png"  // PNG decoding
	"os"

	_ "golang.org/x/image/bmp"  // BMP decoding
	_ "golang.org/x/image/tiff" // TIFF decoding
)

// Load decodes an image file (PNG, JPEG, BMP or TIFF, by content), or a DICOM or NIfTI
// file with DefaultOptions (see LoadWith).
func Load(path string) (image.Image, error) {
	img, _, err := LoadWith(path, DefaultOptions())
	return img, err
}

// decodePlain decodes a PNG, JPEG, BMP or TIFF file.
func decodePlain(path string) (image.Image, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		return nil, "", fmt.Errorf("decode %s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, "", fmt.Errorf("decode %s: empty %s image", path, format)
	}
	return img, format, nil
}

// IsGray reports whether the image has one channel (8- or 16-bit gray).
func IsGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// RGBFloats returns the image as three planes (R, G, B, each H×W, row-major) of values in
// [0, 1]: 8-bit channels divided by 255, 16-bit ones by 65535. Gray images repeat their
// one channel; alpha is dropped without compositing (non-premultiplied colour), as PIL's
// convert("RGB") does.
func RGBFloats(img image.Image) (planes []float32, h, w int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	n := w * h
	planes = make([]float32, 3*n)
	set := func(i int, r, g, bl uint16) {
		planes[i] = float32(float64(r) / 65535)
		planes[n+i] = float32(float64(g) / 65535)
		planes[2*n+i] = float32(float64(bl) / 65535)
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := uint16(m.Pix[y*m.Stride+x]) * 257
				set(y*w+x, v, v, v)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := m.Pix[y*m.Stride+4*x:]
				set(y*w+x, uint16(p[0])*257, uint16(p[1])*257, uint16(p[2])*257)
			}
		}
	default:
		gray := IsGray(img)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := img.At(b.Min.X+x, b.Min.Y+y)
				if gray {
					v := color.Gray16Model.Convert(c).(color.Gray16).Y
					set(y*w+x, v, v, v)
					continue
				}
				nc := color.NRGBA64Model.Convert(c).(color.NRGBA64)
				set(y*w+x, nc.R, nc.G, nc.B)
			}
		}
	}
	return planes, h, w
}

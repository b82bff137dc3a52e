package dicom

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
)

// decodeJPEGBaseline decodes an 8-bit JPEG (process 1, or 8-bit process 2/4) frame with
// image/jpeg. For YCbCr-coded colour it writes Y, Cb, Cr and reports ybr, so the caller
// converts with pydicom's coefficients (Pillow and libjpeg round the same formula).
func (f *File) decodeJPEGBaseline(out []float64, b []byte) (ybr bool, err error) {
	if f.bitsAlloc != 8 {
		return false, fmt.Errorf("%w: transfer syntax %s with %d bits allocated (12-bit JPEG is not decoded)", ErrUnsupported, f.ts, f.bitsAlloc)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return false, f.jpegError(err)
	}
	if cfg.Width != f.cols || cfg.Height != f.rows {
		return false, fmt.Errorf("%w: JPEG frame is %d×%d, the file says %d×%d", ErrMalformed, cfg.Width, cfg.Height, f.cols, f.rows)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return false, f.jpegError(err)
	}
	w := f.cols
	switch m := img.(type) {
	case *image.Gray:
		if f.samples != 1 {
			return false, fmt.Errorf("%w: gray JPEG for %d samples", ErrMalformed, f.samples)
		}
		for y := 0; y < f.rows; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = float64(m.Pix[y*m.Stride+x])
			}
		}
		return false, nil
	case *image.YCbCr:
		if f.samples != 3 {
			return false, fmt.Errorf("%w: colour JPEG for %d samples", ErrMalformed, f.samples)
		}
		for y := 0; y < f.rows; y++ {
			for x := 0; x < w; x++ {
				k := 3 * (y*w + x)
				out[k] = float64(m.Y[m.YOffset(x, y)])
				c := m.COffset(x, y)
				out[k+1], out[k+2] = float64(m.Cb[c]), float64(m.Cr[c])
			}
		}
		return true, nil
	case *image.RGBA:
		if f.samples != 3 {
			return false, fmt.Errorf("%w: colour JPEG for %d samples", ErrMalformed, f.samples)
		}
		for y := 0; y < f.rows; y++ {
			for x := 0; x < w; x++ {
				p := m.Pix[y*m.Stride+4*x:]
				k := 3 * (y*w + x)
				out[k], out[k+1], out[k+2] = float64(p[0]), float64(p[1]), float64(p[2])
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("%w: JPEG colour model %T", ErrUnsupported, img)
}

func (f *File) jpegError(err error) error {
	var ue jpeg.UnsupportedError
	if errors.As(err, &ue) {
		return fmt.Errorf("%w: transfer syntax %s: %v", ErrUnsupported, f.ts, err)
	}
	return fmt.Errorf("%w: %s data: %v", ErrMalformed, f.ts, err)
}

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
		// As pydicom with Pillow: an RGB file whose JPEG has no Adobe marker has its
		// components taken as they are; otherwise they are YCbCr, converted by the caller.
		ybr = f.photometric != "RGB" || hasAdobe(b)
		cb, cr := upsample(m, m.Cb), upsample(m, m.Cr)
		for y := 0; y < f.rows; y++ {
			for x := 0; x < w; x++ {
				k := 3 * (y*w + x)
				out[k] = float64(m.Y[m.YOffset(x, y)])
				out[k+1], out[k+2] = float64(cb[y*w+x]), float64(cr[y*w+x])
			}
		}
		return ybr, nil
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

// hasAdobe reports whether a JPEG stream carries an Adobe APP14 segment before its scan.
func hasAdobe(b []byte) bool {
	pos := 2
	for pos+4 <= len(b) && b[pos] == 0xFF {
		m := b[pos+1]
		if m == 0xDA || m == 0xD9 {
			return false
		}
		l := int(b[pos+2])<<8 | int(b[pos+3])
		if m == 0xEE && l >= 7 && pos+9 <= len(b) && string(b[pos+4:pos+9]) == "Adobe" {
			return true
		}
		pos += 2 + l
	}
	return false
}

// upsample returns a chroma plane at full resolution. 4:2:0 and 4:2:2 use libjpeg's
// "fancy" triangle filter (what Pillow gives pydicom); other ratios repeat samples.
func upsample(m *image.YCbCr, c []byte) []byte {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	out := make([]byte, w*h)
	cw := (w + 1) / 2
	row := func(y int) []byte { // chroma row y of the plane, clamped to the image
		return c[y*m.CStride : y*m.CStride+cw]
	}
	switch {
	case m.SubsampleRatio == image.YCbCrSubsampleRatio422 && w >= 2:
		for y := 0; y < h; y++ {
			upsampleRow1(out[y*w:(y+1)*w], row(y))
		}
	case m.SubsampleRatio == image.YCbCrSubsampleRatio420 && w >= 2:
		ch := (h + 1) / 2
		sums := make([]int, cw)
		for y := 0; y < h; y++ {
			cy := y / 2
			other := cy - 1 // the nearer neighbouring chroma row
			if y%2 == 1 {
				other = cy + 1
			}
			other = max(0, min(ch-1, other))
			near, far := row(cy), row(other)
			for i := range sums {
				sums[i] = 3*int(near[i]) + int(far[i])
			}
			upsampleRow2(out[y*w:(y+1)*w], sums)
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = c[m.COffset(b.Min.X+x, b.Min.Y+y)]
			}
		}
	}
	return out
}

// upsampleRow1 doubles a row horizontally: 3/4 of the nearer sample, 1/4 of the other.
func upsampleRow1(dst, src []byte) {
	n := len(src)
	put := func(i int, v int) {
		if i < len(dst) {
			dst[i] = byte(v)
		}
	}
	if n == 1 {
		put(0, int(src[0]))
		put(1, int(src[0]))
		return
	}
	for i := 0; i < n; i++ {
		c := 3 * int(src[i])
		left, right := int(src[max(i-1, 0)]), int(src[min(i+1, n-1)])
		if i == 0 {
			put(0, int(src[0]))
		} else {
			put(2*i, (c+left+1)>>2)
		}
		if i == n-1 {
			put(2*i+1, int(src[i]))
		} else {
			put(2*i+1, (c+right+2)>>2)
		}
	}
}

// upsampleRow2 doubles a row of column sums (3 × nearer row + farther row) horizontally.
func upsampleRow2(dst []byte, sums []int) {
	n := len(sums)
	put := func(i int, v int) {
		if i < len(dst) {
			dst[i] = byte(v)
		}
	}
	if n == 1 {
		put(0, (4*sums[0]+8)>>4)
		put(1, (4*sums[0]+7)>>4)
		return
	}
	for i := 0; i < n; i++ {
		c := 3 * sums[i]
		if i == 0 {
			put(0, (4*sums[0]+8)>>4)
		} else {
			put(2*i, (c+sums[i-1]+8)>>4)
		}
		if i == n-1 {
			put(2*i+1, (4*sums[i]+7)>>4)
		} else {
			put(2*i+1, (c+sums[i+1]+7)>>4)
		}
	}
}

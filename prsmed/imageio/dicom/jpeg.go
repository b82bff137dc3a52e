package dicom

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
)

// decodeJPEGBaseline decodes an 8-bit JPEG (process 1, or 8-bit process 2/4) frame with
// image/jpeg. Colour components are written as stored and ybr reports whether they are
// YCbCr, so the caller converts with pydicom's coefficients (Pillow and libjpeg round the
// same formula). Which they are is decided as pydicom 3 does: a complete Adobe APP14
// segment's transform flag when the stream has one (0: RGB, otherwise YCbCr, as libjpeg
// reads it), else the Photometric Interpretation of the DICOM header. libjpeg's other
// guesses, from a JFIF marker or the component ids, are not used: DICOM's header states
// the colour space (PS3.5 8.2.1), and RGB files with ids 0, 1, 2 (pydicom's
// SC_jpeg_no_color_transform.dcm, SC_rgb_jpeg.dcm) would be read as YCbCr.
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
		ybr = f.storedYCbCr(b)
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
		// image/jpeg returns RGBA, components as stored, when the stream says RGB by an
		// Adobe transform flag of 0 or by the component ids 'R', 'G', 'B'.
		for y := 0; y < f.rows; y++ {
			for x := 0; x < w; x++ {
				p := m.Pix[y*m.Stride+4*x:]
				k := 3 * (y*w + x)
				out[k], out[k+1], out[k+2] = float64(p[0]), float64(p[1]), float64(p[2])
			}
		}
		return f.storedYCbCr(b), nil
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

// storedYCbCr reports whether the three components of JPEG stream b are YCbCr: what a
// complete Adobe APP14 segment's transform flag says, else what the header says.
func (f *File) storedYCbCr(b []byte) bool {
	if t, ok := adobeTransform(b); ok {
		return t != 0
	}
	return f.photometric != "RGB"
}

// adobeTransform returns the transform flag of the Adobe APP14 segment before the first
// scan of JPEG stream b. A segment too short to hold the flag (12 data bytes: "Adobe",
// version, two flag words, transform) does not count, as in libjpeg and image/jpeg.
func adobeTransform(b []byte) (t byte, ok bool) {
	pos := 2
	for pos+4 <= len(b) && b[pos] == 0xFF {
		m := b[pos+1]
		if m == 0xFF { // fill byte before a marker
			pos++
			continue
		}
		if m == 0xDA || m == 0xD9 {
			return 0, false
		}
		l := int(b[pos+2])<<8 | int(b[pos+3])
		if l < 2 {
			return 0, false
		}
		if m == 0xEE && l >= 2+12 && pos+2+l <= len(b) && string(b[pos+4:pos+9]) == "Adobe" {
			return b[pos+4+11], true
		}
		pos += 2 + l
	}
	return 0, false
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

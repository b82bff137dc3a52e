package dicom

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// pixelModule reads and checks the image pixel attributes; its error is returned by Frame.
func (f *File) pixelModule() error {
	if _, ok := f.elems[tagPixelData]; !ok {
		if f.truncated != nil {
			return fmt.Errorf("%w (the file is truncated: %v)", ErrNoPixels, f.truncated)
		}
		return ErrNoPixels
	}
	var err error
	get := func(tag uint32, def int) int {
		v, ok, e := f.intTag(tag)
		if e != nil && err == nil {
			err = e
		}
		if !ok {
			return def
		}
		return v
	}
	rows, cols := get(tagRows, 0), get(tagColumns, 0)
	samples := get(tagSamplesPerPixel, 1)
	bitsAlloc := get(tagBitsAllocated, 0)
	bitsStored := get(tagBitsStored, bitsAlloc)
	rep := get(tagPixelRepresentation, 0)
	planar := get(tagPlanarConfig, 0)
	frames := get(tagNumberOfFrames, 1)
	if err != nil {
		return err
	}
	if frames == 0 {
		frames = 1 // pydicom reads 0 frames as 1
	}
	photo, _ := f.Tag(0x0028, 0x0004)
	photo = strings.ToUpper(strings.TrimSpace(photo))
	if photo == "" {
		photo = "MONOCHROME2"
	}
	switch {
	case rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535:
		return fmt.Errorf("%w: %d rows × %d columns", ErrMalformed, rows, cols)
	case samples != 1 && samples != 3:
		return fmt.Errorf("%w: %d samples per pixel", ErrUnsupported, samples)
	case bitsAlloc == 1 && (samples != 1 || f.ts.encapsulated()):
		return fmt.Errorf("%w: 1-bit pixel data with %d samples in %s", ErrUnsupported, samples, f.ts)
	case bitsAlloc != 1 && bitsAlloc != 8 && bitsAlloc != 16 && bitsAlloc != 32:
		return fmt.Errorf("%w: %d bits allocated", ErrMalformed, bitsAlloc)
	case bitsStored < 1 || bitsStored > bitsAlloc:
		return fmt.Errorf("%w: %d bits stored of %d allocated", ErrMalformed, bitsStored, bitsAlloc)
	case rep != 0 && rep != 1:
		return fmt.Errorf("%w: pixel representation %d", ErrMalformed, rep)
	case planar != 0 && planar != 1:
		return fmt.Errorf("%w: planar configuration %d", ErrMalformed, planar)
	case frames < 0 || frames > MaxFrames:
		return fmt.Errorf("%w: %d frames (limit %d)", ErrMalformed, frames, MaxFrames)
	case rows*cols*samples > MaxFramePixels:
		return fmt.Errorf("%w: a frame of %d × %d × %d values is over the limit of %d", ErrMalformed, rows, cols, samples, MaxFramePixels)
	}
	switch photo {
	case "MONOCHROME1", "MONOCHROME2":
		if samples != 1 {
			return fmt.Errorf("%w: %s with %d samples", ErrMalformed, photo, samples)
		}
	case "RGB", "YBR_FULL", "YBR_FULL_422":
		if samples != 3 {
			return fmt.Errorf("%w: %s with %d samples", ErrMalformed, photo, samples)
		}
		if photo != "RGB" && bitsAlloc != 8 {
			return fmt.Errorf("%w: %s with %d bits allocated", ErrUnsupported, photo, bitsAlloc)
		}
	default:
		return fmt.Errorf("%w: photometric interpretation %q", ErrUnsupported, photo)
	}
	f.rows, f.cols, f.samples, f.frames = rows, cols, samples, frames
	f.bitsAlloc, f.bitsStored, f.signed, f.planar, f.photometric = bitsAlloc, bitsStored, rep == 1, planar, photo
	if f.pixErr != nil {
		return f.pixErr // pixel data truncated, found while parsing
	}
	if f.ts.codec == codecUnsupported {
		return fmt.Errorf("%w: transfer syntax %s", ErrUnsupported, f.ts)
	}
	if f.ts.encapsulated() {
		if f.fragments == nil && f.native != nil {
			return fmt.Errorf("%w: %s pixel data is not encapsulated", ErrMalformed, f.ts)
		}
		if len(f.fragments) == 0 {
			return fmt.Errorf("%w: encapsulated pixel data has no fragments", ErrMalformed)
		}
		return nil
	}
	if f.fragments != nil {
		return fmt.Errorf("%w: encapsulated pixel data in %s", ErrMalformed, f.ts)
	}
	need := uint64(f.nativeFrameBytes()) * uint64(frames)
	if bitsAlloc == 1 { // bits run on across rows and frames
		need = (uint64(rows*cols)*uint64(frames) + 7) / 8
	}
	if uint64(len(f.native)) < need {
		return fmt.Errorf("%w: pixel data has %d bytes, %d frames of %d × %d × %d × %d bits need %d",
			ErrMalformed, len(f.native), frames, rows, cols, samples, bitsAlloc, need)
	}
	return nil
}

// nativeFrameBytes is the size of one uncompressed frame.
func (f *File) nativeFrameBytes() int {
	if f.photometric == "YBR_FULL_422" {
		return f.rows * f.cols * 2 // two luma samples share one Cb, Cr pair
	}
	return f.rows * f.cols * f.samples * f.bitsAlloc / 8
}

// Frames is the number of frames, 0 when the file has no usable pixel data description.
func (f *File) Frames() int { return f.frames }

// Size is each frame's rows, columns and samples per pixel (1 or 3).
func (f *File) Size() (rows, cols, samples int) { return f.rows, f.cols, f.samples }

// Photometric is the photometric interpretation (MONOCHROME1, MONOCHROME2, RGB, ...).
func (f *File) Photometric() string { return f.photometric }

// Err is why the pixel data cannot be decoded (ErrNoPixels, ErrUnsupported, ...), or nil.
func (f *File) Err() error { return f.pixErr }

// Frame decodes frame i: its values after the modality LUT (value × RescaleSlope +
// RescaleIntercept when the file has both), rows × columns × samples, row-major, samples
// interleaved; colour comes as RGB (YBR converted as pydicom's convert_color_space does).
func (f *File) Frame(i int) ([]float64, error) {
	v, err := f.rawFrame(i)
	if err != nil {
		return nil, err
	}
	slope, err1 := f.floatsTag(tagRescaleSlope)
	icpt, err2 := f.floatsTag(tagRescaleIntercept)
	if err1 == nil && err2 == nil && len(slope) > 0 && len(icpt) > 0 {
		for k := range v {
			v[k] = v[k]*slope[0] + icpt[0]
		}
	}
	return v, nil
}

// rawFrame decodes frame i's stored values, converted to RGB where stored as YBR.
func (f *File) rawFrame(i int) ([]float64, error) {
	if f.pixErr != nil {
		return nil, f.pixErr
	}
	if i < 0 || i >= f.frames {
		return nil, fmt.Errorf("dicom: frame %d out of range [0, %d)", i, f.frames)
	}
	n := f.rows * f.cols * f.samples
	var frag []byte
	if f.ts.encapsulated() {
		var err error
		if frag, err = f.frameData(i, f.ts.codec != codecRLE); err != nil {
			return nil, fmt.Errorf("frame %d: %w", i, err)
		}
		// Refuse frames their data cannot hold, before allocating them: RLE expands at
		// most 64 times, each JPEG lossless sample takes at least one bit, and a baseline
		// block of 64 samples at least two.
		ratio := map[codec]uint64{codecRLE: 64, codecJPEGLossless: 8, codecJPEGBaseline: 512}[f.ts.codec]
		if need := uint64(n) * uint64(f.bitsAlloc/8); ratio > 0 && need > ratio*uint64(len(frag))+1024 {
			return nil, fmt.Errorf("frame %d: %w: %d bytes of %s data cannot hold %d values", i, ErrMalformed, len(frag), f.ts, n)
		}
	}
	out := make([]float64, n)
	var err error
	ybr := strings.HasPrefix(f.photometric, "YBR")
	switch f.ts.codec {
	case codecNative:
		fb := f.nativeFrameBytes()
		if f.bitsAlloc == 1 {
			bit := i * n
			for k := range out {
				out[k] = float64(f.native[(bit+k)>>3] >> uint((bit+k)&7) & 1)
			}
			break
		}
		b := f.native[i*fb : (i+1)*fb]
		if f.photometric == "YBR_FULL_422" {
			expand422(out, b, f.rows, f.cols)
		} else {
			f.decodeNative(out, b)
		}
	case codecRLE:
		err = f.decodeRLE(out, frag)
	case codecJPEGBaseline:
		ybr, err = f.decodeJPEGBaseline(out, frag)
	case codecJPEGLossless:
		err = f.decodeJPEGLossless(out, frag)
	default:
		err = fmt.Errorf("%w: transfer syntax %s", ErrUnsupported, f.ts)
	}
	if err != nil {
		return nil, fmt.Errorf("frame %d: %w", i, err)
	}
	if ybr && f.samples == 3 {
		ybrToRGB(out)
	}
	return out, nil
}

// decodeNative reads uncompressed values.
func (f *File) decodeNative(out []float64, b []byte) {
	n := f.rows * f.cols
	bps := f.bitsAlloc / 8
	le := !f.big
	for k := range out {
		idx := k
		if f.samples == 3 && f.planar == 1 {
			// out is interleaved (pixel k/3, sample k%3); planar data holds sample planes.
			idx = (k%3)*n + k/3
		}
		out[k] = f.sampleValue(b[idx*bps:], le)
	}
}

// sampleValue reads one stored sample of bitsAlloc bits, signed when the pixel
// representation says so (as the data type pydicom gives the array).
func (f *File) sampleValue(b []byte, le bool) float64 {
	switch f.bitsAlloc {
	case 8:
		if f.signed {
			return float64(int8(b[0]))
		}
		return float64(b[0])
	case 16:
		var u uint16
		if le {
			u = binary.LittleEndian.Uint16(b)
		} else {
			u = binary.BigEndian.Uint16(b)
		}
		if f.signed {
			return float64(int16(u))
		}
		return float64(u)
	default:
		var u uint32
		if le {
			u = binary.LittleEndian.Uint32(b)
		} else {
			u = binary.BigEndian.Uint32(b)
		}
		if f.signed {
			return float64(int32(u))
		}
		return float64(u)
	}
}

// expand422 reads uncompressed YBR_FULL_422 (Y0 Y1 Cb Cr per pair of pixels) into full
// Y, Cb, Cr samples per pixel.
func expand422(out []float64, b []byte, rows, cols int) {
	n := rows * cols
	for p := 0; p+1 < n; p += 2 {
		y0, y1, cb, cr := b[2*p], b[2*p+1], b[2*p+2], b[2*p+3]
		out[3*p], out[3*p+1], out[3*p+2] = float64(y0), float64(cb), float64(cr)
		out[3*p+3], out[3*p+4], out[3*p+5] = float64(y1), float64(cb), float64(cr)
	}
	if n%2 == 1 { // an odd last pixel keeps its own luma and the previous chroma
		p := n - 1
		out[3*p] = float64(b[2*p])
		if p > 0 {
			out[3*p+1], out[3*p+2] = out[3*p-2], out[3*p-1]
		}
	}
}

// ybrToRGB converts interleaved 8-bit Y, Cb, Cr to R, G, B in float32 arithmetic with
// the coefficients pydicom's convert_color_space uses (ITU-R BT.601 full range).
func ybrToRGB(v []float64) {
	const (
		crR = float32(1.402)
		cbG = float32(-0.114 * 1.772 / 0.587)
		crG = float32(-0.299 * 1.402 / 0.587)
		cbB = float32(1.772)
	)
	clamp := func(x float32) float64 {
		r := math.Floor(float64(x + 0.5))
		return math.Max(0, math.Min(255, r))
	}
	for k := 0; k+2 < len(v); k += 3 {
		y, cb, cr := float32(v[k]), float32(v[k+1])-128, float32(v[k+2])-128
		v[k] = clamp(y + crR*cr)
		v[k+1] = clamp(y + cbG*cb + crG*cr)
		v[k+2] = clamp(y + cbB*cb)
	}
}

// frameData returns the encapsulated bytes of frame i. With one frame every fragment
// belongs to it; otherwise the offset table decides, or one fragment per frame, or (for
// JPEG) fragments are grouped at end-of-image markers.
func (f *File) frameData(i int, jpeg bool) ([]byte, error) {
	join := func(fr [][]byte) []byte {
		if len(fr) == 1 {
			return fr[0]
		}
		var out []byte
		for _, b := range fr {
			out = append(out, b...)
		}
		return out
	}
	switch {
	case f.frames == 1:
		return join(f.fragments), nil
	case len(f.fragments) == f.frames:
		return f.fragments[i], nil
	case len(f.offsets) == f.frames:
		// Offsets count bytes from the first fragment's item tag; each item adds 8.
		start := uint64(f.offsets[i])
		end := uint64(math.MaxUint64)
		if i+1 < f.frames {
			end = uint64(f.offsets[i+1])
		}
		var pos uint64
		var sel [][]byte
		for _, fr := range f.fragments {
			if pos >= start && pos < end {
				sel = append(sel, fr)
			}
			pos += 8 + uint64(len(fr))
		}
		if len(sel) == 0 {
			return nil, fmt.Errorf("%w: offset table entry %d (%d) points at no fragment", ErrMalformed, i, start)
		}
		return join(sel), nil
	case jpeg:
		frame := 0
		var cur [][]byte
		for _, fr := range f.fragments {
			cur = append(cur, fr)
			t := fr
			for len(t) > 0 && t[len(t)-1] == 0 {
				t = t[:len(t)-1]
			}
			if len(t) >= 2 && t[len(t)-2] == 0xFF && t[len(t)-1] == 0xD9 {
				if frame == i {
					return join(cur), nil
				}
				frame++
				cur = nil
			}
		}
		return nil, fmt.Errorf("%w: cannot find frame %d among %d fragments", ErrMalformed, i, len(f.fragments))
	}
	return nil, fmt.Errorf("%w: %d fragments for %d frames and no offset table", ErrMalformed, len(f.fragments), f.frames)
}

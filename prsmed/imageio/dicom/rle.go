package dicom

import (
	"encoding/binary"
	"fmt"
)

// decodeRLE decodes one RLE Lossless frame: a 64-byte header of segment offsets, then one
// PackBits segment per byte plane (most significant byte of each sample first).
func (f *File) decodeRLE(out []float64, b []byte) error {
	if len(b) < 64 {
		return fmt.Errorf("%w: RLE frame of %d bytes has no header", ErrMalformed, len(b))
	}
	bps := f.bitsAlloc / 8
	nseg := int(binary.LittleEndian.Uint32(b))
	if nseg != f.samples*bps {
		return fmt.Errorf("%w: RLE frame has %d segments, %d samples of %d bits need %d", ErrMalformed, nseg, f.samples, f.bitsAlloc, f.samples*bps)
	}
	offs := make([]int, nseg+1)
	for k := 0; k < nseg; k++ {
		o := binary.LittleEndian.Uint32(b[4+4*k:])
		if o < 64 || uint64(o) > uint64(len(b)) || (k > 0 && int(o) < offs[k-1]) {
			return fmt.Errorf("%w: RLE segment %d offset %d (frame has %d bytes)", ErrMalformed, k, o, len(b))
		}
		offs[k] = int(o)
	}
	offs[nseg] = len(b)
	n := f.rows * f.cols
	plane := make([]byte, n)
	for k := range out {
		out[k] = 0
	}
	for seg := 0; seg < nseg; seg++ {
		if err := unpackBits(plane, b[offs[seg]:offs[seg+1]]); err != nil {
			return fmt.Errorf("RLE segment %d: %w", seg, err)
		}
		s, byteIdx := seg/bps, seg%bps
		shift := float64(uint64(1) << (8 * uint(bps-1-byteIdx)))
		for p := 0; p < n; p++ {
			out[p*f.samples+s] += float64(plane[p]) * shift
		}
	}
	if f.signed {
		half := float64(uint64(1) << uint(f.bitsAlloc-1))
		for k, v := range out {
			if v >= half {
				out[k] = v - 2*half
			}
		}
	}
	return nil
}

// unpackBits fills dst from a PackBits segment; extra output (padding) is dropped, too
// little is an error.
func unpackBits(dst, src []byte) error {
	o, i := 0, 0
	for o < len(dst) && i < len(src) {
		h := int(int8(src[i]))
		i++
		switch {
		case h >= 0:
			cnt := h + 1
			if i+cnt > len(src) {
				return fmt.Errorf("%w: literal run past the end of the segment", ErrMalformed)
			}
			o += copy(dst[o:], src[i:i+cnt])
			i += cnt
		case h != -128:
			if i >= len(src) {
				return fmt.Errorf("%w: replicate run past the end of the segment", ErrMalformed)
			}
			v := src[i]
			i++
			for c := 0; c < 1-h && o < len(dst); c++ {
				dst[o] = v
				o++
			}
		}
	}
	if o < len(dst) {
		return fmt.Errorf("%w: segment decodes to %d bytes, %d expected", ErrMalformed, o, len(dst))
	}
	return nil
}

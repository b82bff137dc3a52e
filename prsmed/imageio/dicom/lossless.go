package dicom

import (
	"encoding/binary"
	"fmt"
)

// huffTable is a JPEG Huffman table in canonical form.
type huffTable struct {
	fast    [256]uint16 // codes of up to 8 bits: length<<8 | symbol; 0 when longer
	maxcode [17]int32   // largest code of each length, -1 when none
	mincode [17]int32
	valptr  [17]int32
	vals    []byte
	ok      bool
}

// build makes the decoding tables from the 16 code counts and the symbols.
func (h *huffTable) build(counts []byte, vals []byte) error {
	h.vals = append([]byte(nil), vals...)
	h.fast = [256]uint16{}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		h.valptr[l] = k
		h.mincode[l] = code
		h.maxcode[l] = -1
		if n > 0 {
			h.maxcode[l] = code + n - 1
			if h.maxcode[l] >= 1<<uint(l) {
				return fmt.Errorf("%w: JPEG Huffman table overflows %d-bit codes", ErrMalformed, l)
			}
			if l <= 8 {
				for c := code; c < code+n; c++ {
					sym := uint16(vals[k+c-code])
					lo := c << uint(8-l)
					for j := int32(0); j < 1<<uint(8-l); j++ {
						h.fast[lo+j] = uint16(l)<<8 | sym
					}
				}
			}
		}
		k += n
		code = (code + n) << 1
	}
	h.ok = true
	return nil
}

// bitReader reads entropy-coded bits, removing stuffed zero bytes and stopping at markers.
type bitReader struct {
	d      []byte
	pos    int
	acc    uint64
	n      uint
	marker bool   // a marker stops the data; zeros are fed after it
	real   uint64 // bits read from the data
	used   uint64 // bits consumed
}

func (r *bitReader) fill() {
	for r.n <= 56 {
		var b byte
		if !r.marker && r.pos < len(r.d) {
			b = r.d[r.pos]
			if b == 0xFF {
				if r.pos+1 < len(r.d) && r.d[r.pos+1] == 0x00 {
					r.pos += 2
				} else {
					r.marker = true
					b = 0
				}
			} else {
				r.pos++
			}
			if !r.marker {
				r.real += 8
			}
		}
		r.acc = r.acc<<8 | uint64(b)
		r.n += 8
	}
}

func (r *bitReader) bits(s uint) uint32 {
	if s == 0 {
		return 0
	}
	if r.n < s {
		r.fill()
	}
	r.n -= s
	r.used += uint64(s)
	return uint32(r.acc>>r.n) & (1<<s - 1)
}

func (r *bitReader) decode(h *huffTable) (byte, error) {
	if r.n < 16 {
		r.fill()
	}
	code := uint32(r.acc>>(r.n-16)) & 0xFFFF
	if e := h.fast[code>>8]; e != 0 {
		l := uint(e >> 8)
		r.n -= l
		r.used += uint64(l)
		return byte(e), nil
	}
	for l := 9; l <= 16; l++ {
		c := int32(code >> uint(16-l))
		if c <= h.maxcode[l] {
			r.n -= uint(l)
			r.used += uint64(l)
			return h.vals[h.valptr[l]+c-h.mincode[l]], nil
		}
	}
	return 0, fmt.Errorf("%w: bad Huffman code in JPEG lossless data", ErrMalformed)
}

// restart skips to the byte after the next RST marker and clears the bit buffer.
func (r *bitReader) restart() error {
	r.acc, r.n, r.marker = 0, 0, false
	for r.pos+1 < len(r.d) {
		if r.d[r.pos] == 0xFF && r.d[r.pos+1] >= 0xD0 && r.d[r.pos+1] <= 0xD7 {
			r.pos += 2
			r.real, r.used = 0, 0
			return nil
		}
		if r.d[r.pos] == 0xFF && r.d[r.pos+1] != 0x00 && r.d[r.pos+1] != 0xFF {
			break
		}
		r.pos++
	}
	return fmt.Errorf("%w: missing restart marker in JPEG lossless data", ErrMalformed)
}

// losslessFrame holds the state of one JPEG lossless image.
type losslessFrame struct {
	precision, rows, cols int
	ids                   []byte // component identifiers
	planes                [][]uint16
	dc                    [4]huffTable
	restart               int
}

// decodeJPEGLossless decodes a JPEG lossless (process 14, any predictor) frame: markers,
// Huffman tables, then for each sample the Huffman-coded difference from its prediction.
func (f *File) decodeJPEGLossless(out []float64, b []byte) error {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return fmt.Errorf("%w: JPEG lossless frame does not start with SOI", ErrMalformed)
	}
	var fr *losslessFrame
	pos, scanned := 2, false
	for {
		// Find the next marker (fill bytes 0xFF allowed).
		for pos < len(b) && b[pos] != 0xFF {
			pos++
		}
		for pos+1 < len(b) && b[pos+1] == 0xFF {
			pos++
		}
		if pos+1 >= len(b) {
			if scanned {
				break // a complete scan without EOI: accepted, as libjpeg does
			}
			return fmt.Errorf("%w: JPEG lossless data ends before EOI", ErrMalformed)
		}
		m := b[pos+1]
		pos += 2
		if m == 0xD9 {
			break
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			continue
		}
		if pos+2 > len(b) {
			return fmt.Errorf("%w: truncated JPEG marker segment", ErrMalformed)
		}
		l := int(binary.BigEndian.Uint16(b[pos:]))
		if l < 2 || pos+l > len(b) {
			return fmt.Errorf("%w: JPEG segment length %d past end of data", ErrMalformed, l)
		}
		seg := b[pos+2 : pos+l]
		pos += l
		switch {
		case m == 0xC3:
			if fr != nil && fr.planes != nil {
				return fmt.Errorf("%w: two JPEG frame headers", ErrMalformed)
			}
			hdr, err := f.losslessHeader(seg)
			if err != nil {
				return err
			}
			if fr != nil { // tables and restart interval read before the header
				hdr.dc, hdr.restart = fr.dc, fr.restart
			}
			fr = hdr
		case m == 0xC4:
			if fr == nil {
				fr = &losslessFrame{} // tables may come before the frame header
			}
			if err := fr.tables(seg); err != nil {
				return err
			}
		case m == 0xDD:
			if len(seg) < 2 {
				return fmt.Errorf("%w: bad DRI segment", ErrMalformed)
			}
			if fr == nil {
				fr = &losslessFrame{}
			}
			fr.restart = int(binary.BigEndian.Uint16(seg))
		case m == 0xDA:
			if fr == nil || fr.planes == nil {
				return fmt.Errorf("%w: JPEG scan before the frame header", ErrMalformed)
			}
			n, err := fr.scan(seg, b[pos:])
			if err != nil {
				return err
			}
			pos += n
			scanned = true
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return fmt.Errorf("%w: transfer syntax %s holds a JPEG frame of type SOF%d, not lossless SOF3", ErrUnsupported, f.ts, m-0xC0)
		}
	}
	if fr == nil || fr.planes == nil {
		return fmt.Errorf("%w: JPEG lossless data without a frame", ErrMalformed)
	}
	n := f.rows * f.cols
	half := float64(uint64(1) << uint(f.bitsAlloc-1))
	for s := 0; s < f.samples; s++ {
		pl := fr.planes[s]
		for p := 0; p < n; p++ {
			v := float64(pl[p])
			if f.signed && v >= half {
				v -= 2 * half
			}
			out[p*f.samples+s] = v
		}
	}
	return nil
}

// losslessHeader reads SOF3 and allocates the sample planes once the size is checked
// against the file's attributes.
func (f *File) losslessHeader(seg []byte) (*losslessFrame, error) {
	if len(seg) < 6 {
		return nil, fmt.Errorf("%w: short JPEG frame header", ErrMalformed)
	}
	p := int(seg[0])
	rows := int(binary.BigEndian.Uint16(seg[1:]))
	cols := int(binary.BigEndian.Uint16(seg[3:]))
	nc := int(seg[5])
	switch {
	case p < 2 || p > 16:
		return nil, fmt.Errorf("%w: JPEG lossless precision %d", ErrMalformed, p)
	case rows != f.rows || cols != f.cols:
		return nil, fmt.Errorf("%w: JPEG frame is %d×%d, the file says %d×%d", ErrMalformed, cols, rows, f.cols, f.rows)
	case nc != f.samples:
		return nil, fmt.Errorf("%w: JPEG frame has %d components, the file %d samples", ErrMalformed, nc, f.samples)
	case len(seg) < 6+3*nc:
		return nil, fmt.Errorf("%w: short JPEG frame header", ErrMalformed)
	}
	fr := &losslessFrame{precision: p, rows: rows, cols: cols}
	for c := 0; c < nc; c++ {
		if hv := seg[7+3*c]; hv != 0x11 {
			return nil, fmt.Errorf("%w: JPEG lossless sampling factors %#x", ErrUnsupported, hv)
		}
		fr.ids = append(fr.ids, seg[6+3*c])
		fr.planes = append(fr.planes, make([]uint16, rows*cols))
	}
	return fr, nil
}

// tables reads a DHT segment.
func (fr *losslessFrame) tables(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("%w: short JPEG Huffman table", ErrMalformed)
		}
		class, id := seg[0]>>4, seg[0]&15
		if class > 1 || id > 3 {
			return fmt.Errorf("%w: JPEG Huffman table class %d id %d", ErrMalformed, class, id)
		}
		total := 0
		for _, c := range seg[1:17] {
			total += int(c)
		}
		if total > 256 || len(seg) < 17+total {
			return fmt.Errorf("%w: JPEG Huffman table with %d symbols", ErrMalformed, total)
		}
		if class == 0 { // lossless uses the DC tables
			if err := fr.dc[id].build(seg[1:17], seg[17:17+total]); err != nil {
				return err
			}
		}
		seg = seg[17+total:]
	}
	return nil
}

// scan decodes one scan (SOS header seg, entropy data in data) and returns how many bytes
// of data it used.
func (fr *losslessFrame) scan(seg, data []byte) (int, error) {
	if len(seg) < 1 {
		return 0, fmt.Errorf("%w: short JPEG scan header", ErrMalformed)
	}
	ns := int(seg[0])
	if ns < 1 || ns > len(fr.ids) || len(seg) < 1+2*ns+3 {
		return 0, fmt.Errorf("%w: JPEG scan of %d components", ErrMalformed, ns)
	}
	comps := make([]int, ns)
	tabs := make([]*huffTable, ns)
	for j := 0; j < ns; j++ {
		id, td := seg[1+2*j], seg[2+2*j]>>4
		comps[j] = -1
		for c, cid := range fr.ids {
			if cid == id {
				comps[j] = c
			}
		}
		if comps[j] < 0 || td > 3 || !fr.dc[td].ok {
			return 0, fmt.Errorf("%w: JPEG scan component %d (table %d)", ErrMalformed, id, td)
		}
		tabs[j] = &fr.dc[td]
	}
	pred := int(seg[1+2*ns])
	pt := int(seg[3+2*ns] & 15)
	if pred < 1 || pred > 7 {
		return 0, fmt.Errorf("%w: JPEG lossless predictor %d", ErrUnsupported, pred)
	}
	if pt >= fr.precision {
		return 0, fmt.Errorf("%w: JPEG point transform %d for precision %d", ErrMalformed, pt, fr.precision)
	}
	r := &bitReader{d: data}
	rows, cols := fr.rows, fr.cols
	initial := int32(1) << uint(fr.precision-pt-1)
	mcus, rr := 0, 0 // MCUs since the last restart; the row the interval started on
	startRow, startCol := 0, 0
	for y := 0; y < rows; y++ {
		for x := 0; x < cols; x++ {
			if fr.restart > 0 && mcus == fr.restart {
				if err := r.restart(); err != nil {
					return 0, err
				}
				mcus, rr, startRow, startCol = 0, y, y, x
			}
			for j, c := range comps {
				pl := fr.planes[c]
				i := y*cols + x
				var p int32
				switch {
				case y == startRow && x == startCol:
					p = initial
				case y == rr:
					p = int32(pl[i-1])
				case x == 0:
					p = int32(pl[i-cols])
				default:
					ra, rb, rc := int32(pl[i-1]), int32(pl[i-cols]), int32(pl[i-cols-1])
					switch pred {
					case 1:
						p = ra
					case 2:
						p = rb
					case 3:
						p = rc
					case 4:
						p = ra + rb - rc
					case 5:
						p = ra + ((rb - rc) >> 1)
					case 6:
						p = rb + ((ra - rc) >> 1)
					default:
						p = (ra + rb) >> 1
					}
				}
				s, err := r.decode(tabs[j])
				if err != nil {
					return 0, err
				}
				var diff int32
				switch {
				case s == 0:
				case s == 16:
					diff = 32768
				case s > 16:
					return 0, fmt.Errorf("%w: JPEG lossless difference category %d", ErrMalformed, s)
				default:
					v := int32(r.bits(uint(s)))
					if v < 1<<(s-1) {
						v -= 1<<s - 1
					}
					diff = v
				}
				pl[i] = uint16(p + diff)
			}
			mcus++
		}
	}
	if r.used > r.real {
		return 0, fmt.Errorf("%w: JPEG lossless data ends %d bits early", ErrMalformed, r.used-r.real)
	}
	if pt > 0 {
		for _, c := range comps {
			for i, v := range fr.planes[c] {
				fr.planes[c][i] = v << uint(pt)
			}
		}
	}
	// Leave the reader at the marker that ended the data.
	return r.pos, nil
}

// Package dicom reads DICOM files (PS3.10) far enough to give their pixel data to the model:
// the meta group and the top-level data set in implicit or explicit VR, little or big endian,
// deflated or not, and pixel data stored natively, RLE lossless, JPEG baseline/extended
// (8-bit, through image/jpeg) or JPEG lossless (process 14, any predictor). Files without
// the 128-byte preamble or the meta group are read too, with the transfer syntax guessed
// from the first element as pydicom does.
//
// The reader treats every file as hostile: each length and offset is checked against the
// data before it is used, nothing is allocated from an unchecked header field, sequence
// nesting is bounded (MaxDepth) and so are the pixels per frame (MaxFramePixels).
package dicom

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Limits on what a file may ask for.
const (
	// MaxFileSize is the largest file Open reads.
	MaxFileSize = 2 << 30
	// MaxInflated bounds the size of a deflated data set once inflated.
	MaxInflated = 1 << 30
	// MaxDepth bounds sequence nesting.
	MaxDepth = 32
	// MaxFramePixels bounds rows × columns × samples of one frame.
	MaxFramePixels = 1 << 26
	// MaxFrames bounds the number of frames.
	MaxFrames = 1 << 16
)

// Errors a caller can test with errors.Is.
var (
	// ErrNotDICOM: the data does not look like a DICOM file.
	ErrNotDICOM = errors.New("dicom: not a DICOM file")
	// ErrMalformed: a length, offset or value is inconsistent with the file.
	ErrMalformed = errors.New("dicom: malformed file")
	// ErrUnsupported: a valid file this reader cannot decode (its transfer syntax, or a
	// pixel format such as 1-bit data).
	ErrUnsupported = errors.New("dicom: unsupported")
	// ErrNoPixels: the file carries no pixel data.
	ErrNoPixels = errors.New("dicom: no pixel data")
)

const undefinedLength = 0xFFFFFFFF

// element is one top-level data element.
type element struct {
	vr  string
	val []byte
}

// File is a parsed DICOM file. Its methods are safe for concurrent use.
type File struct {
	ts        syntax
	big       bool // the data set (and native pixel data) is big endian
	elems     map[uint32]element
	pixErr    error // why the pixel data cannot be decoded, or nil
	truncated error // the element that ran past the end of the file, or nil

	rows, cols, samples   int
	frames                int
	bitsAlloc, bitsStored int
	signed                bool
	planar                int
	photometric           string

	native    []byte   // native pixel data
	fragments [][]byte // encapsulated pixel data, without the offset table
	offsets   []uint32 // the basic offset table
}

// Open reads and parses a DICOM file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes (limit %d)", ErrMalformed, path, st.Size(), int64(MaxFileSize))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	d, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// IsDICOM reports whether data starts like a DICOM file: a preamble and "DICM".
func IsDICOM(head []byte) bool {
	return len(head) >= 132 && string(head[128:132]) == "DICM"
}

// Parse parses a DICOM file held in memory; the File keeps references into data.
func Parse(data []byte) (*File, error) {
	p := &parser{d: data}
	pos := 0
	switch {
	case IsDICOM(data):
		pos = 132
	case len(data) >= 4 && string(data[:4]) == "DICM":
		pos = 4
	}
	tsUID, pos, err := p.meta(pos)
	if err != nil {
		return nil, err
	}
	f := &File{elems: map[uint32]element{}}
	if tsUID != "" {
		f.ts = lookupSyntax(tsUID)
	}
	if f.ts.deflated {
		inflated, err := inflate(data[pos:])
		if err != nil {
			return nil, err
		}
		p.d, pos = inflated, 0
	}
	explicit, big, err := p.guess(pos, f.ts, tsUID != "")
	if err != nil {
		return nil, err
	}
	if tsUID == "" {
		switch {
		case !explicit:
			f.ts = lookupSyntax("1.2.840.10008.1.2")
		case big:
			f.ts = lookupSyntax("1.2.840.10008.1.2.2")
		default:
			f.ts = lookupSyntax("1.2.840.10008.1.2.1")
		}
	}
	f.big = big
	if err := p.dataset(f, pos, !big, explicit); err != nil {
		return nil, err
	}
	f.pixErr = f.pixelModule()
	return f, nil
}

// inflate undoes the deflated transfer syntax, refusing more than MaxInflated bytes.
func inflate(b []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(r, MaxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("%w: deflated data set: %v", ErrMalformed, err)
	}
	if n > MaxInflated {
		return nil, fmt.Errorf("%w: deflated data set inflates past %d bytes", ErrMalformed, MaxInflated)
	}
	return out.Bytes(), nil
}

// parser walks the bytes of a file.
type parser struct {
	d []byte
}

func (p *parser) u16(pos int, le bool) uint16 {
	if le {
		return binary.LittleEndian.Uint16(p.d[pos:])
	}
	return binary.BigEndian.Uint16(p.d[pos:])
}

func (p *parser) u32(pos int, le bool) uint32 {
	if le {
		return binary.LittleEndian.Uint32(p.d[pos:])
	}
	return binary.BigEndian.Uint32(p.d[pos:])
}

// header reads one element header at pos. It returns the tag, the VR ("" for items and
// delimiters), where the value starts and its length (undefinedLength for sequences and
// encapsulated pixel data).
func (p *parser) header(pos int, le, explicit bool) (tag uint32, vr string, vpos int, length uint32, err error) {
	if pos < 0 || len(p.d)-pos < 8 {
		return 0, "", 0, 0, fmt.Errorf("%w: truncated element header at byte %d", ErrMalformed, pos)
	}
	tag = uint32(p.u16(pos, le))<<16 | uint32(p.u16(pos+2, le))
	if tag>>16 == 0xFFFE || !explicit {
		vr = "UN"
		if tag>>16 == 0xFFFE {
			vr = ""
		} else if v, ok := implicitVR[tag]; ok {
			vr = v
		}
		return tag, vr, pos + 8, p.u32(pos+4, le), nil
	}
	vr = string(p.d[pos+4 : pos+6])
	switch {
	case longVR[vr]:
		if len(p.d)-pos < 12 {
			return 0, "", 0, 0, fmt.Errorf("%w: truncated element header at byte %d", ErrMalformed, pos)
		}
		return tag, vr, pos + 12, p.u32(pos+8, le), nil
	case shortVR[vr]:
		return tag, vr, pos + 8, uint32(p.u16(pos+6, le)), nil
	}
	return 0, "", 0, 0, fmt.Errorf("%w: invalid VR %q in element %s at byte %d", ErrMalformed, vr, tagString(tag), pos)
}

// meta reads the file meta group (0002,xxxx), always explicit VR little endian (implicit
// accepted, as pydicom does), and returns the transfer syntax UID and where the data set
// starts.
func (p *parser) meta(pos int) (string, int, error) {
	uid := ""
	for len(p.d)-pos >= 8 && binary.LittleEndian.Uint16(p.d[pos:]) == 0x0002 {
		explicit := isVR(p.d[pos+4 : pos+6])
		tag, _, vpos, length, err := p.header(pos, true, explicit)
		if err != nil {
			return "", 0, err
		}
		if length == undefinedLength || uint64(length) > uint64(len(p.d)-vpos) {
			return "", 0, fmt.Errorf("%w: meta element %s length %d past end of file", ErrMalformed, tagString(tag), length)
		}
		if tag == tagTransferSyntax {
			uid = trimText(p.d[vpos : vpos+int(length)])
		}
		pos = vpos + int(length)
	}
	return uid, pos, nil
}

func isVR(b []byte) bool {
	return longVR[string(b)] || shortVR[string(b)]
}

// guess decides the data set's VR encoding and byte order. With a transfer syntax the
// syntax decides, except that explicit/implicit is corrected from the first element as
// pydicom does; without one, both are guessed from the first element.
func (p *parser) guess(pos int, ts syntax, known bool) (explicit, big bool, err error) {
	if len(p.d)-pos < 8 {
		if len(p.d) == pos && known {
			return !ts.implicit, ts.big, nil
		}
		return false, false, fmt.Errorf("%w: no data set", ErrNotDICOM)
	}
	explicit = isVR(p.d[pos+4 : pos+6])
	if known {
		return explicit, ts.big, nil
	}
	le := binary.LittleEndian.Uint16(p.d[pos:])
	be := binary.BigEndian.Uint16(p.d[pos:])
	big = be < le
	// Without a meta group, insist on a plausible first element: a low group number.
	g := le
	if big {
		g = be
	}
	if g == 0 || g > 0x0FFF {
		return false, false, fmt.Errorf("%w: first group %#04x", ErrNotDICOM, g)
	}
	return explicit, big, nil
}

// dataset reads the top-level elements from pos to the end.
func (p *parser) dataset(f *File, pos int, le, explicit bool) error {
	for pos < len(p.d) {
		tag, vr, vpos, length, err := p.header(pos, le, explicit)
		if err != nil {
			return err
		}
		if tag>>16 == 0xFFFE {
			return fmt.Errorf("%w: stray item or delimiter %s at byte %d", ErrMalformed, tagString(tag), pos)
		}
		if length == undefinedLength {
			if tag == tagPixelData {
				frags, end, err := p.fragments(vpos, le)
				if err != nil {
					return err
				}
				if len(frags) == 0 {
					return fmt.Errorf("%w: encapsulated pixel data without an offset table item", ErrMalformed)
				}
				f.offsets = nil
				if bot := frags[0]; len(bot)%4 == 0 {
					for i := 0; i+4 <= len(bot); i += 4 {
						f.offsets = append(f.offsets, binary.LittleEndian.Uint32(bot[i:]))
					}
				}
				f.fragments = frags[1:]
				f.elems[tag] = element{vr: "OB"}
				pos = end
				continue
			}
			end, err := p.skipSequence(vpos, 1, le, explicit && vr != "UN")
			if err != nil {
				return fmt.Errorf("sequence %s: %w", tagString(tag), err)
			}
			f.elems[tag] = element{vr: "SQ"}
			pos = end
			continue
		}
		if uint64(length) > uint64(len(p.d)-vpos) {
			if tag == tagPixelData {
				f.elems[tag] = element{vr: vr}
				f.native = nil
				f.pixErr = fmt.Errorf("%w: pixel data of %d bytes truncated to %d", ErrMalformed, length, len(p.d)-vpos)
				return nil
			}
			// pydicom keeps what it read before a truncated element; so does this reader,
			// and says so in Truncated.
			f.truncated = fmt.Errorf("%w: element %s length %d past end of file (%d bytes left)", ErrMalformed, tagString(tag), length, len(p.d)-vpos)
			return nil
		}
		val := p.d[vpos : vpos+int(length)]
		f.elems[tag] = element{vr: vr, val: val}
		if tag == tagPixelData {
			f.native = val
		}
		pos = vpos + int(length)
	}
	return nil
}

// fragments reads the items of encapsulated pixel data up to the sequence delimiter.
func (p *parser) fragments(pos int, le bool) ([][]byte, int, error) {
	var frags [][]byte
	for {
		tag, _, vpos, length, err := p.header(pos, le, false)
		if err != nil {
			return nil, 0, err
		}
		switch tag {
		case tagSequenceDelim:
			return frags, vpos, nil
		case tagItem:
		default:
			return nil, 0, fmt.Errorf("%w: %s in encapsulated pixel data", ErrMalformed, tagString(tag))
		}
		if length == undefinedLength || uint64(length) > uint64(len(p.d)-vpos) {
			return nil, 0, fmt.Errorf("%w: pixel data fragment of %d bytes past end of file", ErrMalformed, length)
		}
		frags = append(frags, p.d[vpos:vpos+int(length)])
		pos = vpos + int(length)
	}
}

// skipSequence skips the items of an undefined-length sequence and returns where the
// sequence delimiter ends.
func (p *parser) skipSequence(pos, depth int, le, explicit bool) (int, error) {
	if depth > MaxDepth {
		return 0, fmt.Errorf("%w: sequences nested deeper than %d", ErrMalformed, MaxDepth)
	}
	for {
		tag, _, vpos, length, err := p.header(pos, le, false)
		if err != nil {
			return 0, err
		}
		if tag>>16 != 0xFFFE {
			return 0, fmt.Errorf("%w: %s where a sequence item was expected", ErrMalformed, tagString(tag))
		}
		switch {
		case tag == tagSequenceDelim:
			return vpos, nil
		case tag != tagItem:
			return 0, fmt.Errorf("%w: %s where a sequence item was expected", ErrMalformed, tagString(tag))
		case length == undefinedLength:
			pos, err = p.skipItem(vpos, depth+1, le, explicit)
			if err != nil {
				return 0, err
			}
		case uint64(length) > uint64(len(p.d)-vpos):
			return 0, fmt.Errorf("%w: item of %d bytes past end of file", ErrMalformed, length)
		default:
			pos = vpos + int(length)
		}
	}
}

// skipItem skips the elements of an undefined-length item up to its delimiter.
func (p *parser) skipItem(pos, depth int, le, explicit bool) (int, error) {
	if depth > MaxDepth {
		return 0, fmt.Errorf("%w: sequences nested deeper than %d", ErrMalformed, MaxDepth)
	}
	for {
		tag, vr, vpos, length, err := p.header(pos, le, explicit)
		if err != nil {
			return 0, err
		}
		switch {
		case tag == tagItemDelim:
			return vpos, nil
		case tag>>16 == 0xFFFE:
			return 0, fmt.Errorf("%w: %s inside an item", ErrMalformed, tagString(tag))
		case length == undefinedLength:
			pos, err = p.skipSequence(vpos, depth+1, le, explicit && vr != "UN")
			if err != nil {
				return 0, err
			}
		case uint64(length) > uint64(len(p.d)-vpos):
			return 0, fmt.Errorf("%w: element %s of %d bytes past end of file", ErrMalformed, tagString(tag), length)
		default:
			pos = vpos + int(length)
		}
	}
}

func tagString(tag uint32) string {
	return fmt.Sprintf("(%04X,%04X)", tag>>16, tag&0xFFFF)
}

// trimText drops the padding DICOM puts around text values.
func trimText(b []byte) string {
	return strings.Trim(string(b), " \x00")
}

// Tag returns an element's value as text: text VRs as stored (multiple values separated
// by backslashes, padding removed), binary numbers (US, SS, UL, SL, FL, FD) formatted in
// decimal. Sequences and absent elements return false. Only top-level elements are kept.
func (f *File) Tag(group, elem uint16) (string, bool) {
	e, ok := f.elems[uint32(group)<<16|uint32(elem)]
	if !ok || e.vr == "SQ" {
		return "", false
	}
	le := !f.big || group == 0x0002
	var size int
	switch e.vr {
	case "US", "SS":
		size = 2
	case "UL", "SL", "FL":
		size = 4
	case "FD":
		size = 8
	case "OB", "OW", "OF", "OD", "OL", "OV", "UN":
		if uint32(group)<<16|uint32(elem) == tagPixelData {
			return "", false
		}
		return trimText(e.val), true
	default:
		return trimText(e.val), true
	}
	var parts []string
	for i := 0; i+size <= len(e.val); i += size {
		b := e.val[i : i+size]
		var u uint64
		for k := 0; k < size; k++ {
			if le {
				u |= uint64(b[k]) << (8 * k)
			} else {
				u = u<<8 | uint64(b[k])
			}
		}
		switch e.vr {
		case "US", "UL":
			parts = append(parts, strconv.FormatUint(u, 10))
		case "SS":
			parts = append(parts, strconv.FormatInt(int64(int16(u)), 10))
		case "SL":
			parts = append(parts, strconv.FormatInt(int64(int32(u)), 10))
		case "FL":
			parts = append(parts, strconv.FormatFloat(float64(float32frombits(uint32(u))), 'g', -1, 32))
		case "FD":
			parts = append(parts, strconv.FormatFloat(float64frombits(u), 'g', -1, 64))
		}
	}
	return strings.Join(parts, `\`), true
}

// Truncated reports the element that ran past the end of the file, where parsing stopped
// (nil when the whole file was read).
func (f *File) Truncated() error { return f.truncated }

// TransferSyntax returns the transfer syntax's UID and name.
func (f *File) TransferSyntax() (uid, name string) { return f.ts.uid, f.ts.name }

// SOPInstanceUID returns the file's (0008,0018), or "".
func (f *File) SOPInstanceUID() string {
	s, _ := f.Tag(0x0008, 0x0018)
	return s
}

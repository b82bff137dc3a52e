package dicomseg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// elem is one data element to write: a tag, its VR and either a value or (for SQ) items,
// each item a list of elements.
type elem struct {
	tag   uint32
	vr    string
	val   []byte
	items [][]elem
}

func tag(g, e uint16) uint32 { return uint32(g)<<16 | uint32(e) }

// text is a text element (padded to even length by encode).
func text(t uint32, vr, s string) elem { return elem{tag: t, vr: vr, val: []byte(s)} }

// us is a US element of one or more values.
func us(t uint32, vs ...uint16) elem {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return elem{tag: t, vr: "US", val: b}
}

// ul is a UL element of one or more values.
func ul(t uint32, vs ...uint32) elem {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return elem{tag: t, vr: "UL", val: b}
}

// at is an AT element naming one tag.
func at(t, v uint32) elem {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint16(b, uint16(v>>16))
	binary.LittleEndian.PutUint16(b[2:], uint16(v))
	return elem{tag: t, vr: "AT", val: b}
}

// seq is a sequence of items.
func seq(t uint32, items ...[]elem) elem { return elem{tag: t, vr: "SQ", items: items} }

// code is a code sequence item: CodeValue, CodingSchemeDesignator, CodeMeaning.
func code(value, scheme, meaning string) []elem {
	return []elem{text(tag(0x0008, 0x0100), "SH", value), text(tag(0x0008, 0x0102), "SH", scheme), text(tag(0x0008, 0x0104), "LO", meaning)}
}

// ds formats numbers as a DS value (each at most 16 characters).
func ds(vs ...float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		if v == 0 || math.Abs(v) < 1e-12 {
			parts[i] = "0"
			continue
		}
		for p := 12; p >= 1; p-- {
			s := strconv.FormatFloat(v, 'g', p, 64)
			if len(s) <= 16 {
				parts[i] = s
				break
			}
		}
	}
	return strings.Join(parts, `\`)
}

// longVR reports VRs whose explicit-VR header has a 4-byte length.
func longVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// encode writes elements, sorted by tag, in explicit VR little endian with defined
// lengths (sequences and items included).
func encode(buf *bytes.Buffer, es []elem) error {
	sort.SliceStable(es, func(a, b int) bool { return es[a].tag < es[b].tag })
	for i, e := range es {
		if i > 0 && es[i-1].tag == e.tag {
			return fmt.Errorf("dicomseg: element (%04X,%04X) twice", e.tag>>16, e.tag&0xFFFF)
		}
		val := e.val
		if e.vr == "SQ" {
			var body bytes.Buffer
			for _, it := range e.items {
				var ib bytes.Buffer
				if err := encode(&ib, it); err != nil {
					return err
				}
				if ib.Len() > math.MaxUint32-8 {
					return fmt.Errorf("dicomseg: item of (%04X,%04X) too long", e.tag>>16, e.tag&0xFFFF)
				}
				hdr := make([]byte, 8)
				binary.LittleEndian.PutUint16(hdr, 0xFFFE)
				binary.LittleEndian.PutUint16(hdr[2:], 0xE000)
				binary.LittleEndian.PutUint32(hdr[4:], uint32(ib.Len()))
				body.Write(hdr)
				body.Write(ib.Bytes())
			}
			val = body.Bytes()
		} else if len(val)%2 == 1 {
			pad := byte(' ')
			if e.vr == "UI" || e.vr == "OB" {
				pad = 0
			}
			val = append(append([]byte(nil), val...), pad)
		}
		hdr := make([]byte, 0, 12)
		hdr = binary.LittleEndian.AppendUint16(hdr, uint16(e.tag>>16))
		hdr = binary.LittleEndian.AppendUint16(hdr, uint16(e.tag))
		hdr = append(hdr, e.vr...)
		if longVR(e.vr) {
			if int64(len(val)) > math.MaxUint32-1 {
				return fmt.Errorf("dicomseg: (%04X,%04X) is %d bytes, over DICOM's limit", e.tag>>16, e.tag&0xFFFF, len(val))
			}
			hdr = append(hdr, 0, 0)
			hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(val)))
		} else {
			if len(val) > math.MaxUint16 {
				return fmt.Errorf("dicomseg: (%04X,%04X) %s value of %d bytes is too long", e.tag>>16, e.tag&0xFFFF, e.vr, len(val))
			}
			hdr = binary.LittleEndian.AppendUint16(hdr, uint16(len(val)))
		}
		buf.Write(hdr)
		buf.Write(val)
	}
	return nil
}

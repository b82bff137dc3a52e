package tokenizer

import (
	"encoding/binary"
	"math"
)

// This file builds small ModelProto files by hand for the unit tests.

// pb appends protobuf fields to a message.
type pb []byte

func (b pb) key(num, typ int) pb { return binary.AppendUvarint(b, uint64(num)<<3|uint64(typ)) }

func (b pb) varint(num int, v int64) pb {
	return binary.AppendUvarint(b.key(num, wireVarint), uint64(v))
}

func (b pb) bytes(num int, data []byte) pb {
	b = binary.AppendUvarint(b.key(num, wireBytes), uint64(len(data)))
	return append(b, data...)
}

func (b pb) str(num int, s string) pb { return b.bytes(num, []byte(s)) }

func (b pb) float(num int, f float32) pb {
	return binary.LittleEndian.AppendUint32(b.key(num, wireFixed32), math.Float32bits(f))
}

func (b pb) bool(num int, v bool) pb {
	if v {
		return b.varint(num, 1)
	}
	return b.varint(num, 0)
}

// tinySpec describes a hand-made model.
type tinySpec struct {
	pieces         []pieceProto
	modelType      int64
	byteFallback   bool
	addDummyPrefix bool
	removeExtraWS  bool
	charsmap       []byte
	selfTest       [][2]string
}

// tinyPieces is a small vocabulary: meta pieces, then pieces whose scores
// make merge order easy to follow.
func tinyPieces() []pieceProto {
	return []pieceProto{
		{"<unk>", 0, Unknown},
		{"<s>", 0, Control},
		{"</s>", 0, Control},
		{"▁a", -1, Normal},
		{"ab", -2, Normal},
		{"bc", -2, Normal},
		{"▁ab", -3, Normal},
		{"abc", -4, Normal},
		{"▁", -5, Normal},
		{"a", -6, Normal},
		{"b", -7, Normal},
		{"c", -8, Normal},
		{"<x>", 0, UserDefined},
	}
}

func tinyDefaults() tinySpec {
	return tinySpec{pieces: tinyPieces(), modelType: modelBPE, addDummyPrefix: true}
}

func (s tinySpec) bytes() []byte {
	var m pb
	for _, p := range s.pieces {
		var e pb
		e = e.str(1, p.piece).float(2, p.score)
		if p.typ != Normal {
			e = e.varint(3, int64(p.typ))
		}
		m = m.bytes(1, e)
	}
	var tr pb
	tr = tr.varint(3, s.modelType).varint(4, int64(len(s.pieces))).bool(35, s.byteFallback)
	m = m.bytes(2, tr)
	var ns pb
	ns = ns.str(1, "identity").bool(3, s.addDummyPrefix).bool(4, s.removeExtraWS)
	if s.charsmap != nil {
		ns = ns.bytes(2, s.charsmap)
	}
	m = m.bytes(3, ns)
	if len(s.selfTest) > 0 {
		var st pb
		for _, c := range s.selfTest {
			st = st.bytes(1, pb(nil).str(1, c[0]).str(2, c[1]))
		}
		m = m.bytes(4, st)
	}
	return m
}

// withBytePieces appends the 256 byte pieces <0x00> … <0xFF>.
func withBytePieces(ps []pieceProto) []pieceProto {
	const hexDigits = "0123456789ABCDEF"
	for v := 0; v < 256; v++ {
		name := "<0x" + string(hexDigits[v>>4]) + string(hexDigits[v&15]) + ">"
		ps = append(ps, pieceProto{name, 0, Byte})
	}
	return ps
}

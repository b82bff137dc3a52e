package tokenizer

import (
	"fmt"
	"math"
)

// Protocol-buffer wire types used by the SentencePiece ModelProto.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// wireField is one decoded protobuf field: its number, its wire type, and
// its payload (num for varint/fixed types, data for length-delimited ones).
type wireField struct {
	num  uint32
	typ  uint8
	u    uint64
	data []byte
}

// wireFields walks the fields of one serialized protobuf message, calling fn
// for each. It stops at the first error, either from the encoding or from fn.
func wireFields(b []byte, fn func(f wireField) error) error {
	for len(b) > 0 {
		key, n, err := readVarint(b)
		if err != nil {
			return fmt.Errorf("field key: %w", err)
		}
		b = b[n:]
		num := key >> 3
		if num == 0 || num > math.MaxInt32>>2 {
			return fmt.Errorf("%w: invalid field number %d", ErrMalformed, num)
		}
		f := wireField{num: uint32(num), typ: uint8(key & 7)}
		switch f.typ {
		case wireVarint:
			f.u, n, err = readVarint(b)
			if err != nil {
				return fmt.Errorf("field %d: %w", num, err)
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return fmt.Errorf("%w: field %d: truncated fixed64", ErrMalformed, num)
			}
			for i := 7; i >= 0; i-- {
				f.u = f.u<<8 | uint64(b[i])
			}
			b = b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return fmt.Errorf("%w: field %d: truncated fixed32", ErrMalformed, num)
			}
			f.u = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
			b = b[4:]
		case wireBytes:
			size, n, err := readVarint(b)
			if err != nil {
				return fmt.Errorf("field %d length: %w", num, err)
			}
			b = b[n:]
			if size > uint64(len(b)) {
				return fmt.Errorf("%w: field %d: length %d exceeds the %d bytes left",
					ErrMalformed, num, size, len(b))
			}
			f.data = b[:size:size]
			b = b[size:]
		default:
			return fmt.Errorf("%w: field %d: unsupported wire type %d", ErrMalformed, num, f.typ)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// readVarint decodes a base-128 varint from the front of b and returns it
// with the number of bytes it used.
func readVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0, fmt.Errorf("%w: varint overflows 64 bits", ErrMalformed)
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1, nil
		}
	}
	if len(b) < 10 {
		return 0, 0, fmt.Errorf("%w: truncated varint", ErrMalformed)
	}
	return 0, 0, fmt.Errorf("%w: varint longer than 10 bytes", ErrMalformed)
}

// want checks that a field has the wire type its schema declares.
func (f wireField) want(typ uint8, name string) error {
	if f.typ != typ {
		return fmt.Errorf("%w: %s (field %d) has wire type %d, want %d",
			ErrMalformed, name, f.num, f.typ, typ)
	}
	return nil
}

// int32 interprets a varint as a protobuf int32 (negative values are
// sign-extended to 64 bits on the wire).
func (f wireField) int32() int32 { return int32(f.u) }

// bool interprets a varint as a protobuf bool.
func (f wireField) bool() bool { return f.u != 0 }

// float32 interprets a fixed32 as an IEEE-754 float.
func (f wireField) float32() float32 { return math.Float32frombits(uint32(f.u)) }

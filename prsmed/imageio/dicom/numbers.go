package dicom

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

func float32frombits(u uint32) float32 { return math.Float32frombits(u) }
func float64frombits(u uint64) float64 { return math.Float64frombits(u) }

// intTag reads the first value of an integer element (US/SS/UL/SL binary, or IS text).
func (f *File) intTag(tag uint32) (int, bool, error) {
	s, ok := f.Tag(uint16(tag>>16), uint16(tag))
	if !ok || s == "" {
		return 0, false, nil
	}
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		s = s[:i]
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<31 {
		return 0, true, fmt.Errorf("%w: %s is %q, not an integer", ErrMalformed, tagString(tag), s)
	}
	return int(v), true, nil
}

// floatsTag reads all values of a decimal element (DS text or binary floats).
func (f *File) floatsTag(tag uint32) ([]float64, error) {
	s, ok := f.Tag(uint16(tag>>16), uint16(tag))
	if !ok || strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, `\`)
	if len(parts) > 64 {
		parts = parts[:64]
	}
	out := make([]float64, 0, len(parts))
	for _, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: %s value %q is not a number", ErrMalformed, tagString(tag), p)
		}
		out = append(out, v)
	}
	return out, nil
}

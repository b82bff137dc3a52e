package zones

import (
	"fmt"
	"strconv"
)

// Zone is one of the five Clinical Action Zones. The zero value is not a
// zone; functions that fail to find one return it together with false or an
// error.
type Zone int

// The five Clinical Action Zones, in image coordinates (top = first rows,
// left = first columns).
const (
	TopLeft Zone = iota + 1
	TopRight
	BottomLeft
	BottomRight
	Center
)

// All returns the five zones in declaration order. The slice is new on
// every call.
func All() []Zone {
	return []Zone{TopLeft, TopRight, BottomLeft, BottomRight, Center}
}

// Valid reports whether z is one of the five zones.
func (z Zone) Valid() bool {
	return z >= TopLeft && z <= Center
}

// String returns the zone's name as the PosMed annotations spell it:
// "top left", "top right", "bottom left", "bottom right" or "center".
// The zero value prints as "no zone" (what Parse returns when a text names
// none) and other values as "invalid zone n".
func (z Zone) String() string {
	switch z {
	case TopLeft:
		return "top left"
	case TopRight:
		return "top right"
	case BottomLeft:
		return "bottom left"
	case BottomRight:
		return "bottom right"
	case Center:
		return "center"
	}
	if z == 0 {
		return "no zone"
	}
	return "invalid zone " + strconv.Itoa(int(z))
}

// MarshalText encodes a valid zone as its String form, so zones read well in
// JSON. It fails for an invalid zone.
func (z Zone) MarshalText() ([]byte, error) {
	if !z.Valid() {
		return nil, fmt.Errorf("zones: cannot marshal %v", z)
	}
	return []byte(z.String()), nil
}

// UnmarshalText accepts anything [Parse] resolves to exactly one zone, which
// includes every String form.
func (z *Zone) UnmarshalText(b []byte) error {
	v, ok := Parse(string(b))
	if !ok {
		return fmt.Errorf("zones: %q names no single zone", b)
	}
	*z = v
	return nil
}

package volume

import (
	"fmt"
	"strings"
)

// Plane is a slicing direction in patient space.
type Plane int

// The three anatomical planes.
const (
	Axial    Plane = iota // perpendicular to superior–inferior; index 0 most inferior
	Coronal               // perpendicular to anterior–posterior; index 0 most posterior
	Sagittal              // perpendicular to left–right; index 0 the patient's leftmost
)

// ParsePlane reads "axial", "coronal" or "sagittal".
func ParsePlane(s string) (Plane, error) {
	switch strings.ToLower(s) {
	case "axial":
		return Axial, nil
	case "coronal":
		return Coronal, nil
	case "sagittal":
		return Sagittal, nil
	}
	return 0, fmt.Errorf("volume: plane %q (want axial, coronal or sagittal)", s)
}

func (p Plane) String() string {
	switch p {
	case Axial:
		return "axial"
	case Coronal:
		return "coronal"
	case Sagittal:
		return "sagittal"
	}
	return fmt.Sprintf("Plane(%d)", int(p))
}

// normal is the canonical (RAS) axis perpendicular to the plane; rows and cols the
// canonical axes along the image's rows (downwards) and columns (rightwards), with
// whether each runs against the canonical axis.
func (p Plane) layout() (normal, rowAx int, rowRev bool, colAx int, colRev bool, err error) {
	switch p {
	case Axial: // anterior at the top, patient's left on the image's right
		return 2, 1, true, 0, true, nil
	case Coronal: // superior at the top, patient's left on the image's right
		return 1, 2, true, 0, true, nil
	case Sagittal: // superior at the top, anterior on the image's left
		return 0, 2, true, 1, true, nil
	}
	return 0, 0, false, 0, false, fmt.Errorf("volume: plane %d", int(p))
}

// Slices returns how many slices the volume has in plane p (its size along the canonical
// axis normal to p).
func (v *Volume) Slices(p Plane) (int, error) {
	c, err := v.canonical()
	if err != nil {
		return 0, err
	}
	n, _, _, _, _, err := p.layout()
	if err != nil {
		return 0, err
	}
	return c.dims[n], nil
}

// sliceIndex returns the Data index of each pixel of slice index in plane p, row by row,
// and the slice's height and width.
func (v *Volume) sliceIndex(p Plane, index int) ([]int, int, int, error) {
	if err := v.Check(); err != nil {
		return nil, 0, 0, err
	}
	c, err := v.canonical()
	if err != nil {
		return nil, 0, 0, err
	}
	n, ra, rrev, ca, crev, err := p.layout()
	if err != nil {
		return nil, 0, 0, err
	}
	if index < 0 || index >= c.dims[n] {
		return nil, 0, 0, fmt.Errorf("volume: %s slice %d out of range [0, %d)", p, index, c.dims[n])
	}
	h, w := c.dims[ra], c.dims[ca]
	base := c.base + index*c.str[n]
	rs, cs := c.str[ra], c.str[ca]
	if rrev {
		base += (h - 1) * rs
		rs = -rs
	}
	if crev {
		base += (w - 1) * cs
		cs = -cs
	}
	idx := make([]int, h*w)
	for r := 0; r < h; r++ {
		for q := 0; q < w; q++ {
			idx[r*w+q] = base + r*rs + q*cs
		}
	}
	return idx, h, w, nil
}

// Slice returns slice index of plane p as an h×w image, row by row, in radiological
// display orientation, whatever the volume's voxel order (the closest canonical axes are
// used, as Canonical would give them, without copying the volume):
//
//   - axial: anterior at the top, the patient's left on the image's right (viewed from
//     the feet); index 0 is the most inferior slice;
//   - coronal: superior at the top, the patient's left on the image's right (viewed from
//     the front); index 0 is the most posterior slice;
//   - sagittal: superior at the top, anterior on the image's left (viewed from the
//     patient's left); index 0 is the patient's leftmost slice.
//
// Image positions (top, left, ...) are therefore not anatomical sides: "left" in the image
// of an axial or coronal slice is the patient's right.
func (v *Volume) Slice(p Plane, index int) ([]float32, int, int, error) {
	idx, h, w, err := v.sliceIndex(p, index)
	if err != nil {
		return nil, 0, 0, err
	}
	out := make([]float32, len(idx))
	for n, i := range idx {
		out[n] = v.Data[i]
	}
	return out, h, w, nil
}

// PutSlice writes an h×w image laid out as Slice returns it back into slice index of
// plane p.
func (v *Volume) PutSlice(p Plane, index int, vals []float32) error {
	idx, h, w, err := v.sliceIndex(p, index)
	if err != nil {
		return err
	}
	if len(vals) != h*w {
		return fmt.Errorf("volume: %d values for a %d×%d %s slice", len(vals), h, w, p)
	}
	for n, i := range idx {
		v.Data[i] = vals[n]
	}
	return nil
}

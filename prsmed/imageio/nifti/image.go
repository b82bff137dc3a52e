package nifti

import (
	"image"

	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

// Window selects how values become gray levels (see package window).
type Window = window.Window

// Image renders a slice (see Slice) as an 8-bit gray image: with the file's window
// (cal_min..cal_max when set, else the slice's min–max), a preset, an explicit
// centre/width (DICOM's LINEAR function), or min–max.
func (v *Volume) Image(axis, index int, w Window) (image.Image, error) {
	vals, h, wd, err := v.Slice(axis, index)
	if err != nil {
		return nil, err
	}
	norm, err := v.Normalize(vals, w)
	if err != nil {
		return nil, err
	}
	return window.Gray8(norm, h, wd, false), nil
}

// Normalize maps slice values to [0, 1] through w, as Image does before rounding.
func (v *Volume) Normalize(vals []float64, w Window) ([]float64, error) {
	switch w.Kind {
	case window.Explicit:
		return window.Normalize(nil, vals, w.Center, w.Width, window.Linear)
	case window.FromFile:
		if lo, hi, ok := v.CalRange(); ok {
			return window.Normalize(nil, vals, (lo+hi)/2, hi-lo, window.LinearExact)
		}
	}
	return window.NormalizeMinMax(nil, vals), nil
}

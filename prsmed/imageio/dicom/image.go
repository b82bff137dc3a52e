package dicom

import (
	"fmt"
	"image"
	"math"

	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

// Window selects how values become gray levels (see package window).
type Window = window.Window

// Image renders frame i as an 8-bit image for the model. Gray frames go through w: the
// file's WindowCenter/WindowWidth (its VOILUTFunction honoured; min–max when it has none),
// a preset, explicit centre/width (DICOM's LINEAR function), or min–max; MONOCHROME1 is
// inverted. Colour frames are scaled from 0..2^BitsStored-1 and come back as *image.RGBA.
func (f *File) Image(i int, w Window) (image.Image, error) {
	v, err := f.Frame(i)
	if err != nil {
		return nil, err
	}
	if f.samples == 3 {
		scale := math.Ldexp(1, f.bitsStored) - 1
		for k := range v {
			v[k] /= scale
		}
		return window.RGB8(v, f.rows, f.cols), nil
	}
	norm, err := f.Normalize(v, w)
	if err != nil {
		return nil, err
	}
	return window.Gray8(norm, f.rows, f.cols, f.photometric == "MONOCHROME1"), nil
}

// Normalize maps gray values (from Frame) to [0, 1] through w, as Image does before
// rounding to 8 bits (MONOCHROME1 not yet inverted). For the file's window this is
// pydicom's apply_voi_lut scaled to [0, 1].
func (f *File) Normalize(v []float64, w Window) ([]float64, error) {
	switch w.Kind {
	case window.MinMax:
		return window.NormalizeMinMax(nil, v), nil
	case window.Explicit:
		return window.Normalize(nil, v, w.Center, w.Width, window.Linear)
	}
	c, w2, fn, ok, err := f.FileWindow(w.Index)
	if err != nil {
		return nil, err
	}
	if !ok {
		return window.NormalizeMinMax(nil, v), nil
	}
	return window.Normalize(nil, v, c, w2, fn)
}

// FileWindow returns the file's index-th window (centre, width and VOI LUT function);
// ok is false when the file has none.
func (f *File) FileWindow(index int) (center, width float64, fn window.Func, ok bool, err error) {
	cs, err := f.floatsTag(tagWindowCenter)
	if err != nil {
		return 0, 0, 0, false, err
	}
	ws, err := f.floatsTag(tagWindowWidth)
	if err != nil {
		return 0, 0, 0, false, err
	}
	if len(cs) == 0 || len(ws) == 0 {
		return 0, 0, 0, false, nil
	}
	if index < 0 || index >= len(cs) || index >= len(ws) {
		return 0, 0, 0, false, fmt.Errorf("%w: window %d of %d", window.ErrBadWindow, index, min(len(cs), len(ws)))
	}
	name, _ := f.Tag(0x0028, 0x1056)
	fn, err = window.ParseFunc(name)
	if err != nil {
		return 0, 0, 0, false, err
	}
	return cs[index], ws[index], fn, true, nil
}

// Package window maps medical image values (Hounsfield units, MR intensities) to the 8-bit
// gray levels the model sees: a window (centre and width) from the file, a named preset,
// explicit numbers, or the slice's own minimum and maximum.
package window

import (
	"errors"
	"fmt"
	"image"
	"math"
	"strconv"
	"strings"
)

// Kind says where a Window's centre and width come from.
type Kind int

const (
	// FromFile uses the file's own window (DICOM WindowCenter/WindowWidth, NIfTI
	// cal_min/cal_max) and falls back to min–max when the file has none.
	FromFile Kind = iota
	// Explicit uses Center and Width (also how presets are stored).
	Explicit
	// MinMax stretches the image's own minimum..maximum to 0..255.
	MinMax
)

// Window selects how values become gray levels. The zero value is FromFile.
type Window struct {
	Kind   Kind
	Center float64
	Width  float64
	// Name is the preset's name, or empty.
	Name string
	// Index picks one of several windows a DICOM file carries (FromFile only).
	Index int
}

// presets holds the usual CT windows (centre, width) in Hounsfield units.
var presets = map[string][2]float64{
	"lung":        {-600, 1500},
	"mediastinum": {50, 350},
	"brain":       {40, 80},
	"bone":        {400, 1800},
	"abdomen":     {50, 400},
}

// ErrBadWindow is returned for windows that cannot be used (unknown preset, width <= 0).
var ErrBadWindow = errors.New("window: bad window")

// File is the file's own window (the default).
func File() Window { return Window{Kind: FromFile} }

// CenterWidth is an explicit window.
func CenterWidth(center, width float64) Window {
	return Window{Kind: Explicit, Center: center, Width: width}
}

// MinMaxWindow stretches each image's own range.
func MinMaxWindow() Window { return Window{Kind: MinMax} }

// Preset returns a named CT window: lung, mediastinum, brain, bone or abdomen.
func Preset(name string) (Window, error) {
	p, ok := presets[strings.ToLower(name)]
	if !ok {
		return Window{}, fmt.Errorf("%w: unknown preset %q (lung, mediastinum, brain, bone, abdomen)", ErrBadWindow, name)
	}
	return Window{Kind: Explicit, Center: p[0], Width: p[1], Name: strings.ToLower(name)}, nil
}

// Parse reads a window as written on a command line: "" or "file" (the file's window),
// "file:N" (its N-th window), "minmax", a preset name, or "CENTER,WIDTH" (e.g. "-600,1500").
func Parse(s string) (Window, error) {
	s = strings.TrimSpace(s)
	low := strings.ToLower(s)
	switch {
	case low == "" || low == "file" || low == "auto":
		return File(), nil
	case strings.HasPrefix(low, "file:"):
		i, err := strconv.Atoi(low[5:])
		if err != nil || i < 0 {
			return Window{}, fmt.Errorf("%w: %q (file:N with N >= 0)", ErrBadWindow, s)
		}
		return Window{Kind: FromFile, Index: i}, nil
	case low == "minmax" || low == "min-max":
		return MinMaxWindow(), nil
	}
	if _, ok := presets[low]; ok {
		return Preset(low)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return Window{}, fmt.Errorf("%w: %q (file, minmax, a preset or CENTER,WIDTH)", ErrBadWindow, s)
	}
	c, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	w, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	if err1 != nil || err2 != nil || math.IsNaN(c) || math.IsInf(c, 0) || !(w > 0) || math.IsInf(w, 0) {
		return Window{}, fmt.Errorf("%w: %q (CENTER,WIDTH with WIDTH > 0)", ErrBadWindow, s)
	}
	return CenterWidth(c, w), nil
}

// String writes the window so that Parse reads it back.
func (w Window) String() string {
	switch w.Kind {
	case MinMax:
		return "minmax"
	case Explicit:
		if w.Name != "" {
			return w.Name
		}
		return strconv.FormatFloat(w.Center, 'g', -1, 64) + "," + strconv.FormatFloat(w.Width, 'g', -1, 64)
	}
	if w.Index > 0 {
		return "file:" + strconv.Itoa(w.Index)
	}
	return "file"
}

// Func is a VOI LUT function as DICOM names it.
type Func int

const (
	// Linear is DICOM's default LINEAR function (centre - 0.5, width - 1).
	Linear Func = iota
	// LinearExact uses centre and width as given.
	LinearExact
	// Sigmoid is DICOM's SIGMOID function.
	Sigmoid
)

// ParseFunc reads a VOILUTFunction value; empty means Linear.
func ParseFunc(s string) (Func, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "LINEAR":
		return Linear, nil
	case "LINEAR_EXACT":
		return LinearExact, nil
	case "SIGMOID":
		return Sigmoid, nil
	}
	return Linear, fmt.Errorf("%w: unknown VOI LUT function %q", ErrBadWindow, s)
}

// Normalize maps values through a window to [0, 1], the way pydicom's apply_voi_lut does
// before its output range is scaled: for Linear, values <= c-0.5-(w-1)/2 give 0, values >
// c-0.5+(w-1)/2 give 1, and ((x-(c-0.5))/(w-1)+0.5) between.
func Normalize(dst, vals []float64, center, width float64, f Func) ([]float64, error) {
	if math.IsNaN(center) || math.IsInf(center, 0) || math.IsNaN(width) || math.IsInf(width, 0) {
		return nil, fmt.Errorf("%w: centre %v width %v", ErrBadWindow, center, width)
	}
	if cap(dst) < len(vals) {
		dst = make([]float64, len(vals))
	}
	dst = dst[:len(vals)]
	switch f {
	case Sigmoid:
		if width <= 0 {
			return nil, fmt.Errorf("%w: width %v <= 0", ErrBadWindow, width)
		}
		for i, x := range vals {
			dst[i] = 1 / (1 + math.Exp(-4*(x-center)/width))
		}
		return dst, nil
	case Linear:
		if width < 1 {
			return nil, fmt.Errorf("%w: width %v < 1 for a LINEAR window", ErrBadWindow, width)
		}
		center -= 0.5
		width--
	default:
		if width <= 0 {
			return nil, fmt.Errorf("%w: width %v <= 0", ErrBadWindow, width)
		}
	}
	lo, hi := center-width/2, center+width/2
	for i, x := range vals {
		switch {
		case x <= lo:
			dst[i] = 0
		case x > hi:
			dst[i] = 1
		default:
			dst[i] = (x-center)/width + 0.5
		}
	}
	return dst, nil
}

// NormalizeMinMax maps the values' own range to [0, 1]; a constant image gives 0. NaNs are
// ignored for the range and map to 0.
func NormalizeMinMax(dst, vals []float64) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range vals {
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	if cap(dst) < len(vals) {
		dst = make([]float64, len(vals))
	}
	dst = dst[:len(vals)]
	span := hi - lo
	for i, x := range vals {
		if !(span > 0) || math.IsNaN(x) || math.IsInf(span, 0) {
			dst[i] = 0
			continue
		}
		dst[i] = (x - lo) / span
	}
	return dst
}

// Level8 turns a value in [0, 1] into a gray level, rounding to nearest; out of range
// values (and NaN) are clamped.
func Level8(v float64) uint8 {
	switch {
	case !(v > 0):
		return 0
	case v >= 1:
		return 255
	}
	return uint8(math.Floor(v*255 + 0.5))
}

// Gray8 builds an 8-bit gray image (rows × cols) from normalized values, inverting when
// invert is set (DICOM MONOCHROME1).
func Gray8(norm []float64, rows, cols int, invert bool) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, cols, rows))
	for i, v := range norm[:rows*cols] {
		if invert {
			v = 1 - v
		}
		img.Pix[i] = Level8(v)
	}
	return img
}

// RGB8 builds an 8-bit colour image from interleaved normalized R, G, B values.
func RGB8(norm []float64, rows, cols int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, cols, rows))
	n := rows * cols
	for i := 0; i < n; i++ {
		img.Pix[4*i] = Level8(norm[3*i])
		img.Pix[4*i+1] = Level8(norm[3*i+1])
		img.Pix[4*i+2] = Level8(norm[3*i+2])
		img.Pix[4*i+3] = 255
	}
	return img
}

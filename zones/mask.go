package zones

import (
	"errors"
	"image"
	"image/color"
	"math"
)

// ErrEmptyMask is returned (wrapped) by [FromMask], [Near], [Locate] and
// [LocateFunc] when the mask has no foreground pixel. PosMed skips such
// masks ("no mask").
var ErrEmptyMask = errors.New("zones: mask has no foreground pixel")

// NearFraction is the labelling rule's "near the centre" radius as a fraction
// of the image width: a lesion is near when the centre of its bounding box
// lies strictly closer than NearFraction·width to the image centre.
const NearFraction = 0.2

// Location is where a lesion lies according to the PosMed labelling rule.
type Location struct {
	// Zone is the Clinical Action Zone of the foreground bounding box.
	Zone Zone
	// Near reports whether the lesion counts as near the image centre.
	// It is always true for Center.
	Near bool
	// Box is the foreground bounding box, half-open like every
	// image.Rectangle: the foreground pixels span columns Box.Min.X to
	// Box.Max.X-1 and rows Box.Min.Y to Box.Max.Y-1, in the coordinates of
	// the image's own Bounds.
	Box image.Rectangle
}

// FromMask returns the Clinical Action Zone of the lesion in mask m; see
// [Locate] for the exact rule. An empty mask gives an error wrapping
// [ErrEmptyMask].
func FromMask(m image.Image) (Zone, error) {
	loc, err := Locate(m)
	return loc.Zone, err
}

// Near reports whether the lesion in mask m lies near the image centre; see
// [Locate] for the exact rule. An empty mask gives an error wrapping
// [ErrEmptyMask].
func Near(m image.Image) (bool, error) {
	loc, err := Locate(m)
	return loc.Near, err
}

// Locate applies the rule that labelled PosMed (the official
// data_processing/mask_position.py) to mask m.
//
// Foreground: a pixel is foreground when its grey value is > 0. 8-bit images
// are converted with color.GrayModel (so a grey PNG is read as is); images
// whose colour model is 16-bit (Gray16, RGBA64, NRGBA64) are converted with
// color.Gray16Model, so any non-zero 16-bit grey level counts.
//
// Coordinates: pixels are addressed by integer column x and row y counted
// from the top-left corner of m.Bounds(), so every coordinate below names a
// whole pixel, not a pixel centre. For a W×H mask the image centre is the
// pixel (cx, cy) = (W/2, H/2) with integer (floor) division: for even sizes
// it is the pixel just right of and below the geometric centre.
//
// With minX, maxX, minY, maxY the inclusive extremes of the foreground:
//
//  1. If minX ≤ cx ≤ maxX and minY ≤ cy ≤ maxY (the bounding box covers the
//     centre pixel), the zone is [Center] and Near is true.
//  2. Otherwise the box centre is tx = (minX+maxX)/2, ty = (minY+maxY)/2
//     (floor division). Columns tx < cx are left and tx ≥ cx right; rows
//     ty < cy are top and ty ≥ cy bottom, so ties go right and bottom.
//  3. Near is true when the Euclidean distance between (tx, ty) and
//     (cx, cy), computed in float64, is strictly less than
//     [NearFraction]·W.
func Locate(m image.Image) (Location, error) {
	b := m.Bounds()
	fg := foreground(m)
	loc, err := LocateFunc(b.Dx(), b.Dy(), func(x, y int) bool {
		return fg(b.Min.X+x, b.Min.Y+y)
	})
	if err != nil {
		return Location{}, err
	}
	loc.Box = loc.Box.Add(b.Min)
	return loc, nil
}

// LocateFunc is [Locate] for a mask given as a predicate: fg(x, y) reports
// whether the pixel in column x and row y of a w×h mask is foreground, with
// 0 ≤ x < w and 0 ≤ y < h. Box is returned in those coordinates. An empty
// mask, including one with w or h ≤ 0, gives an error wrapping
// [ErrEmptyMask].
func LocateFunc(w, h int, fg func(x, y int) bool) (Location, error) {
	minX, minY, maxX, maxY := w, h, -1, -1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if !fg(x, y) {
				continue
			}
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, y), max(maxY, y)
		}
	}
	if maxX < 0 {
		return Location{}, ErrEmptyMask
	}
	box := image.Rect(minX, minY, maxX+1, maxY+1)
	cx, cy := w/2, h/2
	if minX <= cx && cx <= maxX && minY <= cy && cy <= maxY {
		return Location{Zone: Center, Near: true, Box: box}, nil
	}
	tx, ty := (minX+maxX)/2, (minY+maxY)/2
	dx, dy := float64(tx-cx), float64(ty-cy)
	loc := Location{
		Near: math.Sqrt(dx*dx+dy*dy) < NearFraction*float64(w),
		Box:  box,
	}
	switch {
	case tx < cx && ty < cy:
		loc.Zone = TopLeft
	case ty < cy:
		loc.Zone = TopRight
	case tx < cx:
		loc.Zone = BottomLeft
	default:
		loc.Zone = BottomRight
	}
	return loc, nil
}

// foreground returns the "grey value > 0" test for m in m's own
// coordinates, with fast paths for the common grey image types.
func foreground(m image.Image) func(x, y int) bool {
	switch g := m.(type) {
	case *image.Gray:
		return func(x, y int) bool { return g.Pix[g.PixOffset(x, y)] > 0 }
	case *image.Gray16:
		return func(x, y int) bool {
			i := g.PixOffset(x, y)
			return g.Pix[i]|g.Pix[i+1] != 0
		}
	case *image.Paletted:
		on := make([]bool, len(g.Palette))
		for i, c := range g.Palette {
			on[i] = color.GrayModel.Convert(c).(color.Gray).Y > 0
		}
		return func(x, y int) bool {
			i := int(g.Pix[g.PixOffset(x, y)])
			return i < len(on) && on[i]
		}
	}
	switch m.ColorModel() {
	case color.Gray16Model, color.RGBA64Model, color.NRGBA64Model:
		return func(x, y int) bool {
			return color.Gray16Model.Convert(m.At(x, y)).(color.Gray16).Y > 0
		}
	}
	return func(x, y int) bool {
		return color.GrayModel.Convert(m.At(x, y)).(color.Gray).Y > 0
	}
}

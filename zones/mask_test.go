package zones

import (
	"errors"
	"image"
	"image/color"
	"testing"
)

// grayMask returns a w×h grey mask (origin at org) with value v in the
// half-open rectangles rs, given relative to the origin.
func grayMask(org image.Point, w, h int, v uint8, rs ...image.Rectangle) *image.Gray {
	m := image.NewGray(image.Rectangle{org, org.Add(image.Pt(w, h))})
	for _, r := range rs {
		r = r.Add(org)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				m.SetGray(x, y, color.Gray{v})
			}
		}
	}
	return m
}

// px is the one-pixel rectangle at (x, y).
func px(x, y int) image.Rectangle { return image.Rect(x, y, x+1, y+1) }

func TestLocate(t *testing.T) {
	o := image.Point{}
	tests := []struct {
		name string
		m    image.Image
		zone Zone
		near bool
		box  image.Rectangle
	}{
		// 10×10: centre pixel (5, 5); near radius 2.
		{"centre pixel", grayMask(o, 10, 10, 255, px(5, 5)), Center, true, px(5, 5)},
		{"box covers centre", grayMask(o, 10, 10, 255, image.Rect(0, 0, 6, 6)), Center, true, image.Rect(0, 0, 6, 6)},
		{"box ends just before centre", grayMask(o, 10, 10, 255, image.Rect(0, 0, 5, 5)), TopLeft, false, image.Rect(0, 0, 5, 5)},
		{"pixel left of centre pixel", grayMask(o, 10, 10, 1, px(4, 5)), BottomLeft, true, px(4, 5)},
		{"pixel above centre pixel", grayMask(o, 10, 10, 1, px(5, 4)), TopRight, true, px(5, 4)},
		{"x tie goes right", grayMask(o, 10, 10, 9, image.Rect(4, 0, 7, 2)), TopRight, false, image.Rect(4, 0, 7, 2)},
		{"y tie goes bottom", grayMask(o, 10, 10, 9, image.Rect(0, 4, 2, 7)), BottomLeft, false, image.Rect(0, 4, 2, 7)},
		{"x just left", grayMask(o, 10, 10, 9, image.Rect(3, 0, 6, 2)), TopLeft, false, image.Rect(3, 0, 6, 2)},
		{"bottom right corner", grayMask(o, 10, 10, 200, px(9, 9)), BottomRight, false, px(9, 9)},
		{"two blobs span centre", grayMask(o, 10, 10, 200, px(0, 0), px(9, 9)), Center, true, image.Rect(0, 0, 10, 10)},
		{"two blobs left", grayMask(o, 10, 10, 200, px(0, 0), px(1, 9)), TopLeft, false, image.Rect(0, 0, 2, 10)},
		// 9×7: centre pixel (4, 3).
		{"odd size centre", grayMask(o, 9, 7, 255, px(4, 3)), Center, true, px(4, 3)},
		{"odd size right", grayMask(o, 9, 7, 255, px(5, 3)), BottomRight, true, px(5, 3)},
		{"odd size top left", grayMask(o, 9, 7, 255, px(3, 2)), TopLeft, true, px(3, 2)},
		// 100×100: centre (50, 50); near when distance < 20.
		{"near inside radius", grayMask(o, 100, 100, 255, px(31, 50)), BottomLeft, true, px(31, 50)},
		{"far on radius", grayMask(o, 100, 100, 255, px(30, 50)), BottomLeft, false, px(30, 50)},
		{"near diagonal", grayMask(o, 100, 100, 255, px(64, 36)), TopRight, true, px(64, 36)},
		{"far diagonal", grayMask(o, 100, 100, 255, px(65, 35)), TopRight, false, px(65, 35)},
		// Radius uses the width: 100 wide, 20 high, radius 20.
		{"wide image", grayMask(o, 100, 20, 255, image.Rect(31, 8, 33, 10)), TopLeft, true, image.Rect(31, 8, 33, 10)},
		{"tall image", grayMask(o, 20, 100, 255, image.Rect(0, 35, 2, 37)), TopLeft, false, image.Rect(0, 35, 2, 37)},
		{"shifted bounds", grayMask(image.Pt(10, -3), 10, 10, 255, px(9, 9)), BottomRight, false, px(9, 9).Add(image.Pt(10, -3))},
		{"1×1 image", grayMask(o, 1, 1, 255, px(0, 0)), Center, true, px(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := Locate(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			want := Location{tt.zone, tt.near, tt.box}
			if loc != want {
				t.Errorf("Locate = %+v, want %+v", loc, want)
			}
			z, err := FromMask(tt.m)
			if err != nil || z != tt.zone {
				t.Errorf("FromMask = %v, %v; want %v", z, err, tt.zone)
			}
			n, err := Near(tt.m)
			if err != nil || n != tt.near {
				t.Errorf("Near = %v, %v; want %v", n, err, tt.near)
			}
		})
	}
}

func TestLocateEmpty(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(0, 0, 4, 4))
	// 8-bit colour (1, 0, 0) is grey 0: no foreground.
	rgba.Set(1, 1, color.RGBA{1, 0, 0, 255})
	tests := []struct {
		name string
		m    image.Image
	}{
		{"all zero", image.NewGray(image.Rect(0, 0, 8, 8))},
		{"zero size", image.NewGray(image.Rect(0, 0, 0, 0))},
		{"dark red only", rgba},
	}
	for _, tt := range tests {
		if _, err := FromMask(tt.m); !errors.Is(err, ErrEmptyMask) {
			t.Errorf("%s: FromMask error = %v, want ErrEmptyMask", tt.name, err)
		}
		if _, err := Near(tt.m); !errors.Is(err, ErrEmptyMask) {
			t.Errorf("%s: Near error = %v, want ErrEmptyMask", tt.name, err)
		}
	}
	if _, err := LocateFunc(-1, 5, func(int, int) bool { return true }); !errors.Is(err, ErrEmptyMask) {
		t.Errorf("negative width: error = %v", err)
	}
}

func TestForegroundImageTypes(t *testing.T) {
	// Each image has one foreground pixel at (6, 1) of an 8×8 image: top right.
	g16 := image.NewGray16(image.Rect(0, 0, 8, 8))
	g16.SetGray16(6, 1, color.Gray16{1}) // 16-bit level 1 counts
	n64 := image.NewNRGBA64(image.Rect(0, 0, 8, 8))
	n64.Set(6, 1, color.NRGBA64{0, 300, 0, 0xffff})
	rgba := image.NewRGBA(image.Rect(0, 0, 8, 8))
	rgba.Set(6, 1, color.RGBA{0, 0, 255, 255})
	pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White})
	pal.SetColorIndex(6, 1, 1)
	cmyk := image.NewCMYK(image.Rect(0, 0, 8, 8))
	for i := range cmyk.Pix {
		cmyk.Pix[i] = 0xff // black everywhere
	}
	cmyk.Set(6, 1, color.CMYK{0, 0, 0, 0})

	for _, m := range []image.Image{g16, n64, rgba, pal, cmyk} {
		loc, err := Locate(m)
		if err != nil {
			t.Errorf("%T: %v", m, err)
			continue
		}
		if loc.Zone != TopRight || loc.Box != px(6, 1) {
			t.Errorf("%T: Locate = %+v, want top right at (6,1)", m, loc)
		}
	}
}

func TestLocateFuncMatchesBruteForce(t *testing.T) {
	// An independent restatement of the rule on every single-pixel and
	// two-pixel mask of a 6×5 image.
	const w, h = 6, 5
	cx, cy := w/2, h/2
	for a := 0; a < w*h; a++ {
		for b := a; b < w*h; b++ {
			ax, ay, bx, by := a%w, a/w, b%w, b/w
			loc, err := LocateFunc(w, h, func(x, y int) bool {
				return (x == ax && y == ay) || (x == bx && y == by)
			})
			if err != nil {
				t.Fatal(err)
			}
			x0, x1 := min(ax, bx), max(ax, bx)
			y0, y1 := min(ay, by), max(ay, by)
			var want Zone
			switch {
			case x0 <= cx && cx <= x1 && y0 <= cy && cy <= y1:
				want = Center
			case (x0+x1)/2 >= cx && (y0+y1)/2 >= cy:
				want = BottomRight
			case (x0+x1)/2 >= cx:
				want = TopRight
			case (y0+y1)/2 >= cy:
				want = BottomLeft
			default:
				want = TopLeft
			}
			if loc.Zone != want {
				t.Fatalf("pixels (%d,%d),(%d,%d): zone %v, want %v", ax, ay, bx, by, loc.Zone, want)
			}
		}
	}
}

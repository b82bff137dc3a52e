package zones_test

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"

	"github.com/prsmed/prsmed-go/zones"
)

func ExampleFromMask() {
	// A 100×100 mask with a lesion in rows 10–19, columns 60–79.
	m := image.NewGray(image.Rect(0, 0, 100, 100))
	for y := 10; y < 20; y++ {
		for x := 60; x < 80; x++ {
			m.SetGray(x, y, color.Gray{255})
		}
	}
	z, err := zones.FromMask(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	near, _ := zones.Near(m)
	fmt.Println(z, near)

	_, err = zones.FromMask(image.NewGray(image.Rect(0, 0, 8, 8)))
	fmt.Println(errors.Is(err, zones.ErrEmptyMask))
	// Output:
	// top right false
	// true
}

func ExampleLocate() {
	m := image.NewGray(image.Rect(0, 0, 10, 10))
	m.SetGray(5, 2, color.Gray{1}) // column 5 = centre column: ties go right
	loc, _ := zones.Locate(m)
	fmt.Println(loc.Zone, loc.Near, loc.Box)
	// Output: top right false (5,2)-(6,3)
}

func ExampleParse() {
	for _, s := range []string{
		"The tumour is in the upper-left quadrant, near the center.",
		"It lies in the middle of the image.",
		"The nodule is in the lower right part of the left lung.",
		"Top left or bottom right.",
		"I cannot tell.",
	} {
		z, ok := zones.Parse(s)
		fmt.Printf("%v %v\n", z, ok)
	}
	// Output:
	// top left true
	// center true
	// bottom right true
	// no zone false
	// no zone false
}

func ExampleAnswer() {
	r := rand.New(rand.NewPCG(42, 0))
	q := zones.Question(r, "polyp")
	a := zones.Answer(r, zones.BottomLeft, true, "polyp")
	z, _ := zones.Parse(a)
	fmt.Println(q != "" && a != "", z)
	// Output: true bottom left
}

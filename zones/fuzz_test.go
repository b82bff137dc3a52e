package zones

import (
	"strings"
	"testing"
)

// asciiFlipCase swaps the case of ASCII letters only, which must not change
// what Parse finds.
func asciiFlipCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"The tumour is situated in the top left region of the MRI image and is close to the center.",
		"Position center contains the tumor and which is near the center.",
		"The tumor is visible in position bottom right and far from the center.",
		"upper-left quadrant",
		"in the middle of the image",
		"top left, near the center",
		"The nodule is in the top right of the left lung.",
		"left lower lobe",
		"on the left side, in the upper half",
		"top left or center",
		"lowerright",
		"The polyp is centrally located, right in the middle.",
		"",
		"\xff\xfe top\x00left",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		z, ok := Parse(s)
		if ok != z.Valid() {
			t.Fatalf("Parse(%q) = %v, %v: ok disagrees with validity", s, z, ok)
		}
		if z2, ok2 := Parse(s); z2 != z || ok2 != ok {
			t.Fatalf("Parse(%q) is not deterministic", s)
		}
		if z2, ok2 := Parse(asciiFlipCase(s)); z2 != z || ok2 != ok {
			t.Fatalf("Parse(%q) = %v, %v but flipped case gives %v, %v", s, z, ok, z2, ok2)
		}
		// Hyphens and spaces are interchangeable separators.
		if z2, ok2 := Parse(strings.ReplaceAll(s, "-", " ")); z2 != z || ok2 != ok {
			t.Fatalf("Parse(%q) = %v, %v but with spaces for hyphens %v, %v", s, z, ok, z2, ok2)
		}
		// Restating the zone in a sentence of its own never changes it.
		if ok {
			if z2, ok2 := Parse(s + ". " + z.String() + "."); z2 != z || !ok2 {
				t.Fatalf("Parse(%q) = %v but restating it gives %v, %v", s, z, z2, ok2)
			}
		}
	})
}

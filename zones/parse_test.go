package zones

import "testing"

func TestParse(t *testing.T) {
	none := Zone(0)
	tests := []struct {
		in   string
		want Zone
		ok   bool
	}{
		// Plain zone names, case, hyphens, punctuation.
		{"top left", TopLeft, true},
		{"Top-Right", TopRight, true},
		{"BOTTOM LEFT.", BottomLeft, true},
		{"bottom_right", BottomRight, true},
		{"center", Center, true},
		{"Centre!", Center, true},
		{"topleft", TopLeft, true},
		{"LowerRight", BottomRight, true},
		{"upper-left quadrant", TopLeft, true},
		{"in the lower left corner", BottomLeft, true},
		{"The upper right-hand corner.", TopRight, true},
		{"uppermost left part", TopLeft, true},
		// Centre words.
		{"in the middle of the image", Center, true},
		{"It is centrally located.", Center, true},
		{"The polyp is central.", Center, true},
		{"a centred lesion", Center, true},
		{"Position center contains the tumor and which is near the center.", Center, true},
		{"right in the middle of the image", Center, true},
		{"The lesion is at the very centre of the scan.", Center, true},
		// Reversed order before a region noun.
		{"left upper quadrant", TopLeft, true},
		{"in the right lower part of the image", BottomRight, true},
		// Proximity phrases are not zones.
		{"top left, near the center", TopLeft, true},
		{"The tumour is situated in the top left region of the MRI image and is close to the center.", TopLeft, true},
		{"The tumor is visible in position bottom right and far from the center.", BottomRight, true},
		{"upper right, away from the centre", TopRight, true},
		{"lower left, not near the center of the image", BottomLeft, true},
		{"bottom-left, slightly off-center", BottomLeft, true},
		{"top right, towards the middle", TopRight, true},
		{"lower right quadrant, close to the image's center", BottomRight, true},
		{"upper left and extends into the middle", TopLeft, true},
		{"upper left and next to the centre", TopLeft, true},
		{"top right, around the center", TopRight, true},
		{"somewhat left of center, in the upper half", TopLeft, true},
		{"near the center", none, false},
		{"far from the center of the image", none, false},
		// The centre of something else.
		{"The centre of the tumour lies in the lower right.", BottomRight, true},
		{"the right middle lobe", none, false},
		{"near the middle cerebral artery, top left", TopLeft, true},
		// Anatomy words do not add a zone when a zone phrase is present.
		{"The nodule is in the top right of the left lung.", TopRight, true},
		{"left lung, lower right region", BottomRight, true},
		{"The mass in the right breast appears in the upper left area.", TopLeft, true},
		{"left kidney, center of the image", Center, true},
		{"right upper lobe", none, false},
		{"left lower lobe, upper part", none, false},
		{"the upper part of the left lung", none, false},
		// Lone direction words.
		{"on the left side, in the upper half", TopLeft, true},
		{"towards the bottom and to the right", BottomRight, true},
		{"to the right in the upper half", TopRight, true},
		{"on the right. in the lower part", BottomRight, true},
		{"top, left", TopLeft, true},
		{"upper part", none, false},
		{"on the left", none, false},
		{"upper part, left and right sides", none, false},
		{"top and bottom, left side", none, false},
		{"right next to the top", none, false},
		{"on top of the left side", none, false},
		// Phrasings seen in generated answers.
		{"The tumour is located in the left upper quadrant of the image, close to the center.", TopLeft, true},
		{"The tumour is seen in the upper left and extends to the center.", TopLeft, true},
		{"The tumour is confined to the central region.", Center, true},
		{"The lesion is slightly to the right of the center.", none, false},
		{"The tumor lies left-of-centre in the bottom half.", BottomLeft, true},
		{"The lesion is at the top and on the left.", TopLeft, true},
		{"The tumor is located in the left hemisphere, upper region.", none, false},
		{"The tumour is in the top left, closer to the center than the edge.", TopLeft, true},
		// A centre word with a lone direction is the centre zone.
		{"center-left", Center, true},
		// Two different zones.
		{"top left or center", none, false},
		{"top left and bottom right", none, false},
		{"in the center of the top right", none, false},
		{"It is positioned top left center.", none, false},
		// Repetition of one zone is fine.
		{"top left ... yes, upper-left.", TopLeft, true},
		// Negation: denied zones name nothing; the asserted one is the answer.
		{"not in the center; it lies in the bottom left", BottomLeft, true},
		{"The tumour is not in the center, it is in the bottom left.", BottomLeft, true},
		{"It isn't in the top left, it is in the bottom right.", BottomRight, true},
		{"isn't on the left, it is on the right side of the lower half", BottomRight, true},
		{"isn't on the left, it is on the right", none, false},
		{"not in the center but in the top left", TopLeft, true},
		{"The lesion is in the bottom right rather than the top left.", BottomRight, true},
		{"in the upper right instead of the center", TopRight, true},
		{"The polyp does not lie in the centre; it sits in the upper-left quadrant.", TopLeft, true},
		{"neither top left nor center; bottom right", BottomRight, true},
		{"The tumor can't be in the middle, it is top right.", TopRight, true},
		{"not in the top left", none, false},
		{"No lesion in the top left.", none, false},
		{"The tumour is not located in the top left.", none, false},
		{"not on the left. upper right", TopRight, true},
		{"The mass is not near the center and lies in the lower left.", BottomLeft, true},
		{"bottom right, without reaching the centre", BottomRight, true},
		{"The lesion is in the top left, not the center.", TopLeft, true},
		{"in the lower right and not in the middle", BottomRight, true},
		{"No, it is in the upper right.", TopRight, true},
		// "Toward the image center" and similar are reference points.
		{"in the top left, toward the image center", TopLeft, true},
		{"bottom right quadrant, extending toward the image's centre", BottomRight, true},
		{"The tumour lies in the upper right, towards the centre of the image.", TopRight, true},
		{"top left, in the direction of the centre", TopLeft, true},
		{"lower left with extension into the middle of the image", BottomLeft, true},
		{"top right, encroaching into the center", TopRight, true},
		{"bottom left, facing the center", BottomLeft, true},
		{"upper left, angled in toward the middle", TopLeft, true},
		{"toward the image center", none, false},
		{"on the edge of the center, lower right", BottomRight, true},
		// No zone.
		{"", none, false},
		{"No lesion is visible.", none, false},
		{"Where is the tumour?", none, false},
		{"lefty righteous topping", none, false},
		{"Ünïcödé центр 中心", none, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTokenize(t *testing.T) {
	toks := tokenize("Upper-LEFT, the image's centre; topright")
	want := []token{
		{"upper", false}, {"left", false}, {"the", true}, {"image", false},
		{"s", false}, {"centre", false}, {"top", true}, {"right", false},
	}
	if len(toks) != len(want) {
		t.Fatalf("tokenize gave %v, want %v", toks, want)
	}
	for i := range want {
		if toks[i] != want[i] {
			t.Errorf("token %d = %+v, want %+v", i, toks[i], want[i])
		}
	}
}

func BenchmarkParse(b *testing.B) {
	s := "The tumour is situated in the top left region of the MRI image and is close to the center."
	for b.Loop() {
		Parse(s)
	}
}

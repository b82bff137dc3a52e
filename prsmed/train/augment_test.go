package train

import (
	"testing"

	"github.com/prsmed/prsmed-go/zones"
)

func TestFlipsRewriteTheZone(t *testing.T) {
	cases := []struct {
		f        Flips
		in, want string
		wantZone zones.Zone
	}{
		{Flips{H: true}, "The tumour is in the top-left of the image.", "The tumour is in the top-right of the image.", zones.TopRight},
		{Flips{V: true}, "Upper right contains the polyp, near the center.", "Lower right contains the polyp, near the center.", zones.BottomRight},
		{Flips{H: true, V: true}, "It lies in the bottom left quadrant.", "It lies in the top right quadrant.", zones.TopRight},
		{Flips{H: true, V: true}, "The lesion is in the centre of the image.", "The lesion is in the centre of the image.", zones.Center},
		{Flips{}, "The mass is in the lower left.", "The mass is in the lower left.", zones.BottomLeft},
	}
	for _, c := range cases {
		got := c.f.Answer(c.in)
		if got != c.want {
			t.Errorf("%+v %q → %q, want %q", c.f, c.in, got, c.want)
		}
		if z, ok := zones.Parse(got); !ok || z != c.wantZone {
			t.Errorf("%q parses to %v %v, want %v", got, z, ok, c.wantZone)
		}
	}
	// The same place in a run draws the same flips.
	if drawFlips(1, 2, 3) != drawFlips(1, 2, 3) {
		t.Fatal("drawFlips is not deterministic")
	}
}

func TestFlipsAgreeWithEveryTemplate(t *testing.T) {
	mirror := map[Flips]map[zones.Zone]zones.Zone{
		{H: true}: {zones.TopLeft: zones.TopRight, zones.TopRight: zones.TopLeft, zones.BottomLeft: zones.BottomRight, zones.BottomRight: zones.BottomLeft, zones.Center: zones.Center},
		{V: true}: {zones.TopLeft: zones.BottomLeft, zones.TopRight: zones.BottomRight, zones.BottomLeft: zones.TopLeft, zones.BottomRight: zones.TopRight, zones.Center: zones.Center},
	}
	for f, m := range mirror {
		for _, z := range zones.All() {
			for _, zp := range zones.ZonePhrases(z) {
				for _, tpl := range zones.AnswerTemplates() {
					for _, prox := range append(zones.NearClauses(), zones.FarClauses()...) {
						a := f.Answer(zones.FillAnswer(tpl, "tumour", zp, prox))
						if got, ok := zones.Parse(a); !ok || got != m[z] {
							t.Fatalf("%+v of a %v answer gives %q, which parses to %v (%v); want %v", f, z, a, got, ok, m[z])
						}
					}
				}
			}
		}
	}
}

func TestFlipsForQuestion(t *testing.T) {
	both := Flips{H: true, V: true}
	for _, c := range []struct {
		q    string
		want Flips
	}{
		{"Where is the tumour located in this image?", both},
		{"Where is the left kidney?", Flips{V: true}},
		{"Locate the Right hippocampus in the image.", Flips{V: true}},
		{"Where is the upper pole of the spleen?", Flips{H: true}},
		{"Where is the right upper lobe nodule?", Flips{}},
		{"Where is the leftover contrast?", both}, // whole words only
	} {
		if got := both.ForQuestion(c.q); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.q, got, c.want)
		}
	}
}

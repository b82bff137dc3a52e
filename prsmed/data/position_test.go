package data

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/zones"
)

func TestPositionSentenceParses(t *testing.T) {
	for _, tmpl := range positionTemplates {
		for _, z := range zones.All() {
			for _, prox := range append(positionNear[:], positionFar[:]...) {
				s := strings.NewReplacer(zones.ZoneSlot, z.String(), zones.ProxSlot, prox).Replace(tmpl)
				if got, ok := zones.Parse(s); !ok || got != z {
					t.Errorf("Parse(%q) = %v, %v; want %v", s, got, ok, z)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		s := strings.ToLower(PositionSentence(r, zones.Center, false))
		if !strings.Contains(s, "position center") || strings.Contains(s, "far") || strings.Contains(s, "away") || strings.Contains(s, "not near") {
			t.Errorf("central sentence %q", s)
		}
		s = strings.ToLower(PositionSentence(r, zones.TopRight, false))
		if !strings.Contains(s, "position top right") || strings.Contains(s, " near the center") && !strings.Contains(s, "not near") {
			t.Errorf("far sentence %q", s)
		}
	}
	if PositionSentence(r, 0, true) != "" {
		t.Error("invalid zone gave a sentence")
	}
}

func TestLesionWord(t *testing.T) {
	want := map[string]string{
		"brain_tumors_ct_scan": "tumour", "breast_tumors_ct_scan": "mass", "lung_CT": "nodule",
		"lung_Xray": "opacity", "polyp_endoscopy": "polyp", "skin_rgbimage": "lesion", "other": "lesion",
	}
	for m, w := range want {
		if got := LesionWord(m); got != w {
			t.Errorf("LesionWord(%q) = %q, want %q", m, got, w)
		}
	}
}

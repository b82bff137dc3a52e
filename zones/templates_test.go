package zones

import (
	"math/rand/v2"
	"strings"
	"testing"
)

var testLesions = []string{
	"tumour", "tumor", "polyp", "lesion", "nodule", "mass",
	"skin lesion", "brain tumour", "lung nodule", "abnormality",
}

func TestTemplateCounts(t *testing.T) {
	if n := len(QuestionTemplates()); n < 20 {
		t.Errorf("%d question templates, want at least 20", n)
	}
	if n := len(AnswerTemplates()); n < 20 {
		t.Errorf("%d answer templates, want at least 20", n)
	}
	if len(NearClauses()) < 10 || len(FarClauses()) < 10 {
		t.Errorf("%d near and %d far clauses, want at least 10 each", len(NearClauses()), len(FarClauses()))
	}
	q := QuestionTemplates()
	q[0] = "changed"
	if QuestionTemplates()[0] == "changed" {
		t.Error("QuestionTemplates exposes its table")
	}
}

func TestTemplateSlots(t *testing.T) {
	for _, q := range QuestionTemplates() {
		if strings.Count(q, LesionSlot) != 1 {
			t.Errorf("question %q: want one %s", q, LesionSlot)
		}
	}
	for _, a := range AnswerTemplates() {
		if strings.Count(a, ZoneSlot) != 1 || !strings.HasSuffix(a, ProxSlot+".") || strings.Count(a, ProxSlot) != 1 {
			t.Errorf("answer %q: want one %s and %s. at the end", a, ZoneSlot, ProxSlot)
		}
	}
}

// TestQuestionsNameNoZone checks that no question (nor any proximity
// clause on its own) parses as a zone.
func TestQuestionsNameNoZone(t *testing.T) {
	for _, lesion := range testLesions {
		for _, q := range QuestionTemplates() {
			s := FillQuestion(q, lesion)
			if z, ok := Parse(s); ok {
				t.Errorf("question %q parses as %v", s, z)
			}
		}
	}
	for _, c := range append(NearClauses(), FarClauses()...) {
		if z, ok := Parse("The lesion is here" + c + "."); ok {
			t.Errorf("clause %q parses as %v", c, z)
		}
	}
}

// TestEveryAnswerParsesBack fills every answer template with every zone
// phrase, proximity clause and lesion word and checks that Parse recovers
// the zone.
func TestEveryAnswerParsesBack(t *testing.T) {
	n := 0
	for _, z := range All() {
		clauses := append(append([]string{""}, NearClauses()...), FarClauses()...)
		for _, phrase := range ZonePhrases(z) {
			for _, tmpl := range AnswerTemplates() {
				for _, c := range clauses {
					for _, lesion := range testLesions {
						s := FillAnswer(tmpl, lesion, phrase, c)
						got, ok := Parse(s)
						n++
						if !ok || got != z {
							t.Fatalf("Parse(%q) = %v, %v; want %v", s, got, ok, z)
						}
					}
				}
			}
		}
	}
	if n < 10000 {
		t.Errorf("only %d answers checked", n)
	}
}

func TestAnswerDrawsParseBack(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nearSeen, farSeen := false, false
	for i := 0; i < 2000; i++ {
		z := All()[r.IntN(5)]
		near := r.IntN(2) == 0
		lesion := testLesions[r.IntN(len(testLesions))]
		a := Answer(r, z, near, lesion)
		if got, ok := Parse(a); !ok || got != z {
			t.Fatalf("Answer(%v, near=%v) = %q parses as %v, %v", z, near, a, got, ok)
		}
		if !strings.Contains(a, lesion) && !strings.HasPrefix(a, "It is") {
			t.Errorf("answer %q lacks lesion word %q", a, lesion)
		}
		if z != Center {
			for _, c := range NearClauses() {
				if strings.Contains(a, c) {
					nearSeen = true
					if !near {
						t.Errorf("far answer %q has near clause %q", a, c)
					}
				}
			}
			for _, c := range FarClauses() {
				if strings.Contains(a, c) {
					farSeen = true
					if near {
						t.Errorf("near answer %q has far clause %q", a, c)
					}
				}
			}
		}
	}
	if !nearSeen || !farSeen {
		t.Error("draws never used both clause kinds")
	}
	if Answer(r, 0, true, "x") != "" {
		t.Error("Answer for the zero Zone is not empty")
	}
}

func TestGeneratorsAreSeeded(t *testing.T) {
	draw := func(seed uint64) []string {
		r := rand.New(rand.NewPCG(seed, 0))
		var out []string
		for i := 0; i < 50; i++ {
			out = append(out, Question(r, "polyp"), Answer(r, BottomLeft, i%2 == 0, "polyp"))
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, draw %d differs: %q vs %q", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("different seeds gave identical draws")
	}
	questions := map[string]bool{}
	r := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 500; i++ {
		questions[Question(r, "tumour")] = true
	}
	if len(questions) != len(QuestionTemplates()) {
		t.Errorf("500 draws used %d of %d question templates", len(questions), len(QuestionTemplates()))
	}
}

func TestZonePhrases(t *testing.T) {
	if got := ZonePhrases(TopLeft); strings.Join(got, "|") != "top left|upper left|top-left|upper-left" {
		t.Errorf("ZonePhrases(TopLeft) = %q", got)
	}
	if ZonePhrases(0) != nil {
		t.Error("ZonePhrases(0) is not nil")
	}
	for _, z := range All() {
		if ZonePhrases(z)[0] != z.String() {
			t.Errorf("ZonePhrases(%v) does not start with String()", z)
		}
	}
}

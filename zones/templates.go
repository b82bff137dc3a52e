package zones

import (
	"math/rand/v2"
	"strings"
)

// Template placeholders. A question template holds {lesion}; an answer
// template holds {lesion}, {zone} and {prox}, the last one right before the
// final full stop.
const (
	LesionSlot = "{lesion}"
	ZoneSlot   = "{zone}"
	ProxSlot   = "{prox}"
)

// The template tables. They are arrays, copied out by the accessors below,
// so no caller can change them.
var (
	questionTemplates = [...]string{
		"Where is the {lesion} located in this image?",
		"Where is the {lesion}?",
		"Can you tell me the position of the {lesion}?",
		"In which part of the image is the {lesion} found?",
		"Which region of the image contains the {lesion}?",
		"Where can the {lesion} be seen?",
		"What is the location of the {lesion} in the image?",
		"Please describe where the {lesion} is.",
		"Point out the {lesion} and say where it lies.",
		"Where does the {lesion} appear in this scan?",
		"Identify the area of the image where the {lesion} is present.",
		"Locate the {lesion} in the image.",
		"In what zone of the image does the {lesion} lie?",
		"Which quadrant of the image holds the {lesion}, if any?",
		"Could you segment the {lesion} and tell me where it is?",
		"Where exactly is the {lesion} situated?",
		"Show me where the {lesion} is and describe its position.",
		"What part of this image does the {lesion} occupy?",
		"Is there a visible {lesion}? Where is it?",
		"Find the {lesion}. Where is it positioned?",
		"Describe the position of the {lesion} within the image.",
		"Segment the {lesion} and report its position in the image.",
	}

	answerTemplates = [...]string{
		"The {lesion} is located in the {zone} of the image{prox}.",
		"The {lesion} is situated in the {zone} region of the image{prox}.",
		"The {lesion} appears in the {zone} area{prox}.",
		"The {lesion} can be seen in the {zone} region{prox}.",
		"The {lesion} is visible in position {zone}{prox}.",
		"Position {zone} contains the {lesion}{prox}.",
		"The {lesion} lies in the {zone} part of the image{prox}.",
		"It is in the {zone} region of the image{prox}.",
		"The {lesion} is found in the {zone} zone of the image{prox}.",
		"You can see the {lesion} in the {zone} portion of the image{prox}.",
		"The {lesion} occupies the {zone} region{prox}.",
		"The {lesion} is in the {zone} section of the image{prox}.",
		"The {zone} region shows the {lesion}{prox}.",
		"The {lesion} is present in the {zone} area of the image{prox}.",
		"The {lesion} is positioned in the {zone} of the image{prox}.",
		"Located in the {zone} region, the {lesion} is clearly visible{prox}.",
		"The {lesion} is seen at the {zone} of the image{prox}.",
		"The {zone} area of the image contains the {lesion}{prox}.",
		"There is a visible {lesion} in the {zone} region{prox}.",
		"The {lesion} is mainly in the {zone} part of the scan{prox}.",
		"Looking at the image, the {lesion} sits in the {zone} region{prox}.",
		"The {lesion} is identified in the {zone} portion{prox}.",
	}

	nearClauses = [...]string{
		", close to the center",
		", near the center",
		", near the center of the image",
		" and is close to the center",
		", which is near the center",
		", not far from the center",
		", close to the centre of the image",
		", near the middle of the image",
		", adjacent to the center",
		", toward the center of the image",
		" and lies near the image centre",
	}

	farClauses = [...]string{
		", far from the center",
		", away from the center",
		" and is not near the center",
		", far away from the centre of the image",
		", well away from the middle of the image",
		", distant from the center",
		" and is located away from the center",
		", towards the edge of the image",
		", near the border of the image",
		", close to the image border",
		" and is far from the middle",
	}
)

// QuestionTemplates returns a copy of the question templates; each holds
// [LesionSlot] once and names no zone.
func QuestionTemplates() []string {
	t := questionTemplates
	return t[:]
}

// AnswerTemplates returns a copy of the answer templates; each holds
// [LesionSlot] or not, [ZoneSlot] once and [ProxSlot] once, right before the
// final full stop.
func AnswerTemplates() []string {
	t := answerTemplates
	return t[:]
}

// NearClauses returns a copy of the clauses that say a lesion is near the
// image centre; each fits a template's [ProxSlot] and names no zone.
func NearClauses() []string {
	c := nearClauses
	return c[:]
}

// FarClauses returns a copy of the clauses that say a lesion is away from
// the image centre; each fits a template's [ProxSlot] and names no zone.
func FarClauses() []string {
	c := farClauses
	return c[:]
}

// ZonePhrases returns the ways the templates spell zone z, starting with
// its String form ("top left", "upper left", "top-left", "upper-left";
// "center", "centre", "middle"). It returns nil for an invalid zone.
func ZonePhrases(z Zone) []string {
	v, h := "", ""
	switch z {
	case TopLeft:
		v, h = "upper", "left"
	case TopRight:
		v, h = "upper", "right"
	case BottomLeft:
		v, h = "lower", "left"
	case BottomRight:
		v, h = "lower", "right"
	case Center:
		return []string{"center", "centre", "middle"}
	default:
		return nil
	}
	s := z.String()
	return []string{s, v + " " + h, strings.ReplaceAll(s, " ", "-"), v + "-" + h}
}

// FillQuestion substitutes lesion into a question template.
func FillQuestion(template, lesion string) string {
	return strings.ReplaceAll(template, LesionSlot, lesion)
}

// FillAnswer substitutes the lesion word, a zone phrase and a proximity
// clause (possibly empty) into an answer template.
func FillAnswer(template, lesion, zonePhrase, prox string) string {
	return strings.NewReplacer(LesionSlot, lesion, ZoneSlot, zonePhrase, ProxSlot, prox).Replace(template)
}

// Question draws a question about lesion (a word such as "tumour",
// "polyp", "lesion" or "nodule") from the question templates, using only r
// for randomness, so a seeded r gives reproducible text.
func Question(r *rand.Rand, lesion string) string {
	return FillQuestion(questionTemplates[r.IntN(len(questionTemplates))], lesion)
}

// Answer draws an answer that places lesion in zone z, using only r for
// randomness. For the four quadrants it adds a near-centre clause when near
// is true and a far one otherwise; for [Center] near is ignored and no
// clause is added, since the labelling rule marks every central lesion as
// near. [Parse] maps every answer back to z provided lesion itself holds no
// direction or centre word. An invalid zone gives "".
func Answer(r *rand.Rand, z Zone, near bool, lesion string) string {
	phrases := ZonePhrases(z)
	if phrases == nil {
		return ""
	}
	tmpl := answerTemplates[r.IntN(len(answerTemplates))]
	phrase := phrases[r.IntN(len(phrases))]
	prox := ""
	switch {
	case z == Center:
	case near:
		prox = nearClauses[r.IntN(len(nearClauses))]
	default:
		prox = farClauses[r.IntN(len(farClauses))]
	}
	return FillAnswer(tmpl, lesion, phrase, prox)
}

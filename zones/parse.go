package zones

import (
	"strings"
	"unicode"
)

// Parse returns the Clinical Action Zone that a free-form answer names, and
// false when it names none or more than one.
//
// The answer is split into lower-case words at every character that is not
// a letter (hyphens, digits, apostrophes and punctuation included), so case,
// hyphens and punctuation do not matter ("Upper-Left", "upper left",
// "UPPER_LEFT" and "upperleft" read the same). The characters . , ; : ! ?
// ( ) [ ] { } / | and line breaks also end a clause: the phrases below never
// span one.
//
// Zone phrases (level 1):
//
//   - A quadrant phrase is a vertical word (top, upper, uppermost, topmost,
//     bottom, lower, lowermost, bottommost) directly followed by a
//     horizontal word (left, leftmost, right, rightmost): "top left",
//     "upper-left quadrant", "lower right corner". The reversed order counts
//     only before a region noun (quadrant, corner, region, part, area,
//     side, …): "left upper quadrant" is top left, while "right upper lobe"
//     is anatomy and no phrase.
//   - A centre word (center, centre, central, centrally, middle, centered,
//     centred, …) names [Center] unless it is a reference point or the
//     centre of something else. It is a reference point when the nearest
//     preceding word in its clause, skipping fillers such as "the",
//     "image", "very", is a proximity word ("near the center", "far from
//     the centre", "off-center", "towards the middle", "around the
//     center"), or is "to"/"into" after "close", "next", "adjacent",
//     "extending", … ("close to the center", "extends into the middle"), or
//     is "of" after a direction word ("left of center"). It is the centre of
//     something else when it is directly followed by an anatomy word
//     ("middle lobe", "middle cerebral artery") or by "of" and a lesion
//     word ("the centre of the tumour").
//
// When the level-1 phrases name exactly one zone, that zone is the answer
// (however often it is repeated), and any other direction word is ignored:
// "top left, near the center" is top left, and "in the upper right of the
// left lung" is top right. When they name two different zones the answer
// is ambiguous and Parse returns false ("top left or center").
//
// Lone words (level 2), used only when there is no level-1 phrase: every
// vertical and horizontal word not already used is collected, except those
// that are part of an anatomical name (followed within two words by an
// anatomy word: "left lung", "right breast", "left frontal lobe", "upper
// lobe"), "right" used as an intensifier ("right next to", "lies right in the
// middle") and "on top". If the remaining words name exactly one vertical
// and exactly one horizontal direction, their quadrant is the answer ("on
// the left side, in the upper half" is top left); otherwise Parse returns
// false.
//
// Negation: a negation word (not, no, never, neither, nor, without,
// cannot, and the contracted "n't" of "isn't", "doesn't", …) and the
// phrases "rather than", "instead of" and "other than" deny every zone word
// that follows them up to the end of the clause or a word that starts a
// new assertion (but, and, it, rather, instead, however, …). Denied words
// name nothing and are not collected as lone words, so "not in the center;
// it lies in the bottom left" is bottom left, "in the bottom right rather
// than the top left" is bottom right, and "not in the top left" names no
// zone. Its work and memory are linear in the length of the answer.
func Parse(answer string) (Zone, bool) {
	toks := tokenize(answer)
	used := negated(toks)
	neg := append([]bool(nil), used...)
	var named [Center + 1]bool

	// Level 1a: quadrant phrases.
	for i := 0; i+1 < len(toks); i++ {
		a, b := toks[i], toks[i+1]
		if b.brk {
			continue
		}
		if v, h := vertOf(a.word), horizOf(b.word); v != noV && h != noH {
			if !neg[i] && !neg[i+1] {
				named[quadrant(v, h)] = true
			}
			used[i], used[i+1] = true, true
			i++
			continue
		}
		if h, v := horizOf(a.word), vertOf(b.word); h != noH && v != noV &&
			i+2 < len(toks) && !toks[i+2].brk && isRegion(toks[i+2].word) {
			if !neg[i] && !neg[i+1] {
				named[quadrant(v, h)] = true
			}
			used[i], used[i+1] = true, true
			i++
		}
	}
	// Level 1b: centre words that name the centre zone.
	for i, t := range toks {
		if isCentre(t.word) && !neg[i] && !centreIsReference(toks, i) {
			named[Center] = true
			used[i] = true
		}
	}
	found, n := Zone(0), 0
	for _, z := range All() {
		if named[z] {
			found, n = z, n+1
		}
	}
	switch {
	case n == 1:
		return found, true
	case n > 1:
		return 0, false
	}

	// Level 2: lone direction words.
	var vs [down + 1]bool
	var hs [right + 1]bool
	for i, t := range toks {
		if used[i] || isAnatomical(toks, i) {
			continue
		}
		if v := vertOf(t.word); v != noV && !onTop(toks, i) {
			vs[v] = true
		}
		if h := horizOf(t.word); h != noH && !intensifier(toks, i) {
			hs[h] = true
		}
	}
	if vs[up] == vs[down] || hs[left] == hs[right] {
		return 0, false
	}
	v, h := up, left
	if vs[down] {
		v = down
	}
	if hs[right] {
		h = right
	}
	return quadrant(v, h), true
}

// token is one lower-case word of an answer.
type token struct {
	word string
	// brk is true when a clause break lies between this word and the
	// previous one.
	brk bool
}

// isBreak reports whether r ends a clause.
func isBreak(r rune) bool {
	switch r {
	case '.', ',', ';', ':', '!', '?', '(', ')', '[', ']', '{', '}', '/', '|', '\n', '\r':
		return true
	}
	return false
}

// tokenize splits s into lower-case words of letters, recording clause
// breaks and splitting run-together zone words such as "topleft".
func tokenize(s string) []token {
	var (
		toks []token
		b    strings.Builder
		brk  bool
	)
	flush := func() {
		if b.Len() == 0 {
			return
		}
		w := b.String()
		b.Reset()
		if v, h, ok := splitCompound(w); ok {
			toks = append(toks, token{v, brk}, token{h, false})
		} else {
			toks = append(toks, token{w, brk})
		}
		brk = false
	}
	for _, r := range s {
		if unicode.IsLetter(r) {
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		flush()
		if isBreak(r) {
			brk = true
		}
	}
	flush()
	return toks
}

// prevWord returns the index of the nearest word before toks[i] in the same
// clause that is not a filler, or -1.
func prevWord(toks []token, i int) int {
	for j := i - 1; j >= 0; j-- {
		if toks[j+1].brk {
			return -1
		}
		if !isFiller(toks[j].word) {
			return j
		}
	}
	return -1
}

// nextWord returns the index of the nearest word after toks[i] in the same
// clause that is not a filler, or -1.
func nextWord(toks []token, i int) int {
	for j := i + 1; j < len(toks); j++ {
		if toks[j].brk {
			return -1
		}
		if !isFiller(toks[j].word) {
			return j
		}
	}
	return -1
}

// centreIsReference reports whether the centre word toks[i] is a reference
// point or the centre of something else rather than the centre zone.
func centreIsReference(toks []token, i int) bool {
	if p := prevWord(toks, i); p >= 0 {
		switch w := toks[p].word; {
		case isProximity(w):
			return true
		case w == "to" || w == "into":
			if q := prevWord(toks, p); q >= 0 && leadsTo(toks[q].word) {
				return true
			}
		case w == "of":
			if q := prevWord(toks, p); q >= 0 {
				if qw := toks[q].word; vertOf(qw) != noV || horizOf(qw) != noH || isHeading(qw) {
					return true
				}
			}
		}
	}
	if i+1 < len(toks) && !toks[i+1].brk {
		next := toks[i+1].word
		if isAnatomy(next) {
			return true
		}
		if next == "of" {
			if n := nextWord(toks, i+1); n >= 0 && isLesion(toks[n].word) {
				return true
			}
		}
	}
	return false
}

// isAnatomical reports whether toks[i] is followed, within two words of the
// same clause, by an anatomy word, as in "left lung" or "right upper lobe".
func isAnatomical(toks []token, i int) bool {
	for j := i + 1; j <= i+2 && j < len(toks); j++ {
		if toks[j].brk {
			return false
		}
		if isAnatomy(toks[j].word) {
			return true
		}
	}
	return false
}

// intensifier reports whether the word "right" at toks[i] means "exactly"
// ("right next to", "lies right in the middle"): it is followed by a
// preposition such as "next", "in" or "at" and not preceded by "the" ("to
// the right in the upper half" keeps its direction).
func intensifier(toks []token, i int) bool {
	if toks[i].word != "right" || i+1 >= len(toks) || toks[i+1].brk ||
		!isIntensifierFollower(toks[i+1].word) {
		return false
	}
	return i == 0 || toks[i].brk || toks[i-1].word != "the"
}

// onTop reports whether the word "top" at toks[i] is part of "on top (of)".
func onTop(toks []token, i int) bool {
	return toks[i].word == "top" && i > 0 && !toks[i].brk && toks[i-1].word == "on"
}

// negated returns, for every word, whether a negation denies it: it
// follows a negation word or phrase in the same clause with no word that
// starts a new assertion in between.
func negated(toks []token) []bool {
	neg := make([]bool, len(toks))
	on := false
	for i, t := range toks {
		if t.brk {
			on = false
		}
		w := t.word
		var prev string
		if i > 0 && !t.brk {
			prev = toks[i-1].word
		}
		switch {
		case isNegation(w),
			w == "t" && strings.HasSuffix(prev, "n"), // isn't, doesn't, can't
			w == "than" && (prev == "rather" || prev == "other"),
			w == "of" && prev == "instead":
			on = true
			continue
		case endsNegation(w) && !(i+1 < len(toks) && !toks[i+1].brk && negationPhrase(w, toks[i+1].word)):
			on = false
		}
		neg[i] = on
	}
	return neg
}

// negationPhrase reports whether the words a b start a negation phrase
// ("rather than", "instead of").
func negationPhrase(a, b string) bool {
	return (a == "rather" || a == "other") && b == "than" || a == "instead" && b == "of"
}

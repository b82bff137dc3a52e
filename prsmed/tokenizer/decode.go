package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decode returns the text of ids, as sentencepiece's decode(ids) does:
// "▁" becomes a space, the space of the dummy prefix is dropped, runs of byte
// pieces are joined and read as UTF-8 (each malformed byte becomes U+FFFD),
// control pieces (BOS, EOS) vanish and UNK reads " ⁇ ".
//
// Ids outside 0 … VocabSize()-1 are skipped; sentencepiece rejects them, and
// so does [Tokenizer.CheckIDs].
func (t *Tokenizer) Decode(ids []int) string {
	var sb strings.Builder
	sb.Grow(4 * len(ids))
	var pending []byte // bytes of the current run of byte pieces
	bosSpace := true   // the next piece may carry the dummy-prefix space
	bosSpaceSeen := false
	for _, id := range ids {
		if id < 0 || id >= len(t.pieces) {
			continue
		}
		if v := t.byteVal[id]; v >= 0 {
			pending = append(pending, byte(v))
			continue
		}
		pending = flushBytes(&sb, pending)
		if bosSpaceSeen || sb.Len() > 0 {
			bosSpace = false
		}
		var s string
		s, bosSpaceSeen = t.decodePiece(id, bosSpace)
		sb.WriteString(s)
	}
	flushBytes(&sb, pending)
	if t.denorm != nil {
		return string(t.denorm.normalize(nil, sb.String()))
	}
	return sb.String()
}

// decodePiece returns the text of a non-byte piece and whether it consumed
// the dummy-prefix space.
func (t *Tokenizer) decodePiece(id int, bosSpace bool) (string, bool) {
	p := &t.pieces[id]
	switch p.typ {
	case Control:
		return "", false
	case Unknown:
		return t.unkSurface, false
	}
	s := t.surface[id]
	if bosSpace && t.stripBOSSpace && strings.HasPrefix(p.piece, spaceSymbol) {
		// The surface replaced the leading "▁" by one space byte.
		return s[1:], !t.removeExtraWS
	}
	return s, false
}

// flushBytes writes the UTF-8 text of a run of byte pieces, one U+FFFD per
// malformed byte, and returns the emptied run.
func flushBytes(sb *strings.Builder, b []byte) []byte {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteString(replacementChar)
		} else {
			sb.Write(b[i : i+size])
		}
		i += size
	}
	return b[:0]
}

// CheckIDs returns an error naming the first id of ids outside
// 0 … VocabSize()-1.
func (t *Tokenizer) CheckIDs(ids []int) error {
	for i, id := range ids {
		if id < 0 || id >= len(t.pieces) {
			return fmt.Errorf("tokenizer: id %d at position %d is out of range [0, %d)", id, i, len(t.pieces))
		}
	}
	return nil
}

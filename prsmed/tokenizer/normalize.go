package tokenizer

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// replacementChar is U+FFFD, which stands for each malformed UTF-8 byte.
const replacementChar = "\uFFFD"

// normalizer applies a NormalizerSpec as sentencepiece's Normalizer does.
type normalizer struct {
	addDummyPrefix bool
	removeExtraWS  bool
	escapeWS       bool
	wsAsSuffix     bool           // trainer_spec.treat_whitespace_as_suffix
	cmap           *charsMap      // nil: identity
	user           *prefixMatcher // user-defined pieces are never normalized; may be nil
}

func newNormalizer(spec normalizerSpec, wsAsSuffix bool, user *prefixMatcher) (*normalizer, error) {
	n := &normalizer{
		addDummyPrefix: spec.addDummyPrefix,
		removeExtraWS:  spec.removeExtraWS,
		escapeWS:       spec.escapeWS,
		wsAsSuffix:     wsAsSuffix,
		user:           user,
	}
	if len(spec.charsmap) > 0 {
		cm, err := newCharsMap(spec.charsmap)
		if err != nil {
			return nil, fmt.Errorf("precompiled_charsmap of %q: %w", spec.name, err)
		}
		n.cmap = cm
	}
	return n, nil
}

// prefix normalizes the first unit of s: a user-defined piece, the longest
// rule of the character map, or one UTF-8 character (U+FFFD for a malformed
// byte). It returns the normalized text and the number of bytes of s used.
func (n *normalizer) prefix(s string) (string, int) {
	if n.user != nil {
		if l, ok := n.user.match(s); ok {
			return s[:l], l
		}
	}
	if n.cmap != nil {
		if out, l, ok := n.cmap.longestPrefix(s); ok {
			return out, l
		}
	}
	if s[0] < utf8.RuneSelf {
		return s[:1], 1
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		return replacementChar, 1
	}
	return s[:size], size
}

// appendSpace appends the whitespace mark: "▁" or, without escaping, " ".
func (n *normalizer) appendSpace(dst []byte) []byte {
	if n.escapeWS {
		return append(dst, spaceSymbol...)
	}
	return append(dst, ' ')
}

// normalize appends the normalized form of input to dst.
func (n *normalizer) normalize(dst []byte, input string) []byte {
	if n.cmap == nil && n.user == nil && !n.removeExtraWS {
		return n.normalizeIdentity(dst, input)
	}
	if n.removeExtraWS {
		for len(input) > 0 {
			s, l := n.prefix(input)
			if s != " " {
				break
			}
			input = input[l:]
		}
	}
	if len(input) == 0 {
		return dst
	}
	start := len(dst)
	if !n.wsAsSuffix && n.addDummyPrefix {
		dst = n.appendSpace(dst)
	}
	prevSpace := n.removeExtraWS
	for len(input) > 0 {
		s, l := n.prefix(input)
		input = input[l:]
		for prevSpace && len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		if s == "" {
			continue
		}
		for i := 0; i < len(s); i++ {
			if n.escapeWS && s[i] == ' ' {
				dst = append(dst, spaceSymbol...)
			} else {
				dst = append(dst, s[i])
			}
		}
		prevSpace = n.removeExtraWS && s[len(s)-1] == ' '
	}
	if n.removeExtraWS {
		space := " "
		if n.escapeWS {
			space = spaceSymbol
		}
		for bytes.HasSuffix(dst[start:], []byte(space)) {
			dst = dst[:len(dst)-len(space)]
		}
	}
	if n.wsAsSuffix && n.addDummyPrefix {
		dst = n.appendSpace(dst)
	}
	return dst
}

// normalizeIdentity is normalize for the identity rule without user-defined
// pieces and without whitespace removal (the LLaMA/Mistral settings).
func (n *normalizer) normalizeIdentity(dst []byte, input string) []byte {
	if len(input) == 0 {
		return dst
	}
	if !n.wsAsSuffix && n.addDummyPrefix {
		dst = n.appendSpace(dst)
	}
	for i := 0; i < len(input); {
		c := input[i]
		if c < utf8.RuneSelf {
			if c == ' ' && n.escapeWS {
				dst = append(dst, spaceSymbol...)
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(input[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, replacementChar...)
		} else {
			dst = append(dst, input[i:i+size]...)
		}
		i += size
	}
	if n.wsAsSuffix && n.addDummyPrefix {
		dst = n.appendSpace(dst)
	}
	return dst
}

// Normalize returns text as the model sees it before BPE: normalized,
// with the dummy prefix and with spaces escaped to "▁".
func (t *Tokenizer) Normalize(text string) string {
	return string(t.norm.normalize(nil, text))
}

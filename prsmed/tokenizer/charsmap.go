package tokenizer

import (
	"encoding/binary"
	"fmt"
)

// charsMap is a precompiled normalization map (normalizer_spec
// .precompiled_charsmap): a darts-clone double-array trie over UTF-8 byte
// strings whose values index NUL-terminated replacements.
//
// Blob layout: uint32 little-endian trie size in bytes, the trie's 32-bit
// units, then the replacement strings.
type charsMap struct {
	units       []uint32
	replacement string
}

// maxCharsMapResults is how many prefix matches sentencepiece's normalizer
// looks at (Normalizer::kMaxTrieResultsSize).
const maxCharsMapResults = 32

func newCharsMap(blob []byte) (*charsMap, error) {
	if len(blob) <= 4 {
		return nil, fmt.Errorf("%w: blob of %d bytes is too short", ErrMalformed, len(blob))
	}
	size := binary.LittleEndian.Uint32(blob)
	if uint64(size) > uint64(len(blob)-4) {
		return nil, fmt.Errorf("%w: trie size %d exceeds the %d-byte blob", ErrMalformed, size, len(blob))
	}
	if size%4 != 0 || size == 0 {
		return nil, fmt.Errorf("%w: trie size %d is not a positive multiple of 4", ErrMalformed, size)
	}
	trie := blob[4 : 4+size]
	m := &charsMap{
		units:       make([]uint32, size/4),
		replacement: string(blob[4+size:]),
	}
	for i := range m.units {
		m.units[i] = binary.LittleEndian.Uint32(trie[4*i:])
	}
	return m, nil
}

// Fields of a darts-clone unit.
func unitHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func unitValue(u uint32) uint32  { return u & (1<<31 - 1) }
func unitLabel(u uint32) uint32  { return u & (1<<31 | 0xff) }
func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// longestPrefix returns the replacement of the longest key that prefixes s,
// and the key's length. Parts of a corrupt trie that point outside the blob
// count as no match.
func (m *charsMap) longestPrefix(s string) (string, int, bool) {
	pos := unitOffset(m.units[0])
	bestLen, bestValue, found := 0, uint32(0), 0
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		pos ^= c
		if int(pos) >= len(m.units) {
			break
		}
		u := m.units[pos]
		if unitLabel(u) != c {
			break
		}
		pos ^= unitOffset(u)
		if unitHasLeaf(u) {
			if int(pos) >= len(m.units) {
				break
			}
			if found < maxCharsMapResults {
				bestLen, bestValue = i+1, unitValue(m.units[pos])
			}
			found++
		}
	}
	if bestLen == 0 || int(bestValue) >= len(m.replacement) {
		return "", 0, false
	}
	r := m.replacement[bestValue:]
	end := 0
	for end < len(r) && r[end] != 0 {
		end++
	}
	return r[:end], bestLen, true
}

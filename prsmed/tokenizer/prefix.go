package tokenizer

import (
	"sort"
	"strings"
)

// prefixMatcher finds the longest user-defined piece at the start of a
// string.
type prefixMatcher struct {
	byFirst [256][]string // pieces by first byte, longest first
}

// newPrefixMatcher returns a matcher for pieces, or nil when there are none.
func newPrefixMatcher(pieces []string) *prefixMatcher {
	if len(pieces) == 0 {
		return nil
	}
	m := &prefixMatcher{}
	for _, p := range pieces {
		m.byFirst[p[0]] = append(m.byFirst[p[0]], p)
	}
	for i := range m.byFirst {
		sort.SliceStable(m.byFirst[i], func(a, b int) bool {
			return len(m.byFirst[i][a]) > len(m.byFirst[i][b])
		})
	}
	return m
}

// match returns the length of the longest piece that prefixes s.
func (m *prefixMatcher) match(s string) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	for _, p := range m.byFirst[s[0]] {
		if strings.HasPrefix(s, p) {
			return len(p), true
		}
	}
	return 0, false
}

package tokenizer

import (
	"fmt"
	"slices"
	"testing"
)

func mustTiny(t *testing.T, edit func(*tinySpec)) *Tokenizer {
	t.Helper()
	s := tinyDefaults()
	if edit != nil {
		edit(&s)
	}
	tok, err := FromBytes(s.bytes())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestEncodeTiny follows the merge rules by hand on tinyPieces (ids: 0 <unk>,
// 1 <s>, 2 </s>, 3 ▁a -1, 4 ab -2, 5 bc -2, 6 ▁ab -3, 7 abc -4, 8 ▁ -5,
// 9 a, 10 b, 11 c, 12 <x> user-defined).
func TestEncodeTiny(t *testing.T) {
	noPrefix := func(s *tinySpec) { s.addDummyPrefix = false }
	tieOnly := func(s *tinySpec) { // ab and bc tie, abc is gone
		s.addDummyPrefix = false
		s.pieces = slices.Clone(s.pieces)
		s.pieces[7].piece = "zzz"
	}
	bytes := func(s *tinySpec) {
		s.byteFallback = true
		s.pieces = withBytePieces(slices.Clone(s.pieces))
	}
	tests := []struct {
		name   string
		edit   func(*tinySpec)
		text   string
		ids    []int
		pieces []string
	}{
		{"empty", nil, "", nil, nil},
		// ▁a (-1) first; then ab is stale and bc (-2) wins; ▁abc is no piece.
		{"best score first", nil, "abc", []int{3, 5}, []string{"▁a", "bc"}},
		// ab and bc tie: the leftmost merges, then abc.
		{"tie then merge", noPrefix, "abc", []int{7}, []string{"abc"}},
		{"tie goes left", tieOnly, "abc", []int{4, 11}, []string{"ab", "c"}},
		{"space is ▁", nil, "a a", []int{3, 3}, []string{"▁a", "▁a"}},
		{"leading space", nil, " a", []int{8, 3}, []string{"▁", "▁a"}},
		{"user-defined is frozen", nil, "a<x>b", []int{3, 12, 10}, []string{"▁a", "<x>", "b"}},
		{"unknown run is one UNK", nil, "zzb", []int{8, 0, 10}, []string{"▁", "zz", "b"}},
		{"unknown runs split by known", nil, "zaz", []int{8, 0, 9, 0}, []string{"▁", "z", "a", "z"}},
		{"control text is plain text", nil, "<s>", []int{8, 0}, []string{"▁", "<s>"}},
		{"byte fallback", bytes, "zé", []int{8, 13 + 'z', 13 + 0xc3, 13 + 0xa9},
			[]string{"▁", "<0x7A>", "<0xC3>", "<0xA9>"}},
		{"malformed UTF-8 is U+FFFD", bytes, "a\xff", []int{3, 13 + 0xef, 13 + 0xbf, 13 + 0xbd},
			[]string{"▁a", "<0xEF>", "<0xBF>", "<0xBD>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustTiny(t, tc.edit)
			if got := tok.Encode(tc.text); !slices.Equal(got, tc.ids) {
				t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.ids)
			}
			if got := tok.EncodePieces(tc.text); !slices.Equal(got, tc.pieces) {
				t.Errorf("EncodePieces(%q) = %q, want %q", tc.text, got, tc.pieces)
			}
		})
	}
}

func TestEncodeOptions(t *testing.T) {
	tok := loadTestModel(t, "test")
	ids := tok.Encode("Where is the tumour?")
	tests := []struct {
		name string
		got  []int
		want []int
	}{
		{"EncodeWithBOS", tok.EncodeWithBOS("Where is the tumour?"), append([]int{1}, ids...)},
		{"AddEOS", tok.EncodeWith("Where is the tumour?", EncodeOptions{AddEOS: true}), append(slices.Clone(ids), 2)},
		{"both", tok.EncodeWith("Where is the tumour?", EncodeOptions{AddBOS: true, AddEOS: true}), append(append([]int{1}, ids...), 2)},
		{"empty with BOS", tok.EncodeWithBOS(""), []int{1}},
		{"AppendEncode", tok.AppendEncode([]int{7, 7}, "Where is the tumour?"), append([]int{7, 7}, ids...)},
	}
	for _, tc := range tests {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestEncodeWithPlaceholder(t *testing.T) {
	tok := loadTestModel(t, "test")
	const img = -200
	enc := tok.Encode
	cat := func(parts ...[]int) []int { return slices.Concat(parts...) }
	q := "Where is the tumour in this brain MRI?"
	tests := []struct {
		name string
		text string
		opt  EncodeOptions
		want []int
	}{
		// The LLaVA-Med v1.5 prompt: "[INST] " and "\n... [/INST]" are encoded
		// separately, each with its dummy prefix.
		{"mistral_instruct", "[INST] <image>\n" + q + " [/INST]", EncodeOptions{AddBOS: true},
			cat([]int{1}, enc("[INST] "), []int{img}, enc("\n"+q+" [/INST]"))},
		// The PRS-Med training prompt starts with the placeholder: BOS, then
		// the image right away.
		{"prsmed", "<image>\n### User: " + q + " \n### Assistant: \n", EncodeOptions{AddBOS: true},
			cat([]int{1, img}, enc("\n### User: "+q+" \n### Assistant: \n"))},
		{"two images", "a<image><image>b", EncodeOptions{AddEOS: true},
			cat(enc("a"), []int{img, img}, enc("b"), []int{2})},
		{"no placeholder", q, EncodeOptions{}, enc(q)},
	}
	for _, tc := range tests {
		if got := tok.EncodeWithPlaceholder(tc.text, "<image>", img, tc.opt); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := tok.EncodeWithPlaceholder(q, "", img, EncodeOptions{}); !slices.Equal(got, enc(q)) {
		t.Errorf("empty placeholder: got %v, want %v", got, enc(q))
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		model, text, want string
	}{
		{"test", "", ""},
		{"test", "a  b", "▁a▁▁b"},
		{"test", "\ta\n", "▁\ta\n"},
		{"test", "x\xffy", "▁x\uFFFDy"},
		// rules: custom map, extra spaces removed; the tab maps to two
		// spaces in one rule, which sentencepiece keeps (checked in Python).
		{"rules", "  Ａ ＭＲＩ\t …", "▁Ａ▁MRI▁▁..."},
		{"rules", "   ", ""},
		{"suffix", "a b", "a▁b▁"},
		{"noprefix", "a b", "a▁b"},
	}
	for _, tc := range tests {
		if got := loadTestModel(t, tc.model).Normalize(tc.text); got != tc.want {
			t.Errorf("%s: Normalize(%q) = %q, want %q", tc.model, tc.text, got, tc.want)
		}
	}
}

func TestDecodeTiny(t *testing.T) {
	tok := mustTiny(t, func(s *tinySpec) {
		s.byteFallback = true
		s.pieces = withBytePieces(s.pieces)
	})
	b := func(v int) int { return 13 + v }
	tests := []struct {
		name string
		ids  []int
		want string
	}{
		{"nothing", nil, ""},
		{"dummy prefix dropped", []int{3, 3}, "a a"},
		{"only the first space", []int{8, 8, 9}, " a"},
		{"lone ▁ consumes the prefix", []int{8, 3}, " a"},
		{"control pieces vanish", []int{1, 3, 2}, "a"},
		{"prefix after control", []int{1, 8, 9}, "a"},
		{"unk surface", []int{0, 9}, " ⁇ a"},
		{"no prefix after unk", []int{0, 3}, " ⁇  a"},
		{"bytes join", []int{b(0xc3), b(0xa9), 3}, "é a"},
		{"bytes before prefix", []int{b('x'), 3}, "x a"},
		{"malformed bytes", []int{b(0xc3), b(0xff), b(0xa9)}, "\uFFFD\uFFFD\uFFFD"},
		{"truncated rune", []int{3, b(0xe8), b(0x84)}, "a\uFFFD\uFFFD"},
		{"out of range skipped", []int{-1, 3, 9999}, "a"},
	}
	for _, tc := range tests {
		if got := tok.Decode(tc.ids); got != tc.want {
			t.Errorf("%s: Decode(%v) = %q, want %q", tc.name, tc.ids, got, tc.want)
		}
	}
	if err := tok.CheckIDs([]int{0, 3, 268}); err != nil {
		t.Errorf("CheckIDs of valid ids: %v", err)
	}
	if err := tok.CheckIDs([]int{0, 269}); err == nil {
		t.Error("CheckIDs accepted 269 with a vocabulary of 269")
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := loadTestModel(t, "test")
	g := loadGolden(t, "test")
	done := make(chan error)
	for w := 0; w < 4; w++ {
		go func(w int) {
			for i := w; i < len(g.Cases); i += 4 {
				if got := tok.Encode(g.Cases[i].Text); !slices.Equal(got, g.Cases[i].IDs) && len(got)+len(g.Cases[i].IDs) > 0 {
					done <- fmt.Errorf("case %d: %v != %v", i, got, g.Cases[i].IDs)
					return
				}
			}
			done <- nil
		}(w)
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestSplitAtSpace checks which models merge word by word, and that doing
// so changes nothing.
func TestSplitAtSpace(t *testing.T) {
	tests := []struct {
		model string
		split bool
	}{
		{"test", true},
		{"template", true},
		{"noprefix", true},
		{"suffix", false}, // pieces end in "▁"
		{"unused", false}, // UNUSED pieces
	}
	texts := loadGolden(t, "test").Cases
	for _, tc := range tests {
		tok := loadTestModel(t, tc.model)
		if tok.splitAtSpace != tc.split {
			t.Errorf("%s: splitAtSpace = %v, want %v", tc.model, tok.splitAtSpace, tc.split)
		}
		if !tok.splitAtSpace {
			continue
		}
		global := loadTestModel(t, tc.model)
		global.splitAtSpace = false
		for _, c := range texts {
			if a, b := tok.Encode(c.Text), global.Encode(c.Text); !slices.Equal(a, b) {
				t.Errorf("%s: %q: word by word %v, global %v", tc.model, c.Text, a, b)
			}
		}
	}
}

package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// roundTrip is what Decode(Encode(s)) gives for a model with the LLaMA
// settings: s itself, except that each malformed UTF-8 byte becomes U+FFFD
// and a literal "▁" comes back as a space.
func roundTrip(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(replacementChar)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return strings.ReplaceAll(b.String(), spaceSymbol, " ")
}

func FuzzEncodeDecode(f *testing.F) {
	for _, s := range []string{"", " ", "Where is the tumour in this brain MRI?", "脑 🧠 é\t\n",
		"  leading", "trailing  ", "a\xffb\xc3", "▁▁x", "<s></s><unk>", "12345.678"} {
		f.Add(s)
	}
	tok := loadTestModel(f, "test")
	rules := loadTestModel(f, "rules")
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		if err := tok.CheckIDs(ids); err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		if got, want := tok.Decode(ids), roundTrip(s); got != want {
			t.Fatalf("Decode(Encode(%q)) = %q, want %q (ids %v)", s, got, want, ids)
		}
		pieces := tok.EncodePieces(s)
		if len(pieces) != len(ids) {
			t.Fatalf("%q: %d pieces for %d ids", s, len(pieces), len(ids))
		}
		for i, p := range pieces {
			if tok.PieceToID(p) != ids[i] {
				t.Fatalf("%q: piece %d %q has id %d, Encode says %d", s, i, p, tok.PieceToID(p), ids[i])
			}
		}
		// A model with a character map, whitespace removal and no byte
		// fallback must not fail either.
		rids := rules.Encode(s)
		if err := rules.CheckIDs(rids); err != nil {
			t.Fatalf("rules: Encode(%q): %v", s, err)
		}
		rules.Decode(rids)
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{1, 200, 3, 50, 80, 0, 2})
	f.Add([]byte{0xc3 + 3, 0xa9 + 3})
	tok := loadTestModel(f, "test")
	f.Fuzz(func(t *testing.T, b []byte) {
		ids := make([]int, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			ids = append(ids, int(b[i])<<8|int(b[i+1])-2) // some out of range on purpose
		}
		if s := tok.Decode(ids); !utf8.ValidString(s) {
			t.Fatalf("Decode(%v) = %q is not valid UTF-8", ids, s)
		}
	})
}

func FuzzFromBytes(f *testing.F) {
	model, err := os.ReadFile(filepath.Join(testdataDir, "template.model"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(model)
	f.Add(model[:len(model)/2])
	f.Add(tinyDefaults().bytes())
	rules, err := os.ReadFile(filepath.Join(testdataDir, "rules.model"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rules)
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := FromBytes(b)
		if err != nil {
			return
		}
		ids := tok.Encode("Where is the tumour in this brain MRI? 脑 \xff  x")
		tok.Decode(ids)
		tok.EncodePieces(" a  b ")
	})
}

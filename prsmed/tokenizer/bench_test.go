package tokenizer

import (
	"strings"
	"testing"
)

// benchTexts returns the strings of the test golden file, the same input
// "tokenizer_ref.py --bench" times in Python.
func benchTexts(b *testing.B) ([]string, int) {
	g := loadGolden(b, "test")
	texts := make([]string, len(g.Cases))
	n := 0
	for i, c := range g.Cases {
		texts[i] = c.Text
		n += len(c.Text)
	}
	return texts, n
}

// BenchmarkEncode encodes every string of test.golden.json once per
// iteration; ns/string is the mean per call.
func BenchmarkEncode(b *testing.B) {
	tok := loadTestModel(b, "test")
	texts, n := benchTexts(b)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	var ids []int
	for b.Loop() {
		for _, s := range texts {
			ids = tok.AppendEncode(ids[:0], s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(texts)), "ns/string")
}

// BenchmarkEncodeLong encodes all golden strings joined into one 94 KB
// text, which exercises the merge queue: "words" merges word by word as
// Encode does for this model, "global" runs one queue over the whole text
// (the plain sentencepiece algorithm; same result).
func BenchmarkEncodeLong(b *testing.B) {
	texts, _ := benchTexts(b)
	long := strings.Join(texts, " ")
	for _, split := range []bool{true, false} {
		name := "words"
		if !split {
			name = "global"
		}
		b.Run(name, func(b *testing.B) {
			tok := loadTestModel(b, "test")
			if !tok.splitAtSpace {
				b.Fatal("test.model should allow word-by-word merging")
			}
			tok.splitAtSpace = split
			b.SetBytes(int64(len(long)))
			b.ReportAllocs()
			var ids []int
			for b.Loop() {
				ids = tok.AppendEncode(ids[:0], long)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	tok := loadTestModel(b, "test")
	g := loadGolden(b, "test")
	n := 0
	for _, c := range g.Cases {
		n += len(c.Text)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range g.Cases {
			tok.Decode(c.IDs)
		}
	}
}

package tokenizer

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testdataDir holds the models and goldens written by
// third_party/golden/tokenizer_ref.py.
var testdataDir = filepath.Join("..", "..", "testdata", "tokenizer")

// goldenModels are the models tokenizer_ref.py trains; see its doc string.
var goldenModels = []string{"test", "template", "rules", "suffix", "noprefix", "unused"}

// goldenFile is the JSON written by tokenizer_ref.py for one model.
type goldenFile struct {
	Model         string  `json:"model"`
	Sentencepiece string  `json:"sentencepiece"`
	VocabSize     int     `json:"vocab_size"`
	BOS           int     `json:"bos"`
	EOS           int     `json:"eos"`
	UNK           int     `json:"unk"`
	PAD           int     `json:"pad"`
	Pieces        [][]any `json:"pieces"`
	Cases         []struct {
		Text    string   `json:"text"`
		IDs     []int    `json:"ids"`
		Decoded *string  `json:"decoded"`
		Pieces  []string `json:"pieces"`
	} `json:"cases"`
	ByteCases []struct {
		Hex     string `json:"hex"`
		IDs     []int  `json:"ids"`
		Decoded string `json:"decoded"`
	} `json:"byte_cases"`
	DecodeCases []struct {
		IDs  []int  `json:"ids"`
		Text string `json:"text"`
	} `json:"decode_cases"`
}

func loadTestModel(tb testing.TB, name string) *Tokenizer {
	tb.Helper()
	tok, err := Load(filepath.Join(testdataDir, name+".model"))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func loadGolden(tb testing.TB, name string) *goldenFile {
	tb.Helper()
	return readGolden(tb, filepath.Join(testdataDir, name+".golden.json"))
}

func readGolden(tb testing.TB, path string) *goldenFile {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return &g
}

// mismatches reports the first few failures of a check and counts them all.
type mismatches struct {
	tb    testing.TB
	label string
	n     int
}

func (m *mismatches) add(format string, args ...any) {
	m.tb.Helper()
	m.n++
	if m.n <= 8 {
		m.tb.Errorf("%s: %s", m.label, fmt.Sprintf(format, args...))
	}
}

func TestGoldenVocabulary(t *testing.T) {
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			checkVocabulary(t, loadTestModel(t, name), loadGolden(t, name))
		})
	}
}

func TestGoldenEncodeDecode(t *testing.T) {
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			checkEncodeDecode(t, loadTestModel(t, name), loadGolden(t, name))
		})
	}
}

// TestExternalGolden checks goldens made by "tokenizer_ref.py --golden" for
// other models, e.g. the real Mistral tokenizer.model:
//
//	TOKENIZER_GOLDEN=/path/tokenizer.model:/tmp/mistral.golden.json go test -run External ./prsmed/tokenizer/
//
// Several MODEL:GOLDEN pairs may be given, separated by commas.
func TestExternalGolden(t *testing.T) {
	env := os.Getenv("TOKENIZER_GOLDEN")
	if env == "" {
		t.Skip("TOKENIZER_GOLDEN is not set")
	}
	for _, pair := range strings.Split(env, ",") {
		model, golden, ok := strings.Cut(pair, ":")
		if !ok {
			t.Fatalf("TOKENIZER_GOLDEN entry %q is not MODEL:GOLDEN", pair)
		}
		t.Run(filepath.Base(golden), func(t *testing.T) {
			tok, err := Load(model)
			if err != nil {
				t.Fatal(err)
			}
			g := readGolden(t, golden)
			checkVocabulary(t, tok, g)
			checkEncodeDecode(t, tok, g)
		})
	}
}

func checkVocabulary(t *testing.T, tok *Tokenizer, g *goldenFile) {
	kinds := map[string][]PieceType{
		"unknown": {Unknown},
		"control": {Control},
		"unused":  {Unused},
		"byte":    {Byte},
		"normal":  {Normal, UserDefined},
	}
	if tok.VocabSize() != g.VocabSize || len(g.Pieces) != g.VocabSize {
		t.Fatalf("VocabSize() = %d, Python %d (%d piece rows)", tok.VocabSize(), g.VocabSize, len(g.Pieces))
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{{"BOS", tok.BOS(), g.BOS}, {"EOS", tok.EOS(), g.EOS}, {"UNK", tok.UNK(), g.UNK}, {"PAD", tok.PAD(), g.PAD}} {
		if c.got != c.want {
			t.Errorf("%s() = %d, Python %d", c.what, c.got, c.want)
		}
	}
	bad := &mismatches{tb: t, label: "piece"}
	for id, row := range g.Pieces {
		piece, score, kind := row[0].(string), float32(row[1].(float64)), row[2].(string)
		if got := tok.IDToPiece(id); got != piece {
			bad.add("IDToPiece(%d) = %q, Python %q", id, got, piece)
		}
		if got := tok.PieceToID(piece); got != id {
			bad.add("PieceToID(%q) = %d, Python %d", piece, got, id)
		}
		if got := tok.Score(id); got != score {
			bad.add("Score(%d) = %v, Python %v", id, got, score)
		}
		if got := tok.Type(id); !slices.Contains(kinds[kind], got) {
			bad.add("Type(%d) = %v, Python %s", id, got, kind)
		}
	}
}

func checkEncodeDecode(t *testing.T, tok *Tokenizer, g *goldenFile) {
	enc := &mismatches{tb: t, label: "Encode"}
	dec := &mismatches{tb: t, label: "Decode"}
	pcs := &mismatches{tb: t, label: "EncodePieces"}
	round := 0
	for _, c := range g.Cases {
		ids := tok.Encode(c.Text)
		if !slices.Equal(ids, c.IDs) && !(len(ids) == 0 && len(c.IDs) == 0) {
			enc.add("%q: got %v, Python %v", c.Text, ids, c.IDs)
		}
		want := c.Text
		if c.Decoded != nil {
			want = *c.Decoded
		} else {
			round++
		}
		if got := tok.Decode(c.IDs); got != want {
			dec.add("%v: got %q, Python %q", c.IDs, got, want)
		}
		if c.Pieces != nil {
			if got := tok.EncodePieces(c.Text); !slices.Equal(got, c.Pieces) {
				pcs.add("%q: got %q, Python %q", c.Text, got, c.Pieces)
			}
		}
	}
	for _, c := range g.ByteCases {
		raw, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		ids := tok.Encode(string(raw))
		if !slices.Equal(ids, c.IDs) {
			enc.add("bytes %s: got %v, Python %v", c.Hex, ids, c.IDs)
		}
		if got := tok.Decode(c.IDs); got != c.Decoded {
			dec.add("%v: got %q, Python %q", c.IDs, got, c.Decoded)
		}
	}
	for _, c := range g.DecodeCases {
		if got := tok.Decode(c.IDs); got != c.Text {
			dec.add("%v: got %q, Python %q", c.IDs, got, c.Text)
		}
	}
	t.Logf("%s: %d strings + %d byte strings encoded, %d id lists decoded; %d encode, %d decode, %d piece mismatches; %d strings round-trip exactly",
		g.Model, len(g.Cases), len(g.ByteCases), len(g.Cases)+len(g.ByteCases)+len(g.DecodeCases),
		enc.n, dec.n, pcs.n, round)
}

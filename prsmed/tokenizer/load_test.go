package tokenizer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadErrors(t *testing.T) {
	piece := func(fields pb) []byte { return pb(nil).bytes(1, fields) }
	withPieces := func(ps []pieceProto) func(*tinySpec) {
		return func(s *tinySpec) { s.pieces = ps }
	}
	tests := []struct {
		name    string
		model   func() []byte
		want    error
		message string
	}{
		{"empty", func() []byte { return nil }, ErrMalformed, "empty model"},
		{"text", func() []byte { return []byte("this is not a model\n") }, ErrMalformed, ""},
		{"truncated varint", func() []byte { return []byte{0x0a, 0x80} }, ErrMalformed, "truncated varint"},
		{"varint overflow", func() []byte {
			return append([]byte{0x08}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
		}, ErrMalformed, "overflows"},
		{"field zero", func() []byte { return []byte{0x00, 0x01} }, ErrMalformed, "field number 0"},
		{"group", func() []byte { return []byte{0x0b, 0x0c} }, ErrMalformed, "wire type 3"},
		{"length past end", func() []byte { return []byte{0x0a, 0x05, 'a'} }, ErrMalformed, "exceeds"},
		{"pieces as varint", func() []byte { return pb(nil).varint(1, 3) }, ErrMalformed, "pieces (field 1) has wire type 0"},
		{"score as varint", func() []byte { return piece(pb(nil).str(1, "a").varint(2, 1)) }, ErrMalformed, "score"},
		{"unknown piece type", func() []byte { return piece(pb(nil).str(1, "a").varint(3, 9)) }, ErrMalformed, "unknown piece type 9"},
		{"unigram", tinyModel(func(s *tinySpec) { s.modelType = modelUnigram }), ErrUnsupported, "UNIGRAM"},
		{"word", tinyModel(func(s *tinySpec) { s.modelType = modelWord }), ErrUnsupported, "WORD"},
		{"no pieces", tinyModel(withPieces(nil)), ErrMalformed, "no pieces"},
		{"empty piece", tinyModel(withPieces(append(tinyPieces(), pieceProto{"", 0, Normal}))), ErrMalformed, "is empty"},
		{"duplicate piece", tinyModel(withPieces(append(tinyPieces(), pieceProto{"ab", 0, Normal}))), ErrMalformed, `"ab" (id 13) is already defined`},
		{"no unk", tinyModel(withPieces(tinyPieces()[1:])), ErrMalformed, "unk is not defined"},
		{"two unk", tinyModel(withPieces(append(tinyPieces(), pieceProto{"<unk2>", 0, Unknown}))), ErrMalformed, "unk is defined twice"},
		{"byte piece without fallback", tinyModel(withPieces(withBytePieces(tinyPieces()))), ErrMalformed, "byte_fallback is false"},
		{"missing byte pieces", tinyModel(func(s *tinySpec) {
			s.byteFallback = true
			s.pieces = withBytePieces(tinyPieces())[:len(s.pieces)+200]
		}), ErrMalformed, "<0xC8> is missing"},
		{"bad byte piece", tinyModel(func(s *tinySpec) {
			s.byteFallback = true
			s.pieces = append(withBytePieces(tinyPieces()), pieceProto{"<0xzz>", 0, Byte})
		}), ErrMalformed, `invalid byte piece "<0xzz>"`},
		{"charsmap too short", tinyModel(func(s *tinySpec) { s.charsmap = []byte{1, 0} }), ErrMalformed, "too short"},
		{"charsmap size past end", tinyModel(func(s *tinySpec) { s.charsmap = []byte{200, 0, 0, 0, 1, 2, 3, 4} }), ErrMalformed, "exceeds"},
		{"charsmap size not aligned", tinyModel(func(s *tinySpec) { s.charsmap = []byte{3, 0, 0, 0, 1, 2, 3, 4} }), ErrMalformed, "multiple of 4"},
		{"self-test failure", tinyModel(func(s *tinySpec) { s.selfTest = [][2]string{{"abc", "▁a bc"}, {"abc", "▁abc"}} }), ErrMalformed, "self-test sample 1 of 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := FromBytes(tc.model())
			if err == nil {
				t.Fatalf("FromBytes succeeded (vocab %d), want an error", tok.VocabSize())
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q does not wrap %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
		})
	}
}

func tinyModel(edit func(*tinySpec)) func() []byte {
	return func() []byte {
		s := tinyDefaults()
		edit(&s)
		return s.bytes()
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.model"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestLoadErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.model")
	if err := os.WriteFile(path, []byte{0x0a, 0x7f}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("Load(%s) = %v, want an ErrMalformed naming the file", path, err)
	}
}

// TestTruncatedModels cuts a real model at every byte: a cut inside a
// top-level field must be an error; a cut between fields is a shorter but
// well-formed message, which loads or fails validation (without trainer_spec
// the model type defaults to unigram).
func TestTruncatedModels(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(testdataDir, "template.model"))
	if err != nil {
		t.Fatal(err)
	}
	boundary := map[int]bool{0: true}
	rest := full
	if err := wireFields(full, func(f wireField) error {
		// Fields are visited in order; find where this one ends.
		_, n, _ := readVarint(rest) // key
		rest = rest[n:]
		switch f.typ {
		case wireBytes:
			size, n, _ := readVarint(rest)
			rest = rest[n+int(size):]
		case wireVarint:
			_, n, _ := readVarint(rest)
			rest = rest[n:]
		case wireFixed32:
			rest = rest[4:]
		case wireFixed64:
			rest = rest[8:]
		}
		boundary[len(full)-len(rest)] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for n := 0; n < len(full); n++ {
		tok, err := FromBytes(full[:n])
		switch {
		case err == nil && !boundary[n]:
			t.Fatalf("model cut at byte %d of %d loaded", n, len(full))
		case err == nil:
			loaded++
			tok.Decode(tok.Encode("Where is the tumour?"))
		case !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported):
			t.Fatalf("cut at byte %d: error %q wraps neither ErrMalformed nor ErrUnsupported", n, err)
		}
	}
	t.Logf("%d cuts: %d at field boundaries loaded, the rest failed", len(full), loaded)
}

func TestInfo(t *testing.T) {
	tests := []struct {
		model string
		want  ModelInfo
	}{
		{"test", ModelInfo{ModelType: "BPE", VocabSize: 1500, NormalizerName: "identity",
			AddDummyPrefix: true, EscapeWhitespaces: true, ByteFallback: true, SplitDigits: true}},
		{"rules", ModelInfo{ModelType: "BPE", VocabSize: 300, NormalizerName: "user_defined",
			HasCharsMap: true, AddDummyPrefix: true, RemoveExtraWhitespaces: true,
			EscapeWhitespaces: true, UserDefinedPieces: 5}},
		{"suffix", ModelInfo{ModelType: "BPE", VocabSize: 600, NormalizerName: "identity",
			AddDummyPrefix: true, EscapeWhitespaces: true, TreatWhitespaceAsSuffix: true,
			ByteFallback: true, SplitDigits: true}},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			if got := loadTestModel(t, tc.model).Info(); got != tc.want {
				t.Errorf("Info() = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

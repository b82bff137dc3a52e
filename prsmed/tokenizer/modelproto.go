package tokenizer

import (
	"fmt"
)

// modelProto holds the parts of sentencepiece's ModelProto
// (sentencepiece_model.proto) that encoding and decoding need.
type modelProto struct {
	pieces          []pieceProto
	trainer         trainerSpec
	normalizer      normalizerSpec
	hasDenormalizer bool
	denormalizer    normalizerSpec
	selfTest        []selfTestSample
}

// pieceProto is ModelProto.SentencePiece.
type pieceProto struct {
	piece string
	score float32
	typ   PieceType
}

// trainerSpec is the subset of TrainerSpec read by this package. Fields keep
// the proto2 defaults when absent from the file.
type trainerSpec struct {
	modelType         int32 // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
	vocabSize         int32
	splitDigits       bool
	treatWSAsSuffix   bool
	allowWSOnlyPieces bool
	byteFallback      bool
	unkID, bosID      int32
	eosID, padID      int32
	unkPiece          string
	bosPiece          string
	eosPiece          string
	padPiece          string
	unkSurface        string
}

// normalizerSpec is NormalizerSpec (also used for denormalizer_spec).
type normalizerSpec struct {
	name           string
	charsmap       []byte
	addDummyPrefix bool
	removeExtraWS  bool
	escapeWS       bool
}

// selfTestSample is SelfTestData.Sample: an input and its expected pieces
// joined by single spaces.
type selfTestSample struct {
	input, expected string
}

// Model types of TrainerSpec.model_type.
const (
	modelUnigram = 1
	modelBPE     = 2
	modelWord    = 3
	modelChar    = 4
)

func modelTypeName(t int32) string {
	switch t {
	case modelUnigram:
		return "UNIGRAM"
	case modelBPE:
		return "BPE"
	case modelWord:
		return "WORD"
	case modelChar:
		return "CHAR"
	}
	return fmt.Sprintf("type(%d)", t)
}

func defaultTrainerSpec() trainerSpec {
	return trainerSpec{
		modelType:  modelUnigram,
		vocabSize:  8000,
		unkID:      0,
		bosID:      1,
		eosID:      2,
		padID:      -1,
		unkPiece:   "<unk>",
		bosPiece:   "<s>",
		eosPiece:   "</s>",
		padPiece:   "<pad>",
		unkSurface: " \u2047 ",
	}
}

func defaultNormalizerSpec() normalizerSpec {
	return normalizerSpec{addDummyPrefix: true, removeExtraWS: true, escapeWS: true}
}

// parseModelProto decodes a serialized ModelProto.
func parseModelProto(b []byte) (*modelProto, error) {
	m := &modelProto{
		trainer:      defaultTrainerSpec(),
		normalizer:   defaultNormalizerSpec(),
		denormalizer: defaultNormalizerSpec(),
	}
	err := wireFields(b, func(f wireField) error {
		switch f.num {
		case 1:
			if err := f.want(wireBytes, "pieces"); err != nil {
				return err
			}
			p, err := parsePiece(f.data)
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.pieces), err)
			}
			m.pieces = append(m.pieces, p)
		case 2:
			if err := f.want(wireBytes, "trainer_spec"); err != nil {
				return err
			}
			if err := parseTrainerSpec(f.data, &m.trainer); err != nil {
				return fmt.Errorf("trainer_spec: %w", err)
			}
		case 3:
			if err := f.want(wireBytes, "normalizer_spec"); err != nil {
				return err
			}
			if err := parseNormalizerSpec(f.data, &m.normalizer); err != nil {
				return fmt.Errorf("normalizer_spec: %w", err)
			}
		case 4:
			if err := f.want(wireBytes, "self_test_data"); err != nil {
				return err
			}
			if err := parseSelfTest(f.data, &m.selfTest); err != nil {
				return fmt.Errorf("self_test_data: %w", err)
			}
		case 5:
			if err := f.want(wireBytes, "denormalizer_spec"); err != nil {
				return err
			}
			m.hasDenormalizer = true
			if err := parseNormalizerSpec(f.data, &m.denormalizer); err != nil {
				return fmt.Errorf("denormalizer_spec: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func parsePiece(b []byte) (pieceProto, error) {
	p := pieceProto{typ: Normal}
	err := wireFields(b, func(f wireField) error {
		switch f.num {
		case 1:
			if err := f.want(wireBytes, "piece"); err != nil {
				return err
			}
			p.piece = string(f.data)
		case 2:
			if err := f.want(wireFixed32, "score"); err != nil {
				return err
			}
			p.score = f.float32()
		case 3:
			if err := f.want(wireVarint, "type"); err != nil {
				return err
			}
			t := f.int32()
			if t < int32(Normal) || t > int32(Byte) {
				return fmt.Errorf("%w: unknown piece type %d", ErrMalformed, t)
			}
			p.typ = PieceType(t)
		}
		return nil
	})
	return p, err
}

func parseTrainerSpec(b []byte, t *trainerSpec) error {
	return wireFields(b, func(f wireField) error {
		var err error
		switch f.num {
		case 3:
			err = f.want(wireVarint, "model_type")
			t.modelType = f.int32()
		case 4:
			err = f.want(wireVarint, "vocab_size")
			t.vocabSize = f.int32()
		case 24:
			err = f.want(wireVarint, "treat_whitespace_as_suffix")
			t.treatWSAsSuffix = f.bool()
		case 25:
			err = f.want(wireVarint, "split_digits")
			t.splitDigits = f.bool()
		case 26:
			err = f.want(wireVarint, "allow_whitespace_only_pieces")
			t.allowWSOnlyPieces = f.bool()
		case 35:
			err = f.want(wireVarint, "byte_fallback")
			t.byteFallback = f.bool()
		case 40:
			err = f.want(wireVarint, "unk_id")
			t.unkID = f.int32()
		case 41:
			err = f.want(wireVarint, "bos_id")
			t.bosID = f.int32()
		case 42:
			err = f.want(wireVarint, "eos_id")
			t.eosID = f.int32()
		case 43:
			err = f.want(wireVarint, "pad_id")
			t.padID = f.int32()
		case 44:
			err = f.want(wireBytes, "unk_surface")
			t.unkSurface = string(f.data)
		case 45:
			err = f.want(wireBytes, "unk_piece")
			t.unkPiece = string(f.data)
		case 46:
			err = f.want(wireBytes, "bos_piece")
			t.bosPiece = string(f.data)
		case 47:
			err = f.want(wireBytes, "eos_piece")
			t.eosPiece = string(f.data)
		case 48:
			err = f.want(wireBytes, "pad_piece")
			t.padPiece = string(f.data)
		}
		return err
	})
}

func parseNormalizerSpec(b []byte, n *normalizerSpec) error {
	return wireFields(b, func(f wireField) error {
		var err error
		switch f.num {
		case 1:
			err = f.want(wireBytes, "name")
			n.name = string(f.data)
		case 2:
			err = f.want(wireBytes, "precompiled_charsmap")
			n.charsmap = append([]byte(nil), f.data...)
		case 3:
			err = f.want(wireVarint, "add_dummy_prefix")
			n.addDummyPrefix = f.bool()
		case 4:
			err = f.want(wireVarint, "remove_extra_whitespaces")
			n.removeExtraWS = f.bool()
		case 5:
			err = f.want(wireVarint, "escape_whitespaces")
			n.escapeWS = f.bool()
		}
		return err
	})
}

func parseSelfTest(b []byte, out *[]selfTestSample) error {
	return wireFields(b, func(f wireField) error {
		if f.num != 1 {
			return nil
		}
		if err := f.want(wireBytes, "samples"); err != nil {
			return err
		}
		var s selfTestSample
		err := wireFields(f.data, func(g wireField) error {
			var err error
			switch g.num {
			case 1:
				err = g.want(wireBytes, "input")
				s.input = string(g.data)
			case 2:
				err = g.want(wireBytes, "expected")
				s.expected = string(g.data)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("sample %d: %w", len(*out), err)
		}
		*out = append(*out, s)
		return nil
	})
}

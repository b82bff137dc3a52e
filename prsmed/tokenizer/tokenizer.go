package tokenizer

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// PieceType is the type of a vocabulary piece (ModelProto.SentencePiece.Type).
type PieceType uint8

// Piece types, numbered as in sentencepiece_model.proto.
const (
	Normal      PieceType = 1 // ordinary piece, produced by BPE merges
	Unknown     PieceType = 2 // the UNK piece (exactly one per model)
	Control     PieceType = 3 // control piece such as <s> or </s>; never produced from text
	UserDefined PieceType = 4 // always matched as a whole in text, never merged further
	Unused      PieceType = 5 // may appear inside merges but is split again on output
	Byte        PieceType = 6 // byte-fallback piece <0x00> … <0xFF>
)

// String returns the proto enum name of t.
func (t PieceType) String() string {
	switch t {
	case Normal:
		return "NORMAL"
	case Unknown:
		return "UNKNOWN"
	case Control:
		return "CONTROL"
	case UserDefined:
		return "USER_DEFINED"
	case Unused:
		return "UNUSED"
	case Byte:
		return "BYTE"
	}
	return fmt.Sprintf("PieceType(%d)", uint8(t))
}

// spaceSymbol is U+2581 LOWER ONE EIGHTH BLOCK, which stands for a space
// inside pieces.
const spaceSymbol = "\u2581"

// Tokenizer encodes text to ids and back with a SentencePiece BPE model.
// It is immutable after loading and safe for concurrent use.
type Tokenizer struct {
	pieces  []pieceProto     // by id
	surface []string         // by id: piece with "▁" replaced by " "
	byteVal []int16          // by id: byte value of a Byte piece, else -1
	ids     map[string]int32 // every piece → id
	byteID  [256]int32       // id of <0xXX>, or -1

	unk, bos, eos, pad int
	byteFallback       bool
	unkSurface         string
	// stripBOSSpace: drop one leading "▁" when decoding the first piece
	// (add_dummy_prefix or remove_extra_whitespaces).
	stripBOSSpace bool
	// removeExtraWS: remove_extra_whitespaces, which also disables the
	// "seen a leading space" bookkeeping of the decoder.
	removeExtraWS bool
	// splitAtSpace: BPE may run word by word (see canSplitAtSpace).
	splitAtSpace bool

	norm   *normalizer
	denorm *normalizer // nil unless the model has a denormalizer charsmap
	user   *prefixMatcher

	info  ModelInfo
	state sync.Pool // *encodeState scratch buffers
}

// ModelInfo describes the settings a model was built with.
type ModelInfo struct {
	ModelType               string // "BPE" (other types are rejected by Load)
	VocabSize               int    // number of pieces
	NormalizerName          string // e.g. "identity" for LLaMA/Mistral
	HasCharsMap             bool   // a precompiled normalization map is applied
	AddDummyPrefix          bool   // a "▁" is prepended to non-empty input
	RemoveExtraWhitespaces  bool   // leading, trailing and repeated spaces are dropped
	EscapeWhitespaces       bool   // spaces become "▁"
	TreatWhitespaceAsSuffix bool   // the dummy "▁" goes at the end instead
	ByteFallback            bool   // unknown characters become <0xXX> pieces
	SplitDigits             bool   // trainer setting; no effect on encoding
	UserDefinedPieces       int    // number of USER_DEFINED pieces
}

// Load reads a SentencePiece tokenizer.model file.
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", path, err)
	}
	return t, nil
}

// FromBytes builds a Tokenizer from the bytes of a serialized SentencePiece
// ModelProto (the content of a tokenizer.model file). The slice is not
// retained.
func FromBytes(b []byte) (*Tokenizer, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty model", ErrMalformed)
	}
	m, err := parseModelProto(b)
	if err != nil {
		return nil, err
	}
	return newTokenizer(m)
}

func newTokenizer(m *modelProto) (*Tokenizer, error) {
	if m.trainer.modelType != modelBPE {
		return nil, fmt.Errorf("%w: model type %s (only BPE is implemented)",
			ErrUnsupported, modelTypeName(m.trainer.modelType))
	}
	if len(m.pieces) == 0 {
		return nil, fmt.Errorf("%w: no pieces", ErrMalformed)
	}
	t := &Tokenizer{
		pieces:        m.pieces,
		surface:       make([]string, len(m.pieces)),
		byteVal:       make([]int16, len(m.pieces)),
		ids:           make(map[string]int32, len(m.pieces)),
		unk:           -1,
		byteFallback:  m.trainer.byteFallback,
		unkSurface:    m.trainer.unkSurface,
		stripBOSSpace: m.normalizer.addDummyPrefix || m.normalizer.removeExtraWS,
		removeExtraWS: m.normalizer.removeExtraWS,
	}
	for i := range t.byteID {
		t.byteID[i] = -1
	}
	var userPieces []string
	for i, p := range m.pieces {
		if p.piece == "" {
			return nil, fmt.Errorf("%w: piece %d is empty", ErrMalformed, i)
		}
		if _, dup := t.ids[p.piece]; dup {
			return nil, fmt.Errorf("%w: piece %q (id %d) is already defined", ErrMalformed, p.piece, i)
		}
		t.ids[p.piece] = int32(i)
		t.surface[i] = strings.ReplaceAll(p.piece, spaceSymbol, " ")
		t.byteVal[i] = -1
		switch p.typ {
		case UserDefined:
			userPieces = append(userPieces, p.piece)
		case Unknown:
			if t.unk >= 0 {
				return nil, fmt.Errorf("%w: unk is defined twice (ids %d and %d)", ErrMalformed, t.unk, i)
			}
			t.unk = i
		case Byte:
			if !m.trainer.byteFallback {
				return nil, fmt.Errorf("%w: byte piece %s (id %d) found although byte_fallback is false",
					ErrMalformed, p.piece, i)
			}
			v, ok := pieceToByte(p.piece)
			if !ok {
				return nil, fmt.Errorf("%w: invalid byte piece %q (id %d)", ErrMalformed, p.piece, i)
			}
			t.byteVal[i] = int16(v)
			t.byteID[v] = int32(i)
		}
	}
	if t.unk < 0 {
		return nil, fmt.Errorf("%w: unk is not defined", ErrMalformed)
	}
	if t.byteFallback {
		for v, id := range t.byteID {
			if id < 0 {
				return nil, fmt.Errorf("%w: byte_fallback is true but piece <0x%02X> is missing",
					ErrMalformed, v)
			}
		}
	}
	t.bos = t.controlID(m.trainer.bosPiece)
	t.eos = t.controlID(m.trainer.eosPiece)
	t.pad = t.controlID(m.trainer.padPiece)
	t.user = newPrefixMatcher(userPieces)
	t.splitAtSpace = m.normalizer.escapeWS && canSplitAtSpace(m.pieces)

	var err error
	if t.norm, err = newNormalizer(m.normalizer, m.trainer.treatWSAsSuffix, t.user); err != nil {
		return nil, fmt.Errorf("normalizer_spec: %w", err)
	}
	if m.hasDenormalizer && len(m.denormalizer.charsmap) > 0 {
		if t.denorm, err = newNormalizer(m.denormalizer, false, nil); err != nil {
			return nil, fmt.Errorf("denormalizer_spec: %w", err)
		}
	}
	t.info = ModelInfo{
		ModelType:               modelTypeName(m.trainer.modelType),
		VocabSize:               len(m.pieces),
		NormalizerName:          m.normalizer.name,
		HasCharsMap:             t.norm.cmap != nil,
		AddDummyPrefix:          m.normalizer.addDummyPrefix,
		RemoveExtraWhitespaces:  m.normalizer.removeExtraWS,
		EscapeWhitespaces:       m.normalizer.escapeWS,
		TreatWhitespaceAsSuffix: m.trainer.treatWSAsSuffix,
		ByteFallback:            m.trainer.byteFallback,
		SplitDigits:             m.trainer.splitDigits,
		UserDefinedPieces:       len(userPieces),
	}
	if err := t.selfTest(m.selfTest); err != nil {
		return nil, err
	}
	return t, nil
}

// canSplitAtSpace reports whether BPE over a whole text gives the same
// pieces as BPE over each word ("▁" runs and what follows them up to the
// next "▁" run) on its own. That holds when no piece that merges can produce
// contains "▁" right after another character (true for models trained with
// split_by_whitespace and whitespace as prefix, like LLaMA's), so no merge
// ever spans a word start; and when there are no UNUSED pieces, whose
// re-splitting depends on the order of all merges.
func canSplitAtSpace(pieces []pieceProto) bool {
	for _, p := range pieces {
		if p.typ == Unused {
			return false
		}
		if !mergeable(p.typ) {
			continue
		}
		s := p.piece
		for i := 1; i < len(s); i++ {
			if strings.HasPrefix(s[i:], spaceSymbol) && !strings.HasSuffix(s[:i], spaceSymbol) {
				return false
			}
		}
	}
	return true
}

// controlID returns the id of piece if it is a control piece, else -1 (as
// sentencepiece's bos_id/eos_id/pad_id do).
func (t *Tokenizer) controlID(piece string) int {
	if id, ok := t.ids[piece]; ok && t.pieces[id].typ == Control {
		return int(id)
	}
	return -1
}

// selfTest runs the samples stored in the model, as sentencepiece does on
// load: each input must encode to the expected space-joined pieces.
func (t *Tokenizer) selfTest(samples []selfTestSample) error {
	for i, s := range samples {
		got := strings.Join(t.EncodePieces(s.input), " ")
		if got != s.expected {
			return fmt.Errorf("%w: self-test sample %d of %d: %q encodes to %q, model expects %q",
				ErrMalformed, i, len(samples), s.input, got, s.expected)
		}
	}
	return nil
}

// pieceToByte parses a byte piece "<0xXX>" (upper-case hex, as written by
// sentencepiece).
func pieceToByte(p string) (byte, bool) {
	if len(p) != 6 || p[:3] != "<0x" || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := upperHex(p[3])
	lo, ok2 := upperHex(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func upperHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// VocabSize returns the number of pieces; valid ids are 0 … VocabSize()-1.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// BOS returns the id of the beginning-of-sentence piece (<s>, 1 for
// LLaMA/Mistral), or -1 when the model has none.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the id of the end-of-sentence piece (</s>, 2 for
// LLaMA/Mistral), or -1 when the model has none.
func (t *Tokenizer) EOS() int { return t.eos }

// UNK returns the id of the unknown piece (<unk>, 0 for LLaMA/Mistral).
func (t *Tokenizer) UNK() int { return t.unk }

// PAD returns the id of the padding piece, or -1 when the model has none
// (LLaMA/Mistral have none; their training code pads with UNK).
func (t *Tokenizer) PAD() int { return t.pad }

// Info returns the settings the model was built with.
func (t *Tokenizer) Info() ModelInfo { return t.info }

// IDToPiece returns the piece of id, e.g. "▁the" or "<0x0A>", or "" when id
// is out of range.
func (t *Tokenizer) IDToPiece(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id].piece
}

// PieceToID returns the id of piece, or UNK() when the vocabulary does not
// contain it (as sentencepiece does). Use [Tokenizer.Lookup] to tell the two
// cases apart.
func (t *Tokenizer) PieceToID(piece string) int {
	if id, ok := t.ids[piece]; ok {
		return int(id)
	}
	return t.unk
}

// Lookup returns the id of piece and whether the vocabulary contains it.
func (t *Tokenizer) Lookup(piece string) (int, bool) {
	id, ok := t.ids[piece]
	return int(id), ok
}

// Score returns the score of id (the merge priority of a BPE piece), or 0
// when id is out of range.
func (t *Tokenizer) Score(id int) float32 {
	if id < 0 || id >= len(t.pieces) {
		return 0
	}
	return t.pieces[id].score
}

// Type returns the type of id, or 0 when id is out of range.
func (t *Tokenizer) Type(id int) PieceType {
	if id < 0 || id >= len(t.pieces) {
		return 0
	}
	return t.pieces[id].typ
}

package tokenizer

import (
	"fmt"
	"math"
	"strings"
)

// EncodeOptions select the extra ids Encode adds around the text.
type EncodeOptions struct {
	AddBOS bool // prepend BOS() (skipped when the model has no BOS piece)
	AddEOS bool // append EOS() (skipped when the model has no EOS piece)
}

// Encode returns the ids of text, without BOS or EOS, exactly as
// sentencepiece's encode(text) does. The empty string gives no ids.
func (t *Tokenizer) Encode(text string) []int {
	return t.AppendEncode(nil, text)
}

// EncodeWithBOS returns BOS() followed by the ids of text: the usual input
// of a LLaMA/Mistral model.
func (t *Tokenizer) EncodeWithBOS(text string) []int {
	return t.EncodeWith(text, EncodeOptions{AddBOS: true})
}

// EncodeWith returns the ids of text with the extra ids opt asks for.
func (t *Tokenizer) EncodeWith(text string, opt EncodeOptions) []int {
	var dst []int
	if opt.AddBOS && t.bos >= 0 {
		dst = append(dst, t.bos)
	}
	dst = t.AppendEncode(dst, text)
	if opt.AddEOS && t.eos >= 0 {
		dst = append(dst, t.eos)
	}
	return dst
}

// EncodeWithPlaceholder encodes text split at each occurrence of
// placeholder, as LLaVA's tokenizer_image_token does for "<image>": every
// chunk is encoded on its own (so each non-empty chunk gets its own dummy
// prefix), the chunks are joined by id (LLaVA uses -200, a sentinel that is
// no vocabulary id), and opt adds BOS before everything and EOS after.
// An empty placeholder encodes text as one chunk.
func (t *Tokenizer) EncodeWithPlaceholder(text, placeholder string, id int, opt EncodeOptions) []int {
	var dst []int
	if opt.AddBOS && t.bos >= 0 {
		dst = append(dst, t.bos)
	}
	if placeholder == "" {
		dst = t.AppendEncode(dst, text)
	} else {
		for i, chunk := range strings.Split(text, placeholder) {
			if i > 0 {
				dst = append(dst, id)
			}
			dst = t.AppendEncode(dst, chunk)
		}
	}
	if opt.AddEOS && t.eos >= 0 {
		dst = append(dst, t.eos)
	}
	return dst
}

// AppendEncode appends the ids of text to dst and returns the extended
// slice, allocating only when dst lacks capacity.
func (t *Tokenizer) AppendEncode(dst []int, text string) []int {
	st := t.segment(text)
	defer t.release(st)
	prevUnk := false
	for _, sg := range st.out {
		typ := t.pieces[sg.id].typ
		isUnk := typ == Unknown
		switch {
		case typ == Control:
			dst = append(dst, int(sg.id))
		case isUnk && t.byteFallback:
			for i := sg.start; i < sg.end; i++ {
				dst = append(dst, int(t.byteID[st.text[i]]))
			}
		case isUnk && prevUnk:
			// sentencepiece merges a run of unknown pieces into one UNK.
		default:
			dst = append(dst, int(sg.id))
		}
		prevUnk = isUnk
	}
	return dst
}

// EncodePieces returns the pieces of text, as sentencepiece's
// encode(text, out_type=str) does: byte-fallback pieces appear as "<0xXX>",
// and a run of unknown characters (in a model without byte fallback) as the
// characters themselves.
func (t *Tokenizer) EncodePieces(text string) []string {
	st := t.segment(text)
	defer t.release(st)
	var pieces []string
	prevUnk := false
	for _, sg := range st.out {
		typ := t.pieces[sg.id].typ
		isUnk := typ == Unknown
		w := st.text[sg.start:sg.end]
		switch {
		case isUnk && t.byteFallback:
			for i := sg.start; i < sg.end; i++ {
				pieces = append(pieces, t.pieces[t.byteID[st.text[i]]].piece)
			}
		case isUnk && prevUnk:
			pieces[len(pieces)-1] += w
		default:
			pieces = append(pieces, w)
		}
		prevUnk = isUnk
	}
	return pieces
}

// segment normalizes text and runs BPE on it. The caller returns the state
// with t.release when done with st.out and st.text.
func (t *Tokenizer) segment(text string) *encodeState {
	st, _ := t.state.Get().(*encodeState)
	if st == nil {
		st = &encodeState{}
	}
	st.buf = t.norm.normalize(st.buf[:0], text)
	if len(st.buf) > math.MaxInt32 {
		panic(fmt.Sprintf("tokenizer: text of %d normalized bytes is too long (limit 2 GiB)", len(st.buf)))
	}
	st.text = string(st.buf)
	t.bpe(st)
	return st
}

// maxPooledBytes bounds the normalized-text capacity of a state kept for
// reuse, so one huge input does not pin its buffers.
const maxPooledBytes = 1 << 20

// release returns st to the pool.
func (t *Tokenizer) release(st *encodeState) {
	if cap(st.buf) > maxPooledBytes {
		return
	}
	st.text = ""
	t.state.Put(st)
}

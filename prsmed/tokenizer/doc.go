// Package tokenizer is a pure-Go SentencePiece BPE tokenizer for the
// LLaMA / Mistral family of models (the tokenizer.model files shipped with
// Mistral-7B and LLaVA-Med v1.5).
//
// It reads the serialized SentencePiece ModelProto itself (no protobuf
// library, no cgo) and reproduces the behaviour of the reference C++
// implementation (sentencepiece 0.1.9x):
//
//   - Normalization as the model's normalizer_spec says: the identity rule
//     used by LLaMA/Mistral, or a precompiled character map; a dummy "▁"
//     prefix; spaces escaped to "▁"; optional removal of extra whitespace;
//     malformed UTF-8 bytes replaced by U+FFFD.
//   - User-defined pieces matched greedily (longest first) and never merged.
//   - BPE merges driven by piece scores: the adjacent pair whose
//     concatenation is in the vocabulary with the highest score is merged
//     first, ties going to the leftmost pair.
//   - Byte fallback: characters that end up outside the vocabulary are
//     emitted as <0xXX> pieces of their UTF-8 bytes, or as one UNK id per
//     run of unknown characters when the model has no byte pieces.
//   - Decoding that drops the space produced by the dummy prefix, joins byte
//     pieces into UTF-8 (invalid bytes become U+FFFD), hides control pieces
//     and prints UNK as " ⁇ ".
//
// Control pieces such as "<s>" or "</s>" that appear inside text are
// ordinary characters, exactly as in SentencePiece (Hugging Face tokenizers
// instead match them as special tokens): add BOS/EOS ids with
// [Tokenizer.EncodeWith] or by hand.
//
// Only the BPE model type is supported; unigram, word and char models are
// rejected with an error wrapping [ErrUnsupported].
package tokenizer

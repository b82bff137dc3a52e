package tokenizer

import "errors"

// ErrMalformed is wrapped by every error returned for a model file that is
// not a well-formed SentencePiece ModelProto (truncated, corrupt, or
// internally inconsistent).
var ErrMalformed = errors.New("malformed sentencepiece model")

// ErrUnsupported is wrapped by errors returned for well-formed models that
// use a feature this package does not implement (for example a unigram
// model).
var ErrUnsupported = errors.New("unsupported sentencepiece model")

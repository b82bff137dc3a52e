// Package assets ships files the tiny preset needs: the template tokenizer, a LLaMA-style
// SentencePiece BPE (800 pieces, byte fallback) trained on PRS-Med's question and answer
// templates by third_party/tokenizer/train.py.
package assets

import (
	_ "embed"

	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
)

//go:embed template.model
var templateModel []byte

// TemplateModel is the raw tokenizer.model bytes of the template tokenizer.
func TemplateModel() []byte { return append([]byte(nil), templateModel...) }

// TemplateTokenizer loads the template tokenizer.
func TemplateTokenizer() (*tokenizer.Tokenizer, error) { return tokenizer.FromBytes(templateModel) }

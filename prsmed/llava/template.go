// Package llava assembles the LLaVA-Med vision-language model: a vision tower, the
// projector, the Mistral decoder and the tokenizer, with the prompt template, the <image>
// placeholder, the splicing of image features into the token embeddings, the labels for
// the answer loss, and answer generation.
package llava

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ImageToken is the placeholder the prompt uses for the image.
const ImageToken = "<image>"

// ImageTokenID is the sentinel id (−200) that stands for the image in a tokenised prompt;
// it never indexes the embedding table.
const ImageTokenID = -200

// IgnoreLabel marks positions that the answer loss skips.
const IgnoreLabel = -100

// Template renders a question into the prompt the model reads.
type Template string

// The templates: PRS-Med's training format (see docs/model.md) and LLaVA-Med's mistral_instruct.
const (
	PRSMed          Template = "<image>\n### User: {question} \n### Assistant: \n"
	MistralInstruct Template = "[INST] <image>\n{question} [/INST]"
)

// Prompt renders the question (trimmed) into the template.
func (t Template) Prompt(question string) string {
	return strings.ReplaceAll(string(t), "{question}", strings.TrimSpace(question))
}

// WeightsIn finds the weights of a LLaVA / LLaVA-Med folder: the sharded safetensors or
// .bin index, or a single model.safetensors or pytorch_model.bin.
func WeightsIn(dir string) (string, error) {
	for _, n := range []string{"model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors", "pytorch_model.bin"} {
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("llava: %s holds no weights (model.safetensors.index.json, pytorch_model.bin.index.json, model.safetensors or pytorch_model.bin)", dir)
}

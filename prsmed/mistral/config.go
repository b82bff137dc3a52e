// Package mistral is the language half of LLaVA-Med v1.5: the Mistral decoder (embedding,
// RMSNorm in fp32, rotate-half RoPE, grouped-query attention, SwiGLU MLP, final norm,
// lm_head) with Hugging Face's state-dict names, a KV cache and generation.
package mistral

import (
	"fmt"
	"os"
)

// Config is the part of a Hugging Face MistralConfig the decoder needs. Read it from
// config.json with LoadConfig; keys absent there take transformers' defaults.
type Config struct {
	VocabSize         int64    `json:"vocab_size"`
	HiddenSize        int64    `json:"hidden_size"`
	IntermediateSize  int64    `json:"intermediate_size"`
	NumHiddenLayers   int64    `json:"num_hidden_layers"`
	NumAttentionHeads int64    `json:"num_attention_heads"`
	NumKeyValueHeads  int64    `json:"num_key_value_heads"`
	RMSNormEps        float64  `json:"rms_norm_eps"`
	RopeTheta         float64  `json:"rope_theta"`
	SlidingWindow     *int64   `json:"sliding_window"`
	MaxPositions      int64    `json:"max_position_embeddings"`
	BOSTokenID        int64    `json:"bos_token_id"`
	EOSTokenID        int64    `json:"eos_token_id"`
	TieWordEmbeddings bool     `json:"tie_word_embeddings"`
	HiddenAct         string   `json:"hidden_act"`
	Architectures     []string `json:"architectures,omitempty"`
	// HeadSize is config.json's head_dim: the width of one attention head when it is set
	// (Mistral-NeMo-style models, where it differs from hidden/heads); 0 means hidden/heads.
	HeadSize int64 `json:"head_dim,omitempty"`

	// DType is the dtype the file says the weights were saved in ("torch_dtype" in
	// transformers 4.x, "dtype" in 5.x); for information, the weights carry their own.
	DType string `json:"-"`
	// Defaulted lists the keys LoadConfig did not find in the file and took from
	// DefaultConfig (sorted), so a caller can tell a value read from a value assumed.
	Defaulted []string `json:"-"`
}

// DefaultConfig is transformers' MistralConfig() defaults (Mistral-7B sizes, θ = 10000,
// eps 1e-6, sliding window 4096). LLaVA-Med v1.5's config.json overrides θ and eps.
func DefaultConfig() Config {
	w := int64(4096)
	return Config{
		VocabSize: 32000, HiddenSize: 4096, IntermediateSize: 14336, NumHiddenLayers: 32,
		NumAttentionHeads: 32, NumKeyValueHeads: 8, RMSNormEps: 1e-6, RopeTheta: 10000,
		SlidingWindow: &w, MaxPositions: 4096 * 32, BOSTokenID: 1, EOSTokenID: 2, HiddenAct: "silu",
	}
}

// HeadDim is the width of one attention head: HeadSize when set, else hidden / heads.
func (c Config) HeadDim() int64 {
	if c.HeadSize > 0 {
		return c.HeadSize
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// QDim is the width of the queries of all heads (heads × HeadDim), hidden_size unless
// head_dim says otherwise.
func (c Config) QDim() int64 { return c.NumAttentionHeads * c.HeadDim() }

// Validate reports the first inconsistency.
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= 0 || c.HiddenSize <= 0 || c.IntermediateSize <= 0 || c.NumHiddenLayers <= 0:
		return fmt.Errorf("mistral: vocab, hidden, intermediate sizes and layer count must be positive")
	case c.NumAttentionHeads <= 0:
		return fmt.Errorf("mistral: %d attention heads", c.NumAttentionHeads)
	case c.HeadSize < 0:
		return fmt.Errorf("mistral: head_dim %d is negative", c.HeadSize)
	case c.HeadSize == 0 && c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("mistral: hidden size %d is not divisible by %d heads (and no head_dim is given)", c.HiddenSize, c.NumAttentionHeads)
	case c.NumKeyValueHeads <= 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0:
		return fmt.Errorf("mistral: %d heads are not a multiple of %d key/value heads", c.NumAttentionHeads, c.NumKeyValueHeads)
	case c.HeadDim()%2 != 0:
		return fmt.Errorf("mistral: head dim %d must be even for RoPE", c.HeadDim())
	case c.RMSNormEps <= 0 || c.RopeTheta <= 0:
		return fmt.Errorf("mistral: rms_norm_eps and rope_theta must be positive")
	case c.HiddenAct != "" && c.HiddenAct != "silu":
		return fmt.Errorf("mistral: hidden_act %q is not supported (silu only)", c.HiddenAct)
	}
	return nil
}

// LoadConfig reads a Hugging Face config.json (a LLaVA or Mistral one) written by
// transformers 4.x (top-level rope_theta, torch_dtype, rope_scaling) or 5.x
// (rope_parameters {rope_theta, rope_type}, dtype, head_dim). Absent keys keep
// DefaultConfig's values and are listed in Defaulted. Settings that change the math and
// that the decoder does not implement (RoPE scaling of any type but "default", partial
// rotary embeddings, attention or MLP biases, another activation) are refused with an error
// rather than ignored.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Tiny is a small Mistral for tests and examples (the language model of prsmed.Tiny) with a
// vocabulary of vocab tokens: hidden 64, MLP 128, 2 layers, 4 query and 2 key/value heads,
// RMSNorm ε 1e-6, RoPE θ 10000, 256 positions, BOS 1, EOS 2, SiLU.
func Tiny(vocab int64) Config {
	return Config{
		VocabSize: vocab, HiddenSize: 64, IntermediateSize: 128, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, RMSNormEps: 1e-6, RopeTheta: 10000, MaxPositions: 256, BOSTokenID: 1, EOSTokenID: 2,
		HiddenAct: "silu",
	}
}

package mistral

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// ParseConfig reads the bytes of a Hugging Face config.json; see LoadConfig.
func ParseConfig(raw []byte) (Config, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return Config{}, fmt.Errorf("mistral: config: %v", err)
	}
	// A composite model's file (transformers' LlavaConfig) keeps the language model's keys
	// under text_config; LLaVA-Med's own format has them at the top.
	if tc, ok := top["text_config"]; ok && !present(top, "hidden_size") {
		if err := json.Unmarshal(tc, &top); err != nil {
			return Config{}, fmt.Errorf("mistral: config: text_config: %v", err)
		}
	}

	c := DefaultConfig()
	var defaulted []string
	// Plain keys: decoded over the defaults one by one, so each absent one is recorded.
	fields := []struct {
		key string
		dst any
	}{
		{"vocab_size", &c.VocabSize}, {"hidden_size", &c.HiddenSize}, {"intermediate_size", &c.IntermediateSize},
		{"num_hidden_layers", &c.NumHiddenLayers}, {"num_attention_heads", &c.NumAttentionHeads},
		{"num_key_value_heads", &c.NumKeyValueHeads}, {"rms_norm_eps", &c.RMSNormEps},
		{"max_position_embeddings", &c.MaxPositions}, {"bos_token_id", &c.BOSTokenID},
		{"tie_word_embeddings", &c.TieWordEmbeddings}, {"hidden_act", &c.HiddenAct},
		{"architectures", &c.Architectures},
	}
	for _, f := range fields {
		v, ok := top[f.key]
		if !ok {
			defaulted = append(defaulted, f.key)
			continue
		}
		if isNull(v) {
			return Config{}, fmt.Errorf("mistral: config: %s is null", f.key)
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return Config{}, fmt.Errorf("mistral: config: %s: %v", f.key, err)
		}
	}
	// sliding_window: null means none (a present null is not a default).
	if v, ok := top["sliding_window"]; !ok {
		defaulted = append(defaulted, "sliding_window")
	} else if isNull(v) {
		c.SlidingWindow = nil
	} else {
		var w int64
		if err := json.Unmarshal(v, &w); err != nil {
			return Config{}, fmt.Errorf("mistral: config: sliding_window: %v", err)
		}
		c.SlidingWindow = &w
	}
	// eos_token_id: a number, or a list whose first entry ends generation here.
	if v, ok := top["eos_token_id"]; !ok {
		defaulted = append(defaulted, "eos_token_id")
	} else if err := json.Unmarshal(v, &c.EOSTokenID); err != nil {
		var ids []int64
		if err2 := json.Unmarshal(v, &ids); err2 != nil || len(ids) == 0 {
			return Config{}, fmt.Errorf("mistral: config: eos_token_id: %v", err)
		}
		c.EOSTokenID = ids[0]
	}
	// head_dim: absent or null means hidden/heads (transformers' rule).
	if v, ok := top["head_dim"]; !ok || isNull(v) {
		defaulted = append(defaulted, "head_dim")
	} else if err := json.Unmarshal(v, &c.HeadSize); err != nil {
		return Config{}, fmt.Errorf("mistral: config: head_dim: %v", err)
	}
	// dtype (5.x) or torch_dtype (4.x), for information.
	for _, k := range []string{"dtype", "torch_dtype"} {
		if v, ok := top[k]; ok && !isNull(v) {
			if err := json.Unmarshal(v, &c.DType); err != nil {
				return Config{}, fmt.Errorf("mistral: config: %s: %v", k, err)
			}
			break
		}
	}

	theta, err := ropeTheta(top)
	if err != nil {
		return Config{}, err
	}
	if theta == 0 {
		defaulted = append(defaulted, "rope_theta")
	} else {
		c.RopeTheta = theta
	}
	if err := unsupported(top); err != nil {
		return Config{}, err
	}
	sort.Strings(defaulted)
	c.Defaulted = defaulted
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ropeTheta finds θ in transformers 4.x's top-level rope_theta or 5.x's
// rope_parameters.rope_theta (0 when neither is there), refusing RoPE variants the decoder
// does not implement: any rope_type or rope_scaling type but "default" (linear, dynamic,
// yarn, llama3, longrope, ...), partial rotary embeddings, and per-layer-type parameters.
func ropeTheta(top map[string]json.RawMessage) (float64, error) {
	var theta float64
	if v, ok := top["rope_theta"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &theta); err != nil {
			return 0, fmt.Errorf("mistral: config: rope_theta: %v", err)
		}
	}
	for _, key := range []string{"rope_scaling", "rope_parameters"} {
		v, ok := top[key]
		if !ok || isNull(v) {
			continue
		}
		var p map[string]json.RawMessage
		if err := json.Unmarshal(v, &p); err != nil {
			return 0, fmt.Errorf("mistral: config: %s: %v", key, err)
		}
		typ := "default"
		for _, tk := range []string{"rope_type", "type"} {
			if tv, ok := p[tk]; ok && !isNull(tv) {
				if err := json.Unmarshal(tv, &typ); err != nil {
					return 0, fmt.Errorf("mistral: config: %s.%s: %v", key, tk, err)
				}
				break
			}
		}
		if typ != "default" {
			return 0, fmt.Errorf("mistral: config: %s has rope type %q: only the default (unscaled) RoPE is implemented", key, typ)
		}
		if _, hasType := p["rope_type"]; !hasType && !present(p, "rope_theta") && !present(p, "type") && len(p) > 0 {
			return 0, fmt.Errorf("mistral: config: %s holds per-layer-type parameters (%s): not implemented", key, keys(p))
		}
		if f, ok := p["partial_rotary_factor"]; ok && !isNull(f) {
			var x float64
			if err := json.Unmarshal(f, &x); err != nil || x != 1 {
				return 0, fmt.Errorf("mistral: config: %s.partial_rotary_factor %s: only full rotary embeddings are implemented", key, f)
			}
		}
		if tv, ok := p["rope_theta"]; ok && !isNull(tv) {
			var t float64
			if err := json.Unmarshal(tv, &t); err != nil {
				return 0, fmt.Errorf("mistral: config: %s.rope_theta: %v", key, err)
			}
			if theta != 0 && t != theta {
				return 0, fmt.Errorf("mistral: config: rope_theta %g and %s.rope_theta %g disagree", theta, key, t)
			}
			theta = t
		}
	}
	return theta, nil
}

// unsupported refuses keys whose non-default values change the math in ways the decoder does
// not implement.
func unsupported(top map[string]json.RawMessage) error {
	for _, k := range []string{"attention_bias", "mlp_bias"} {
		if v, ok := top[k]; ok && !isNull(v) {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("mistral: config: %s: %v", k, err)
			}
			if b {
				return fmt.Errorf("mistral: config: %s is true: the decoder's projections have no biases", k)
			}
		}
	}
	if v, ok := top["attention_dropout"]; ok && !isNull(v) {
		var p float64
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("mistral: config: attention_dropout: %v", err)
		}
		if p != 0 {
			return fmt.Errorf("mistral: config: attention_dropout %g: dropout on attention weights is not implemented", p)
		}
	}
	return nil
}

func present(m map[string]json.RawMessage, k string) bool {
	v, ok := m[k]
	return ok && !isNull(v)
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func keys(m map[string]json.RawMessage) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

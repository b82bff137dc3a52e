package mistral_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// Config files in transformers 4.x and 5.x layouts, written here.
const v4Config = `{
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 64, "intermediate_size": 128, "max_position_embeddings": 256, "model_type": "mistral",
  "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0, "rope_scaling": null, "sliding_window": null, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "transformers_version": "4.36.2", "use_cache": true, "vocab_size": 97
}`

const v5Config = `{
  "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "dtype": "float32",
  "eos_token_id": 2, "head_dim": 16, "hidden_act": "silu", "hidden_size": 64, "intermediate_size": 128,
  "max_position_embeddings": 256, "model_type": "mistral", "num_attention_heads": 4, "num_hidden_layers": 2,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-05,
  "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
  "sliding_window": null, "tie_word_embeddings": false, "transformers_version": "5.17.0", "vocab_size": 97
}`

func writeJSON(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// edit replaces old with new in the JSON text (the test fails if old is not there).
func edit(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("edit: %q not in the config", old)
	}
	return strings.Replace(text, old, new, 1)
}

func TestLoadConfigLayouts(t *testing.T) {
	cases := []struct {
		name      string
		text      string
		theta     float64
		headDim   int64
		dtype     string
		defaulted []string
	}{
		{"transformers 4", v4Config, 1e6, 16, "bfloat16", []string{"head_dim"}},
		{"transformers 5", v5Config, 1e6, 16, "float32", nil},
		{"transformers 5, head_dim null", edit(t, v5Config, `"head_dim": 16`, `"head_dim": null`), 1e6, 16, "float32", []string{"head_dim"}},
		{"rope_theta in both, equal", edit(t, v5Config, `"rms_norm_eps"`, `"rope_theta": 1000000.0, "rms_norm_eps"`), 1e6, 16, "float32", nil},
		{"no rope_theta anywhere", edit(t, v4Config, `"rope_theta": 1000000.0,`, ``), 10000, 16, "bfloat16", []string{"head_dim", "rope_theta"}},
		{"head_dim other than hidden/heads", edit(t, v5Config, `"head_dim": 16`, `"head_dim": 24`), 1e6, 24, "float32", nil},
		{"eos list", edit(t, v4Config, `"eos_token_id": 2`, `"eos_token_id": [2, 32000]`), 1e6, 16, "bfloat16", []string{"head_dim"}},
		{"minimal", `{"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 97,
			"intermediate_size": 128, "num_hidden_layers": 2}`, 10000, 16, "",
			[]string{"architectures", "bos_token_id", "eos_token_id", "head_dim", "hidden_act", "max_position_embeddings",
				"rms_norm_eps", "rope_theta", "sliding_window", "tie_word_embeddings"}},
		{"llava text_config", `{"model_type": "llava", "text_config": ` + v5Config + `}`, 1e6, 16, "float32", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := mistral.LoadConfig(writeJSON(t, c.text))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RopeTheta != c.theta || cfg.HeadDim() != c.headDim || cfg.DType != c.dtype {
				t.Errorf("θ %g head dim %d dtype %q, want %g %d %q", cfg.RopeTheta, cfg.HeadDim(), cfg.DType, c.theta, c.headDim, c.dtype)
			}
			if !reflect.DeepEqual(cfg.Defaulted, c.defaulted) {
				t.Errorf("Defaulted %q, want %q", cfg.Defaulted, c.defaulted)
			}
			if cfg.HiddenSize != 64 || cfg.NumKeyValueHeads != 2 || cfg.VocabSize != 97 || cfg.EOSTokenID != 2 {
				t.Errorf("sizes %+v", cfg)
			}
		})
	}
}

func TestLoadConfigRefuses(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"rope_type linear", edit(t, v5Config, `"rope_type": "default"`, `"rope_type": "linear", "factor": 2.0`), `rope type "linear"`},
		{"rope_type yarn", edit(t, v5Config, `"rope_type": "default"`, `"rope_type": "yarn", "factor": 4.0`), `rope type "yarn"`},
		{"rope_type llama3", edit(t, v5Config, `"rope_type": "default"`, `"rope_type": "llama3"`), `rope type "llama3"`},
		{"4.x rope_scaling dynamic", edit(t, v4Config, `"rope_scaling": null`, `"rope_scaling": {"type": "dynamic", "factor": 2.0}`), `rope type "dynamic"`},
		{"4.x rope_scaling longrope", edit(t, v4Config, `"rope_scaling": null`, `"rope_scaling": {"rope_type": "longrope"}`), `rope type "longrope"`},
		{"partial rotary", edit(t, v5Config, `"rope_type": "default"`, `"rope_type": "default", "partial_rotary_factor": 0.5`), "partial_rotary_factor"},
		{"per-layer-type rope", edit(t, v5Config, `{"rope_theta": 1000000.0, "rope_type": "default"}`,
			`{"full_attention": {"rope_theta": 1000000.0, "rope_type": "default"}}`), "per-layer-type"},
		{"thetas disagree", edit(t, v5Config, `"rms_norm_eps"`, `"rope_theta": 10000.0, "rms_norm_eps"`), "disagree"},
		{"attention bias", edit(t, v5Config, `"attention_dropout": 0.0`, `"attention_bias": true`), "attention_bias"},
		{"attention dropout", edit(t, v5Config, `"attention_dropout": 0.0`, `"attention_dropout": 0.1`), "attention_dropout"},
		{"gelu", edit(t, v5Config, `"hidden_act": "silu"`, `"hidden_act": "gelu"`), "hidden_act"},
		{"odd head_dim", edit(t, v5Config, `"head_dim": 16`, `"head_dim": 15`), "even"},
		{"null size", edit(t, v5Config, `"hidden_size": 64`, `"hidden_size": null`), "hidden_size is null"},
		{"not json", `{"hidden_size": `, "config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := mistral.LoadConfig(writeJSON(t, c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// TestTransformers5Model loads a tiny model saved in transformers 5's layout with
// head_dim ≠ hidden/heads and θ = 1e6 only in rope_parameters, and matches the PyTorch
// reference's logits (third_party/golden/mistral_v5_ref.py).
func TestTransformers5Model(t *testing.T) {
	d := filepath.Join(dir, "v5")
	cfg, err := mistral.LoadConfig(filepath.Join(d, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RopeTheta != 1e6 || cfg.HeadDim() != 12 || cfg.QDim() != 48 || cfg.HiddenSize != 32 || len(cfg.Defaulted) != 0 {
		t.Fatalf("config θ %g head dim %d qdim %d hidden %d defaulted %v", cfg.RopeTheta, cfg.HeadDim(), cfg.QDim(), cfg.HiddenSize, cfg.Defaulted)
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	m, err := mistral.New(st.Root(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(filepath.Join(d, "model.safetensors"), nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(d, "golden.safetensors"))
	out := m.Forward(s, mistral.Input{IDs: g["ids"]})
	torchtest.AllClose(t, "logits", out.Logits, g["logits"], 1e-5)
	torchtest.AllClose(t, "hidden", out.Hidden, g["hidden"], 1e-5)
}

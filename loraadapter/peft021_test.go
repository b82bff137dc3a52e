package loraadapter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// peft021 adds the fields PEFT 0.21's LoraConfig.to_dict writes, at their defaults, to the
// committed (PEFT 0.10-era) adapter_config.json.
func peft021(c map[string]any) {
	for k, v := range map[string]any{
		"alora_invocation_tokens": nil, "arrow_config": nil, "corda_config": nil, "ensure_weight_tying": false,
		"eva_config": nil, "exclude_modules": nil, "lora_bias": false, "lora_ga_config": nil, "monteclora_config": nil,
		"peft_version": "0.21.0", "qalora_group_size": 16, "target_parameters": nil, "trainable_token_indices": nil,
		"use_bdlora": nil, "use_qalora": false, "velora_config": nil, "layers_pattern": nil, "init_lora_weights": true,
	} {
		c[k] = v
	}
}

// A PEFT 0.21 adapter_config.json (all new fields at their defaults) loads, and the adapter
// computes what PyTorch computed.
func TestPEFT021ConfigLoads(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	dir := editDir(t, s, peft021, nil)
	g := torchtest.Golden(t, s, golden)
	st, m := withBase(t)
	rep, err := loraadapter.LoadWithReport(dir, st, m.LinearSlots())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Adapters) != 8 {
		t.Fatalf("%d adapters, want 8", len(rep.Adapters))
	}
	checkForward(t, s, g, m, "eval", rep.Adapters)
}

func TestPEFT021Refuses(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	cases := []struct {
		name string
		edit func(c map[string]any)
		want string
	}{
		{"dora", func(c map[string]any) { c["use_dora"] = true }, "use_dora"},
		{"activated lora", func(c map[string]any) { c["alora_invocation_tokens"] = []any{5, 6} }, "alora_invocation_tokens"},
		{"qalora", func(c map[string]any) { c["use_qalora"] = true }, "use_qalora"},
		{"bdlora", func(c map[string]any) { c["use_bdlora"] = map[string]any{"nblocks": 2} }, "use_bdlora"},
		{"arrow", func(c map[string]any) { c["arrow_config"] = map[string]any{"top_k": 3} }, "arrow_config"},
		{"monteclora", func(c map[string]any) { c["monteclora_config"] = map[string]any{"n": 4} }, "monteclora_config"},
		{"velora", func(c map[string]any) { c["velora_config"] = map[string]any{"rank": 2} }, "velora_config"},
		{"pissa", func(c map[string]any) { c["init_lora_weights"] = "pissa" }, `init_lora_weights "pissa"`},
		{"pissa fsvd", func(c map[string]any) { c["init_lora_weights"] = "pissa_niter_16" }, "pissa_niter_16"},
		{"olora", func(c map[string]any) { c["init_lora_weights"] = "olora" }, "olora"},
		{"loftq", func(c map[string]any) { c["init_lora_weights"] = "loftq" }, "loftq"},
		{"unknown true option", func(c map[string]any) { c["use_future_lora"] = true }, "use_future_lora"},
		{"unknown object option", func(c map[string]any) { c["future_config"] = map[string]any{"x": 1} }, "future_config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := editDir(t, s, func(m map[string]any) { peft021(m); c.edit(m) }, nil)
			_, err := loraadapter.ReadConfig(dir)
			if !errors.Is(err, loraadapter.ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrFormat mentioning %q", err, c.want)
			}
		})
	}
	// Accepted: initialisations that leave the base weights as they are, RSLoRA, and unknown
	// keys holding plain values.
	for _, edit := range []func(c map[string]any){
		func(c map[string]any) { c["init_lora_weights"] = "gaussian" },
		func(c map[string]any) { c["init_lora_weights"] = "orthogonal" },
		func(c map[string]any) { c["init_lora_weights"] = false },
		func(c map[string]any) { c["use_rslora"] = true },
		func(c map[string]any) {
			c["some_new_note"] = "text"
			c["some_new_flag"] = false
			c["some_new_list"] = []any{}
		},
	} {
		dir := editDir(t, s, func(m map[string]any) { peft021(m); edit(m) }, nil)
		if _, err := loraadapter.ReadConfig(dir); err != nil {
			t.Errorf("refused: %v", err)
		}
	}
}

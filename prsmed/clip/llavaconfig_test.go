package clip_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/clip"
)

// A Hugging Face LlavaConfig (transformers' LlavaForConditionalGeneration) is read into the
// same settings as LLaVA-Med's mm_* keys: feature layer and selection, and the
// mlp2x_gelu projector between the two towers' widths; settings the projector here does not
// implement are refused.
func TestLoadLLaVAConfigHuggingFace(t *testing.T) {
	write := func(m map[string]any) string {
		p := filepath.Join(t.TempDir(), "config.json")
		b, _ := json.Marshal(m)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hf := func(edit func(map[string]any)) map[string]any {
		m := map[string]any{"model_type": "llava", "image_token_index": 32000, "projector_hidden_act": "gelu",
			"multimodal_projector_bias": true, "vision_feature_layer": -2, "vision_feature_select_strategy": "default",
			"vision_config": map[string]any{"hidden_size": 1024, "model_type": "clip_vision_model"},
			"text_config":   map[string]any{"hidden_size": 4096, "model_type": "mistral"}}
		if edit != nil {
			edit(m)
		}
		return m
	}
	l, err := clip.LoadLLaVAConfig(write(hf(nil)))
	if err != nil {
		t.Fatal(err)
	}
	c := clip.ViTL14336()
	c.SelectLayer, c.SelectFeature = 5, clip.FeatureCLSPatch
	l.Apply(&c)
	if c.SelectLayer != -2 || c.SelectFeature != clip.FeaturePatch {
		t.Errorf("applied: select layer %d feature %q", c.SelectLayer, c.SelectFeature)
	}
	if pc := l.Projector(); pc != clip.DefaultProjector() {
		t.Errorf("projector %+v, want %+v", pc, clip.DefaultProjector())
	}
	// "full" keeps the class token; absent keys take LlavaConfig's defaults.
	l, err = clip.LoadLLaVAConfig(write(hf(func(m map[string]any) {
		m["vision_feature_select_strategy"] = "full"
		delete(m, "vision_feature_layer")
		delete(m, "projector_hidden_act")
	})))
	if err != nil {
		t.Fatal(err)
	}
	l.Apply(&c)
	if c.SelectLayer != -2 || c.SelectFeature != clip.FeatureCLSPatch || l.Projector().Type != "mlp2x_gelu" {
		t.Errorf("full: select layer %d feature %q projector %+v", c.SelectLayer, c.SelectFeature, l.Projector())
	}
	for _, bad := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(m map[string]any) { m["vision_feature_layer"] = []int{-2, -5} }, "vision_feature_layer"},
		{func(m map[string]any) { m["vision_feature_select_strategy"] = "cls" }, "vision_feature_select_strategy"},
		{func(m map[string]any) { m["projector_hidden_act"] = "silu" }, "projector_hidden_act"},
		{func(m map[string]any) { m["multimodal_projector_bias"] = false }, "multimodal_projector_bias"},
	} {
		if _, err := clip.LoadLLaVAConfig(write(hf(bad.edit))); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v", bad.want, err)
		}
	}
}

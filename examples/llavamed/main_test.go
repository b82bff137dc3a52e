package main

import (
	"encoding/json"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/internal/gocmd"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
)

// writeTinyLLaVA writes a folder in LLaVA-Med's layout (config.json, tokenizer.model,
// model.safetensors with LLaVA's names) for a tiny random model, plus a CLIP config.json.
func writeTinyLLaVA(t *testing.T, dir string) (clipConfig string) {
	t.Helper()
	tok := assets.TemplateModel()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), tok, 0o644); err != nil {
		t.Fatal(err)
	}
	vc := clip.VisionConfig{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 3, NumAttentionHeads: 4, NumChannels: 3,
		ImageSize: 28, PatchSize: 14, LayerNormEps: 1e-5, HiddenAct: "quick_gelu", SelectLayer: -2, SelectFeature: clip.FeaturePatch}
	lm := mistral.Config{VocabSize: 800, HiddenSize: 64, IntermediateSize: 128, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, RMSNormEps: 1e-6, RopeTheta: 10000, MaxPositions: 512, BOSTokenID: 1, EOSTokenID: 2, HiddenAct: "silu"}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	if _, err := clip.NewTower(st.Root().Sub(clip.LLaVATowerPath), vc); err != nil {
		t.Fatal(err)
	}
	if _, err := clip.NewProjector(st.Root().Sub(clip.LLaVAProjectorPath), clip.ProjectorConfig{Type: "mlp2x_gelu", InDim: 32, OutDim: 64}); err != nil {
		t.Fatal(err)
	}
	if _, err := mistral.New(st.Root(), lm); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(filepath.Join(dir, "model.safetensors"), nil, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"architectures": []string{"LlavaMistralForCausalLM"}, "vocab_size": 800, "hidden_size": 64, "intermediate_size": 128,
		"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
		"rope_theta": 10000.0, "max_position_embeddings": 512, "sliding_window": nil, "bos_token_id": 1, "eos_token_id": 2,
		"mm_vision_tower": "tiny-clip", "mm_hidden_size": 32, "mm_projector_type": "mlp2x_gelu",
		"mm_vision_select_layer": -2, "mm_vision_select_feature": "patch", "image_aspect_ratio": "pad",
	}
	write := func(name string, v any) string {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("config.json", cfg)
	return write("clip_config.json", map[string]any{"vision_config": map[string]any{
		"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4,
		"image_size": 28, "patch_size": 14, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}})
}

// The program loads a folder in LLaVA-Med's layout, answers with streaming, and reports
// bad input in one line.
func TestLLaVAMedFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	dir := t.TempDir()
	clipCfg := writeTinyLLaVA(t, dir)
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := 5; y < 12; y++ {
		for x := 5; x < 12; x++ {
			img.Set(x, y, color.RGBA{250, 250, 250, 255})
		}
	}
	imgPath := filepath.Join(dir, "scan.png")
	if err := cli.WritePNG(imgPath, img); err != nil {
		t.Fatal(err)
	}
	bin := gocmd.BuildTest(t, ".")
	out, err := exec.Command(bin, "-llava", dir, "-clip-config", clipCfg, "-image", imgPath, "-question", "Where is the lesion?",
		"-max-tokens", "6").CombinedOutput()
	if err != nil {
		t.Fatalf("llavamed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "loading") {
		t.Fatalf("no progress line:\n%s", out)
	}
	// Without the CLIP config the ViT-L tower does not match the tiny weights: one line naming keys.
	out, err = exec.Command(bin, "-llava", dir, "-image", imgPath, "-question", "Where?").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "embeddings.patch_embedding.weight") {
		t.Fatalf("a tower of the wrong size loaded or the error names no key:\n%s", out)
	}
}

package mistral_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// Model.Load finds the decoder in each layout transformers and LLaVA-Med write (the
// Hugging Face Llava ones next to a vision tower and a projector, which are ignored), and
// the model it fills computes what the source computes, bit for bit.
func TestLoadDetectsLayouts(t *testing.T) {
	cfg, err := mistral.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	src, m0 := load(t, "model.safetensors")
	defer src.Close()
	s := torch.NewScope(torch.CPU).NoGrad()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "golden.safetensors"))
	want := m0.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]}).Logits
	extra := map[string]*torch.Tensor{"z.weight": torch.Zeros(s, torch.Float32, 2)}
	for _, c := range []struct {
		name       string
		body, head string
		extra      []string
	}{
		{"MistralForCausalLM", "model.", "", nil},
		{"LLaVA-Med", "model.", "", []string{"model.mm_projector.0.weight", "model.vision_tower.vision_tower.vision_model.embeddings.patch_embedding.weight", "model.layers.0.self_attn.rotary_emb.inv_freq"}},
		{"Llava as saved", "language_model.model.", "language_model.", []string{"multi_modal_projector.linear_1.weight", "vision_tower.vision_model.embeddings.patch_embedding.weight"}},
		{"Llava in memory", "model.language_model.", "", []string{"model.multi_modal_projector.linear_1.weight", "model.vision_tower.embeddings.patch_embedding.weight"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := map[string]*torch.Tensor{}
			for name, x := range src.Tensors() {
				if rest, ok := strings.CutPrefix(name, "model."); ok {
					file[c.body+rest] = x
				} else {
					file[c.head+name] = x
				}
			}
			for _, n := range c.extra {
				file[n] = extra["z.weight"]
			}
			path := filepath.Join(t.TempDir(), "w.safetensors")
			if err := torch.SaveSafetensors(path, file, nil); err != nil {
				t.Fatal(err)
			}
			st := nn.NewStore(torch.CPU)
			defer st.Close()
			m, err := mistral.New(st.Root(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Load(path); err != nil {
				t.Fatal(err)
			}
			got := m.Forward(s, mistral.Input{IDs: g["ids"], AttentionMask: g["mask"]}).Logits
			torchtest.AllCloseTol(t, "logits", got, want, torchtest.Tol{Exact: true})
		})
	}

	// A file without a decoder, or with a tensor missing, is an error naming it.
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	m, err := mistral.New(st.Root(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	file := map[string]*torch.Tensor{}
	for name, x := range src.Tensors() {
		if name != "model.norm.weight" {
			file["language_model."+name] = x
		}
	}
	if err := torch.SaveSafetensors(path, file, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Load(path); !errors.Is(err, nn.ErrLoad) || !strings.Contains(err.Error(), "model.norm.weight") {
		t.Errorf("missing norm: %v", err)
	}
	if err := torch.SaveSafetensors(path, extra, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Load(path); !errors.Is(err, nn.ErrLoad) || !strings.Contains(err.Error(), "no Mistral decoder") {
		t.Errorf("no decoder: %v", err)
	}
}

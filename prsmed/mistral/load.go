package mistral

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Layouts are where a checkpoint keeps the decoder's tensors: the prefix of
// embed_tokens/layers/norm (the "body") and of lm_head.
var layouts = []struct {
	body, head string
}{
	// MistralForCausalLM, and LLaVA-Med (whose vision tower and projector also sit under
	// model.).
	{"model.", ""},
	// transformers' LlavaForConditionalGeneration as its save_pretrained writes it (4.x, and
	// 5.x, which saves in this layout).
	{"language_model.model.", "language_model."},
	// LlavaForConditionalGeneration's module names from transformers 4.52 on (the state
	// dict in memory; a file written from it).
	{"model.language_model.", ""},
}

// Load reads the decoder's weights from a checkpoint (safetensors, a sharded index, or a
// torch.save state dict) in any layout transformers or LLaVA-Med write: MistralForCausalLM
// and LLaVA-Med (`model.*`, `lm_head.*`), or a Hugging Face LlavaForConditionalGeneration
// (`language_model.model.*` and `language_model.lm_head.*` as saved,
// `model.language_model.*` and `lm_head.*` as named in memory from transformers 4.52). The
// layout is detected from the name of the token embedding; other tensors (a vision tower,
// a projector, adapters) are ignored. Every parameter New registered must be in the file
// with its shape (an *nn.LoadError names those that are not); LoRA adapters injected later
// are not the decoder's and are left alone.
func (m *Model) Load(path string) error {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return err
	}
	defer w.Close()
	return m.LoadFrom(w)
}

// LoadFrom is Load from an open weight file.
func (m *Model) LoadFrom(w *torch.WeightFile) error {
	var found []int
	for i, l := range layouts {
		if _, ok := w.Info(l.body + "embed_tokens.weight"); ok {
			found = append(found, i)
		}
	}
	switch len(found) {
	case 0:
		return fmt.Errorf("%w: %s holds no Mistral decoder (no model.embed_tokens.weight, language_model.model.embed_tokens.weight or model.language_model.embed_tokens.weight)", nn.ErrLoad, w.Path())
	case 1:
	default:
		var ps []string
		for _, i := range found {
			ps = append(ps, layouts[i].body)
		}
		sort.Strings(ps)
		return fmt.Errorf("%w: %s holds several decoders (under %v)", nn.ErrLoad, w.Path(), ps)
	}
	l := layouts[found[0]]
	own := func(rel string) string {
		if m.prefix == "" {
			return rel
		}
		return m.prefix + "." + rel
	}
	_, err := nn.LoadEntries(w, m.entries, nn.LoadOptions{Rename: func(name string) (string, bool) {
		if rest, ok := strings.CutPrefix(name, l.body); ok {
			// Under the body prefix, only the decoder's own modules: LLaVA-Med keeps its
			// vision tower and projector under model. too, and adapters are not the base's.
			if isDecoderName(rest) {
				return own("model." + rest), true
			}
			return "", false
		}
		if rest, ok := strings.CutPrefix(name, l.head+"lm_head."); ok && !strings.Contains(rest, "lora_") {
			return own("lm_head." + rest), true
		}
		return "", false
	}})
	return err
}

// isDecoderName reports a name (after the body prefix) of the decoder's own parameters,
// not of a LoRA adapter.
func isDecoderName(rest string) bool {
	if strings.Contains(rest, "lora_") || strings.HasSuffix(rest, "rotary_emb.inv_freq") {
		return false
	}
	for _, p := range []string{"embed_tokens.", "layers.", "norm."} {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	return false
}

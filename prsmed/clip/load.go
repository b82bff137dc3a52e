package clip

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// A file layout is a renaming: Tower and Projector loads detect where the module sits in
// the file, build an nn.LoadOptions.Rename that maps its file names onto the module's own
// store entries, and load those entries with nn.LoadEntries. Errors are therefore
// *nn.LoadError values: errors.Is(err, nn.ErrLoad) holds, and every missing entry and every
// unexpected or wrong-shape file tensor is named.

// towerAnchor is the tensor whose name reveals where a vision tower sits in a file.
const towerAnchor = "embeddings.patch_embedding.weight"

// towerIgnored are names under a tower's prefix that are not parameters: the position_ids
// buffer older transformers saved.
var towerIgnored = map[string]bool{"embeddings.position_ids": true}

// Load reads the tower's weights from a checkpoint (safetensors, a sharded
// model.safetensors.index.json, or a torch.save state dict): LLaVA(-Med) shards
// (`model.vision_tower.vision_tower.vision_model.*`; the language model and projector are
// ignored), a standalone CLIP checkpoint (`vision_model.*`; `text_model.*`,
// `visual_projection`, `text_projection`, `logit_scale` are ignored), Hugging Face Llava
// (`vision_tower.vision_model.*`) or bare tower names. The prefix is detected (see
// DetectTowerPrefix). Dtypes are converted to the store's.
func (t *Tower) Load(path string) error {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return err
	}
	defer w.Close()
	return t.LoadFrom(w)
}

// LoadFrom is Load from an open weight file. With a prefix argument (such as "vision_model."
// or "" for bare names) that prefix is used instead of detecting one.
func (t *Tower) LoadFrom(w *torch.WeightFile, prefix ...string) error {
	var fp string
	if len(prefix) > 0 {
		fp = prefix[0]
	} else {
		var err error
		if fp, err = DetectTowerPrefix(w, t.prefix); err != nil {
			return err
		}
	}
	// Every name under the prefix belongs to the tower: it fills the entry of the same
	// relative name or is unexpected.
	_, err := nn.LoadEntries(w, entriesOf(t.entries), nn.LoadOptions{
		Prefix: fp,
		Rename: func(rel string) (string, bool) {
			return join(t.prefix, rel), !towerIgnored[rel]
		},
	})
	return err
}

// DetectTowerPrefix finds the prefix of the vision tower's names in a weight file: the text
// before `embeddings.patch_embedding.weight` (empty or ending in "."). When several towers
// are present the one under own+"." (a tower's own module path) wins; otherwise several are
// an error.
func DetectTowerPrefix(w *torch.WeightFile, own string) (string, error) {
	return detect(w, "vision tower", own, []anchor{{suffix: towerAnchor}})
}

type anchor struct {
	suffix string
	within string // the prefix must end with this ("" for any)
}

func detect(w *torch.WeightFile, what, own string, anchors []anchor) (string, error) {
	if own != "" {
		own += "."
	}
	var found []string
	seen := map[string]bool{}
	for _, n := range w.Names() {
		for _, a := range anchors {
			p, ok := strings.CutSuffix(n, a.suffix)
			if !ok || (p != "" && !strings.HasSuffix(p, ".")) || !strings.HasSuffix(p, a.within) {
				continue
			}
			if p == own {
				return p, nil
			}
			if !seen[p] {
				seen[p] = true
				found = append(found, p)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var want []string
		for _, a := range anchors {
			want = append(want, "*"+a.within+a.suffix)
		}
		return "", fmt.Errorf("%w: %s holds no %s (no tensor named %s)", nn.ErrLoad, w.Path(), what, strings.Join(want, " or "))
	}
	sort.Strings(found)
	return "", fmt.Errorf("%w: %s holds several %ss, under %q; pass the prefix to LoadFrom", nn.ErrLoad, w.Path(), what, found)
}

// Load reads the projector's weights from a checkpoint: LLaVA names (`model.mm_projector.0.*`,
// `.2.*`, or any `…mm_projector.` prefix such as LLaVA's non_lora_trainables
// `base_model.model.model.mm_projector.`) or Hugging Face Llava names
// (`multi_modal_projector.linear_1.*`, `linear_2.*`, possibly under `model.`); everything
// else in the file is ignored.
func (p *Projector) Load(path string) error {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return err
	}
	defer w.Close()
	return p.LoadFrom(w)
}

// LoadFrom is Load from an open weight file. With a prefix argument (ending in "." or empty)
// that prefix is used instead of detecting one; names under it may follow either naming.
func (p *Projector) LoadFrom(w *torch.WeightFile, prefix ...string) error {
	var fp string
	if len(prefix) > 0 {
		fp = prefix[0]
	} else {
		anchors := []anchor{{suffix: "0.weight", within: "mm_projector."}}
		if p.Config.Type == "linear" {
			anchors = []anchor{{suffix: "weight", within: "mm_projector."}}
		} else if len(p.Layers) == 2 {
			anchors = append(anchors, anchor{suffix: "linear_1.weight", within: "multi_modal_projector."})
		}
		if _, ok := w.Info(p.prefix + "." + p.entries[0].rel); ok && p.prefix != "" {
			fp = p.prefix + "."
		} else {
			var err error
			if fp, err = detect(w, "projector", p.prefix, anchors); err != nil {
				return err
			}
		}
	}
	_, hf := w.Info(fp + "linear_1.weight")
	own := map[string]bool{}
	for _, b := range p.entries {
		own[b.entry.Name] = true
	}
	_, err := nn.LoadEntries(w, entriesOf(p.entries), nn.LoadOptions{
		Prefix: fp,
		Rename: func(rel string) (string, bool) {
			if hf {
				// linear_{i+1} ↔ Sequential index 2i.
				if j, rest, ok := hfLinear(rel); ok {
					rel = fmt.Sprintf("%d.%s", 2*(j-1), rest)
				}
			}
			name := join(p.prefix, rel)
			// Without a prefix the file holds other things: only the projector's own
			// names are its.
			return name, fp != "" || own[name]
		},
	})
	return err
}

// hfLinear splits Hugging Face Llava's "linear_N.rest".
func hfLinear(rel string) (n int, rest string, ok bool) {
	idx, rest, ok := strings.Cut(rel, ".")
	num, ok2 := strings.CutPrefix(idx, "linear_")
	if !ok || !ok2 {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	return n, rest, err == nil && n > 0
}

// LoadVision loads a tower and a projector from one checkpoint (such as LLaVA-Med's
// model.safetensors.index.json), opening it once; either may be nil.
func LoadVision(path string, t *Tower, p *Projector) error {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return err
	}
	defer w.Close()
	if t != nil {
		if err := t.LoadFrom(w); err != nil {
			return err
		}
	}
	if p != nil {
		return p.LoadFrom(w)
	}
	return nil
}

// entriesOf lists the store entries of a module.
func entriesOf(bs []bound) []*nn.Entry {
	es := make([]*nn.Entry, len(bs))
	for i, b := range bs {
		es[i] = b.entry
	}
	return es
}

// join is a module path and a name relative to it.
func join(prefix, rel string) string {
	if prefix == "" {
		return rel
	}
	return prefix + "." + rel
}

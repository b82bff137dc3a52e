package clip

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Loading maps file names onto the modules' own store entries rather than going through
// Store.LoadFrom: LoadOptions.Prefix can strip a file prefix but not put the module's path
// in its place, and a tower built at LLaVATowerPath has to read a standalone CLIP file's
// `vision_model.*` names (and the reverse). Errors are *nn.LoadError values, so
// errors.Is(err, nn.ErrLoad) holds and every missing, unexpected and wrong-shape file key is
// named.

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
	binds := make([]binding, len(t.entries))
	have := map[string]bool{}
	for i, b := range t.entries {
		binds[i] = binding{file: fp + b.rel, entry: b.entry}
		have[b.rel] = true
	}
	var unexpected []string
	for _, n := range w.Names() {
		if rel, ok := strings.CutPrefix(n, fp); ok && !have[rel] && !towerIgnored[rel] {
			unexpected = append(unexpected, n)
		}
	}
	return loadBindings(w, binds, unexpected)
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
	binds := make([]binding, len(p.entries))
	have := map[string]bool{}
	for i, b := range p.entries {
		name := b.rel
		if hf {
			// Sequential index 2i ↔ linear_{i+1}.
			idx, rest, _ := strings.Cut(b.rel, ".")
			j, _ := strconv.Atoi(idx)
			name = fmt.Sprintf("linear_%d.%s", j/2+1, rest)
		}
		binds[i] = binding{file: fp + name, entry: b.entry}
		have[fp+name] = true
	}
	var unexpected []string
	for _, n := range w.Names() {
		if strings.HasPrefix(n, fp) && !have[n] && fp != "" {
			unexpected = append(unexpected, n)
		}
	}
	return loadBindings(w, binds, unexpected)
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

// binding is a store entry and the file tensor that fills it.
type binding struct {
	file  string
	entry *nn.Entry
}

// loadBindings checks every binding (present, same shape) and, when all line up and
// nothing is unexpected, copies each tensor into its entry through one temporary at a time.
func loadBindings(w *torch.WeightFile, binds []binding, unexpected []string) error {
	var rep nn.LoadReport
	for _, b := range binds {
		info, ok := w.Info(b.file)
		if !ok {
			rep.Missing = append(rep.Missing, b.file)
			continue
		}
		if !sameShape(info.Shape, b.entry.Tensor.Shape()) {
			rep.Mismatched = append(rep.Mismatched, fmt.Sprintf("%s: file %v, model %v", b.file, info.Shape, b.entry.Tensor.Shape()))
		}
	}
	rep.Unexpected = append(rep.Unexpected, unexpected...)
	sort.Strings(rep.Missing)
	sort.Strings(rep.Unexpected)
	sort.Strings(rep.Mismatched)
	if len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) > 0 {
		return &nn.LoadError{File: w.Path(), LoadReport: rep}
	}
	for _, b := range binds {
		if err := loadOne(w, b); err != nil {
			return err
		}
	}
	return nil
}

// loadOne copies one file tensor into its entry through a temporary freed on return.
func loadOne(w *torch.WeightFile, b binding) (err error) {
	defer torch.Recover(&err)
	s := torch.NewScope(b.entry.Tensor.Device()).NoGrad()
	defer s.Close()
	t, err := w.Load(s, b.file, b.entry.Tensor.DType())
	if err != nil {
		return fmt.Errorf("clip: loading %s from %s: %w", b.file, w.Path(), err)
	}
	b.entry.Tensor.CopyFrom(t)
	return nil
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package loraadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// The files and names of a PEFT adapter directory.
const (
	ConfigFile     = "adapter_config.json"       // the LoraConfig, as JSON
	WeightsFile    = "adapter_model.safetensors" // the LoRA tensors
	WeightsBinFile = "adapter_model.bin"         // the same as a torch.save state dict (older PEFT)
	// KeyPrefix starts every tensor name in a PEFT weight file: PeftModel's
	// base_model (the LoraModel) and its model (the wrapped transformer). A name is
	// KeyPrefix + module + ".lora_A.weight" or ".lora_B.weight", without the adapter name.
	KeyPrefix = "base_model.model."
	// MetaPrefixes is the safetensors metadata key under which Save records
	// Config.Prefixes (a JSON list); PEFT ignores it.
	MetaPrefixes = "prsmed.lora.prefixes"
	// TaskType is the task_type Save writes.
	TaskType = "CAUSAL_LM"
)

// ErrFormat is wrapped by the errors of an adapter directory that is not a usable PEFT
// LoRA adapter: unreadable JSON, a missing required field, or a PEFT feature this package
// does not implement (DoRA, bias training, per-module rank patterns, ...).
var ErrFormat = errors.New("loraadapter: not a usable PEFT LoRA adapter")

// Save writes adapters as a PEFT adapter directory, creating dir if needed:
// adapter_model.safetensors holds KeyPrefix+<module>+".lora_A.weight" / ".lora_B.weight"
// in the adapters' dtype (metadata {"format": "pt"} as PEFT writes, plus MetaPrefixes when
// cfg has Prefixes), and adapter_config.json holds every field PEFT 0.10's LoraConfig
// writes (sorted keys, two-space indent), with inference_mode true as save_pretrained sets
// it. cfg must describe the adapters: each one's module matches it and has rank cfg.R and
// scale cfg.Scale(). Each file is replaced atomically, the weights first.
func Save(dir string, adapters Adapters, cfg Config, baseModelName string) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(adapters) == 0 {
		return fmt.Errorf("loraadapter: save %s: no adapters", dir)
	}
	tensors := map[string]*torch.Tensor{}
	for _, l := range adapters {
		switch {
		case l == nil || l.A == nil || l.B == nil || l.A.Freed() || l.B.Freed():
			return fmt.Errorf("loraadapter: save %s: an adapter has no tensors", dir)
		case !cfg.Matches(l.Name):
			return fmt.Errorf("loraadapter: save %s: module %q is not a target of the config %v (prefixes %v)", dir, l.Name, cfg.Targets, cfg.Prefixes)
		case l.Rank() != cfg.R:
			return fmt.Errorf("loraadapter: save %s: %s has rank %d, the config %d", dir, l.Name, l.Rank(), cfg.R)
		case math.Abs(l.Scale-cfg.Scale()) > 1e-12*math.Abs(cfg.Scale()):
			return fmt.Errorf("loraadapter: save %s: %s has scale %v, the config %v", dir, l.Name, l.Scale, cfg.Scale())
		}
		a, b := KeyPrefix+l.Name+".lora_A.weight", KeyPrefix+l.Name+".lora_B.weight"
		if _, dup := tensors[a]; dup {
			return fmt.Errorf("loraadapter: save %s: two adapters for %s", dir, l.Name)
		}
		tensors[a], tensors[b] = l.A, l.B
	}
	meta := map[string]string{"format": "pt"}
	if len(cfg.Prefixes) > 0 {
		b, _ := json.Marshal(cfg.Prefixes)
		meta[MetaPrefixes] = string(b)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("loraadapter: %w", err)
	}
	if err := torch.SaveSafetensors(filepath.Join(dir, WeightsFile), tensors, meta); err != nil {
		return fmt.Errorf("loraadapter: %w", err)
	}
	js, err := json.MarshalIndent(peftConfig(cfg, baseModelName), "", "  ")
	if err != nil {
		return fmt.Errorf("loraadapter: %w", err)
	}
	return writeAtomic(filepath.Join(dir, ConfigFile), js)
}

// peftConfig is the adapter_config.json of cfg: PEFT 0.10's LoraConfig fields (PeftConfig's
// and LoraConfig's), each at PEFT's default unless cfg sets it.
func peftConfig(cfg Config, base string) map[string]any {
	targets := append([]string{}, cfg.Targets...)
	return map[string]any{
		"alpha_pattern":           map[string]any{},
		"auto_mapping":            nil,
		"base_model_name_or_path": base,
		"bias":                    "none",
		"fan_in_fan_out":          false,
		"inference_mode":          true,
		"init_lora_weights":       true,
		"layer_replication":       nil,
		"layers_pattern":          nil,
		"layers_to_transform":     nil,
		"loftq_config":            map[string]any{},
		"lora_alpha":              cfg.Alpha,
		"lora_dropout":            cfg.Dropout,
		"megatron_config":         nil,
		"megatron_core":           "megatron.core",
		"modules_to_save":         nil,
		"peft_type":               "LORA",
		"r":                       cfg.R,
		"rank_pattern":            map[string]any{},
		"revision":                nil,
		"target_modules":          targets,
		"task_type":               TaskType,
		"use_dora":                false,
		"use_rslora":              cfg.RSLoRA,
	}
}

// writeAtomic writes b to path with atomicfile.Write.
func writeAtomic(path string, b []byte) error {
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("loraadapter: %w", err)
	}
	return nil
}

// fileConfig holds the adapter_config.json fields that Load reads or refuses.
type fileConfig struct {
	PeftType    *string  `json:"peft_type"`
	R           *int64   `json:"r"`
	LoraAlpha   *float64 `json:"lora_alpha"`
	LoraDropout *float64 `json:"lora_dropout"`
	Bias        *string  `json:"bias"`
	UseRSLoRA   *bool    `json:"use_rslora"`
	FanInFanOut *bool    `json:"fan_in_fan_out"`
	UseDoRA     *bool    `json:"use_dora"`
	LoraBias    *bool    `json:"lora_bias"`

	TargetModules json.RawMessage `json:"target_modules"`
	// Features that change which tensors exist or what they mean; Load refuses a
	// non-empty value.
	ModulesToSave         json.RawMessage `json:"modules_to_save"`
	LayersToTransform     json.RawMessage `json:"layers_to_transform"`
	RankPattern           json.RawMessage `json:"rank_pattern"`
	AlphaPattern          json.RawMessage `json:"alpha_pattern"`
	LayerReplication      json.RawMessage `json:"layer_replication"`
	ExcludeModules        json.RawMessage `json:"exclude_modules"`
	TargetParameters      json.RawMessage `json:"target_parameters"`
	TrainableTokenIndices json.RawMessage `json:"trainable_token_indices"`
	// Later PEFT versions (to 0.21): variants that change the forward or backward pass.
	AloraInvocationTokens json.RawMessage `json:"alora_invocation_tokens"`
	UseBDLoRA             json.RawMessage `json:"use_bdlora"`
	ArrowConfig           json.RawMessage `json:"arrow_config"`
	MonteCLoRAConfig      json.RawMessage `json:"monteclora_config"`
	VeLoRAConfig          json.RawMessage `json:"velora_config"`
	UseQALoRA             *bool           `json:"use_qalora"`
	InitLoraWeights       json.RawMessage `json:"init_lora_weights"`
}

// knownKeys are the adapter_config.json keys of PEFT's LoraConfig up to 0.21 (those that
// fileConfig reads, and those that do not affect a saved adapter's math: bookkeeping, and
// options used only while initialising or placing an adapter). ReadConfig refuses any other
// key whose value is true or a non-empty list or object, so a feature added by a later PEFT
// is not silently ignored.
var knownKeys = map[string]bool{
	"peft_type": true, "r": true, "lora_alpha": true, "lora_dropout": true, "bias": true, "use_rslora": true,
	"fan_in_fan_out": true, "use_dora": true, "lora_bias": true, "target_modules": true, "modules_to_save": true,
	"layers_to_transform": true, "rank_pattern": true, "alpha_pattern": true, "layer_replication": true,
	"exclude_modules": true, "target_parameters": true, "trainable_token_indices": true,
	"alora_invocation_tokens": true, "use_bdlora": true, "arrow_config": true, "monteclora_config": true,
	"velora_config": true, "use_qalora": true, "init_lora_weights": true,
	// Bookkeeping.
	"task_type": true, "auto_mapping": true, "peft_version": true, "base_model_name_or_path": true,
	"revision": true, "inference_mode": true, "runtime_config": true,
	// Only with options refused above, or only at initialisation or for other layer kinds.
	"layers_pattern": true, "qalora_group_size": true, "loftq_config": true, "eva_config": true,
	"corda_config": true, "lora_ga_config": true, "megatron_config": true, "megatron_core": true,
	"ensure_weight_tying": true,
}

// residualInits are init_lora_weights values whose adapters are trained against a base
// whose weights the initialisation changed (W − B₀A₀, or a quantised W): applied to the
// original base they compute something else. PEFT converts such adapters to plain LoRA when
// saved with path_initial_model_for_weight_conversion (and writes init_lora_weights true).
func residualInit(v string) bool {
	switch {
	case v == "olora", v == "corda", v == "loftq", v == "lora_ga", v == "pissa", strings.HasPrefix(v, "pissa_niter_"):
		return true
	}
	return false
}

// compact is v without insignificant white space (v itself when it is not valid JSON).
func compact(v json.RawMessage) string {
	var c bytes.Buffer
	if json.Compact(&c, v) != nil {
		return string(v)
	}
	return c.String()
}

// isContainer reports a JSON object or array.
func isContainer(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// empty reports an absent, null, {} or [] JSON value.
func empty(m json.RawMessage) bool {
	var v any
	if len(bytes.TrimSpace(m)) == 0 || json.Unmarshal(m, &v) != nil {
		return len(bytes.TrimSpace(m)) == 0
	}
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// ReadConfig reads dir/adapter_config.json into a Config (without Prefixes, which live in
// the weight file). It refuses adapters that are not LoRA, and PEFT features that this
// package does not implement: a target_modules regex string, fan_in_fan_out, DoRA, bias
// training ("bias" other than "none", lora_bias), modules_to_save, layers_to_transform,
// rank or alpha patterns, exclude_modules, layer_replication, target_parameters,
// trainable_token_indices, and (PEFT 0.14–0.21) activated LoRA (alora_invocation_tokens),
// QALoRA, BD-LoRA, Arrow routing, MonteCLoRA, VeLoRA, adapters initialised against modified
// base weights (init_lora_weights pissa, olora, corda, loftq, lora_ga) and options it does not
// know. RSLoRA (use_rslora) is implemented.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("loraadapter: %w", err)
	}
	var fc fileConfig
	if err := json.Unmarshal(b, &fc); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrFormat, path, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrFormat, path, err)
	}
	var bad []string
	var unknown []string
	for k, v := range all {
		if !knownKeys[k] && (bytes.Equal(bytes.TrimSpace(v), []byte("true")) || !empty(v) && isContainer(v)) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		bad = append(bad, fmt.Sprintf("%s %s is an option this package does not know (from a newer PEFT?)", k, compact(all[k])))
	}
	if fc.UseQALoRA != nil && *fc.UseQALoRA {
		bad = append(bad, "use_qalora is not supported")
	}
	if !empty(fc.InitLoraWeights) {
		var init string
		if json.Unmarshal(fc.InitLoraWeights, &init) == nil && residualInit(init) {
			bad = append(bad, fmt.Sprintf("init_lora_weights %q: the adapter was trained against modified base weights "+
				"(convert it to plain LoRA with PEFT's path_initial_model_for_weight_conversion)", init))
		}
	}
	if fc.PeftType == nil || *fc.PeftType != "LORA" {
		got := "none"
		if fc.PeftType != nil {
			got = fmt.Sprintf("%q", *fc.PeftType)
		}
		bad = append(bad, fmt.Sprintf("peft_type is %s, not \"LORA\"", got))
	}
	if fc.R == nil {
		bad = append(bad, "no r")
	}
	if fc.LoraAlpha == nil {
		bad = append(bad, "no lora_alpha")
	}
	var targets []string
	if empty(fc.TargetModules) {
		bad = append(bad, "no target_modules")
	} else if err := json.Unmarshal(fc.TargetModules, &targets); err != nil {
		var regex string
		if json.Unmarshal(fc.TargetModules, &regex) == nil {
			bad = append(bad, fmt.Sprintf("target_modules is a regular expression (%q); only a list is supported", regex))
		} else {
			bad = append(bad, fmt.Sprintf("target_modules is not a list of names: %v", err))
		}
	}
	if fc.Bias != nil && *fc.Bias != "none" {
		bad = append(bad, fmt.Sprintf("bias %q (only \"none\" is supported)", *fc.Bias))
	}
	for _, f := range []struct {
		name string
		on   *bool
	}{{"fan_in_fan_out", fc.FanInFanOut}, {"use_dora", fc.UseDoRA}, {"lora_bias", fc.LoraBias}} {
		if f.on != nil && *f.on {
			bad = append(bad, f.name+" is not supported")
		}
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{
		{"modules_to_save", fc.ModulesToSave}, {"layers_to_transform", fc.LayersToTransform},
		{"rank_pattern", fc.RankPattern}, {"alpha_pattern", fc.AlphaPattern},
		{"layer_replication", fc.LayerReplication}, {"exclude_modules", fc.ExcludeModules},
		{"target_parameters", fc.TargetParameters}, {"trainable_token_indices", fc.TrainableTokenIndices},
		{"alora_invocation_tokens", fc.AloraInvocationTokens}, {"use_bdlora", fc.UseBDLoRA},
		{"arrow_config", fc.ArrowConfig}, {"monteclora_config", fc.MonteCLoRAConfig}, {"velora_config", fc.VeLoRAConfig},
	} {
		if !empty(f.v) {
			bad = append(bad, fmt.Sprintf("%s %s is not supported", f.name, compact(f.v)))
		}
	}
	if len(bad) > 0 {
		return Config{}, fmt.Errorf("%w: %s: %s", ErrFormat, path, strings.Join(bad, "; "))
	}
	cfg := Config{R: *fc.R, Alpha: *fc.LoraAlpha, Targets: targets}
	if fc.LoraDropout != nil {
		cfg.Dropout = *fc.LoraDropout
	}
	if fc.UseRSLoRA != nil {
		cfg.RSLoRA = *fc.UseRSLoRA
	}
	if bad := cfg.problems(); len(bad) > 0 {
		return Config{}, fmt.Errorf("%w: %s: %s", ErrFormat, path, strings.Join(bad, "; "))
	}
	return cfg, nil
}

// Report says what LoadWithReport did.
type Report struct {
	// Config is the adapter's config (Prefixes from the weight file's metadata, if any).
	Config Config
	// Adapters are the injected and loaded layers, in slot order.
	Adapters Adapters
	// Skipped lists, sorted, the modules that the weight file has tensors for but the
	// model has no slot called that: a CLIP vision tower's q_proj/k_proj/v_proj, which
	// PEFT's suffix matching put adapters on, when only the decoder's slots are given.
	Skipped []string
	// File is the weight file read.
	File string
}

// Load is LoadWithReport without the report: it reads the PEFT adapter in dir into the
// model whose projections slots lists and returns the adapter's config and the injected
// layers.
func Load(dir string, st *nn.Store, slots []nn.LinearSlot) (Config, Adapters, error) {
	r, err := LoadWithReport(dir, st, slots)
	if err != nil {
		return Config{}, nil, err
	}
	return r.Config, r.Adapters, nil
}

// LoadWithReport reads a PEFT adapter directory (adapter_config.json, and
// adapter_model.safetensors or else adapter_model.bin) and injects and loads it into the
// model whose projections slots lists, in st.
//
// The adapter goes on the slots that its config matches (its target_modules, as PEFT
// matches them, and the Prefixes Save recorded, if any); a target that matches no slot is
// not an error here. The weight file must hold exactly lora_A.weight of shape (r, in) and
// lora_B.weight of shape (out, r) for each of those slots: a missing tensor, a tensor with
// the wrong shape, or a tensor under KeyPrefix that is not a LoRA weight of a matched slot is
// an error that lists them all (an *nn.LoadError, errors.Is(err, nn.ErrLoad); a missing
// tensor is named by the store entry it should fill, module + ".lora_A.weight", the others
// by their names in the file). Tensors for
// modules the model has no slot for are skipped and listed in Report.Skipped. Nothing is
// injected unless all of this checks out.
//
// Pass the slots of the part the adapter was trained on: a PEFT adapter records no
// prefixes, so a slot that matches its targets but has no tensors in the file (a vision
// tower's, say) is reported missing.
func LoadWithReport(dir string, st *nn.Store, slots []nn.LinearSlot) (*Report, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(path); err != nil {
		bin := filepath.Join(dir, WeightsBinFile)
		if _, err2 := os.Stat(bin); err2 != nil {
			return nil, fmt.Errorf("loraadapter: %s has neither %s nor %s: %w", dir, WeightsFile, WeightsBinFile, fs.ErrNotExist)
		}
		path = bin
	}
	w, err := torch.OpenWeights(path)
	if err != nil {
		return nil, fmt.Errorf("loraadapter: %w", err)
	}
	defer w.Close()
	if p, ok := w.Metadata()[MetaPrefixes]; ok {
		if err := json.Unmarshal([]byte(p), &cfg.Prefixes); err != nil {
			return nil, fmt.Errorf("%w: %s: metadata %s: %v", ErrFormat, path, MetaPrefixes, err)
		}
	}

	picked, err := pick(slots, cfg, false)
	if err != nil {
		return nil, err
	}
	// The file's names map onto the store names of the adapters' tensors:
	// KeyPrefix + module + ".lora_A.weight" fills module + ".lora_A.weight". Modules the
	// model has no slot for are skipped; any other name fills nothing, so it is unexpected.
	isSlot := map[string]bool{}
	for _, sl := range slots {
		isSlot[sl.Name] = true
	}
	skipped := map[string]bool{}
	opts := nn.LoadOptions{Rename: func(name string) (string, bool) {
		mod, which, ok := loraKey(name)
		switch {
		case !ok:
			return "", true
		case !isSlot[mod]:
			skipped[mod] = true
			return "", false
		}
		return mod + ".lora_" + string(which) + ".weight", true
	}}
	want := map[string][]int64{}
	for _, sl := range picked {
		base := (*sl.Layer).(*nn.Linear)
		out, in := base.Weight.Size(0), base.Weight.Size(1)
		want[sl.Name+".lora_A.weight"] = []int64{cfg.R, in}
		want[sl.Name+".lora_B.weight"] = []int64{out, cfg.R}
	}
	if _, err := nn.Check(w, want, opts); err != nil {
		return nil, err
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("loraadapter: %s: the adapter (targets %v, prefixes %v) matches none of the model's %d slots",
			path, cfg.Targets, cfg.Prefixes, len(slots))
	}
	rep := &Report{Config: cfg, File: path}
	for mod := range skipped {
		rep.Skipped = append(rep.Skipped, mod)
	}
	sort.Strings(rep.Skipped)

	ads, err := injectSlots(st, picked, cfg)
	if err != nil {
		return nil, err
	}
	var entries []*nn.Entry
	for _, l := range ads {
		for _, n := range []string{l.Name + ".lora_A.weight", l.Name + ".lora_B.weight"} {
			e, ok := st.Get(n)
			if !ok {
				return nil, fmt.Errorf("loraadapter: %s was injected without %s", l.Name, n)
			}
			entries = append(entries, e)
		}
	}
	if _, err := nn.LoadEntries(w, entries, opts); err != nil {
		return nil, fmt.Errorf("loraadapter: %w", err)
	}
	rep.Adapters = ads
	return rep, nil
}

// loraKey splits KeyPrefix + module + ".lora_A.weight" (or B).
func loraKey(name string) (module string, which byte, ok bool) {
	rest, ok := strings.CutPrefix(name, KeyPrefix)
	if !ok {
		return "", 0, false
	}
	for _, w := range []byte{'A', 'B'} {
		if m, ok := strings.CutSuffix(rest, ".lora_"+string(w)+".weight"); ok && m != "" {
			return m, w, true
		}
	}
	return "", 0, false
}

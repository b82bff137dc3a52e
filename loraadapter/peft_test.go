package loraadapter_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// peftFields are the keys of adapter_config.json that PEFT 0.10's LoraConfig writes.
var peftFields = []string{
	"alpha_pattern", "auto_mapping", "base_model_name_or_path", "bias", "fan_in_fan_out",
	"inference_mode", "init_lora_weights", "layer_replication", "layers_pattern",
	"layers_to_transform", "loftq_config", "lora_alpha", "lora_dropout", "megatron_config",
	"megatron_core", "modules_to_save", "peft_type", "r", "rank_pattern", "revision",
	"target_modules", "task_type", "use_dora", "use_rslora",
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func writeJSON(t *testing.T, path string, m map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// An adapter saved here has PEFT's file names, tensor names, metadata and config fields:
// for the golden adapter's settings, the same adapter_config.json as lora_ref.py writes in
// PEFT's layout, byte for byte, and the same tensor names (minus the vision tower's).
func TestSaveWritesPEFTLayout(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	_, _, ads := withAdapter(t)
	cfg := loraadapter.Config{R: rank, Alpha: alpha, Dropout: 0.05, Targets: []string{"v_proj", "q_proj", "o_proj", "k_proj"}}
	dir := filepath.Join(t.TempDir(), "out")
	if err := loraadapter.Save(dir, ads, cfg, "tiny-llava-test"); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	if want := []string{loraadapter.ConfigFile, loraadapter.WeightsFile}; !reflect.DeepEqual(names, want) {
		t.Errorf("files %v, want %v (no temporaries left)", names, want)
	}

	got := readJSON(t, filepath.Join(dir, loraadapter.ConfigFile))
	if k := slices.Sorted(maps.Keys(got)); !reflect.DeepEqual(k, peftFields) {
		t.Errorf("config fields\n %v\nwant PEFT's\n %v", k, peftFields)
	}
	ref := readJSON(t, filepath.Join(peftDir, loraadapter.ConfigFile))
	if !reflect.DeepEqual(got, ref) {
		t.Errorf("config\n %v\nwant (lora_ref.py)\n %v", got, ref)
	}
	for k, v := range map[string]any{
		"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4.0, "lora_alpha": 8.0, "lora_dropout": 0.05,
		"bias": "none", "inference_mode": true, "fan_in_fan_out": false, "modules_to_save": nil,
		"init_lora_weights": true, "use_rslora": false, "use_dora": false,
		"base_model_name_or_path": "tiny-llava-test",
		"target_modules":          []any{"v_proj", "q_proj", "o_proj", "k_proj"},
	} {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	gb, _ := os.ReadFile(filepath.Join(dir, loraadapter.ConfigFile))
	rb, _ := os.ReadFile(filepath.Join(peftDir, loraadapter.ConfigFile))
	if string(gb) != string(rb) {
		t.Errorf("adapter_config.json differs from Python's json.dump(indent=2, sort_keys=True):\n%s\nwant\n%s", gb, rb)
	}

	f, err := torchtest.Load(filepath.Join(dir, loraadapter.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range decoderModules() {
		want = append(want, "base_model.model."+n+".lora_A.weight", "base_model.model."+n+".lora_B.weight")
	}
	sort.Strings(want)
	if k := slices.Sorted(maps.Keys(f.Tensors)); !reflect.DeepEqual(k, want) {
		t.Errorf("tensor names\n %v\nwant\n %v", k, want)
	}
	pf, err := torchtest.Load(filepath.Join(peftDir, loraadapter.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(pf.Tensors)) {
		if !strings.Contains(k, "vision_tower") && !f.Has(k) {
			t.Errorf("PyTorch's file has %s, ours does not", k)
		}
		if f.Has(k) {
			if st := torchtest.CompareValues(f.Raw(k).Float64s(), pf.Raw(k).Float64s(), torchtest.Tol{Exact: true}); !st.OK() {
				t.Errorf("%s: %s", k, st)
			}
		}
	}
	if f.Metadata["format"] != "pt" || len(f.Metadata) != 1 {
		t.Errorf("metadata %v, want {format: pt}", f.Metadata)
	}
}

// Save then Load into a fresh model gives the same config (prefixes included), tensors
// and outputs; Load honours the recorded prefixes when the model also has vision slots.
func TestSaveLoadRoundTrip(t *testing.T) {
	for _, rs := range []bool{false, true} {
		t.Run(map[bool]string{false: "lora", true: "rslora"}[rs], func(t *testing.T) {
			torchtest.NoLeak(t)
			s := torch.NewScope(torch.CPU).Eval()
			defer s.Close()
			build := func() (*nn.Store, *tiny, []nn.LinearSlot) {
				g, err := torch.NewGenerator(21, torch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(g.Close)
				st := nn.NewStore(torch.CPU)
				t.Cleanup(st.Close)
				st.SetGenerator(g)
				m := newTiny(st)
				// A vision-tower projection that the suffix "q_proj" also matches.
				var vis nn.Layer = nn.NewLinear(st.Root().Sub("model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj"), 6, 6, nn.LinearConfig{Bias: true})
				return st, m, append(m.LinearSlots(), nn.LinearSlot{Name: "model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj", Layer: &vis})
			}
			st1, m1, slots1 := build()
			cfg := testConfig()
			cfg.RSLoRA = rs
			ads1, err := loraadapter.Inject(st1, slots1, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(ads1) != 8 {
				t.Fatalf("%d adapters, want 8 (prefixes keep the vision q_proj out)", len(ads1))
			}
			for _, l := range ads1 {
				l.B.CopyFrom(torch.Randn(s, nil, torch.Float32, l.B.Shape()...))
			}
			dir := t.TempDir()
			if err := loraadapter.Save(dir, ads1, cfg, "base"); err != nil {
				t.Fatal(err)
			}
			if err := loraadapter.Save(dir, ads1, cfg, "base"); err != nil { // overwriting works
				t.Fatal(err)
			}
			st2, m2, slots2 := build()
			rep, err := loraadapter.LoadWithReport(dir, st2, slots2)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rep.Config, cfg) {
				t.Errorf("loaded config %+v, saved %+v", rep.Config, cfg)
			}
			if len(rep.Skipped) != 0 {
				t.Errorf("skipped %v", rep.Skipped)
			}
			ads2 := rep.Adapters
			if len(ads2) != len(ads1) {
				t.Fatalf("%d adapters loaded, %d saved", len(ads2), len(ads1))
			}
			for i := range ads1 {
				if ads2[i].Name != ads1[i].Name || ads2[i].Scale != ads1[i].Scale || ads2[i].Dropout != ads1[i].Dropout {
					t.Errorf("adapter %d: %s scale %v dropout %v, saved %s %v %v", i, ads2[i].Name, ads2[i].Scale, ads2[i].Dropout,
						ads1[i].Name, ads1[i].Scale, ads1[i].Dropout)
				}
				exact(t, ads1[i].Name+" A", ads2[i].A, ads1[i].A)
				exact(t, ads1[i].Name+" B", ads2[i].B, ads1[i].B)
			}
			x := torch.Randn(s, nil, torch.Float32, 2, 3, hidden)
			exact(t, "output after round trip", m2.Forward(s, x), m1.Forward(s, x))
		})
	}
}

// PEFT's adapter put LoRA on the vision tower's q/k/v too; given a model that exposes
// those slots, Load fills them instead of skipping them.
func TestPEFTAdapterWithVisionSlots(t *testing.T) {
	torchtest.NoLeak(t)
	st, m := withBase(t)
	slots := m.LinearSlots()
	vision := "model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn."
	for _, p := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
		var l nn.Layer = nn.NewLinear(st.Root().Sub(vision+p), 6, 6, nn.LinearConfig{Bias: true})
		slots = append(slots, nn.LinearSlot{Name: vision + p, Layer: &l})
	}
	rep, err := loraadapter.LoadWithReport(peftDir, st, slots)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Adapters) != 11 || len(rep.Skipped) != 0 {
		t.Errorf("%d adapters, skipped %v; want 11 and none", len(rep.Adapters), rep.Skipped)
	}
	if _, ok := rep.Adapters.Get(vision + "out_proj"); ok {
		t.Error("out_proj got an adapter")
	}
}

// Targets that match no slot of the model (a CLIP module's full name) are not an error
// when loading.
func TestLoadToleratesTargetsWithoutSlots(t *testing.T) {
	torchtest.NoLeak(t)
	dir := copyDir(t, peftDir)
	cfg := readJSON(t, filepath.Join(dir, loraadapter.ConfigFile))
	full := "model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj"
	cfg["target_modules"] = []any{"q_proj", "k_proj", "v_proj", "o_proj", full}
	writeJSON(t, filepath.Join(dir, loraadapter.ConfigFile), cfg)
	st, m := withBase(t)
	rep, err := loraadapter.LoadWithReport(dir, st, m.LinearSlots())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Adapters) != 8 || len(rep.Skipped) != 3 || rep.Config.Targets[4] != full {
		t.Errorf("%d adapters, skipped %v, targets %v", len(rep.Adapters), rep.Skipped, rep.Config.Targets)
	}
}

// editDir copies the golden adapter and lets edit change its config and tensors.
func editDir(t *testing.T, s *torch.Scope, editCfg func(map[string]any), editW func(map[string]*torch.Tensor)) string {
	t.Helper()
	dir := copyDir(t, peftDir)
	if editCfg != nil {
		cfg := readJSON(t, filepath.Join(dir, loraadapter.ConfigFile))
		editCfg(cfg)
		writeJSON(t, filepath.Join(dir, loraadapter.ConfigFile), cfg)
	}
	if editW != nil {
		path := filepath.Join(dir, loraadapter.WeightsFile)
		w, err := torch.LoadWeights(s, path)
		if err != nil {
			t.Fatal(err)
		}
		editW(w)
		if err := torch.SaveSafetensors(path, w, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	const key = "base_model.model.model.layers."
	cases := []struct {
		name string
		dir  func(t *testing.T) string
		is   error
		want []string
		load *nn.LoadReport // for mismatches: the exact report
	}{
		{"no directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }, fs.ErrNotExist, []string{"adapter_config.json"}, nil},
		{"no weights", func(t *testing.T) string {
			d := copyDir(t, peftDir)
			os.Remove(filepath.Join(d, loraadapter.WeightsFile))
			return d
		}, fs.ErrNotExist, []string{"neither adapter_model.safetensors nor adapter_model.bin"}, nil},
		{"corrupt json", func(t *testing.T) string {
			d := copyDir(t, peftDir)
			os.WriteFile(filepath.Join(d, loraadapter.ConfigFile), []byte(`{"peft_type": "LORA", "r": 4,`), 0o644)
			return d
		}, loraadapter.ErrFormat, []string{"unexpected end of JSON"}, nil},
		{"corrupt weights", func(t *testing.T) string {
			d := copyDir(t, peftDir)
			os.WriteFile(filepath.Join(d, loraadapter.WeightsFile), []byte("not a safetensors file"), 0o644)
			return d
		}, nil, []string{"adapter_model.safetensors"}, nil},
		{"not lora", func(t *testing.T) string {
			return editDir(t, s, func(c map[string]any) { c["peft_type"] = "IA3"; delete(c, "r") }, nil)
		}, loraadapter.ErrFormat, []string{`peft_type is "IA3"`, "no r"}, nil},
		{"unsupported features", func(t *testing.T) string {
			return editDir(t, s, func(c map[string]any) {
				c["use_dora"] = true
				c["bias"] = "all"
				c["rank_pattern"] = map[string]any{"q_proj": 8}
				c["modules_to_save"] = []any{"lm_head"}
			}, nil)
		}, loraadapter.ErrFormat, []string{"use_dora", `bias "all"`, "rank_pattern", "modules_to_save"}, nil},
		{"regex targets", func(t *testing.T) string {
			return editDir(t, s, func(c map[string]any) { c["target_modules"] = `.*\.(q|v)_proj` }, nil)
		}, loraadapter.ErrFormat, []string{"regular expression"}, nil},
		{"bad dropout", func(t *testing.T) string {
			return editDir(t, s, func(c map[string]any) { c["lora_dropout"] = 1.5 }, nil)
		}, loraadapter.ErrFormat, []string{"dropout 1.5"}, nil},
		{"wrong rank", func(t *testing.T) string {
			return editDir(t, s, func(c map[string]any) { c["r"] = 2 }, nil)
		}, nn.ErrLoad, []string{"16 with the wrong shape", "q_proj.lora_A.weight: file [4 8], model [2 8]"}, nil},
		{"missing, unexpected, wrong shape", func(t *testing.T) string {
			return editDir(t, s, nil, func(w map[string]*torch.Tensor) {
				delete(w, key+"1.self_attn.o_proj.lora_B.weight")
				w[key+"0.self_attn.k_proj.lora_B.weight"] = torch.Zeros(s, torch.Float32, 5, 4)
				w["model.layers.0.self_attn.q_proj.lora_A.weight"] = torch.Zeros(s, torch.Float32, 4, 8)
				w[key+"0.self_attn.q_proj.lora_A.default.weight"] = torch.Zeros(s, torch.Float32, 4, 8)
			})
		}, nn.ErrLoad, nil, &nn.LoadReport{
			Missing: []string{"model.layers.1.self_attn.o_proj.lora_B.weight"}, // the store's name
			Unexpected: []string{key + "0.self_attn.q_proj.lora_A.default.weight",
				"model.layers.0.self_attn.q_proj.lora_A.weight"},
			Mismatched: []nn.ShapeMismatch{{Name: key + "0.self_attn.k_proj.lora_B.weight", File: []int64{5, 4}, Store: []int64{4, 4}}},
		}},
		{"module not targeted", func(t *testing.T) string {
			return editDir(t, s, func(c map[string]any) { c["target_modules"] = []any{"q_proj", "k_proj", "v_proj"} }, nil)
		}, nn.ErrLoad, []string{"4 unexpected", "o_proj.lora_A.weight"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir(t)
			st := nn.NewStore(torch.CPU)
			defer st.Close()
			m := newTiny(st)
			n := len(st.Entries())
			_, _, err := loraadapter.Load(dir, st, m.LinearSlots())
			if err == nil {
				t.Fatal("loaded")
			}
			t.Log(err)
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if c.load != nil {
				var le *nn.LoadError
				if !errors.As(err, &le) {
					t.Fatalf("error %T is not an *nn.LoadError", err)
				}
				if !reflect.DeepEqual(le.LoadReport, *c.load) {
					t.Errorf("report %+v\nwant %+v", le.LoadReport, *c.load)
				}
			}
			if len(st.Entries()) != n {
				t.Error("a failed Load changed the store")
			}
			for _, sl := range m.LinearSlots() {
				if _, ok := (*sl.Layer).(*nn.Linear); !ok {
					t.Errorf("a failed Load replaced %s", sl.Name)
				}
			}
		})
	}
}

// An adapter whose targets match none of the model's slots (all its modules skipped) is an
// error, not an empty success.
func TestLoadMatchingNothing(t *testing.T) {
	torchtest.NoLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	var q, v nn.Layer = nn.NewLinear(st.Root().Sub("encoder.query"), 8, 8, nn.LinearConfig{}),
		nn.NewLinear(st.Root().Sub("encoder.value"), 8, 8, nn.LinearConfig{})
	slots := []nn.LinearSlot{{Name: "encoder.query", Layer: &q}, {Name: "encoder.value", Layer: &v}}
	_, _, err := loraadapter.Load(peftDir, st, slots)
	if err == nil || !strings.Contains(err.Error(), "matches none of the model's 2 slots") {
		t.Fatalf("error %v", err)
	}
}

func TestSaveErrors(t *testing.T) {
	torchtest.NoLeak(t)
	st, m := withBase(t)
	ads, err := loraadapter.Inject(st, m.LinearSlots(), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, c := range map[string]struct {
		ads  loraadapter.Adapters
		edit func(*loraadapter.Config)
		want string
	}{
		"no adapters":    {nil, func(*loraadapter.Config) {}, "no adapters"},
		"wrong rank":     {ads, func(c *loraadapter.Config) { c.R = 8 }, "has rank 4, the config 8"},
		"wrong alpha":    {ads, func(c *loraadapter.Config) { c.Alpha = 4 }, "has scale 2, the config 1"},
		"not a target":   {ads, func(c *loraadapter.Config) { c.Targets = []string{"q_proj"} }, "is not a target"},
		"invalid":        {ads, func(c *loraadapter.Config) { c.Targets = nil }, "no target modules"},
		"duplicate":      {append(ads[:1:1], ads[0]), func(*loraadapter.Config) {}, "two adapters"},
		"outside prefix": {ads, func(c *loraadapter.Config) { c.Prefixes = []string{"model.vision_tower."} }, "is not a target"},
	} {
		cfg := testConfig()
		c.edit(&cfg)
		err := loraadapter.Save(dir, c.ads, cfg, "base")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed saves left %d files", len(ents))
	}
}

package loraadapter_test

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// A fresh adapter (B = 0) leaves every output bit-equal to the base model's, in eval and
// in training mode (dropout only touches the zero branch).
func TestFreshAdapterIsIdentity(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	st, m := freshTiny(t)
	x := torch.Randn(s, nil, torch.Float32, 2, 3, hidden)
	base := m.Forward(s, x)
	ads, err := loraadapter.Inject(st, m.LinearSlots(), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 8 {
		t.Fatalf("%d adapters, want 8", len(ads))
	}
	for _, l := range ads {
		if l.A.Abs(s).MaxAll(s).Item() == 0 {
			t.Errorf("%s: A is all zero", l.Name)
		}
		if l.B.Abs(s).MaxAll(s).Item() != 0 {
			t.Errorf("%s: B is not zero", l.Name)
		}
	}
	for _, sc := range []*torch.Scope{s, s.Train(nil)} {
		exact(t, "fresh adapter output", m.Forward(sc, x), base)
	}
}

// Injecting after torch.ManualSeed gives the same base and LoRA weights as lora_ref.py's
// PEFT-style injection after torch.manual_seed (A, B drawn as nn.Linear, then A again).
func TestInitMatchesPyTorch(t *testing.T) {
	_, g := goldenScope(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	if err := torch.ManualSeed(uint64(torchtest.Want(t, g, "init.seed").Item())); err != nil {
		t.Fatal(err)
	}
	m := newTiny(st)
	if _, err := loraadapter.Inject(st, m.LinearSlots(), testConfig()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for name := range g {
		if strings.HasPrefix(name, "init.sd.") {
			n++
		}
	}
	if len(st.Entries()) != n {
		t.Errorf("store has %d entries, PyTorch's model %d", len(st.Entries()), n)
	}
	for _, e := range st.Entries() {
		exact(t, e.Name, e.Tensor, torchtest.Want(t, g, "init.sd."+e.Name))
	}
}

// The PEFT-layout adapter written by lora_ref.py (non-zero B) loads, from safetensors and
// from torch.save's .bin, and gives PyTorch's outputs and gradients.
func TestPEFTAdapterMatchesPyTorch(t *testing.T) {
	for _, dir := range []string{peftDir, peftBinDir} {
		t.Run(dir[strings.LastIndexByte(dir, '/')+1:], func(t *testing.T) {
			s, g := goldenScope(t)
			st, m := withBase(t)
			x := torchtest.Want(t, g, "x")
			torchtest.AllClose(t, "base output", m.Forward(s, x), torchtest.Want(t, g, "eval.out_base"), 1e-5)

			rep, err := loraadapter.LoadWithReport(dir, st, m.LinearSlots())
			if err != nil {
				t.Fatal(err)
			}
			want := loraadapter.Config{R: rank, Alpha: alpha, Dropout: 0.05, Targets: []string{"v_proj", "q_proj", "o_proj", "k_proj"}}
			if !reflect.DeepEqual(rep.Config, want) {
				t.Errorf("config %+v, want %+v", rep.Config, want)
			}
			vision := "model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn."
			if w := []string{vision + "k_proj", vision + "q_proj", vision + "v_proj"}; !reflect.DeepEqual(rep.Skipped, w) {
				t.Errorf("skipped %v, want %v", rep.Skipped, w)
			}
			if len(rep.Adapters) != 8 {
				t.Fatalf("%d adapters, want 8", len(rep.Adapters))
			}
			for _, l := range rep.Adapters {
				if l.Scale != 2 {
					t.Errorf("%s: scale %v, want 2", l.Name, l.Scale)
				}
			}
			checkForward(t, s, g, m, "eval", rep.Adapters)
		})
	}
}

// checkForward runs the tiny model on x with gradients against gout and compares the
// output, the input gradient and the LoRA gradients with the golden <prefix>.* tensors.
func checkForward(t *testing.T, s *torch.Scope, g map[string]*torch.Tensor, m *tiny, prefix string, ads loraadapter.Adapters) {
	t.Helper()
	x := torchtest.Want(t, g, "x").Clone(s).SetRequiresGrad(true)
	out := m.Forward(s, x)
	out.BackwardWith(torchtest.Want(t, g, "gout"), false)
	torchtest.AllClose(t, prefix+".out", out, torchtest.Want(t, g, prefix+".out"), 1e-5)
	torchtest.AllClose(t, prefix+".grad.x", x.Grad(s), torchtest.Want(t, g, prefix+".grad.x"), 1e-5)
	for _, l := range ads {
		for i, p := range []*torch.Tensor{l.A, l.B} {
			name := l.ParamNames()[i]
			torchtest.AllClose(t, name, p.Grad(s), torchtest.Want(t, g, prefix+".grad."+name), 1e-5)
			p.ZeroGrad()
		}
		if l.Base.Weight.Grad(s) != nil {
			t.Errorf("%s: the frozen base weight got a gradient", l.Name)
		}
	}
}

// In training mode with dropout, the masks come from the store's generator (here
// libtorch's default one) in forward order, as in PyTorch: after the same seed the output
// and gradients match lora_ref.py's.
func TestTrainDropoutMatchesPyTorch(t *testing.T) {
	s, g := goldenScope(t)
	_, m, ads := withAdapter(t)
	p := torchtest.Want(t, g, "train.p").Item()
	for _, l := range ads {
		l.Dropout = p
	}
	if err := torch.ManualSeed(uint64(torchtest.Want(t, g, "train.seed").Item())); err != nil {
		t.Fatal(err)
	}
	checkForward(t, s.Train(nil), g, m, "train", ads)
	// Sanity: the train golden is not the eval one.
	if torchtest.CompareTensors(torchtest.Want(t, g, "train.out"), torchtest.Want(t, g, "eval.out"), torchtest.DefaultTol(torch.Float32)).OK() {
		t.Error("train-mode golden equals the eval-mode one: dropout did nothing")
	}
}

// Dropout acts in training mode only: eval output equals the dropout-free output, and
// training-mode outputs vary from call to call.
func TestDropoutTrainVersusEval(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	_, m, ads := withAdapter(t)
	gen, err := torch.NewGenerator(5, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	x := torch.Randn(s, nil, torch.Float32, 4, 5, hidden)
	tr := s.Train(gen)
	for _, l := range ads {
		l.Dropout = 0
	}
	ref := m.Forward(tr, x)
	for _, l := range ads {
		l.Dropout = 0.5
	}
	exact(t, "eval output with dropout 0.5", m.Forward(s, x), ref)
	a, b := m.Forward(tr, x), m.Forward(tr, x)
	tol := torchtest.DefaultTol(torch.Float32)
	if torchtest.CompareTensors(a, ref, tol).OK() {
		t.Error("training-mode output with dropout 0.5 equals the dropout-free one")
	}
	if torchtest.CompareTensors(a, b, tol).OK() {
		t.Error("two training-mode forwards drew the same dropout masks")
	}
}

// Merged output equals unmerged output; merging twice adds nothing more; unmerging
// restores the base weights.
func TestMergeEqualsUnmerged(t *testing.T) {
	s, g := goldenScope(t)
	_, m, ads := withAdapter(t)
	x := torchtest.Want(t, g, "x")
	unmerged := m.Forward(s, x)
	orig := map[string]*torch.Tensor{}
	for _, l := range ads {
		orig[l.Name] = l.Base.Weight.Clone(s)
	}
	if err := ads.MergeAll(); err != nil {
		t.Fatal(err)
	}
	for _, l := range ads {
		if !l.Merged() {
			t.Fatalf("%s is not merged", l.Name)
		}
		if torchtest.CompareTensors(l.Base.Weight, orig[l.Name], torchtest.Tol{Exact: true}).OK() {
			t.Errorf("%s: merging left the weight unchanged", l.Name)
		}
	}
	// Against PyTorch: close, not bit-equal (B·A and the forward go through matmul kernels
	// that differ between libtorch versions).
	f32 := torchtest.DefaultTol(torch.Float32)
	for _, l := range ads {
		torchtest.AllCloseTol(t, l.Name+" merged weight", l.Base.Weight, torchtest.Want(t, g, "merged.w."+l.Name+".weight"), f32)
	}
	merged := m.Forward(s, x)
	torchtest.AllCloseTol(t, "merged vs PyTorch merged", merged, torchtest.Want(t, g, "merged.out"), f32)
	torchtest.AllClose(t, "merged vs unmerged", merged, unmerged, 1e-5)
	torchtest.AllClose(t, "merged vs PyTorch unmerged", merged, torchtest.Want(t, g, "eval.out"), 1e-5)
	t.Logf("max |output| %.3g", torchtest.CompareTensors(merged, unmerged, torchtest.Tol{}).MaxWant)
	// A merged layer uses the base only: zeroing B changes nothing, and merging again
	// does not add the update twice.
	if err := ads.MergeAll(); err != nil {
		t.Fatal(err)
	}
	exact(t, "merged twice", m.Forward(s, x), merged)

	if err := ads.UnmergeAll(); err != nil {
		t.Fatal(err)
	}
	for _, l := range ads {
		if l.Merged() {
			t.Fatalf("%s is still merged", l.Name)
		}
		torchtest.AllCloseTol(t, l.Name+" weight after unmerge", l.Base.Weight, orig[l.Name], torchtest.Tol{RTol: 1e-6, ATol: 1e-6})
	}
	torchtest.AllClose(t, "unmerged again", m.Forward(s, x), unmerged, 1e-5)
	if err := ads.UnmergeAll(); err != nil { // a no-op
		t.Fatal(err)
	}
	// Delta is B·A·scale.
	l := ads[0]
	d, err := l.Delta(s)
	if err != nil {
		t.Fatal(err)
	}
	torchtest.AllClose(t, "delta", d, l.B.Matmul(s, l.A).MulScalar(s, l.Scale).Detach(s), 1e-6)
}

// After Inject only the LoRA tensors of wrapped layers are trainable; other parameters keep
// their flag until OnlyLoRATrainable; a backward pass reaches A and B but not the base.
func TestOnlyLoRATrainable(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	st, m := freshTiny(t)
	norm := st.Root().Sub("model").Sub("norm").Param("weight", nn.Ones, hidden)
	ads, err := loraadapter.Inject(st, m.LinearSlots(), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var lora []string
	for _, n := range decoderModules() {
		lora = append(lora, n+".lora_A.weight", n+".lora_B.weight")
	}
	if got := ads.TrainableNames(); !reflect.DeepEqual(got, lora) {
		t.Errorf("adapters' names %v, want %v", got, lora)
	}
	want := append([]string{"model.norm.weight"}, lora...)
	got := st.TrainableNames()
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trainable after Inject %v, want %v", got, want)
	}
	for _, l := range ads {
		if l.Base.Weight.RequiresGrad() || (l.Base.Bias != nil && l.Base.Bias.RequiresGrad()) {
			t.Errorf("%s: base still requires grad", l.Name)
		}
		if !l.A.RequiresGrad() || !l.B.RequiresGrad() {
			t.Errorf("%s: LoRA tensors do not require grad", l.Name)
		}
	}
	if n := loraadapter.OnlyLoRATrainable(st); n != len(lora) {
		t.Errorf("OnlyLoRATrainable left %d trainable, want %d", n, len(lora))
	}
	if norm.RequiresGrad() {
		t.Error("the norm weight is still trainable")
	}
	if got := st.NumParams(true); got != ads.NumParams() {
		t.Errorf("trainable elements %d, adapters' %d", got, ads.NumParams())
	}
	// Gradients reach A and B (A's is zero while B = 0) and not the base.
	x := torch.Randn(s, nil, torch.Float32, 2, 3, hidden)
	m.Forward(s, x).SumAll(s).Backward()
	for _, l := range ads {
		if l.B.Grad(s) == nil || l.A.Grad(s) == nil {
			t.Errorf("%s: LoRA tensors got no gradient", l.Name)
		}
		if l.Base.Weight.Grad(s) != nil {
			t.Errorf("%s: base weight got a gradient", l.Name)
		}
	}
}

func TestInjectErrors(t *testing.T) {
	torchtest.NoLeak(t)
	st, m := freshTiny(t)
	n := len(st.Entries())
	injected := false
	bad := func(name string, slots []nn.LinearSlot, cfg loraadapter.Config, want string) {
		t.Helper()
		_, err := loraadapter.Inject(st, slots, cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, want)
		}
		if len(st.Entries()) != n {
			t.Fatalf("%s: a failed Inject changed the store", name)
		}
		for _, sl := range slots {
			if _, ok := (*sl.Layer).(*loraadapter.Linear); ok && !injected {
				t.Fatalf("%s: a failed Inject replaced %s", name, sl.Name)
			}
		}
	}
	cfg := testConfig()
	cfg.Targets = append(cfg.Targets, "gate_proj")
	bad("unmatched target", m.LinearSlots(), cfg, `target "gate_proj" matches no module under model.layers.`)
	cfg = testConfig()
	cfg.Prefixes = []string{"model.vision_tower."}
	bad("prefix excludes all", m.LinearSlots(), cfg, `target "q_proj" matches no module`)
	cfg = testConfig()
	cfg.R = 0
	bad("zero rank", m.LinearSlots(), cfg, "rank 0")
	cfg = testConfig()
	cfg.Dropout = 1
	bad("dropout 1", m.LinearSlots(), cfg, "dropout")

	slots := m.LinearSlots()
	var f nn.Layer = nn.Func(func(s *torch.Scope, x *torch.Tensor) *torch.Tensor { return x })
	slots[1].Layer = &f
	bad("not a linear", slots, testConfig(), "holds a nn.Func, not a *nn.Linear")
	slots = append(m.LinearSlots(), m.LinearSlots()[0])
	bad("duplicate slot", slots, testConfig(), "two slots are called")

	if _, err := loraadapter.Inject(st, m.LinearSlots(), testConfig()); err != nil {
		t.Fatal(err)
	}
	n = len(st.Entries())
	injected = true
	bad("twice", m.LinearSlots(), testConfig(), "already holds a LoRA layer")
}

// Forward, Merge and Unmerge allocate nothing that outlives their scopes.
func TestNoLeaks(t *testing.T) {
	torchtest.NoLeak(t)
	_, m, ads := withAdapter(t)
	before := torch.LiveTensors()
	for i := 0; i < 3; i++ {
		s := torch.NewScope(torch.CPU).Eval()
		x := torch.Randn(s, nil, torch.Float32, 2, 3, hidden).SetRequiresGrad(true)
		m.Forward(s, x).SumAll(s).Backward()
		if err := ads.MergeAll(); err != nil {
			t.Fatal(err)
		}
		m.Forward(s, x)
		if err := ads.UnmergeAll(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	for _, p := range ads.Params() {
		p.ZeroGrad()
	}
	if after := torch.LiveTensors(); after != before {
		t.Errorf("live tensors %d, before %d", after, before)
	}
}

func TestWrap(t *testing.T) {
	torchtest.NoLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	p := st.Root().Sub("proj")
	base := nn.NewLinear(p, 6, 5, nn.LinearConfig{Bias: true})
	cfg := loraadapter.Config{R: 3, Alpha: 6, Targets: []string{"proj"}, RSLoRA: true}
	l, err := loraadapter.Wrap(p, base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "proj" || l.Rank() != 3 || l.Scale != cfg.Scale() || cfg.Scale() != 6/1.7320508075688772 {
		t.Errorf("wrapped %s rank %d scale %v", l.Name, l.Rank(), l.Scale)
	}
	if got, want := st.TrainableNames(), []string{"proj.lora_A.weight", "proj.lora_B.weight"}; !reflect.DeepEqual(got, want) {
		t.Errorf("trainable %v, want %v", got, want)
	}
	if _, err := loraadapter.Wrap(st.Root(), base, cfg); err == nil {
		t.Error("Wrap at the root path worked")
	}
	if _, err := loraadapter.Wrap(p, nil, cfg); err == nil {
		t.Error("Wrap of nil worked")
	}
	if err := (loraadapter.Config{R: 2, Alpha: 0, Targets: []string{"x"}}).Validate(); !errors.Is(err, loraadapter.ErrConfig) {
		t.Errorf("alpha 0: %v", err)
	}
}

// TestDropoutNeedsMode: with dropout on, a LoRA layer refuses a scope without a mode
// (torch.ErrNoMode naming loraadapter.Linear); with dropout 0 it runs in any scope.
func TestDropoutNeedsMode(t *testing.T) {
	torchtest.NoLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	p := st.Root().Sub("proj")
	base := nn.NewLinear(p, 4, 3, nn.LinearConfig{})
	l, err := loraadapter.Wrap(p, base, loraadapter.Config{R: 2, Alpha: 4, Dropout: 0.1, Targets: []string{"proj"}})
	if err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	x := torch.Ones(s, torch.Float32, 2, 4)
	err = torch.Try(func() { l.Forward(s, x) })
	if !errors.Is(err, torch.ErrNoMode) || !strings.Contains(err.Error(), "loraadapter.Linear") {
		t.Errorf("dropout 0.1 without a mode: %v, want ErrNoMode naming loraadapter.Linear", err)
	}
	l.Dropout = 0
	if err := torch.Try(func() { l.Forward(s, x) }); err != nil {
		t.Errorf("dropout 0 without a mode: %v", err)
	}
	if err := torch.Try(func() { l.Dropout = 0.1; l.Forward(s.Eval(), x) }); err != nil {
		t.Errorf("dropout 0.1 in an Eval scope: %v", err)
	}
}

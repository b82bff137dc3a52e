package nn_test

import (
	"errors"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"head.weight", "head.weight", true},
		{"head.weight", "head.weights", false},
		{"head.*", "head.weight", true},
		{"head.*", "heads.weight", false},
		{"*", "anything.at.all", true},
		{"*.bias", "layers.1.blocks.0.attn.qkv.bias", true},
		{"*.bias", "bias", false},
		{"*norm*", "layers.1.blocks.0.norm1.weight", true},
		{"*norm*", "layers.1.blocks.0.attn.qkv.weight", false},
		{"layers.*.attn.*", "layers.1.blocks.0.attn.qkv.weight", true},
		{"layers.*.attn.*", "layers.1.blocks.0.mlp.0.weight", false},
		{"image_encoder.*", "image_encoder.", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "ac", false},
		{"a*a", "a", false},
		{"*.lora_A.weight", "q_proj.lora_A.weight", true},
	} {
		if got := nn.Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestPathNames(t *testing.T) {
	noLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	root := st.Root()
	if root.String() != "" || root.Name("w") != "w" {
		t.Errorf("root path %q names %q", root.String(), root.Name("w"))
	}
	p := root.Sub("layers").Index(1).Sub("blocks").Index(0).Sub("attn")
	if got := p.Name("qkv"); got != "layers.1.blocks.0.attn.qkv" {
		t.Errorf("Name = %q", got)
	}
	if p.Store() != st {
		t.Error("Path.Store is not the store")
	}
	nn.NewLinear(p.Sub("qkv"), 2, 6, nn.LinearConfig{Bias: true})
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	b := p.BufferOf("mask", torch.Ones(s, torch.Bool, 3))
	s.Close() // the buffer is the store's copy
	if b.Freed() || b.Numel() != 3 {
		t.Error("BufferOf did not copy the tensor into the store")
	}
	want := []string{"layers.1.blocks.0.attn.mask", "layers.1.blocks.0.attn.qkv.bias", "layers.1.blocks.0.attn.qkv.weight"}
	if got := st.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if e, ok := st.Get("layers.1.blocks.0.attn.mask"); !ok || e.Kind != nn.Buffer || e.Trainable || e.Tensor.RequiresGrad() {
		t.Errorf("buffer entry %+v", e)
	}
	if e, ok := st.Get("layers.1.blocks.0.attn.qkv.weight"); !ok || e.Kind != nn.Parameter || !e.Trainable || !e.Tensor.RequiresGrad() {
		t.Errorf("parameter entry %+v", e)
	}
	if _, ok := st.Get("nope"); ok {
		t.Error("Get found a missing name")
	}
	if len(st.Tensors()) != 3 || len(st.Parameters()) != 2 {
		t.Errorf("%d tensors, %d parameters", len(st.Tensors()), len(st.Parameters()))
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	nn.NewLinear(p.Sub("qkv"), 2, 6, nn.LinearConfig{Bias: true})
}

// TestFreezeStopsGradients freezes by pattern, checks that frozen parameters get no
// gradient while the others do, and unfreezes part of them again.
func TestFreezeStopsGradients(t *testing.T) {
	noLeak(t)
	st, m := newModelStore(t)
	if _, err := st.Load(modelPTH, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU).Train(nil)
	defer s.Close()
	io := loadGolden(t, s, modelIO)

	total := st.NumParams(false)
	if want := int64(io.want(t, "num_params").Item()); total != want {
		t.Errorf("NumParams = %d, PyTorch's model has %d", total, want)
	}
	if st.NumParams(true) != total {
		t.Errorf("NumParams(trainable) = %d before freezing, want %d", st.NumParams(true), total)
	}

	n := st.Freeze("layers.1.*", "stem.*")
	frozen := map[string]bool{}
	var frozenCount int64
	for _, e := range st.Entries() {
		if e.Kind == nn.Parameter && (strings.HasPrefix(e.Name, "layers.1.") || strings.HasPrefix(e.Name, "stem.")) {
			frozen[e.Name] = true
			frozenCount += e.Tensor.Numel()
		}
	}
	if n != len(frozen) {
		t.Errorf("Freeze changed %d parameters, want %d", n, len(frozen))
	}
	if again := st.Freeze("layers.1.*"); again != 0 {
		t.Errorf("freezing again changed %d", again)
	}
	if got := st.NumParams(true); got != total-frozenCount {
		t.Errorf("NumParams(trainable) = %d, want %d", got, total-frozenCount)
	}
	if got := len(st.Trainable()); got != len(st.Parameters())-len(frozen) {
		t.Errorf("%d trainable tensors, want %d", got, len(st.Parameters())-len(frozen))
	}

	step := func(want func(name string) bool) {
		t.Helper()
		zeroGrads(st)
		c := s.Child()
		defer c.Close()
		m.forward(c, io.want(t, "x")).SumAll(c).Backward()
		for _, e := range st.Entries() {
			if e.Kind != nn.Parameter {
				continue
			}
			has := e.Tensor.Grad(c) != nil
			if w := want(e.Name); has != w {
				t.Errorf("%s: has a gradient = %v, want %v", e.Name, has, w)
			}
			if e.Trainable != e.Tensor.RequiresGrad() {
				t.Errorf("%s: Trainable %v but requires_grad %v", e.Name, e.Trainable, e.Tensor.RequiresGrad())
			}
		}
	}
	step(func(name string) bool { return !frozen[name] })

	if n := st.Unfreeze("layers.1.blocks.0.*"); n != 12 {
		t.Errorf("Unfreeze changed %d, want 12", n)
	}
	step(func(name string) bool { return !frozen[name] || strings.HasPrefix(name, "layers.1.blocks.0.") })
	// Buffers are never made trainable.
	if n := st.Unfreeze("*"); n == 0 {
		t.Error("Unfreeze(*) changed nothing")
	}
	if e, _ := st.Get("stem.1.running_mean"); e.Trainable || e.Tensor.RequiresGrad() {
		t.Error("Unfreeze made a buffer trainable")
	}
}

// TestParamGroupsNoDecay splits trainable parameters into decayed weights and the rest.
func TestParamGroupsNoDecay(t *testing.T) {
	noLeak(t)
	st, _ := newModelStore(t)
	st.Freeze("stem.*")
	names := map[*torch.Tensor]string{}
	for _, e := range st.Entries() {
		names[e.Tensor] = e.Name
	}
	groups := st.ParamGroups(1e-3, 0.05, nn.NoDecay)
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
	if *groups[0].WeightDecay != 0.05 || *groups[1].WeightDecay != 0 || *groups[0].LR != 1e-3 || *groups[1].LR != 1e-3 {
		t.Errorf("groups %+v %+v", *groups[0], *groups[1])
	}
	var decay, plain []string
	for _, p := range groups[0].Params {
		decay = append(decay, names[p])
	}
	for _, p := range groups[1].Params {
		plain = append(plain, names[p])
	}
	for _, n := range decay {
		if strings.HasSuffix(n, ".bias") || strings.Contains(n, "norm") || strings.HasPrefix(n, "stem.") {
			t.Errorf("%s is decayed", n)
		}
	}
	for _, n := range plain {
		e, _ := st.Get(n)
		if !(strings.HasSuffix(n, ".bias") || strings.Contains(n, "norm") || e.Tensor.Dim() <= 1) {
			t.Errorf("%s skips decay", n)
		}
		if strings.HasPrefix(n, "stem.") {
			t.Errorf("frozen %s is in a group", n)
		}
	}
	for _, want := range []string{"head.weight", "cross.in_proj_weight", "layers.0.conv.weight", "query_embed.weight"} {
		if !contains(decay, want) {
			t.Errorf("%s is not decayed", want)
		}
	}
	for _, want := range []string{"head.bias", "cross.in_proj_bias", "layers.0.norm.weight", "layers.1.blocks.1.norm2.weight"} {
		if !contains(plain, want) {
			t.Errorf("%s is decayed", want)
		}
	}
	if len(decay)+len(plain) != len(st.Trainable()) {
		t.Errorf("groups hold %d parameters, %d are trainable", len(decay)+len(plain), len(st.Trainable()))
	}
	if g := st.ParamGroups(1e-3, 0.05, nil); len(g) != 1 || len(g[0].Params) != len(st.Trainable()) {
		t.Error("without a NoDecay rule every trainable parameter should be decayed")
	}
}

func contains(list []string, s string) bool {
	i := sort.SearchStrings(sortedCopy(list), s)
	l := sortedCopy(list)
	return i < len(l) && l[i] == s
}

func sortedCopy(l []string) []string {
	c := append([]string(nil), l...)
	sort.Strings(c)
	return c
}

// TestStoreTo converts the store's floating tensors in place: layers keep their
// *torch.Tensor, values convert, requires_grad stays, int64 buffers stay int64, and the
// model still runs and still trains.
func TestStoreTo(t *testing.T) {
	noLeak(t)
	st, m := newModelStore(t)
	if _, err := st.Load(modelPTH, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	st.Freeze("stem.0.*")
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	io := loadGolden(t, s, modelIO)
	orig := map[string][]float64{}
	ptrs := map[string]*torch.Tensor{}
	for _, e := range st.Entries() {
		orig[e.Name] = e.Tensor.Float64s()
		ptrs[e.Name] = e.Tensor
	}
	headW := m.head.Weight

	// Float64 and back to float32 are exact; bfloat16 rounds each value to 8 bits.
	for _, c := range []struct {
		dt     torch.DType
		tol    torchtest.Tol
		outTol float64 // for the model's output against PyTorch's float32 one
	}{
		{torch.Float64, torchtest.Tol{Exact: true}, 1e-5},
		{torch.Float32, torchtest.Tol{Exact: true}, 1e-5},
		{torch.BFloat16, torchtest.Tol{RTol: 1.0 / 256}, 0.1},
	} {
		if err := st.To(torch.CPU, c.dt); err != nil {
			t.Fatalf("To(%s): %v", c.dt, err)
		}
		if st.DType() != c.dt {
			t.Errorf("store dtype %s after To(%s)", st.DType(), c.dt)
		}
		if m.head.Weight != headW {
			t.Fatal("To replaced a layer's tensor")
		}
		for _, e := range st.Entries() {
			if e.Tensor != ptrs[e.Name] {
				t.Errorf("%s: entry tensor replaced", e.Name)
			}
			want := c.dt
			if e.Name == "stem.1.num_batches_tracked" {
				want = torch.Int64
			}
			if e.Tensor.DType() != want {
				t.Errorf("%s is %s after To(%s)", e.Name, e.Tensor.DType(), c.dt)
			}
			if e.Tensor.RequiresGrad() != e.Trainable {
				t.Errorf("%s: requires_grad %v after To, trainable %v", e.Name, e.Tensor.RequiresGrad(), e.Trainable)
			}
			if st := torchtest.CompareValues(e.Tensor.Float64s(), orig[e.Name], c.tol); !st.OK() {
				t.Errorf("%s after To(%s): %s", e.Name, c.dt, st)
			}
		}
		// The converted model runs in its new dtype and gives PyTorch's output.
		c2 := s.Child()
		y := m.forward(c2, io.want(t, "x").ToDType(c2, c.dt))
		if y.DType() != c.dt {
			t.Errorf("output is %s", y.DType())
		}
		torchtest.AllClose(t, "output after To("+c.dt.String()+")", y.ToDType(c2, torch.Float32), io.want(t, "y"), c.outTol)
		c2.Close()
	}

	// The converted (bfloat16) model trains: every trainable parameter gets a gradient of
	// its dtype, frozen ones none.
	zeroGrads(st)
	m.forward(s.Train(nil), io.want(t, "x").ToDType(s, torch.BFloat16)).SumAll(s).Backward()
	for _, e := range st.Entries() {
		gr := e.Tensor.Grad(s)
		if e.Kind == nn.Parameter && e.Trainable && (gr == nil || gr.DType() != torch.BFloat16) {
			t.Errorf("%s: gradient %v after To(bfloat16)", e.Name, gr)
		}
		if !e.Trainable && gr != nil {
			t.Errorf("%s: frozen but has a gradient", e.Name)
		}
	}
	zeroGrads(st)
}

// TestTrainEvalSwitchesLayers: Dropout and BatchNorm follow the mode of the call's scope.
func TestTrainEvalSwitchesLayers(t *testing.T) {
	noLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	bn := nn.NewBatchNorm2d(st.Root().Sub("bn"), 2)
	d := nn.NewDropout(0.5)
	root := torch.NewScope(torch.CPU).NoGrad()
	defer root.Close()
	if root.Mode() != torch.ModeUnset {
		t.Fatalf("a new scope has mode %v", root.Mode())
	}
	s := root.Eval()
	x := torch.Arange(s, 0, 16, 1, torch.Float32).View(s, 2, 2, 2, 2)
	y := bn.Forward(s, x) // running stats 0 and 1: (x − 0)/√(1+eps)
	torchtest.AllClose(t, "eval batchnorm", y, x.DivScalar(s, math.Sqrt(1+1e-5)), 1e-6)
	if bn.NumBatchesTracked.Item() != 0 || bn.RunningMean.Float32s()[0] != 0 {
		t.Error("evaluation updated the running statistics")
	}
	exact(t, "eval dropout", d.Forward(s, x), x)
	tr := s.Train(nil)
	if !tr.Training("t") || !tr.Child().Training("t") || tr.Eval().Training("t") || tr.Eval().Child().Mode() != torch.ModeEval {
		t.Fatal("Train/Eval/Child do not set and inherit the mode")
	}
	bn.Forward(tr, x)
	if bn.NumBatchesTracked.Item() != 1 || bn.RunningMean.Float32s()[0] == 0 {
		t.Error("training did not update the running statistics")
	}
	if st := torchtest.CompareTensors(d.Forward(tr, x), x, torchtest.Tol{Exact: true}); st.OK() {
		t.Error("training-mode dropout is the identity")
	}
}

// TestStoreToConvertsGradients: as Module.to, To converts existing gradients too, so the
// next backward accumulates in the new dtype.
func TestStoreToConvertsGradients(t *testing.T) {
	noLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	l := nn.NewLinear(st.Root(), 3, 2, nn.LinearConfig{Bias: true})
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	l.Forward(s, torch.Ones(s, torch.Float32, 4, 3)).SumAll(s).Backward() // dW = 4 everywhere
	if err := st.To(torch.CPU, torch.Float64); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{4, 8} {
		for _, p := range []*torch.Tensor{l.Weight, l.Bias} {
			g := p.Grad(s)
			if g == nil || g.DType() != torch.Float64 {
				t.Fatalf("step %d: gradient %v, want float64", i, g)
			}
			for _, v := range g.Float64s() {
				if v != want {
					t.Fatalf("step %d: gradient value %v, want %v", i, v, want)
				}
			}
		}
		if i == 0 {
			l.Forward(s, torch.Ones(s, torch.Float64, 4, 3)).SumAll(s).Backward()
		}
	}
}

// TestModeRequired: a layer whose result depends on the mode refuses a scope that neither
// Train nor Eval opened, with a *torch.Error wrapping torch.ErrNoMode that names the layer,
// instead of running in evaluation mode without a word; layers that give the same result
// in both modes (Dropout with p = 0, attention without dropout) run.
func TestModeRequired(t *testing.T) {
	noLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	bn := nn.NewBatchNorm2d(st.Root().Sub("bn"), 2)
	mha := nn.NewMultiheadAttention(st.Root().Sub("mha"), 4, 2, true)
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	x := torch.Ones(s, torch.Float32, 2, 2, 2, 2)
	seq := torch.Ones(s, torch.Float32, 1, 3, 4)
	for _, c := range []struct {
		layer string
		run   func()
	}{
		{"nn.BatchNorm2d", func() { bn.Forward(s, x) }},
		{"nn.Dropout", func() { nn.NewDropout(0.5).Forward(s, x) }},
		{"nn.MultiheadAttention", func() { mha.Dropout = 0.1; mha.Forward(s, seq) }},
	} {
		err := torch.Try(c.run)
		if !errors.Is(err, torch.ErrNoMode) || !strings.Contains(err.Error(), c.layer) {
			t.Errorf("%s in a scope without mode: %v, want ErrNoMode naming the layer", c.layer, err)
		}
	}
	if bn.NumBatchesTracked.Item() != 0 {
		t.Error("the refused BatchNorm updated its statistics")
	}
	mha.Dropout = 0
	if err := torch.Try(func() {
		nn.NewDropout(0).Forward(s, x)
		mha.Forward(s, seq)
	}); err != nil {
		t.Errorf("mode-independent layers: %v", err)
	}
}

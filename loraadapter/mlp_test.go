package loraadapter_test

import (
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// mlpGolden is written by third_party/golden/compose_ref.py (checked against PEFT 0.21).
const mlpGolden = "../testdata/lora/mlp.safetensors"

// TestInjectMLP: LoRA goes into the library's own nn.MLP by module name. With B = 0 the
// output is the base output bit for bit; with compose_ref.py's non-zero A and B it is
// PyTorch's (PEFT's) output and gradients; merging gives PyTorch's merged output, and
// unmerging gives the weights back.
func TestInjectMLP(t *testing.T) {
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	g := torchtest.Golden(t, s, mlpGolden)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	mlp := nn.NewMLP(st.Root().Sub("mlp"), nn.ReLU, []int64{5, 8, 8, 3})
	noLoRA := func(n string) (string, bool) { return n, !strings.Contains(n, ".lora_") }
	if _, err := st.Load(mlpGolden, nn.LoadOptions{Prefix: "sd.", Rename: noLoRA}); err != nil {
		t.Fatal(err)
	}
	x := torchtest.Want(t, g, "x").Clone(s)
	base := mlp.Forward(s.Eval().NoGrad(), x)
	f32 := torchtest.DefaultTol(torch.Float32)
	torchtest.AllCloseTol(t, "base", base, torchtest.Want(t, g, "out_base"), f32)

	cfg := loraadapter.Config{R: 2, Alpha: 4, Targets: []string{"layers.0", "layers.2"}}
	ads, err := loraadapter.Inject(st, mlp.LinearSlots(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ads.TrainableNames(), " "); got != "mlp.layers.0.lora_A.weight mlp.layers.0.lora_B.weight "+
		"mlp.layers.2.lora_A.weight mlp.layers.2.lora_B.weight" {
		t.Fatalf("adapters %s", got)
	}
	if _, ok := mlp.Layers[1].(*nn.Linear); !ok {
		t.Fatalf("layers.1 holds a %T, want the untouched *nn.Linear", mlp.Layers[1])
	}
	exact(t, "B = 0", mlp.Forward(s.Eval().NoGrad(), x), base)

	// The golden's adapter weights, strictly: every entry of the store, A and B included.
	rep, err := st.Load(mlpGolden, nn.LoadOptions{Prefix: "sd."})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Loaded != len(st.Entries()) {
		t.Fatalf("loaded %d of %d entries", rep.Loaded, len(st.Entries()))
	}
	ev := s.Eval()
	x.SetRequiresGrad(true)
	out := mlp.Forward(ev, x)
	torchtest.AllCloseTol(t, "out", out, torchtest.Want(t, g, "out"), f32)
	out.BackwardWith(torchtest.Want(t, g, "gout"), false)
	torchtest.AllCloseTol(t, "grad x", x.Grad(s), torchtest.Want(t, g, "grad.x"), f32)
	for _, n := range ads.TrainableNames() {
		e, _ := st.Get(n)
		torchtest.AllCloseTol(t, "grad "+n, e.Tensor.Grad(s), torchtest.Want(t, g, "grad."+n), f32)
	}
	for _, l := range ads {
		if l.Base.Weight.Grad(s) != nil {
			t.Errorf("the frozen base of %s got a gradient", l.Name)
		}
	}

	unmerged := mlp.Forward(s.Eval().NoGrad(), x.Detach(s))
	orig := map[string]*torch.Tensor{}
	for _, l := range ads {
		orig[l.Name] = l.Base.Weight.Clone(s)
	}
	if err := ads.MergeAll(); err != nil {
		t.Fatal(err)
	}
	torchtest.AllCloseTol(t, "merged", mlp.Forward(s.Eval().NoGrad(), x.Detach(s)), torchtest.Want(t, g, "merged.out"), f32)
	if err := ads.UnmergeAll(); err != nil {
		t.Fatal(err)
	}
	for _, l := range ads {
		// W + Δ − Δ in float32: equal up to rounding, not bit for bit.
		torchtest.AllCloseTol(t, l.Name+" after unmerge", l.Base.Weight, orig[l.Name], torchtest.Tol{RTol: 1e-6, ATol: 1e-6})
	}
	torchtest.AllClose(t, "unmerged again", mlp.Forward(s.Eval().NoGrad(), x.Detach(s)), unmerged, 1e-5)
}

// TestInjectSeq: an nn.Seq's Linear positions are targets by their Sequential names (a
// nested one too); injecting again names the slot that already holds an adapter.
func TestInjectSeq(t *testing.T) {
	torchtest.NoLeak(t)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	q := nn.Seq(st.Root().Sub("head"),
		nn.LinearPart(4, 8, nn.LinearConfig{Bias: true}),
		nn.Use(nn.ReLU),
		nn.SeqPart(nn.LinearPart(8, 2, nn.LinearConfig{})),
	)
	cfg := loraadapter.Config{R: 2, Alpha: 2, Targets: []string{"head.0", "2.0"}}
	ads, err := loraadapter.Inject(st, q.LinearSlots(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 2 || ads[0].Name != "head.0" || ads[1].Name != "head.2.0" {
		t.Fatalf("adapters %v", ads.TrainableNames())
	}
	if _, ok := q.Layers[0].(*loraadapter.Linear); !ok {
		t.Errorf("head.0 holds a %T", q.Layers[0])
	}
	_, err = loraadapter.Inject(st, q.LinearSlots(), cfg)
	if err == nil || !strings.Contains(err.Error(), "slot head.0 already holds a LoRA layer") {
		t.Errorf("second Inject: err = %v", err)
	}
}

package loraadapter_test

import (
	"fmt"
	"os"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
)

// decoderLayer is a model part that exposes its projections to adapters.
type decoderLayer struct{ QProj, VProj nn.Layer }

func (d *decoderLayer) LinearSlots() []nn.LinearSlot {
	return []nn.LinearSlot{
		{Name: "model.layers.0.self_attn.q_proj", Layer: &d.QProj},
		{Name: "model.layers.0.self_attn.v_proj", Layer: &d.VProj},
	}
}

func Example() {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	p := st.Root().Sub("model.layers.0.self_attn")
	layer := &decoderLayer{
		QProj: nn.NewLinear(p.Sub("q_proj"), 32, 32, nn.LinearConfig{}),
		VProj: nn.NewLinear(p.Sub("v_proj"), 32, 8, nn.LinearConfig{}),
	}

	// Rank 4, alpha 8 (scale 2) on q_proj and v_proj of the decoder layers.
	cfg := loraadapter.Config{R: 4, Alpha: 8, Dropout: 0.05,
		Targets: []string{"q_proj", "v_proj"}, Prefixes: []string{"model.layers."}}
	ads, err := loraadapter.Inject(st, layer.LinearSlots(), cfg)
	if err != nil {
		panic(err)
	}
	fmt.Println("trainable:", st.TrainableNames())
	fmt.Println("trainable elements:", st.NumParams(true))
	_, isLoRA := layer.QProj.(*loraadapter.Linear)
	fmt.Println("q_proj is a LoRA layer:", isLoRA)

	// ... train st.Trainable() ..., then write a PEFT adapter directory.
	dir, _ := os.MkdirTemp("", "adapter")
	defer os.RemoveAll(dir)
	if err := loraadapter.Save(dir, ads, cfg, "microsoft/llava-med-v1.5-mistral-7b"); err != nil {
		panic(err)
	}

	// Another copy of the model reads it back; Merge folds it into the weights.
	st2 := nn.NewStore(torch.CPU)
	defer st2.Close()
	p2 := st2.Root().Sub("model.layers.0.self_attn")
	layer2 := &decoderLayer{
		QProj: nn.NewLinear(p2.Sub("q_proj"), 32, 32, nn.LinearConfig{}),
		VProj: nn.NewLinear(p2.Sub("v_proj"), 32, 8, nn.LinearConfig{}),
	}
	cfg2, ads2, err := loraadapter.Load(dir, st2, layer2.LinearSlots())
	if err != nil {
		panic(err)
	}
	fmt.Printf("loaded r=%d alpha=%v targets=%v: %d adapters\n", cfg2.R, cfg2.Alpha, cfg2.Targets, len(ads2))
	if err := ads2.MergeAll(); err != nil {
		panic(err)
	}
	fmt.Println("merged:", ads2[0].Merged())
	// Output:
	// trainable: [model.layers.0.self_attn.q_proj.lora_A.weight model.layers.0.self_attn.q_proj.lora_B.weight model.layers.0.self_attn.v_proj.lora_A.weight model.layers.0.self_attn.v_proj.lora_B.weight]
	// trainable elements: 416
	// q_proj is a LoRA layer: true
	// loaded r=4 alpha=8 targets=[q_proj v_proj]: 2 adapters
	// merged: true
}

// The library's nn.MLP lists its layers as slots, so LoRA targets them by module name.
func ExampleInject_mlp() {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	mlp := nn.NewMLP(st.Root().Sub("mlp"), nn.ReLU, []int64{16, 32, 4})
	ads, err := loraadapter.Inject(st, mlp.LinearSlots(), loraadapter.Config{R: 2, Alpha: 4, Targets: []string{"layers.0"}})
	if err != nil {
		panic(err)
	}
	_, isLoRA := mlp.Layers[0].(*loraadapter.Linear)
	fmt.Println(ads.TrainableNames(), isLoRA)
	// Output: [mlp.layers.0.lora_A.weight mlp.layers.0.lora_B.weight] true
}

// Fine-tune a tiny Mistral with LoRA on one sequence and save a PEFT adapter directory,
// which loads back into a fresh copy of the base model.
func Example_fineTuneMistral() {
	seq := []int64{1, 5, 6, 7, 8, 9, 10, 2}
	newBase := func(st *nn.Store) *mistral.Model {
		if err := torch.ManualSeed(1); err != nil {
			panic(err)
		}
		m, err := mistral.New(st.Root(), mistral.Tiny(16))
		if err != nil {
			panic(err)
		}
		return m
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	m := newBase(st)
	cfg := loraadapter.Config{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj"}}
	ads, err := loraadapter.Inject(st, m.LinearSlots(), cfg)
	if err != nil {
		panic(err)
	}
	loraadapter.OnlyLoRATrainable(st)
	opt := torch.NewAdamW([]*torch.ParamGroup{{Params: ads.Params()}}, torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	defer opt.Close()
	for step := 0; step < 5; step++ {
		s := torch.NewScope(torch.CPU)
		ts := s.Train(nil) // LoRA dropout (0 here) in training mode
		ids := torch.FromSlice(ts, seq, 1, int64(len(seq)))
		loss := losses.NextTokenCE(ts, m.Forward(ts, mistral.Input{IDs: ids}).Logits, ids)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		s.Close()
	}
	dir, _ := os.MkdirTemp("", "adapter")
	defer os.RemoveAll(dir)
	if err := loraadapter.Save(dir, ads, cfg, "tiny-mistral"); err != nil {
		panic(err)
	}

	st2 := nn.NewStore(torch.CPU)
	defer st2.Close()
	m2 := newBase(st2)
	_, ads2, err := loraadapter.Load(dir, st2, m2.LinearSlots())
	if err != nil {
		panic(err)
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	ids := torch.FromSlice(s, seq, 1, int64(len(seq)))
	a := m.Forward(s.Eval(), mistral.Input{IDs: ids}).Logits
	b := m2.Forward(s.Eval(), mistral.Input{IDs: ids}).Logits
	fmt.Println(len(ads2), "adapters; same outputs:", a.Sub(s, b).Abs(s).MaxAll(s).Item() == 0)
	// Output: 4 adapters; same outputs: true
}

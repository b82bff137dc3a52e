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

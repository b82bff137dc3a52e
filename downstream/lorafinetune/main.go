// Command lorafinetune fine-tunes a tiny Mistral with LoRA and saves a PEFT adapter.
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
)

var sequence = []int64{1, 5, 6, 7, 8, 9, 10, 11, 12, 2} // the toy task (vocabulary 32)

// newBase builds the base model, drawn after torch.ManualSeed(seed): same seed, same model.
func newBase(st *nn.Store, seed uint64) (*mistral.Model, error) {
	if err := torch.ManualSeed(seed); err != nil {
		return nil, err
	}
	return mistral.New(st.Root(), mistral.Tiny(32))
}

// finetune trains LoRA adapters on the q/v projections for steps steps, saves them to dir
// and returns the loss of each step and the tuned model's logits on the sequence.
func finetune(dir string, steps int, seed uint64) (curve []float64, logits []float32, err error) {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	m, err := newBase(st, seed)
	if err != nil {
		return nil, nil, err
	}
	cfg := loraadapter.Config{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj"}}
	ads, err := loraadapter.Inject(st, m.LinearSlots(), cfg)
	if err != nil {
		return nil, nil, err
	}
	loraadapter.OnlyLoRATrainable(st)
	opt := torch.NewAdamW([]*torch.ParamGroup{{Params: ads.Params()}}, torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	defer opt.Close()
	err = torch.Try(func() {
		for i := 0; i < steps; i++ {
			s := torch.NewScope(torch.CPU)
			ts := s.Train(nil) // LoRA dropout (none here) in training mode
			ids := torch.FromSlice(ts, sequence, 1, int64(len(sequence)))
			loss := losses.NextTokenCE(ts, m.Forward(ts, mistral.Input{IDs: ids}).Logits, ids)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
			curve = append(curve, loss.Item())
			s.Close()
		}
		logits = Logits(m)
	})
	if err == nil {
		err = loraadapter.Save(dir, ads, cfg, "tiny-mistral") // PEFT's layout
	}
	return curve, logits, err
}

// Logits runs m on the sequence in evaluation mode (no LoRA dropout).
func Logits(m *mistral.Model) []float32 {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	return m.Forward(s.Eval(), mistral.Input{IDs: torch.FromSlice(s, sequence, 1, int64(len(sequence)))}).Logits.Float32s()
}

func main() {
	out := flag.String("out", "adapter", "adapter directory to write")
	steps := flag.Int("steps", 30, "training steps")
	flag.Parse()
	curve, _, err := finetune(*out, *steps, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loss %.4f → %.4f; adapter in %s\n", curve[0], curve[len(curve)-1], *out)
}

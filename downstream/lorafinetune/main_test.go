package main

import (
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// The loss falls; the saved PEFT adapter, loaded into a fresh base model, gives it the
// fine-tuned model's outputs bit for bit, and they differ from the base model's.
func TestFinetuneSavesAdapter(t *testing.T) {
	dir := t.TempDir()
	curve, tuned, err := finetune(dir, 15, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4f → %.4f", curve[0], curve[len(curve)-1])
	if last := curve[len(curve)-1]; !(last < 0.7*curve[0]) {
		t.Errorf("loss went from %.4f to %.4f, want a drop of 30%% or more", curve[0], last)
	}

	st := nn.NewStore(torch.CPU)
	defer st.Close()
	m, err := newBase(st, 3)
	if err != nil {
		t.Fatal(err)
	}
	base := Logits(m)
	cfg, ads, err := loraadapter.Load(dir, st, m.LinearSlots())
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 4 || cfg.R != 4 {
		t.Fatalf("loaded %d adapters of rank %d, want 4 of rank 4", len(ads), cfg.R)
	}
	if got := Logits(m); !slices.Equal(got, tuned) {
		t.Error("the reloaded adapter does not reproduce the fine-tuned outputs")
	}
	if slices.Equal(base, tuned) {
		t.Error("the fine-tuned outputs are the base model's")
	}
}

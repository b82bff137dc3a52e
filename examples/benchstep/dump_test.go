package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// -dump writes what paper_step.py --from needs: the config, every weight as it was before
// the first step (a fresh model of that config loads them strictly), the batch, and the loss
// of every step, the last being the one reported.
func TestDumpWritesTheFirstStep(t *testing.T) {
	dir := t.TempDir()
	o := tinyOptions()
	o.warmup, o.steps, o.dump, o.loraDrop, o.lr = 0, 3, dir, 0, 1e-3
	res := runOne(t, o)
	var g struct {
		Losses    []float64 `json:"losses"`
		Trainable int64     `json:"trainable"`
	}
	b, err := os.ReadFile(filepath.Join(dir, dumpResult))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Losses) != 3 || g.Losses[2] != res.Loss || g.Trainable != res.Trainable || g.Losses[0] == g.Losses[2] {
		t.Errorf("go.json: losses %v trainable %d; the run reported loss %v trainable %d", g.Losses, g.Trainable, res.Loss, res.Trainable)
	}
	if !strings.Contains(res.LoRA, "dropout0 ") {
		t.Errorf("-lora-dropout 0 not applied: %s", res.LoRA)
	}

	// The dumped weights are the first step's: the model they load into, run on the dumped
	// batch, gives the first loss.
	cfg, err := prsmed.LoadConfig(filepath.Join(dir, dumpConfig))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	m, err := prsmed.New(cfg, tok, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Store.Load(filepath.Join(dir, dumpWeights), nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	m.SetStage(prsmed.Stage2)
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	batch := torchtest.Golden(t, s, filepath.Join(dir, dumpBatch))
	samples, err := paddedSamples(m, cfg, o.batch, 0)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := torch.NewGenerator(1, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	out, err := m.Forward(s.Train(gen), prsmed.Inputs{SAM: batch["sam"], CLIP: batch["clip"], Samples: samples, Masks: batch["masks"]})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Loss.Total.Item(); got != g.Losses[0] {
		t.Errorf("loss from the dump %v, the first step's %v", got, g.Losses[0])
	}
	if n := batch["answer_len"].Int64s()[0]; n <= 0 || batch["pre_ids"].Size(0) != int64(o.batch) {
		t.Errorf("batch: answer %d, pre_ids %v", n, batch["pre_ids"].Shape())
	}

	o.warmup = 1
	if _, err := runAll(o); err == nil || !strings.Contains(err.Error(), "-dump needs -warmup 0") {
		t.Errorf("-dump with a warm-up step: %v", err)
	}
}

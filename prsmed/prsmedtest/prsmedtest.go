// Package prsmedtest holds what tests of several packages need to build PRS-Med models.
package prsmedtest

import (
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/data/synth"
	"github.com/prsmed/prsmed-go/torch"
)

// TinyModel builds the tiny preset on the CPU with the template tokenizer, its parameters
// drawn after torch.ManualSeed(seed); it is closed when the test ends (closing it earlier
// is harmless).
func TinyModel(t testing.TB, seed uint64) *prsmed.Model {
	t.Helper()
	return TinyModelWith(t, seed, nil)
}

// TinyModelWith is TinyModel with the preset's configuration changed by edit first (nil:
// unchanged).
func TinyModelWith(t testing.TB, seed uint64, edit func(*prsmed.Config)) *prsmed.Model {
	t.Helper()
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	if err := torch.ManualSeed(seed); err != nil {
		t.Fatal(err)
	}
	cfg := prsmed.Tiny(int64(tok.VocabSize()))
	if edit != nil {
		edit(&cfg)
	}
	m, err := prsmed.New(cfg, tok, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// TinyBundle saves TinyModel(t, seed) as a self-contained checkpoint (template tokenizer,
// no base weights) in a fresh temporary folder and returns the folder.
func TinyBundle(t testing.TB, seed uint64) string {
	t.Helper()
	m := TinyModel(t, seed)
	defer m.Close()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := prsmed.SaveBundle(m, dir, assets.TemplateModel(), prsmed.BaseWeights{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SynthSet writes a synthetic PosMed root of 64×64 images (synth.Generate, n per modality
// and seed) in a fresh temporary folder and opens it.
func SynthSet(t testing.TB, n int, seed uint64) *data.Dataset {
	t.Helper()
	root := filepath.Join(t.TempDir(), "posmed")
	if err := synth.Generate(root, synth.Config{N: n, Size: 64, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	ds, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

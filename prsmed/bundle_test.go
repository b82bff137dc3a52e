package prsmed_test

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/torch"
)

// testImage is a 40×30 gradient with a bright square.
func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			v := uint8(3*x + 2*y)
			if x > 5 && x < 15 && y > 4 && y < 12 {
				v = 250
			}
			img.SetRGBA(x, y, color.RGBA{v, v / 2, 255 - v, 255})
		}
	}
	return img
}

func predictOne(t *testing.T, m *prsmed.Model) *prsmed.Prediction {
	t.Helper()
	p, err := m.Predict(context.Background(), testImage(), "Where is the tumour in this image?")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFile writes b to a new file in a temporary folder.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBundleRoundTrip(t *testing.T) {
	m := prsmedtest.TinyModel(t, 11)
	defer m.Close()
	want := predictOne(t, m)
	// A stand-in for TinySAM: the encoder's own weights in a file of their own.
	base := filepath.Join(t.TempDir(), "tinysam.safetensors")
	if err := m.Store.Save(base, func(e *nn.Entry) bool { return strings.HasPrefix(e.Name, "image_encoder.") }, nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := prsmed.SaveBundle(m, dir, assets.TemplateModel(), prsmed.BaseWeights{TinySAM: base}); err != nil {
		t.Fatal(err)
	}
	mf, err := prsmed.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Preset != "tiny" || mf.Tokenizer.Pieces != 800 || len(mf.Tokenizer.SHA256) != 64 || mf.TinySAM == nil || mf.LLaVAMed != nil ||
		!strings.HasPrefix(mf.TinySAM.Fingerprint, "sha256:") || len(mf.Files) != 2 {
		raw, _ := json.Marshal(mf)
		t.Fatalf("manifest %s", raw)
	}
	tokBytes, err := os.ReadFile(filepath.Join(dir, prsmed.TokenizerFile))
	if err != nil || string(tokBytes) != string(assets.TemplateModel()) {
		t.Fatalf("bundled tokenizer differs from the template tokenizer (%v)", err)
	}

	check := func(name string, opt prsmed.BundleOptions) {
		t.Helper()
		got, gmf, err := prsmed.LoadBundle(dir, torch.CPU, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer got.Close()
		if gmf == nil || gmf.Tokenizer.SHA256 != mf.Tokenizer.SHA256 {
			t.Fatalf("%s: manifest %+v", name, gmf)
		}
		p := predictOne(t, got)
		if p.Answer != want.Answer {
			t.Errorf("%s: answer %q, want %q", name, p.Answer, want.Answer)
		}
		for i := range want.Prob {
			if d := p.Prob[i] - want.Prob[i]; d > 1e-6 || d < -1e-6 {
				t.Fatalf("%s: probability %d is %v, want %v", name, i, p.Prob[i], want.Prob[i])
			}
		}
	}
	check("defaults", prsmed.BundleOptions{})
	check("same tokenizer and base given", prsmed.BundleOptions{Tokenizer: writeFile(t, "tok.model", assets.TemplateModel()), TinySAM: base})
}

func TestBundleRefusesMismatches(t *testing.T) {
	m := prsmedtest.TinyModel(t, 12)
	defer m.Close()
	base := writeFile(t, "tinysam.pth", []byte("pretend TinySAM weights"))
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := prsmed.SaveBundle(m, dir, assets.TemplateModel(), prsmed.BaseWeights{TinySAM: base}); err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile("../testdata/tokenizer/test.model")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  prsmed.BundleOptions
		want string
	}{
		{"other tokenizer", prsmed.BundleOptions{Tokenizer: writeFile(t, "test.model", other)}, "is not the one this checkpoint was trained with"},
		{"other TinySAM", prsmed.BundleOptions{TinySAM: writeFile(t, "other.pth", []byte("other weights"))}, "are not the ones this checkpoint was trained from"},
		{"LLaVA-Med not recorded", prsmed.BundleOptions{LLaVAMed: t.TempDir()}, "was not trained from LLaVA-Med weights"},
	}
	for _, tt := range tests {
		_, _, err := prsmed.LoadBundle(dir, torch.CPU, tt.opt)
		if !errors.Is(err, prsmed.ErrMismatch) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want ErrMismatch saying %q", tt.name, err, tt.want)
		}
	}

	// A damaged bundled tokenizer and a changed weights file are refused too.
	tokPath := filepath.Join(dir, prsmed.TokenizerFile)
	good, _ := os.ReadFile(tokPath)
	if err := os.WriteFile(tokPath, other, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := prsmed.LoadBundle(dir, torch.CPU, prsmed.BundleOptions{}); !errors.Is(err, prsmed.ErrMismatch) {
		t.Errorf("replaced bundled tokenizer: got %v, want ErrMismatch", err)
	}
	os.WriteFile(tokPath, good, 0o644)
	w := filepath.Join(dir, "model.safetensors")
	raw, _ := os.ReadFile(w)
	raw[len(raw)-1] ^= 1
	os.WriteFile(w, raw, 0o644)
	if _, _, err := prsmed.LoadBundle(dir, torch.CPU, prsmed.BundleOptions{}); !errors.Is(err, prsmed.ErrMismatch) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("damaged weights: got %v, want ErrMismatch naming model.safetensors", err)
	}
}

// TestLegacyCheckpoint: a checkpoint written without a manifest still loads (with the
// template tokenizer for the tiny preset), and a tokenizer of another size is refused.
func TestLegacyCheckpoint(t *testing.T) {
	m := prsmedtest.TinyModel(t, 13)
	defer m.Close()
	want := predictOne(t, m)
	dir := t.TempDir()
	if err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	got, mf, err := prsmed.LoadBundle(dir, torch.CPU, prsmed.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if mf != nil {
		t.Errorf("manifest %+v for a legacy checkpoint", mf)
	}
	if p := predictOne(t, got); p.Answer != want.Answer || p.Prob[100] != want.Prob[100] {
		t.Errorf("legacy load predicts %q/%v, want %q/%v", p.Answer, p.Prob[100], want.Answer, want.Prob[100])
	}
	_, _, err = prsmed.LoadBundle(dir, torch.CPU, prsmed.BundleOptions{Tokenizer: "../testdata/tokenizer/test.model"})
	if !errors.Is(err, prsmed.ErrMismatch) {
		t.Errorf("legacy checkpoint with a different tokenizer: got %v, want ErrMismatch", err)
	}
}

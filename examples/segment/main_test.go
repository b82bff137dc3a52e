package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/internal/gocmd"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/torch"
)

// tinyCheckpoint saves an untrained tiny model: enough to check that the program's inputs
// reach the model the same way, whatever their file format.
func tinyCheckpoint(t *testing.T) string {
	t.Helper()
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	if err := torch.ManualSeed(21); err != nil {
		t.Fatal(err)
	}
	m, err := prsmed.New(prsmed.Tiny(int64(tok.VocabSize())), tok, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := filepath.Join(t.TempDir(), "checkpoint")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDICOMGivesThePNGMask: a synthetic CT slice stored as DICOM (written by
// third_party/golden/medical_ref.py) and segmented with the lung window gives exactly the
// mask of the same slice given as the PNG that pydicom's windowing made; the output names
// the DICOM's SOP Instance UID. Bad inputs end with one line and a non-zero exit.
func TestDICOMGivesThePNGMask(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	bin := gocmd.BuildTest(t, ".")
	ckpt := tinyCheckpoint(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"-checkpoint", ckpt, "-threads", "1"}, args...)...).CombinedOutput()
		return string(out), err
	}
	medical := filepath.Join("..", "..", "testdata", "medical")
	out, err := run("-image", filepath.Join(medical, "ct_roundtrip.dcm"), "-window", "lung", "-out", filepath.Join(dir, "dcm.png"))
	if err != nil {
		t.Fatalf("DICOM: %v\n%s", err, out)
	}
	if !strings.Contains(out, "SOP Instance UID") {
		t.Errorf("the output does not name the DICOM's SOP Instance UID:\n%s", out)
	}
	if out, err := run("-image", filepath.Join(medical, "ct_roundtrip_lung.png"), "-out", filepath.Join(dir, "png.png")); err != nil {
		t.Fatalf("PNG: %v\n%s", err, out)
	}
	a, err := os.ReadFile(filepath.Join(dir, "dcm.png"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "png.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the DICOM's mask differs from the PNG's")
	}
	for _, args := range [][]string{
		{"-image", filepath.Join(medical, "ct_roundtrip.dcm")},                                                             // no -out
		{"-image", filepath.Join(medical, "ct_roundtrip.dcm"), "-window", "nowindow", "-out", filepath.Join(dir, "x.png")}, // bad window
		{"-image", filepath.Join(dir, "missing.dcm"), "-out", filepath.Join(dir, "y.png")},                                 // no such file
	} {
		out, err := run(args...)
		if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.HasPrefix(out, "segment: ") {
			t.Errorf("%v: err %v, want one line starting with segment:, got %q", args, err, out)
		}
	}
}

// TestSegmentChecksTheBundle: segment opens checkpoints as predict and serve do
// (prsmed.LoadBundle): a bundle whose weights changed after it was written is refused with
// ErrMismatch, and a tokenizer other than the bundled one too.
func TestSegmentChecksTheBundle(t *testing.T) {
	dir := prsmedtest.TinyBundle(t, 1)
	medical := filepath.Join("..", "..", "testdata", "medical")
	segment := func(tokPath string) error {
		opts := imageio.Options{}
		return run(context.Background(), dir, filepath.Join(medical, "ct_roundtrip_lung.png"), opts, "Where?",
			filepath.Join(t.TempDir(), "mask.png"), "", tokPath, "", "", torch.CPU)
	}
	if err := segment(""); err != nil {
		t.Fatalf("intact bundle: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other.model")
	if err := os.WriteFile(other, append(assets.TemplateModel(), 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := segment(other); !errors.Is(err, prsmed.ErrMismatch) {
		t.Errorf("another tokenizer: %v, want ErrMismatch", err)
	}
	// Change one byte of the last tensor's data: still a valid safetensors file.
	weights := filepath.Join(dir, "model.safetensors")
	raw, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 0x01
	if err := os.WriteFile(weights, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := segment(""); !errors.Is(err, prsmed.ErrMismatch) {
		t.Errorf("changed weights: %v, want ErrMismatch", err)
	}
}

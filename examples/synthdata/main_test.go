package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/examples/internal/clitest"
)

// runTool runs the command with args and returns its exit code, stdout and stderr.
func runTool(args ...string) (int, string, string) { return clitest.Run(run, args...) }

func TestHelp(t *testing.T) {
	code, out, errs := runTool("-h")
	if code != 0 || !strings.Contains(errs, "Usage: synthdata -out DIR") || !strings.Contains(errs, "-size") || out != "" {
		t.Errorf("-h: code %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"-bogus"},
		{"-out", dir, "extra"},
		{"-out", dir, "-n", "0"},
		{"-out", dir, "-size", "8"},
		{"-out", dir, "-seed", "-1"},
		{"-out", dir, "-findings", "1"},
		{"-out", dir, "-findings", "5"},
	} {
		code, out, errs := runTool(args...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, "synthdata: ") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: code %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

func TestGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "posmed")
	code, out, errs := runTool("-out", dir, "-n", "5", "-size", "32", "-seed", "3", "-modalities", "lung_CT, skin_rgbimage")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	for _, want := range []string{"lung_CT", "wrote 10 samples", "skin_rgbimage"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// Progress goes to stderr, never into the summary on stdout.
	if !strings.Contains(errs, "lung_CT") || !strings.Contains(errs, "5/5") || strings.Contains(out, "5/5") {
		t.Errorf("progress: stdout %q, stderr %q", out, errs)
	}
	for _, f := range []string{"lung_CT.csv", "skin_rgbimage.csv", "lung_CT/train_masks", "skin_rgbimage/test_images"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// A second run into the same folder needs -force.
	code, _, errs = runTool("-out", dir, "-n", "5", "-size", "32")
	if code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("non-empty folder: code %d, stderr %q", code, errs)
	}
	code, _, errs = runTool("-out", dir, "-n", "5", "-size", "32", "-seed", "3", "-modalities", "lung_CT", "-force", "-quiet")
	if code != 0 {
		t.Errorf("-force: code %d, stderr %q", code, errs)
	}
	// -findings: -n counts images, each giving 2 or 3 rows.
	code, out, errs = runTool("-out", filepath.Join(t.TempDir(), "multi"), "-n", "4", "-size", "64", "-findings", "3", "-modalities", "lung_CT", "-quiet")
	if code != 0 || strings.Contains(out, "wrote 4 samples") || !strings.Contains(out, "lung_CT") {
		t.Errorf("-findings 3: code %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = runTool("-out", t.TempDir(), "-modalities", "dental_xray")
	if code != 1 || !strings.Contains(errs, "unknown modality") {
		t.Errorf("bad modality: code %d, stderr %q", code, errs)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/internal/gocmd"
	"github.com/prsmed/prsmed-go/prsmed/data/synth"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// programAndData skips in -short mode, and with gloo when this build has no Gloo backend;
// it builds the training program and writes a synthetic PosMed set of n samples (seed 9),
// and returns the program's path and the set's root.
func programAndData(t *testing.T, n int, gloo bool) (bin, root string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the training program")
	}
	if gloo && !dist.Gloo.Available() {
		t.Skip("this build has no Gloo backend")
	}
	bin = gocmd.BuildTest(t, ".")
	root = filepath.Join(t.TempDir(), "posmed")
	if err := synth.Generate(root, synth.Config{N: n, Size: 64, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	return bin, root
}

// awaitCheckpoint waits until the checkpoint in dir records a finished epoch; after limit
// (which only stops a broken build from hanging the suite) it fails the test with log().
func awaitCheckpoint(t *testing.T, dir string, limit time.Duration, log func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for trainerEpoch(t, dir) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after %v:\n%s", limit, log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func trainerEpoch(t *testing.T, dir string) int {
	raw, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		return -1
	}
	var st struct{ Epoch int }
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("corrupt trainer.json: %v", err)
	}
	return st.Epoch
}

// TestKillAndResume: SIGKILL in the middle of training leaves a complete checkpoint (the
// last finished epoch at most one behind), which loads, and -resume finishes the run.
func TestKillAndResume(t *testing.T) {
	bin, root := programAndData(t, 15, false)
	out := t.TempDir()
	args := []string{"-data", root, "-out", out, "-epochs0", "0", "-workers", "2", "-epochs1", "1", "-epochs2", "4", "-batch", "4", "-lr", "1e-3", "-val-samples", "4"}
	var log bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ckpt := filepath.Join(out, "checkpoint")
	// Kill as soon as the first epoch's checkpoint exists: the run is then in the middle
	// of its second epoch of five, however fast or loaded the machine is.
	awaitCheckpoint(t, ckpt, 10*time.Minute, log.String)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// The checkpoint on disk is whole: it (or, if the kill hit the swap, checkpoint.old)
	// loads strictly.
	dir := ckpt
	if trainerEpoch(t, dir) < 0 {
		dir = ckpt + ".old"
	}
	done := trainerEpoch(t, dir)
	if done < 1 {
		t.Fatalf("checkpoint records epoch %d", done)
	}
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	m, err := prsmed.Load(dir, tok, "", "", torch.CPU)
	if err != nil {
		t.Fatalf("the checkpoint left by SIGKILL does not load: %v", err)
	}
	m.Close()

	res, err := exec.Command(bin, append(args, "-resume")...).CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, res)
	}
	if !strings.Contains(string(res), "resumed at epoch") {
		t.Fatalf("the resumed run did not report resuming:\n%s", res)
	}
	if got := trainerEpoch(t, ckpt); got != 5 {
		t.Fatalf("after resuming, the checkpoint records epoch %d, want 5 (all epochs done)", got)
	}
}

func TestUsageErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the training program")
	}
	bin := gocmd.BuildTest(t, ".")
	for _, args := range [][]string{{}, {"-data", "x"}, {"-data", "/nonexistent", "-out", t.TempDir()}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			t.Errorf("%v succeeded", args)
			continue
		}
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines > 0 || !strings.HasPrefix(string(out), "train:") {
			t.Errorf("%v: want one line starting with train:, got %q", args, out)
		}
	}
}

// TestResumeRefusesATruncatedOptimizer: -resume from a checkpoint whose optimizer state is
// truncated (100 bytes) exits non-zero naming the file, instead of continuing with a fresh
// optimizer as if the resume were exact.
func TestResumeRefusesATruncatedOptimizer(t *testing.T) {
	bin, root := programAndData(t, 4, false)
	out := t.TempDir()
	args := []string{"-data", root, "-out", out, "-epochs0", "0", "-workers", "1", "-epochs1", "1", "-epochs2", "1", "-batch", "4", "-val-samples", "1"}
	if res, err := exec.Command(bin, append(args, "-epochs2", "0")...).CombinedOutput(); err != nil {
		t.Fatalf("training: %v\n%s", err, res)
	}
	if err := os.Truncate(filepath.Join(out, "checkpoint", "optimizer.safetensors"), 100); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(bin, append(args, "-resume")...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("-resume with a truncated optimizer state: %v, want exit status 1\n%s", err, res)
	}
	if !strings.Contains(string(res), "optimizer.safetensors") {
		t.Fatalf("the error does not name optimizer.safetensors:\n%s", res)
	}
}

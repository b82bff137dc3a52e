package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNprocTrains: -nproc 2 trains on the CPU through Gloo; rank 0 writes the checkpoint,
// which records world size 2, and one process resumes it with its global batch.
func TestNprocTrains(t *testing.T) {
	bin, root := programAndData(t, 4, true)
	out := t.TempDir()
	args := []string{"-data", root, "-out", out, "-epochs0", "0", "-workers", "1", "-epochs1", "1", "-epochs2", "0", "-batch", "2", "-val-samples", "2", "-dist-timeout", "2m"}
	res, err := exec.Command(bin, append(args, "-nproc", "2")...).CombinedOutput()
	if err != nil {
		t.Fatalf("-nproc 2: %v\n%s", err, res)
	}
	if !strings.Contains(string(res), "data-parallel over 2 processes (gloo)") {
		t.Errorf("no data-parallel line in the output:\n%s", res)
	}
	raw, err := os.ReadFile(filepath.Join(out, "checkpoint", "trainer.json"))
	if err != nil || !strings.Contains(string(raw), `"world_size": 2`) {
		t.Fatalf("trainer.json (%v) does not record world_size 2", err)
	}
	// Another world size resumes with the checkpoint's global batch (2 × 2) when it can
	// split it, and is refused, naming the global batch, when it cannot (1 × 3 micro-batches).
	res, err = exec.Command(bin, append(args, "-resume", "-accum", "3")...).CombinedOutput()
	if err == nil || !strings.Contains(string(res), "global batch of 4") {
		t.Fatalf("one process split a global batch of 4 into 3 micro-batches (%v):\n%s", err, res)
	}
	if res, err = exec.Command(bin, append(args, "-resume")...).CombinedOutput(); err != nil {
		t.Fatalf("one process could not resume a two-process checkpoint: %v\n%s", err, res)
	}
}

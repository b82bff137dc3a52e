package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWithoutNproc(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"-nproc", "2", "-data", "d"}, []string{"-data", "d"}},
		{[]string{"-data", "d", "--nproc=3", "-resume"}, []string{"-data", "d", "-resume"}},
		{[]string{"-batch", "4"}, []string{"-batch", "4"}},
		{[]string{"-nproc=2"}, nil},
	} {
		if got := withoutNproc(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("withoutNproc(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestLaunchStopsAllWhenOneFails: rank 1 exits with 3 at once while rank 0 would sleep a
// minute; the launcher stops rank 0 and returns 3 within seconds, and every worker saw
// torchrun's variables.
func TestLaunchStopsAllWhenOneFails(t *testing.T) {
	dir := t.TempDir()
	// Rank 1 fails only once rank 0 has recorded its variables (waiting at most ~10 s), so
	// the launcher's stopping rank 0 cannot race rank 0's first line.
	script := `echo "$RANK $LOCAL_RANK $WORLD_SIZE $MASTER_ADDR $MASTER_PORT" > "$0/rank$RANK"; if [ "$RANK" = 1 ]; then i=0; while [ ! -s "$0/rank0" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; exit 3; fi; exec sleep 60`
	start := time.Now()
	code, err := launch("/bin/sh", []string{"-c", script, dir}, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("the launcher took %v to stop the workers", el)
	}
	if code != 3 {
		t.Fatalf("exit code %d, want 3 (the failed worker's)", code)
	}
	for r, want := range []string{"0 0 2 127.0.0.1 ", "1 1 2 127.0.0.1 "} {
		raw, err := os.ReadFile(filepath.Join(dir, "rank"+string(rune('0'+r))))
		if err != nil || !strings.HasPrefix(string(raw), want) {
			t.Errorf("rank %d saw %q (%v), want prefix %q", r, raw, err, want)
		}
	}
}

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

// TestLaunchForwardsInterrupt: SIGINT to the launcher reaches every worker (each traps it
// and exits with 7), and the launcher returns the workers' code.
func TestLaunchForwardsInterrupt(t *testing.T) {
	dir := t.TempDir()
	script := `trap 'kill $p; echo int > "$0/int$RANK"; exit 7' INT; sleep 60 & p=$!; touch "$0/up$RANK"; wait`
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, err := launch("/bin/sh", []string{"-c", script, dir}, 2, 5*time.Second)
		res <- result{code, err}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, e0 := os.Stat(filepath.Join(dir, "up0"))
		_, e1 := os.Stat(filepath.Join(dir, "up1"))
		if e0 == nil && e1 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workers did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.err != nil || r.code != 7 {
			t.Fatalf("launch returned %d, %v; want 7", r.code, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the launcher did not return after SIGINT")
	}
	for _, r := range []string{"0", "1"} {
		if _, err := os.Stat(filepath.Join(dir, "int"+r)); err != nil {
			t.Errorf("worker %s did not get SIGINT", r)
		}
	}
}

package cli

import (
	"os"
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
		if got := WithoutNproc(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("WithoutNproc(%q) = %q, want %q", c.in, got, c.want)
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
	code, err := Launch("train", "/bin/sh", []string{"-c", script, dir}, 2, 5*time.Second)
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
		code, err := Launch("train", "/bin/sh", []string{"-c", script, dir}, 2, 5*time.Second)
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

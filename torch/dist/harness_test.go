package dist_test

// The multi-process tests re-run this test binary as worker processes: the parent sets
// DIST_TEST_WORKER to a scenario's name plus the torchrun variables, and TestMain runs that
// scenario instead of the tests. Every worker prints one JSON line (its result or error) on
// stdout; every wait is bounded, and a worker still running at the deadline is killed.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
	"github.com/prsmed/prsmed-go/torch/dist/disttest"
)

const workerVar = "DIST_TEST_WORKER"

// workerOut is what a worker prints.
type workerOut struct {
	Result    json.RawMessage `json:"result,omitempty"`
	Err       string          `json:"err,omitempty"`
	Kinds     []string        `json:"kinds,omitempty"`
	Peers     []int           `json:"peers,omitempty"`
	ElapsedMS int64           `json:"elapsed_ms"`
}

// workerRun is one worker's outcome as the parent sees it.
type workerRun struct {
	Rank     int
	Out      workerOut
	Stderr   string
	Signaled bool // killed by a signal
	ExitCode int
}

var workers = map[string]func(env dist.Env) (any, error){}

func TestMain(m *testing.M) {
	if name := os.Getenv(workerVar); name != "" {
		os.Exit(workerMain(name))
	}
	os.Exit(m.Run())
}

func workerMain(name string) int {
	torch.SetNumThreads(1)
	f, ok := workers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown worker %q\n", name)
		return 3
	}
	env, err := dist.FromEnv()
	start := time.Now()
	var res any
	if err == nil {
		res, err = f(env)
	}
	out := workerOut{ElapsedMS: time.Since(start).Milliseconds()}
	if err != nil {
		out.Err = err.Error()
		out.Kinds = kindsOf(err)
		var de *dist.Error
		if errors.As(err, &de) {
			out.Peers = de.Peers
		}
	}
	if res != nil {
		b, merr := json.Marshal(res)
		if merr != nil {
			fmt.Fprintln(os.Stderr, merr)
			return 4
		}
		out.Result = b
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}

func kindsOf(err error) []string {
	var ks []string
	for _, k := range []struct {
		name string
		err  error
	}{{"timeout", dist.ErrTimeout}, {"peer", dist.ErrPeer}, {"mismatch", dist.ErrMismatch},
		{"config", dist.ErrConfig}, {"port_busy", dist.ErrPortBusy}, {"unavailable", dist.ErrUnavailable}} {
		if errors.Is(err, k.err) {
			ks = append(ks, k.name)
		}
	}
	return ks
}

func has(ks []string, k string) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// needGloo skips the test when this build has no Gloo backend (the shim was compiled
// without Gloo's headers; on Debian: apt-get install libgloo-dev, then rebuild).
func needGloo(t testing.TB) {
	t.Helper()
	if !dist.Gloo.Available() {
		t.Skip("this build has no Gloo backend: install Gloo's headers (Debian: libgloo-dev) and rebuild")
	}
}

// spawn starts world workers of the scenario (envOf may change a rank's variables) and
// waits for all of them, killing any still running after limit.
func spawn(t testing.TB, scenario string, world int, limit time.Duration, envOf func(rank int, env []string) []string) []workerRun {
	t.Helper()
	needGloo(t)
	port := disttest.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
	}
	ps := make([]*proc, world)
	for r := 0; r < world; r++ {
		p := &proc{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^$")}
		env := append(os.Environ(), workerVar+"="+scenario, "RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r),
			"WORLD_SIZE="+strconv.Itoa(world), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
			"OMP_NUM_THREADS=1")
		if envOf != nil {
			env = envOf(r, env)
		}
		p.cmd.Env = env
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		p.cmd.WaitDelay = 5 * time.Second
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ps[r] = p
	}
	runs := make([]workerRun, world)
	for r, p := range ps {
		err := p.cmd.Wait()
		run := workerRun{Rank: r, Stderr: p.stderr.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				run.Signaled = true
			}
			run.ExitCode = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("the workers of %s did not finish within %v (rank %d stderr: %s)", scenario, limit, r, tail(run.Stderr))
		}
		lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
		if last := lines[len(lines)-1]; strings.HasPrefix(last, "{") {
			if err := json.Unmarshal([]byte(last), &run.Out); err != nil {
				t.Fatalf("rank %d: bad output %q: %v", r, last, err)
			}
		}
		runs[r] = run
	}
	return runs
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// mustOK fails the test unless every worker finished without error, and returns their
// results.
func mustOK(t testing.TB, runs []workerRun) []json.RawMessage {
	t.Helper()
	res := make([]json.RawMessage, len(runs))
	for _, r := range runs {
		if r.ExitCode != 0 || r.Out.Err != "" || r.Signaled {
			t.Fatalf("rank %d: exit %d, error %q\nstderr: %s", r.Rank, r.ExitCode, r.Out.Err, tail(r.Stderr))
		}
		res[r.Rank] = r.Out.Result
	}
	return res
}

// groupWorker registers the worker name, which runs in its rank's group (of the given
// collective timeout), closed when the worker returns.
func groupWorker(name string, timeout time.Duration, work func(env dist.Env, g *dist.Group) (any, error)) {
	workers[name] = func(env dist.Env) (any, error) {
		g, err := join(env, timeout)
		if err != nil {
			return nil, err
		}
		defer g.Close()
		return work(env, g)
	}
}

// join opens the group of a worker with the given timeout.
func join(env dist.Env, timeout time.Duration) (*dist.Group, error) {
	return dist.Init(context.Background(), dist.Config{Env: env, Backend: dist.Gloo, Timeout: timeout})
}

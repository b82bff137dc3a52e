package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StopGrace is how long Launch waits, after asking the workers to stop (SIGTERM), before
// it kills them.
const StopGrace = 30 * time.Second

// WithoutNproc drops -nproc (in any of the flag package's spellings) from the arguments,
// so that the workers do not launch workers of their own.
func WithoutNproc(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case name == "nproc":
			i++ // the value follows
			continue
		case strings.HasPrefix(name, "nproc="):
			continue
		}
		out = append(out, a)
	}
	return out
}

// freePort is a TCP port free on the loopback address now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Launch starts n local workers, exe with args, each with torchrun's variables (RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, MASTER_PORT a free port), each in a
// process group of its own (OMP_NUM_THREADS=1 unless set, as torchrun does). SIGINT and SIGTERM sent to the launcher are forwarded to
// every worker; when a worker fails (non-zero exit or a signal), the others get SIGTERM
// (unless they were interrupted already) and, grace later, SIGKILL. It returns the exit code of the first worker that failed
// (128 + the signal for a worker killed by one; 0 when all succeeded).
//
// prog names the program in its messages. The workers are the data-parallel ranks of
// examples/train -nproc and of the quickstart.
func Launch(prog, exe string, args []string, n int, grace time.Duration) (int, error) {
	if n < 1 {
		return 2, fmt.Errorf("-nproc must be at least 1, not %d", n)
	}
	port, err := freePort()
	if err != nil {
		return 1, err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	type exit struct {
		rank int
		err  error
	}
	done := make(chan exit, n)
	cmds := make([]*exec.Cmd, 0, n)
	exited := make([]bool, n)
	signalAll := func(sig syscall.Signal) {
		for r, c := range cmds {
			if !exited[r] {
				syscall.Kill(-c.Process.Pid, sig) // the worker's process group
				if sig == syscall.SIGTERM {
					// A stopped worker (SIGSTOP, a debugger) handles SIGTERM only once it
					// runs again.
					syscall.Kill(-c.Process.Pid, syscall.SIGCONT)
				}
			}
		}
	}
	for r := 0; r < n; r++ {
		c := exec.Command(exe, args...)
		c.Env = append(os.Environ(), "RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(n),
			"MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port))
		if os.Getenv("OMP_NUM_THREADS") == "" && n > 1 {
			c.Env = append(c.Env, "OMP_NUM_THREADS=1") // as torchrun: no oversubscription (-threads overrides)
		}
		c.Stdin, c.Stdout, c.Stderr = nil, os.Stdout, os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			signalAll(syscall.SIGKILL)
			for range cmds {
				exited[(<-done).rank] = true
			}
			return 1, fmt.Errorf("starting worker %d: %w", r, err)
		}
		cmds = append(cmds, c)
		go func(r int, c *exec.Cmd) { done <- exit{r, c.Wait()} }(r, c)
	}
	code, left, interrupted := 0, n, false
	var kill <-chan time.Time
	for left > 0 {
		select {
		case s := <-sigs:
			interrupted = true
			signalAll(s.(syscall.Signal))
		case <-kill:
			signalAll(syscall.SIGKILL)
		case e := <-done:
			left--
			exited[e.rank] = true
			if e.err == nil {
				continue
			}
			if code == 0 {
				code = 1
				var ee *exec.ExitError
				if errors.As(e.err, &ee) {
					if ee.ExitCode() > 0 {
						code = ee.ExitCode()
					} else if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						code = 128 + int(ws.Signal()) // as a shell reports a worker killed by a signal
					}
				}
				if !interrupted {
					// Workers that were interrupted are already stopping (rank 0 may be
					// saving a checkpoint): only an unprompted failure stops the others.
					fmt.Fprintf(os.Stderr, "%s: worker %d failed (%v); stopping the others\n", prog, e.rank, e.err)
					signalAll(syscall.SIGTERM)
				}
				kill = time.After(grace)
			}
		}
	}
	return code, nil
}

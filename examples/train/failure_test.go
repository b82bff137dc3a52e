package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/internal/gocmd"
	"github.com/prsmed/prsmed-go/torch/dist"
	"github.com/prsmed/prsmed-go/torch/dist/disttest"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// workerPid finds the -nproc worker with RANK=rank among the children of launcher.
func workerPid(t *testing.T, launcher, rank int) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(launcher) {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == "RANK="+strconv.Itoa(rank) {
				return pid
			}
		}
	}
	return 0
}

// failureArgs is a short two-process run: stage 1 then four epochs of stage 2 on 8 samples.
func failureArgs(t *testing.T, root, out string) []string {
	return []string{"-data", root, "-out", out, "-epochs0", "0", "-workers", "1", "-epochs1", "1", "-epochs2", "4",
		"-batch", "2", "-lr", "1e-3", "-val-samples", "2", "-dist-timeout", "15s", "-nproc", "2"}
}

// TestNprocRankFailures: a worker of a two-process run dies mid-run (SIGKILL after the
// first epoch's checkpoint) or hangs (SIGSTOP). The launcher's exit code says so (137 for
// the killed worker; the hung one is found by rank 0's heartbeat check, which names rank 1,
// within the 15 s collective timeout). After the kill, the checkpoint on disk loads, and
// resuming it with -nproc 2 ends with the parameters of an uninterrupted run, bit for bit.
func TestNprocRankFailures(t *testing.T) {
	bin, root := programAndData(t, 10, true)
	whole := t.TempDir()
	if res, err := exec.Command(bin, failureArgs(t, root, whole)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, res)
	}

	// start runs the program and, once the first epoch's checkpoint exists, sends sig to
	// rank 1; it returns the launcher's exit code, its output and the time from the signal
	// to the launcher's exit.
	start := func(out string, sig syscall.Signal) (int, string, time.Duration) {
		var buf bytes.Buffer
		cmd := exec.Command(bin, failureArgs(t, root, out)...)
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		awaitCheckpoint(t, filepath.Join(out, "checkpoint"), 4*time.Minute, buf.String)
		pid := workerPid(t, cmd.Process.Pid, 1)
		if pid == 0 {
			t.Fatal("rank 1's process not found")
		}
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("the launcher returned %v after rank 1 got %v:\n%s", err, sig, buf.String())
		}
		return ee.ExitCode(), buf.String(), time.Since(at)
	}

	t.Run("SIGKILL", func(t *testing.T) {
		out := t.TempDir()
		code, log, took := start(out, syscall.SIGKILL)
		t.Logf("exit %d after %v", code, took)
		if code != 128+int(syscall.SIGKILL) {
			t.Errorf("exit code %d, want 137 (the killed worker's)\n%s", code, log)
		}
		if !strings.Contains(log, "worker 1 failed") {
			t.Errorf("the output does not name the dead worker:\n%s", log)
		}
		if took > 15*time.Second+cli.StopGrace {
			t.Errorf("the run took %v to stop after the kill", took)
		}
		res, err := exec.Command(bin, append(failureArgs(t, root, out), "-resume")...).CombinedOutput()
		if err != nil {
			t.Fatalf("resume: %v\n%s", err, res)
		}
		sameWeights(t, filepath.Join(whole, "checkpoint", "model.safetensors"), filepath.Join(out, "checkpoint", "model.safetensors"))
	})
	t.Run("SIGSTOP", func(t *testing.T) {
		code, log, took := start(t.TempDir(), syscall.SIGSTOP)
		t.Logf("exit %d after %v", code, took)
		if code == 0 {
			t.Errorf("exit code 0 after a worker hung\n%s", log)
		}
		if !strings.Contains(log, "rank 1: stopped responding") {
			t.Errorf("rank 0 did not name the hung rank 1:\n%s", log)
		}
		if took > 15*time.Second+cli.StopGrace {
			t.Errorf("the run took %v to stop after the hang", took)
		}
	})
}

// TestRankKilledWithoutLauncher: two ranks started by hand (as on two machines, no
// -nproc to stop the survivor); rank 1 is killed after the first epoch's checkpoint. Rank 0
// stops by itself within the 10 s collective timeout (plus the heartbeat check) with an
// error naming rank 1, and its checkpoint on disk loads.
func TestRankKilledWithoutLauncher(t *testing.T) {
	bin, root := programAndData(t, 10, true)
	out := t.TempDir()
	port := strconv.Itoa(disttest.FreePort(t))
	args := failureArgs(t, root, out)
	args = args[:len(args)-2] // no -nproc
	args[len(args)-1] = "10s" // -dist-timeout
	var cmds [2]*exec.Cmd
	var logs [2]bytes.Buffer
	for r := range cmds {
		cmds[r] = exec.Command(bin, args...)
		cmds[r].Env = append(os.Environ(), "RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r), "WORLD_SIZE=2",
			"MASTER_ADDR=127.0.0.1", "MASTER_PORT="+port, "OMP_NUM_THREADS=1")
		cmds[r].Stdout, cmds[r].Stderr = &logs[r], &logs[r]
		if err := cmds[r].Start(); err != nil {
			t.Fatal(err)
		}
		defer cmds[r].Process.Kill()
	}
	awaitCheckpoint(t, filepath.Join(out, "checkpoint"), 4*time.Minute, logs[0].String)
	if err := cmds[1].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	cmds[1].Wait()
	err := cmds[0].Wait()
	took := time.Since(at)
	tail := logs[0].String()
	tail = tail[max(0, len(tail)-400):]
	t.Logf("rank 0: %v after %v: …%s", err, took, tail)
	if err == nil {
		t.Fatalf("rank 0 succeeded after rank 1 died:\n%s", logs[0].String())
	}
	if took > 10*time.Second+10*time.Second {
		t.Errorf("rank 0 took %v to stop (10 s timeout)", took)
	}
	if !strings.Contains(logs[0].String(), "rank 1") {
		t.Errorf("rank 0's error does not name rank 1:\n%s", logs[0].String())
	}
	dir := filepath.Join(out, "checkpoint")
	if trainerEpoch(t, dir) < 1 {
		dir += ".old"
	}
	if trainerEpoch(t, dir) < 1 {
		t.Fatalf("no complete checkpoint left")
	}
}

// sameWeights checks that two safetensors files hold bit-identical tensors.
func sameWeights(t *testing.T, a, b string) {
	t.Helper()
	torchtest.WeightPairs(t, b, a, func(n string, ys, xs []float64) {
		if len(xs) != len(ys) {
			t.Errorf("%s: %d values in the resumed run, %d in the uninterrupted one", n, len(ys), len(xs))
			return
		}
		for i := range xs {
			if xs[i] != ys[i] {
				t.Errorf("%s: the resumed run differs from the uninterrupted one (%v against %v at %d)", n, ys[i], xs[i], i)
				break
			}
		}
	})
}

// TestMasterUnreachableOrBusy: a rank whose master cannot be reached (an address of the
// hosts' network, from a namespace, where no host answers) and a rank 0 whose MASTER_PORT
// is taken fail within the 3 s -dist-timeout (plus start-up) with an error naming
// MASTER_ADDR:MASTER_PORT and the cause. The unreachable case needs network namespaces
// (root, iproute2) and skips without them.
func TestMasterUnreachableOrBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the training program")
	}
	if !dist.Gloo.Available() {
		t.Skip("this build has no Gloo backend")
	}
	bin := gocmd.BuildTest(t, ".")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	script, err := filepath.Abs("../../third_party/cluster/netns.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, rank, addr, port string
		netns                  bool
		want                   []string
	}{
		{"port in use", "0", "127.0.0.1", busy, false, []string{"cannot host the store", "127.0.0.1:" + busy, "port is busy"}},
		{"unreachable master", "1", "10.231.0.9", "29511", true, []string{"could not reach the store of rank 0", "10.231.0.9:29511", "within 3s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prefix []string
			if tc.netns {
				if os.Geteuid() != 0 {
					t.Skip("network namespaces need root")
				}
				if _, err := exec.LookPath("ip"); err != nil {
					t.Skip("no ip command (Debian: iproute2)")
				}
				name := fmt.Sprintf("pmu%d", os.Getpid())
				if out, err := exec.Command(script, "up", name, "2").CombinedOutput(); err != nil {
					exec.Command(script, "down", name, "2").Run()
					t.Skipf("cannot make network namespaces here: %v\n%s", err, out)
				}
				defer exec.Command(script, "down", name, "2").Run()
				prefix = []string{"ip", "netns", "exec", name + "-1", "env", "GLOO_SOCKET_IFNAME=pm0"}
			}
			args := append(prefix, bin, "-data", t.TempDir(), "-out", t.TempDir(), "-dist-timeout", "3s")
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "RANK="+tc.rank, "LOCAL_RANK=0", "WORLD_SIZE=2", "MASTER_ADDR="+tc.addr, "MASTER_PORT="+tc.port)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			took := time.Since(start)
			if err == nil {
				t.Fatalf("the run succeeded:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the error does not say %q:\n%s", w, out)
				}
			}
			if took > 30*time.Second {
				t.Errorf("took %v with a 3 s timeout", took)
			}
		})
	}
}

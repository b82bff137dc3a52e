package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
)

func TestProgressLinesWithoutTerminal(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(0, 0)
	p := newProgress(&b, false, 20, "images", func() time.Time { return now })
	for i := 1; i <= 20; i++ {
		now = now.Add(time.Second)
		p.Update(i)
	}
	p.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want one per tenth (10):\n%s", len(lines), b.String())
	}
	if strings.Contains(b.String(), "\r") {
		t.Error("a redrawn bar written to a non-terminal")
	}
	if want := "10/20 images, 1.0/s, 10s elapsed, ETA 10s"; lines[4] != want {
		t.Errorf("line 5 = %q, want %q", lines[4], want)
	}
}

func TestProgressBarOnTerminal(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(0, 0)
	p := newProgress(&b, true, 4, "samples", func() time.Time { return now })
	now = now.Add(2 * time.Second)
	p.Update(1)
	now = now.Add(2 * time.Second)
	p.Update(4)
	p.Done()
	if got := b.String(); !strings.Contains(got, "\r[######..................] 1/4 samples, 0.5/s, 2s elapsed, ETA 6s") || !strings.HasSuffix(got, "\n") {
		t.Errorf("terminal output %q", got)
	}
}

func TestCommandExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		run  error
		code int
		msg  string
	}{
		{"ok", []string{"-in", "x"}, nil, 0, ""},
		{"help", []string{"-h"}, nil, 0, "usage: demo -in FILE"},
		{"missing", nil, nil, 2, "demo: -in required (see -h)"},
		{"bad flag", []string{"-nope"}, nil, 2, "flag provided but not defined"},
		{"extra arg", []string{"-in", "x", "y"}, nil, 2, `demo: unexpected argument "y"`},
		{"failure", []string{"-in", "x"}, errors.New("no such\nfile"), 1, "demo: no such file\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errb bytes.Buffer
			code := -1
			cmd := NewCommand("demo", "demo -in FILE", "A demo.")
			cmd.err = &errb
			cmd.Flags.SetOutput(&errb)
			cmd.exit = func(c int) {
				if code == -1 {
					code = c
				}
			}
			cmd.Flags.String("in", "", "input")
			cmd.Parse(c.args, "in")
			if code == -1 {
				cmd.Main(func(context.Context) error { return c.run })
			}
			if code != c.code || !strings.Contains(errb.String(), c.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), c.code, c.msg)
			}
		})
	}
}

// interrupt sends SIGINT to this process (caught by the tool's signal context) and waits
// until the context sees it, as a program's work does when the user presses Ctrl-C.
func interrupt(ctx context.Context) error {
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return errors.New("no signal arrived")
	}
}

// TestRunToolExitCodes: the same exit codes as Command (0 done or -h, 2 usage, 1 failed,
// 130 interrupted), whatever error the interrupted work returns; 0 when the work treats the
// signal as its normal end and returns nil.
func TestRunToolExitCodes(t *testing.T) {
	cases := []struct {
		name  string
		parse error
		work  func(ctx context.Context) (int, error)
		code  int
		msg   string
	}{
		{"ok", nil, func(context.Context) (int, error) { return 0, nil }, 0, ""},
		{"help", flag.ErrHelp, nil, 0, ""},
		{"bad flag", errors.New("flag provided but not defined: -x"), nil, 2, "demo: flag provided but not defined: -x (run demo -h for help)"},
		{"usage found later", nil, func(context.Context) (int, error) { return 0, Usage("-n %d: need at least 1", 0) }, 2, "demo: -n 0: need at least 1"},
		{"failure", nil, func(context.Context) (int, error) { return 0, errors.New("no such\nfile") }, 1, "demo: no such file\n"},
		{"own code", nil, func(context.Context) (int, error) { return 1, nil }, 1, ""},
		{"torch panic", nil, func(context.Context) (int, error) { torch.Fail("op", torch.ErrShape, "bad"); return 0, nil }, 1, "demo: torch: op: bad"},
		{"other panic", nil, func(context.Context) (int, error) { panic("boom") }, 1, "demo: internal error: boom"},
		{"interrupted", nil, func(ctx context.Context) (int, error) { return 0, interrupt(ctx) }, 130, "demo: interrupted\n"},
		{"interrupted, wrapped", nil, func(ctx context.Context) (int, error) {
			return 0, fmt.Errorf("epoch 3: %w", interrupt(ctx))
		}, 130, "demo: interrupted: epoch 3: context canceled"},
		// A server's SIGTERM is its normal end: it drains and returns nil.
		{"stopped by a signal as designed", nil, func(ctx context.Context) (int, error) { interrupt(ctx); return 0, nil }, 0, ""},
		{"interrupted, reported", nil, func(ctx context.Context) (int, error) {
			if err := interrupt(ctx); err != nil {
				return 1, nil
			}
			return 0, nil
		}, 130, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errb bytes.Buffer
			code := RunTool("demo", &errb, func(io.Writer) error { return c.parse }, c.work)
			if code != c.code || !strings.Contains(errb.String(), c.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), c.code, c.msg)
			}
		})
	}
}

func TestCommandInterrupted(t *testing.T) {
	var errb bytes.Buffer
	code := -1
	cmd := NewCommand("demo", "demo", "")
	cmd.err = &errb
	cmd.exit = func(c int) { code = c }
	cmd.Main(func(ctx context.Context) error { return fmt.Errorf("saving: %w", interrupt(ctx)) })
	if code != 130 || !strings.Contains(errb.String(), "demo: interrupted: saving: context canceled") {
		t.Errorf("exit %d, stderr %q; want 130", code, errb.String())
	}
}

// TestSetupChecksCUDA: -device goes through torch.ParseDevice, which refuses a CUDA device
// this build or machine cannot use instead of failing later at the first tensor.
func TestSetupChecksCUDA(t *testing.T) {
	for _, s := range []string{"cuda", "cuda:0", "cuda:7"} {
		_, err := Setup(s, 0)
		if torch.CUDAAvailable() && s != "cuda:7" {
			if err != nil {
				t.Errorf("%s: %v", s, err)
			}
			continue
		}
		if !errors.Is(err, torch.ErrDevice) {
			t.Errorf("Setup(%q) = %v, want an error wrapping torch.ErrDevice", s, err)
		}
	}
	for _, s := range []string{"gpu", "cuda:-1", ""} {
		if _, err := Setup(s, 0); !errors.Is(err, torch.ErrDevice) {
			t.Errorf("Setup(%q) = %v, want an error wrapping torch.ErrDevice", s, err)
		}
	}
	if dev, err := Setup("cpu", 0); err != nil || dev != torch.CPU {
		t.Errorf("Setup(cpu) = %v, %v", dev, err)
	}
}

// ParseFlags prints the usage text and then the flags on -h, and nothing otherwise.
func TestParseFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  error
		help string
	}{
		{[]string{"-h"}, flag.ErrHelp, "Usage: x\n  -n int\n    \tcount (default 3)\n"},
		{[]string{"-n", "4"}, nil, ""},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Int("n", 3, "count")
		var help bytes.Buffer
		if err := ParseFlags(fs, c.args, &help, "Usage: x\n"); !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("%v: error %v, want %v", c.args, err, c.err)
		}
		if help.String() != c.help {
			t.Errorf("%v: help %q, want %q", c.args, help.String(), c.help)
		}
	}
}

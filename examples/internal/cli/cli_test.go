package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
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

package gocmd

import (
	"slices"
	"testing"
)

// The command carries the test binary's own tags: this test, run with -tags torchenv (as the
// torch 2.x lane runs it), must see them.
func TestBuildCarriesTags(t *testing.T) {
	cmd := Build("/tmp/out", "./x")
	tags := Tags()
	want := []string{"go", "build", "-o", "/tmp/out", "./x"}
	if tags != "" {
		want = []string{"go", "build", "-tags", tags, "-o", "/tmp/out", "./x"}
	}
	if !slices.Equal(cmd.Args, want) {
		t.Fatalf("args %q, want %q", cmd.Args, want)
	}
	if torchenvBuild && !slices.Contains(cmd.Args, "torchenv") {
		t.Fatalf("built with -tags torchenv, but the command %q does not carry it", cmd.Args)
	}
}

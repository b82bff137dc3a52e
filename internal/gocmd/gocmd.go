// Package gocmd builds the module's commands from tests with the build tags of the test
// binary that asks, so that a test run with -tags torchenv (against a PyTorch 2.x, whose
// flags come from CGO_CXXFLAGS and CGO_LDFLAGS) builds the program it runs the same way
// instead of against Debian's libtorch with the other libtorch's flags.
package gocmd

import (
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// Tags returns the build tags the running binary was built with ("" when none).
func Tags() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "-tags" {
			return s.Value
		}
	}
	return ""
}

// Build returns the command `go build [-tags TAGS] -o out pkg`, with the tags of the running
// binary.
func Build(out, pkg string) *exec.Cmd {
	args := []string{"build"}
	if tags := Tags(); tags != "" {
		args = append(args, "-tags", tags)
	}
	return exec.Command("go", append(args, "-o", out, pkg)...)
}

// BuildTest builds pkg (a path relative to the test's package, such as "." or
// "../evaluate") into the test's temporary folder, as Build does, and returns the program's
// path; a failed build fails the test with the compiler's output.
func BuildTest(t testing.TB, pkg string) string {
	t.Helper()
	name := path.Base(pkg)
	if name == "." {
		wd, err := filepath.Abs(".")
		if err != nil {
			t.Fatal(err)
		}
		name = filepath.Base(wd)
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := Build(bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Package libtorch holds no Go code: its test runs torchenv_test.sh, the shell test of
// torchenv.sh on fake PyTorch, CUDA and libtorch-zip layouts, as part of go test ./...
package libtorch

import (
	"os/exec"
	"testing"
)

func TestTorchenvScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	out, err := exec.Command(bash, "torchenv_test.sh").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("torchenv_test.sh: %v", err)
	}
}

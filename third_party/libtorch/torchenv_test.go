// Package libtorch holds no Go code: its tests run the shell tests of the build scripts as
// part of go test ./...: torchenv_test.sh (torchenv.sh on fake PyTorch, CUDA and libtorch-zip
// layouts, and the bad inputs it must refuse in one line), linkcheck_test.sh (linkcheck.sh
// on small binaries linked against stand-in CUDA libraries) and testreport_test.sh (the
// torch 2 lane's check of go test -json output and skip messages).
package libtorch

import (
	"os/exec"
	"testing"
)

func TestScripts(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("no bash: the build scripts need it")
	}
	for _, script := range []string{"torchenv_test.sh", "linkcheck_test.sh", "testreport_test.sh"} {
		t.Run(script, func(t *testing.T) {
			out, err := exec.Command(bash, script).CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("%s: %v", script, err)
			}
		})
	}
}

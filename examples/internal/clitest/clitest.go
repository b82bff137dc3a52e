// Package clitest holds what the example programs' tests share.
package clitest

import (
	"bytes"
	"io"
)

// Run calls a program's run(args, stdout, stderr) with args and returns its exit code,
// standard output and standard error.
func Run(run func(args []string, stdout, stderr io.Writer) int, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

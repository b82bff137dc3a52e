// Package disttest holds what the tests of multi-process programs share.
package disttest

import (
	"net"
	"testing"
)

// FreePort asks the kernel for a TCP port on 127.0.0.1 that is free now (a rendezvous
// port for the ranks a test starts).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

package train_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// netnsScript builds the hosts: network namespaces joined by a bridge (see the script).
const netnsScript = "../../third_party/cluster/netns.sh"

// TestSeveralHosts: ranks on several hosts — network namespaces with their own veth
// interface, joined by a bridge, MASTER_ADDR the first host's address and Gloo bound to the
// hosts' interface — train stage 0 then stage 1 as one process with the same global batch
// does, within the bound of TestDataParallelStages0And1: 2 hosts × 1 rank and 2 hosts × 2
// ranks. It needs root and iproute2's ip, and skips where namespaces cannot be made.
func TestSeveralHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several training processes")
	}
	for _, tc := range []struct{ hosts, perHost int }{{2, 1}, {2, 2}} {
		t.Run(fmt.Sprintf("%dx%d", tc.hosts, tc.perHost), func(t *testing.T) {
			compareDataParallelOn(t, "stage01", netnsHosts(t, tc.hosts, tc.perHost))
		})
	}
}

// netnsHosts makes hosts network namespaces (removed when t ends) and returns the launch of
// perHost ranks on each, with MASTER_ADDR the first host's address; it skips t where
// namespaces cannot be made.
func netnsHosts(t testing.TB, hosts, perHost int) ddpLaunch {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (Debian: iproute2)")
	}
	script, err := filepath.Abs(netnsScript)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("pmt%d-%d%d", os.Getpid(), hosts, perHost)
	n := strconv.Itoa(hosts)
	if out, err := exec.Command(script, "up", name, n).CombinedOutput(); err != nil {
		exec.Command(script, "down", name, n).Run()
		t.Skipf("cannot make network namespaces here: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "down", name, n).CombinedOutput(); err != nil {
			t.Errorf("removing the namespaces: %v\n%s", err, out)
		}
	})
	master, err := exec.Command(script, "addr", "0").Output()
	if err != nil {
		t.Fatal(err)
	}
	return ddpLaunch{
		world: hosts * perHost,
		addr:  string(trimNL(master)),
		prefix: func(r int) []string {
			return []string{"ip", "netns", "exec", fmt.Sprintf("%s-%d", name, r/perHost), "env", "GLOO_SOCKET_IFNAME=pm0"}
		},
	}
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

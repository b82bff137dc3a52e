package dist

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// TestClassifyReadsTheCode: the sentinels come from the shim's status code alone; a message
// full of the words libtorch versions use (or might not use) changes nothing.
func TestClassifyReadsTheCode(t *testing.T) {
	const noisy = "Connection reset by peer: EOF, sizes mismatch, timed out, address already in use (errno: 98)"
	cases := []struct {
		code int
		msg  string
		want []error
	}{
		{shim.DistTimeout, "rank 1 is late", []error{ErrTimeout}},
		{shim.DistNetwork, "something new in libtorch 3", []error{ErrPeer}},
		{shim.DistStore, "store gone", []error{ErrPeer}},
		{shim.DistInvalid, "bad root", []error{ErrConfig}},
		{shim.DistListen, "cannot listen", []error{ErrPortBusy, ErrConfig}},
		{shim.DistBackend, noisy, nil},
		{1, noisy, nil}, // a plain c10::Error
		{7, noisy, nil}, // a std::exception
	}
	for _, c := range cases {
		got := classify(&shim.Error{Code: c.code, Msg: c.msg})
		if len(got) != len(c.want) {
			t.Errorf("code %d (%q): %v, want %v", c.code, c.msg, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("code %d (%q): %v, want %v", c.code, c.msg, got, c.want)
			}
		}
	}
	if classify(errors.New(noisy)) != nil {
		t.Error("an error that is not the shim's matched a sentinel")
	}
}

// TestShimFailureCodes: real failures of the store get the codes from their C++ exception
// type or the call's clock, under the libtorch this package is built with.
func TestShimFailureCodes(t *testing.T) {
	if !Gloo.Available() {
		t.Skip("no c10d in this build")
	}
	// A key nobody sets: the wait runs out of its 300 ms.
	st, err := shim.NewTCPStore("127.0.0.1", 0, 1, true, false, 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Free()
	start := time.Now()
	_, err = st.Get("never", 300)
	if codeOf(err) != shim.DistTimeout {
		t.Errorf("waiting for a missing key: code %d (%v), want DistTimeout", codeOf(err), err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("the wait returned after %v, before its 300 ms", d)
	}
	// Hosting a store on a port another socket holds.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if _, err := shim.NewTCPStore("127.0.0.1", port, 1, true, false, 2000); codeOf(err) != shim.DistListen {
		t.Errorf("hosting on a busy port: code %d (%v), want DistListen", codeOf(err), err)
	}
	// A port out of range is an argument the shim rejects.
	if _, err := shim.NewTCPStore("127.0.0.1", 70000, 1, true, false, 2000); codeOf(err) != shim.DistInvalid {
		t.Errorf("port 70000: code %d (%v), want DistInvalid", codeOf(err), err)
	}
}

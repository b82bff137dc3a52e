package dist

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// Sentinel errors; an *Error matches them with errors.Is.
var (
	// ErrTimeout: a collective, the rendezvous or the store did not complete in time.
	ErrTimeout = errors.New("dist: timed out")
	// ErrPeer: another rank died or closed its connection.
	ErrPeer = errors.New("dist: peer failed")
	// ErrMismatch: the ranks disagree (tensor sizes, WORLD_SIZE, a rank claimed twice).
	ErrMismatch = errors.New("dist: ranks disagree")
	// ErrConfig: a bad launch setting (environment variable, rank, port).
	ErrConfig = errors.New("dist: bad configuration")
	// ErrPortBusy: rank 0 could not listen on MASTER_PORT.
	ErrPortBusy = errors.New("dist: port busy")
	// ErrUnavailable: the backend is not part of this build or this machine.
	ErrUnavailable = errors.New("dist: backend unavailable")
	// ErrClosed: the group was closed.
	ErrClosed = errors.New("dist: group closed")
)

// Error is a failed distributed operation.
type Error struct {
	Op    string // the operation, e.g. "all_reduce", "barrier", "init"
	Rank  int    // this process's rank
	World int    // the group size
	// Peers are the ranks found at fault (dead, missing or disagreeing); empty when unknown.
	Peers []int
	Msg   string  // what went wrong, with libtorch's message when it came from there
	kinds []error // the sentinels it matches
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dist: rank %d of %d: %s: ", e.Rank, e.World, e.Op)
	if len(e.Peers) == 1 {
		fmt.Fprintf(&b, "rank %d: ", e.Peers[0])
	} else if len(e.Peers) > 1 {
		fmt.Fprintf(&b, "ranks %v: ", e.Peers)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is matches the sentinel errors.
func (e *Error) Is(target error) bool {
	for _, k := range e.kinds {
		if k == target {
			return true
		}
	}
	return false
}

// classify picks the sentinels of a failed shim call from its status code, which says what
// the shim saw: the type of the C++ exception (c10d's, Gloo's, and on libtorch 2.x
// c10::DistNetworkError and its kin) or that the call ran out of its time. Messages differ
// between libtorch versions and are never read here.
func classify(err error) []error {
	switch codeOf(err) {
	case shim.DistTimeout:
		return []error{ErrTimeout}
	case shim.DistNetwork, shim.DistStore:
		return []error{ErrPeer}
	case shim.DistInvalid:
		return []error{ErrConfig}
	case shim.DistListen:
		return []error{ErrPortBusy, ErrConfig}
	}
	return nil
}

// codeOf is the shim's status code of err (0 when err did not come from the shim).
func codeOf(err error) int {
	var se *shim.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// libtorchMsg is the message of a shim error (without libtorch's source location noise).
func libtorchMsg(err error) string {
	var se *shim.Error
	if errors.As(err, &se) {
		return strings.TrimSpace(se.Msg)
	}
	return err.Error()
}

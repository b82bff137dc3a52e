package dist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// Backend selects the collective library.
type Backend int

const (
	// Gloo runs collectives on CPU tensors over TCP.
	Gloo Backend = iota
	// NCCL runs collectives on CUDA tensors (CUDA builds of libtorch with NCCL only).
	NCCL
)

func (b Backend) String() string {
	if b == NCCL {
		return "nccl"
	}
	return "gloo"
}

// Available reports whether this build holds the backend.
func (b Backend) Available() bool {
	if b == NCCL {
		return shim.HasNCCL()
	}
	return shim.HasGloo()
}

// DefaultTimeout is the collective timeout when Config.Timeout is zero (torch.distributed's).
const DefaultTimeout = 30 * time.Minute

// heartbeat is how often each rank bumps its counter in the store; a rank whose counter
// stands still for deadAfter is reported as dead when a collective fails.
const (
	heartbeat = 250 * time.Millisecond
	deadAfter = 3 * time.Second
)

// Config configures Init.
type Config struct {
	Env
	Backend Backend
	// Timeout bounds every collective and the rendezvous (DefaultTimeout when zero).
	Timeout time.Duration
	// Interface is the network interface Gloo binds to; empty: GLOO_SOCKET_IFNAME, else the
	// loopback address when MasterAddr is a loopback address, else this machine's hostname.
	Interface string
}

// Group is this process's membership of a process group. Its methods are called by one
// goroutine at a time, in the same order on every rank.
type Group struct {
	rank, world int
	backend     Backend
	timeout     time.Duration
	store       shim.Store
	beatStore   shim.Store // a second connection, so a long store wait never delays the heartbeat
	hasBeat     bool
	pg          shim.PG
	device      torch.Device

	barriers int        // barriers called so far (the same count on every rank)
	failedAt time.Time  // when a collective last failed
	reducers []*Reducer // open reducers (their hooks use the group), closed by Close

	stopBeat chan struct{}
	beatDone sync.WaitGroup
	closed   bool
}

// Rank is this process's rank.
func (g *Group) Rank() int { return g.rank }

// World is the number of processes.
func (g *Group) World() int { return g.world }

// Backend is the group's backend.
func (g *Group) Backend() Backend { return g.backend }

// Timeout is the bound on every collective.
func (g *Group) Timeout() time.Duration { return g.timeout }

// Device is where the group's tensors live: the CPU for Gloo, CUDA device LocalRank for NCCL.
func (g *Group) Device() torch.Device { return g.device }

func ms(d time.Duration) int64 {
	if d <= 0 {
		return 1
	}
	v := d.Milliseconds()
	if v < 1 {
		v = 1
	}
	return v
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Init joins the process group described by cfg: rank 0 hosts the TCPStore on
// MasterAddr:MasterPort, every rank connects to it, the ranks check that they agree on
// WORLD_SIZE and that no rank is claimed twice, and the Gloo or NCCL group forms. It waits
// at most cfg.Timeout (or until ctx's deadline) for the other ranks.
//
// Init makes the process ignore SIGPIPE, as CPython does at startup for PyTorch: Gloo's own
// threads write to the peers' sockets, and a write to a dead peer raises SIGPIPE on a
// thread Go does not own, whose default action ends the process (seen: a rank killed 35 ms
// after its peer, instead of returning an error that names the peer). Ignored, the write
// fails with EPIPE and the collective returns that error.
func Init(ctx context.Context, cfg Config) (*Group, error) {
	signal.Ignore(syscall.SIGPIPE)
	e := cfg.Env
	fail := func(kinds []error, peers []int, format string, args ...any) (*Group, error) {
		return nil, &Error{Op: "init", Rank: e.Rank, World: e.WorldSize, Peers: peers,
			Msg: fmt.Sprintf(format, args...), kinds: kinds}
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Backend.Available() {
		return nil, &Error{Op: "init", Rank: e.Rank, World: e.WorldSize, kinds: []error{ErrUnavailable},
			Msg: fmt.Sprintf("the %s backend is not part of this build (Gloo needs the Gloo headers when the shim "+
				"is compiled, Debian: libgloo-dev; NCCL needs a CUDA build of libtorch 2.x)", cfg.Backend)}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	addr := net.JoinHostPort(e.MasterAddr, strconv.Itoa(e.MasterPort))

	// The store: rank 0 listens, the others connect (retrying until the timeout).
	store, err := shim.NewTCPStore(e.MasterAddr, e.MasterPort, e.WorldSize, e.Rank == 0, false, ms(timeout))
	if err != nil {
		msg := libtorchMsg(err)
		kinds := classify(err)
		switch {
		case e.Rank == 0 && codeOf(err) == shim.DistListen:
			return fail([]error{ErrPortBusy, ErrConfig}, nil,
				"cannot host the store on MASTER_ADDR:MASTER_PORT=%s: the port is busy or the address is not this "+
					"machine's (another run may hold it; pick a free MASTER_PORT): %s", addr, msg)
		case e.Rank != 0:
			return fail([]error{ErrTimeout}, []int{0},
				"could not reach the store of rank 0 at MASTER_ADDR:MASTER_PORT=%s within %v (is rank 0 running, and "+
					"are MASTER_ADDR and MASTER_PORT the same on every rank?): %s", addr, timeout, msg)
		}
		return fail(kinds, nil, "opening the store at %s: %s", addr, msg)
	}
	g := &Group{rank: e.Rank, world: e.WorldSize, backend: cfg.Backend, timeout: cfg.Timeout, store: store,
		stopBeat: make(chan struct{}), device: torch.CPU}
	if g.timeout <= 0 {
		g.timeout = DefaultTimeout
	}
	closeOnErr := func(err error) (*Group, error) {
		g.stopHeartbeat()
		store.Free()
		return nil, err
	}
	if err := g.rendezvous(deadline); err != nil {
		return closeOnErr(err)
	}
	if bs, err := shim.NewTCPStore(e.MasterAddr, store.Port(), e.WorldSize, false, false, ms(time.Until(deadline))); err == nil {
		g.beatStore, g.hasBeat = bs, true
		g.startHeartbeat()
	} else {
		return closeOnErr(&Error{Op: "init", Rank: e.Rank, World: e.WorldSize, Peers: []int{0}, kinds: classify(err),
			Msg: "a second connection to the store failed: " + libtorchMsg(err)})
	}

	iface, host := cfg.Interface, ""
	if iface == "" {
		iface = os.Getenv("GLOO_SOCKET_IFNAME")
	}
	if iface == "" && isLoopback(e.MasterAddr) {
		host = "127.0.0.1"
	}
	dev := -1
	if cfg.Backend == NCCL {
		dev = e.LocalRank
		g.device = torch.CUDA(e.LocalRank)
	}
	pg, err := shim.NewPG(int(cfg.Backend), store, "prsmed/pg/", e.Rank, e.WorldSize, ms(g.timeout), iface, host, dev)
	if err != nil {
		return closeOnErr(g.wrap("init", err))
	}
	g.pg = pg
	return g, nil
}

// rendezvous has every rank publish its WORLD_SIZE and claim its rank, then waits until all
// ranks have joined and checks that they agree.
func (g *Group) rendezvous(deadline time.Time) error {
	fail := func(kinds []error, peers []int, format string, args ...any) error {
		return &Error{Op: "init", Rank: g.rank, World: g.world, Peers: peers, Msg: fmt.Sprintf(format, args...), kinds: kinds}
	}
	storeErr := func(err error) error {
		msg := libtorchMsg(err)
		return fail(append(classify(err), ErrPeer), []int{0}, "the store of rank 0 failed during the rendezvous: %s", msg)
	}
	n, err := g.store.Add(fmt.Sprintf("prsmed/claim/%d", g.rank), 1)
	if err != nil {
		return storeErr(err)
	}
	if n > 1 {
		return fail([]error{ErrMismatch, ErrConfig}, []int{g.rank},
			"two processes were started with RANK=%d (every rank must be unique)", g.rank)
	}
	if err := g.store.Set(fmt.Sprintf("prsmed/world/%d", g.rank), []byte(strconv.Itoa(g.world))); err != nil {
		return storeErr(err)
	}
	if _, err := g.store.Add("prsmed/joined", 1); err != nil {
		return storeErr(err)
	}
	// Rank 0's WORLD_SIZE is the reference: a mismatch with it is reported at once.
	if g.rank != 0 {
		if err := g.checkWorld(0, deadline); err != nil {
			return err
		}
	}
	for {
		joined, err := g.store.Add("prsmed/joined", 0)
		if err != nil {
			return storeErr(err)
		}
		if joined >= int64(g.world) {
			break
		}
		if time.Now().After(deadline) {
			var missing []int
			for r := 0; r < g.world; r++ {
				if ok, err := g.store.Check(fmt.Sprintf("prsmed/world/%d", r)); err == nil && !ok {
					missing = append(missing, r)
				}
			}
			return fail([]error{ErrTimeout}, missing, "only %d of WORLD_SIZE=%d processes joined the rendezvous "+
				"before the timeout; missing: %v", joined, g.world, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for r := 0; r < g.world; r++ {
		if r != g.rank {
			if err := g.checkWorld(r, deadline); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *Group) checkWorld(r int, deadline time.Time) error {
	v, err := g.store.Get(fmt.Sprintf("prsmed/world/%d", r), ms(time.Until(deadline)))
	if err != nil {
		msg := libtorchMsg(err)
		return &Error{Op: "init", Rank: g.rank, World: g.world, Peers: []int{r}, kinds: append(classify(err), ErrTimeout),
			Msg: fmt.Sprintf("did not hear from this rank before the timeout: %s", msg)}
	}
	if w, _ := strconv.Atoi(string(v)); w != g.world {
		return &Error{Op: "init", Rank: g.rank, World: g.world, Peers: []int{r}, kinds: []error{ErrMismatch, ErrConfig},
			Msg: fmt.Sprintf("WORLD_SIZE mismatch: that rank was started with WORLD_SIZE=%s, this one with %d", v, g.world)}
	}
	return nil
}

func (g *Group) startHeartbeat() {
	key := fmt.Sprintf("prsmed/beat/%d", g.rank)
	g.beatDone.Add(1)
	go func() {
		defer g.beatDone.Done()
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-g.stopBeat:
				return
			case <-t.C:
				if _, err := g.beatStore.Add(key, 1); err != nil {
					return // the store is gone (rank 0 ended); errors surface in collectives
				}
			}
		}
	}()
}

func (g *Group) stopHeartbeat() {
	select {
	case <-g.stopBeat:
	default:
		close(g.stopBeat)
	}
	g.beatDone.Wait()
	if g.hasBeat {
		g.hasBeat = false
		g.beatStore.Free()
	}
}

// deadPeers finds the ranks whose heartbeat stood still for deadAfter, and says why. When
// the store itself cannot be reached, rank 0 (its host) is the one at fault.
func (g *Group) deadPeers() ([]int, string) {
	const storeGone = "the store it hosts cannot be reached (the process is gone)"
	noBeat := "stopped responding (no heartbeat in the store for " + deadAfter.String() + ")"
	read := func() ([]int64, error) {
		v := make([]int64, g.world)
		for r := range v {
			n, err := g.store.Add(fmt.Sprintf("prsmed/beat/%d", r), 0)
			if err != nil {
				return nil, err
			}
			v[r] = n
		}
		return v, nil
	}
	a, err := read()
	if err != nil {
		if g.rank != 0 {
			return []int{0}, storeGone
		}
		return nil, ""
	}
	time.Sleep(deadAfter)
	b, err := read()
	if err != nil {
		if g.rank != 0 {
			return []int{0}, storeGone
		}
		return nil, ""
	}
	var dead []int
	for r := range a {
		if r != g.rank && a[r] == b[r] {
			dead = append(dead, r)
		}
	}
	return dead, noBeat
}

// wrap turns a shim error of op into an *Error, finding the dead ranks when a peer failed
// or the op timed out.
func (g *Group) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var te *torch.Error
	if errors.As(err, &te) { // a freed tensor or the like, caught in Go
		return &Error{Op: op, Rank: g.rank, World: g.world, Msg: te.Error(), kinds: nil}
	}
	msg := libtorchMsg(err)
	g.failedAt = time.Now()
	e := &Error{Op: op, Rank: g.rank, World: g.world, Msg: msg, kinds: classify(err)}
	// A backend failure (c10::DistBackendError, a Gloo error other than a lost connection)
	// is a peer's fault when the heartbeats show a dead rank.
	if e.Is(ErrTimeout) || e.Is(ErrPeer) || codeOf(err) == shim.DistBackend {
		if dead, why := g.deadPeers(); len(dead) > 0 {
			e.Peers = dead
			if !e.Is(ErrPeer) {
				e.kinds = append(e.kinds, ErrPeer)
			}
			e.Msg = why + ": " + msg
		} else if e.Is(ErrTimeout) {
			e.Msg = "not every rank joined within the timeout (all heartbeats are alive: a rank may be stuck, or " +
				"in another collective): " + msg
		}
	}
	return e
}

// opTimeout is the group's timeout, or less when ctx's deadline comes sooner.
func (g *Group) opTimeout(ctx context.Context, op string) (int64, error) {
	if g.closed {
		return 0, &Error{Op: op, Rank: g.rank, World: g.world, Msg: "the group is closed", kinds: []error{ErrClosed}}
	}
	if err := ctx.Err(); err != nil {
		return 0, &Error{Op: op, Rank: g.rank, World: g.world, Msg: err.Error(), kinds: []error{ErrTimeout}}
	}
	t := g.timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < t {
		t = time.Until(d)
	}
	return ms(t), nil
}

// handle is t's shim handle, or an error for a nil or freed tensor.
func (g *Group) handle(op string, t *torch.Tensor) (h shim.Handle, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Op: op, Rank: g.rank, World: g.world, Msg: fmt.Sprint(r)}
		}
	}()
	if t == nil {
		return h, &Error{Op: op, Rank: g.rank, World: g.world, Msg: "nil tensor"}
	}
	return torch.ShimHandle(t), nil
}

// Close leaves the group and, on rank 0, stops hosting the store. It waits for the Gloo
// threads, which may take up to the timeout after a failed collective. After a failed
// collective rank 0 keeps the store up for a few seconds more, so that the other ranks can
// still find out from it which rank died. It is safe to call twice.
func (g *Group) Close() {
	if g == nil || g.closed {
		return
	}
	g.closed = true
	for _, r := range g.reducers {
		r.Close()
	}
	g.reducers = nil
	if g.rank == 0 && g.world > 1 && !g.failedAt.IsZero() {
		if wait := time.Until(g.failedAt.Add(2*deadAfter + time.Second)); wait > 0 {
			time.Sleep(wait)
		}
	}
	g.stopHeartbeat()
	g.pg.Free()
	g.store.Free()
}

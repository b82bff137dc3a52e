package shim

/*
#include <stdlib.h>
#include "c10d.h"
*/
import "C"

import (
	"unsafe"
)

// Store is an open c10d TCPStore.
type Store struct{ p C.tt_store }

// PG is an open c10d process group.
type PG struct{ p C.tt_pg }

// Reducer is a gradient reducer with hooks on its parameters.
type Reducer struct{ p C.tt_reducer }

// Reduction ops, as in c10d.h.
const (
	RedSum = C.TT_RED_SUM
	RedAvg = C.TT_RED_AVG
	RedMax = C.TT_RED_MAX
	RedMin = C.TT_RED_MIN
)

// Status codes of the distributed calls, as in c10d.h: what failed, from the C++
// exception's type and the call's clock (an *Error's Code).
const (
	DistTimeout = C.TT_DIST_TIMEOUT // the call ran out of its time
	DistNetwork = C.TT_DIST_NETWORK // a connection failed
	DistBackend = C.TT_DIST_BACKEND // the backend failed otherwise
	DistStore   = C.TT_DIST_STORE   // the store failed
	DistInvalid = C.TT_DIST_INVALID // an argument the shim rejects
	DistListen  = C.TT_DIST_LISTEN  // the store could not be hosted (port taken, address not here)
)

// Backends, as in c10d.h.
const (
	BackendGloo = C.TT_PG_GLOO
	BackendNCCL = C.TT_PG_NCCL
)

// HasGloo reports whether this build holds the Gloo backend.
func HasGloo() bool { return C.tt_c10d_has_gloo() != 0 }

// HasNCCL reports whether this build holds the NCCL backend.
func HasNCCL() bool { return C.tt_c10d_has_nccl() != 0 }

func ptrRes(r C.tt_ptr_result) (unsafe.Pointer, error) {
	if err := cerr(r.code, r.msg); err != nil {
		return nil, err
	}
	return r.p, nil
}

// NewTCPStore opens a TCPStore (hosting it when isServer).
func NewTCPStore(host string, port, worldSize int, isServer, waitWorkers bool, timeoutMS int64) (Store, error) {
	ch := C.CString(host)
	defer C.free(unsafe.Pointer(ch))
	p, err := ptrRes(C.tt_store_tcp(ch, C.int(port), C.int(worldSize), cb(isServer), cb(waitWorkers), C.int64_t(timeoutMS)))
	return Store{C.tt_store(p)}, err
}

// Port is the port the store listens on or talks to.
func (s Store) Port() int { return int(C.tt_store_port(s.p)) }

// Free closes the store.
func (s Store) Free() { C.tt_store_free(s.p) }

// Set stores value under key.
func (s Store) Set(key string, value []byte) error {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	var p unsafe.Pointer
	if len(value) > 0 {
		p = C.CBytes(value)
		defer C.free(p)
	}
	_, err := st(C.tt_store_set(s.p, ck, p, C.int64_t(len(value))))
	return err
}

// Get waits at most timeoutMS for key and returns its value.
func (s Store) Get(key string, timeoutMS int64) ([]byte, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	r := C.tt_store_get(s.p, ck, C.int64_t(timeoutMS))
	if err := cerr(r.code, r.msg); err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(r.data))
	return C.GoBytes(unsafe.Pointer(r.data), C.int(r.n)), nil
}

// Add adds delta to the counter at key and returns its new value.
func (s Store) Add(key string, delta int64) (int64, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	v, err := st(C.tt_store_add(s.p, ck, C.int64_t(delta)))
	return int64(v), err
}

// Check reports whether key exists.
func (s Store) Check(key string) (bool, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	v, err := st(C.tt_store_check(s.p, ck))
	return v != 0, err
}

// NewPG opens a process group over the store.
func NewPG(backend int, s Store, prefix string, rank, size int, timeoutMS int64, iface, host string, device int) (PG, error) {
	cp, ci, chh := C.CString(prefix), C.CString(iface), C.CString(host)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(ci))
	defer C.free(unsafe.Pointer(chh))
	p, err := ptrRes(C.tt_pg_new(C.int(backend), s.p, cp, C.int(rank), C.int(size), C.int64_t(timeoutMS), ci, chh, C.int(device)))
	return PG{C.tt_pg(p)}, err
}

// Free closes the group.
func (g PG) Free() { C.tt_pg_free(g.p) }

// AllReduce reduces t in place across the group.
func (g PG) AllReduce(t Handle, op int, timeoutMS int64) error {
	_, err := st(C.tt_pg_allreduce(g.p, t.p, C.int(op), C.int64_t(timeoutMS)))
	return err
}

// Broadcast copies root's t into every rank's t.
func (g PG) Broadcast(t Handle, root int, timeoutMS int64) error {
	_, err := st(C.tt_pg_broadcast(g.p, t.p, C.int(root), C.int64_t(timeoutMS)))
	return err
}

// AllGather fills out[r] with rank r's t.
func (g PG) AllGather(t, out Handle, timeoutMS int64) error {
	_, err := st(C.tt_pg_allgather(g.p, t.p, out.p, C.int64_t(timeoutMS)))
	return err
}

// Barrier waits for every rank.
func (g PG) Barrier(timeoutMS int64) error {
	_, err := st(C.tt_pg_barrier(g.p, C.int64_t(timeoutMS)))
	return err
}

func handleArray(hs []Handle) (*C.tt_tensor, func()) {
	if len(hs) == 0 {
		return nil, func() {}
	}
	arr := (*C.tt_tensor)(C.malloc(C.size_t(len(hs)) * C.size_t(unsafe.Sizeof(C.tt_tensor(0)))))
	v := unsafe.Slice(arr, len(hs))
	for i, h := range hs {
		v[i] = h.p
	}
	return arr, func() { C.free(unsafe.Pointer(arr)) }
}

// BroadcastBuckets broadcasts the tensors from root in buckets of at most bucketBytes.
func (g PG) BroadcastBuckets(ts []Handle, root int, bucketBytes, timeoutMS int64) error {
	arr, done := handleArray(ts)
	defer done()
	_, err := st(C.tt_dp_broadcast(g.p, arr, C.int64_t(len(ts)), C.int(root), C.int64_t(bucketBytes), C.int64_t(timeoutMS)))
	return err
}

// AllReduceGrads averages the parameters' gradients in buckets of at most bucketBytes.
func (g PG) AllReduceGrads(params []Handle, bucketBytes, timeoutMS int64) error {
	arr, done := handleArray(params)
	defer done()
	_, err := st(C.tt_dp_allreduce_grads(g.p, arr, C.int64_t(len(params)), C.int64_t(bucketBytes), C.int64_t(timeoutMS)))
	return err
}

// NewReducer registers gradient hooks on the parameters.
func NewReducer(g PG, params []Handle, bucketBytes int64) (Reducer, error) {
	arr, done := handleArray(params)
	defer done()
	p, err := ptrRes(C.tt_reducer_new(g.p, arr, C.int64_t(len(params)), C.int64_t(bucketBytes)))
	return Reducer{C.tt_reducer(p)}, err
}

// Finish waits for every bucket and writes the averaged gradients.
func (r Reducer) Finish(timeoutMS int64) error {
	_, err := st(C.tt_reducer_finish(r.p, C.int64_t(timeoutMS)))
	return err
}

// SetSync turns the hooks on or off (off: DDP's no_sync).
func (r Reducer) SetSync(on bool) {
	v := 0
	if on {
		v = 1
	}
	C.tt_reducer_set_sync(r.p, C.int(v))
}

// Buckets is the number of buckets.
func (r Reducer) Buckets() int { return int(C.tt_reducer_buckets(r.p)) }

// HookLaunched is how many buckets the hooks started during the last finished backward.
func (r Reducer) HookLaunched() int { return int(C.tt_reducer_hook_launched(r.p)) }

// Free removes the hooks and frees the reducer.
func (r Reducer) Free() { C.tt_reducer_free(r.p) }

// Randperm is torch.randperm(n) drawn from a CPU generator seeded with seed.
func Randperm(n int, seed uint64) ([]int64, error) {
	out := make([]int64, n)
	var p *C.int64_t
	if n > 0 {
		p = (*C.int64_t)(unsafe.Pointer(&out[0]))
	}
	_, err := st(C.tt_randperm(C.int64_t(n), C.uint64_t(seed), p))
	return out, err
}

// AllReduceAutograd returns the sum over the ranks of t as a new tensor whose backward
// sums the output's gradient over the ranks.
func (g PG) AllReduceAutograd(t Handle, timeoutMS int64, grad Mode) (Handle, error) {
	return res(C.tt_pg_allreduce_autograd(g.p, t.p, C.int64_t(timeoutMS), C.int(grad)))
}

/* c10d.h: the plain-C surface of libtorch's distributed engine (c10d) that package
 * torch/dist uses: a TCP key-value store for rendezvous, process groups (Gloo on the CPU,
 * NCCL on CUDA builds) and their collectives, and a gradient reducer for data parallelism.
 *
 * The rules of shim.h hold: opaque handles, status and message returned in the same call,
 * no C++ exception ever leaves this surface. Every collective waits at most timeout_ms
 * milliseconds (0 means the group's own timeout).
 */
#ifndef PRSMED_C10D_H
#define PRSMED_C10D_H

#include "shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_store_s *tt_store;
typedef struct tt_pg_s *tt_pg;
typedef struct tt_reducer_s *tt_reducer;

/* A handle result: p is NULL when code != TT_OK; msg is malloc'd (free it). */
typedef struct { void *p; int code; char *msg; } tt_ptr_result;
/* A byte string result: data is malloc'd (free it), n its length. */
typedef struct { char *data; int64_t n; int code; char *msg; } tt_bytes_result;

/* Status codes of the calls below, besides shim.h's: what failed, from the exception's type
 * and the call's own clock, never from its message.
 *   TT_DIST_TIMEOUT: the call ran out of its time (c10d::TimeoutError, a work that did not
 *     finish, or any failure once the call's timeout had passed).
 *   TT_DIST_NETWORK: a connection failed (gloo::IoException; c10d::SocketError; 2.x:
 *     c10::DistNetworkError; std::system_error).
 *   TT_DIST_BACKEND: the backend failed otherwise (other gloo::Exception; 2.x:
 *     c10::DistBackendError; 1.13: other c10d::C10dError).
 *   TT_DIST_STORE: the store failed (2.x: c10::DistStoreError).
 *   TT_DIST_INVALID: an argument this surface rejects (std::invalid_argument).
 *   TT_DIST_LISTEN: tt_store_tcp could not host the store (any failure of the server other
 *     than a timeout: the port is taken or the address is not this machine's). */
enum {
  TT_DIST_TIMEOUT = 20,
  TT_DIST_NETWORK = 21,
  TT_DIST_BACKEND = 22,
  TT_DIST_STORE = 23,
  TT_DIST_INVALID = 24,
  TT_DIST_LISTEN = 25
};

/* Reduction ops (the Go side keeps the same numbers). */
enum { TT_RED_SUM = 0, TT_RED_AVG = 1, TT_RED_MAX = 2, TT_RED_MIN = 3 };

/* Backends. */
enum { TT_PG_GLOO = 0, TT_PG_NCCL = 1 };

/* Which backends this build holds: 1 when the headers were present at compile time. */
int tt_c10d_has_gloo(void);
int tt_c10d_has_nccl(void);

/* ---- store ---- */
/* Opens a TCPStore. is_server: this process hosts it (listens on host:port, port 0 picks a
 * free port). world_size: the number of processes (0: unknown). wait_workers: the server
 * waits until world_size clients have joined. The call waits at most timeout_ms. */
tt_ptr_result tt_store_tcp(const char *host, int port, int world_size, int is_server,
                           int wait_workers, int64_t timeout_ms);
/* The port a store listens on or talks to. */
int tt_store_port(tt_store s);
void tt_store_free(tt_store s);
tt_status tt_store_set(tt_store s, const char *key, const void *data, int64_t n);
/* Waits at most timeout_ms for the key, then returns its value. */
tt_bytes_result tt_store_get(tt_store s, const char *key, int64_t timeout_ms);
/* Adds delta to the integer at key (created as 0) and returns the new value. */
tt_status tt_store_add(tt_store s, const char *key, int64_t delta);
/* 1 when every key exists, 0 otherwise. */
tt_status tt_store_check(tt_store s, const char *key);

/* ---- process groups ---- */
/* Opens a process group over the store (keys are prefixed with prefix). For Gloo,
 * iface names a network interface (GLOO_SOCKET_IFNAME) or is empty; host is the address to
 * bind to, or empty for the machine's hostname. device is the CUDA device for NCCL. */
tt_ptr_result tt_pg_new(int backend, tt_store s, const char *prefix, int rank, int size,
                        int64_t timeout_ms, const char *iface, const char *host, int device);
void tt_pg_free(tt_pg pg);
int tt_pg_rank(tt_pg pg);
int tt_pg_size(tt_pg pg);
/* In place: every rank's t becomes the reduction of all ranks' t. */
tt_status tt_pg_allreduce(tt_pg pg, tt_tensor t, int op, int64_t timeout_ms);
/* A new tensor: the sum over the ranks of t, recorded for autograd under the mode flags
 * grad (TT_MODE_*); its backward is the sum over the ranks of the output's gradient. */
tt_result tt_pg_allreduce_autograd(tt_pg pg, tt_tensor t, int64_t timeout_ms, int grad);
/* In place: every rank's t becomes root's t. */
tt_status tt_pg_broadcast(tt_pg pg, tt_tensor t, int root, int64_t timeout_ms);
/* out has shape (size, *t.shape) and t's dtype and device; out[r] becomes rank r's t. */
tt_status tt_pg_allgather(tt_pg pg, tt_tensor t, tt_tensor out, int64_t timeout_ms);
/* Waits until every rank has arrived. On Gloo it is a monitored barrier: rank 0 names the
 * ranks that did not arrive. */
tt_status tt_pg_barrier(tt_pg pg, int64_t timeout_ms);

/* ---- data parallelism ---- */
/* Broadcasts the tensors from root, flattened into buckets of at most bucket_bytes. */
tt_status tt_dp_broadcast(tt_pg pg, const tt_tensor *ts, int64_t n, int root,
                          int64_t bucket_bytes, int64_t timeout_ms);
/* Averages the gradients of the parameters across ranks, one all-reduce per bucket of at
 * most bucket_bytes, plus one small all-reduce of which parameters have a gradient. A
 * parameter without a gradient on this rank counts as zeros and gets the average when some
 * other rank has one; a parameter that no rank has a gradient for keeps none. */
tt_status tt_dp_allreduce_grads(tt_pg pg, const tt_tensor *params, int64_t n,
                                int64_t bucket_bytes, int64_t timeout_ms);
/* A reducer registers a gradient hook on every parameter: when all the gradients of a
 * bucket have been computed during backward, the bucket's all-reduce starts at once, while
 * backward goes on. tt_reducer_finish waits for all buckets (launching those whose
 * parameters got no gradient, as zeros), averages, and writes the results into .grad,
 * leaving without one the parameters that got no gradient on any rank. */
tt_ptr_result tt_reducer_new(tt_pg pg, const tt_tensor *params, int64_t n,
                             int64_t bucket_bytes);
tt_status tt_reducer_finish(tt_reducer r, int64_t timeout_ms);
/* on = 0 turns the hooks off (DDP's no_sync: gradients accumulate locally in .grad); finish
 * then reduces the accumulated .grad of every parameter. on = 1 (the default) turns them on. */
void tt_reducer_set_sync(tt_reducer r, int on);
/* The number of buckets, and how many were launched during backward by the hooks in the
 * last finished step (the rest were launched by finish). */
int64_t tt_reducer_buckets(tt_reducer r);
int64_t tt_reducer_hook_launched(tt_reducer r);
/* Removes the hooks and frees the reducer. */
void tt_reducer_free(tt_reducer r);

/* ---- sampling ---- */
/* Writes torch.randperm(n, generator=torch.Generator().manual_seed(seed)) into out. */
tt_status tt_randperm(int64_t n, uint64_t seed, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif

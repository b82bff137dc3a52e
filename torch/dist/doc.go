// Package dist is data-parallel training over libtorch's distributed engine, c10d: a
// TCPStore for the rendezvous (rank 0 hosts it), a process group per run (Gloo on the CPU,
// NCCL on CUDA builds of libtorch 2.x) with all-reduce, broadcast, all-gather and barrier,
// and the helpers data parallelism needs: broadcasting the parameters from rank 0,
// averaging gradients in buckets (after backward, or overlapped with it through gradient
// hooks, see Reducer), and a sampler that shards each epoch's order across ranks exactly
// like PyTorch's DistributedSampler.
//
// A run is launched the way torchrun launches one: every process gets RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment, FromEnv reads them and Init
// joins the group:
//
//	env, err := dist.FromEnv()
//	…
//	g, err := dist.Init(ctx, dist.Config{Env: env, Backend: dist.Gloo, Timeout: 5 * time.Minute})
//	…
//	defer g.Close()
//
// Every collective waits at most the group's Timeout (or the context's deadline, when that
// comes sooner). A collective that fails — a peer died, a rank never arrived, the ranks
// passed tensors of different sizes — returns an *Error naming this rank, the operation and,
// when they could be found, the ranks at fault; it matches ErrTimeout, ErrPeer or
// ErrMismatch with errors.Is. After a failed collective the group is in an unknown state:
// close it and stop (or restart the run from a checkpoint), as with torch.distributed.
//
// Before each collective (but Barrier) the ranks exchange a small record of the operation
// and their tensors' shapes, so that ranks passing different sizes, or calling different
// collectives, get an ErrMismatch instead of Gloo aborting the process. The Reducer checks
// its parameter layout once, when it is made.
//
// Every rank bumps a counter in the store a few times a second; when a collective fails
// with a timeout or a broken connection, the ranks whose counter stood still are named as
// the ones that died (rank 0 when the store it hosts is gone).
//
// The Gloo backend needs Gloo's headers when the shim is compiled (Debian: libgloo-dev); a
// build without them returns ErrUnavailable from Init.
package dist

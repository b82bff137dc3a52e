"""Writes testdata/dist/sampler.json: the indices torch.utils.data.DistributedSampler gives
each rank for a few sizes, world sizes, seeds, epochs, shuffle and drop_last settings, plus
the global orders torch.randperm draws for the same seeds.
Run: /usr/bin/python3 third_party/golden/dist_ref.py

With "bench [runs]" it instead times, in PyTorch, what torch/dist's
BenchmarkAllReduceGrads22M times in Go: two Gloo processes on 127.0.0.1 average the
gradients of 22.8M float32 parameters (the same shapes) in 25 MiB buckets, one all_reduce
per bucket, after a warm-up call; each timed call starts after a barrier. It prints rank 0's
times in ms as JSON."""
import json
import os
import socket
import sys
import time

import torch
from torch.utils.data import DistributedSampler

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "dist", "sampler.json")

# (n, world, seed, epoch, shuffle, drop_last): sizes that divide the world, sizes that need
# padding by less and by more than their own length, and an empty data set.
CASES = [
    (10, 2, 0, 0, True, False),
    (10, 3, 0, 0, True, False),
    (10, 3, 0, 0, True, True),
    (10, 3, 7, 2, True, False),
    (11, 4, 42, 5, True, False),
    (11, 4, 42, 5, True, True),
    (2, 5, 1, 0, True, False),
    (2, 5, 1, 0, False, False),
    (2, 5, 1, 0, True, True),
    (1, 3, 3, 1, False, False),
    (7, 1, 9, 3, True, False),
    (0, 2, 0, 0, True, False),
    (100, 8, 1234, 17, True, False),
    (100, 8, 1234, 17, False, True),
    (500, 3, 5, 0, True, False),
]


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def main():
    out = []
    for n, world, seed, epoch, shuffle, drop_last in CASES:
        ranks = []
        for r in range(world):
            s = DistributedSampler(Sized(n), num_replicas=world, rank=r, shuffle=shuffle,
                                   seed=seed, drop_last=drop_last)
            s.set_epoch(epoch)
            ranks.append(list(iter(s)))
        g = torch.Generator()
        g.manual_seed(seed + epoch)
        order = torch.randperm(n, generator=g).tolist()
        out.append({"n": n, "world": world, "seed": seed, "epoch": epoch, "shuffle": shuffle,
                    "drop_last": drop_last, "ranks": ranks, "randperm": order})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": out}, f, separators=(",", ":"))
        f.write("\n")


def bench_shapes():
    return [(1024, 1024)] * 21 + [(1024,)] * 40 + [(738944,)]


def bucketed_allreduce(dist, params, bucket_bytes=25 << 20):
    # Buckets in reverse order, one dtype, at most bucket_bytes each (as torch/dist does).
    buckets, cur, size = [], [], 0
    for p in reversed(params):
        b = p.numel() * p.element_size()
        if cur and size + b > bucket_bytes:
            buckets.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += b
    if cur:
        buckets.append(cur)
    world = dist.get_world_size()
    for ps in buckets:
        flat = torch.cat([p.grad.reshape(-1) for p in ps])
        dist.all_reduce(flat)
        flat.div_(world)
        off = 0
        for p in ps:
            n = p.numel()
            p.grad.copy_(flat[off:off + n].view_as(p))
            off += n


def bench_worker(rank, world, port, runs, q):
    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world)
    params = []
    for sh in bench_shapes():
        p = torch.zeros(sh, requires_grad=True)
        p.grad = torch.zeros(sh)
        params.append(p)
    bucketed_allreduce(dist, params)
    ms = []
    for _ in range(runs):
        dist.barrier()
        t = time.perf_counter()
        bucketed_allreduce(dist, params)
        ms.append(round((time.perf_counter() - t) * 1000, 3))
    if rank == 0:
        q.put({"params": sum(p.numel() for p in params), "ms": ms})
    dist.destroy_process_group()


def bench(runs):
    import torch.multiprocessing as mp
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [ctx.Process(target=bench_worker, args=(r, 2, port, runs, q)) for r in range(2)]
    for p in ps:
        p.start()
    res = q.get(timeout=600)
    for p in ps:
        p.join(60)
    print(json.dumps(res))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "bench":
        bench(int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    else:
        main()

"""Writes testdata/dist/sampler.json: the indices torch.utils.data.DistributedSampler gives
each rank for a few sizes, world sizes, seeds, epochs, shuffle and drop_last settings, plus
the global orders torch.randperm draws for the same seeds.
Run: /usr/bin/python3 third_party/golden/dist_ref.py"""
import json
import os

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


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Times whole commands, interleaved: the wall, user and system time of each.

    interleave_cmds.py [--rounds 5] [--load N] [--setup CMD] LABEL='command' [LABEL='command' ...]

Each round runs every command once, in the given order on odd rounds and reversed on even
ones, so a slow minute of the machine falls on all of them alike. --setup runs before each
command (say, to remove the previous run's checkpoint). --load N keeps N busy processes
running beside the commands (another job on the machine). Prints a Markdown table: the
median and range over the rounds of the wall time, and of the user and system CPU time of
the command and its children.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"interleave_cmds.py: {cmd!r} exited {p.returncode}: {p.stderr.strip().splitlines()[-1:]}")
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def spin():
    while True:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--load", type=int, default=0, help="busy processes beside the commands")
    ap.add_argument("--setup", default="", help="shell command run before each command")
    ap.add_argument("cmds", nargs="+", help="LABEL=command")
    a = ap.parse_args()
    cmds = []
    for c in a.cmds:
        label, sep, cmd = c.partition("=")
        if not sep or not cmd:
            ap.error(f"{c!r}: want LABEL=command")
        cmds.append((label, cmd))
    hogs = []
    for _ in range(a.load):
        pid = os.fork()
        if pid == 0:
            spin()
        hogs.append(pid)
    times = {label: [] for label, _ in cmds}
    try:
        for r in range(a.rounds):
            order = cmds if r % 2 == 0 else cmds[::-1]
            for label, cmd in order:
                if a.setup:
                    subprocess.run(a.setup, shell=True, check=True)
                t = run(cmd)
                times[label].append(t)
                print(f"round {r + 1} {label}: wall {t[0]:.2f} s, user {t[1]:.2f} s, sys {t[2]:.2f} s", file=sys.stderr)
    finally:
        for pid in hogs:
            os.kill(pid, 9)
            os.waitpid(pid, 0)

    def cell(xs):
        return f"{statistics.median(xs):.1f} [{min(xs):.1f}–{max(xs):.1f}]"

    print(f"| command | wall s | user s | sys s |  ({a.rounds} rounds, {a.load} busy processes beside)")
    print("|---|---|---|---|")
    for label, _ in cmds:
        ts = times[label]
        print(f"| {label} | {cell([t[0] for t in ts])} | {cell([t[1] for t in ts])} | {cell([t[2] for t in ts])} |")


if __name__ == "__main__":
    main()

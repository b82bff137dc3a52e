#!/usr/bin/env python3
"""Reads `go test -json` output and reports what the torch 2 lane of .ci/run must know.

It prints one line per package (ok / FAIL / no tests), the output of every failed test and
of every package that failed outside a test (a build error), every skipped test with its skip
message, and a closing "torch2: N passed, N failed, N skipped" line. It exits 1 when a test or
package failed, or when a test skipped with a message that does not match --allow (default:
the message the CUDA tests give without a device), so nothing else can skip unnoticed.

    go test -json ./... > log.json; python3 third_party/libtorch/testreport.py log.json
"""
import argparse
import json
import re
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log", help="go test -json output")
    ap.add_argument("--allow", default=r"no CUDA device",
                    help="regular expression a skip message must match")
    ap.add_argument("--label", default="torch2", help="word before the closing counts")
    args = ap.parse_args()
    allow = re.compile(args.allow)

    output = {}  # (package, test) -> lines
    result = {}  # (package, test) -> pass/fail/skip
    order = []
    with open(args.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                # Not an event (go vet or the linker writing to stderr): keep it with "".
                output.setdefault(("", ""), []).append(line + "\n")
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                output.setdefault(("", ""), []).append(line + "\n")
                continue
            key = (ev.get("Package", ev.get("ImportPath", "")), ev.get("Test", ""))
            act = ev.get("Action")
            if act in ("output", "build-output"):
                output.setdefault(key, []).append(ev.get("Output", ""))
            elif act in ("pass", "fail", "skip", "build-fail"):
                if key not in result:
                    order.append(key)
                result[key] = "fail" if act == "build-fail" else act

    passed = failed = skipped = 0
    bad_skips = []
    for (pkg, test), res in ((k, result[k]) for k in order):
        if not test:
            continue
        if res == "pass":
            passed += 1
        elif res == "fail":
            failed += 1
        else:
            skipped += 1
            msg = " ".join(
                l.strip() for l in output.get((pkg, test), [])
                if l.strip() and not re.match(r"^\s*(=== (RUN|PAUSE|CONT|NAME)|--- SKIP)", l))
            print(f"SKIP {pkg} {test}: {msg or '(no message)'}")
            if not allow.search(msg):
                bad_skips.append(f"{pkg} {test}: {msg or '(no message)'}")

    pkg_failed = 0
    for key in order:
        pkg, test = key
        if test:
            continue
        res = result[key]
        if res == "fail":
            pkg_failed += 1
            print(f"FAIL {pkg}")
        elif res == "skip":
            print(f"?    {pkg} [no test files]")
        else:
            print(f"ok   {pkg}")

    # The failures last, so they end the log.
    for (pkg, test), res in ((k, result[k]) for k in order):
        if res != "fail":
            continue
        lines = output.get((pkg, test), [])
        if not test:
            # A package that failed outside its tests (a build error, a panic in init).
            lines = [l for l in lines if not re.match(r"^(FAIL|ok)\s", l)]
            if not lines or all(not l.strip() or l.startswith("FAIL") for l in lines):
                continue
        print(f"\n==== FAIL {pkg} {test}".rstrip())
        sys.stdout.write("".join(lines))
    if output.get(("", "")):
        print("\n==== output outside any package")
        sys.stdout.write("".join(output[("", "")]))

    for b in bad_skips:
        print(f"skip not allowed (only {args.allow!r} may skip): {b}")
    print(f"{args.label}: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or pkg_failed or bad_skips else 0


if __name__ == "__main__":
    sys.exit(main())

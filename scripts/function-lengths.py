#!/usr/bin/env python3
"""Lists the longest functions of a source tree (Universal Ctags' start and end lines).

Usage: scripts/function-lengths.py [--over N] [--top K] [PATH...]   (default: src/, over 80)
Prints how many functions exceed 80 and 120 lines, then those over N, longest first. Lambdas are
counted within their enclosing function, not on their own.
"""
import argparse
import subprocess
import sys


def lengths(paths):
    out = subprocess.run(
        ["ctags", "-R", "--languages=C++", "--kinds-C++=f", "--fields=+ne", "-f", "-", *paths],
        check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        name, path = parts[0], parts[1]
        if name.startswith("__anon"):
            continue
        fields = dict(p.split(":", 1) for p in parts[3:] if ":" in p)
        if "line" not in fields or "end" not in fields:
            continue
        start, end = int(fields["line"]), int(fields["end"])
        rows.append((end - start + 1, name, f"{path}:{start}"))
    return sorted(rows, reverse=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--over", type=int, default=80)
    ap.add_argument("--top", type=int, default=0, help="list at most K (0: all over N)")
    ap.add_argument("paths", nargs="*", default=["src"])
    a = ap.parse_args()
    rows = lengths(a.paths)
    print(f"functions: {len(rows)}; over 80 lines: {sum(n > 80 for n, *_ in rows)}; "
          f"over 120 lines: {sum(n > 120 for n, *_ in rows)}")
    shown = [r for r in rows if r[0] > a.over]
    for n, name, where in shown[: a.top or None]:
        print(f"{n:5d}  {name}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

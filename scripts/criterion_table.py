#!/usr/bin/env python3
"""Prints criterion results (target/criterion) as a table of time per element.

    python3 scripts/criterion_table.py [group-prefix ...]

Reads each benchmark's median estimate and throughput from target/criterion/**/new/ and prints
`group/bench  median  per-element` lines, for pasting into docs/benchmarks.md.
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "criterion")


def main():
    prefixes = sys.argv[1:]
    for dirpath, _, files in sorted(os.walk(ROOT)):
        if not dirpath.endswith(os.sep + "new") or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        name = bench["full_id"]
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median_ns = json.load(f)["median"]["point_estimate"]
        thr = bench.get("throughput") or {}
        elems = thr.get("Elements") or thr.get("Bytes")
        per = f"{median_ns / elems:8.2f} ns/elem" if elems else ""
        print(f"{name:45} {median_ns / 1e6:10.3f} ms {per}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Overhead of a backtest submitted through the API, beyond the engine's own time.

Submits N backtests one after another to a running `skeet serve` (in-process workers) and,
for each, measures

    overhead = submit round trip (validation, which reads the bars, + queueing)
             + (finished_at - created_at)      (queue wait, claim, loading bars, storing the report)
             - engine_seconds                  (compile + simulation, from the report)

The job timestamps are the server's own (milliseconds), so polling does not count.

Usage: scripts/bench_backtest_api.py URL EMAIL PASSWORD [N]
"""

import json
import statistics
import sys
import time
import urllib.request


def call(url, method="GET", body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def main():
    base, email, password = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    token = call(f"{base}/api/auth/login", "POST", {"email": email, "password": password})["token"]
    ws = call(f"{base}/api/me", token=token)["workspaces"][0]["workspace_id"]
    ds = call(f"{base}/api/workspaces/{ws}/datasets", token=token)["items"][0]
    body = {"strategy": "sma_cross", "dataset": ds["id"], "params": {"fast": 10, "slow": 30}}
    rows = []
    for _ in range(n):
        t0 = time.perf_counter()
        job = call(f"{base}/api/workspaces/{ws}/backtests", "POST", body, token)
        submit_ms = (time.perf_counter() - t0) * 1000
        while True:
            job = call(f"{base}/api/workspaces/{ws}/backtests/{job['id']}", token=token)
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.005)
        assert job["state"] == "succeeded", job
        engine_ms = job["result"]["engine_seconds"] * 1000
        server_ms = job["finished_at"] - job["created_at"]
        rows.append((submit_ms, server_ms, engine_ms, submit_ms + server_ms - engine_ms))
    over = sorted(r[3] for r in rows)
    print(f"dataset: {ds['symbol']} {ds['timeframe']}, {ds['bars']} bars; {n} backtests (sma_cross)")
    print(f"submit round trip: median {statistics.median(r[0] for r in rows):.1f} ms")
    print(f"created -> finished: median {statistics.median(r[1] for r in rows):.1f} ms")
    print(f"engine time: median {statistics.median(r[2] for r in rows):.1f} ms")
    print(
        f"overhead beyond the engine: median {statistics.median(over):.1f} ms, "
        f"p90 {over[int(0.9 * (n - 1))]:.1f} ms, max {over[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()

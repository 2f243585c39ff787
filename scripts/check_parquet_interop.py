#!/usr/bin/env python3
"""Check that SKEET's Parquet market store is readable by pyarrow, pandas, polars and DuckDB,
and that `skeet data inspect`'s sha256 matches the documented series-hash layout.

Usage (from the repository root, after `cargo build -p skeet-cli`):

    python scripts/check_parquet_interop.py            # builds a small store in a temp dir
    python scripts/check_parquet_interop.py DATA_DIR   # checks an existing data directory

Needs pyarrow, pandas and duckdb; polars is checked when installed. The skeet binary is
taken from $SKEET_BIN, else target/release/skeet, else target/debug/skeet.
Exits non-zero on the first mismatch and ends with a line `N passed, 0 failed`.
"""
import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
PASSED = 0


def check(condition, what):
    global PASSED
    if not condition:
        print(f"FAIL: {what}")
        print(f"{PASSED} passed, 1 failed")
        sys.exit(1)
    PASSED += 1
    print(f"ok: {what}")


def skeet_bin():
    for candidate in (os.environ.get("SKEET_BIN"), REPO / "target/release/skeet",
                      REPO / "target/debug/skeet"):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    sys.exit("no skeet binary: run `cargo build -p skeet-cli` or set SKEET_BIN")


def skeet(data_dir, *args):
    return subprocess.run([skeet_bin(), "--data-dir", str(data_dir), *args], check=True,
                          capture_output=True, text=True).stdout


def build_store(data_dir):
    market = REPO / "test_data/market"
    skeet(data_dir, "data", "import", str(market / "goog_daily_2004_2013.csv"),
          "--symbol", "GOOG", "--timeframe", "1d")
    skeet(data_dir, "data", "import", str(market / "binance_eurusdt_1h_ms.csv"),
          "--symbol", "EUR/USDT", "--timeframe", "1h", "--venue", "binance")
    skeet(data_dir, "data", "generate", "--symbol", "BTC/USDT", "--timeframe", "1m",
          "--bars", "5000", "--seed", "7", "--model", "regime")


def series_hash(table):
    cols = [table.column(c).to_pylist() for c in ("open", "high", "low", "close", "volume")]
    ts = table.column("ts").cast(pa.int64()).to_pylist()
    h = hashlib.sha256()
    for i, t in enumerate(ts):
        h.update(struct.pack("<qddddd", t, *(c[i] for c in cols)))
    return h.hexdigest()


def main():
    if len(sys.argv) > 1:
        data_dir = Path(sys.argv[1])
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="skeet-interop-"))
        build_store(data_dir)
    market = data_dir / "market"
    files = sorted(market.glob("venue=*/symbol=*/timeframe=*/bars.parquet"))
    check(len(files) > 0, f"found {len(files)} bar files under {market}")

    for path in files:
        parts = dict(p.split("=", 1) for p in path.parent.relative_to(market).parts)
        table = pq.read_table(path, partitioning=None)
        schema = table.schema
        check(schema.field("ts").type == pa.timestamp("ns", tz="UTC"),
              f"{path.parent.name}: pyarrow reads ts as timestamp[ns, UTC]")
        check(all(schema.field(c).type == pa.float64()
                  for c in ("open", "high", "low", "close", "volume")),
              f"{path.parent.name}: OHLCV are float64")
        meta = pq.read_metadata(path)
        kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
        check(kv.get("skeet.format_version") == "1" and kv.get("skeet.venue") == parts["venue"]
              and kv.get("skeet.timeframe") == parts["timeframe"],
              f"{path.parent.name}: key-value metadata {kv}")
        check(meta.row_group(0).column(1).compression == "SNAPPY", "snappy compression")
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        check(all(a < b for a, b in zip(ts, ts[1:])), "timestamps strictly increase")

        symbol = parts["symbol"].replace("_", "/")
        inspect = skeet(data_dir, "data", "inspect", symbol, parts["timeframe"],
                        "--venue", parts["venue"])
        want = re.search(r"sha256\s+([0-9a-f]{64})", inspect).group(1)
        check(series_hash(table) == want, f"series hash of {symbol} matches skeet's {want[:12]}")

    frame = pd.read_parquet(market)
    check({"venue", "symbol", "timeframe", "ts", "close"} <= set(frame.columns),
          f"pandas reads the hive-partitioned store: {len(frame)} rows, columns "
          f"{list(frame.columns)}")
    check(str(frame["ts"].dtype) in ("datetime64[ns, UTC]", "datetime64[ns, tz=UTC]"),
          f"pandas ts dtype {frame['ts'].dtype}")

    glob = str(market / "**" / "*.parquet")
    rows = duckdb.sql(
        f"select venue, symbol, timeframe, count(*) n, min(ts) first, max(ts) last "
        f"from read_parquet('{glob}', hive_partitioning=true) group by all order by all"
    ).fetchall()
    print(duckdb.sql(f"select * from read_parquet('{glob}', hive_partitioning=true) limit 3"))
    check(len(rows) == len(files), f"DuckDB sees every series: {rows}")
    total = sum(r[3] for r in rows)
    check(total == len(frame), f"DuckDB and pandas agree on {total} rows")

    try:
        import polars as pl
    except ImportError:
        print("skip: polars is not installed")
    else:
        lf = pl.scan_parquet(glob, hive_partitioning=True).collect()
        check(lf.height == total and lf.schema["ts"] == pl.Datetime("ns", "UTC"),
              f"polars reads {lf.height} rows, ts {lf.schema['ts']}")

    print(f"{PASSED} passed, 0 failed")


if __name__ == "__main__":
    main()

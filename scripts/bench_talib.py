#!/usr/bin/env python3
"""TA-Lib's speed on the array SKEET's indicator benchmark uses (xorshift64* walk, seed 42).

    /tmp/ta-ref/bin/python scripts/bench_talib.py   # venv from scripts/ta_reference.py

Prints nanoseconds per point for each indicator (median and best of 21 runs over 1,000,000 points,
through TA-Lib's Python wrapper; the C function dominates at this size).
"""
import time

import numpy as np
import talib

N = 1_000_000
MASK = (1 << 64) - 1


def walk(n):
    state = 42

    def nxt():
        nonlocal state
        state ^= state >> 12
        state ^= (state << 25) & MASK
        state ^= state >> 27
        return (((state * 0x2545F4914F6CDD1D) & MASK) >> 11) / float(1 << 53)

    o, h, l, c, v = (np.empty(n) for _ in range(5))
    price = 100.0
    for i in range(n):
        op = price
        # Additive walk pulled gently back to 100: stays positive, no transcendental math,
        # so Python and Rust produce bit-identical arrays.
        cl = op + (nxt() - 0.5) * 0.5 + (100.0 - op) * 0.001
        hi = max(op, cl) * (1.0 + nxt() * 0.005)
        lo = min(op, cl) * (1.0 - nxt() * 0.005)
        vo = 1000.0 + nxt() * 1000.0
        o[i], h[i], l[i], c[i], v[i] = op, hi, lo, cl, vo
        price = cl
    return o, h, l, c, v


def timed(f, runs=21):
    """(median, best) nanoseconds per point over `runs` calls."""
    t = []
    for _ in range(runs):
        s = time.perf_counter_ns()
        f()
        t.append(time.perf_counter_ns() - s)
    t.sort()
    return t[len(t) // 2] / N, t[0] / N


def main():
    o, h, l, c, v = walk(N)
    cases = {
        "sma(close,10)": lambda: talib.SMA(c, 10),
        "ema(close,10)": lambda: talib.EMA(c, 10),
        "rsi(close,14)": lambda: talib.RSI(c, 14),
        "macd(close,12,26,9)": lambda: talib.MACD(c, 12, 26, 9),
        "bbands(close,20,2,2)": lambda: talib.BBANDS(c, 20, 2, 2, 0),
        "atr(14)": lambda: talib.ATR(h, l, c, 14),
        "stoch(14,3,3)": lambda: talib.STOCH(h, l, c, 14, 3, 0, 3, 0),
        "adx(14)": lambda: talib.ADX(h, l, c, 14),
        "cci(20)": lambda: talib.CCI(h, l, c, 20),
        "mfi(14)": lambda: talib.MFI(h, l, c, v, 14),
        "wma(close,10)": lambda: talib.WMA(c, 10),
        "willr(14)": lambda: talib.WILLR(h, l, c, 14),
        "obv()": lambda: talib.OBV(c, v),
        "sar()": lambda: talib.SAR(h, l, 0.02, 0.2),
        "linreg_slope(close,14)": lambda: talib.LINEARREG_SLOPE(c, 14),
    }
    print(f"checksum close[-1] = {c[-1]!r}")
    print(f"{'indicator':24} {'median':>8} {'best':>8}  (ns/point)")
    for name, f in cases.items():
        med, best = timed(f)
        print(f"{name:24} {med:8.2f} {best:8.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference values for the tests of crates/backtest/src/stats.rs, computed with SciPy.

Usage (any Python 3.11+; the values in the tests were made with scipy 1.17.1, numpy 2.4.6):

    python3 -m venv /tmp/dsr-ref && /tmp/dsr-ref/bin/pip install scipy numpy
    /tmp/dsr-ref/bin/python scripts/dsr_reference.py

It prints, with repr() (shortest round-trip form):

1. the standard normal CDF and inverse CDF at fixed points (scipy.stats.norm);
2. the sample moments and the per-period Sharpe ratio of a fixed, closed-form return series;
3. the expected maximum Sharpe ratio SR0, the probabilistic Sharpe ratio PSR and the deflated
   Sharpe ratio DSR of Bailey & Lopez de Prado (2014), for the paper's numerical example and for
   the series above with a fixed list of trial Sharpe ratios.

Definitions (the same as stats.rs):
- skewness g3 = m3 / m2^1.5 and kurtosis g4 = m4 / m2^2 (NOT excess; 3 for a normal), with the
  biased central moments m_k = mean((x - mean)^k): scipy.stats.skew / kurtosis(fisher=False)
  with their default bias=True;
- Sharpe = mean / std with std the sample standard deviation (ddof=1), per period;
- V[SR] = sample variance (ddof=1) of the trial Sharpe ratios;
- SR0 = sqrt(V[SR]) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e))), g the Euler-Mascheroni
  constant; 0 for N = 1;
- PSR(SR*) = Z((SR - SR*) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2));
- DSR = PSR(SR0).
"""
import math

import numpy as np
from scipy import stats

EULER_GAMMA = np.euler_gamma


def series():
    """The closed-form test series (T = 60), with one loss every 17 periods (negative skew)."""
    out = []
    for t in range(60):
        r = 0.0035 + 0.01 * math.sin(0.7 * t + 0.3) + 0.006 * math.cos(1.3 * t) ** 3
        if t % 17 == 5:
            r -= 0.03
        out.append(r)
    return np.array(out)


def expected_max_sharpe(n, var):
    if n == 1:
        return 0.0
    # Z^-1(1 - p) written as -Z^-1(p): exact for large N, where 1 - 1/N rounds.
    return float(math.sqrt(var) * (
        (1 - EULER_GAMMA) * -stats.norm.ppf(1 / n) + EULER_GAMMA * -stats.norm.ppf(1 / (n * math.e))
    ))


def psr(sr, sr_star, t, skew, kurt):
    return float(stats.norm.cdf((sr - sr_star) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))


def main():
    print("# normal CDF")
    for x in [-37.0, -10.0, -5.0, -1.96, -1.0, 0.0, 0.5, 1.0, 1.96, 3.0, 8.0]:
        print(f"({x!r}, {float(stats.norm.cdf(x))!r}),")
    print("# normal inverse CDF")
    for p in [1e-300, 1e-20, 1e-10, 1e-5, 0.001, 0.025, 0.075, 0.3, 0.5, 0.9, 0.925, 0.975, 0.999, 1 - 1e-10]:
        print(f"({p!r}, {float(stats.norm.ppf(p))!r}),")

    print("# paper example: SR 2.5 annualised, 250 periods a year, T = 1250, N = 100, V = 0.5 annualised")
    sr = 2.5 / math.sqrt(250)
    var = 0.5 / 250
    sr0 = expected_max_sharpe(100, var)
    paper_form = math.sqrt(var) * (
        (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / 100) + EULER_GAMMA * stats.norm.ppf(1 - 1 / (100 * math.e))
    )
    print(f"sr = {sr!r}, var = {var!r}")
    print(f"sr0 = {sr0!r} (as written in the paper: {float(paper_form)!r}), annualised {sr0 * math.sqrt(250)!r}")
    print(f"dsr = {psr(sr, sr0, 1250, -3.0, 10.0)!r}")
    print(f"psr(0) = {psr(sr, 0.0, 1250, -3.0, 10.0)!r}")

    r = series()
    print("# series")
    mean = float(r.mean())
    std = float(r.std(ddof=1))
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r, fisher=False))
    sr = mean / std
    print(f"mean = {mean!r}")
    print(f"std = {std!r}")
    print(f"skew = {skew!r}")
    print(f"kurtosis = {kurt!r}")
    print(f"excess_kurtosis = {float(stats.kurtosis(r))!r}")
    print(f"sharpe = {sr!r}")
    print(f"psr(0) = {psr(sr, 0.0, len(r), skew, kurt)!r}")
    trials = np.array([0.21, -0.05, 0.12, 0.02, 0.08, -0.11, 0.15, 0.0, 0.04, sr])
    var = float(trials.var(ddof=1))
    sr0 = expected_max_sharpe(len(trials), var)
    print(f"trial variance = {var!r}")
    print(f"sr0 = {sr0!r}")
    print(f"dsr = {psr(sr, sr0, len(r), skew, kurt)!r}")
    print(f"sr0(N = 2, V = 1) = {expected_max_sharpe(2, 1.0)!r}")
    print(f"sr0(N = 1000000, V = 1) = {expected_max_sharpe(1_000_000, 1.0)!r}")


if __name__ == "__main__":
    main()

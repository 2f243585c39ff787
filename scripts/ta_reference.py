#!/usr/bin/env python3
"""Reference values for SKEET's indicator tests, computed by TA-Lib and pandas-ta.

Usage (Python 3.12 with the exact versions the fixtures were made with):

    python3.12 -m venv /tmp/ta-ref && /tmp/ta-ref/bin/pip install ta-lib==0.6.8 pandas-ta==0.4.71b0
    /tmp/ta-ref/bin/python scripts/ta_reference.py

It reads the real price series in test_data/market/ and writes one CSV per series to
crates/ta/tests/fixtures/: the input bars followed by one column per indicator output, named
exactly as `skeet indicators` names them. Values are printed with repr() (shortest round-trip
form), empty where the reference library gives no value (its warm-up period).

TA-Lib (C library 0.6.4, shipped inside the ta-lib 0.6.8 wheel) is the reference for everything
it implements. For indicators it lacks, pandas-ta is used with TA-Lib installed, so pandas-ta's
own internal ATR/EMA calls also go through TA-Lib (as SKEET's do).
"""
import csv
import math
import os
import sys

import numpy as np
import pandas as pd
import talib
import pandas_ta as pta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "ta", "tests", "fixtures")

SERIES = {
    "goog_daily": "test_data/market/goog_daily_2004_2013.csv",
    "eurusd_hourly": "test_data/market/eurusd_hourly_2017_2018.csv",
}


def load(path):
    df = pd.read_csv(os.path.join(ROOT, path), index_col=0, parse_dates=True)
    df.columns = [c.lower() for c in df.columns]
    return df.astype(float)


def talib_columns(df):
    o, h, l, c, v = (df[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    hlc3 = (h + l + c) / 3.0
    cols = {}
    cols["sma_close_10"] = talib.SMA(c, 10)
    cols["sma_close_30"] = talib.SMA(c, 30)
    cols["ema_close_10"] = talib.EMA(c, 10)
    cols["ema_close_50"] = talib.EMA(c, 50)
    cols["ema_hlc3_10"] = talib.EMA(hlc3, 10)
    cols["wma_close_10"] = talib.WMA(c, 10)
    cols["wma_close_30"] = talib.WMA(c, 30)
    cols["dema_close_10"] = talib.DEMA(c, 10)
    cols["tema_close_10"] = talib.TEMA(c, 10)
    cols["rsi_close_14"] = talib.RSI(c, 14)
    cols["rsi_close_2"] = talib.RSI(c, 2)
    for fast, slow, sig in ((12, 26, 9), (5, 35, 5)):
        m, s, hist = talib.MACD(c, fast, slow, sig)
        base = f"macd_close_{fast}_{slow}_{sig}"
        cols[base + "_macd"], cols[base + "_signal"], cols[base + "_hist"] = m, s, hist
    for n, up, dn in ((20, 2, 2), (10, 1.5, 2.5)):
        u, m, lo = talib.BBANDS(c, n, up, dn, 0)
        base = f"bbands_close_{n}_{fmt(up)}_{fmt(dn)}"
        cols[base + "_upper"], cols[base + "_middle"], cols[base + "_lower"] = u, m, lo
    cols["stddev_close_20_1"] = talib.STDDEV(c, 20, 1)
    cols["stddev_close_5_2"] = talib.STDDEV(c, 5, 2)
    cols["trange"] = talib.TRANGE(h, l, c)
    cols["atr_14"] = talib.ATR(h, l, c, 14)
    cols["atr_5"] = talib.ATR(h, l, c, 5)
    cols["natr_14"] = talib.NATR(h, l, c, 14)
    for fk, sk, sd in ((14, 3, 3), (5, 3, 3)):
        k, d = talib.STOCH(h, l, c, fk, sk, 0, sd, 0)
        cols[f"stoch_{fk}_{sk}_{sd}_k"], cols[f"stoch_{fk}_{sk}_{sd}_d"] = k, d
    k, d = talib.STOCHRSI(c, 14, 5, 3, 0)
    cols["stochrsi_close_14_5_3_k"], cols["stochrsi_close_14_5_3_d"] = k, d
    cols["adx_14"] = talib.ADX(h, l, c, 14)
    cols["adx_5"] = talib.ADX(h, l, c, 5)
    cols["plus_di_14"] = talib.PLUS_DI(h, l, c, 14)
    cols["minus_di_14"] = talib.MINUS_DI(h, l, c, 14)
    cols["cci_14"] = talib.CCI(h, l, c, 14)
    cols["cci_20"] = talib.CCI(h, l, c, 20)
    cols["obv"] = talib.OBV(c, v)
    cols["mfi_14"] = talib.MFI(h, l, c, v, 14)
    cols["willr_14"] = talib.WILLR(h, l, c, 14)
    cols["roc_close_10"] = talib.ROC(c, 10)
    cols["mom_close_10"] = talib.MOM(c, 10)
    cols["linreg_slope_close_14"] = talib.LINEARREG_SLOPE(c, 14)
    cols["sar_0.02_0.2"] = talib.SAR(h, l, 0.02, 0.2)
    cols["sma_rsi_close_14_5"] = talib.SMA(talib.RSI(c, 14), 5)
    return cols


def pandas_ta_columns(df):
    h, l, c, v = df["high"], df["low"], df["close"], df["volume"]
    cols = {}
    dc = pta.donchian(h, l, lower_length=20, upper_length=20)
    cols["donchian_20_upper"] = dc["DCU_20_20"].to_numpy()
    cols["donchian_20_middle"] = dc["DCM_20_20"].to_numpy()
    cols["donchian_20_lower"] = dc["DCL_20_20"].to_numpy()
    kc = pta.kc(h, l, c, length=20, scalar=2, mamode="ema")
    cols["keltner_20_2_upper"] = kc.iloc[:, 2].to_numpy()
    cols["keltner_20_2_middle"] = kc.iloc[:, 1].to_numpy()
    cols["keltner_20_2_lower"] = kc.iloc[:, 0].to_numpy()
    st = pta.supertrend(h, l, c, length=7, multiplier=3.0)
    cols["supertrend_7_3_value"] = np.asarray(st.iloc[:, 0], dtype=float)
    cols["supertrend_7_3_direction"] = np.asarray(st.iloc[:, 1], dtype=float)
    ichi, _ = pta.ichimoku(h, l, c, tenkan=9, kijun=26, senkou=52)
    cols["ichimoku_9_26_52_tenkan"] = ichi["ITS_9"].to_numpy()
    cols["ichimoku_9_26_52_kijun"] = ichi["IKS_26"].to_numpy()
    cols["ichimoku_9_26_52_senkou_a"] = ichi["ISA_9"].to_numpy()
    cols["ichimoku_9_26_52_senkou_b"] = ichi["ISB_26"].to_numpy()
    cols["vwap_0"] = pta.vwap(h, l, c, v, anchor="D").to_numpy()
    return cols


def fmt(x):
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return repr(x)


def cell(x):
    x = float(x)
    return "" if math.isnan(x) else repr(x)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, path in SERIES.items():
        df = load(path)
        cols = talib_columns(df)
        cols.update(pandas_ta_columns(df))
        out = os.path.join(OUT, f"{name}_reference.csv")
        with open(out, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["timestamp", "open", "high", "low", "close", "volume", *cols])
            for i, ts in enumerate(df.index):
                row = [ts.strftime("%Y-%m-%dT%H:%M:%SZ")]
                row += [repr(float(df[k].iat[i])) for k in ("open", "high", "low", "close", "volume")]
                row += [cell(col[i]) for col in cols.values()]
                w.writerow(row)
        print(f"wrote {out}: {len(df)} rows, {len(cols)} indicator columns", file=sys.stderr)
    print(f"ta-lib {talib.__version__} (C {talib.__ta_version__.decode()}), pandas-ta {pta.version}",
          file=sys.stderr)


if __name__ == "__main__":
    main()

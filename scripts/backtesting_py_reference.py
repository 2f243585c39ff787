#!/usr/bin/env python3
"""Reference results from backtesting.py 0.6.6 for SKEET's conformance tests.

    python3 -m venv /tmp/bt && /tmp/bt/bin/pip install backtesting==0.6.6 ta-lib==0.6.8
    /tmp/bt/bin/python scripts/backtesting_py_reference.py

Strategy (matching semantics, see docs/backtesting.md "Conformance"): SMA 10/20 crossover that
reverses long <-> short: on a cross up, close any short and buy; on a cross down, close any long
and sell; all-in sizing (backtesting.py's default `size`, whole units), commission 0.002 on
entry and exit, cash 10,000, fills at the next bar's open (`trade_on_close=False`) or at the
signal bar's close (`trade_on_close=True`). The SMA is TA-Lib's, bit-identical to SKEET's, so
the comparison tests the engines and not two rolling-mean implementations' last bits.

Writes test_data/conformance/<series>_<fill>.json with the closed trades (entry/exit bar index,
prices, size, P&L after commissions) and the final equity.
"""
import json
import os

import pandas as pd
import talib
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIES = {
    "goog_daily": "test_data/market/goog_daily_2004_2013.csv",
    "eurusd_hourly": "test_data/market/eurusd_hourly_2017_2018.csv",
}


def SMA(values, n):
    return talib.SMA(values.astype(float), n)


class SmaCross(Strategy):
    fast = 10
    slow = 20

    def init(self):
        close = self.data.Close
        self.ma1 = self.I(SMA, close, self.fast)
        self.ma2 = self.I(SMA, close, self.slow)

    def next(self):
        if crossover(self.ma1, self.ma2):
            self.position.close()
            self.buy()
        elif crossover(self.ma2, self.ma1):
            self.position.close()
            self.sell()


def main():
    out_dir = os.path.join(ROOT, "test_data", "conformance")
    os.makedirs(out_dir, exist_ok=True)
    for name, path in SERIES.items():
        df = pd.read_csv(os.path.join(ROOT, path), index_col=0, parse_dates=True)
        for fill, on_close in (("next-open", False), ("close", True)):
            bt = Backtest(df, SmaCross, cash=10_000, commission=0.002,
                          trade_on_close=on_close, finalize_trades=False)
            stats = bt.run()
            trades = stats["_trades"]
            result = {
                "source": "backtesting.py 0.6.6",
                "series": path,
                "fill": fill,
                "cash": 10000,
                "commission": 0.002,
                "final_equity": float(stats["Equity Final [$]"]),
                "return_pct": float(stats["Return [%]"]),
                "n_trades": int(stats["# Trades"]),
                "trades": [
                    {
                        "size": int(t.Size),
                        "entry_bar": int(t.EntryBar),
                        "exit_bar": int(t.ExitBar),
                        "entry_price": float(t.EntryPrice),
                        "exit_price": float(t.ExitPrice),
                        "pnl": float(t.PnL),
                        "commission": float(t.Commission),
                    }
                    for t in trades.itertuples()
                ],
                "open_position_size": int(sum(t.size for t in bt._results._strategy.trades)),
            }
            dest = os.path.join(out_dir, f"{name}_{fill}.json")
            with open(dest, "w") as f:
                json.dump(result, f, indent=1)
                f.write("\n")
            print(f"{dest}: {result['n_trades']} trades, final equity {result['final_equity']:.2f}")


if __name__ == "__main__":
    main()

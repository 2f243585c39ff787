#!/usr/bin/env python3
"""Derive the Binance-kline and Yahoo-format fixtures in test_data/market/ from the real
price files there (no network needed; standard library only).

Binance kline dumps (data.binance.vision) have no header and 12 columns:
open_time, open, high, low, close, volume, close_time, quote_volume, count,
taker_buy_base, taker_buy_quote, ignore; times in milliseconds (microseconds for spot dumps
from 2025-01-01 on), numbers with 8 decimals. The EUR/USD hourly bars are real; the columns
Binance has and the source lacks are derived: close_time = open_time + 1h - 1 unit,
quote_volume = volume * close, count = volume, taker_buy_base = volume / 2,
taker_buy_quote = quote_volume / 2, ignore = 0.

The Yahoo file uses real GOOG daily bars in Yahoo's column layout with Adj Close = Close
(the source has no adjusted close) and one `null` row, as Yahoo writes for a day without
trading, inserted on a real market holiday (2004-09-06, Labor Day).

Run from the repository root: python3 scripts/make_market_fixtures.py
"""
import csv
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "test_data" / "market"
ROWS = 120  # five days of hourly bars, including a weekend gap

HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
          "taker_buy_base,taker_buy_quote,ignore")


def kline_rows(scale):
    with open(ROOT / "eurusd_hourly_2017_2018.csv", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for i, (ts, o, h, l, c, v) in enumerate(reader):
            if i == ROWS:
                break
            t = datetime.strptime(ts, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            open_time = int(t.timestamp()) * scale
            close_time = open_time + 3600 * scale - 1
            vol = float(v)
            quote = vol * float(c)
            yield ",".join([
                str(open_time),
                f"{float(o):.8f}", f"{float(h):.8f}", f"{float(l):.8f}", f"{float(c):.8f}",
                f"{vol:.8f}", str(close_time), f"{quote:.8f}", str(int(vol)),
                f"{vol / 2:.8f}", f"{quote / 2:.8f}", "0",
            ])


def write(name, lines):
    (ROOT / name).write_text("\n".join(lines) + "\n")


def main():
    write("binance_eurusdt_1h_ms.csv", list(kline_rows(1000)))
    write("binance_eurusdt_1h_us.csv", list(kline_rows(1_000_000)))
    write("binance_eurusdt_1h_header.csv", [HEADER] + list(kline_rows(1000)))

    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    with open(ROOT / "goog_daily_2004_2013.csv", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for i, (date, o, h, l, c, v) in enumerate(reader):
            if i == 30:
                break
            if date == "2004-09-07":
                lines.append("2004-09-06,null,null,null,null,null,null")
            lines.append(",".join([date, o, h, l, c, c, v]))
    write("yahoo_goog_daily_2004.csv", lines)


if __name__ == "__main__":
    main()

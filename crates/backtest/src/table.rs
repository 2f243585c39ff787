//! Readable fixed-width terminal rendering of a run's [`Metrics`] and its last trades.
//!
//! Formatting for traders: percentages with two decimals (`12.50%`), money with two decimals
//! (`12,345.67`), ratios with two decimals (all three with thousands separators), durations as `12d 4h`,
//! and `—` for an undefined metric. Times are RFC 3339 in UTC, shortened to the date
//! (`2024-01-31`) when every time shown is at midnight (daily data).
//!
//! The output is plain text with `\n` line ends and no trailing spaces, deterministic for the
//! same input (snapshot-testable). Widths count `char`s, so a title or exit reason with wide
//! (CJK) characters may misalign.

use std::fmt::Write as _;

use rust_decimal::{Decimal, RoundingStrategy};
use skeet_core::{Side, UnixNanos};

use crate::metrics::{Metrics, TradeRecord};

/// Width of the metric-name column.
const NAME_WIDTH: usize = 24;
/// Width of the right-aligned value column.
const VALUE_WIDTH: usize = 24;
/// How many of the most recent trades are listed.
const LAST_TRADES: usize = 10;
const NONE: &str = "—";
const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Renders `metrics` as a two-column table (name, value) under `title`, followed by the last
/// ten of `trades` (entry and exit time, side, quantity, prices, PnL, return, exit reason).
pub fn render(metrics: &Metrics, trades: &[TradeRecord], title: &str) -> String {
    let shown = &trades[trades.len().saturating_sub(LAST_TRADES)..];
    let dates_only = [metrics.start, metrics.end]
        .into_iter()
        .chain(shown.iter().flat_map(|t| [t.entry_ts, t.exit_ts]))
        .all(|ts| ts.as_nanos().rem_euclid(NANOS_PER_DAY) == 0);
    let time = |ts: UnixNanos| format_time(ts, dates_only);

    let m = metrics;
    let rows: Vec<(&str, String)> = vec![
        ("Start", time(m.start)),
        ("End", time(m.end)),
        ("Duration", format_duration_days(m.duration_days)),
        ("Bars", group_thousands(&m.bars.to_string())),
        ("Initial equity", format_money(m.initial_equity)),
        ("Final equity", format_money(m.final_equity)),
        ("Peak equity", format_money(m.peak_equity)),
        ("Total return", opt(m.total_return_pct, format_pct)),
        (
            "Buy & hold return",
            opt(m.buy_and_hold_return_pct, format_pct),
        ),
        ("CAGR", opt(m.cagr_pct, format_pct)),
        ("Volatility (ann.)", opt(m.volatility_pct, format_pct)),
        ("Sharpe ratio", opt(m.sharpe, format_ratio)),
        ("Sortino ratio", opt(m.sortino, format_ratio)),
        ("Calmar ratio", opt(m.calmar, format_ratio)),
        ("Max drawdown", format_pct(m.max_drawdown_pct)),
        (
            "Max drawdown duration",
            format!(
                "{} ({} bars)",
                format_duration_days(m.max_drawdown_duration_days),
                group_thousands(&m.max_drawdown_duration_bars.to_string())
            ),
        ),
        ("Exposure", opt(m.exposure_pct, format_pct)),
        ("Trades", group_thousands(&m.trades.to_string())),
        ("Win rate", opt(m.win_rate_pct, format_pct)),
        ("Profit factor", opt(m.profit_factor, format_ratio)),
        ("Expectancy", opt(m.expectancy, format_money)),
        ("Avg trade", opt(m.avg_trade_pct, format_pct)),
        ("Best trade", opt(m.best_trade_pct, format_pct)),
        ("Worst trade", opt(m.worst_trade_pct, format_pct)),
        (
            "Avg holding time",
            match (m.avg_holding_days, m.avg_holding_bars) {
                (Some(days), Some(bars)) => {
                    format!("{} ({bars:.1} bars)", format_duration_days(days))
                }
                _ => NONE.to_owned(),
            },
        ),
        ("SQN", opt(m.sqn, format_ratio)),
        ("Total fees", format_money(m.total_fees)),
    ];

    let width = NAME_WIDTH + VALUE_WIDTH;
    let mut out = String::new();
    out.push_str(title);
    out.push('\n');
    out.push_str(&"=".repeat(width.max(title.chars().count())));
    out.push('\n');
    for (name, value) in rows {
        push_line(
            &mut out,
            &format!("{name:<NAME_WIDTH$}{value:>VALUE_WIDTH$}"),
        );
    }
    out.push('\n');
    if trades.is_empty() {
        out.push_str("No trades.\n");
    } else {
        if shown.len() < trades.len() {
            let _ = writeln!(out, "Last {} of {} trades", shown.len(), trades.len());
        } else {
            let _ = writeln!(out, "Trades ({})", trades.len());
        }
        render_trades(&mut out, shown, &time);
    }
    out
}

fn render_trades(out: &mut String, trades: &[TradeRecord], time: &dyn Fn(UnixNanos) -> String) {
    let with_instrument = trades.iter().any(|t| t.instrument != trades[0].instrument);
    let mut header = vec![
        Cell::left("Entry"),
        Cell::left("Exit"),
        Cell::left("Side"),
        Cell::right("Qty"),
        Cell::right("Entry px"),
        Cell::right("Exit px"),
        Cell::right("PnL"),
        Cell::right("Return"),
        Cell::left("Exit reason"),
    ];
    if with_instrument {
        header.insert(2, Cell::left("Instrument"));
    }
    let mut table = vec![header];
    for t in trades {
        let mut row = vec![
            Cell::left(time(t.entry_ts)),
            Cell::left(time(t.exit_ts)),
            Cell::left(match t.side {
                Side::Buy => "long",
                Side::Sell => "short",
            }),
            Cell::right(group_thousands(&t.quantity.normalize().to_string())),
            Cell::right(format_price(t.entry_price)),
            Cell::right(format_price(t.exit_price)),
            Cell::right(format_decimal_money(t.pnl)),
            Cell::right(format_pct(t.return_pct())),
            Cell::left(t.exit_reason.clone()),
        ];
        if with_instrument {
            row.insert(2, Cell::left(t.instrument.clone()));
        }
        table.push(row);
    }
    let columns = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].text.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let mut line = String::new();
        for (c, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let text = &cell.text;
            if cell.right {
                let _ = write!(line, "{text:>width$}");
            } else {
                let _ = write!(line, "{text:<width$}");
            }
        }
        push_line(out, &line);
    }
}

struct Cell {
    text: String,
    right: bool,
}

impl Cell {
    fn left(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            right: false,
        }
    }

    fn right(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            right: true,
        }
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

fn opt(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or_else(|| NONE.to_owned(), format)
}

fn format_time(ts: UnixNanos, date_only: bool) -> String {
    if date_only {
        ts.to_datetime().date_naive().to_string()
    } else {
        ts.to_rfc3339()
    }
}

/// `1,234.50%`.
fn format_pct(value: f64) -> String {
    format!("{}%", format_ratio(value))
}

/// `1,234.57`.
fn format_ratio(value: f64) -> String {
    group_thousands(&format_fixed(value, 2))
}

/// `-12,345.67` (the same shape as a ratio; a separate name says what the value is).
fn format_money(value: f64) -> String {
    format_ratio(value)
}

/// Exact money: two decimals, midpoint away from zero, thousands separators.
fn format_decimal_money(value: Decimal) -> String {
    let mut rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    group_thousands(&rounded.to_string())
}

/// A price exactly as given, with at least two decimals and thousands separators.
fn format_price(value: Decimal) -> String {
    let mut p = value.normalize();
    if p.scale() < 2 {
        p.rescale(2);
    }
    group_thousands(&p.to_string())
}

/// Fixed decimals without a negative zero (`-0.001` prints as `0.00`); `—` if not finite.
fn format_fixed(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return NONE.to_owned();
    }
    let s = format!("{value:.decimals$}");
    match s.strip_prefix('-') {
        Some(abs) if abs.chars().all(|c| c == '0' || c == '.') => abs.to_owned(),
        _ => s,
    }
}

/// Inserts `,` every three digits of the integer part of a plain decimal string.
fn group_thousands(number: &str) -> String {
    let (sign, rest) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return number.to_owned();
    }
    let mut grouped = String::with_capacity(number.len() + int.len() / 3);
    grouped.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped.push_str(frac);
    grouped
}

/// `12d 4h` (days: to the hour), `3h 20m` (to the minute), `5m 10s`, `42s`.
fn format_duration_days(days: f64) -> String {
    if !days.is_finite() {
        return NONE.to_owned();
    }
    let sign = if days < 0.0 { "-" } else { "" };
    // Saturating float-to-int cast: beyond ~292 billion years is not a duration we print.
    let secs = (days.abs() * 86_400.0).round() as u64;
    let pair = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{sign}{big}{big_unit}")
        } else {
            format!("{sign}{big}{big_unit} {small}{small_unit}")
        }
    };
    if secs >= 86_400 - 1_800 {
        let hours = (secs + 1_800) / 3_600;
        pair(hours / 24, "d", hours % 24, "h")
    } else if secs >= 3_600 - 30 {
        let minutes = (secs + 30) / 60;
        pair(minutes / 60, "h", minutes % 60, "m")
    } else if secs >= 60 {
        pair(secs / 60, "m", secs % 60, "s")
    } else {
        format!("{sign}{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::metrics::{MetricsInput, compute};

    const DAY: i64 = 86_400 * 1_000_000_000;
    const JAN_1_2024: i64 = 1_704_067_200 * 1_000_000_000;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn trade(
        side: Side,
        qty: &str,
        bars: (usize, usize),
        prices: (&str, &str),
        pnl: &str,
        reason: &str,
    ) -> TradeRecord {
        TradeRecord {
            instrument: "local:GOOG".to_owned(),
            side,
            quantity: dec(qty),
            entry_bar: bars.0,
            exit_bar: bars.1,
            entry_ts: UnixNanos::new(JAN_1_2024 + bars.0 as i64 * DAY),
            exit_ts: UnixNanos::new(JAN_1_2024 + bars.1 as i64 * DAY),
            entry_price: dec(prices.0),
            exit_price: dec(prices.1),
            fees: dec("2.5"),
            pnl: dec(pnl),
            exit_reason: reason.to_owned(),
        }
    }

    /// Five daily bars from 2024-01-01, 10,000 initial cash, two trades.
    fn daily_case() -> (Metrics, Vec<TradeRecord>) {
        let ts: Vec<i64> = (0..5).map(|i| JAN_1_2024 + i * DAY).collect();
        let trades = vec![
            trade(
                Side::Buy,
                "100",
                (0, 2),
                ("100", "99.8"),
                "-22.5",
                "stop_loss",
            ),
            trade(
                Side::Sell,
                "12.5",
                (2, 4),
                ("1234.5", "1100.25"),
                "1675.625",
                "end",
            ),
        ];
        let metrics = compute(&MetricsInput {
            ts: &ts,
            equity: &[10_000.0, 10_250.5, 9_980.0, 10_400.0, 12_345.678],
            initial_cash: 10_000.0,
            trades: &trades,
            bars_in_market: 5,
            first_price: 100.0,
            last_price: 101.0,
            bar_seconds: 86_400,
        });
        (metrics, trades)
    }

    #[test]
    fn renders_a_daily_run_exactly() {
        // Four days annualised: CAGR and Calmar are absurd, as they should be, and show the
        // thousands separators.
        let (metrics, trades) = daily_case();
        let expected = "\
SMA cross 10/20 on local:GOOG
================================================
Start                                 2024-01-01
End                                   2024-01-05
Duration                                      4d
Bars                                           5
Initial equity                         10,000.00
Final equity                           12,345.68
Peak equity                            12,345.68
Total return                              23.46%
Buy & hold return                          1.00%
CAGR                          22,722,622,838.51%
Volatility (ann.)                        174.88%
Sharpe ratio                               11.90
Sortino ratio                              82.50
Calmar ratio                    8,610,656,022.41
Max drawdown                              -2.64%
Max drawdown duration                2d (2 bars)
Exposure                                 100.00%
Trades                                         2
Win rate                                  50.00%
Profit factor                              74.47
Expectancy                                826.56
Avg trade                                  5.32%
Best trade                                10.86%
Worst trade                               -0.22%
Avg holding time                   2d (2.0 bars)
SQN                                         0.97
Total fees                                  5.00

Trades (2)
Entry       Exit        Side    Qty  Entry px   Exit px       PnL  Return  Exit reason
2024-01-01  2024-01-03  long    100    100.00     99.80    -22.50  -0.22%  stop_loss
2024-01-03  2024-01-05  short  12.5  1,234.50  1,100.25  1,675.63  10.86%  end
";
        assert_eq!(
            render(&metrics, &trades, "SMA cross 10/20 on local:GOOG"),
            expected
        );
    }

    #[test]
    fn undefined_metrics_show_a_dash_and_no_trades_say_so() {
        let metrics = compute(&MetricsInput {
            ts: &[JAN_1_2024],
            equity: &[1_000.0],
            initial_cash: 1_000.0,
            trades: &[],
            bars_in_market: 0,
            first_price: 1.0,
            last_price: 1.0,
            bar_seconds: 60,
        });
        let out = render(&metrics, &[], "flat");
        assert!(
            out.contains("\nSharpe ratio                                   —\n"),
            "{out}"
        );
        assert!(
            out.contains("\nWin rate                                       —\n"),
            "{out}"
        );
        assert!(
            out.contains("\nAvg holding time                               —\n"),
            "{out}"
        );
        assert!(
            out.contains("\nDuration                                      0s\n"),
            "{out}"
        );
        assert!(out.ends_with("\nNo trades.\n"), "{out}");
    }

    #[test]
    fn lists_the_last_ten_trades_with_times_and_instruments_when_mixed() {
        let (metrics, base) = daily_case();
        let mut trades: Vec<TradeRecord> = (0..12)
            .map(|i| {
                let mut t = base[0].clone();
                t.entry_ts = UnixNanos::new(JAN_1_2024 + i * 3_600_000_000_000);
                t.exit_ts = UnixNanos::new(JAN_1_2024 + (i + 1) * 3_600_000_000_000);
                t.exit_reason = format!("r{i}");
                t
            })
            .collect();
        trades[11].instrument = "binance:BTCUSDT".to_owned();
        let out = render(&metrics, &trades, "t");
        assert!(out.contains("\nLast 10 of 12 trades\n"), "{out}");
        assert!(
            out.contains("Start                       2024-01-01T00:00:00Z\n"),
            "{out}"
        );
        assert!(!out.contains(" r1\n"), "{out}");
        assert!(
            out.contains(
                "2024-01-01T11:00:00Z  2024-01-01T12:00:00Z  binance:BTCUSDT  long  100    \
             100.00    99.80  -22.50  -0.22%  r11\n"
            ),
            "{out}"
        );
        assert!(out.contains("  Instrument       Side"), "{out}");
    }

    #[test]
    fn formats_numbers_for_traders() {
        for (value, text) in [
            (0.0, "0.00"),
            (-0.001, "0.00"),
            (999.994, "999.99"),
            (1_234.5, "1,234.50"),
            (-1_234_567.891, "-1,234,567.89"),
            (f64::NAN, "—"),
        ] {
            assert_eq!(format_money(value), text, "{value}");
        }
        assert_eq!(format_pct(-12.345_6), "-12.35%");
        assert_eq!(format_decimal_money(dec("-0.004")), "0.00");
        assert_eq!(format_decimal_money(dec("1234567.125")), "1,234,567.13");
        assert_eq!(format_price(dec("60000")), "60,000.00");
        assert_eq!(format_price(dec("0.000123")), "0.000123");
        assert_eq!(group_thousands("123"), "123");
        assert_eq!(group_thousands("-123456"), "-123,456");
    }

    #[test]
    fn formats_durations_to_the_largest_two_units() {
        for (days, text) in [
            (0.0, "0s"),
            (42.0 / 86_400.0, "42s"),
            (310.0 / 86_400.0, "5m 10s"),
            (3_599.0 / 86_400.0, "1h"),
            (200.0 / 1_440.0, "3h 20m"),
            (23.8 / 24.0, "1d"),
            (12.0 + 4.0 / 24.0, "12d 4h"),
            (1_784.0, "1784d"),
            (-1.5, "-1d 12h"),
            (f64::INFINITY, "—"),
        ] {
            assert_eq!(format_duration_days(days), text, "{days}");
        }
    }
}

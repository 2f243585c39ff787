//! Performance metrics of a backtest run: returns, risk, drawdowns and trade statistics,
//! computed from the run's mark-to-market equity curve and its closed round trips.
//!
//! Everything here is a pure function of a [`MetricsInput`]. Money in a [`TradeRecord`] is
//! exact ([`Decimal`]); sums of trade money (fees, PnL) are taken exactly and converted to
//! `f64` once. The equity curve is `f64` because the metrics are statistics of it, not balances.
//!
//! # Definitions
//!
//! Notation: `n` bars with open times `ts[0..n]` (ns) and equity `e[0..n]` at each bar's close;
//! `E0` = `initial_cash`. Percentages are in percent (`12.5` means 12.5 %).
//!
//! - **Span.** `duration_days = (ts[n-1] - ts[0]) / 86 400 s` (first to last bar *open*, as
//!   backtesting.py's `Duration`); `years = duration_days / 365.25`.
//! - **Per-bar returns.** `r[t] = e[t] / e[t-1] - 1` for `t = 1..n`: `n - 1` simple returns of
//!   the curve itself (the step from `E0` to `e[0]` is not one of them). Defined only while the
//!   equity stays positive; if some `e[t-1] <= 0` the return-based metrics are `None`.
//! - **Periods per year** (`ppy`) are inferred from the data, not from the timeframe:
//!   `ppy = (n - 1) / years`, the number of return periods per calendar year actually observed.
//!   For gapless 24/7 data this equals `365.25 * 86 400 / bar_seconds` exactly (a daily crypto
//!   series gives 365.25); for weekday-only daily stock data it gives about 252 (GOOG 2004–2013:
//!   251.67), so stock and crypto curves are both annualised by what they really trade. We
//!   count return periods (`n - 1`) rather than bars (`n`) so that the gapless case is exact.
//!   Only when the timestamps span no time at all does `bar_seconds` give the fallback
//!   `365.25 * 86 400 / bar_seconds`.
//! - **Total return** `= (e[n-1] / E0 - 1) * 100`; with no bars the final equity is `E0`.
//! - **CAGR** `= ((e[n-1] / E0)^(1 / years) - 1) * 100`; `-100` if the final equity is 0,
//!   `None` if it is negative or `years` is 0.
//! - **Volatility** (annualised) `= std(r) * sqrt(ppy) * 100`, `std` the sample standard
//!   deviation (ddof = 1).
//! - **Sharpe** `= mean(r) / std(r) * sqrt(ppy)`, risk-free rate 0, arithmetic mean.
//! - **Sortino** `= mean(r) / dd * sqrt(ppy)` with the downside deviation
//!   `dd = sqrt(mean(min(r, 0)^2))` taken over *all* periods (target 0).
//! - **Drawdown** at bar `t` (see [`drawdown_curve`]) `= e[t] / max(e[0..=t]) - 1`, a fraction
//!   in `[-1, 0]`. The running peak is that of the curve alone (`E0` is not a peak).
//!   **Max drawdown** `= min_t drawdown[t] * 100` (`<= 0`).
//! - **Drawdown duration.** A drawdown stretch starts at the last bar `p` at its running peak
//!   (drawdown 0) before the curve goes under water and ends at the first later bar `q` back at
//!   the peak (drawdown 0 again), or at the last bar if it never recovers. Its length is
//!   `q - p` bars and `(ts[q] - ts[p]) / 1 day` days. The two reported maxima are taken
//!   independently (longest in bars, longest in days); they differ only when gaps (weekends)
//!   are spread unevenly.
//! - **Calmar** `= CAGR / |max drawdown|` (both in percent); `None` without a drawdown.
//! - **Exposure** `= min(bars_in_market, n) / n * 100`; `bars_in_market` is the caller's count
//!   of bars with an open position ([`bars_in_market_from_trades`] gives backtesting.py's count:
//!   each trade from its entry bar through its exit bar inclusive).
//! - **Trades.** Over the closed round trips' net PnL (fees included): win rate = share with
//!   `pnl > 0` (a break-even trade is not a win); profit factor = gross profit / gross loss;
//!   expectancy = mean PnL in quote currency; avg / best / worst trade = mean / max / min of
//!   [`TradeRecord::return_pct`]; SQN = `sqrt(k) * mean(pnl) / std(pnl)` (ddof = 1, `k` trades,
//!   no cap at 100 trades); average holding time in bars (`exit_bar - entry_bar`) and in days
//!   (`exit_ts - entry_ts`).
//! - **Buy and hold** `= (last_price / first_price - 1) * 100`.
//!
//! # Undefined values
//!
//! A metric that is undefined is `None` (serialized as `null`), never NaN or infinity: no
//! trades (win rate, expectancy, trade returns, holding times), no losing trades (profit factor),
//! fewer than 2 trades (SQN), fewer than 3 bars, i.e. 2 returns (volatility, Sharpe, Sortino), a
//! zero standard deviation (Sharpe, SQN; a deviation below 1e-12 of the mean counts as zero, as
//! it is rounding noise), no negative return (Sortino), no drawdown (Calmar), a zero span
//! (CAGR). Any value that would come out non-finite (an overflow, non-finite input) is `None`
//! too, and the always-present fields fall back to 0.
//!
//! # Differences from backtesting.py 0.6.6 `compute_stats`
//!
//! These agree (checked by the tests): Return, CAGR (when the curve starts at the initial
//! cash), Max. Drawdown, Max. Drawdown Duration (in time), # Trades, Win Rate, Best/Worst Trade
//! (its `pl_pct` is our `return_pct`), SQN (same formula), Exposure (with
//! [`bars_in_market_from_trades`]), Buy & Hold (with `first_price` the close at its first trading
//! bar). These differ, on purpose:
//! - *Sharpe, Sortino, Volatility, Calmar*: it resamples equity to calendar days, annualises
//!   with 252 or 365 days by a weekend heuristic, uses the geometric mean return and a
//!   compounded volatility formula, and Calmar uses its annualised return. We use per-bar
//!   arithmetic returns and the observed `ppy`, the textbook definitions.
//! - *Profit factor*: it sums trade *returns* (%), we sum PnL (money). Equal when every trade has
//!   the same notional.
//! - *Expectancy*: it is the mean trade return in percent; ours is the mean PnL in quote
//!   currency (its value is our `avg_trade_pct`).
//! - *Avg. Trade*: it is the geometric mean of trade returns; ours is the arithmetic mean.
//! - *Drawdown duration*: it ignores a stretch of a single under-water bar at the very end.
//! - Where it produces NaN or infinity we give `None`.
//!
//! # Known limitations
//!
//! Returns are per bar of the run; cash flows (deposits, withdrawals) are not modelled. The
//! risk-free rate is 0. Buy and hold is of one instrument, given by the caller. CAGR, and so
//! Calmar, extrapolate a run much shorter than a year to a full year and then explode (a 4-day
//! run up 23 % has a CAGR of about 2e10 %); that is the definition, not a bug, so read them only
//! on runs of a year or more.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use skeet_core::{Side, UnixNanos};

const NANOS_PER_DAY: f64 = 86_400.0 * 1e9;
const DAYS_PER_YEAR: f64 = 365.25;
const SECONDS_PER_YEAR: f64 = DAYS_PER_YEAR * 86_400.0;
/// A standard deviation at or below this fraction of the mean's magnitude is rounding noise.
const ZERO_STD_REL: f64 = 1e-12;

/// One closed round trip, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRecord {
    /// The instrument traded, e.g. `local:GOOG`.
    pub instrument: String,
    /// The entry side: [`Side::Buy`] is a long trade, [`Side::Sell`] a short one.
    pub side: Side,
    /// Quantity traded, in base units; positive.
    pub quantity: Decimal,
    /// Index of the bar of the entry fill in the run.
    pub entry_bar: usize,
    /// Index of the bar of the exit fill in the run.
    pub exit_bar: usize,
    /// Time of the entry fill.
    pub entry_ts: UnixNanos,
    /// Time of the exit fill.
    pub exit_ts: UnixNanos,
    /// Average entry fill price, quote currency per base unit.
    pub entry_price: Decimal,
    /// Average exit fill price, quote currency per base unit.
    pub exit_price: Decimal,
    /// Entry plus exit fees, quote currency (positive when paid).
    pub fees: Decimal,
    /// Net PnL in quote currency: `side_sign * quantity * (exit_price - entry_price) - fees`.
    pub pnl: Decimal,
    /// Why the position was closed: `signal`, `stop_loss`, `take_profit`, `trailing_stop`,
    /// `time_stop`, `end` (closed at the end of the run), ...
    pub exit_reason: String,
}

impl TradeRecord {
    /// Returns the net return of the trade on its entry notional, in percent:
    /// `pnl / (quantity * entry_price) * 100`. Returns 0 for a zero notional (an invalid trade).
    pub fn return_pct(&self) -> f64 {
        let exact = self
            .quantity
            .checked_mul(self.entry_price)
            .filter(|notional| !notional.is_zero())
            .and_then(|notional| self.pnl.checked_div(notional))
            .and_then(|ratio| ratio.to_f64());
        let ratio = exact.unwrap_or_else(|| {
            // Only reached on a zero notional or a decimal overflow: fall back to floats.
            let notional = to_f64(self.quantity) * to_f64(self.entry_price);
            if notional == 0.0 {
                0.0
            } else {
                to_f64(self.pnl) / notional
            }
        });
        finite(ratio * 100.0).unwrap_or(0.0)
    }

    /// Returns the number of bars from entry to exit (`exit_bar - entry_bar`, 0 if reversed).
    pub fn bars_held(&self) -> usize {
        self.exit_bar.saturating_sub(self.entry_bar)
    }

    /// Returns the time from entry to exit in days (`(exit_ts - entry_ts) / 1 day`).
    pub fn holding_days(&self) -> f64 {
        nanos_to_days(
            self.exit_ts
                .as_nanos()
                .saturating_sub(self.entry_ts.as_nanos()),
        )
    }
}

/// Everything [`compute`] needs. `ts` and `equity` have one entry per bar of the run.
#[derive(Debug, Clone, Copy)]
pub struct MetricsInput<'a> {
    /// Bar open times in nanoseconds since the Unix epoch, ascending.
    pub ts: &'a [i64],
    /// Equity (cash plus positions marked to market) at each bar's close, quote currency.
    /// Same length as `ts`; if not, the extra entries of the longer one are ignored.
    pub equity: &'a [f64],
    /// Equity before the first bar, quote currency.
    pub initial_cash: f64,
    /// The closed round trips, in exit order.
    pub trades: &'a [TradeRecord],
    /// Number of bars with an open position (for exposure).
    pub bars_in_market: usize,
    /// Price of the (first) instrument at the start, for buy and hold.
    pub first_price: f64,
    /// Price of the (first) instrument at the end, for buy and hold.
    pub last_price: f64,
    /// Length of one bar in seconds (only a fallback for periods per year; see the module docs).
    pub bar_seconds: u32,
}

/// The performance report of one run. See the module docs for each definition. Percentages are
/// in percent; money is in quote currency; `None` (JSON `null`) marks an undefined metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Open time of the first bar (the epoch when there are no bars).
    pub start: UnixNanos,
    /// Open time of the last bar (the epoch when there are no bars).
    pub end: UnixNanos,
    /// `end - start` in days.
    pub duration_days: f64,
    /// Number of bars in the run.
    pub bars: usize,
    /// Return periods per year used to annualise (observed; see the module docs).
    pub periods_per_year: Option<f64>,
    /// Equity before the first bar (the initial cash).
    pub initial_equity: f64,
    /// Equity at the last bar's close.
    pub final_equity: f64,
    /// Highest equity at any bar's close (the initial equity when there are no bars).
    pub peak_equity: f64,
    /// `(final / initial - 1) * 100`; `None` if the initial equity is not positive.
    pub total_return_pct: Option<f64>,
    /// Compound annual growth rate, percent.
    pub cagr_pct: Option<f64>,
    /// Annualised standard deviation of per-bar returns, percent.
    pub volatility_pct: Option<f64>,
    /// Annualised Sharpe ratio, risk-free rate 0.
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio, target 0.
    pub sortino: Option<f64>,
    /// CAGR over the absolute max drawdown.
    pub calmar: Option<f64>,
    /// Deepest drawdown from the running peak, percent, `<= 0`.
    pub max_drawdown_pct: f64,
    /// Longest drawdown stretch in bars (peak to recovery, or to the end).
    pub max_drawdown_duration_bars: usize,
    /// Longest drawdown stretch in days (peak to recovery, or to the end).
    pub max_drawdown_duration_days: f64,
    /// Share of bars with an open position, percent.
    pub exposure_pct: Option<f64>,
    /// Number of closed round trips.
    pub trades: usize,
    /// Trades with a positive net PnL.
    pub winning_trades: usize,
    /// Trades with a negative net PnL.
    pub losing_trades: usize,
    /// Share of trades with a positive net PnL, percent.
    pub win_rate_pct: Option<f64>,
    /// Sum of the positive trade PnLs, quote currency.
    pub gross_profit: f64,
    /// Sum of the negative trade PnLs as a positive number, quote currency.
    pub gross_loss: f64,
    /// Sum of all trade PnLs (net of fees), quote currency.
    pub net_profit: f64,
    /// Gross profit over gross loss.
    pub profit_factor: Option<f64>,
    /// Mean net PnL per trade, quote currency.
    pub expectancy: Option<f64>,
    /// Mean trade return, percent.
    pub avg_trade_pct: Option<f64>,
    /// Best trade return, percent.
    pub best_trade_pct: Option<f64>,
    /// Worst trade return, percent.
    pub worst_trade_pct: Option<f64>,
    /// Mean bars from entry to exit.
    pub avg_holding_bars: Option<f64>,
    /// Mean days from entry to exit.
    pub avg_holding_days: Option<f64>,
    /// Van Tharp's System Quality Number over net trade PnLs.
    pub sqn: Option<f64>,
    /// Buy and hold of the (first) instrument over the run, percent.
    pub buy_and_hold_return_pct: Option<f64>,
    /// Fees of all closed trades, quote currency.
    pub total_fees: f64,
}

/// Computes every metric of one run. See the module docs for the definitions.
pub fn compute(input: &MetricsInput<'_>) -> Metrics {
    debug_assert_eq!(
        input.ts.len(),
        input.equity.len(),
        "ts and equity must have one entry per bar"
    );
    let n = input.ts.len().min(input.equity.len());
    let ts = &input.ts[..n];
    let equity = &input.equity[..n];

    let start = ts.first().copied().unwrap_or(0);
    let end = ts.last().copied().unwrap_or(0);
    let duration_days = nanos_to_days(end.saturating_sub(start)).max(0.0);
    let years = duration_days / DAYS_PER_YEAR;

    let initial_equity = finite(input.initial_cash).unwrap_or(0.0);
    let final_equity = match equity.last() {
        Some(&e) => finite(e).unwrap_or(0.0),
        None => initial_equity,
    };
    let (max_drawdown_pct, max_drawdown_duration_bars, max_drawdown_duration_days, peak) =
        drawdown_stats(equity, ts);
    // The drawdown pass's peak is the maximum of the non-NaN values: when finite, that is
    // the maximum of the finite ones too.
    let peak_equity = if peak.is_finite() {
        peak
    } else {
        equity
            .iter()
            .copied()
            .filter(|e| e.is_finite())
            .reduce(f64::max)
            .unwrap_or(initial_equity)
    };
    let growth = (initial_equity > 0.0).then(|| final_equity / initial_equity);
    let total_return_pct = growth.and_then(|g| finite((g - 1.0) * 100.0));
    let cagr_pct = growth.and_then(|g| cagr_pct(g, years));

    let periods_per_year = periods_per_year(n, years, input.bar_seconds);
    let risk = ReturnRisk::of_equity(equity, periods_per_year);
    let calmar = match cagr_pct {
        Some(c) if max_drawdown_pct < 0.0 => finite(c / max_drawdown_pct.abs()),
        _ => None,
    };

    let exposure_pct = (n > 0).then(|| input.bars_in_market.min(n) as f64 / n as f64 * 100.0);
    let trades = TradeStats::of(input.trades);
    let buy_and_hold_return_pct = (input.first_price > 0.0)
        .then(|| (input.last_price / input.first_price - 1.0) * 100.0)
        .and_then(finite);

    Metrics {
        start: UnixNanos::new(start),
        end: UnixNanos::new(end),
        duration_days: finite(duration_days).unwrap_or(0.0),
        bars: n,
        periods_per_year,
        initial_equity,
        final_equity,
        peak_equity,
        total_return_pct,
        cagr_pct,
        volatility_pct: risk.volatility_pct,
        sharpe: risk.sharpe,
        sortino: risk.sortino,
        calmar,
        max_drawdown_pct,
        max_drawdown_duration_bars,
        max_drawdown_duration_days,
        exposure_pct,
        trades: input.trades.len(),
        winning_trades: trades.winning,
        losing_trades: trades.losing,
        win_rate_pct: trades.win_rate_pct,
        gross_profit: trades.gross_profit,
        gross_loss: trades.gross_loss,
        net_profit: trades.net_profit,
        profit_factor: trades.profit_factor,
        expectancy: trades.expectancy,
        avg_trade_pct: trades.avg_trade_pct,
        best_trade_pct: trades.best_trade_pct,
        worst_trade_pct: trades.worst_trade_pct,
        avg_holding_bars: trades.avg_holding_bars,
        avg_holding_days: trades.avg_holding_days,
        sqn: trades.sqn,
        buy_and_hold_return_pct,
        total_fees: trades.total_fees,
    }
}

/// Returns the drawdown at each bar: `e[t] / max(e[0..=t]) - 1`, a fraction in `[-1, 0]`
/// (`-0.12` is 12 % below the running peak; 0 at a peak).
///
/// Equity below zero (possible with shorts or leverage) is clamped to `-1`, as is any bar
/// whose running peak is not positive or whose value is NaN, so the result is always in
/// `[-1, 0]`.
pub fn drawdown_curve(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&e| {
            if !e.is_nan() {
                peak = peak.max(e);
            }
            if e >= peak {
                0.0
            } else if peak > 0.0 && peak.is_finite() {
                (e / peak - 1.0).clamp(-1.0, 0.0)
            } else {
                -1.0
            }
        })
        .collect()
}

/// Returns how many of `bars` bars have at least one trade open, counting each trade from its
/// entry bar through its exit bar inclusive (backtesting.py's "Exposure Time" count). Bars
/// outside `0..bars` are ignored.
pub fn bars_in_market_from_trades(trades: &[TradeRecord], bars: usize) -> usize {
    let mut spans: Vec<(usize, usize)> = trades
        .iter()
        .filter(|t| t.entry_bar < bars)
        .map(|t| (t.entry_bar, t.exit_bar.max(t.entry_bar).min(bars - 1)))
        .collect();
    spans.sort_unstable();
    let mut count = 0;
    let mut covered_to: Option<usize> = None;
    for (from, to) in spans {
        let from = match covered_to {
            Some(c) if c >= to => continue,
            Some(c) if c >= from => c + 1,
            _ => from,
        };
        count += to - from + 1;
        covered_to = Some(to);
    }
    count
}

fn periods_per_year(bars: usize, years: f64, bar_seconds: u32) -> Option<f64> {
    if bars < 2 {
        return None;
    }
    if years > 0.0 {
        finite((bars - 1) as f64 / years)
    } else if bar_seconds > 0 {
        Some(SECONDS_PER_YEAR / f64::from(bar_seconds))
    } else {
        None
    }
}

fn cagr_pct(growth: f64, years: f64) -> Option<f64> {
    if years.is_nan() || years <= 0.0 || !growth.is_finite() {
        None
    } else if growth == 0.0 {
        Some(-100.0)
    } else if growth > 0.0 {
        finite((growth.powf(1.0 / years) - 1.0) * 100.0)
    } else {
        None
    }
}

/// Per-bar simple returns, or `None` if some equity a return is taken from is not positive
/// (or any value is not finite).
fn returns(equity: &[f64]) -> Option<Vec<f64>> {
    if equity.iter().any(|e| !e.is_finite()) {
        return None;
    }
    equity
        .windows(2)
        .map(|w| (w[0] > 0.0).then(|| w[1] / w[0] - 1.0))
        .collect()
}

#[derive(Debug, Default)]
struct ReturnRisk {
    volatility_pct: Option<f64>,
    sharpe: Option<f64>,
    sortino: Option<f64>,
}

impl ReturnRisk {
    /// The same numbers as [`ReturnRisk::of`] over [`returns`], computed in two passes over
    /// the equity without materialising the returns (an optimiser computes this for every
    /// trial). The additions happen in the same order, so the results are bit-identical.
    fn of_equity(equity: &[f64], periods_per_year: Option<f64>) -> Self {
        // Two passes instead of five (the optimiser computes this once per trial): the first
        // sums the returns and the downside squares and checks that the fast path applies,
        // the second the squared deviations. Each sum runs in bar order from -0.0, as
        // `Iterator::sum` does, so the results are bit-identical to `of(&returns(..))`.
        let ret = |w: &[f64]| w[1] / w[0] - 1.0;
        let mut bad = equity.first().is_some_and(|e| !e.is_finite());
        let (mut sum, mut down) = (-0.0_f64, -0.0_f64);
        for w in equity.windows(2) {
            bad |= !w[1].is_finite() | (w[0] <= 0.0);
            let r = ret(w);
            sum += r;
            down += r.min(0.0).powi(2);
        }
        if bad {
            return returns(equity)
                .map(|r| Self::of(&r, periods_per_year))
                .unwrap_or_default();
        }
        let count = equity.len().saturating_sub(1);
        let Some(ppy) = periods_per_year else {
            return Self::default();
        };
        if count < 2 {
            return Self::default();
        }
        let mean = sum / count as f64;
        let ss: f64 = equity.windows(2).map(|w| (ret(w) - mean).powi(2)).sum();
        let std = finite((ss / (count - 1) as f64).sqrt());
        let downside = (down / count as f64).sqrt();
        let annualiser = ppy.sqrt();
        Self {
            volatility_pct: std.and_then(|s| finite(s * annualiser * 100.0)),
            sharpe: std
                .filter(|&s| non_zero_spread(s, mean))
                .and_then(|s| finite(mean / s * annualiser)),
            sortino: (downside > 0.0)
                .then(|| mean / downside * annualiser)
                .and_then(finite),
        }
    }

    fn of(returns: &[f64], periods_per_year: Option<f64>) -> Self {
        let (Some(ppy), Some(mean)) = (periods_per_year, mean(returns)) else {
            return Self::default();
        };
        if returns.len() < 2 {
            return Self::default();
        }
        let std = sample_std(returns, mean);
        let annualiser = ppy.sqrt();
        let downside =
            (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / returns.len() as f64).sqrt();
        Self {
            volatility_pct: std.and_then(|s| finite(s * annualiser * 100.0)),
            sharpe: std
                .filter(|&s| non_zero_spread(s, mean))
                .and_then(|s| finite(mean / s * annualiser)),
            sortino: (downside > 0.0)
                .then(|| mean / downside * annualiser)
                .and_then(finite),
        }
    }
}

#[derive(Debug, Default)]
struct TradeStats {
    winning: usize,
    losing: usize,
    win_rate_pct: Option<f64>,
    gross_profit: f64,
    gross_loss: f64,
    net_profit: f64,
    profit_factor: Option<f64>,
    expectancy: Option<f64>,
    avg_trade_pct: Option<f64>,
    best_trade_pct: Option<f64>,
    worst_trade_pct: Option<f64>,
    avg_holding_bars: Option<f64>,
    avg_holding_days: Option<f64>,
    sqn: Option<f64>,
    total_fees: f64,
}

impl TradeStats {
    fn of(trades: &[TradeRecord]) -> Self {
        let pnls = || trades.iter().map(|t| t.pnl);
        let gross_profit = sum_exact(pnls().filter(|p| *p > Decimal::ZERO));
        let gross_loss = sum_exact(pnls().filter(|p| p.is_sign_negative()).map(|p| p.abs()));
        let total_fees = sum_exact(trades.iter().map(|t| t.fees));
        let net_profit = sum_exact(pnls());
        if trades.is_empty() {
            return Self {
                total_fees,
                ..Self::default()
            };
        }
        let count = trades.len() as f64;
        let winning = pnls().filter(|p| *p > Decimal::ZERO).count();
        let losing = pnls().filter(|p| *p < Decimal::ZERO).count();
        let pnl_f64: Vec<f64> = pnls().map(to_f64).collect();
        let returns: Vec<f64> = trades.iter().map(TradeRecord::return_pct).collect();
        let expectancy = finite(net_profit / count);
        let sqn = expectancy.and_then(|m| {
            sample_std(&pnl_f64, m)
                .filter(|&s| non_zero_spread(s, m))
                .and_then(|s| finite(count.sqrt() * m / s))
        });
        Self {
            winning,
            losing,
            win_rate_pct: Some(winning as f64 / count * 100.0),
            gross_profit,
            gross_loss,
            net_profit,
            profit_factor: (gross_loss > 0.0)
                .then(|| gross_profit / gross_loss)
                .and_then(finite),
            expectancy,
            avg_trade_pct: mean(&returns).and_then(finite),
            best_trade_pct: returns.iter().copied().reduce(f64::max),
            worst_trade_pct: returns.iter().copied().reduce(f64::min),
            avg_holding_bars: Some(
                trades.iter().map(|t| t.bars_held() as f64).sum::<f64>() / count,
            ),
            avg_holding_days: finite(
                trades.iter().map(TradeRecord::holding_days).sum::<f64>() / count,
            ),
            sqn,
            total_fees,
        }
    }
}

/// Sums decimals exactly and converts once; falls back to a float sum on decimal overflow.
fn sum_exact(values: impl Iterator<Item = Decimal> + Clone) -> f64 {
    let exact = values
        .clone()
        .try_fold(Decimal::ZERO, Decimal::checked_add)
        .map(to_f64);
    let sum = exact.unwrap_or_else(|| values.map(to_f64).sum());
    finite(sum).unwrap_or(0.0)
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (ddof = 1) around a known mean; `None` below two values.
fn sample_std(xs: &[f64], mean: f64) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let ss: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    finite((ss / (xs.len() - 1) as f64).sqrt())
}

fn non_zero_spread(std: f64, mean: f64) -> bool {
    std > 0.0 && std > mean.abs() * ZERO_STD_REL
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn to_f64(d: Decimal) -> f64 {
    // Every Decimal (at most ~7.9e28) has an f64 approximation; 0 is unreachable.
    d.to_f64().unwrap_or(0.0)
}

fn nanos_to_days(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_DAY
}

/// Max drawdown (percent) and the longest drawdown stretch (bars, days) in one pass, with
/// [`drawdown_curve`]'s definition and the drawdown-duration rules of the module docs, without materialising
/// the curve.
fn drawdown_stats(equity: &[f64], ts: &[i64]) -> (f64, usize, f64, f64) {
    // One pass, one division per drawdown rather than per bar: while under water the peak is
    // fixed, and `e / peak - 1` is monotonic in `e`, so an episode's deepest drawdown is that
    // of its lowest equity, exactly.
    let depth = |e: f64, peak: f64| {
        if peak > 0.0 && peak.is_finite() {
            (e / peak - 1.0).clamp(-1.0, 0.0)
        } else {
            -1.0
        }
    };
    let mut peak = f64::NEG_INFINITY;
    let mut worst: f64 = 0.0;
    let mut trough = f64::INFINITY;
    let mut water_peak = f64::NEG_INFINITY;
    let mut best_bars = 0;
    let mut best_days: f64 = 0.0;
    let mut peak_at = 0;
    let mut under_water = false;
    for (i, &e) in equity.iter().enumerate() {
        if !e.is_nan() {
            peak = peak.max(e);
        }
        // NaN equity (never produced by the engine) is under water only where its
        // drawdown would be -1 (no positive peak), as in `drawdown_curve`.
        let below = e < peak || (e.is_nan() && depth(0.0, peak) == -1.0);
        if below {
            if !under_water {
                under_water = true;
                trough = f64::INFINITY;
                water_peak = peak;
            }
            if e.is_nan() {
                worst = -1.0;
            } else if e < trough {
                trough = e;
            }
        } else {
            if under_water {
                worst = worst.min(depth(trough, water_peak));
                best_bars = best_bars.max(i - peak_at);
                best_days = best_days.max(nanos_to_days(ts[i].saturating_sub(ts[peak_at])));
            }
            peak_at = i;
            under_water = false;
        }
    }
    if under_water && !equity.is_empty() {
        worst = worst.min(depth(trough, water_peak));
        let last = equity.len() - 1;
        best_bars = best_bars.max(last - peak_at);
        best_days = best_days.max(nanos_to_days(ts[last].saturating_sub(ts[peak_at])));
    }
    (
        worst * 100.0,
        best_bars,
        finite(best_days).unwrap_or(0.0),
        peak,
    )
}

/// Longest drawdown stretch as (bars, days), each maximised on its own.
#[cfg(test)]
fn drawdown_durations(drawdown: &[f64], ts: &[i64]) -> (usize, f64) {
    let mut best_bars = 0;
    let mut best_days: f64 = 0.0;
    let mut peak = 0;
    let mut under_water = false;
    let mut close_stretch = |from: usize, to: usize| {
        best_bars = best_bars.max(to - from);
        best_days = best_days.max(nanos_to_days(ts[to].saturating_sub(ts[from])));
    };
    for (i, &d) in drawdown.iter().enumerate() {
        if d < 0.0 {
            under_water = true;
        } else {
            if under_water {
                close_stretch(peak, i);
            }
            peak = i;
            under_water = false;
        }
    }
    if under_water {
        close_stretch(peak, drawdown.len() - 1);
    }
    (best_bars, finite(best_days).unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const STEP_SECS: i64 = 6_311_520; // 73.05 days: five steps are exactly 365.25 days
    const T0_SECS: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn bar_ts(i: usize) -> i64 {
        (T0_SECS + STEP_SECS * i as i64) * 1_000_000_000
    }

    #[expect(clippy::too_many_arguments, reason = "a compact test builder")]
    fn trade(
        side: Side,
        qty: &str,
        bars: (usize, usize),
        entry: &str,
        exit: &str,
        fees: &str,
        pnl: &str,
        reason: &str,
    ) -> TradeRecord {
        TradeRecord {
            instrument: "local:TEST".to_owned(),
            side,
            quantity: dec(qty),
            entry_bar: bars.0,
            exit_bar: bars.1,
            entry_ts: UnixNanos::new(bar_ts(bars.0)),
            exit_ts: UnixNanos::new(bar_ts(bars.1)),
            entry_price: dec(entry),
            exit_price: dec(exit),
            fees: dec(fees),
            pnl: dec(pnl),
            exit_reason: reason.to_owned(),
        }
    }

    /// Three round trips, each on a notional of exactly 100:
    /// long 10 @ 10 -> 11, fees 1:    pnl =  10 * 1 - 1   =   9    (  9 %)
    /// short 5 @ 20 -> 22, fees 0.5:  pnl = -5 * 2 - 0.5  = -10.5  (-10.5 %)
    /// long 2 @ 50 -> 60, fees 0.5:   pnl =  2 * 10 - 0.5 =  19.5  ( 19.5 %)
    fn hand_trades() -> Vec<TradeRecord> {
        vec![
            trade(Side::Buy, "10", (1, 2), "10", "11", "1", "9", "signal"),
            trade(
                Side::Sell,
                "5",
                (2, 3),
                "20",
                "22",
                "0.5",
                "-10.5",
                "stop_loss",
            ),
            trade(Side::Buy, "2", (4, 5), "50", "60", "0.5", "19.5", "end"),
        ]
    }

    const HAND_EQUITY: [f64; 6] = [100.0, 110.0, 99.0, 99.0, 118.8, 106.92];

    fn hand_ts() -> Vec<i64> {
        (0..6).map(bar_ts).collect()
    }

    fn hand_input<'a>(ts: &'a [i64], trades: &'a [TradeRecord]) -> MetricsInput<'a> {
        MetricsInput {
            ts,
            equity: &HAND_EQUITY,
            initial_cash: 100.0,
            trades,
            bars_in_market: 5,
            first_price: 10.0,
            last_price: 12.5,
            bar_seconds: 6_311_520,
        }
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64, rel: f64) {
        let tol = rel * expected.abs().max(1.0);
        assert!(
            (actual - expected).abs() <= tol,
            "{actual} != {expected} (tolerance {tol})"
        );
    }

    #[track_caller]
    fn assert_some_close(actual: Option<f64>, expected: f64, rel: f64) {
        match actual {
            Some(a) => assert_close(a, expected, rel),
            None => panic!("None != {expected}"),
        }
    }

    #[test]
    fn hand_made_run_matches_values_worked_out_by_hand() {
        // Six bars 73.05 days apart: five return periods spanning exactly one year, so
        // ppy = 5 / 1 = 5 and CAGR = total return.
        // Equity 100, 110, 99, 99, 118.8, 106.92 -> returns r = +10 %, -10 %, 0, +20 %, -10 %.
        // mean(r) = 0.1 / 5 = 0.02
        // deviations 0.08, -0.12, -0.02, 0.18, -0.12 -> squares sum 0.068 -> var = 0.068 / 4
        //   = 0.017 (ddof = 1)
        // volatility = sqrt(0.017) * sqrt(5) * 100 = sqrt(0.085) * 100 = 29.1547594742265
        // Sharpe = 0.02 / sqrt(0.017) * sqrt(5) = 0.02 * sqrt(294.1176...) = 0.342997170285018
        // downside: min(r, 0)^2 = 0, 0.01, 0, 0, 0.01 -> mean 0.004 -> dd = sqrt(0.004)
        // Sortino = 0.02 / sqrt(0.004) * sqrt(5) = sqrt(0.5) = 0.7071067811865476
        // running peak 100, 110, 110, 110, 118.8, 118.8 -> drawdown 0, 0, -10 %, -10 %, 0, -10 %
        // max drawdown -10 %; longest stretch: peak at bar 1, recovered at bar 4: 3 bars,
        //   3 * 73.05 = 219.15 days (the stretch 4 -> 5 at the end is 1 bar)
        // total return = CAGR = 106.92 / 100 - 1 = 6.92 %; Calmar = 6.92 / 10 = 0.692
        let ts = hand_ts();
        let trades = hand_trades();
        let m = compute(&hand_input(&ts, &trades));

        assert_eq!(m.start, UnixNanos::new(bar_ts(0)));
        assert_eq!(m.end, UnixNanos::new(bar_ts(5)));
        assert_close(m.duration_days, 365.25, 1e-12);
        assert_eq!(m.bars, 6);
        assert_some_close(m.periods_per_year, 5.0, 1e-12);
        assert_eq!(m.initial_equity, 100.0);
        assert_eq!(m.final_equity, 106.92);
        assert_eq!(m.peak_equity, 118.8);
        assert_some_close(m.total_return_pct, 6.92, 1e-12);
        assert_some_close(m.cagr_pct, 6.92, 1e-12);
        assert_some_close(m.volatility_pct, 29.154_759_474_226_5, 1e-12);
        assert_some_close(m.sharpe, 0.342_997_170_285_018, 1e-12);
        assert_some_close(m.sortino, 0.5_f64.sqrt(), 1e-12);
        assert_some_close(m.calmar, 0.692, 1e-12);
        assert_close(m.max_drawdown_pct, -10.0, 1e-12);
        assert_eq!(m.max_drawdown_duration_bars, 3);
        assert_close(m.max_drawdown_duration_days, 219.15, 1e-12);
        // 5 of 6 bars in the market.
        assert_some_close(m.exposure_pct, 500.0 / 6.0, 1e-12);

        // pnl 9, -10.5, 19.5: 2 wins of 3; gross profit 28.5, gross loss 10.5;
        // PF = 28.5 / 10.5 = 2.714285714285714; expectancy = 18 / 3 = 6;
        // SQN: deviations 3, -16.5, 13.5 -> squares 463.5 -> var 231.75 ->
        //   sqrt(3) * 6 / sqrt(231.75) = 0.6826561487862891
        // returns 9 %, -10.5 %, 19.5 % -> avg 6 %, best 19.5 %, worst -10.5 %
        // each trade held 1 bar = 73.05 days; fees 1 + 0.5 + 0.5 = 2; B&H 12.5 / 10 - 1 = 25 %
        assert_eq!(m.trades, 3);
        assert_eq!((m.winning_trades, m.losing_trades), (2, 1));
        assert_some_close(m.win_rate_pct, 200.0 / 3.0, 1e-12);
        assert_eq!(
            (m.gross_profit, m.gross_loss, m.net_profit),
            (28.5, 10.5, 18.0)
        );
        assert_some_close(m.profit_factor, 28.5 / 10.5, 1e-12);
        assert_some_close(m.expectancy, 6.0, 1e-12);
        assert_some_close(m.avg_trade_pct, 6.0, 1e-12);
        assert_eq!(m.best_trade_pct, Some(19.5));
        assert_eq!(m.worst_trade_pct, Some(-10.5));
        assert_some_close(m.avg_holding_bars, 1.0, 1e-12);
        assert_some_close(m.avg_holding_days, 73.05, 1e-12);
        assert_some_close(m.sqn, 0.682_656_148_786_289_1, 1e-12);
        assert_some_close(m.buy_and_hold_return_pct, 25.0, 1e-12);
        assert_eq!(m.total_fees, 2.0);
        assert_eq!(bars_in_market_from_trades(&trades, 6), 5);
    }

    #[test]
    fn hand_made_run_agrees_with_backtesting_py_where_definitions_coincide() {
        // backtesting.py 0.6.6 `compute_stats` on the same run (trades as a DataFrame with
        // Size 10/-5/2, EntryBar 1/2/4, ExitBar 2/3/5, PnL 9/-10.5/19.5, ReturnPct
        // 0.09/-0.105/0.195; equity as above; Close 10, 11, 10.5, 11.5, 12, 12.5; index
        // 2024-01-01 + i * 6311520 s):
        //   Return [%] 6.920000000000001      CAGR [%] 6.919999999999993
        //   Max. Drawdown [%] -9.999999999999998   Max. Drawdown Duration 219 days 03:36:00
        //   # Trades 3   Win Rate [%] 66.66666666666666   Best/Worst Trade [%] 19.5 / -10.5
        //   Profit Factor 2.714285714285715 (returns-based; equal here as notionals are equal)
        //   SQN 0.6826561487862891   Exposure Time [%] 83.33333333333334
        //   Buy & Hold Return [%] 25.0   Expectancy [%] 6.0 (our avg_trade_pct)
        // Where it differs by definition: Sharpe 0.0497, Sortino 108.6, Volatility (Ann.)
        // 264141.8 % (it resamples to days and annualises the 73-day steps with 365 periods),
        // Avg. Trade [%] 5.246 (geometric mean).
        let ts = hand_ts();
        let trades = hand_trades();
        let m = compute(&hand_input(&ts, &trades));
        assert_some_close(m.total_return_pct, 6.920_000_000_000_001, 1e-12);
        assert_some_close(m.cagr_pct, 6.919_999_999_999_993, 1e-12);
        assert_close(m.max_drawdown_pct, -9.999_999_999_999_998, 1e-12);
        assert_close(m.max_drawdown_duration_days, 219.0 + 3.6 / 24.0, 1e-12);
        assert_eq!(m.trades, 3);
        assert_some_close(m.win_rate_pct, 66.666_666_666_666_66, 1e-12);
        assert_eq!(
            (m.best_trade_pct, m.worst_trade_pct),
            (Some(19.5), Some(-10.5))
        );
        assert_some_close(m.profit_factor, 2.714_285_714_285_715, 1e-12);
        assert_some_close(m.sqn, 0.682_656_148_786_289_1, 1e-12);
        assert_some_close(m.exposure_pct, 83.333_333_333_333_34, 1e-12);
        assert_some_close(m.buy_and_hold_return_pct, 25.0, 1e-12);
        assert_some_close(m.avg_trade_pct, 6.0, 1e-12);
    }

    /// GOOG daily closes 2004-08-19 .. 2013-03-01 (2,148 weekday bars).
    fn goog() -> (Vec<i64>, Vec<f64>) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test_data/market/goog_daily_2004_2013.csv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip(1)
            .map(|line| {
                let cols: Vec<&str> = line.split(',').collect();
                let ts = UnixNanos::from_str(cols[0]).unwrap().as_nanos();
                (ts, cols[4].parse::<f64>().unwrap())
            })
            .unzip()
    }

    #[test]
    fn goog_buy_and_hold_curve_matches_independent_python() {
        // Reference, numpy 2 / pandas 2 on the same file (d = read_csv(..., index_col=0,
        // parse_dates=True); c = d.Close.values; n = len(c); t = d.index):
        //   r = c[1:]/c[:-1]-1; yrs = (t[-1]-t[0]).total_seconds()/86400/365.25
        //   ppy = (n-1)/yrs; dd = c/np.maximum.accumulate(c)-1
        //   ppy 251.66615853658536         (c[-1]/c[0]-1)*100 703.4582419772773
        //   dd.min()*100 -65.29475997249897  r.std(ddof=1)*np.sqrt(ppy)*100 34.38298877177228
        //   r.mean()/r.std(ddof=1)*np.sqrt(ppy) 0.8809344727311083
        //   r.mean()/np.sqrt(np.mean(np.minimum(r,0)**2))*np.sqrt(ppy) 1.3532700872820762
        //   ((c[-1]/c[0])**(1/yrs)-1)*100 27.666694879608357
        //   longest stretch between zeros of dd: 1230 bars, 2007-11-06 -> 2012-09-24 = 1784 days
        // backtesting.py compute_stats(empty trades, c, d) agrees: Return [%] 703.458242,
        // Max. Drawdown [%] -65.29476, Max. Drawdown Duration 1784 days, CAGR [%] 27.666695,
        // Buy & Hold Return [%] 703.458242.
        let (ts, close) = goog();
        assert_eq!(close.len(), 2148);
        let m = compute(&MetricsInput {
            ts: &ts,
            equity: &close,
            initial_cash: close[0],
            trades: &[],
            bars_in_market: close.len(),
            first_price: close[0],
            last_price: close[close.len() - 1],
            bar_seconds: 86_400,
        });
        let rel = 1e-9;
        assert_some_close(m.periods_per_year, 251.666_158_536_585_36, rel);
        assert_some_close(m.total_return_pct, 703.458_241_977_277_3, rel);
        assert_some_close(m.buy_and_hold_return_pct, 703.458_241_977_277_3, rel);
        assert_close(m.max_drawdown_pct, -65.294_759_972_498_97, rel);
        assert_some_close(m.volatility_pct, 34.382_988_771_772_28, rel);
        assert_some_close(m.sharpe, 0.880_934_472_731_108_3, rel);
        assert_some_close(m.sortino, 1.353_270_087_282_076_2, rel);
        assert_some_close(m.cagr_pct, 27.666_694_879_608_357, rel);
        assert_some_close(
            m.calmar,
            27.666_694_879_608_357 / 65.294_759_972_498_97,
            rel,
        );
        assert_eq!(m.max_drawdown_duration_bars, 1230);
        assert_close(m.max_drawdown_duration_days, 1784.0, 1e-12);
        assert_eq!(m.peak_equity, 806.85);
        assert_eq!(m.exposure_pct, Some(100.0));
        assert_eq!(m.win_rate_pct, None);
    }

    #[test]
    fn real_trades_agree_with_backtesting_py_where_definitions_coincide() {
        // The 93 closed trades of backtesting.py 0.6.6's SMA 10/20 reversing cross on GOOG daily
        // (next-open fills; test_data/conformance/goog_daily_next-open.json, written by
        // scripts/backtesting_py_reference.py). The same run's `compute_stats`:
        //   # Trades 93   Win Rate [%] 52.68817204301075   SQN 1.5843922090024816
        //   Best Trade [%] 56.918681084536324   Worst Trade [%] -16.829431932773094
        //   Expectancy [%] 2.290430336833818 (= our avg_trade_pct)
        //   Exposure Time [%] 94.27374301675978   Commissions [$] 10563.951540000002
        //   Profit Factor 1.9934882545908599 (returns-based; ours is PnL-based and differs)
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test_data/conformance/goog_daily_next-open.json"
        );
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let (ts, close) = goog();
        let num = |v: &serde_json::Value| Decimal::try_from(v.as_f64().unwrap()).unwrap();
        let trades: Vec<TradeRecord> = fixture["trades"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let size = t["size"].as_i64().unwrap();
                let entry_bar = usize::try_from(t["entry_bar"].as_u64().unwrap()).unwrap();
                let exit_bar = usize::try_from(t["exit_bar"].as_u64().unwrap()).unwrap();
                TradeRecord {
                    instrument: "local:GOOG".to_owned(),
                    side: if size > 0 { Side::Buy } else { Side::Sell },
                    quantity: Decimal::from(size.abs()),
                    entry_bar,
                    exit_bar,
                    entry_ts: UnixNanos::new(ts[entry_bar]),
                    exit_ts: UnixNanos::new(ts[exit_bar]),
                    entry_price: num(&t["entry_price"]),
                    exit_price: num(&t["exit_price"]),
                    fees: num(&t["commission"]),
                    pnl: num(&t["pnl"]),
                    exit_reason: "signal".to_owned(),
                }
            })
            .collect();
        let m = compute(&MetricsInput {
            ts: &ts,
            equity: &close,
            initial_cash: close[0],
            trades: &trades,
            bars_in_market: bars_in_market_from_trades(&trades, ts.len()),
            first_price: close[0],
            last_price: close[close.len() - 1],
            bar_seconds: 86_400,
        });
        let rel = 1e-9;
        assert_eq!(m.trades, 93);
        assert_some_close(m.win_rate_pct, 52.688_172_043_010_75, rel);
        assert_some_close(m.sqn, 1.584_392_209_002_481_6, rel);
        assert_some_close(m.best_trade_pct, 56.918_681_084_536_324, rel);
        assert_some_close(m.worst_trade_pct, -16.829_431_932_773_094, rel);
        assert_some_close(m.avg_trade_pct, 2.290_430_336_833_818, rel);
        assert_some_close(m.exposure_pct, 94.273_743_016_759_78, rel);
        assert_close(m.total_fees, 10_563.951_540_000_002, rel);
    }

    #[test]
    fn undefined_metrics_are_none_and_serialize_as_null() {
        let m = compute(&MetricsInput {
            ts: &[],
            equity: &[],
            initial_cash: 1_000.0,
            trades: &[],
            bars_in_market: 0,
            first_price: 0.0,
            last_price: 0.0,
            bar_seconds: 60,
        });
        assert_eq!(m.bars, 0);
        assert_eq!(m.final_equity, 1_000.0);
        assert_eq!(m.total_return_pct, Some(0.0));
        assert_eq!(
            (m.cagr_pct, m.volatility_pct, m.sharpe, m.sortino, m.calmar),
            (None, None, None, None, None)
        );
        assert_eq!((m.exposure_pct, m.win_rate_pct, m.sqn), (None, None, None));
        assert_eq!(m.buy_and_hold_return_pct, None);
        assert_eq!(m.max_drawdown_pct, 0.0);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["sharpe"], serde_json::Value::Null);
        assert_eq!(json["win_rate_pct"], serde_json::Value::Null);
        let back: Metrics = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn flat_curve_has_no_sharpe_and_winners_only_have_no_profit_factor() {
        let ts: Vec<i64> = (0..4).map(bar_ts).collect();
        let mut trades = hand_trades();
        trades.remove(1);
        let m = compute(&MetricsInput {
            ts: &ts,
            equity: &[100.0; 4],
            initial_cash: 100.0,
            trades: &trades,
            bars_in_market: 0,
            first_price: 1.0,
            last_price: 1.0,
            bar_seconds: 60,
        });
        assert_eq!(m.volatility_pct, Some(0.0));
        assert_eq!((m.sharpe, m.sortino, m.calmar), (None, None, None));
        assert_eq!(m.max_drawdown_pct, 0.0);
        assert_eq!(m.max_drawdown_duration_bars, 0);
        assert_eq!(m.profit_factor, None);
        assert_eq!(m.win_rate_pct, Some(100.0));
        assert_eq!(m.gross_loss, 0.0);
        assert!(m.gross_loss.is_sign_positive());
    }

    #[test]
    fn one_trade_has_no_sqn_and_two_bars_have_no_volatility() {
        let ts: Vec<i64> = (0..2).map(bar_ts).collect();
        let trades = &hand_trades()[..1];
        let m = compute(&MetricsInput {
            ts: &ts,
            equity: &[100.0, 109.0],
            initial_cash: 100.0,
            trades,
            bars_in_market: 2,
            first_price: 10.0,
            last_price: 11.0,
            bar_seconds: 60,
        });
        assert_eq!(m.sqn, None);
        assert_eq!(m.expectancy, Some(9.0));
        assert_eq!(m.volatility_pct, None);
        assert_eq!(m.sharpe, None);
        assert_some_close(m.periods_per_year, 5.0, 1e-12);
    }

    #[test]
    fn equity_at_or_below_zero_drops_return_metrics_and_clamps_drawdown() {
        let ts: Vec<i64> = (0..4).map(bar_ts).collect();
        let m = compute(&MetricsInput {
            ts: &ts,
            equity: &[100.0, 0.0, -20.0, 5.0],
            initial_cash: 100.0,
            trades: &[],
            bars_in_market: 4,
            first_price: 1.0,
            last_price: 1.0,
            bar_seconds: 60,
        });
        assert_eq!(
            drawdown_curve(&[100.0, 0.0, -20.0, 5.0]),
            [0.0, -1.0, -1.0, -0.95]
        );
        assert_eq!(m.max_drawdown_pct, -100.0);
        assert_eq!((m.volatility_pct, m.sharpe, m.sortino), (None, None, None));
        assert_eq!(m.total_return_pct, Some(-95.0));
        assert_eq!(m.max_drawdown_duration_bars, 3);
    }

    #[test]
    fn cagr_of_a_wiped_out_account_is_minus_100_and_of_negative_equity_undefined() {
        assert_eq!(cagr_pct(0.0, 2.0), Some(-100.0));
        assert_eq!(cagr_pct(-0.5, 2.0), None);
        assert_eq!(
            cagr_pct(1.21, 2.0).map(|c| (c * 1e9).round() / 1e9),
            Some(10.0)
        );
        assert_eq!(cagr_pct(1.21, 0.0), None);
    }

    #[test]
    fn drawdown_duration_counts_an_unrecovered_stretch_to_the_end() {
        let ts: Vec<i64> = (0..5).map(|i| i * 86_400 * 1_000_000_000).collect();
        // Peak at bar 1, never recovered: bars 1 -> 4 = 3 bars, 3 days.
        let dd = drawdown_curve(&[1.0, 2.0, 1.5, 1.8, 1.9]);
        assert_eq!(drawdown_durations(&dd, &ts), (3, 3.0));
        // Weekend gap: the 2-bar stretch spans 4 days, the 3-bar one 3 days.
        let ts = [0, 1, 5, 6, 7, 8, 9].map(|d| d * 86_400 * 1_000_000_000);
        let dd = drawdown_curve(&[1.0, 0.9, 1.0, 0.9, 0.9, 1.0, 1.0]);
        assert_eq!(drawdown_durations(&dd, &ts), (3, 5.0));
    }

    #[test]
    fn return_pct_is_net_pnl_over_entry_notional() {
        let t = &hand_trades()[1];
        assert_eq!(t.return_pct(), -10.5);
        assert_eq!(t.bars_held(), 1);
        let mut zero = t.clone();
        zero.quantity = Decimal::ZERO;
        assert_eq!(zero.return_pct(), 0.0);
    }

    #[test]
    fn bars_in_market_merges_overlapping_and_clips_to_the_run() {
        let mut trades = hand_trades();
        assert_eq!(bars_in_market_from_trades(&trades, 6), 5);
        assert_eq!(bars_in_market_from_trades(&trades, 3), 2);
        trades[2].exit_bar = 40;
        assert_eq!(bars_in_market_from_trades(&trades, 6), 5);
        assert_eq!(bars_in_market_from_trades(&trades, 0), 0);
        assert_eq!(bars_in_market_from_trades(&[], 10), 0);
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    /// Every f64 in a report, by exhaustive destructuring (a new field must be added here).
    fn floats(m: &Metrics) -> Vec<Option<f64>> {
        let Metrics {
            start: _,
            end: _,
            duration_days,
            bars: _,
            periods_per_year,
            initial_equity,
            final_equity,
            peak_equity,
            total_return_pct,
            cagr_pct,
            volatility_pct,
            sharpe,
            sortino,
            calmar,
            max_drawdown_pct,
            max_drawdown_duration_bars: _,
            max_drawdown_duration_days,
            exposure_pct,
            trades: _,
            winning_trades: _,
            losing_trades: _,
            win_rate_pct,
            gross_profit,
            gross_loss,
            net_profit,
            profit_factor,
            expectancy,
            avg_trade_pct,
            best_trade_pct,
            worst_trade_pct,
            avg_holding_bars,
            avg_holding_days,
            sqn,
            buy_and_hold_return_pct,
            total_fees,
        } = m.clone();
        vec![
            Some(duration_days),
            periods_per_year,
            Some(initial_equity),
            Some(final_equity),
            Some(peak_equity),
            total_return_pct,
            cagr_pct,
            volatility_pct,
            sharpe,
            sortino,
            calmar,
            Some(max_drawdown_pct),
            Some(max_drawdown_duration_days),
            exposure_pct,
            win_rate_pct,
            Some(gross_profit),
            Some(gross_loss),
            Some(net_profit),
            profit_factor,
            expectancy,
            avg_trade_pct,
            best_trade_pct,
            worst_trade_pct,
            avg_holding_bars,
            avg_holding_days,
            sqn,
            buy_and_hold_return_pct,
            Some(total_fees),
        ]
    }

    fn decimal(max_mantissa: i64, signed: bool) -> impl Strategy<Value = Decimal> {
        let low = if signed { -max_mantissa } else { 1 };
        (low..=max_mantissa, 0_u32..=8).prop_map(|(m, scale)| Decimal::new(m, scale))
    }

    fn trade_record(bars: usize) -> impl Strategy<Value = TradeRecord> {
        (
            any::<bool>(),
            decimal(1_000_000_000_000, false),
            decimal(1_000_000_000_000, false),
            decimal(1_000_000_000_000, false),
            decimal(1_000_000_000, false),
            decimal(1_000_000_000_000_000, true),
            0..bars.max(1) * 2,
            0..bars.max(1) * 2,
            any::<i64>(),
            any::<i64>(),
        )
            .prop_map(
                |(long, quantity, entry_price, exit_price, fees, pnl, b0, b1, t0, t1)| {
                    TradeRecord {
                        instrument: "local:X".to_owned(),
                        side: if long { Side::Buy } else { Side::Sell },
                        quantity,
                        entry_bar: b0.min(b1),
                        exit_bar: b0.max(b1),
                        entry_ts: UnixNanos::new(t0.min(t1)),
                        exit_ts: UnixNanos::new(t0.max(t1)),
                        entry_price,
                        exit_price,
                        fees,
                        pnl,
                        exit_reason: "signal".to_owned(),
                    }
                },
            )
    }

    /// A random run: ascending timestamps, positive finite equity, random trades.
    fn run() -> impl Strategy<Value = (Vec<i64>, Vec<f64>, f64, Vec<TradeRecord>, usize, u32)> {
        (0_usize..120).prop_flat_map(|n| {
            (
                (
                    -4_000_000_000_000_000_000_i64..4_000_000_000_000_000_000,
                    prop::collection::vec(0_i64..1_000_000_000_000_000, n),
                )
                    .prop_map(|(t0, steps)| {
                        steps
                            .iter()
                            .scan(t0, |t, step| {
                                *t = t.saturating_add(*step);
                                Some(*t)
                            })
                            .collect::<Vec<i64>>()
                    }),
                prop::collection::vec(1e-6_f64..1e12, n),
                1e-6_f64..1e12,
                prop::collection::vec(trade_record(n), 0..12),
                0..=n,
                0_u32..=604_800,
            )
        })
    }

    proptest! {
        #[test]
        fn prop_drawdown_is_within_minus_one_and_zero(
            equity in prop::collection::vec(any::<f64>(), 0..64),
        ) {
            let dd = drawdown_curve(&equity);
            prop_assert_eq!(dd.len(), equity.len());
            for d in dd {
                prop_assert!((-1.0..=0.0).contains(&d), "{d}");
            }
        }

        #[test]
        fn prop_metrics_are_finite_and_consistent(
            (ts, equity, initial_cash, trades, bars_in_market, bar_seconds) in run(),
            first_price in 1e-6_f64..1e12,
            last_price in 1e-6_f64..1e12,
        ) {
            let m = compute(&MetricsInput {
                ts: &ts,
                equity: &equity,
                initial_cash,
                trades: &trades,
                bars_in_market,
                first_price,
                last_price,
                bar_seconds,
            });
            for x in floats(&m).into_iter().flatten() {
                prop_assert!(x.is_finite(), "{m:?}");
            }
            let dd = drawdown_curve(&equity);
            let min_dd = dd.iter().copied().reduce(f64::min).unwrap_or(0.0);
            prop_assert_eq!(m.max_drawdown_pct, min_dd * 100.0);
            prop_assert!(m.max_drawdown_pct <= 0.0 && m.max_drawdown_pct >= -100.0);
            prop_assert!(m.max_drawdown_duration_bars < equity.len().max(1));

            let total = m.total_return_pct.unwrap();
            let implied = initial_cash * (1.0 + total / 100.0);
            prop_assert!((implied - m.final_equity).abs() <= 1e-9 * m.final_equity.abs().max(initial_cash));
            // The curve's own returns compound to e[n-1] / e[0].
            if equity.len() >= 2 {
                let compounded: f64 = equity.windows(2).map(|w| w[1] / w[0]).product();
                let direct = equity[equity.len() - 1] / equity[0];
                prop_assert!((compounded / direct - 1.0).abs() < 1e-9);
            }
            for pct in [m.exposure_pct, m.win_rate_pct].into_iter().flatten() {
                prop_assert!((0.0..=100.0).contains(&pct));
            }
            prop_assert_eq!(m.winning_trades + m.losing_trades <= m.trades, true);
            prop_assert!(m.gross_profit >= 0.0 && m.gross_loss >= 0.0);
        }

        #[test]
        fn prop_metrics_stay_finite_for_any_float_input(
            equity in prop::collection::vec(any::<f64>(), 0..16),
            initial_cash in any::<f64>(),
            first_price in any::<f64>(),
            last_price in any::<f64>(),
            ts_raw in prop::collection::vec(any::<i64>(), 16),
        ) {
            let ts = &ts_raw[..equity.len()];
            let m = compute(&MetricsInput {
                ts,
                equity: &equity,
                initial_cash,
                trades: &[],
                bars_in_market: usize::MAX,
                first_price,
                last_price,
                bar_seconds: 1,
            });
            for x in floats(&m).into_iter().flatten() {
                prop_assert!(x.is_finite(), "{m:?}");
            }
        }

        #[test]
        fn prop_one_pass_drawdown_equals_the_drawdown_curve(
            equity in prop::collection::vec(
                prop_oneof![-50.0_f64..200.0, Just(0.0), Just(100.0), 1e-300_f64..1e-290],
                0..200,
            ),
        ) {
            // The episode-trough shortcut must give the bar-by-bar minimum exactly, for
            // negative, zero and tiny equity too.
            let ts: Vec<i64> = (0..equity.len() as i64).map(|i| i * 60_000_000_000).collect();
            let (dd, bars, _, _) = drawdown_stats(&equity, &ts);
            let curve = drawdown_curve(&equity);
            let brute = curve.iter().copied().fold(0.0, f64::min) * 100.0;
            prop_assert_eq!(dd, brute);
            // The longest time from a peak to the bar that recovers it (or to the last bar),
            // counted bar by bar.
            let mut longest = 0;
            let mut since = 0;
            for (i, &d) in curve.iter().enumerate() {
                if d >= 0.0 {
                    if i > 0 && curve[i - 1] < 0.0 {
                        longest = longest.max(i - since);
                    }
                    since = i;
                }
            }
            if curve.last().is_some_and(|&d| d < 0.0) {
                longest = longest.max(curve.len() - 1 - since);
            }
            prop_assert_eq!(bars, longest);
        }

        #[test]
        fn prop_bars_in_market_matches_a_bar_by_bar_count(
            trades in prop::collection::vec(trade_record(20), 0..8),
            bars in 0_usize..30,
        ) {
            let brute = (0..bars)
                .filter(|&b| trades.iter().any(|t| t.entry_bar <= b && b <= t.exit_bar))
                .count();
            prop_assert_eq!(bars_in_market_from_trades(&trades, bars), brute);
        }
    }
}

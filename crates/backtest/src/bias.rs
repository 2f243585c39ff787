//! The look-ahead check: rerun a strategy on truncated data and report every value that
//! changes when future bars are removed (Freqtrade's `lookahead-analysis`, extended to every
//! batch-computed column of a spec).
//!
//! A run on bars `0..k` (a *cut* at `k`) must agree with the run on all bars at every bar
//! `t < k`: a decision at bar `t` may use bars `0..=t` only, and the engine processes bar
//! `k − 1` completely (fills, mark, decision) before the run ends. So, for each cut, the check
//! compares at every bar `t < k`, the last bar of the cut included:
//!
//! - **indicators** (specs only): every base-timeframe column the compiler computes for a named
//!   indicator or a rule sub-expression ([`skeet_strategy::compile_traced`]), conditions as
//!   0/1; values compare exactly, NaN equal to NaN;
//! - **signals**: the [`Signals`] the engine received from the strategy at bar `t`, recorded by a
//!   wrapper around it (`entry.long`, `entry.short`, `exit.long`, `exit.short`); a bar the
//!   driver skipped because the strategy said it could not signal there counts as no signal;
//! - **orders**: the orders submitted at bar `t` (the event log's `Submitted` events: side,
//!   trigger with its prices, purpose; order ids are left out, being a running count). Fills
//!   and cancellations follow from these and the bars, and the run's end cancels working
//!   orders at `k − 1` by design, so they are not compared.
//!
//! Cut points: [`BiasConfig::cuts`] evenly spaced from the bar after the warm-up to `n − 1`,
//! plus the last [`BiasConfig::tail`] cuts (`n − 1`, `n − 2`, ...). Each cut is one compile and
//! one engine run over `k` bars.
//!
//! Each difference is reported once per cut and item (indicator column, signal or the orders),
//! at its first differing bar, with the number of bars at which it differs in that cut. A
//! difference in a position-dependent signal or an order can be a consequence of an earlier
//! one (the position differs from then on); the earliest difference is the cause to look at.
//!
//! Limitations: a code strategy is compared on signals and orders only (its internals are its
//! own); it is built anew for every run by a factory given the (truncated) market, so state
//! captured at construction is exactly what the check exercises. The cut points are a sample:
//! a leak shows wherever a cut removes the bars it reads, but one that changes a value only
//! on rare bars, none of them just before a cut, can go unseen; more cuts, more certainty.

use std::fmt;

use serde::{Deserialize, Serialize};
use skeet_core::UnixNanos;
use skeet_engine::EventKind;
use skeet_strategy::{
    BarContext, ExecSettings, ParamValues, SeriesData, Signals, SpecStrategy, Strategy,
    StrategySpec, TracedColumn, compile_traced,
};

use crate::runner::{BacktestError, Market, RunConfig, run_strategy};

/// How thoroughly to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BiasConfig {
    /// Evenly spaced cut points from the bar after the warm-up to the end (at least 1).
    pub cuts: usize,
    /// Cut points at the very end: the runs without the last 1, 2, ..., `tail` bars.
    pub tail: usize,
    /// Most differences listed in the report (all are counted).
    pub max_details: usize,
}

impl Default for BiasConfig {
    fn default() -> Self {
        Self {
            cuts: 20,
            tail: 3,
            max_details: 100,
        }
    }
}

/// What differed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// A column computed for a named indicator or a rule sub-expression.
    Indicator,
    /// A signal the strategy gave the engine.
    Signal,
    /// The orders submitted at a bar.
    Order,
}

impl DifferenceKind {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Indicator => "indicator",
            Self::Signal => "signal",
            Self::Order => "order",
        }
    }
}

/// One item that changed between the full run and a truncated one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Indicator, signal or order.
    pub kind: DifferenceKind,
    /// `indicators.fast_ma: sma(close, $fast)`, `entry.long`, or `submitted` for orders.
    pub name: String,
    /// First bar (index) at which it differs in this cut.
    pub bar: usize,
    /// Open time of that bar.
    pub ts: UnixNanos,
    /// Its value in the run on all bars.
    pub full: String,
    /// Its value in the truncated run.
    pub truncated: String,
    /// Bars kept in the truncated run (it ran on bars `0..cut`).
    pub cut: usize,
    /// Bars at which this item differs in this cut.
    pub bars_differing: usize,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} at bar {} ({}): full={}, truncated at {}={}",
            self.kind.as_str(),
            self.name,
            self.bar,
            short_time(self.ts),
            self.full,
            self.cut,
            self.truncated
        )
    }
}

/// The outcome of a look-ahead check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BiasReport {
    /// True when nothing changed at any cut.
    pub clean: bool,
    /// Bars of the full run.
    pub bars: usize,
    /// Cut points: bars kept in each truncated run, ascending.
    pub cuts: Vec<usize>,
    /// Signals compared: the spec's declared rules, or all four for a code strategy.
    pub rules: usize,
    /// Indicator and sub-expression columns compared (`None` for a code strategy).
    pub indicator_columns: Option<usize>,
    /// Orders submitted in the full run (each compared in every cut that contains its bar).
    pub orders: usize,
    /// Bars at which something differed, summed over items and cuts.
    pub differences: usize,
    /// The items that differed (`kind name`), in the order of their first difference.
    pub biased: Vec<String>,
    /// The differences, earliest bar first (indicators before signals before orders at one
    /// bar), at most [`BiasConfig::max_details`].
    pub details: Vec<Difference>,
}

impl BiasReport {
    /// One line: `look-ahead check: clean (...)` or `look-ahead check: FAILED — N differences;
    /// first: ...`.
    pub fn summary(&self) -> String {
        if let Some(first) = self.details.first() {
            let s = if self.differences == 1 { "" } else { "s" };
            return format!(
                "look-ahead check: FAILED — {} difference{s}; first: {first}",
                self.differences
            );
        }
        let compared = match self.indicator_columns {
            Some(c) => format!(
                "{} rule{}, {c} indicator column{} compared",
                self.rules,
                plural(self.rules),
                plural(c)
            ),
            None => format!("{} signals and the orders compared", self.rules),
        };
        format!(
            "look-ahead check: clean ({} cut{}, {} bars, {compared})",
            self.cuts.len(),
            plural(self.cuts.len()),
            self.bars
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A date alone at midnight UTC, the full RFC 3339 time otherwise.
fn short_time(ts: UnixNanos) -> String {
    const DAY: i64 = 86_400_000_000_000;
    let text = ts.to_rfc3339();
    if ts.as_nanos().rem_euclid(DAY) == 0 {
        text.split('T').next().unwrap_or(&text).to_string()
    } else {
        text
    }
}

/// Checks a spec: compiles and runs it on all bars and on each cut, comparing indicator
/// columns, signals and orders (see the module docs).
///
/// # Errors
/// Fewer than 2 bars, or a spec that does not compile against the data.
pub fn check_spec(
    spec: &StrategySpec,
    params: &ParamValues,
    market: &Market,
    cfg: &RunConfig,
    bias: &BiasConfig,
) -> Result<BiasReport, BacktestError> {
    let run = |m: &Market| -> Result<Observed, BacktestError> {
        let b = &m.bars;
        let (program, columns) = compile_traced(
            spec,
            params,
            &SeriesData {
                ts: b.ts(),
                open: b.open(),
                high: b.high(),
                low: b.low(),
                close: b.close(),
                volume: b.volume(),
                timeframe: m.timeframe,
            },
        )?;
        observe(SpecStrategy::new(program, cfg.allow_short), columns, m, cfg)
    };
    let rules = [
        &spec.entry.long,
        &spec.entry.short,
        &spec.exit.long,
        &spec.exit.short,
    ]
    .iter()
    .filter(|r| r.is_some())
    .count();
    check(run, market, bias, rules, true)
}

/// Checks a code strategy, built anew for every run by `factory` from the market of that run
/// (all bars, or a cut), so that whatever it computes at construction sees only those bars.
/// Signals and orders are compared (see the module docs).
///
/// # Errors
/// Fewer than 2 bars.
pub fn check_strategy<S, F>(
    mut factory: F,
    market: &Market,
    cfg: &RunConfig,
    bias: &BiasConfig,
) -> Result<BiasReport, BacktestError>
where
    S: Strategy,
    F: FnMut(&Market) -> S,
{
    let run = |m: &Market| observe(factory(m), Vec::new(), m, cfg);
    check(run, market, bias, 4, false)
}

/// What one run produced, for comparison.
struct Observed {
    columns: Vec<TracedColumn>,
    /// Per bar, the signals the strategy returned (`None`: not asked, no signal possible).
    signals: Vec<Option<Signals>>,
    /// Per bar with submitted orders, ascending: the bar and its orders, `side trigger
    /// purpose` joined by `; `.
    orders: Vec<(usize, String)>,
    /// Orders submitted in the run.
    order_count: usize,
    warmup: usize,
}

/// Passes everything through to the strategy and records the signals it returns.
struct Recorder<S> {
    inner: S,
    signals: Vec<Option<Signals>>,
}

impl<S: Strategy> Strategy for Recorder<S> {
    fn execution(&self) -> &ExecSettings {
        self.inner.execution()
    }

    fn warmup(&self) -> usize {
        self.inner.warmup()
    }

    fn on_bar(&mut self, ctx: &BarContext<'_>) -> Signals {
        let s = self.inner.on_bar(ctx);
        if let Some(slot) = self.signals.get_mut(ctx.index) {
            *slot = Some(s);
        }
        s
    }

    fn next_decision(&self, from: usize, side: i8) -> Option<usize> {
        self.inner.next_decision(from, side)
    }
}

fn observe<S: Strategy>(
    strategy: S,
    columns: Vec<TracedColumn>,
    market: &Market,
    cfg: &RunConfig,
) -> Result<Observed, BacktestError> {
    let warmup = strategy.warmup();
    let mut rec = Recorder {
        inner: strategy,
        signals: vec![None; market.bars.len()],
    };
    let out = run_strategy(&mut rec, "look-ahead check", market, cfg)?;
    // The log is in bar order, so each bar's orders are consecutive.
    let mut orders: Vec<(usize, String)> = Vec::new();
    let mut order_count = 0;
    for e in &out.events {
        let EventKind::Submitted {
            side,
            trigger,
            purpose,
            ..
        } = &e.kind
        else {
            continue;
        };
        order_count += 1;
        let text = format!("{side} {trigger} {}", purpose.as_str());
        match orders.last_mut() {
            Some((bar, all)) if *bar == e.bar => {
                all.push_str("; ");
                all.push_str(&text);
            }
            _ => orders.push((e.bar, text)),
        }
    }
    Ok(Observed {
        columns,
        signals: rec.signals,
        orders,
        order_count,
        warmup,
    })
}

/// Cut points: `cuts` evenly spaced over `[warmup + 1, n − 1]` and the last `tail`, distinct
/// and ascending; every one in `1..n`.
fn cut_points(warmup: usize, n: usize, bias: &BiasConfig) -> Vec<usize> {
    let hi = n - 1;
    let lo = (warmup + 1).clamp(1, hi);
    let count = bias.cuts.max(1);
    let mut cuts: Vec<usize> = if count == 1 {
        vec![hi]
    } else {
        (0..count)
            .map(|i| lo + (hi - lo) * i / (count - 1))
            .collect()
    };
    cuts.extend(
        (1..=bias.tail)
            .filter_map(|d| n.checked_sub(d))
            .filter(|&k| k >= 1),
    );
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn check(
    mut run: impl FnMut(&Market) -> Result<Observed, BacktestError>,
    market: &Market,
    bias: &BiasConfig,
    rules: usize,
    is_spec: bool,
) -> Result<BiasReport, BacktestError> {
    let n = market.bars.len();
    if n < 2 {
        return Err(BacktestError::Data(format!(
            "the look-ahead check needs at least 2 bars, got {n}"
        )));
    }
    let full = run(market)?;
    let cuts = cut_points(full.warmup, n, bias);
    let ts = market.bars.ts();
    let mut found = Vec::new();
    for &k in &cuts {
        let cut = Market {
            instrument: market.instrument.clone(),
            timeframe: market.timeframe,
            bars: market.bars.slice(0, k),
            data_hash: String::new(),
        };
        let part = run(&cut)?;
        compare(&full, &part, k, ts, &mut found);
    }
    found.sort_by(|a, b| (a.bar, a.kind, &a.name, a.cut).cmp(&(b.bar, b.kind, &b.name, b.cut)));
    let differences = found.iter().map(|d| d.bars_differing).sum();
    let mut biased: Vec<String> = Vec::new();
    for d in &found {
        let item = format!("{} {}", d.kind.as_str(), d.name);
        if !biased.contains(&item) {
            biased.push(item);
        }
    }
    found.truncate(bias.max_details);
    Ok(BiasReport {
        clean: differences == 0,
        bars: n,
        cuts,
        rules,
        indicator_columns: is_spec.then_some(full.columns.len()),
        orders: full.order_count,
        differences,
        biased,
        details: found,
    })
}

/// Appends the differences between `full` and `part` (a run on bars `0..k`) at bars `< k`.
fn compare<'a>(
    full: &'a Observed,
    part: &'a Observed,
    k: usize,
    ts: &[i64],
    out: &mut Vec<Difference>,
) {
    let mut record =
        |kind, name: &str, diffs: &mut dyn Iterator<Item = (usize, String, String)>| {
            let Some((bar, f, t)) = diffs.next() else {
                return;
            };
            out.push(Difference {
                kind,
                name: name.to_string(),
                bar,
                ts: UnixNanos::new(ts[bar]),
                full: f,
                truncated: t,
                cut: k,
                bars_differing: 1 + diffs.count(),
            });
        };

    for col in &full.columns {
        let name = col.name();
        let other = part
            .columns
            .iter()
            .find(|c| c.path == col.path && c.expr == col.expr);
        let shown = |v: f64| {
            if col.boolean {
                (v != 0.0).to_string()
            } else {
                v.to_string()
            }
        };
        let mut diffs = (0..k).filter_map(|t| {
            let a = col.values.get(t).copied().unwrap_or(f64::NAN);
            let b = other.and_then(|c| c.values.get(t).copied());
            match b {
                Some(b) if a == b || (a.is_nan() && b.is_nan()) => None,
                Some(b) => Some((t, shown(a), shown(b))),
                None => Some((t, shown(a), "not computed".to_string())),
            }
        });
        record(DifferenceKind::Indicator, &name, &mut diffs);
    }

    let signal = |o: &Observed, t: usize| o.signals.get(t).copied().flatten().unwrap_or_default();
    let flags = |s: Signals| [s.enter_long, s.enter_short, s.exit_long, s.exit_short];
    for (i, name) in ["entry.long", "entry.short", "exit.long", "exit.short"]
        .into_iter()
        .enumerate()
    {
        let mut diffs = (0..k).filter_map(|t| {
            let (a, b) = (flags(signal(full, t))[i], flags(signal(part, t))[i]);
            (a != b).then(|| (t, a.to_string(), b.to_string()))
        });
        record(DifferenceKind::Signal, name, &mut diffs);
    }

    // Merge the two runs' bars with orders (both ascending), up to the cut.
    let before_cut = |o: &'a Observed| o.orders.iter().take_while(move |(b, _)| *b < k);
    let (mut f, mut p) = (before_cut(full).peekable(), before_cut(part).peekable());
    let mut diffs = std::iter::from_fn(|| {
        loop {
            let (a, b) = match (f.peek(), p.peek()) {
                (None, None) => return None,
                (Some((fb, _)), Some((pb, _))) if fb == pb => (f.next(), p.next()),
                (Some((fb, _)), Some((pb, _))) if fb < pb => (f.next(), None),
                (Some(_), None) => (f.next(), None),
                _ => (None, p.next()),
            };
            let bar = a.or(b).map_or(0, |(t, _)| *t);
            let shown =
                |x: Option<&(usize, String)>| x.map_or("none", |(_, s)| s.as_str()).to_string();
            let (a, b) = (shown(a), shown(b));
            if a != b {
                return Some((bar, a, b));
            }
        }
    });
    record(DifferenceKind::Order, "submitted", &mut diffs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_points_span_the_warm_up_to_the_end_plus_the_tail() {
        let cfg = |cuts, tail| BiasConfig {
            cuts,
            tail,
            max_details: 10,
        };
        assert_eq!(cut_points(9, 100, &cfg(4, 3)), [10, 39, 69, 97, 98, 99]);
        assert_eq!(cut_points(0, 5, &cfg(20, 3)), [1, 2, 3, 4]);
        assert_eq!(cut_points(500, 10, &cfg(3, 0)), [9]);
        assert_eq!(cut_points(0, 2, &cfg(1, 5)), [1]);
        assert_eq!(cut_points(3, 50, &cfg(0, 0)), [49]);
    }

    #[test]
    fn times_at_midnight_show_the_date_alone() {
        assert_eq!(
            short_time(UnixNanos::new(1_107_129_600_000_000_000)),
            "2005-01-31"
        );
        assert_eq!(
            short_time(UnixNanos::new(
                1_107_129_600_000_000_000 + 3_600_000_000_000
            )),
            "2005-01-31T01:00:00Z"
        );
    }
}

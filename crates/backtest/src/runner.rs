//! Running a backtest: compile (for specs), drive the engine bar by bar, collect the report.
//!
//! The loop is the same for every strategy: per bar, the simulated venue fills what earlier
//! bars decided, the account is marked at the close, and the strategy decides on the bar that
//! just closed. `engine_seconds` measures compilation (indicators and rules, for specs) plus
//! this loop; loading data is excluded.

use std::time::Instant;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_core::{BarSeries, Currency, Instrument, InstrumentId, Side, Timeframe, UnixNanos};
use skeet_engine::{
    BarRef, Engine, EngineConfig, EngineResult, FillModel, RiskLimits, Slippage, Trade,
};
use skeet_strategy::{
    BarsView, ParamValues, SeriesData, SpecError, SpecStrategy, Strategy, StrategySpec, compile,
};

use crate::metrics::{self, Metrics, MetricsInput, TradeRecord};

/// The engine's semantic version, recorded in every report. Bumped whenever a change could
/// alter a result (fill rules, accounting, sizing), so two reports are comparable only when
/// their versions agree.
pub const ENGINE_VERSION: &str =
    concat!("skeet-engine ", env!("CARGO_PKG_VERSION"), " (semantics 1)");

/// What a run trades: one instrument's bars.
#[derive(Clone, Debug)]
pub struct Market {
    /// The instrument and its trading rules.
    pub instrument: Instrument,
    /// Bar timeframe.
    pub timeframe: Timeframe,
    /// The bars.
    pub bars: BarSeries,
    /// Content hash of the bars (see `skeet_data::series_hash`).
    pub data_hash: String,
}

/// Run settings (the CLI's flags).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Starting cash.
    pub cash: Decimal,
    /// Quote currency of the account.
    pub currency: Currency,
    /// Market-order fill price.
    pub fill: FillModel,
    /// Slippage.
    pub slippage: Slippage,
    /// Buying power as a multiple of equity.
    pub leverage: f64,
    /// Allow short entries (in addition to the spec's `execution.allow_short`).
    pub allow_short: bool,
    /// Pre-trade limits.
    pub risk: RiskLimits,
    /// Most equity-curve points kept in the report (evenly sampled; the metrics always use
    /// every bar).
    pub curve_points: usize,
    /// Skip stretches of bars in which nothing can happen (no working order, no stop that
    /// moves, and the strategy says it cannot signal before a later bar), marking to market
    /// only. Results are identical either way (tested); off only to prove that.
    #[serde(default = "yes")]
    pub skip_quiet_bars: bool,
    /// Bars before this index only warm indicators up: no decisions, no trades, and the
    /// metrics cover the bars from here on (walk-forward's out-of-sample windows).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub trade_from: usize,
    /// Close every open position at the last bar's close (a market order: taker fee and
    /// slippage) so the result is fully realised. Walk-forward test windows use it; off by
    /// default, where an open position is valued at the last close without exit costs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub close_at_end: bool,
}

fn is_false(x: &bool) -> bool {
    !*x
}

fn is_zero(x: &usize) -> bool {
    *x == 0
}

fn yes() -> bool {
    true
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            cash: Decimal::from(10_000),
            currency: Currency::new("USD").expect("invariant: USD is a valid currency"),
            fill: FillModel::NextOpen,
            slippage: Slippage::default(),
            leverage: 1.0,
            allow_short: false,
            risk: RiskLimits::default(),
            curve_points: 2_000,
            skip_quiet_bars: true,
            trade_from: 0,
            close_at_end: false,
        }
    }
}

/// A point of the equity curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Bar open time, ns.
    pub ts: i64,
    /// Equity at the bar's close.
    pub equity: f64,
    /// Drawdown from the running peak, fraction (<= 0).
    pub drawdown: f64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// [`ENGINE_VERSION`].
    pub engine_version: String,
    /// Strategy name.
    pub strategy: String,
    /// SHA-256 of the spec's canonical JSON (`None` for code strategies).
    pub spec_hash: Option<String>,
    /// Parameter values used.
    pub params: ParamValues,
    /// Instrument traded (the first one, for a portfolio).
    pub instrument: InstrumentId,
    /// Every instrument traded (one, except for portfolio runs).
    pub instruments: Vec<InstrumentId>,
    /// Bar timeframe.
    pub timeframe: Timeframe,
    /// Content hash of the bars.
    pub data_hash: String,
    /// Run settings.
    pub config: RunConfig,
    /// Performance metrics.
    pub metrics: Metrics,
    /// Exact final equity (cash + open position at the last close), decimal string.
    pub final_equity: Decimal,
    /// Exact final cash.
    pub final_cash: Decimal,
    /// Signed units still held at the end.
    pub open_position: Decimal,
    /// Closed trades.
    pub trades: Vec<TradeRecord>,
    /// Every order, filled or not.
    pub orders: Vec<skeet_engine::OrderRecord>,
    /// Sampled equity and drawdown curve.
    pub equity_curve: Vec<CurvePoint>,
    /// First bar at which a rule can fire: every rule input has a value (a crossover needs one
    /// bar more than its averages).
    pub warmup_bars: usize,
    /// Compile + simulation time, seconds.
    pub engine_seconds: f64,
    /// Of which compiling the strategy (indicators and rules in batch), seconds.
    pub compile_seconds: f64,
    /// Bars simulated per second of `engine_seconds`.
    pub bars_per_second: f64,
    /// Events in the log (the log itself is available from [`RunOutput`]).
    pub events: usize,
    /// Orders the risk manager or the venue refused, grouped by reason.
    pub warnings: Vec<String>,
}

/// A report plus the full-resolution outputs.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The report.
    pub report: Report,
    /// Equity at every bar.
    pub equity: Vec<f64>,
    /// The event log.
    pub events: Vec<skeet_engine::Event>,
}

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The strategy spec or its parameters are invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The data cannot be used.
    #[error("{0}")]
    Data(String),
}

/// The columns of `market`'s bars, as a spec is compiled against them.
pub(crate) fn series_data(market: &Market) -> SeriesData<'_> {
    let b = &market.bars;
    SeriesData {
        ts: b.ts(),
        open: b.open(),
        high: b.high(),
        low: b.low(),
        close: b.close(),
        volume: b.volume(),
        timeframe: market.timeframe,
    }
}

/// Bar `t` of `bars` as the engine sees it (`tf_ns`: the timeframe in ns).
#[inline]
pub(crate) fn bar_ref(bars: &BarSeries, t: usize, tf_ns: i64) -> BarRef {
    let ts = bars.ts()[t];
    BarRef {
        ts,
        close_ts: ts + tf_ns,
        open: bars.open()[t],
        high: bars.high()[t],
        low: bars.low()[t],
        close: bars.close()[t],
        volume: bars.volume()[t],
    }
}

/// An engine for `instruments` with the run's account, fill, slippage, leverage and risk.
pub(crate) fn new_engine(cfg: &RunConfig, instruments: Vec<Instrument>) -> Engine {
    Engine::new(
        EngineConfig {
            initial_cash: cfg.cash,
            currency: cfg.currency,
            fill: cfg.fill,
            slippage: cfg.slippage,
            leverage: cfg.leverage,
            risk: cfg.risk.clone(),
        },
        instruments,
    )
}

/// Instrument `i` trades with `strategy`'s execution settings (shorts also when the run
/// allows them).
pub(crate) fn configure<S: Strategy + ?Sized>(
    engine: &mut Engine,
    i: usize,
    strategy: &S,
    cfg: &RunConfig,
) {
    let mut exec = strategy.execution().clone();
    exec.allow_short |= cfg.allow_short;
    engine.configure(i, &exec);
}

/// Compiles and runs a spec.
///
/// # Errors
/// A spec that does not compile against this data, or empty data.
pub fn run_spec(
    spec: &StrategySpec,
    params: &ParamValues,
    market: &Market,
    cfg: &RunConfig,
) -> Result<RunOutput, BacktestError> {
    if market.bars.is_empty() {
        return Err(BacktestError::Data(
            "no bars to backtest; check --from/--to and the data".into(),
        ));
    }
    let started = Instant::now();
    let program = compile(spec, params, &series_data(market))?;
    let compile_seconds = started.elapsed().as_secs_f64();
    let buy_and_hold_from = program.indicator_warmup();
    let mut strategy = SpecStrategy::new(program, cfg.allow_short);
    let warmup = strategy.warmup();
    Ok(drive(
        &mut strategy,
        market,
        cfg,
        Identity {
            name: spec.name.clone(),
            spec_hash: Some(spec.hash()),
            params: params.clone(),
            warmup,
            buy_and_hold_from,
            compile_seconds,
        },
        started,
    ))
}

/// Compiles and runs a spec over several instruments sharing one account (a portfolio): every
/// instrument gets the spec's rules on its own bars; bars are processed in time order, all
/// instruments' fills before anyone decides at a given time. Instruments must share a
/// timeframe. Size entries as a share of equity (`pct_equity`): all-in would give the whole
/// account to whichever instrument signals first.
///
/// # Errors
/// A spec that does not compile against one of the series, empty data or mixed timeframes.
pub fn run_spec_portfolio(
    spec: &StrategySpec,
    params: &ParamValues,
    markets: &[Market],
    cfg: &RunConfig,
) -> Result<RunOutput, BacktestError> {
    match markets {
        [] => return Err(BacktestError::Data("no instruments to backtest".into())),
        [one] => return run_spec(spec, params, one, cfg),
        _ => {}
    }
    let tf = markets[0].timeframe;
    if let Some(m) = markets.iter().find(|m| m.timeframe != tf) {
        return Err(BacktestError::Data(format!(
            "{} has {} bars and {} has {tf} bars; a portfolio runs on one timeframe",
            m.instrument.id, m.timeframe, markets[0].instrument.id
        )));
    }
    if let Some(m) = markets.iter().find(|m| m.bars.is_empty()) {
        return Err(BacktestError::Data(format!(
            "no bars for {}",
            m.instrument.id
        )));
    }
    let started = Instant::now();
    let mut strategies = Vec::with_capacity(markets.len());
    let mut buy_and_hold_from = Vec::with_capacity(markets.len());
    for m in markets {
        // Every market has the timeframe `tf` (checked above).
        let program = compile(spec, params, &series_data(m))?;
        buy_and_hold_from.push(program.indicator_warmup());
        strategies.push(SpecStrategy::new(program, cfg.allow_short));
    }
    let compile_seconds = started.elapsed().as_secs_f64();
    let mut engine = new_engine(cfg, markets.iter().map(|m| m.instrument.clone()).collect());
    for (i, s) in strategies.iter().enumerate() {
        configure(&mut engine, i, s, cfg);
    }
    // The merged timeline and, per instrument, a cursor into its own bars.
    let mut timeline: Vec<i64> = markets
        .iter()
        .flat_map(|m| m.bars.ts().iter().copied())
        .collect();
    timeline.sort_unstable();
    timeline.dedup();
    let tf_ns = tf.as_nanos();
    let mut cursor = vec![0usize; markets.len()];
    let mut equity = Vec::with_capacity(timeline.len());
    let mut at_step: Vec<Option<usize>> = vec![None; markets.len()];
    let bar_of = |k: usize, t: usize| bar_ref(&markets[k].bars, t, tf_ns);
    for &now in &timeline {
        for (k, m) in markets.iter().enumerate() {
            let c = cursor[k];
            at_step[k] = (c < m.bars.len() && m.bars.ts()[c] == now).then_some(c);
        }
        for (k, step) in at_step.iter().enumerate() {
            if let Some(t) = *step {
                engine.match_bar(k, t, &bar_of(k, t));
            }
        }
        for (k, step) in at_step.iter().enumerate() {
            if let Some(t) = *step {
                engine.mark(k, markets[k].bars.close()[t]);
            }
        }
        equity.push(engine.equity_f());
        for (k, step) in at_step.iter().enumerate() {
            if let Some(t) = *step {
                let b = &markets[k].bars;
                let view = BarsView::new(
                    t,
                    b.ts(),
                    b.open(),
                    b.high(),
                    b.low(),
                    b.close(),
                    b.volume(),
                );
                engine.decide(k, t, &bar_of(k, t), view, &mut strategies[k]);
                cursor[k] += 1;
            }
        }
    }
    let last_ts = timeline.last().copied().unwrap_or(0) + tf_ns;
    if cfg.close_at_end && !timeline.is_empty() {
        for (k, m) in markets.iter().enumerate() {
            let t = m.bars.len() - 1;
            engine.close_out(k, timeline.len() - 1, &bar_of(k, t));
            engine.mark(k, m.bars.close()[t]);
        }
        if let Some(e) = equity.last_mut() {
            *e = engine.equity_f();
        }
    }
    let result = engine.finish(timeline.len().saturating_sub(1), last_ts);
    let engine_seconds = started.elapsed().as_secs_f64();

    // Buy and hold of the portfolio: equal weights, each from its first trading bar.
    let bh: f64 = markets
        .iter()
        .zip(&buy_and_hold_from)
        .map(|(m, &from)| {
            let c = m.bars.close();
            c[c.len() - 1] / c[from.min(c.len() - 1)] - 1.0
        })
        .sum::<f64>()
        / markets.len() as f64;
    let combined = Market {
        instrument: markets[0].instrument.clone(),
        timeframe: tf,
        bars: BarSeries::new(),
        data_hash: combined_hash(markets),
    };
    Ok(build_portfolio_report(
        &combined,
        markets,
        cfg,
        Identity {
            name: spec.name.clone(),
            spec_hash: Some(spec.hash()),
            params: params.clone(),
            warmup: strategies
                .iter()
                .map(SpecStrategy::warmup)
                .max()
                .unwrap_or(0),
            buy_and_hold_from: 0,
            compile_seconds,
        },
        result,
        equity,
        &timeline,
        bh,
        engine_seconds,
    ))
}

fn combined_hash(markets: &[Market]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for m in markets {
        h.update(m.instrument.id.to_string().as_bytes());
        h.update(b"\0");
        h.update(m.data_hash.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[expect(clippy::too_many_arguments, reason = "internal assembly of one report")]
fn build_portfolio_report(
    combined: &Market,
    markets: &[Market],
    cfg: &RunConfig,
    id: Identity,
    result: EngineResult,
    equity: Vec<f64>,
    timeline: &[i64],
    buy_and_hold: f64,
    engine_seconds: f64,
) -> RunOutput {
    let n = timeline.len();
    let trades: Vec<TradeRecord> = result
        .trades
        .iter()
        .map(|t| trade_record(t, &markets[t.instrument].instrument.id.to_string()))
        .collect();
    let mut final_equity = result.cash;
    let mut open_position = Decimal::ZERO;
    for (m, p) in markets.iter().zip(&result.open_positions) {
        let last = m.bars.close()[m.bars.len() - 1];
        let px = skeet_core::Price::try_from_f64(last).map_or(Decimal::ZERO, |p| p.as_decimal());
        final_equity += p.quantity * px;
        if open_position.is_zero() {
            open_position = p.quantity;
        }
    }
    let m = metrics::compute(&MetricsInput {
        ts: timeline,
        equity: &equity,
        initial_cash: skeet_engine::account::to_f64(cfg.cash),
        trades: &trades,
        bars_in_market: metrics::bars_in_market_from_trades(&trades, n),
        first_price: 1.0,
        last_price: 1.0 + buy_and_hold,
        bar_seconds: combined.timeframe.as_secs(),
    });
    let curve = sample_curve(timeline, &equity, cfg.curve_points);
    let bars: usize = markets.iter().map(|m| m.bars.len()).sum();
    let report = Report {
        engine_version: ENGINE_VERSION.into(),
        strategy: id.name,
        spec_hash: id.spec_hash,
        params: id.params,
        instrument: combined.instrument.id,
        instruments: markets.iter().map(|m| m.instrument.id).collect(),
        timeframe: combined.timeframe,
        data_hash: combined.data_hash.clone(),
        config: cfg.clone(),
        metrics: m,
        final_equity: final_equity.normalize(),
        final_cash: result.cash.normalize(),
        open_position: open_position.normalize(),
        trades,
        orders: result.orders,
        equity_curve: curve,
        warmup_bars: id.warmup,
        engine_seconds,
        compile_seconds: id.compile_seconds,
        bars_per_second: if engine_seconds > 0.0 {
            bars as f64 / engine_seconds
        } else {
            0.0
        },
        events: result.events.len(),
        warnings: warnings(&result.events),
    };
    RunOutput {
        report,
        equity,
        events: result.events,
    }
}

/// Runs a code strategy.
pub fn run_strategy<S: Strategy>(
    strategy: &mut S,
    name: &str,
    market: &Market,
    cfg: &RunConfig,
) -> Result<RunOutput, BacktestError> {
    if market.bars.is_empty() {
        return Err(BacktestError::Data("no bars to backtest".into()));
    }
    let started = Instant::now();
    let warmup = strategy.warmup();
    Ok(drive(
        strategy,
        market,
        cfg,
        Identity {
            name: name.into(),
            spec_hash: None,
            params: ParamValues::default(),
            warmup,
            buy_and_hold_from: warmup,
            compile_seconds: 0.0,
        },
        started,
    ))
}

struct Identity {
    name: String,
    spec_hash: Option<String>,
    params: ParamValues,
    warmup: usize,
    /// Bar whose close starts the buy-and-hold comparison (backtesting.py's first trading
    /// bar: where the last indicator gets its first value).
    buy_and_hold_from: usize,
    compile_seconds: f64,
}

fn drive<S: Strategy + ?Sized>(
    strategy: &mut S,
    market: &Market,
    cfg: &RunConfig,
    id: Identity,
    started: Instant,
) -> RunOutput {
    let b = &market.bars;
    let n = b.len();
    let mut engine = new_engine(cfg, vec![market.instrument.clone()]);
    configure(&mut engine, 0, strategy, cfg);
    let tf = market.timeframe.as_nanos();
    let (ts, open, high, low, close, volume) =
        (b.ts(), b.open(), b.high(), b.low(), b.close(), b.volume());
    let mut equity = Vec::with_capacity(n);
    let mut t = cfg.trade_from.min(n);
    // Warm-up bars: nothing can happen (flat, no orders); only mark to market.
    engine.mark_quiet_run(0, &close[..t], &mut equity);
    while t < n {
        let bar = bar_ref(b, t, tf);
        engine.match_bar(0, t, &bar);
        engine.mark(0, bar.close);
        equity.push(engine.equity_f());
        let view = BarsView::new(t, ts, open, high, low, close, volume);
        engine.decide(0, t, &bar, view, strategy);
        t += 1;
        if cfg.skip_quiet_bars && t < n && engine.is_quiet(0) {
            let q = engine.account().qty_f(0);
            let side = if q > 0.0 {
                1
            } else if q < 0.0 {
                -1
            } else {
                0
            };
            let next = strategy.next_decision(t, side).unwrap_or(n).min(n);
            if next > t {
                engine.mark_quiet_run(0, &close[t..next], &mut equity);
                t = next;
            }
        }
    }
    let last_ts = ts[n - 1] + tf;
    if cfg.close_at_end && n > 0 {
        engine.close_out(0, n - 1, &bar_ref(b, n - 1, tf));
        engine.mark(0, close[n - 1]);
        if let Some(e) = equity.last_mut() {
            *e = engine.equity_f();
        }
    }
    let result = engine.finish(n - 1, last_ts);
    let engine_seconds = started.elapsed().as_secs_f64();
    build_report(market, cfg, id, result, equity, engine_seconds)
}

fn build_report(
    market: &Market,
    cfg: &RunConfig,
    id: Identity,
    result: EngineResult,
    equity: Vec<f64>,
    engine_seconds: f64,
) -> RunOutput {
    let b = &market.bars;
    let n = b.len();
    let instrument = market.instrument.id.to_string();
    let trades: Vec<TradeRecord> = result
        .trades
        .iter()
        .map(|t| trade_record(t, &instrument))
        .collect();
    let last_close = b.close()[n - 1];
    let position = result
        .open_positions
        .first()
        .map_or(Decimal::ZERO, |p| p.quantity);
    let last_px =
        skeet_core::Price::try_from_f64(last_close).map_or(Decimal::ZERO, |p| p.as_decimal());
    let final_equity = (result.cash + position * last_px).normalize();
    // With a warm-up prefix (walk-forward), metrics and buy-and-hold cover the traded part.
    let from = cfg.trade_from.min(n - 1);
    let first_price = b.close()[id.buy_and_hold_from.max(from).min(n - 1)];
    let m = metrics::compute(&MetricsInput {
        ts: &b.ts()[from..],
        equity: &equity[from..],
        initial_cash: skeet_engine::account::to_f64(cfg.cash),
        trades: &trades,
        bars_in_market: metrics::bars_in_market_from_trades(&trades, n) + open_bars(&result, n),
        first_price,
        last_price: last_close,
        bar_seconds: market.timeframe.as_secs(),
    });
    let curve = sample_curve(&b.ts()[from..], &equity[from..], cfg.curve_points);
    let bars_per_second = if engine_seconds > 0.0 {
        n as f64 / engine_seconds
    } else {
        0.0
    };
    let report = Report {
        engine_version: ENGINE_VERSION.into(),
        strategy: id.name,
        spec_hash: id.spec_hash,
        params: id.params,
        instrument: market.instrument.id,
        instruments: vec![market.instrument.id],
        timeframe: market.timeframe,
        data_hash: market.data_hash.clone(),
        config: cfg.clone(),
        metrics: m,
        final_equity,
        final_cash: result.cash.normalize(),
        open_position: position.normalize(),
        trades,
        orders: result.orders,
        equity_curve: curve,
        warmup_bars: id.warmup,
        engine_seconds,
        compile_seconds: id.compile_seconds,
        bars_per_second,
        events: result.events.len(),
        warnings: warnings(&result.events),
    };
    RunOutput {
        report,
        equity,
        events: result.events,
    }
}

/// Summarises refusals and rejections: one line per distinct reason, with a count and the
/// first bar.
fn warnings(events: &[skeet_engine::Event]) -> Vec<String> {
    use skeet_engine::EventKind;
    let mut by_reason: Vec<(String, usize, usize)> = Vec::new();
    for e in events {
        let reason = match &e.kind {
            EventKind::Refused {
                purpose, reason, ..
            } => format!("{purpose} refused: {reason}"),
            EventKind::Closed {
                status: skeet_core::OrderStatus::Rejected,
                reason,
                ..
            } => format!("order rejected: {reason}"),
            _ => continue,
        };
        // Group by the reason's wording without the numbers that vary per order.
        let key: String = reason.chars().take_while(|c| !c.is_ascii_digit()).collect();
        match by_reason.iter_mut().find(|(r, _, _)| r.starts_with(&key)) {
            Some((_, count, _)) => *count += 1,
            None => by_reason.push((reason, 1, e.bar)),
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, count, bar)| {
            if count == 1 {
                format!("{reason} (bar {bar})")
            } else {
                format!("{reason} ({count} times, first at bar {bar})")
            }
        })
        .collect()
}

/// Bars an unclosed position has been open (counted in exposure).
fn open_bars(result: &EngineResult, n: usize) -> usize {
    if result
        .open_positions
        .iter()
        .all(skeet_core::Position::is_flat)
    {
        return 0;
    }
    let last_exit = result.trades.last().map_or(0, |t| t.exit_bar + 1);
    let first_entry = result
        .orders
        .iter()
        .filter(|o| o.purpose == skeet_engine::Purpose::Entry && !o.filled.is_zero())
        .map(|o| o.closed_bar)
        .filter(|&b| b >= last_exit)
        .min()
        .unwrap_or(n);
    n.saturating_sub(first_entry)
}

fn trade_record(t: &Trade, instrument: &str) -> TradeRecord {
    TradeRecord {
        instrument: instrument.into(),
        side: t.side,
        quantity: t.quantity,
        entry_bar: t.entry_bar,
        exit_bar: t.exit_bar,
        entry_ts: UnixNanos::new(t.entry_ts),
        exit_ts: UnixNanos::new(t.exit_ts),
        entry_price: t.entry_price,
        exit_price: t.exit_price,
        fees: t.fees,
        pnl: t.pnl,
        exit_reason: t.exit_reason.as_str().into(),
    }
}

fn sample_curve(ts: &[i64], equity: &[f64], points: usize) -> Vec<CurvePoint> {
    let n = equity.len();
    if n == 0 || points == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(points.max(1)).max(1);
    // Running peak in one pass (the drawdown of `metrics::drawdown_curve`), keeping only the
    // sampled points.
    let mut out = Vec::with_capacity(n / step + 2);
    let mut peak = f64::NEG_INFINITY;
    // A countdown rather than `i % step`: a division per bar costs more than the rest of
    // the loop.
    let mut until_sample = 0;
    for (i, &e) in equity.iter().enumerate() {
        if !e.is_nan() {
            peak = peak.max(e);
        }
        let sample = until_sample == 0;
        until_sample = if sample { step - 1 } else { until_sample - 1 };
        if sample || i == n - 1 {
            let drawdown = if e >= peak {
                0.0
            } else if peak > 0.0 && peak.is_finite() {
                (e / peak - 1.0).clamp(-1.0, 0.0)
            } else {
                -1.0
            };
            out.push(CurvePoint {
                ts: ts[i],
                equity: e,
                drawdown,
            });
        }
    }
    out
}

/// Side as a sign, for reports that print signed sizes.
pub fn side_sign(side: Side) -> i32 {
    if side == Side::Buy { 1 } else { -1 }
}

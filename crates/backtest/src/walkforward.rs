//! Walk-forward analysis: optimise on an in-sample window, trade the best parameters on the
//! following out-of-sample window, move on; stitch the out-of-sample results together.
//!
//! Windows (bar indexes of the data): with `windows = k`, out-of-sample length `m` and
//! in-sample length `l`, window `w` trains on `[w·m, w·m + l)` (rolling) or `[0, w·m + l)`
//! (anchored) and tests on `[w·m + l, w·m + l + m)`. The defaults split the data so that
//! `l = 3·m` and the `k` test windows cover the data after the first training window.
//!
//! Invariants:
//! - Out-of-sample decisions never see the future: each test window is run on the bars from
//!   its training window's start to its own end, with trading (and metrics) starting at the
//!   test window's first bar (`RunConfig::trade_from`); the bars before only warm indicators
//!   up, exactly as a live bot warms up from history.
//! - The stitched equity compounds the windows: each test window starts with the equity the
//!   previous one ended with.
//! - Walk-forward efficiency (Pardo) is the mean, over windows with a positive in-sample
//!   CAGR, of out-of-sample CAGR over in-sample CAGR: near 1 for a robust strategy, near 0 or
//!   negative for one whose in-sample optimum was luck.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_strategy::StrategySpec;

use crate::metrics::{self, Metrics, MetricsInput, TradeRecord};
use crate::optimize::{Dim, OptimizeConfig, optimize};
use crate::runner::{BacktestError, Market, RunConfig, run_spec};

/// Window layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardConfig {
    /// Number of test windows.
    pub windows: usize,
    /// Training window length in bars (default: three test windows).
    pub in_sample: Option<usize>,
    /// Test window length in bars (default: the data after one training window, split in
    /// `windows` parts).
    pub out_of_sample: Option<usize>,
    /// Training windows all start at the first bar and grow.
    pub anchored: bool,
}

/// One window's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WindowResult {
    /// Training bars `[start, end)`.
    pub in_sample: (usize, usize),
    /// Test bars `[start, end)`.
    pub out_of_sample: (usize, usize),
    /// Test window's first and last bar times, ns.
    pub out_of_sample_time: (i64, i64),
    /// Parameters chosen on the training window.
    pub params: std::collections::BTreeMap<String, f64>,
    /// Objective of those parameters in sample.
    pub in_sample_objective: Option<f64>,
    /// In-sample CAGR of the chosen parameters, percent.
    pub in_sample_cagr_pct: Option<f64>,
    /// Out-of-sample metrics.
    pub out_of_sample_metrics: Metrics,
    /// Out-of-sample objective.
    pub out_of_sample_objective: Option<f64>,
    /// Trials run in sample.
    pub trials: usize,
}

/// The whole analysis.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WalkForwardResult {
    /// Strategy name.
    pub strategy: String,
    /// Layout.
    pub config: WalkForwardConfig,
    /// Per window.
    pub windows: Vec<WindowResult>,
    /// Metrics of the stitched out-of-sample equity and trades.
    pub out_of_sample: Metrics,
    /// Stitched out-of-sample equity: `(ts, equity)` per test bar.
    pub equity: Vec<(i64, f64)>,
    /// Mean of OOS CAGR / IS CAGR over windows with positive IS CAGR.
    pub efficiency: Option<f64>,
    /// Mean in-sample objective of the chosen parameters.
    pub mean_in_sample_objective: Option<f64>,
    /// Mean out-of-sample objective.
    pub mean_out_of_sample_objective: Option<f64>,
    /// Out-of-sample trades, all windows.
    pub trades: Vec<TradeRecord>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Bars `[start, end)`.
pub type Span = (usize, usize);

/// Window boundaries `((is_start, is_end), (oos_start, oos_end))` for `n` bars.
///
/// # Errors
/// Windows that do not fit the data, with the sizes involved.
pub fn layout(n: usize, cfg: &WalkForwardConfig) -> Result<Vec<(Span, Span)>, BacktestError> {
    let k = cfg.windows.max(1);
    let (l, m) = match (cfg.in_sample, cfg.out_of_sample) {
        (Some(l), Some(m)) => (l, m),
        (Some(l), None) => (l, n.saturating_sub(l) / k),
        (None, Some(m)) => (3 * m, m),
        (None, None) => {
            let m = n / (k + 3);
            (3 * m, m)
        }
    };
    if cfg.out_of_sample.is_none() && cfg.in_sample.is_some() && m < 2 {
        return Err(BacktestError::Data(format!(
            "training windows of {l} bars leave {} bars for {k} test windows of at least 2 bars; the data has {n}: use a shorter --in-sample or fewer --windows",
            n.saturating_sub(l)
        )));
    }
    if m < 2 || l < 2 || l + k * m > n {
        return Err(BacktestError::Data(format!(
            "{k} windows of {l} training + {m} test bars need {} bars, the data has {n}; use fewer windows or shorter windows (--windows, --in-sample, --out-of-sample)",
            l + k * m
        )));
    }
    Ok((0..k)
        .map(|w| {
            let is_start = if cfg.anchored { 0 } else { w * m };
            let is_end = w * m + l;
            ((is_start, is_end), (is_end, is_end + m))
        })
        .collect())
}

/// Runs the analysis.
///
/// # Errors
/// Bad windows, or errors of the underlying searches and runs.
#[expect(
    clippy::too_many_arguments,
    reason = "the same inputs as `optimize` plus the window layout; a struct would only rename them"
)]
pub fn walk_forward(
    spec: &StrategySpec,
    fixed: &[(String, f64)],
    dims: &[Dim],
    market: &Market,
    run: &RunConfig,
    opt: &OptimizeConfig,
    wf: &WalkForwardConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<WalkForwardResult, BacktestError> {
    let started = std::time::Instant::now();
    let n = market.bars.len();
    let windows = layout(n, wf)?;
    let mut equity_now: Decimal = run.cash;
    let mut stitched: Vec<(i64, f64)> = Vec::new();
    let mut trades = Vec::new();
    let mut results = Vec::new();
    let total = windows.len();
    for (w, &((is0, is1), (oos0, oos1))) in windows.iter().enumerate() {
        let train = Market {
            bars: market.bars.slice(is0, is1),
            ..market.clone()
        };
        let found = optimize(spec, fixed, dims, &train, run, opt, &|_, _| {})?;
        let Some(best) = found.best.map(|b| &found.trials[b]) else {
            return Err(BacktestError::Data(format!(
                "window {} ({} .. {}): no parameter set had a defined objective in sample; lower --min-trades or widen the window",
                w + 1,
                is0,
                is1
            )));
        };
        let chosen: Vec<(String, f64)> = best.params.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let params = spec.resolve_params(&chosen)?;
        // Test: the training bars warm indicators up; trading starts at the test window.
        let test = Market {
            bars: market.bars.slice(is0, oos1),
            ..market.clone()
        };
        let cfg = RunConfig {
            cash: equity_now,
            trade_from: oos0 - is0,
            // Each window's result is realised (exit fees paid) and the next starts flat
            // with that equity, as a trader re-optimising between windows would.
            close_at_end: true,
            ..run.clone()
        };
        let out = run_spec(spec, &params, &test, &cfg)?;
        let r = &out.report;
        let ts = test.bars.ts();
        for (k, e) in out.equity.iter().enumerate().skip(oos0 - is0) {
            stitched.push((ts[k], *e));
        }
        equity_now = r.final_equity;
        trades.extend(r.trades.iter().cloned().map(|mut t| {
            t.entry_bar += is0;
            t.exit_bar += is0;
            t
        }));
        results.push(WindowResult {
            in_sample: (is0, is1),
            out_of_sample: (oos0, oos1),
            out_of_sample_time: (ts[oos0 - is0], ts[oos1 - is0 - 1]),
            params: best.params.clone(),
            in_sample_objective: best.objective,
            in_sample_cagr_pct: best.metrics.cagr_pct,
            out_of_sample_objective: opt.objective.value(&r.metrics),
            out_of_sample_metrics: r.metrics.clone(),
            trials: found.trials.len(),
        });
        progress(w + 1, total);
    }
    let ts: Vec<i64> = stitched.iter().map(|p| p.0).collect();
    let eq: Vec<f64> = stitched.iter().map(|p| p.1).collect();
    let first = windows[0].1.0;
    let last = windows[windows.len() - 1].1.1 - 1;
    let c = market.bars.close();
    let oos = metrics::compute(&MetricsInput {
        ts: &ts,
        equity: &eq,
        initial_cash: skeet_engine::account::to_f64(run.cash),
        trades: &trades,
        bars_in_market: metrics::bars_in_market_from_trades(&trades, n),
        first_price: c[first],
        last_price: c[last],
        bar_seconds: market.timeframe.as_secs(),
    });
    let ratios: Vec<f64> = results
        .iter()
        .filter_map(|r| {
            let is = r.in_sample_cagr_pct?;
            let oos = r.out_of_sample_metrics.cagr_pct?;
            (is > 0.0).then_some(oos / is)
        })
        .collect();
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Ok(WalkForwardResult {
        strategy: spec.name.clone(),
        config: wf.clone(),
        efficiency: mean(ratios),
        mean_in_sample_objective: mean(
            results
                .iter()
                .filter_map(|r| r.in_sample_objective)
                .collect(),
        ),
        mean_out_of_sample_objective: mean(
            results
                .iter()
                .filter_map(|r| r.out_of_sample_objective)
                .collect(),
        ),
        windows: results,
        out_of_sample: oos,
        equity: stitched,
        trades,
        seconds: started.elapsed().as_secs_f64(),
    })
}

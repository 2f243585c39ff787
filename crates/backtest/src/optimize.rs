//! Parameter search: grid, random and Bayesian (TPE) over a spec's parameter space, in
//! parallel, with an objective chosen by the user, plus the guards that tell whether a best
//! result is real (number of trials, the plateau around the best point, the deflated Sharpe
//! ratio).
//!
//! Invariants:
//! - Every trial is an ordinary [`run_spec`] on the shared, read-only bars: a trial's metrics
//!   equal those of `skeet backtest` with the same parameters (tested). Workers share the data
//!   by reference; each holds only its own trial's buffers, so memory is bounded by
//!   `jobs × one run`, not by the number of trials.
//! - Results do not depend on `jobs`: trials are identified by their parameter values and
//!   reported in a deterministic order; random and Bayesian searches are seeded.
//! - Points that violate the spec's `constraints` are never run (and are counted).
//! - Grid, random (without replacement) and TPE only ever propose points of the grid for
//!   stepped parameters, so with as many trials as grid points all three are exhaustive and
//!   find the same best point.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use skeet_strategy::{ParamValues, SeriesData, SpecError, StrategySpec, compile};

use crate::metrics::Metrics;
use crate::runner::{BacktestError, Market, RunConfig, run_spec};

/// Trials proposed at once by TPE: enough to keep 8 cores busy, few enough that each
/// proposal learns from nearly all earlier trials.
const TPE_BATCH: usize = 8;

/// One dimension of the search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dim {
    /// Parameter name.
    pub name: String,
    /// The values a grid (and random/TPE for discrete spaces) visits, ascending.
    pub values: Vec<f64>,
}

/// How to search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Every point of the grid.
    Grid,
    /// Points drawn uniformly without replacement.
    Random,
    /// Tree-structured Parzen estimator.
    Bayes,
}

/// A metric the objective can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Annualised Sharpe ratio.
    Sharpe,
    /// Annualised Sortino ratio.
    Sortino,
    /// Total return, percent.
    Return,
    /// CAGR over |max drawdown|.
    Calmar,
    /// Gross profit over gross loss.
    ProfitFactor,
    /// Max drawdown, percent (negative; maximising it minimises the drawdown).
    MaxDrawdown,
    /// Win rate, percent.
    WinRate,
    /// System quality number.
    Sqn,
}

impl Metric {
    /// Parses a metric name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "sharpe" => Self::Sharpe,
                "sortino" => Self::Sortino,
                "return" | "total_return" => Self::Return,
                "calmar" => Self::Calmar,
                "profit_factor" | "pf" => Self::ProfitFactor,
                "max_drawdown" | "drawdown" => Self::MaxDrawdown,
                "win_rate" => Self::WinRate,
                "sqn" => Self::Sqn,
                _ => return None,
            },
        )
    }

    /// The metric's value in a report, if defined.
    pub fn of(self, m: &Metrics) -> Option<f64> {
        match self {
            Self::Sharpe => m.sharpe,
            Self::Sortino => m.sortino,
            Self::Return => m.total_return_pct,
            Self::Calmar => m.calmar,
            Self::ProfitFactor => m.profit_factor,
            Self::MaxDrawdown => Some(m.max_drawdown_pct),
            Self::WinRate => m.win_rate_pct,
            Self::Sqn => m.sqn,
        }
    }
}

/// What the search maximises: one metric, or a weighted sum of several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// `(metric, weight)` terms.
    pub terms: Vec<(Metric, f64)>,
}

impl Objective {
    /// Parses `sharpe` or `sharpe=0.7,calmar=0.3`.
    ///
    /// # Errors
    /// An unknown metric or a weight that is not a number, naming the valid metrics.
    pub fn parse(s: &str) -> Result<Self, String> {
        const NAMES: &str =
            "sharpe, sortino, return, calmar, profit_factor, max_drawdown, win_rate, sqn";
        let mut terms = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = match part.split_once('=') {
                Some((n, w)) => (
                    n,
                    w.trim()
                        .parse::<f64>()
                        .map_err(|_| format!("objective weight '{}' is not a number", w.trim()))?,
                ),
                None => (part, 1.0),
            };
            let metric = Metric::parse(name).ok_or_else(|| format!("unknown objective '{}'; use one of {NAMES}, or a weighted mix such as sharpe=0.7,calmar=0.3", name.trim()))?;
            if !weight.is_finite() {
                return Err(format!("objective weight '{weight}' is not finite"));
            }
            terms.push((metric, weight));
        }
        if terms.is_empty() {
            return Err(format!("give an objective: one of {NAMES}"));
        }
        Ok(Self { terms })
    }

    /// The objective's value, `None` when a term is undefined (no trades, no losses, ...).
    pub fn value(&self, m: &Metrics) -> Option<f64> {
        let mut total = 0.0;
        for (metric, w) in &self.terms {
            total += w * metric.of(m)?;
        }
        total.is_finite().then_some(total)
    }
}

/// Search settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizeConfig {
    /// Search method.
    pub method: Method,
    /// What to maximise.
    pub objective: Objective,
    /// Trials for random and Bayesian searches (grid ignores it).
    pub trials: usize,
    /// Worker threads.
    pub jobs: usize,
    /// Seed of the random and Bayesian searches.
    pub seed: u64,
    /// Trials with fewer closed trades are infeasible (objective `None`).
    pub min_trades: usize,
}

/// Compact metrics of one trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialMetrics {
    /// Annualised Sharpe.
    pub sharpe: Option<f64>,
    /// Annualised Sortino.
    pub sortino: Option<f64>,
    /// Total return, percent.
    pub return_pct: Option<f64>,
    /// CAGR, percent.
    pub cagr_pct: Option<f64>,
    /// Calmar.
    pub calmar: Option<f64>,
    /// Profit factor.
    pub profit_factor: Option<f64>,
    /// Max drawdown, percent.
    pub max_drawdown_pct: f64,
    /// Closed trades.
    pub trades: usize,
    /// Win rate, percent.
    pub win_rate_pct: Option<f64>,
    /// Final equity.
    pub final_equity: f64,
    /// Periods per year used to annualise (for per-period Sharpe).
    pub periods_per_year: Option<f64>,
}

impl TrialMetrics {
    fn of(m: &Metrics) -> Self {
        Self {
            sharpe: m.sharpe,
            sortino: m.sortino,
            return_pct: m.total_return_pct,
            cagr_pct: m.cagr_pct,
            calmar: m.calmar,
            profit_factor: m.profit_factor,
            max_drawdown_pct: m.max_drawdown_pct,
            trades: m.trades,
            win_rate_pct: m.win_rate_pct,
            final_equity: m.final_equity,
            periods_per_year: m.periods_per_year,
        }
    }
}

/// One evaluated point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Parameter values (the searched ones and any fixed ones).
    pub params: BTreeMap<String, f64>,
    /// Objective value; `None` if undefined or infeasible.
    pub objective: Option<f64>,
    /// Why the objective is `None`, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infeasible: Option<String>,
    /// Metrics of the run.
    pub metrics: TrialMetrics,
}

/// The objective over the first two dimensions (the best value over the others), for a heat
/// map: `z[j][i]` belongs to `x[i]`, `y[j]`; `None` where no feasible trial exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heatmap {
    /// Name of the x parameter.
    pub x_param: String,
    /// Name of the y parameter.
    pub y_param: String,
    /// X values.
    pub x: Vec<f64>,
    /// Y values.
    pub y: Vec<f64>,
    /// Objective values, rows by y.
    pub z: Vec<Vec<Option<f64>>>,
}

/// How robust the best point is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guards {
    /// Trials run (the more, the more a lucky best is expected).
    pub trials: usize,
    /// Grid neighbours of the best point (one step in any parameters) that were evaluated.
    pub neighbours: usize,
    /// Mean objective of those neighbours.
    pub neighbour_mean: Option<f64>,
    /// Worst objective among those neighbours.
    pub neighbour_min: Option<f64>,
    /// Neighbour mean over the best value: near 1 on a plateau, low or negative on a spike.
    pub plateau_ratio: Option<f64>,
    /// Deflated Sharpe ratio of the best trial (probability that its Sharpe is real after
    /// accounting for the number of trials), when the objective involves Sharpe or returns.
    pub deflated_sharpe: Option<f64>,
}

/// Everything a search produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptimizeResult {
    /// Strategy name.
    pub strategy: String,
    /// Spec hash.
    pub spec_hash: String,
    /// Data hash.
    pub data_hash: String,
    /// Settings.
    pub config: OptimizeConfig,
    /// The searched space.
    pub space: Vec<Dim>,
    /// Grid points skipped because they violate the spec's constraints.
    pub skipped_by_constraints: usize,
    /// Every trial, ordered by parameter values.
    pub trials: Vec<Trial>,
    /// Index in `trials` of the best feasible trial.
    pub best: Option<usize>,
    /// Objective heat map over the first two dimensions.
    pub heatmap: Option<Heatmap>,
    /// Overfitting guards.
    pub guards: Guards,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Trials per second.
    pub trials_per_second: f64,
}

/// The searched space: the spec's parameter grids, with `ranges` replacing some (from
/// `--param-range fast=5..50:5`) and `fixed` parameters left out.
///
/// # Errors
/// A range for an undeclared parameter, or an empty range.
pub fn space(
    spec: &StrategySpec,
    ranges: &[(String, Vec<f64>)],
    fixed: &[(String, f64)],
) -> Result<Vec<Dim>, SpecError> {
    let mut dims = Vec::new();
    for (name, def) in &spec.parameters {
        if fixed.iter().any(|(n, _)| n == name) {
            continue;
        }
        let values = match ranges.iter().find(|(n, _)| n == name) {
            Some((_, v)) => v.clone(),
            None => def.grid(10),
        };
        dims.push(Dim {
            name: name.clone(),
            values,
        });
    }
    for (name, values) in ranges {
        if !spec.parameters.contains_key(name) {
            let declared: Vec<&str> = spec.parameters.keys().map(String::as_str).collect();
            return Err(SpecError::at(
                format!("parameters.{name}"),
                format!(
                    "unknown parameter '{name}'; {} declares {}",
                    spec.name,
                    if declared.is_empty() {
                        "none".to_string()
                    } else {
                        declared.join(", ")
                    }
                ),
            ));
        }
        if values.is_empty() {
            return Err(SpecError::at(
                format!("parameters.{name}"),
                "the range is empty",
            ));
        }
        if fixed.iter().any(|(n, _)| n == name) {
            return Err(SpecError::at(
                format!("parameters.{name}"),
                format!("'{name}' is both fixed (--param) and searched (--param-range); give one"),
            ));
        }
        // Every value is checked here, before any trial runs, so a bad range fails at once
        // with the spec's bounds rather than halfway through a search.
        if let Some(def) = spec.parameters.get(name) {
            for &v in values {
                def.accepts(v)
                    .map_err(|e| SpecError::at(format!("parameters.{name}"), e))?;
            }
        }
    }
    Ok(dims)
}

/// Parses `5..50:5` (inclusive, step 5), `5..50` (step 1) or `10,20,50`.
pub fn parse_range(s: &str) -> Result<Vec<f64>, String> {
    let bad = || {
        format!("'{s}' is not a range; write LOW..HIGH:STEP (e.g. 5..50:5) or a list (10,20,50)")
    };
    if let Some((lo, rest)) = s.split_once("..") {
        let (hi, step) = rest.split_once(':').unwrap_or((rest, "1"));
        let (lo, hi, step): (f64, f64, f64) = (
            lo.trim().parse().map_err(|_| bad())?,
            hi.trim().parse().map_err(|_| bad())?,
            step.trim().parse().map_err(|_| bad())?,
        );
        if !lo.is_finite() || !hi.is_finite() || !step.is_finite() {
            return Err(bad());
        }
        if step <= 0.0 {
            return Err(format!("'{s}': the step must be positive"));
        }
        if hi < lo {
            return Err(format!(
                "'{s}': the low end {lo} is above the high end {hi}; write {hi}..{lo}:{step}"
            ));
        }
        let n = ((hi - lo) / step + 1e-9).floor() as usize + 1;
        if n > 100_000 {
            return Err(format!("'{s}' has {n} values; keep a range under 100000"));
        }
        // Multiply rather than accumulate, so 0.1 steps do not drift.
        return Ok((0..n).map(|i| round12(lo + step * i as f64)).collect());
    }
    let values: Result<Vec<f64>, _> = s.split(',').map(|v| v.trim().parse::<f64>()).collect();
    let mut values = values.map_err(|_| bad())?;
    values.sort_by(f64::total_cmp);
    values.dedup();
    if values.is_empty() {
        return Err(bad());
    }
    Ok(values)
}

fn round12(x: f64) -> f64 {
    (x * 1e12).round() / 1e12
}

/// Runs the search.
///
/// # Errors
/// A spec that does not compile for some point (other than a violated constraint), or bad
/// settings.
pub fn optimize(
    spec: &StrategySpec,
    fixed: &[(String, f64)],
    dims: &[Dim],
    market: &Market,
    run: &RunConfig,
    cfg: &OptimizeConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<OptimizeResult, BacktestError> {
    let started = Instant::now();
    if market.bars.is_empty() {
        return Err(BacktestError::Data("no bars to optimise on".into()));
    }
    let grid_size: usize = dims.iter().map(|d| d.values.len().max(1)).product();
    // Feasible grid points (constraints), enumerated in a fixed order.
    let mut feasible = Vec::new();
    let mut skipped = 0;
    if grid_size <= 2_000_000 {
        for idx in 0..grid_size {
            let point = point_of(dims, idx);
            match constraint_ok(spec, fixed, dims, &point, market)? {
                true => feasible.push(point),
                false => skipped += 1,
            }
        }
    } else {
        return Err(BacktestError::Data(format!(
            "the grid has {grid_size} points; narrow the ranges (--param-range) or fix parameters (--param)"
        )));
    }
    if feasible.is_empty() {
        return Err(BacktestError::Data(
            "no parameter combination satisfies the spec's constraints".into(),
        ));
    }
    let budget = match cfg.method {
        Method::Grid => feasible.len(),
        _ => cfg.trials.clamp(1, feasible.len()),
    };
    // Trials report metrics, not curves: sampling one per trial is wasted work.
    let trial_run = RunConfig {
        curve_points: 0,
        ..run.clone()
    };
    let evaluator = Evaluator {
        spec,
        fixed,
        dims,
        market,
        run: &trial_run,
        objective: &cfg.objective,
        min_trades: cfg.min_trades,
    };
    let done = AtomicUsize::new(0);
    let mut results: Vec<(Vec<usize>, Trial)> = Vec::with_capacity(budget);
    match cfg.method {
        Method::Grid => {
            results = evaluator.run_parallel(&feasible, cfg.jobs, &done, budget, progress)?;
        }
        Method::Random => {
            let mut rng = Rng::new(cfg.seed);
            let mut order: Vec<usize> = (0..feasible.len()).collect();
            // Partial Fisher-Yates: the first `budget` are a uniform sample without
            // replacement.
            for k in 0..budget {
                let j = k + rng.below(order.len() - k);
                order.swap(k, j);
            }
            let points: Vec<Vec<usize>> = order[..budget]
                .iter()
                .map(|&k| feasible[k].clone())
                .collect();
            results = evaluator.run_parallel(&points, cfg.jobs, &done, budget, progress)?;
        }
        Method::Bayes => {
            let mut rng = Rng::new(cfg.seed);
            let mut visited: HashSet<Vec<usize>> = HashSet::new();
            let startup = (budget / 4).clamp(budget.min(5), budget.min(20)).max(1);
            while results.len() < budget {
                // A fixed batch size (not `jobs`) keeps the proposal sequence, and so the
                // result, the same on every machine.
                let want = (budget - results.len()).min(TPE_BATCH);
                let mut batch = Vec::with_capacity(want);
                for _ in 0..want {
                    let candidate = if results.len() + batch.len() < startup {
                        random_unvisited(&feasible, &visited, &mut rng)
                    } else {
                        tpe_propose(dims, &feasible, &results, &visited, &mut rng)
                    };
                    let Some(c) = candidate else { break };
                    visited.insert(c.clone());
                    batch.push(c);
                }
                if batch.is_empty() {
                    break;
                }
                let mut got = evaluator.run_parallel(&batch, cfg.jobs, &done, budget, progress)?;
                got.sort_by(|a, b| a.0.cmp(&b.0));
                results.append(&mut got);
            }
        }
    }
    // Deterministic order: by grid position.
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let best = results
        .iter()
        .enumerate()
        .filter_map(|(k, (_, t))| t.objective.map(|o| (k, o)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(k, _)| k);
    let heatmap = heatmap(dims, &results);
    let mut guards = guards(dims, &results, best);
    if let Some(b) = best {
        guards.deflated_sharpe = deflated_sharpe(&evaluator, &results, b);
    }
    let seconds = started.elapsed().as_secs_f64();
    let trials: Vec<Trial> = results.into_iter().map(|(_, t)| t).collect();
    Ok(OptimizeResult {
        strategy: spec.name.clone(),
        spec_hash: spec.hash(),
        data_hash: market.data_hash.clone(),
        config: cfg.clone(),
        space: dims.to_vec(),
        skipped_by_constraints: skipped,
        trials_per_second: if seconds > 0.0 {
            trials.len() as f64 / seconds
        } else {
            0.0
        },
        trials,
        best,
        heatmap,
        guards,
        seconds,
    })
}

fn point_of(dims: &[Dim], mut idx: usize) -> Vec<usize> {
    let mut p = vec![0; dims.len()];
    for (k, d) in dims.iter().enumerate().rev() {
        let n = d.values.len().max(1);
        p[k] = idx % n;
        idx /= n;
    }
    p
}

fn params_of(dims: &[Dim], fixed: &[(String, f64)], point: &[usize]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = fixed.to_vec();
    for (d, &i) in dims.iter().zip(point) {
        if let Some(&v) = d.values.get(i) {
            out.push((d.name.clone(), v));
        }
    }
    out
}

/// True when the point satisfies the spec's constraints (checked by compiling against one
/// bar, which is cheap and uses exactly the rules of a real run).
fn constraint_ok(
    spec: &StrategySpec,
    fixed: &[(String, f64)],
    dims: &[Dim],
    point: &[usize],
    market: &Market,
) -> Result<bool, BacktestError> {
    if spec.constraints.is_empty() {
        return Ok(true);
    }
    let params = spec.resolve_params(&params_of(dims, fixed, point))?;
    let b = &market.bars;
    let one = SeriesData {
        ts: &b.ts()[..1],
        open: &b.open()[..1],
        high: &b.high()[..1],
        low: &b.low()[..1],
        close: &b.close()[..1],
        volume: &b.volume()[..1],
        timeframe: market.timeframe,
    };
    match compile(spec, &params, &one) {
        Ok(_) => Ok(true),
        Err(SpecError::Invalid(l)) if l.path.starts_with("constraints") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

struct Evaluator<'a> {
    spec: &'a StrategySpec,
    fixed: &'a [(String, f64)],
    dims: &'a [Dim],
    market: &'a Market,
    run: &'a RunConfig,
    objective: &'a Objective,
    min_trades: usize,
}

impl Evaluator<'_> {
    fn params(&self, point: &[usize]) -> Result<ParamValues, BacktestError> {
        Ok(self
            .spec
            .resolve_params(&params_of(self.dims, self.fixed, point))?)
    }

    fn evaluate(&self, point: &[usize]) -> Result<Trial, BacktestError> {
        let params = self.params(point)?;
        let out = run_spec(self.spec, &params, self.market, self.run)?;
        let m = &out.report.metrics;
        let (objective, infeasible) = if m.trades < self.min_trades {
            (
                None,
                Some(format!(
                    "{} trades, fewer than the minimum {}",
                    m.trades, self.min_trades
                )),
            )
        } else {
            match self.objective.value(m) {
                Some(v) => (Some(v), None),
                None => (
                    None,
                    Some("objective undefined (e.g. no trades or no losing trade)".into()),
                ),
            }
        };
        Ok(Trial {
            params: params.0,
            objective,
            infeasible,
            metrics: TrialMetrics::of(m),
        })
    }

    /// Evaluates `points` on `jobs` threads; the data is shared, never copied.
    fn run_parallel(
        &self,
        points: &[Vec<usize>],
        jobs: usize,
        done: &AtomicUsize,
        total: usize,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Vec<(Vec<usize>, Trial)>, BacktestError> {
        let next = AtomicUsize::new(0);
        let out: Mutex<Vec<(Vec<usize>, Trial)>> = Mutex::new(Vec::with_capacity(points.len()));
        let failure: Mutex<Option<BacktestError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..jobs.clamp(1, points.len().max(1)) {
                s.spawn(|| {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(point) = points.get(k) else { break };
                        if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                            break;
                        }
                        match self.evaluate(point) {
                            Ok(trial) => {
                                if let Ok(mut v) = out.lock() {
                                    v.push((point.clone(), trial));
                                }
                                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                                progress(n, total);
                            }
                            Err(e) => {
                                if let Ok(mut f) = failure.lock() {
                                    f.get_or_insert(e);
                                }
                                break;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().ok().flatten() {
            return Err(e);
        }
        Ok(out.into_inner().unwrap_or_default())
    }
}

fn random_unvisited(
    feasible: &[Vec<usize>],
    visited: &HashSet<Vec<usize>>,
    rng: &mut Rng,
) -> Option<Vec<usize>> {
    if visited.len() >= feasible.len() {
        return None;
    }
    // Rejection sampling while the space is mostly unvisited, then a scan.
    for _ in 0..64 {
        let c = &feasible[rng.below(feasible.len())];
        if !visited.contains(c) {
            return Some(c.clone());
        }
    }
    let left: Vec<&Vec<usize>> = feasible.iter().filter(|c| !visited.contains(*c)).collect();
    (!left.is_empty()).then(|| left[rng.below(left.len())].clone())
}

/// Tree-structured Parzen estimator over grid indices: the trials are split at the top
/// quarter of the objective into "good" and "bad"; each dimension gets a smoothed histogram
/// of grid positions (a Parzen window of width one step) for both groups; among 32 unvisited
/// candidates drawn from the good density, the one maximising `l(x) / g(x)` is proposed.
fn tpe_propose(
    dims: &[Dim],
    feasible: &[Vec<usize>],
    results: &[(Vec<usize>, Trial)],
    visited: &HashSet<Vec<usize>>,
    rng: &mut Rng,
) -> Option<Vec<usize>> {
    let mut scored: Vec<(&Vec<usize>, f64)> = results
        .iter()
        .map(|(p, t)| (p, t.objective.unwrap_or(f64::NEG_INFINITY)))
        .collect();
    if scored.len() < 2 {
        return random_unvisited(feasible, visited, rng);
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    let n_good = (scored.len() as f64 * 0.25).ceil().max(1.0) as usize;
    let (good, bad) = scored.split_at(n_good);
    let density = |group: &[(&Vec<usize>, f64)], k: usize, i: usize| -> f64 {
        let n = dims[k].values.len().max(1) as f64;
        let mut d = 1.0 / n; // prior: uniform over the dimension
        for (p, _) in group {
            let dist = (p[k] as f64 - i as f64).abs();
            d += (-0.5 * dist * dist).exp();
        }
        d / (group.len() as f64 + 1.0)
    };
    let mut best: Option<(Vec<usize>, f64)> = None;
    let feasible_set: HashSet<&Vec<usize>> = feasible.iter().collect();
    for _ in 0..32 {
        // Draw from the good trials, perturbed by a step in each dimension.
        let (base, _) = good[rng.below(good.len())];
        let c: Vec<usize> = base
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let n = dims[k].values.len().max(1);
                let step = rng.below(3) as isize - 1;
                (i as isize + step).clamp(0, n as isize - 1) as usize
            })
            .collect();
        if visited.contains(&c) || !feasible_set.contains(&c) {
            continue;
        }
        let mut score = 0.0;
        for (k, &i) in c.iter().enumerate() {
            score += density(good, k, i).ln() - density(bad, k, i).ln();
        }
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
        .or_else(|| random_unvisited(feasible, visited, rng))
}

fn heatmap(dims: &[Dim], results: &[(Vec<usize>, Trial)]) -> Option<Heatmap> {
    let [xd, yd, ..] = dims else { return None };
    let mut z = vec![vec![None; xd.values.len()]; yd.values.len()];
    for (p, t) in results {
        if let Some(o) = t.objective {
            let cell: &mut Option<f64> = &mut z[p[1]][p[0]];
            if cell.is_none_or(|c| o > c) {
                *cell = Some(o);
            }
        }
    }
    Some(Heatmap {
        x_param: xd.name.clone(),
        y_param: yd.name.clone(),
        x: xd.values.clone(),
        y: yd.values.clone(),
        z,
    })
}

fn guards(dims: &[Dim], results: &[(Vec<usize>, Trial)], best: Option<usize>) -> Guards {
    let mut g = Guards {
        trials: results.len(),
        neighbours: 0,
        neighbour_mean: None,
        neighbour_min: None,
        plateau_ratio: None,
        deflated_sharpe: None,
    };
    let Some(b) = best else { return g };
    let (bp, bt) = &results[b];
    let Some(best_value) = bt.objective else {
        return g;
    };
    let near: BTreeSet<&Vec<usize>> = results
        .iter()
        .map(|(p, _)| p)
        .filter(|p| *p != bp && p.iter().zip(bp).all(|(a, c)| a.abs_diff(*c) <= 1))
        .collect();
    let values: Vec<f64> = results
        .iter()
        .filter(|(p, _)| near.contains(p))
        .map(|(_, t)| t.objective.unwrap_or(f64::NAN))
        .filter(|v| v.is_finite())
        .collect();
    let _ = dims;
    g.neighbours = near.len();
    if !values.is_empty() {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        g.neighbour_mean = Some(mean);
        g.neighbour_min = values.iter().copied().reduce(f64::min);
        if best_value != 0.0 {
            g.plateau_ratio = Some(mean / best_value);
        }
    }
    g
}

/// Deflated Sharpe ratio of the best trial, from the per-period Sharpe ratios of all trials
/// and the best trial's per-bar returns (rerun once).
fn deflated_sharpe(
    ev: &Evaluator<'_>,
    results: &[(Vec<usize>, Trial)],
    best: usize,
) -> Option<f64> {
    let per_period: Vec<f64> = results
        .iter()
        .filter_map(|(_, t)| Some(t.metrics.sharpe? / t.metrics.periods_per_year?.sqrt()))
        .filter(|s| s.is_finite())
        .collect();
    if per_period.len() < 2 {
        return None;
    }
    let params = ev.params(&results[best].0).ok()?;
    let out = run_spec(ev.spec, &params, ev.market, ev.run).ok()?;
    let eq = &out.equity[ev.run.trade_from.min(out.equity.len())..];
    let returns: Vec<f64> = eq
        .windows(2)
        .filter(|w| w[0] != 0.0)
        .map(|w| w[1] / w[0] - 1.0)
        .collect();
    // Every trial run counts towards N, including those whose Sharpe is undefined (no
    // trades): each was a chance to find a lucky best. The variance is that of the defined
    // Sharpe ratios.
    let estimate = crate::stats::SharpeEstimate::from_returns(&returns)?;
    let variance = crate::stats::variance(&per_period)?;
    crate::stats::deflated_sharpe_ratio(&estimate, results.len(), variance)
        .map(|d| d.deflated_sharpe)
}

/// SplitMix64 (seeding) + xoshiro256** (stream): small, fast, the same on every platform.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in `0..n` (Lemire's method without bias), `n >= 1`.
    fn below(&mut self, n: usize) -> usize {
        let n = n.max(1) as u64;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }
}

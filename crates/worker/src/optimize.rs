//! The `optimize` job: a parameter search (grid, random or Bayesian) over one stored series,
//! with the same run settings as a backtest job.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use skeet_backtest::optimize::{Method, Objective, OptimizeConfig, optimize, parse_range, space};
use skeet_backtest::walkforward::{WalkForwardConfig, walk_forward};

use crate::backtest::{BacktestRequest, JobError, Prepared};

/// Largest search an API caller may start in one job (grid points or trials).
pub const MAX_TRIALS: usize = 20_000;

/// What an `optimize` job runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    /// Strategy, data and run settings, exactly as for a backtest; `run.params` fixes
    /// parameters (they are not searched).
    pub run: BacktestRequest,
    /// Searched values per parameter: `"5..50:5"` or `"10,20,50"`; parameters not named use
    /// the ranges the spec declares.
    #[serde(default)]
    pub ranges: BTreeMap<String, String>,
    /// `grid` (default), `random` or `bayes`.
    #[serde(default)]
    pub method: Option<String>,
    /// `sharpe` (default), `sortino`, `return`, `calmar`, ... or a mix `sharpe=0.7,calmar=0.3`.
    #[serde(default)]
    pub objective: Option<String>,
    /// Trials of random and Bayesian searches (default 100).
    #[serde(default)]
    pub trials: Option<usize>,
    /// Seed (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Fewer closed trades make a trial infeasible (default 1).
    #[serde(default)]
    pub min_trades: Option<usize>,
}

fn invalid(e: impl std::fmt::Display) -> JobError {
    JobError::Invalid(e.to_string())
}

/// A checked search, ready to run.
pub(crate) struct PreparedSearch {
    run: Prepared,
    dims: Vec<skeet_backtest::optimize::Dim>,
    cfg: OptimizeConfig,
}

impl OptimizeRequest {
    /// Checks everything and loads the bars.
    ///
    /// # Errors
    /// [`JobError::Invalid`] naming the field at fault; [`JobError::Transient`] for I/O.
    pub(crate) fn prepare(&self, dir: &Path, threads: usize) -> Result<PreparedSearch, JobError> {
        let run = self.run.prepare(dir)?;
        let (dims, cfg) = self.search(run.parts().0, threads)?;
        Ok(PreparedSearch { run, dims, cfg })
    }

    /// Checks everything without reading the bars.
    ///
    /// # Errors
    /// As [`OptimizeRequest::prepare`].
    pub(crate) fn validate(&self, dir: &Path) -> Result<(), JobError> {
        let checked = self.run.check(dir)?;
        self.search(&checked.spec, 1).map(|_| ())
    }

    /// The searched space and settings.
    fn search(
        &self,
        spec: &skeet_strategy::StrategySpec,
        threads: usize,
    ) -> Result<(Vec<skeet_backtest::optimize::Dim>, OptimizeConfig), JobError> {
        let method = match self.method.as_deref().unwrap_or("grid") {
            "grid" => Method::Grid,
            "random" => Method::Random,
            "bayes" | "bayesian" | "tpe" => Method::Bayes,
            other => {
                return Err(invalid(format!(
                    "method: '{other}' is not known; use grid, random or bayes"
                )));
            }
        };
        let objective = Objective::parse(self.objective.as_deref().unwrap_or("sharpe"))
            .map_err(|e| invalid(format!("objective: {e}")))?;
        let ranges = self
            .ranges
            .iter()
            .map(|(name, r)| {
                parse_range(r)
                    .map(|v| (name.trim().to_ascii_lowercase(), v))
                    .map_err(|e| invalid(format!("ranges.{name}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let fixed: Vec<(String, f64)> = self
            .run
            .params
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let dims = space(spec, &ranges, &fixed).map_err(invalid)?;
        if dims.is_empty() {
            return Err(invalid(
                "nothing to optimise: the strategy declares no parameters besides those fixed in run.params",
            ));
        }
        let trials = self.trials.unwrap_or(100);
        if trials == 0 {
            return Err(invalid("trials must be at least 1"));
        }
        let grid = dims
            .iter()
            .map(|d| d.values.len())
            .try_fold(1usize, usize::checked_mul)
            .unwrap_or(usize::MAX);
        let planned = if method == Method::Grid { grid } else { trials };
        if planned > MAX_TRIALS {
            return Err(invalid(format!(
                "the search has {planned} trials; keep it at most {MAX_TRIALS} (coarser ranges, or method random/bayes with fewer trials)"
            )));
        }
        Ok((
            dims,
            OptimizeConfig {
                method,
                objective,
                trials,
                jobs: threads.max(1),
                seed: self.seed.unwrap_or(1),
                min_trades: self.min_trades.unwrap_or(1),
            },
        ))
    }
}

/// Runs an `optimize` payload, reporting progress in thousandths into `progress`.
pub(crate) fn execute(
    payload: &serde_json::Value,
    dir: &Path,
    progress: &AtomicU32,
) -> Result<(String, serde_json::Value), JobError> {
    let req: OptimizeRequest =
        serde_json::from_value(payload.clone()).map_err(|e| invalid(format!("payload: {e}")))?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let p = req.prepare(dir, threads)?;
    let fixed: Vec<(String, f64)> = req
        .run
        .params
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let (spec, market, cfg) = p.run.parts();
    let result = optimize(
        spec,
        &fixed,
        &p.dims,
        market,
        cfg,
        &p.cfg,
        &|done, total| {
            let per_mille = (done * 1000).checked_div(total).unwrap_or(0);
            progress.store(u32::try_from(per_mille).unwrap_or(1000), Ordering::Relaxed);
        },
    )
    .map_err(invalid)?;
    let best = result.best.and_then(|i| result.trials.get(i));
    let summary = serde_json::json!({
        "trials": result.trials.len(),
        "best_objective": best.and_then(|t| t.objective),
        "best_params": best.map(|t| &t.params),
    });
    let text = serde_json::to_string(&result).map_err(|e| JobError::Transient(e.to_string()))?;
    Ok((text, summary))
}

/// What a `walkforward` job runs: the search of an optimisation, repeated on rolling (or
/// anchored) training windows, each tested on the window after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkForwardRequest {
    /// The search (strategy, data, ranges, method, objective).
    pub search: OptimizeRequest,
    /// Out-of-sample windows (default 5, at most 50).
    #[serde(default)]
    pub windows: Option<usize>,
    /// Training window in bars (default: three test windows).
    #[serde(default)]
    pub in_sample: Option<usize>,
    /// Test window in bars (default: the rest after the first training window, split).
    #[serde(default)]
    pub out_of_sample: Option<usize>,
    /// Training windows start at the first bar and grow.
    #[serde(default)]
    pub anchored: bool,
}

impl WalkForwardRequest {
    fn config(&self) -> Result<WalkForwardConfig, JobError> {
        let windows = self.windows.unwrap_or(5);
        if !(1..=50).contains(&windows) {
            return Err(invalid("windows must be from 1 to 50"));
        }
        if self.in_sample == Some(0) || self.out_of_sample == Some(0) {
            return Err(invalid(
                "in_sample and out_of_sample must be at least 1 bar",
            ));
        }
        Ok(WalkForwardConfig {
            windows,
            in_sample: self.in_sample,
            out_of_sample: self.out_of_sample,
            anchored: self.anchored,
        })
    }

    /// Checks everything without reading the bars.
    ///
    /// # Errors
    /// [`JobError::Invalid`] naming the field at fault.
    pub(crate) fn validate(&self, dir: &Path) -> Result<(), JobError> {
        self.config()?;
        self.search.validate(dir)
    }
}

/// Runs a `walkforward` payload, reporting progress (windows done) into `progress`.
pub(crate) fn execute_walkforward(
    payload: &serde_json::Value,
    dir: &Path,
    progress: &AtomicU32,
) -> Result<(String, serde_json::Value), JobError> {
    let req: WalkForwardRequest =
        serde_json::from_value(payload.clone()).map_err(|e| invalid(format!("payload: {e}")))?;
    let wf = req.config()?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let p = req.search.prepare(dir, threads)?;
    let fixed: Vec<(String, f64)> = req
        .search
        .run
        .params
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let (spec, market, cfg) = p.run.parts();
    let result = walk_forward(
        spec,
        &fixed,
        &p.dims,
        market,
        cfg,
        &p.cfg,
        &wf,
        &|done, total| {
            let per_mille = (done * 1000).checked_div(total).unwrap_or(0);
            progress.store(u32::try_from(per_mille).unwrap_or(1000), Ordering::Relaxed);
        },
    )
    .map_err(invalid)?;
    let summary = serde_json::json!({
        "windows": result.windows.len(),
        "efficiency": result.efficiency,
        "out_of_sample_return_pct": result.out_of_sample.total_return_pct,
        "out_of_sample_sharpe": result.out_of_sample.sharpe,
    });
    let text = serde_json::to_string(&result).map_err(|e| JobError::Transient(e.to_string()))?;
    Ok((text, summary))
}

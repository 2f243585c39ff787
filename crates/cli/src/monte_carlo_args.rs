//! `--monte-carlo N`: trade resampling after a backtest or a walk-forward run, shared by both
//! commands so the options, the summary line and the JSON field are the same everywhere.

use anyhow::bail;
use clap::Args;
use skeet_backtest::metrics::TradeRecord;
use skeet_backtest::montecarlo::{self, Method, MonteCarloConfig, MonteCarloResult};

use crate::output::line;

/// Options of the Monte Carlo resampling.
#[derive(Debug, Args)]
pub(crate) struct MonteCarloArgs {
    /// Resample the closed trades N times (e.g. 10000) for confidence intervals on return and
    /// drawdown.
    #[arg(long, value_name = "N")]
    monte_carlo: Option<usize>,
    /// How trades are resampled: bootstrap (with replacement) or shuffle (every trade once,
    /// in random order: only the drawdown varies).
    #[arg(long, default_value = "bootstrap", value_name = "METHOD")]
    monte_carlo_method: String,
    /// Seed of the resampling (the same seed gives the same intervals).
    #[arg(long, default_value_t = 1, value_name = "SEED")]
    monte_carlo_seed: u64,
}

impl MonteCarloArgs {
    /// The configuration, or `None` without `--monte-carlo`. Checked before any work runs.
    pub(crate) fn config(&self) -> anyhow::Result<Option<MonteCarloConfig>> {
        let Some(simulations) = self.monte_carlo else {
            return Ok(None);
        };
        if simulations == 0 {
            bail!("--monte-carlo must be at least 1 (10000 is a good start)");
        }
        if simulations > 10_000_000 {
            bail!("--monte-carlo {simulations} is too many; 10000 to 100000 is plenty");
        }
        let method: Method = self
            .monte_carlo_method
            .parse()
            .map_err(|e| anyhow::anyhow!("--monte-carlo-method: {e}"))?;
        Ok(Some(MonteCarloConfig {
            simulations,
            seed: self.monte_carlo_seed,
            method,
        }))
    }
}

/// Runs the resampling and prints its summary; `None` (with a printed reason) when there are
/// too few trades to resample.
pub(crate) fn run(
    cfg: Option<&MonteCarloConfig>,
    trades: &[TradeRecord],
    initial_equity: f64,
) -> Option<MonteCarloResult> {
    let cfg = cfg?;
    let Some(r) = montecarlo::simulate(trades, initial_equity, cfg) else {
        line(format!(
            "monte carlo: skipped, {} closed trade(s); resampling needs at least 2",
            trades.len()
        ));
        return None;
    };
    let (ret, dd) = (&r.total_return_pct, &r.max_drawdown_pct);
    line(format!(
        "monte carlo ({} paths of {} trades, {}): return % 5th {:.2} / median {:.2} / 95th {:.2} (actual {:.2}); max drawdown % 5th {:.2} / median {:.2} (actual {:.2}); P(loss) {:.1} %, P(deeper drawdown) {:.1} %",
        r.simulations,
        r.trades,
        r.method,
        ret.p5,
        ret.p50,
        ret.p95,
        r.actual_return_pct,
        dd.p5,
        dd.p50,
        r.actual_max_drawdown_pct,
        r.loss_probability * 100.0,
        r.worse_drawdown_probability * 100.0
    ));
    Some(r)
}

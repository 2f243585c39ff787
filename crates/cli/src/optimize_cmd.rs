//! `skeet optimize` and `skeet walkforward`: parameter search and walk-forward validation
//! over the same data, strategy and venue flags as `skeet backtest`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use skeet_backtest::montecarlo::MonteCarloResult;
use skeet_backtest::optimize::{
    Dim, Method, Objective, OptimizeConfig, OptimizeResult, optimize, parse_range, space,
};
use skeet_backtest::walkforward::{WalkForwardConfig, WalkForwardResult, walk_forward};

use crate::monte_carlo_args::{self, MonteCarloArgs};
use crate::output::{data, line, progress, text_to_stderr, write_atomic};
use crate::run_args::{Prepared, RunArgs, prepare};

/// Search flags shared by `optimize` and `walkforward`.
#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// A parameter's values: `name=LOW..HIGH:STEP` or `name=v1,v2,...` (repeatable); other
    /// parameters use the ranges the spec declares. Fix one with --param.
    #[arg(long = "param-range", value_name = "NAME=RANGE")]
    ranges: Vec<String>,
    /// What to maximise: sharpe, sortino, return, calmar, profit_factor, max_drawdown,
    /// win_rate, sqn, or a weighted mix such as `sharpe=0.7,calmar=0.3`.
    #[arg(long, default_value = "sharpe")]
    objective: String,
    /// grid, random or bayes.
    #[arg(long, default_value = "grid")]
    method: String,
    /// Trials for random and bayes (grid runs every point).
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seed for random and bayes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Parameter sets with fewer closed trades do not count.
    #[arg(long, default_value_t = 1)]
    min_trades: usize,
}

/// Arguments of `skeet optimize`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  skeet optimize --data GOOG.csv --strategy sma_cross --param-range fast=5..50:5 --param-range slow=20..200:10 --objective sharpe\n  skeet optimize --symbol BTC/USDT --timeframe 1h --spec my.json --method bayes --trials 200 --objective sharpe=0.7,calmar=0.3 --output opt.json"
)]
pub(crate) struct OptimizeArgs {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    search: SearchArgs,
    /// Rows of the results table.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Write the JSON results (every trial, the heat map, the guards) here (`-`: stdout).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Arguments of `skeet walkforward`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  skeet walkforward --data GOOG.csv --strategy sma_cross --param-range fast=5..50:5 --param-range slow=20..200:10 --windows 5 --anchored"
)]
pub(crate) struct WalkForwardArgs {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    search: SearchArgs,
    /// Number of out-of-sample windows.
    #[arg(long, default_value_t = 5)]
    windows: usize,
    /// Training window in bars (default: three test windows).
    #[arg(long)]
    in_sample: Option<usize>,
    /// Test window in bars (default: what is left after the first training window, split
    /// into --windows parts).
    #[arg(long)]
    out_of_sample: Option<usize>,
    /// Training windows start at the first bar and grow (default: they roll).
    #[arg(long)]
    anchored: bool,
    #[command(flatten)]
    monte_carlo: MonteCarloArgs,
    /// Write the JSON result here (`-`: stdout).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

struct Search {
    prepared: Prepared,
    dims: Vec<Dim>,
    cfg: OptimizeConfig,
}

fn search(data_dir: &Path, run: &RunArgs, s: &SearchArgs) -> anyhow::Result<Search> {
    let prepared = prepare(data_dir, run)?;
    if prepared.markets.len() > 1 {
        bail!("optimisation runs on one instrument; give one --symbol");
    }
    let method = match s.method.as_str() {
        "grid" => Method::Grid,
        "random" => Method::Random,
        "bayes" | "bayesian" | "tpe" => Method::Bayes,
        other => bail!("--method '{other}' is not known; use grid, random or bayes"),
    };
    let objective =
        Objective::parse(&s.objective).map_err(|e| anyhow::anyhow!("--objective: {e}"))?;
    let ranges = s
        .ranges
        .iter()
        .map(|r| {
            let (name, range) = r
                .split_once('=')
                .with_context(|| format!("--param-range '{r}' must look like name=5..50:5"))?;
            let values =
                parse_range(range).map_err(|e| anyhow::anyhow!("--param-range {name}: {e}"))?;
            Ok((name.trim().to_ascii_lowercase(), values))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dims = space(&prepared.spec, &ranges, &prepared.overrides)?;
    if dims.is_empty() {
        bail!(
            "nothing to optimise: {} declares no parameters besides those fixed with --param",
            prepared.spec.name
        );
    }
    if s.trials == 0 {
        bail!("--trials must be at least 1");
    }
    let jobs = s
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    Ok(Search {
        prepared,
        dims,
        cfg: OptimizeConfig {
            method,
            objective,
            trials: s.trials,
            jobs,
            seed: s.seed,
            min_trades: s.min_trades,
        },
    })
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |x| format!("{x:.digits$}"))
}

fn params_text(p: &std::collections::BTreeMap<String, f64>) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn run_optimize(data_dir: &Path, args: &OptimizeArgs) -> anyhow::Result<()> {
    if args.output.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        text_to_stderr();
    }
    let Search {
        prepared,
        dims,
        cfg,
    } = search(data_dir, &args.run, &args.search)?;
    let market = &prepared.markets[0];
    let grid: usize = dims.iter().map(|d| d.values.len()).product();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "optimize {} on {} {} ({} bars): {} over {} ({} grid points), objective {}, {} job(s)",
        prepared.spec.name,
        market.instrument.id,
        market.timeframe,
        market.bars.len(),
        match cfg.method {
            Method::Grid => "grid".to_string(),
            Method::Random => format!("random {} trials", cfg.trials),
            Method::Bayes => format!("bayes {} trials", cfg.trials),
        },
        dims.iter()
            .map(|d| format!("{} ({} values)", d.name, d.values.len()))
            .collect::<Vec<_>>()
            .join(", "),
        grid,
        args.search.objective,
        cfg.jobs
    );
    drop(err);
    let total = if cfg.method == Method::Grid {
        grid
    } else {
        cfg.trials.min(grid)
    };
    let bar = progress(total as u64, "trials");
    let result = optimize(
        &prepared.spec,
        &prepared.overrides,
        &dims,
        market,
        &prepared.cfg,
        &cfg,
        &|done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    print_optimize(&result, args.top);
    write_json(args.output.as_deref(), &result)
}

fn print_optimize(r: &OptimizeResult, top: usize) {
    let mut ranked: Vec<&skeet_backtest::optimize::Trial> =
        r.trials.iter().filter(|t| t.objective.is_some()).collect();
    ranked.sort_by(|a, b| {
        b.objective
            .unwrap_or(f64::MIN)
            .total_cmp(&a.objective.unwrap_or(f64::MIN))
    });
    line(format!(
        "{:>4}  {:<28} {:>10} {:>8} {:>10} {:>9} {:>7}",
        "rank", "parameters", "objective", "sharpe", "return %", "max dd %", "trades"
    ));
    for (k, t) in ranked.iter().take(top).enumerate() {
        line(format!(
            "{:>4}  {:<28} {:>10} {:>8} {:>10} {:>9.2} {:>7}",
            k + 1,
            params_text(&t.params),
            fmt(t.objective, 4),
            fmt(t.metrics.sharpe, 2),
            fmt(t.metrics.return_pct, 2),
            t.metrics.max_drawdown_pct,
            t.metrics.trades
        ));
    }
    let g = &r.guards;
    line("");
    match r.best.map(|b| &r.trials[b]) {
        Some(b) => line(format!(
            "best: {} (objective {})",
            params_text(&b.params),
            fmt(b.objective, 4)
        )),
        None => line(
            "best: none — no parameter set had a defined objective (try --min-trades 0 or another objective)",
        ),
    }
    line(format!(
        "guards: {} trials; {} neighbours of the best, mean objective {} (plateau ratio {}); deflated Sharpe {}",
        g.trials,
        g.neighbours,
        fmt(g.neighbour_mean, 4),
        fmt(g.plateau_ratio, 2),
        g.deflated_sharpe
            .map_or_else(|| "—".into(), |d| format!("{:.1} %", d * 100.0))
    ));
    if r.skipped_by_constraints > 0 {
        line(format!(
            "{} grid points skipped by the spec's constraints",
            r.skipped_by_constraints
        ));
    }
    line(format!(
        "{} trials in {:.2} s ({:.0} trials/s)",
        r.trials.len(),
        r.seconds,
        r.trials_per_second
    ));
}

pub(crate) fn run_walkforward(data_dir: &Path, args: &WalkForwardArgs) -> anyhow::Result<()> {
    if args.windows == 0 {
        bail!("--windows must be at least 1");
    }
    if args.output.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        text_to_stderr();
    }
    let mc = args.monte_carlo.config()?;
    let Search {
        prepared,
        dims,
        cfg,
    } = search(data_dir, &args.run, &args.search)?;
    let market = &prepared.markets[0];
    let wf = WalkForwardConfig {
        windows: args.windows,
        in_sample: args.in_sample,
        out_of_sample: args.out_of_sample,
        anchored: args.anchored,
    };
    let bar = progress(args.windows as u64, "windows");
    let r = walk_forward(
        &prepared.spec,
        &prepared.overrides,
        &dims,
        market,
        &prepared.cfg,
        &cfg,
        &wf,
        &|done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    line(format!(
        "{:>3}  {:>15}  {:>15}  {:<26} {:>10} {:>10} {:>9} {:>7}",
        "win",
        "in-sample bars",
        "test bars",
        "chosen parameters",
        "IS obj",
        "OOS obj",
        "OOS ret%",
        "trades"
    ));
    for (k, w) in r.windows.iter().enumerate() {
        line(format!(
            "{:>3}  {:>15}  {:>15}  {:<26} {:>10} {:>10} {:>9} {:>7}",
            k + 1,
            format!("{}..{}", w.in_sample.0, w.in_sample.1),
            format!("{}..{}", w.out_of_sample.0, w.out_of_sample.1),
            params_text(&w.params),
            fmt(w.in_sample_objective, 3),
            fmt(w.out_of_sample_objective, 3),
            fmt(w.out_of_sample_metrics.total_return_pct, 2),
            w.out_of_sample_metrics.trades
        ));
    }
    let m = &r.out_of_sample;
    line("");
    line(format!(
        "out of sample (stitched): return {} %, CAGR {} %, Sharpe {}, max drawdown {:.2} %, {} trades",
        fmt(m.total_return_pct, 2),
        fmt(m.cagr_pct, 2),
        fmt(m.sharpe, 2),
        m.max_drawdown_pct,
        m.trades
    ));
    line(format!(
        "walk-forward efficiency {} (OOS CAGR / IS CAGR); mean objective in sample {}, out of sample {}",
        fmt(r.efficiency, 2),
        fmt(r.mean_in_sample_objective, 3),
        fmt(r.mean_out_of_sample_objective, 3)
    ));
    line(verdict(&r));
    let monte_carlo = monte_carlo_args::run(mc.as_ref(), &r.trades, r.out_of_sample.initial_equity);
    write_json(
        args.output.as_deref(),
        &WithMonteCarlo {
            result: &r,
            monte_carlo: monte_carlo.as_ref(),
        },
    )
}

/// A result with the optional Monte Carlo summary of its trades beside its own fields.
#[derive(serde::Serialize)]
struct WithMonteCarlo<'a, T: serde::Serialize> {
    #[serde(flatten)]
    result: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    monte_carlo: Option<&'a MonteCarloResult>,
}

/// One line a trader can act on. The 0.5 efficiency threshold is Pardo's rule of thumb
/// (The Evaluation and Optimization of Trading Strategies, 2008): a system keeping at least
/// half its in-sample annual return out of sample is considered robust.
fn verdict(r: &WalkForwardResult) -> String {
    let oos = r.out_of_sample.total_return_pct.unwrap_or(0.0);
    match r.efficiency {
        Some(e) if e >= 0.5 && oos > 0.0 => format!(
            "verdict: holds up out of sample (efficiency {e:.2} >= 0.5, stitched return {oos:.2} %)"
        ),
        Some(e) => format!(
            "verdict: likely over-fit; out of sample keeps {:.0} % of the in-sample annual return (robust systems keep 50 % or more)",
            e * 100.0
        ),
        None => "verdict: undecided; no window was profitable in sample, so there is no edge to validate".to_string(),
    }
}

fn write_json<T: serde::Serialize>(path: Option<&Path>, value: &T) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let json = serde_json::to_string_pretty(value)?;
    if path.as_os_str() == "-" {
        data(json);
        return Ok(());
    }
    write_atomic(path, json.as_bytes())?;
    line(format!("results written to {}", path.display()));
    Ok(())
}

//! `skeet backtest`: run a strategy (a JSON spec or a built-in template) over bars from a CSV
//! file or the market data store; print a readable report and optionally write the JSON one.
//!
//! With `--check-bias` the run is followed by the look-ahead check
//! ([`skeet_backtest::bias`]): one summary line (and the biased items), a `bias_check` object
//! at the top level of the JSON report, and exit status 3 when anything changed on truncated
//! data (0 when clean; 1 remains every error). A spec that sets `allow_lookahead` gets a
//! warning line on every run. With `--monte-carlo N` the closed trades are resampled and a
//! `monte_carlo` object joins the report.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use skeet_backtest::bias::{BiasConfig, check_spec};
use skeet_backtest::montecarlo::MonteCarloResult;
use skeet_backtest::table;
use skeet_strategy::templates;

use crate::monte_carlo_args::{self, MonteCarloArgs};
use crate::output::{data, line, text_to_stderr, write_atomic};
use crate::run_args::{Prepared, RunArgs, fill_name, load_spec, prepare, size_name};

/// Arguments of `skeet backtest`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  skeet backtest --data GOOG.csv --strategy sma_cross --param fast=10 --param slow=20 --allow-short --cash 10000 --commission 0.002\n  skeet backtest --symbol BTC/USDT --timeframe 1h --venue synthetic --spec my_strategy.json --fill intrabar --output report.json\n  skeet backtest --data GOOG.csv --strategy sma_cross --monte-carlo 10000 --check-bias\n  skeet backtest --list-templates"
)]
pub(crate) struct BacktestArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Write the JSON report here (`-` for standard output, the summary then goes to stderr).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Print the strategy's spec (e.g. a template, to start editing) and exit.
    #[arg(long)]
    print_spec: bool,
    /// List the built-in templates and exit.
    #[arg(long)]
    list_templates: bool,
    /// After the backtest, rerun the strategy on truncated data and report every indicator
    /// value, signal or order that changes when future bars are removed; exit status 3 if any
    /// does.
    #[arg(long)]
    check_bias: bool,
    /// Evenly spaced cut points of --check-bias, from the warm-up to the end (the runs without
    /// the last 1, 2 and 3 bars are added).
    #[arg(long, default_value_t = 20, requires = "check_bias")]
    bias_cuts: usize,
    #[command(flatten)]
    monte_carlo: MonteCarloArgs,
}

/// The JSON report with the optional analyses as more top-level fields.
#[derive(serde::Serialize)]
struct WithAnalyses<'a> {
    #[serde(flatten)]
    report: &'a skeet_backtest::Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    bias_check: Option<&'a skeet_backtest::bias::BiasReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    monte_carlo: Option<&'a MonteCarloResult>,
}

/// Exit status of `skeet backtest --check-bias` when look-ahead bias was found.
const EXIT_BIAS_FOUND: i32 = 3;

/// Most biased items listed under the summary line.
const BIASED_ITEMS_SHOWN: usize = 10;

pub(crate) fn run(data_dir: &Path, args: &BacktestArgs) -> anyhow::Result<()> {
    if args.list_templates {
        for (name, about) in templates::TEMPLATES {
            line(format!("{name:<20} {about}"));
        }
        return Ok(());
    }
    if args.print_spec {
        let spec = load_spec(&args.run)?;
        line(serde_json::to_string_pretty(&spec)?);
        return Ok(());
    }
    if args.output.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        text_to_stderr();
    }
    if args.check_bias && !(1..=10_000).contains(&args.bias_cuts) {
        bail!(
            "--bias-cuts {} is out of range; use 1 to 10000",
            args.bias_cuts
        );
    }
    let mc = args.monte_carlo.config()?;
    let Prepared {
        spec,
        overrides,
        markets,
        cfg,
        fees: (maker, taker),
    } = prepare(data_dir, &args.run)?;
    let params = spec.resolve_params(&overrides)?;
    if args.check_bias && markets.len() > 1 {
        bail!("--check-bias checks one instrument at a time; give a single --symbol (or --data)");
    }
    let market = &markets[0];
    let (cash, fill) = (cfg.cash, cfg.fill);
    let (first, last) = market
        .bars
        .range()
        .context("no bars in the selected range")?;
    // Check the spec and its parameters before announcing the run, so a bad spec fails with
    // its error alone; compiling against the first bar finds every problem not in the data.
    let b = &market.bars;
    skeet_strategy::compile(
        &spec,
        &params,
        &skeet_strategy::SeriesData {
            ts: &b.ts()[..1],
            open: &b.open()[..1],
            high: &b.high()[..1],
            low: &b.low()[..1],
            close: &b.close()[..1],
            volume: &b.volume()[..1],
            timeframe: market.timeframe,
        },
    )
    .map_err(|e| match &args.run.spec {
        Some(path) => anyhow::Error::new(e).context(format!("in {}", path.display())),
        None => e.into(),
    })?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "backtest {} ({params}) on {} {}: {} bars {} .. {}",
        spec.name,
        market.instrument.id,
        market.timeframe,
        market.bars.len(),
        first,
        last
    );
    let _ = writeln!(
        err,
        "  cash {cash} {}, {}, slippage {} bps, fill {}, size {}, {}, lot {}",
        market.instrument.quote,
        if maker == taker {
            format!("commission {taker}")
        } else {
            format!("fees maker {maker} taker {taker}")
        },
        args.run.slippage_bps,
        fill_name(fill),
        size_name(&spec.execution.sizing),
        if args.run.allow_short || spec.execution.allow_short {
            "long and short"
        } else {
            "long only"
        },
        if market.instrument.lot_size.is_zero() {
            "any".to_string()
        } else {
            market.instrument.lot_size.to_string()
        },
    );
    if spec.allow_lookahead {
        let _ = writeln!(
            err,
            "warning: this spec sets \"allow_lookahead\": its rules read future bars, so these results cannot be achieved in trading; never run it in a bot (--check-bias shows where the future leaks in)"
        );
    }
    drop(err);

    if markets.len() > 1 {
        let mut err = std::io::stderr().lock();
        let names: Vec<String> = markets
            .iter()
            .map(|m| m.instrument.id.to_string())
            .collect();
        let _ = writeln!(
            err,
            "  portfolio of {}: {}",
            markets.len(),
            names.join(", ")
        );
    }
    let out = skeet_backtest::run_spec_portfolio(&spec, &params, &markets, &cfg)?;
    let r = &out.report;
    line(table::render(
        &r.metrics,
        &r.trades,
        &format!("{} on {} {}", r.strategy, r.instrument, r.timeframe),
    ));
    line(format!(
        "final equity {} (cash {}, position {}); {} trades; engine {:.3} s, {:.1} M bars/s",
        r.final_equity.round_dp(2),
        r.final_cash.round_dp(2),
        r.open_position,
        r.trades.len(),
        r.engine_seconds,
        r.bars_per_second / 1e6
    ));
    for w in &r.warnings {
        line(format!("warning: {w}"));
    }
    let monte_carlo = monte_carlo_args::run(
        mc.as_ref(),
        &r.trades,
        skeet_engine::account::to_f64(r.config.cash),
    );
    let bias = if args.check_bias {
        let bias_cfg = BiasConfig {
            cuts: args.bias_cuts,
            ..BiasConfig::default()
        };
        let report = check_spec(&spec, &params, market, &cfg, &bias_cfg)?;
        line(report.summary());
        for item in report.biased.iter().take(BIASED_ITEMS_SHOWN) {
            line(format!("  biased: {item}"));
        }
        if report.biased.len() > BIASED_ITEMS_SHOWN {
            line(format!(
                "  ... and {} more (see bias_check in the JSON report)",
                report.biased.len() - BIASED_ITEMS_SHOWN
            ));
        }
        Some(report)
    } else {
        None
    };
    if let Some(path) = &args.output {
        let json = serde_json::to_string_pretty(&WithAnalyses {
            report: r,
            bias_check: bias.as_ref(),
            monte_carlo: monte_carlo.as_ref(),
        })?;
        if path.as_os_str() == "-" {
            data(json);
        } else {
            write_atomic(path, json.as_bytes())?;
            line(format!("report written to {}", path.display()));
        }
    }
    if bias.is_some_and(|b| !b.clean) {
        // Not an error (the run and the check succeeded): a distinct status for scripts and CI.
        let _ = std::io::stdout().flush();
        std::process::exit(EXIT_BIAS_FOUND);
    }
    Ok(())
}

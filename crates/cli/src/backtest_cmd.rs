//! `skeet backtest`: run a strategy (a JSON spec or a built-in template) over bars from a CSV
//! file or the market data store; print a readable report and optionally write the JSON one.
//!
//! With `--check-bias` the run is followed by the look-ahead check
//! ([`skeet_backtest::bias`]): one summary line (and the biased items), a `bias_check` object
//! at the top level of the JSON report, and exit status 2 when anything changed on truncated
//! data (0 when clean; 1 remains every error). A spec that sets `allow_lookahead` gets a
//! warning line on every run.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use rust_decimal::Decimal;
use skeet_backtest::bias::{BiasConfig, check_spec};
use skeet_backtest::{Market, RunConfig, table};
use skeet_core::{Currency, Instrument, InstrumentId, Symbol, Timeframe, UnixNanos, Venue};
use skeet_data::import::{ImportOptions, read_csv};
use skeet_data::inspect::infer_timeframe;
use skeet_data::{MarketStore, NoProgress, SeriesKey, series_hash};
use skeet_engine::{FillModel, Slippage};
use skeet_strategy::{StrategySpec, templates};

use crate::output::line;

/// Arguments of `skeet backtest`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  skeet backtest --data GOOG.csv --strategy sma_cross --param fast=10 --param slow=20 --allow-short --cash 10000 --commission 0.002\n  skeet backtest --symbol BTC/USDT --timeframe 1h --venue synthetic --spec my_strategy.json --fill intrabar --output report.json\n  skeet backtest --list-templates"
)]
pub(crate) struct BacktestArgs {
    /// CSV file of bars (any format `skeet data import` reads).
    #[arg(long, conflicts_with_all = ["symbol", "venue"])]
    data: Option<PathBuf>,
    /// Symbol in the market data store (with --timeframe); repeat it to backtest a portfolio
    /// sharing one account.
    #[arg(long = "symbol")]
    symbol: Vec<String>,
    /// Timeframe of the stored series; for --data, overrides the one inferred from the file.
    #[arg(long)]
    timeframe: Option<String>,
    /// Venue of the stored series (default: the only one holding the symbol).
    #[arg(long)]
    venue: Option<String>,
    /// Strategy spec file (JSON).
    #[arg(long, conflicts_with = "strategy")]
    spec: Option<PathBuf>,
    /// Built-in template (see --list-templates).
    #[arg(long)]
    strategy: Option<String>,
    /// Parameter value, `name=value` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Starting cash.
    #[arg(long, default_value = "10000")]
    cash: String,
    /// Fee rate per fill, maker and taker (0.001 = 0.1 %); overrides --fees.
    #[arg(long, default_value = "0")]
    commission: String,
    /// Fee preset of a venue: binance, kraken, coinbase, alpaca (or none); --maker-fee and
    /// --taker-fee override its parts.
    #[arg(long)]
    fees: Option<String>,
    /// Fee rate for fills that add liquidity (limit orders).
    #[arg(long)]
    maker_fee: Option<String>,
    /// Fee rate for fills that take liquidity (market and stop orders).
    #[arg(long)]
    taker_fee: Option<String>,
    /// Adverse slippage on market and stop fills, basis points.
    #[arg(long, default_value_t = 0.0)]
    slippage_bps: f64,
    /// Cap each bar's fills at this share of its volume (0-1).
    #[arg(long)]
    volume_share: Option<f64>,
    /// Market-order fill price: next-open, close or intrabar.
    // Parsed in `run`, not by clap, so a bad value fails like every other error: exit status
    // 1 and one `error:` line.
    #[arg(long, default_value = "next-open")]
    fill: String,
    /// Position size: all-in, pct:N, quote:N or units:N (overrides the spec).
    #[arg(long)]
    size: Option<String>,
    /// Allow short entries.
    #[arg(long)]
    allow_short: bool,
    /// Buying power as a multiple of equity.
    #[arg(long, default_value_t = 1.0)]
    leverage: f64,
    /// Smallest quantity step (default 1 for CSV data and stock tickers, none for pairs).
    #[arg(long)]
    lot_size: Option<String>,
    /// Smallest price step (default: any).
    #[arg(long)]
    tick_size: Option<String>,
    /// First bar (date or datetime, inclusive).
    #[arg(long)]
    from: Option<String>,
    /// Last bar (date or datetime, inclusive).
    #[arg(long)]
    to: Option<String>,
    /// Write the JSON report here (`-` for standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Print the strategy's spec (e.g. a template, to start editing) and exit.
    #[arg(long)]
    print_spec: bool,
    /// List the built-in templates and exit.
    #[arg(long)]
    list_templates: bool,
    /// After the backtest, rerun the strategy on truncated data and report every indicator
    /// value, signal or order that changes when future bars are removed; exit status 2 if any
    /// does.
    #[arg(long)]
    check_bias: bool,
    /// Evenly spaced cut points of --check-bias, from the warm-up to the end (the runs without
    /// the last 1, 2 and 3 bars are added).
    #[arg(long, default_value_t = 20, requires = "check_bias")]
    bias_cuts: usize,
}

/// The JSON report with the look-ahead check's result as one more top-level field.
#[derive(serde::Serialize)]
struct WithBiasCheck<'a> {
    #[serde(flatten)]
    report: &'a skeet_backtest::Report,
    bias_check: &'a skeet_backtest::bias::BiasReport,
}

/// Exit status of `skeet backtest --check-bias` when look-ahead bias was found.
const EXIT_BIAS_FOUND: i32 = 2;

/// Most biased items listed under the summary line.
const BIASED_ITEMS_SHOWN: usize = 10;

/// Published base-tier fee schedules (maker, taker) of the venues SKEET trades, as of 2026.
const FEE_PRESETS: &[(&str, &str, &str)] = &[
    ("binance", "0.001", "0.001"),
    ("kraken", "0.0025", "0.004"),
    ("coinbase", "0.004", "0.006"),
    ("alpaca", "0", "0"),
    ("none", "0", "0"),
];

/// Maker and taker fee rates from --fees, --commission, --maker-fee and --taker-fee (most
/// specific wins).
fn fee_rates(args: &BacktestArgs, commission: Decimal) -> anyhow::Result<(Decimal, Decimal)> {
    let (mut maker, mut taker) = match &args.fees {
        Some(name) => {
            let Some(&(_, m, t)) = FEE_PRESETS
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            else {
                let names: Vec<&str> = FEE_PRESETS.iter().map(|(n, _, _)| *n).collect();
                bail!(
                    "--fees '{name}' is not a known venue; use one of {}",
                    names.join(", ")
                );
            };
            (decimal("fees", m)?, decimal("fees", t)?)
        }
        None => (commission, commission),
    };
    if args.fees.is_some() && !commission.is_zero() {
        (maker, taker) = (commission, commission);
    }
    for (flag, value, slot) in [
        ("maker-fee", &args.maker_fee, &mut maker),
        ("taker-fee", &args.taker_fee, &mut taker),
    ] {
        if let Some(v) = value {
            let d = decimal(flag, v)?;
            if d < Decimal::new(-1, 2) || d >= Decimal::new(1, 1) {
                bail!(
                    "--{flag} {d} is out of range; use a fee rate from -0.01 (a rebate) to below 0.1"
                );
            }
            *slot = d;
        }
    }
    Ok((maker, taker))
}

fn parse_fill(s: &str) -> anyhow::Result<FillModel> {
    match s {
        "next-open" | "next_open" | "open" => Ok(FillModel::NextOpen),
        "close" => Ok(FillModel::Close),
        "intrabar" => Ok(FillModel::Intrabar),
        other => bail!("--fill '{other}' is not a fill model; use next-open, close or intrabar"),
    }
}

fn decimal(flag: &str, s: &str) -> anyhow::Result<Decimal> {
    s.trim()
        .parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(s.trim()))
        .map_err(|_| anyhow::anyhow!("--{flag} '{s}' is not a number"))
}

pub(crate) fn run(data_dir: &Path, args: &BacktestArgs) -> anyhow::Result<()> {
    if args.list_templates {
        for (name, about) in templates::TEMPLATES {
            line(format!("{name:<20} {about}"));
        }
        return Ok(());
    }
    let spec = load_spec(args)?;
    if args.print_spec {
        line(serde_json::to_string_pretty(&spec)?);
        return Ok(());
    }
    let mut spec = spec;
    if let Some(size) = &args.size {
        spec.execution.sizing = parse_size(size)?;
    }
    let overrides = args
        .params
        .iter()
        .map(|p| {
            let (k, v) = p.split_once('=').with_context(|| {
                format!("--param '{p}' must look like name=value, e.g. fast=10")
            })?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--param {k}: '{v}' is not a number"))?;
            Ok((k.trim().to_string(), v))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let params = spec.resolve_params(&overrides)?;

    let fill = parse_fill(&args.fill)?;
    let cash = decimal("cash", &args.cash)?;
    if cash <= Decimal::ZERO {
        bail!("--cash must be above 0, got {cash}");
    }
    let commission = decimal("commission", &args.commission)?;
    if commission < Decimal::ZERO || commission >= Decimal::new(1, 1) {
        bail!(
            "--commission {commission} is out of range; use a fee rate from 0 to below 0.1 (0.001 = 0.1 %)"
        );
    }
    if !(args.slippage_bps >= 0.0 && args.slippage_bps < 10_000.0) {
        bail!(
            "--slippage-bps {} is out of range; use 0 to 10000",
            args.slippage_bps
        );
    }
    if let Some(v) = args.volume_share
        && !(v > 0.0 && v <= 1.0)
    {
        bail!("--volume-share {v} is out of range; use a fraction above 0 and at most 1");
    }
    if args.check_bias && !(1..=10_000).contains(&args.bias_cuts) {
        bail!(
            "--bias-cuts {} is out of range; use 1 to 10000",
            args.bias_cuts
        );
    }
    if !(args.leverage >= 1.0 && args.leverage <= 100.0) {
        bail!(
            "--leverage {} is out of range; use 1 (no leverage) to 100",
            args.leverage
        );
    }

    let mut markets = load_markets(data_dir, args)?;
    if args.check_bias && markets.len() > 1 {
        bail!("--check-bias checks one instrument at a time; give a single --symbol (or --data)");
    }
    let (maker, taker) = fee_rates(args, commission)?;
    for m in &mut markets {
        m.instrument.maker_fee = maker;
        m.instrument.taker_fee = taker;
    }
    let market = &markets[0];
    let cfg = RunConfig {
        cash,
        currency: market.instrument.quote,
        fill,
        slippage: Slippage {
            bps: args.slippage_bps,
            volume_share: args.volume_share,
        },
        leverage: args.leverage,
        allow_short: args.allow_short,
        ..RunConfig::default()
    };
    let (first, last) = market
        .bars
        .range()
        .context("no bars in the selected range")?;
    if let Some(tf) = &spec.universe.timeframe
        && tf.parse::<Timeframe>()? != market.timeframe
    {
        bail!(
            "universe.timeframe: the strategy is written for {tf} bars but the data has {} bars; give {tf} data (skeet data resample makes it)",
            market.timeframe
        );
    }
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
    .map_err(|e| match &args.spec {
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
        args.slippage_bps,
        fill_name(fill),
        size_name(&spec.execution.sizing),
        if args.allow_short || spec.execution.allow_short {
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
        let json = match &bias {
            Some(b) => serde_json::to_string_pretty(&WithBiasCheck {
                report: r,
                bias_check: b,
            })?,
            None => serde_json::to_string_pretty(r)?,
        };
        if path.as_os_str() == "-" {
            line(json);
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

fn fill_name(f: FillModel) -> &'static str {
    match f {
        FillModel::NextOpen => "next-open",
        FillModel::Close => "close",
        FillModel::Intrabar => "intrabar",
    }
}

fn size_name(s: &skeet_strategy::spec::Sizing) -> String {
    use skeet_strategy::spec::{Num, Sizing};
    let n = |x: &Num| match x {
        Num::Value(v) => format!("{v}"),
        Num::Param(p) => format!("${p}"),
    };
    match s {
        Sizing::AllIn => "all-in".into(),
        Sizing::PctEquity { pct } => format!("{} % of equity", n(pct)),
        Sizing::Quote { amount } => format!("{} quote", n(amount)),
        Sizing::Units { quantity } => format!("{} units", n(quantity)),
        Sizing::Risk { risk_pct } => format!("risk {} %", n(risk_pct)),
    }
}

fn parse_size(s: &str) -> anyhow::Result<skeet_strategy::spec::Sizing> {
    use skeet_strategy::spec::{Num, Sizing};
    let bad = || {
        anyhow::anyhow!(
            "--size '{s}' is not understood; use all-in, pct:N (percent of equity), quote:N (quote currency) or units:N"
        )
    };
    if s == "all-in" || s == "all_in" {
        return Ok(Sizing::AllIn);
    }
    let (kind, v) = s.split_once(':').ok_or_else(bad)?;
    let v: f64 = v.parse().map_err(|_| bad())?;
    if !(v > 0.0 && v.is_finite()) {
        bail!("--size {s}: the amount must be above 0");
    }
    Ok(match kind {
        "pct" => {
            if v > 100.0 {
                bail!("--size {s}: a percentage of equity must be at most 100");
            }
            Sizing::PctEquity { pct: Num::Value(v) }
        }
        "quote" => Sizing::Quote {
            amount: Num::Value(v),
        },
        "units" => Sizing::Units {
            quantity: Num::Value(v),
        },
        _ => return Err(bad()),
    })
}

fn load_spec(args: &BacktestArgs) -> anyhow::Result<StrategySpec> {
    match (&args.spec, &args.strategy) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            StrategySpec::from_json(&text).with_context(|| format!("in {}", path.display()))
        }
        (None, Some(name)) => Ok(templates::get(name)?),
        (None, None) => {
            bail!("give a strategy: --spec FILE.json or --strategy TEMPLATE (see --list-templates)")
        }
    }
}

fn parse_bound(flag: &str, s: &Option<String>) -> anyhow::Result<Option<UnixNanos>> {
    s.as_deref()
        .map(|v| {
            v.parse::<UnixNanos>()
                .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
        })
        .transpose()
}

fn load_markets(data_dir: &Path, args: &BacktestArgs) -> anyhow::Result<Vec<Market>> {
    if args.data.is_some() || args.symbol.is_empty() {
        return Ok(vec![load_market(data_dir, args, None)?]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for s in &args.symbol {
        let m = load_market(data_dir, args, Some(s))?;
        if !seen.insert(m.instrument.id) {
            bail!("--symbol {} is given twice", m.instrument.id.symbol);
        }
        out.push(m);
    }
    Ok(out)
}

fn load_market(
    data_dir: &Path,
    args: &BacktestArgs,
    symbol: Option<&str>,
) -> anyhow::Result<Market> {
    let from = parse_bound("from", &args.from)?;
    let to = parse_bound("to", &args.to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        bail!("--from {f} is after --to {t}");
    }
    let (id, timeframe, bars, lot_default) = match (&args.data, symbol) {
        (Some(path), _) => {
            let imported = read_csv(path, &ImportOptions::default(), &NoProgress)?;
            let bars = imported.bars;
            let tf = match &args.timeframe {
                Some(t) => t.parse::<Timeframe>()?,
                None => infer_timeframe(&bars).with_context(|| {
                    format!(
                        "cannot tell the timeframe of {}; pass --timeframe (e.g. 1d)",
                        path.display()
                    )
                })?,
            };
            let id = InstrumentId::new(Venue::new("local")?, Symbol::new("DATA")?);
            (id, tf, bars, Decimal::ONE)
        }
        (None, Some(symbol)) => {
            let tf: Timeframe = args
                .timeframe
                .as_deref()
                .context("--symbol needs --timeframe (e.g. 1h)")?
                .parse()?;
            let symbol = Symbol::new(symbol)?;
            let store = MarketStore::in_data_dir(data_dir)?;
            let key = match &args.venue {
                Some(v) => SeriesKey::new(Venue::new(v)?, symbol, tf),
                None => {
                    let keys = store.find(symbol, Some(tf))?;
                    match keys.as_slice() {
                        [one] => *one,
                        [] => bail!(
                            "no {symbol} {tf} data in {}; import or generate it first (skeet data ls lists what is stored)",
                            store.root().display()
                        ),
                        many => bail!(
                            "{symbol} {tf} is stored for several venues ({}); pass --venue",
                            many.iter()
                                .map(|k| k.venue.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    }
                }
            };
            let bars = store.read(&key, None, None)?;
            let lot = if symbol.quote().is_some() {
                Decimal::ZERO
            } else {
                Decimal::ONE
            };
            (InstrumentId::new(key.venue, symbol), tf, bars, lot)
        }
        (None, None) => bail!("give data: --data FILE.csv or --symbol S --timeframe TF"),
    };
    let bars = bars.slice_time(from, to);
    if bars.is_empty() {
        bail!(
            "no bars between {} and {}",
            fmt_bound(from, "the start"),
            fmt_bound(to, "the end")
        );
    }
    let data_hash = series_hash(&bars);
    let mut instrument = Instrument::unrestricted(id);
    instrument.lot_size = match &args.lot_size {
        Some(s) => decimal("lot-size", s)?,
        None => lot_default,
    };
    if let Some(s) = &args.tick_size {
        instrument.tick_size = decimal("tick-size", s)?;
    }
    if instrument.lot_size < Decimal::ZERO || instrument.tick_size < Decimal::ZERO {
        bail!("--lot-size and --tick-size must not be negative");
    }
    if id.symbol.quote().is_none() {
        instrument.quote = Currency::new("USD")?;
    }
    Ok(Market {
        instrument,
        timeframe,
        bars,
        data_hash,
    })
}

fn fmt_bound(b: Option<UnixNanos>, open_end: &str) -> String {
    b.map_or_else(|| open_end.into(), |t| t.to_string())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write to {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

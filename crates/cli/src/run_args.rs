//! The flags shared by `skeet backtest`, `skeet optimize` and `skeet walkforward`: where the
//! bars come from, which strategy, and how the simulated venue trades; and turning them into
//! markets, a spec and a run configuration, with one-line errors for every bad value.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use rust_decimal::Decimal;
use skeet_backtest::{Market, RunConfig};
use skeet_core::{Currency, Instrument, InstrumentId, Symbol, Timeframe, UnixNanos, Venue};
use skeet_data::import::{ImportOptions, read_csv};
use skeet_data::inspect::infer_timeframe;
use skeet_data::{MarketStore, NoProgress, SeriesKey, series_hash};
use skeet_engine::{FillModel, Slippage};
use skeet_strategy::{StrategySpec, templates};

/// Data, strategy and venue flags.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// CSV file of bars (any format `skeet data import` reads).
    #[arg(long, conflicts_with_all = ["symbol", "venue"])]
    pub(crate) data: Option<PathBuf>,
    /// Symbol in the market data store (with --timeframe); repeat it to backtest a portfolio
    /// sharing one account.
    #[arg(long = "symbol")]
    pub(crate) symbol: Vec<String>,
    /// Timeframe of the stored series; for --data, overrides the one inferred from the file.
    #[arg(long)]
    pub(crate) timeframe: Option<String>,
    /// Venue of the stored series (default: the only one holding the symbol).
    #[arg(long)]
    pub(crate) venue: Option<String>,
    /// Strategy spec file (JSON).
    #[arg(long, conflicts_with = "strategy")]
    pub(crate) spec: Option<PathBuf>,
    /// Built-in template (see --list-templates).
    #[arg(long)]
    pub(crate) strategy: Option<String>,
    /// Parameter value, `name=value` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    /// Starting cash.
    #[arg(long, default_value = "10000")]
    pub(crate) cash: String,
    /// Fee rate per fill, maker and taker (0.001 = 0.1 %); overrides --fees.
    #[arg(long, default_value = "0")]
    pub(crate) commission: String,
    /// Fee preset of a venue: binance, kraken, coinbase, alpaca (or none); --maker-fee and
    /// --taker-fee override its parts.
    #[arg(long)]
    pub(crate) fees: Option<String>,
    /// Fee rate for fills that add liquidity (limit orders).
    #[arg(long)]
    pub(crate) maker_fee: Option<String>,
    /// Fee rate for fills that take liquidity (market and stop orders).
    #[arg(long)]
    pub(crate) taker_fee: Option<String>,
    /// Adverse slippage on market and stop fills, basis points.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) slippage_bps: f64,
    /// Cap each bar's fills at this share of its volume (0-1).
    #[arg(long)]
    pub(crate) volume_share: Option<f64>,
    /// Market-order fill price: next-open, close or intrabar.
    // Parsed in `run`, not by clap, so a bad value fails like every other error: exit status
    // 1 and one `error:` line.
    #[arg(long, default_value = "next-open")]
    pub(crate) fill: String,
    /// Position size: all-in, pct:N, quote:N or units:N (overrides the spec).
    #[arg(long)]
    pub(crate) size: Option<String>,
    /// Allow short entries.
    #[arg(long)]
    pub(crate) allow_short: bool,
    /// Buying power as a multiple of equity.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) leverage: f64,
    /// Smallest quantity step (default 1 for CSV data and stock tickers, none for pairs).
    #[arg(long)]
    pub(crate) lot_size: Option<String>,
    /// Smallest price step (default: any).
    #[arg(long)]
    pub(crate) tick_size: Option<String>,
    /// First bar (date or datetime, inclusive).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Last bar (date or datetime, inclusive).
    #[arg(long)]
    pub(crate) to: Option<String>,
}

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
fn fee_rates(args: &RunArgs, commission: Decimal) -> anyhow::Result<(Decimal, Decimal)> {
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

pub(crate) fn fill_name(f: FillModel) -> &'static str {
    match f {
        FillModel::NextOpen => "next-open",
        FillModel::Close => "close",
        FillModel::Intrabar => "intrabar",
    }
}

pub(crate) fn size_name(s: &skeet_strategy::spec::Sizing) -> String {
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

pub(crate) fn load_spec(args: &RunArgs) -> anyhow::Result<StrategySpec> {
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

fn load_markets(data_dir: &Path, args: &RunArgs) -> anyhow::Result<Vec<Market>> {
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

fn load_market(data_dir: &Path, args: &RunArgs, symbol: Option<&str>) -> anyhow::Result<Market> {
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

/// What the shared flags resolve to.
pub(crate) struct Prepared {
    /// The strategy (sizing overridden by --size).
    pub(crate) spec: StrategySpec,
    /// `--param` values.
    pub(crate) overrides: Vec<(String, f64)>,
    /// The instruments' bars, fees applied.
    pub(crate) markets: Vec<Market>,
    /// The run configuration.
    pub(crate) cfg: RunConfig,
    /// Maker and taker fee rates.
    pub(crate) fees: (Decimal, Decimal),
}

/// Parses `--param name=value` flags.
pub(crate) fn param_overrides(params: &[String]) -> anyhow::Result<Vec<(String, f64)>> {
    params
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
        .collect()
}

/// Resolves the shared flags: spec, parameters, markets and run configuration.
pub(crate) fn prepare(data_dir: &Path, args: &RunArgs) -> anyhow::Result<Prepared> {
    let mut spec = load_spec(args)?;
    if let Some(size) = &args.size {
        spec.execution.sizing = parse_size(size)?;
    }
    let overrides = param_overrides(&args.params)?;
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
    if !(args.leverage >= 1.0 && args.leverage <= 100.0) {
        bail!(
            "--leverage {} is out of range; use 1 (no leverage) to 100",
            args.leverage
        );
    }
    let mut markets = load_markets(data_dir, args)?;
    let fees = fee_rates(args, commission)?;
    for m in &mut markets {
        m.instrument.maker_fee = fees.0;
        m.instrument.taker_fee = fees.1;
    }
    if let Some(tf) = &spec.universe.timeframe
        && tf.parse::<Timeframe>()? != markets[0].timeframe
    {
        bail!(
            "universe.timeframe: the strategy is written for {tf} bars but the data has {} bars; give {tf} data (skeet data resample makes it)",
            markets[0].timeframe
        );
    }
    let cfg = RunConfig {
        cash,
        currency: markets[0].instrument.quote,
        fill,
        slippage: Slippage {
            bps: args.slippage_bps,
            volume_share: args.volume_share,
        },
        leverage: args.leverage,
        allow_short: args.allow_short,
        ..RunConfig::default()
    };
    Ok(Prepared {
        spec,
        overrides,
        markets,
        cfg,
        fees,
    })
}

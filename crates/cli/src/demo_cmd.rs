//! `skeet demo`: a first look at SKEET without any input. Generates a deterministic demo
//! dataset into the market store (or reuses it) and prints a summary with indicator readings.

use std::path::Path;

use anyhow::Context;
use skeet_core::{Symbol, Timeframe, Venue};
use skeet_data::generate::{GenerateParams, Model, generate};
use skeet_data::{MarketStore, NoProgress, SeriesKey, WriteMode, series_hash};
use skeet_ta::{Columns, registry};

use crate::output::line;

/// The demo series: 2 years of hourly bars of a synthetic BTC/USDT with switching regimes.
const BARS: usize = 17_520;
const SEED: u64 = 42;

pub(crate) fn run(data_dir: &Path) -> anyhow::Result<()> {
    let store = MarketStore::in_data_dir(data_dir)?;
    let key = SeriesKey::new(
        Venue::new("synthetic")?,
        Symbol::new("BTC/USDT")?,
        Timeframe::H1,
    );
    let bars = if store.contains(&key) {
        store.read(&key, None, None)?
    } else {
        let mut params = GenerateParams::new(Timeframe::H1, BARS, SEED);
        params.model = Model::Regime;
        params.price = 40_000.0;
        let bars = generate(&params, &NoProgress)?;
        store.write(&key, &bars, WriteMode::Replace)?;
        bars
    };
    let (first, last) = bars.range().context("the demo series is empty")?;
    let cols = Columns {
        ts: bars.ts(),
        open: bars.open(),
        high: bars.high(),
        low: bars.low(),
        close: bars.close(),
        volume: bars.volume(),
    };
    line(format!("SKEET demo dataset: {key}"));
    line(format!("  stored at   {}", store.path_of(&key).display()));
    line(format!(
        "  bars        {} from {first} to {last}",
        bars.len()
    ));
    line(format!("  sha256      {}", series_hash(&bars)));
    let closes = bars.close();
    let last_close = closes[closes.len() - 1];
    let (lo, hi) = closes
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    line(format!(
        "  close       {last_close:.2} (range {lo:.2} .. {hi:.2}, {:+.1} % over the period)",
        (last_close / closes[0] - 1.0) * 100.0
    ));
    line("");
    line("Indicators on the last bar:");
    for expr in [
        "sma(close,50)",
        "ema(close,200)",
        "rsi(close,14)",
        "macd(close,12,26,9)",
        "bbands(close,20,2,2)",
        "atr(14)",
        "adx(14)",
        "supertrend(7,3)",
    ] {
        let spec = registry::parse(expr)?;
        let values = spec.compute(&cols)?;
        let shown: Vec<String> = spec
            .def
            .outputs
            .iter()
            .zip(&values)
            .map(|(name, col)| format!("{name} {:.2}", col[col.len() - 1]))
            .collect();
        line(format!("  {expr:<22} {}", shown.join("  ")));
    }
    line("");
    line(
        "Next: skeet data ls | skeet data inspect BTC/USDT 1h --venue synthetic | skeet indicators --list",
    );
    Ok(())
}

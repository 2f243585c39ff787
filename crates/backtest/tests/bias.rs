//! The look-ahead check ([`skeet_backtest::bias`]) on the committed 500-bar datasets: every
//! built-in template, every indicator of the registry and a higher-timeframe rule pass; a
//! deliberately biased spec (`close[-1]`, allowed by `allow_lookahead`) and a code strategy
//! that peeks at the next close from data captured at construction are flagged, each with its
//! exact first difference.

#![expect(
    clippy::unwrap_used,
    reason = "committed fixtures: a missing or malformed one should fail the test loudly"
)]

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use skeet_backtest::bias::{BiasConfig, BiasReport, DifferenceKind, check_spec, check_strategy};
use skeet_backtest::{Market, RunConfig};
use skeet_core::{Instrument, InstrumentId};
use skeet_data::import::{ImportOptions, read_csv};
use skeet_data::{NoProgress, series_hash};
use skeet_strategy::templates::{self, TEMPLATES};
use skeet_strategy::{BarContext, ExecSettings, Signals, Strategy, StrategySpec};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn market(file: &str, timeframe: &str) -> Market {
    let bars = read_csv(
        &root().join("test_data/golden").join(file),
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap()
    .bars;
    let mut instrument = Instrument::unrestricted("local:DATA".parse::<InstrumentId>().unwrap());
    instrument.lot_size = Decimal::ONE;
    instrument.taker_fee = Decimal::new(1, 3);
    instrument.maker_fee = Decimal::new(1, 3);
    Market {
        instrument,
        timeframe: timeframe.parse().unwrap(),
        data_hash: series_hash(&bars),
        bars,
    }
}

fn goog() -> Market {
    market("goog_daily_500.csv", "1d")
}

fn eurusd() -> Market {
    market("eurusd_hourly_500.csv", "1h")
}

fn cfg() -> RunConfig {
    RunConfig {
        allow_short: true,
        ..RunConfig::default()
    }
}

fn check(spec: &StrategySpec, overrides: &[(&str, f64)], m: &Market) -> BiasReport {
    let overrides: Vec<(String, f64)> = overrides.iter().map(|(k, v)| ((*k).into(), *v)).collect();
    let params = spec.resolve_params(&overrides).unwrap();
    check_spec(spec, &params, m, &cfg(), &BiasConfig::default()).unwrap()
}

fn details(r: &BiasReport) -> String {
    r.details
        .iter()
        .take(5)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_template_passes_on_both_datasets() {
    for (name, _) in TEMPLATES {
        for (dataset, m) in [("goog_daily", goog()), ("eurusd_hourly", eurusd())] {
            let spec = templates::get(name).unwrap();
            // As in the golden reports: parameters under which each template trades here.
            let overrides: &[(&str, f64)] = match (*name, dataset) {
                ("dca", "goog_daily") => &[("amount", 1_000.0)],
                ("dca", "eurusd_hourly") => &[("take_profit", 1.0)],
                ("grid", "eurusd_hourly") => &[("step_pct", 0.5)],
                _ => &[],
            };
            let r = check(&spec, overrides, &m);
            assert!(
                r.clean,
                "{name} on {dataset}: {}\n{}",
                r.summary(),
                details(&r)
            );
            assert!(r.orders > 0, "{name} on {dataset} submitted no order");
            assert!(r.cuts.len() >= 20, "{name} on {dataset}: {:?}", r.cuts);
        }
    }
    let r = check(&templates::get("sma_cross").unwrap(), &[], &goog());
    assert_eq!(
        r.summary(),
        "look-ahead check: clean (22 cuts, 500 bars, 4 rules, 4 indicator columns compared)"
    );
    assert_eq!(
        r.cuts[0], 31,
        "the first cut keeps the warm-up bars and one more"
    );
    assert_eq!(r.cuts[r.cuts.len() - 3..], [497, 498, 499]);
}

#[test]
fn the_deliberately_biased_spec_is_flagged_at_its_first_future_read() {
    let text =
        std::fs::read_to_string(root().join("test_data/strategies/biased_lookahead.json")).unwrap();
    let spec = StrategySpec::from_json(&text).unwrap();
    let m = goog();
    let r = check(&spec, &[], &m);
    assert!(!r.clean);
    let first = &r.details[0];
    assert_eq!(
        first.to_string(),
        "indicator entry.long: close[-1] at bar 0 (2004-08-19): full=108.31, truncated at 1=NaN"
    );
    assert_eq!(
        (first.kind, first.bar, first.cut, first.bars_differing),
        (DifferenceKind::Indicator, 0, 1, 1)
    );
    assert_eq!(
        r.summary(),
        format!(
            "look-ahead check: FAILED — {} differences; first: indicator entry.long: close[-1] at bar 0 (2004-08-19): full=108.31, truncated at 1=NaN",
            r.differences
        )
    );
    assert_eq!(
        r.biased,
        [
            "indicator entry.long: close[-1]",
            "indicator entry.long: close[-1] > close",
            "signal entry.long",
            "order submitted",
            "indicator exit.long: close[-1] < close",
            "signal exit.long",
        ]
    );
    // The rule fires on bar 0 because bar 1 closes higher; cut at 1, it cannot know.
    let signal = r
        .details
        .iter()
        .find(|d| d.kind == DifferenceKind::Signal)
        .unwrap();
    assert_eq!(
        signal.to_string(),
        "signal entry.long at bar 0 (2004-08-19): full=true, truncated at 1=false"
    );
    let order = r
        .details
        .iter()
        .find(|d| d.kind == DifferenceKind::Order)
        .unwrap();
    assert_eq!(
        order.to_string(),
        "order submitted at bar 0 (2004-08-19): full=buy market entry, truncated at 1=none"
    );
    // Every cut catches the read of the bar just past its end.
    let cut_ends: Vec<usize> = r
        .details
        .iter()
        .filter(|d| d.name == "entry.long: close[-1]")
        .map(|d| d.bar + 1)
        .collect();
    assert_eq!(cut_ends, r.cuts);
    assert!(r.details.iter().all(|d| d.bar + 1 == d.cut));
}

/// A "batch indicator" computed once from all the data it is given, as user code often does.
struct Batch {
    close: Vec<f64>,
    /// Reads `close[t + 1]`: the bias under test.
    peek: bool,
    exec: ExecSettings,
}

impl Batch {
    fn new(m: &Market, peek: bool) -> Self {
        Self {
            close: m.bars.close().to_vec(),
            peek,
            exec: ExecSettings::default(),
        }
    }
}

impl Strategy for Batch {
    fn execution(&self) -> &ExecSettings {
        &self.exec
    }

    fn on_bar(&mut self, ctx: &BarContext<'_>) -> Signals {
        let t = ctx.index;
        let (now, other) = if self.peek {
            (
                self.close[t],
                self.close.get(t + 1).copied().unwrap_or(f64::NAN),
            )
        } else if t >= 5 {
            // A causal batch value: the mean of the last five closes.
            (
                self.close[t],
                self.close[t - 4..=t].iter().sum::<f64>() / 5.0,
            )
        } else {
            (f64::NAN, f64::NAN)
        };
        Signals {
            enter_long: other > now,
            exit_long: other < now,
            ..Signals::default()
        }
    }
}

#[test]
fn a_code_strategy_peeking_at_captured_data_is_flagged() {
    let m = goog();
    let r = check_strategy(|m| Batch::new(m, true), &m, &cfg(), &BiasConfig::default()).unwrap();
    assert!(!r.clean);
    assert_eq!(
        r.summary(),
        format!(
            "look-ahead check: FAILED — {} differences; first: signal entry.long at bar 0 (2004-08-19): full=true, truncated at 1=false",
            r.differences
        )
    );
    assert_eq!(
        r.biased,
        ["signal entry.long", "order submitted", "signal exit.long"]
    );
    assert_eq!(r.indicator_columns, None);

    let r = check_strategy(|m| Batch::new(m, false), &m, &cfg(), &BiasConfig::default()).unwrap();
    assert_eq!(
        r.summary(),
        "look-ahead check: clean (22 cuts, 500 bars, 4 signals and the orders compared)"
    );
}

#[test]
fn a_higher_timeframe_rule_sees_only_completed_bars() {
    let spec = StrategySpec::from_json(
        r#"{"version": 1, "name": "htf",
            "universe": {"extra_timeframes": ["4h", "1d"]},
            "indicators": {"trend": "sma(close, 5)@4h", "day_high": "high@1d"},
            "entry": {"long": "crossover(close, close@4h) and close > trend", "short": "close > day_high[1]"},
            "exit": {"long": "crossunder(close, trend)", "short": "close < low@4h"}}"#,
    )
    .unwrap();
    let r = check(&spec, &[], &eurusd());
    assert!(r.clean, "{}\n{}", r.summary(), details(&r));
    assert!(r.orders > 10, "{}", r.orders);
    assert_eq!(r.indicator_columns, Some(11));
}

#[test]
fn every_indicator_of_the_registry_is_causal_in_batch() {
    // One named indicator per output of every registered indicator, with its default
    // parameters (10 where there is none), on a source where the indicator takes one.
    let mut indicators = Vec::new();
    for def in skeet_ta::INDICATORS {
        let mut args: Vec<String> = Vec::new();
        if def.source {
            args.push("close".into());
        }
        for p in def.params {
            args.push(p.default.map_or_else(|| "10".into(), |v| v.to_string()));
        }
        for (i, out) in def.outputs.iter().enumerate() {
            let select = if def.outputs.len() > 1 {
                format!(".{out}")
            } else {
                String::new()
            };
            indicators.push(format!(
                "\"i_{}_{i}\": \"{}({}){select}\"",
                def.name,
                def.name,
                args.join(", ")
            ));
        }
    }
    let json = format!(
        r#"{{"version": 1, "name": "all", "indicators": {{{}}}, "entry": {{"long": "crossover(close, sma(close, 10))"}}, "exit": {{"long": "crossunder(close, sma(close, 10))"}}}}"#,
        indicators.join(", ")
    );
    let spec = StrategySpec::from_json(&json).unwrap();
    for m in [goog(), eurusd()] {
        let r = check(&spec, &[], &m);
        assert!(r.clean, "{}\n{}", r.summary(), details(&r));
        assert!(r.indicator_columns.unwrap() >= indicators.len());
    }
}

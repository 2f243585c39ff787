//! Golden reports: every built-in template, run on two small committed datasets, must produce
//! exactly the report committed under `tests/golden/` — metrics, trades, orders, final equity
//! and cash, warnings, spec and data hashes — and `sma_cross` on GOOG also its exact event log,
//! so any change to fills, sizing, fees, event order or metrics shows up as a diff to review.
//!
//! Datasets (`test_data/golden/`, read with the same importer as `skeet backtest --data`):
//! the first 500 rows of GOOG daily (2004-08-19 ..) and of EUR/USD hourly (2017-04-19 ..) from
//! `test_data/market/`. Runs: 10,000 USD, commission 0.001 (maker and taker), whole units,
//! next-open fills, all-in unless the template sizes otherwise, shorts allowed for the
//! templates with short rules.
//!
//! After an intended change, rewrite the files with `SKEET_UPDATE_GOLDEN=1 cargo test -p
//! skeet-backtest --test golden` and review the diff before committing it. The wall-clock
//! fields (`engine_seconds`, `bars_per_second`, ...) and the sampled equity curve (its shape is
//! in the metrics) are left out. Numbers compare within 1e-12 relative, strings exactly: the
//! metrics use `powf`, `ln` and `sqrt`, whose last bit may differ between platforms' libm.

#![expect(
    clippy::unwrap_used,
    reason = "committed fixtures: a missing or malformed one should fail the test loudly"
)]

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde_json::Value;
use skeet_backtest::{Market, RunConfig, RunOutput, run_spec};
use skeet_core::{Currency, Instrument, InstrumentId};
use skeet_data::import::{ImportOptions, read_csv};
use skeet_data::{NoProgress, series_hash};
use skeet_strategy::templates::{self, TEMPLATES};

/// `(name, file under test_data/golden, timeframe)`.
const DATASETS: &[(&str, &str, &str)] = &[
    ("goog_daily", "goog_daily_500.csv", "1d"),
    ("eurusd_hourly", "eurusd_hourly_500.csv", "1h"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
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
    instrument.maker_fee = Decimal::new(1, 3);
    instrument.taker_fee = Decimal::new(1, 3);
    Market {
        instrument,
        timeframe: timeframe.parse().unwrap(),
        data_hash: series_hash(&bars),
        bars,
    }
}

/// Parameters other than the template defaults, where the defaults would not trade (or
/// never close a trade) on 500 bars of a dataset.
fn overrides(template: &str, dataset: &str) -> Vec<(String, f64)> {
    let set = |pairs: &[(&str, f64)]| pairs.iter().map(|(k, v)| ((*k).into(), *v)).collect();
    match (template, dataset) {
        // $100 buys less than one whole GOOG share (about $100-$400 here): every order would
        // be rejected.
        ("dca", "goog_daily") => set(&[("amount", 1_000.0)]),
        // EUR/USD moves far less than 10 % in 500 hours: no position would ever be closed.
        ("dca", "eurusd_hourly") => set(&[("take_profit", 1.0)]),
        // Nor does it fall 2 % below its recent high: the grid would never open.
        ("grid", "eurusd_hourly") => set(&[("step_pct", 0.5)]),
        _ => set(&[]),
    }
}

fn run(template: &str, dataset: &str) -> RunOutput {
    let &(_, file, timeframe) = DATASETS.iter().find(|d| d.0 == dataset).unwrap();
    let spec = templates::get(template).unwrap();
    let params = spec.resolve_params(&overrides(template, dataset)).unwrap();
    let cfg = RunConfig {
        currency: Currency::new("USD").unwrap(),
        allow_short: spec.entry.short.is_some(),
        ..RunConfig::default()
    };
    run_spec(&spec, &params, &market(file, timeframe), &cfg).unwrap()
}

/// The report without what varies from run to run (wall-clock timings: by convention the
/// fields ending in `_seconds` or `_per_second`) or is redundant with the metrics (the
/// sampled equity curve).
fn normalized(out: &RunOutput) -> Value {
    let mut v = serde_json::to_value(&out.report).unwrap();
    let obj = v.as_object_mut().unwrap();
    assert!(obj.remove("equity_curve").is_some());
    obj.retain(|k, _| !(k.ends_with("_seconds") || k.ends_with("_per_second")));
    v
}

/// The first difference between two JSON values: `(path, expected, actual)`.
fn first_difference(
    expected: &Value,
    actual: &Value,
    path: &str,
) -> Option<(String, String, String)> {
    let show = |v: Option<&Value>| {
        let s = v.map_or_else(|| "<missing>".to_string(), Value::to_string);
        if s.len() > 160 {
            format!("{}…", &s[..s.floor_char_boundary(160)])
        } else {
            s
        }
    };
    let differ = || Some((path.to_string(), show(Some(expected)), show(Some(actual))));
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = format!("{path}.{k}");
                match (e.get(k), a.get(k)) {
                    (Some(x), Some(y)) => first_difference(x, y, &p),
                    (x, y) => Some((p, show(x), show(y))),
                }
            })
        }
        (Value::Array(e), Value::Array(a)) => (0..e.len().max(a.len())).find_map(|i| {
            let p = format!("{path}[{i}]");
            match (e.get(i), a.get(i)) {
                (Some(x), Some(y)) => first_difference(x, y, &p),
                (x, y) => Some((p, show(x), show(y))),
            }
        }),
        (Value::Number(e), Value::Number(a)) => {
            let (x, y) = (e.as_f64().unwrap(), a.as_f64().unwrap());
            let close = x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs());
            if close { None } else { differ() }
        }
        _ => (expected != actual).then(differ).flatten(),
    }
}

/// Compares `actual` with the golden file `name`, or rewrites it under `SKEET_UPDATE_GOLDEN=1`.
/// Returns a description of the mismatch, if any.
fn check_golden(name: &str, actual: &Value) -> Option<String> {
    let path = golden_dir().join(name);
    if std::env::var("SKEET_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return None;
    }
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Some(format!(
            "{name}: no golden file; create it with SKEET_UPDATE_GOLDEN=1 and review it"
        ));
    };
    let expected: Value = serde_json::from_str(&text).unwrap();
    first_difference(&expected, actual, "$").map(|(at, e, a)| {
        format!("{name}: first difference at {at}\n    golden: {e}\n    actual: {a}")
    })
}

fn golden_file(template: &str, dataset: &str) -> String {
    format!("{template}_{dataset}.json")
}

#[test]
fn every_template_matches_its_golden_reports() {
    let mut mismatches = Vec::new();
    for (template, _) in TEMPLATES {
        for (dataset, _, _) in DATASETS {
            let out = run(template, dataset);
            mismatches.extend(check_golden(
                &golden_file(template, dataset),
                &normalized(&out),
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} golden report(s) differ (if the change is intended, rerun with \
         SKEET_UPDATE_GOLDEN=1 and review the diff):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn sma_cross_event_log_matches_its_golden_file() {
    let out = run("sma_cross", "goog_daily");
    let events = serde_json::to_value(&out.events).unwrap();
    if let Some(diff) = check_golden("sma_cross_goog_daily.events.json", &events) {
        panic!("{diff}\n(if intended, rerun with SKEET_UPDATE_GOLDEN=1 and review the diff)");
    }
}

#[test]
fn every_golden_run_trades_and_the_stops_are_exercised() {
    let mut exits = Vec::new();
    for (template, _) in TEMPLATES {
        for (dataset, _, _) in DATASETS {
            let out = run(template, dataset);
            let trades = &out.report.trades;
            assert!(
                !trades.is_empty(),
                "{template} on {dataset} closed no trade: the golden report would test nothing"
            );
            exits.extend(trades.iter().map(|t| (*template, t.exit_reason.clone())));
        }
    }
    for template in ["rsi_mean_reversion", "donchian_breakout"] {
        assert!(
            exits
                .iter()
                .any(|(t, reason)| *t == template && reason == "stop_loss"),
            "{template}'s stop loss never fires on the golden datasets"
        );
    }
}

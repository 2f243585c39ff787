//! Conformance with backtesting.py 0.6.6 (issue #3): the real `skeet backtest` binary, run
//! exactly as the issue states, reproduces the reference trades committed under
//! `test_data/conformance/` (written by `scripts/backtesting_py_reference.py`) on GOOG daily
//! and EURUSD hourly, with next-open and close fills: the same trades (entry and exit bar,
//! signed size, entry and exit price bit for bit, PnL within 1e-6), the same open position at
//! the end and the same final equity (within 1e-6, so equal to the cent). The hand-written
//! JSON spec `test_data/strategies/sma_cross_10_20.json` then gives the identical report
//! trades and final equity.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

const CASES: &[(&str, &str, &str)] = &[
    (
        "test_data/market/goog_daily_2004_2013.csv",
        "goog_daily",
        "next-open",
    ),
    (
        "test_data/market/goog_daily_2004_2013.csv",
        "goog_daily",
        "close",
    ),
    (
        "test_data/market/eurusd_hourly_2017_2018.csv",
        "eurusd_hourly",
        "next-open",
    ),
    (
        "test_data/market/eurusd_hourly_2017_2018.csv",
        "eurusd_hourly",
        "close",
    ),
];

/// Runs `skeet backtest` with `args` plus `--output`, checks it succeeded, returns the report.
fn backtest(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_skeet"))
        .arg("backtest")
        .args(args)
        .arg("--output")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skeet backtest {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}

fn template_run(data: &Path, fill: &str) -> Value {
    backtest(&[
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        "sma_cross",
        "--param",
        "fast=10",
        "--param",
        "slow=20",
        "--allow-short",
        "--cash",
        "10000",
        "--commission",
        "0.002",
        "--fill",
        fill,
        "--size",
        "all-in",
    ])
}

/// A decimal string of the report as the nearest double (the reference's representation).
fn num(v: &Value) -> f64 {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a decimal string, got {v}"))
        .parse()
        .unwrap()
}

#[test]
fn reproduces_backtesting_py_on_goog_daily_and_eurusd_hourly() {
    for &(csv, series, fill) in CASES {
        let case = format!("{series} {fill}");
        let reference: Value = serde_json::from_str(
            &std::fs::read_to_string(repo(&format!("test_data/conformance/{series}_{fill}.json")))
                .unwrap(),
        )
        .unwrap();
        let report = template_run(&repo(csv), fill);

        let want = reference["trades"].as_array().unwrap();
        let got = report["trades"].as_array().unwrap();
        assert_eq!(
            reference["n_trades"].as_u64().unwrap() as usize,
            want.len(),
            "{case}: reference file is inconsistent"
        );
        assert_eq!(got.len(), want.len(), "{case}: number of trades");
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            let sign = match g["side"].as_str().unwrap() {
                "buy" => 1,
                "sell" => -1,
                other => panic!("{case} trade {k}: side {other}"),
            };
            let size = sign * g["quantity"].as_str().unwrap().parse::<i64>().unwrap();
            assert_eq!(
                (
                    g["entry_bar"].as_u64().unwrap(),
                    g["exit_bar"].as_u64().unwrap(),
                    size,
                ),
                (
                    w["entry_bar"].as_u64().unwrap(),
                    w["exit_bar"].as_u64().unwrap(),
                    w["size"].as_i64().unwrap(),
                ),
                "{case} trade {k}: (entry bar, exit bar, signed size)"
            );
            assert_eq!(
                num(&g["entry_price"]).to_bits(),
                w["entry_price"].as_f64().unwrap().to_bits(),
                "{case} trade {k}: entry price {} vs {}",
                g["entry_price"],
                w["entry_price"]
            );
            assert_eq!(
                num(&g["exit_price"]).to_bits(),
                w["exit_price"].as_f64().unwrap().to_bits(),
                "{case} trade {k}: exit price {} vs {}",
                g["exit_price"],
                w["exit_price"]
            );
            let (pnl, want_pnl) = (num(&g["pnl"]), w["pnl"].as_f64().unwrap());
            assert!(
                (pnl - want_pnl).abs() < 1e-6,
                "{case} trade {k}: pnl {pnl} vs {want_pnl}"
            );
            let (fees, want_fees) = (num(&g["fees"]), w["commission"].as_f64().unwrap());
            assert!(
                (fees - want_fees).abs() < 1e-6,
                "{case} trade {k}: fees {fees} vs {want_fees}"
            );
        }

        assert_eq!(
            report["open_position"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
            reference["open_position_size"].as_i64().unwrap(),
            "{case}: position still open at the end"
        );
        let equity = num(&report["final_equity"]);
        let want_equity = reference["final_equity"].as_f64().unwrap();
        assert_eq!(
            format!("{equity:.2}"),
            format!("{want_equity:.2}"),
            "{case}: final equity to the cent"
        );
        assert!(
            (equity - want_equity).abs() < 1e-6,
            "{case}: final equity {equity} vs {want_equity}"
        );
    }
}

#[test]
fn the_hand_written_spec_gives_the_template_s_trades() {
    let spec = repo("test_data/strategies/sma_cross_10_20.json");
    for &(csv, series, fill) in CASES {
        let data = repo(csv);
        let template = template_run(&data, fill);
        // No --param, --allow-short or --size: the file says it all.
        let from_spec = backtest(&[
            "--data",
            data.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
            "--cash",
            "10000",
            "--commission",
            "0.002",
            "--fill",
            fill,
        ]);
        let case = format!("{series} {fill}");
        assert!(
            !template["trades"].as_array().unwrap().is_empty(),
            "{case}: no trades"
        );
        assert_eq!(from_spec["trades"], template["trades"], "{case}: trades");
        assert_eq!(
            from_spec["final_equity"], template["final_equity"],
            "{case}: final equity"
        );
        assert_eq!(
            from_spec["open_position"], template["open_position"],
            "{case}: open position"
        );
        assert_eq!(from_spec["strategy"], "sma_cross_10_20");
        assert_eq!(from_spec["config"]["allow_short"], false, "{case}");
        assert_eq!(from_spec["params"], serde_json::json!({}), "{case}");
        assert_ne!(from_spec["spec_hash"], template["spec_hash"], "{case}");
    }
}

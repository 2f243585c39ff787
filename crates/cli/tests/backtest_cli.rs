//! End-to-end tests of `skeet backtest` on bad input: every real error exits with status 1 and
//! exactly one line on stderr, `error: ...`, with nothing on stdout; an impossible order is not
//! an error (the run completes) but the report's `warnings` and a printed `warning:` line say
//! why nothing was traded.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn goog() -> String {
    repo("test_data/market/goog_daily_2004_2013.csv")
        .to_str()
        .unwrap()
        .to_string()
}

fn skeet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skeet"))
        .arg("backtest")
        .args(args)
        .output()
        .unwrap()
}

/// Runs and expects failure: exit status 1, nothing on stdout, one line on stderr. Returns the
/// line without its newline.
#[track_caller]
fn fails(args: &[&str]) -> String {
    let out = skeet(args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed to stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    stderr.trim_end().to_string()
}

/// `--data GOOG --strategy sma_cross` plus `extra`, expected to fail.
#[track_caller]
fn sma_fails(extra: &[&str]) -> String {
    let data = goog();
    let mut args = vec!["--data", data.as_str(), "--strategy", "sma_cross"];
    args.extend_from_slice(extra);
    fails(&args)
}

#[test]
fn missing_or_unknown_strategy_and_data() {
    let data = goog();
    assert_eq!(
        fails(&["--data", &data]),
        "error: give a strategy: --spec FILE.json or --strategy TEMPLATE (see --list-templates)"
    );
    assert_eq!(
        fails(&["--data", &data, "--strategy", "smacross"]),
        "error: strategy: unknown template 'smacross'; did you mean 'sma_cross'?"
    );
    assert_eq!(
        fails(&["--data", &data, "--strategy", "zzz"]),
        "error: strategy: unknown template 'zzz'; templates: sma_cross, ema_cross, rsi_mean_reversion, bollinger_breakout, macd_trend, donchian_breakout, dca, grid"
    );
    assert_eq!(
        fails(&["--strategy", "sma_cross"]),
        "error: give data: --data FILE.csv or --symbol S --timeframe TF"
    );
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    assert_eq!(
        fails(&[
            "--data",
            missing.to_str().unwrap(),
            "--strategy",
            "sma_cross"
        ]),
        format!(
            "error: cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let missing = dir.path().join("missing.json");
    assert_eq!(
        fails(&["--data", &data, "--spec", missing.to_str().unwrap()]),
        format!(
            "error: cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[test]
fn bad_flags() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--fill", "bogus"],
            "error: --fill 'bogus' is not a fill model; use next-open, close or intrabar",
        ),
        (
            &["--size", "bogus"],
            "error: --size 'bogus' is not understood; use all-in, pct:N (percent of equity), quote:N (quote currency) or units:N",
        ),
        (
            &["--size", "pct:150"],
            "error: --size pct:150: a percentage of equity must be at most 100",
        ),
        (
            &["--size", "quote:0"],
            "error: --size quote:0: the amount must be above 0",
        ),
        (
            &["--commission", "0.5"],
            "error: --commission 0.5 is out of range; use a fee rate from 0 to below 0.1 (0.001 = 0.1 %)",
        ),
        (
            &["--commission=-0.001"],
            "error: --commission -0.001 is out of range; use a fee rate from 0 to below 0.1 (0.001 = 0.1 %)",
        ),
        (
            &["--commission", "abc"],
            "error: --commission 'abc' is not a number",
        ),
        (&["--cash", "0"], "error: --cash must be above 0, got 0"),
        (
            &["--leverage", "0.5"],
            "error: --leverage 0.5 is out of range; use 1 (no leverage) to 100",
        ),
        (
            &["--volume-share", "2"],
            "error: --volume-share 2 is out of range; use a fraction above 0 and at most 1",
        ),
        (
            &["--slippage-bps=-1"],
            "error: --slippage-bps -1 is out of range; use 0 to 10000",
        ),
        (
            &["--from", "2010-01-01", "--to", "2009-12-31"],
            "error: --from 2010-01-01T00:00:00Z is after --to 2009-12-31T00:00:00Z",
        ),
        (
            &["--from", "2020-01-01"],
            "error: no bars between 2020-01-01T00:00:00Z and the end",
        ),
        (
            &["--to", "2001-01-01"],
            "error: no bars between the start and 2001-01-01T00:00:00Z",
        ),
        (
            &["--from", "yesterday"],
            "error: --from: invalid timestamp 'yesterday': expected a date like 2024-01-31 or a datetime like 2024-01-31T13:45:00Z",
        ),
        (
            &["--timeframe", "1x"],
            "error: invalid timeframe '1x': use a whole number and a unit s, m, h, d or w, e.g. 1m, 15m, 1h, 4h, 1d, 1w",
        ),
    ];
    for (extra, want) in cases {
        assert_eq!(sma_fails(extra), *want, "{extra:?}");
    }
}

#[test]
fn bad_parameters() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--param", "fast=abc"],
            "error: --param fast: 'abc' is not a number",
        ),
        (
            &["--param", "fast"],
            "error: --param 'fast' must look like name=value, e.g. fast=10",
        ),
        (
            &["--param", "fast=60"],
            "error: parameters.fast: 60 is outside its range 5..50",
        ),
        (
            &["--param", "fast=10.5"],
            "error: parameters.fast: 10.5 is not a whole number",
        ),
        (
            &["--param", "fst=10"],
            "error: parameters.fst: unknown parameter 'fst'; did you mean 'fast'?",
        ),
        (
            &["--param", "fast=30", "--param", "slow=20"],
            "error: constraints[0]: constraint '$fast < $slow' does not hold for fast=30, slow=20",
        ),
    ];
    for (extra, want) in cases {
        assert_eq!(sma_fails(extra), *want, "{extra:?}");
    }
}

#[test]
fn bad_spec_files_name_the_file_and_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let data = goog();
    let cases = [
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1 and smaa(close, 10) > 1"}}"#,
            "entry.long: unknown indicator 'smaa' at 1:15; did you mean 'sma'?",
        ),
        (
            "{\"version\": 1,\n \"name\": \"x\",\n \"entyr\": {}}",
            "invalid strategy JSON at line 3, column 8: unknown field 'entyr'; did you mean 'entry'?",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close@4h > 1"}}"#,
            "entry.long: timeframe 4h is not declared at 1:1; add \"extra_timeframes\": [\"4h\"] to \"universe\"",
        ),
        (
            r#"{"version": 1, "name": "x", "universe": {"extra_timeframes": ["4h"]}, "entry": {"long": "close > 1"}}"#,
            "universe.extra_timeframes: 4h cannot be built from 1d bars; extra timeframes must be whole multiples of the data's timeframe",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"sizing": {"type": "risk", "risk_pct": 1}}}"#,
            "execution.sizing: risk sizing needs a stop loss to measure the risk; add \"stop_loss\"",
        ),
        (
            r#"{"version": 3, "name": "x"}"#,
            "version: version 3 is not supported; this build reads version 1",
        ),
    ];
    for (k, (json, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("spec{k}.json"));
        std::fs::write(&path, json).unwrap();
        assert_eq!(
            fails(&["--data", &data, "--spec", path.to_str().unwrap()]),
            format!("error: in {}: {want}", path.display()),
            "{json}"
        );
    }
    // A spec written for other bars is refused, not run on these.
    let path = dir.path().join("hourly.json");
    std::fs::write(
        &path,
        r#"{"version": 1, "name": "x", "universe": {"timeframe": "1h"}, "entry": {"long": "close > 1"}}"#,
    )
    .unwrap();
    assert_eq!(
        fails(&["--data", &data, "--spec", path.to_str().unwrap()]),
        "error: universe.timeframe: the strategy is written for 1h bars but the data has 1d bars; give 1h data (skeet data resample makes it)"
    );
    // A spec's parameters are overridden like a template's.
    let path = dir.path().join("params.json");
    std::fs::write(
        &path,
        r#"{"version": 1, "name": "x", "parameters": {"n": {"int": [2, 50], "default": 10}},
            "entry": {"long": "close > sma(close, $n)"}}"#,
    )
    .unwrap();
    assert_eq!(
        fails(&[
            "--data",
            &data,
            "--spec",
            path.to_str().unwrap(),
            "--param",
            "m=3"
        ]),
        "error: parameters.m: unknown parameter 'm'; did you mean 'n'?"
    );
}

#[test]
fn an_impossible_order_is_explained_not_fatal() {
    // GOOG trades above $100 in whole shares: $10 never buys one.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let data = goog();
    let out = skeet(&[
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--cash",
        "10",
        "--output",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let warning =
        "order rejected: not enough equity for one lot at 186.31 (33 times, first at bar 86)";
    assert!(
        stdout.contains(&format!("\nwarning: {warning}\n")),
        "{stdout}"
    );
    assert!(stdout.contains("final equity 10 (cash 10, position 0); 0 trades"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("error"), "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["warnings"], serde_json::json!([warning]));
    assert_eq!(r["trades"], serde_json::json!([]));
    assert_eq!(r["final_equity"], "10");
    // Every entry order was rejected, none filled.
    let orders = r["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 33);
    assert!(
        orders.iter().all(|o| o["status"] == "rejected"),
        "{orders:?}"
    );
}

#[test]
fn fee_presets_and_overrides() {
    let data = goog();
    let run = |extra: &[&str]| {
        let mut args = vec!["--data", data.as_str(), "--strategy", "sma_cross"];
        args.extend(extra);
        let out = skeet(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(run(&["--fees", "kraken"]).contains(", fees maker 0.0025 taker 0.004,"));
    assert!(run(&["--fees", "binance"]).contains(", commission 0.001,"));
    assert!(
        run(&["--fees", "kraken", "--taker-fee", "0.003"])
            .contains(", fees maker 0.0025 taker 0.003,")
    );
    assert!(run(&["--fees", "kraken", "--commission", "0.002"]).contains(", commission 0.002,"));
    assert_eq!(
        sma_fails(&["--fees", "ftx"]),
        "error: --fees 'ftx' is not a known venue; use one of binance, kraken, coinbase, alpaca, none"
    );
    assert_eq!(
        sma_fails(&["--maker-fee", "0.5"]),
        "error: --maker-fee 0.5 is out of range; use a fee rate from -0.01 (a rebate) to below 0.1"
    );
}

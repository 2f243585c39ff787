//! End-to-end tests of the validation tools: `skeet optimize`, `skeet walkforward` and
//! `--monte-carlo`: the JSON they write, that a trial's numbers are those of `skeet backtest`
//! with the same parameters, that walk-forward windows are realised and stitched exactly,
//! that `--output -` keeps stdout to JSON only, and that bad input exits 1 with one readable
//! line.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn goog() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test_data/market/goog_daily_2004_2013.csv")
        .to_str()
        .unwrap()
        .to_string()
}

fn skeet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skeet"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `skeet <cmd> --data GOOG --strategy sma_cross <extra> --output -` and parses stdout,
/// which must be JSON only.
#[track_caller]
fn json_of(cmd: &str, extra: &[&str]) -> Value {
    let data = goog();
    let mut args = vec![cmd, "--data", &data, "--strategy", "sma_cross"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--output", "-"]);
    let out = skeet(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON only ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Expects failure: status 1, nothing on stdout, one line on stderr; returns the line.
#[track_caller]
fn fails(cmd: &str, extra: &[&str]) -> String {
    let data = goog();
    let mut args = vec![cmd, "--data", &data, "--strategy", "sma_cross"];
    args.extend_from_slice(extra);
    let out = skeet(&args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    stderr.trim_end().to_string()
}

fn backtest_metrics(fast: f64, slow: f64) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let report: PathBuf = dir.path().join("r.json");
    let data = goog();
    let (fast, slow) = (format!("fast={fast}"), format!("slow={slow}"));
    let out = skeet(&[
        "backtest",
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--param",
        &fast,
        "--param",
        &slow,
        "--commission",
        "0.001",
        "--output",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    r["metrics"].clone()
}

#[test]
fn a_grid_search_reports_every_point_and_its_trials_match_skeet_backtest() {
    let r = json_of(
        "optimize",
        &[
            "--param-range",
            "fast=5..25:5",
            "--param-range",
            "slow=20..60:20",
            "--commission",
            "0.001",
            "--objective",
            "return",
            "--jobs",
            "2",
        ],
    );
    // fast in {5..25}, slow in {20, 40, 60}, fast < slow: 15 points less (20,20), (25,20).
    let trials = r["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 13);
    assert_eq!(r["skipped_by_constraints"], 2);
    assert_eq!(r["guards"]["trials"], 13);
    for t in trials {
        assert!(t["params"]["fast"].as_f64() < t["params"]["slow"].as_f64());
    }

    // The best is the largest return, and the same run alone gives the same numbers.
    let best = &trials[r["best"].as_u64().unwrap() as usize];
    let top = trials
        .iter()
        .filter_map(|t| t["metrics"]["return_pct"].as_f64())
        .fold(f64::MIN, f64::max);
    assert_eq!(best["metrics"]["return_pct"].as_f64(), Some(top));
    assert_eq!(best["objective"].as_f64(), Some(top));
    for t in [best, &trials[0]] {
        let alone = backtest_metrics(
            t["params"]["fast"].as_f64().unwrap(),
            t["params"]["slow"].as_f64().unwrap(),
        );
        assert_eq!(t["metrics"]["return_pct"], alone["total_return_pct"]);
        assert_eq!(t["metrics"]["sharpe"], alone["sharpe"]);
        assert_eq!(t["metrics"]["max_drawdown_pct"], alone["max_drawdown_pct"]);
        assert_eq!(t["metrics"]["trades"], alone["trades"]);
    }

    // Heat map: x = fast, y = slow, the constrained-out cells empty.
    let h = &r["heatmap"];
    assert_eq!(h["x_param"], "fast");
    assert_eq!(h["y_param"], "slow");
    assert_eq!(h["x"].as_array().unwrap().len(), 5);
    assert_eq!(h["y"].as_array().unwrap().len(), 3);
    assert!(h["z"][0][3].is_null() && h["z"][0][4].is_null(), "{h}");
    assert!(h["z"][2][4].is_number(), "{h}");
}

#[test]
fn bayesian_and_random_searches_are_seeded() {
    let args = [
        "--param-range",
        "fast=5..40:5",
        "--param-range",
        "slow=20..100:10",
        "--trials",
        "12",
        "--seed",
        "3",
    ];
    for method in ["random", "bayes"] {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--method", method]);
        let one = json_of("optimize", &a);
        let two = json_of("optimize", &a);
        assert_eq!(one["trials"].as_array().unwrap().len(), 12, "{method}");
        assert_eq!(one["trials"], two["trials"], "{method}");
        a.extend_from_slice(&["--jobs", "1"]);
        let serial = json_of("optimize", &a);
        assert_eq!(one["trials"], serial["trials"], "{method} with --jobs 1");
    }
}

#[test]
fn walk_forward_stitches_the_test_windows() {
    let r = json_of(
        "walkforward",
        &[
            "--param-range",
            "fast=5..20:5",
            "--param-range",
            "slow=30..90:30",
            "--windows",
            "3",
            "--in-sample",
            "600",
        ],
    );
    let windows = r["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 3);
    let mut test_bars = 0;
    let mut previous_end = None;
    for w in windows {
        let (is0, is1) = (
            w["in_sample"][0].as_u64().unwrap(),
            w["in_sample"][1].as_u64().unwrap(),
        );
        let (os0, os1) = (
            w["out_of_sample"][0].as_u64().unwrap(),
            w["out_of_sample"][1].as_u64().unwrap(),
        );
        // Rolling: every training window is 600 bars and ends where its test window starts.
        assert_eq!(is1 - is0, 600);
        assert_eq!(is1, os0);
        if let Some(end) = previous_end {
            assert_eq!(os0, end, "test windows are contiguous");
        }
        previous_end = Some(os1);
        test_bars += os1 - os0;
    }
    assert_eq!(r["equity"].as_array().unwrap().len() as u64, test_bars);
    assert_eq!(r["out_of_sample"]["bars"].as_u64(), Some(test_bars));
    assert!(r.get("efficiency").is_some());
    // Every window ends flat (a position still open is closed at the window's last close,
    // fees paid), so the stitched equity is the cash plus the trades' PnL, exactly.
    let trades = r["trades"].as_array().unwrap();
    let pnl: f64 = trades
        .iter()
        .map(|t| t["pnl"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    let final_equity = r["equity"].as_array().unwrap().last().unwrap()[1]
        .as_f64()
        .unwrap();
    assert!(
        (final_equity - (10_000.0 + pnl)).abs() < 1e-6,
        "{final_equity} vs {pnl}"
    );
    for t in trades {
        let exit = t["exit_bar"].as_u64().unwrap();
        assert!(
            windows
                .iter()
                .any(|w| w["out_of_sample"][0].as_u64().unwrap()
                    <= t["entry_bar"].as_u64().unwrap()
                    && exit < w["out_of_sample"][1].as_u64().unwrap()),
            "trade outside a test window: {t}"
        );
    }

    let anchored = json_of(
        "walkforward",
        &[
            "--param-range",
            "fast=5..20:5",
            "--param-range",
            "slow=30..90:30",
            "--windows",
            "3",
            "--anchored",
        ],
    );
    for w in anchored["windows"].as_array().unwrap() {
        assert_eq!(
            w["in_sample"][0], 0,
            "anchored windows start at the first bar"
        );
    }
}

#[test]
fn bad_input_says_what_is_wrong() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "optimize",
            &["--param-range", "fast=20..5:5"],
            "the low end 20 is above the high end 5",
        ),
        (
            "optimize",
            &["--param-range", "fast=5..20:0"],
            "the step must be positive",
        ),
        ("optimize", &["--param-range", "fast"], "fast"),
        (
            "optimize",
            &["--param-range", "nope=1..3"],
            "unknown parameter 'nope'; sma_cross declares fast, slow",
        ),
        (
            "optimize",
            &["--param-range", "slow=5..10:5"],
            "5 is outside its range 20..200",
        ),
        (
            "optimize",
            &["--param-range", "fast=2.5,5"],
            "2.5 is not a whole number",
        ),
        (
            "optimize",
            &["--param", "fast=10", "--param-range", "fast=5..20:5"],
            "both fixed (--param) and searched (--param-range)",
        ),
        (
            "optimize",
            &["--objective", "bogus"],
            "unknown objective 'bogus'",
        ),
        (
            "optimize",
            &["--method", "annealing"],
            "use grid, random or bayes",
        ),
        (
            "optimize",
            &["--method", "random", "--trials", "0"],
            "--trials must be at least 1",
        ),
        ("optimize", &["--jobs", "0"], "--jobs must be at least 1"),
        (
            "walkforward",
            &["--windows", "0"],
            "--windows must be at least 1",
        ),
        (
            "walkforward",
            &["--windows", "5", "--in-sample", "2200"],
            "leave 0 bars for 5 test windows",
        ),
        (
            "walkforward",
            &[
                "--windows",
                "5",
                "--in-sample",
                "2000",
                "--out-of-sample",
                "100",
            ],
            "need 2500 bars, the data has 2148",
        ),
    ];
    for (cmd, extra, want) in cases {
        let msg = fails(cmd, extra);
        assert!(msg.starts_with("error: "), "{msg}");
        assert!(msg.contains(want), "{cmd} {extra:?}: {msg}");
    }
}

#[test]
fn monte_carlo_resamples_the_trades_of_a_backtest() {
    let run = |method: &str, seed: &str| {
        let data = goog();
        let out = skeet(&[
            "backtest",
            "--data",
            &data,
            "--strategy",
            "sma_cross",
            "--commission",
            "0.001",
            "--monte-carlo",
            "2000",
            "--monte-carlo-method",
            method,
            "--monte-carlo-seed",
            seed,
            "--output",
            "-",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("monte carlo (2000 paths of "), "{stderr}");
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let r = run("bootstrap", "1");
    let mc = &r["monte_carlo"];
    assert_eq!(mc["simulations"], 2000);
    assert_eq!(
        mc["trades"].as_u64(),
        Some(r["trades"].as_array().unwrap().len() as u64)
    );
    // The actual path compounds the real trades: its return is the report's realised return.
    let realised: f64 = r["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["pnl"].as_str().unwrap().parse::<f64>().unwrap())
        .sum::<f64>()
        / 10_000.0
        * 100.0;
    assert!((mc["actual_return_pct"].as_f64().unwrap() - realised).abs() < 1e-9);
    let q = |k: &str| mc["total_return_pct"][k].as_f64().unwrap();
    assert!(
        q("p5") <= q("p50") && q("p50") <= q("p95") && q("p5") < q("p95"),
        "{mc}"
    );
    // Seeded: the same seed gives the same result, another seed another one.
    assert_eq!(run("bootstrap", "1")["monte_carlo"], r["monte_carlo"]);
    assert_ne!(run("bootstrap", "2")["monte_carlo"], r["monte_carlo"]);
    // Shuffling only reorders the trades: every path ends at the actual return.
    let s = run("shuffle", "1");
    let ret = &s["monte_carlo"]["total_return_pct"];
    let actual = s["monte_carlo"]["actual_return_pct"].as_f64().unwrap();
    for k in ["min", "p50", "max"] {
        assert!(
            (ret[k].as_f64().unwrap() - actual).abs() < 1e-6,
            "{k}: {ret}"
        );
    }
}

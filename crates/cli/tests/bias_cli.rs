//! End-to-end tests of `skeet backtest --check-bias` with the real binary: a built-in template
//! is clean (exit status 0, the summary line), the deliberately biased spec fails (exit status
//! 2, the FAILED line, the biased items, `bias_check` in the JSON report), a spec reading the
//! future without `allow_lookahead` is refused at its position, and one with it is run with a
//! warning.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    p.to_str().unwrap().to_string()
}

fn goog() -> String {
    repo("test_data/golden/goog_daily_500.csv")
}

fn skeet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skeet"))
        .arg("backtest")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn a_template_is_clean_and_exits_0() {
    let data = goog();
    let out = skeet(&[
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--allow-short",
        "--check-bias",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines().last(),
        Some("look-ahead check: clean (22 cuts, 500 bars, 4 rules, 4 indicator columns compared)"),
        "{text}"
    );

    let out = skeet(&[
        "--data",
        &data,
        "--strategy",
        "rsi_mean_reversion",
        "--check-bias",
        "--bias-cuts",
        "5",
        "--output",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // With `--output -` stdout is the JSON report alone; the summary goes to stderr.
    let summary = stderr(&out);
    assert!(
        summary.contains(
            "\nlook-ahead check: clean (7 cuts, 500 bars, 4 rules, 5 indicator columns compared)\n"
        ),
        "{summary}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["bias_check"]["clean"], true);
    assert_eq!(report["bias_check"]["cuts"].as_array().unwrap().len(), 7);
    assert_eq!(report["bias_check"]["details"], serde_json::json!([]));
    assert_eq!(report["strategy"], "rsi_mean_reversion");
}

#[test]
fn the_biased_spec_fails_with_exit_3_and_says_where() {
    let data = goog();
    let spec = repo("test_data/strategies/biased_lookahead.json");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = skeet(&[
        "--data",
        &data,
        "--spec",
        &spec,
        "--check-bias",
        "--output",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    let at = text.find("look-ahead check:").unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let bias = &json["bias_check"];
    let n = bias["differences"].as_u64().unwrap();
    assert!(n > 20, "{n}");
    assert_eq!(
        text[at..].lines().take(7).collect::<Vec<_>>(),
        [
            format!(
                "look-ahead check: FAILED — {n} differences; first: indicator entry.long: close[-1] at bar 0 (2004-08-19): full=108.31, truncated at 1=NaN"
            )
            .as_str(),
            "  biased: indicator entry.long: close[-1]",
            "  biased: indicator entry.long: close[-1] > close",
            "  biased: signal entry.long",
            "  biased: order submitted",
            "  biased: indicator exit.long: close[-1] < close",
            "  biased: signal exit.long",
        ]
    );
    assert_eq!(bias["clean"], false);
    assert_eq!(
        bias["details"][0],
        serde_json::json!({
            "kind": "indicator",
            "name": "entry.long: close[-1]",
            "bar": 0,
            "ts": 1_092_873_600_000_000_000_i64,
            "full": "108.31",
            "truncated": "NaN",
            "cut": 1,
            "bars_differing": 1
        })
    );
    assert_eq!(
        stderr(&out).lines().nth(2),
        Some(
            "warning: this spec sets \"allow_lookahead\": its rules read future bars, so these results cannot be achieved in trading; never run it in a bot (--check-bias shows where the future leaks in)"
        )
    );
}

#[test]
fn reading_the_future_without_allow_lookahead_is_refused() {
    let data = goog();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("peek.json");
    std::fs::write(
        &spec,
        r#"{"version": 1, "name": "peek", "entry": {"long": "close[-1] > close"}}"#,
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    let out = skeet(&["--data", &data, "--spec", spec, "--check-bias"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr(&out),
        format!(
            "error: in {spec}: entry.long: close[-1] reads a future bar at 1:1; negative lookbacks are for research labels only: set \"allow_lookahead\": true at the top of the spec, and check the strategy with --check-bias\n"
        )
    );
}

#[test]
fn bad_bias_options_are_refused() {
    let data = goog();
    let out = skeet(&[
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--check-bias",
        "--bias-cuts",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: --bias-cuts 0 is out of range; use 1 to 10000\n"
    );
}

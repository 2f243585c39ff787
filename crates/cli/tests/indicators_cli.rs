//! End-to-end tests of `skeet indicators`: the real binary on the real GOOG daily series,
//! compared column by column with TA-Lib's values (the fixture written by
//! `scripts/ta_reference.py`), plus the exact error line for each kind of bad call.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn skeet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skeet"))
        .args(args)
        .output()
        .unwrap()
}

fn read_table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (headers, rows)
}

fn column(table: &(Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<String> {
    let k = table
        .0
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    table.1.iter().map(|r| r[k].clone()).collect()
}

/// The acceptance list of issue #2: SMA, EMA, WMA, RSI, MACD, BBANDS, ATR, STOCH, ADX, CCI,
/// OBV, MFI, WILLR, ROC, STDDEV (and a few more).
const CALLS: &[&str] = &[
    "sma(close,10)",
    "ema(close,10)",
    "wma(close,10)",
    "dema(close,10)",
    "tema(close,10)",
    "rsi(close,14)",
    "macd(close,12,26,9)",
    "bbands(close,20,2,2)",
    "atr(14)",
    "natr(14)",
    "stoch(14,3,3)",
    "stochrsi(close,14,5,3)",
    "adx(14)",
    "plus_di(14)",
    "minus_di(14)",
    "cci(14)",
    "obv()",
    "mfi(14)",
    "willr(14)",
    "roc(close,10)",
    "mom(close,10)",
    "stddev(close,20,1)",
    "sar(0.02,0.2)",
    "linreg_slope(close,14)",
];

#[test]
fn reproduces_talib_on_a_real_daily_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let input = repo("test_data/market/goog_daily_2004_2013.csv");
    let mut args = vec![
        "indicators",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend(CALLS);
    let res = skeet(&args);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );

    let ours = read_table(&out);
    let reference = read_table(&repo("crates/ta/tests/fixtures/goog_daily_reference.csv"));
    // The input columns come back unchanged, in order.
    assert_eq!(
        &ours.0[..6],
        &["", "Open", "High", "Low", "Close", "Volume"]
    );
    let (_, raw) = read_table(&input);
    assert_eq!(
        ours.1.iter().map(|r| r[..6].to_vec()).collect::<Vec<_>>(),
        raw
    );

    let mut checked = 0;
    for name in &ours.0[6..] {
        let (a, b) = (column(&ours, name), column(&reference, name));
        assert_eq!(a.len(), b.len());
        for (i, (x, r)) in a.iter().zip(&b).enumerate() {
            assert_eq!(
                x.is_empty(),
                r.is_empty(),
                "{name}[{i}]: SKEET '{x}' vs TA-Lib '{r}'"
            );
            if r.is_empty() {
                continue;
            }
            let (x, r): (f64, f64) = (x.parse().unwrap(), r.parse().unwrap());
            let err = if r == 0.0 {
                x.abs()
            } else {
                ((x - r) / r).abs()
            };
            assert!(
                err <= 1e-9,
                "{name}[{i}]: SKEET {x} vs TA-Lib {r} (rel err {err:e})"
            );
            checked += 1;
        }
    }
    assert!(checked > 50_000, "only {checked} values compared");
}

#[test]
fn bad_calls_fail_with_one_readable_line() {
    let input = repo("test_data/market/goog_daily_2004_2013.csv");
    let input = input.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let out = out.to_str().unwrap();
    let cases: HashMap<&str, &str> = HashMap::from([
        (
            "smaa(close,10)",
            "error: in 'smaa(close,10)': unknown indicator 'smaa' at 1:1; did you mean 'sma'?",
        ),
        (
            "sma(close)",
            "error: in 'sma(close)': sma needs its 'period' parameter, e.g. sma(close,14) at 1:1; signature: sma(source, period)",
        ),
        (
            "rsi(close,14,3)",
            "error: in 'rsi(close,14,3)': rsi takes at most 1 parameter(s) at 1:14; signature: rsi(source, period=14)",
        ),
        (
            "sma(close,0)",
            "error: in 'sma(close,0)': sma: parameter 'period' = 0 is invalid: must be a whole number from 1 to 100000",
        ),
        (
            "bbands(close,20,-x)",
            "error: in 'bbands(close,20,-x)': '-' is not a number at 1:17",
        ),
        (
            "macd(close",
            "error: in 'macd(close': expected ',' or ')' in the arguments of macd at 1:11; separate arguments with commas and close with ')'",
        ),
        (
            "atr(high,14)",
            "error: in 'atr(high,14)': atr reads high, low, close and volume itself; 'high' is not accepted at 1:5; signature: atr(period=14)",
        ),
    ]);
    for (expr, expected) in cases {
        let res = skeet(&["indicators", "--input", input, "--output", out, expr]);
        assert_eq!(res.status.code(), Some(1), "{expr}");
        assert_eq!(
            String::from_utf8_lossy(&res.stderr).trim_end(),
            expected,
            "{expr}"
        );
        assert!(
            !Path::new(out).exists(),
            "{expr}: a failed run must not write the output"
        );
    }
}

#[test]
fn column_collisions_ask_for_an_alias() {
    let input = repo("test_data/market/goog_daily_2004_2013.csv");
    let res = skeet(&[
        "indicators",
        "--input",
        input.to_str().unwrap(),
        "--output",
        "-",
        "sma(close,10)",
        "sma(close, period=10)",
    ]);
    assert_eq!(res.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&res.stderr).trim_end(),
        "error: in 'sma(close, period=10)': column 'sma_close_10' already exists; give the indicator another name with an alias, e.g. 'my_sma_close_10=sma(close, period=10)'"
    );
    let res = skeet(&[
        "indicators",
        "--input",
        input.to_str().unwrap(),
        "--output",
        "-",
        "fast=ema(close,3)",
        "macd(close,12,26,9).hist",
    ]);
    assert!(res.status.success());
    let text = String::from_utf8(res.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        ",Open,High,Low,Close,Volume,fast,macd_close_12_26_9_hist"
    );
    let row3: Vec<&str> = text.lines().nth(3).unwrap().split(',').collect();
    // EMA(3) is seeded with the mean of the first three closes.
    let closes = [100.34_f64, 108.31, 109.4];
    assert_eq!(
        row3[6].parse::<f64>().unwrap(),
        closes.iter().sum::<f64>() / 3.0
    );
}

#[test]
fn missing_input_and_list() {
    let res = skeet(&[
        "indicators",
        "--input",
        "/nonexistent/bars.csv",
        "--output",
        "-",
        "sma(close,3)",
    ]);
    assert_eq!(res.status.code(), Some(1));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("/nonexistent/bars.csv"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);

    let res = skeet(&["indicators", "--list"]);
    assert!(res.status.success());
    let text = String::from_utf8(res.stdout).unwrap();
    for name in ["sma", "macd", "ichimoku", "supertrend", "vwap", "sar"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing from --list"
        );
    }
}

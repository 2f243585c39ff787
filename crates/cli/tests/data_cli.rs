//! End-to-end tests of `skeet data ...`: the real binary, a temporary data directory, exit
//! status and the exact `error:` line for each kind of bad input.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test_data/market")
        .join(name)
}

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn market(&self) -> PathBuf {
        self.data_dir().join("market")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_skeet"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("SKEET_DATA_DIR")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure with exit status 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        String::from_utf8(out.stderr).unwrap()
    }

    fn import(&self, file: &Path, symbol: &str, tf: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "data",
            "import",
            file.to_str().unwrap(),
            "--symbol",
            symbol,
            "--timeframe",
            tf,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn import_fails(&self, text: &str, tf: &str) -> String {
        let file = self.write("bad.csv", text);
        let out = self.import(&file, "BAD", tf, &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(!self.market().exists(), "a failed import wrote something");
        String::from_utf8(out.stderr).unwrap()
    }

    fn export(&self, symbol: &str, tf: &str) -> String {
        self.ok(&["data", "export", symbol, tf, "--output", "-"])
    }

    /// Every file under the market directory with its bytes.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push((path.clone(), fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.market(), &mut out);
        out.sort();
        out
    }
}

const HEAD: &str = "date,open,high,low,close,volume\n2024-01-01,10,11,9,10.5,100\n";

#[test]
fn imports_the_real_daily_and_hourly_fixtures() {
    let env = Env::new();
    let goog = fixture("goog_daily_2004_2013.csv");
    let out = env.ok(&[
        "data",
        "import",
        goog.to_str().unwrap(),
        "--symbol",
        "GOOG",
        "--timeframe",
        "1d",
    ]);
    assert!(
        out.starts_with("imported 2,148 bars into local:GOOG 1d from "),
        "{out}"
    );
    assert!(
        out.contains("  format   pandas CSV (unnamed index column)"),
        "{out}"
    );
    assert!(
        out.contains("  range    2004-08-19T00:00:00Z .. 2013-03-01T00:00:00Z"),
        "{out}"
    );
    assert!(out.contains("  store    2,148 added, 0 replaced, 0 unchanged; 2,148 bars stored"));
    assert!(
        out.contains("venue=local/symbol=GOOG/timeframe=1d/bars.parquet"),
        "{out}"
    );

    let out = env.import(
        &fixture("eurusd_hourly_2017_2018.csv"),
        "EUR/USD",
        "1h",
        &[],
    );
    assert!(out.status.success());
    let listing = env.ok(&["data", "ls"]);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(
        lines[0].starts_with("VENUE  SYMBOL   TIMEFRAME   BARS  FIRST"),
        "{listing}"
    );
    assert!(lines[1].starts_with("local  EUR/USD  1h         5,000  2017-04-19T09:00:00Z"));
    assert!(lines[2].starts_with("local  GOOG     1d         2,148  2004-08-19T00:00:00Z"));

    let inspect = env.ok(&["data", "inspect", "GOOG", "1d"]);
    assert!(
        inspect.contains("  bars        2,148 of 3,117 expected (969 missing)"),
        "{inspect}"
    );
    assert!(
        inspect.contains(
            "  gaps        463: 386 weekend-only, 59 spanning a weekend, 18 within the week"
        ),
        "{inspect}"
    );
    assert!(
        inspect.contains(
            "  largest     2006-12-29T00:00:00Z .. 2007-01-03T00:00:00Z  4 missing (spans a weekend)"
        ),
        "{inspect}"
    );
}

#[test]
fn monthly_fixture_cannot_be_stored_as_daily_but_can_be_inspected() {
    let env = Env::new();
    let stderr = env.import_fails(
        &fs::read_to_string(fixture("btcusd_monthly_2012_2024.csv")).unwrap(),
        "1d",
    );
    assert_eq!(
        stderr,
        "error: no two consecutive bars are 1d apart (the closest are 28d apart, at \
         2013-01-31T00:00:00Z and 2013-02-28T00:00:00Z): the data looks coarser than 1d; \
         monthly bars have no fixed length and cannot be stored (keep them as a CSV file, or \
         resample finer data)\n"
    );
    let monthly = fixture("btcusd_monthly_2012_2024.csv");
    let out = env.ok(&["data", "inspect", "--file", monthly.to_str().unwrap()]);
    assert!(
        out.contains("  bars        156 of 156 expected (0 missing)"),
        "{out}"
    );
}

#[test]
fn binance_kline_variants_and_yahoo_import_unchanged() {
    let env = Env::new();
    let out = env.import(
        &fixture("binance_eurusdt_1h_ms.csv"),
        "EUR/USDT",
        "1h",
        &["--venue", "binance"],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Binance klines (no header)"), "{stdout}");
    assert!(stdout.contains("(epoch milliseconds)"), "{stdout}");
    assert!(stdout.contains("imported 120 bars"), "{stdout}");
    let reference = env.export("EUR/USDT", "1h");

    for (file, symbol, label) in [
        (
            "binance_eurusdt_1h_us.csv",
            "EUR/USDT.US",
            "(epoch microseconds)",
        ),
        (
            "binance_eurusdt_1h_header.csv",
            "EUR/USDT.H",
            "Binance klines (with header)",
        ),
    ] {
        let out = env.import(&fixture(file), symbol, "1h", &["--venue", "binance"]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains(label), "{stdout}");
        assert_eq!(env.export(symbol, "1h"), reference, "{file}");
    }
    // The same bars as the EUR/USD source rows they were built from.
    let eurusd = env.import(
        &fixture("eurusd_hourly_2017_2018.csv"),
        "EUR/USD",
        "1h",
        &[],
    );
    assert!(eurusd.status.success());
    let source = env.ok(&[
        "data",
        "export",
        "EUR/USD",
        "1h",
        "--to",
        "2017-04-26T08:00:00Z",
        "-o",
        "-",
    ]);
    assert_eq!(source, reference);

    let yahoo = fixture("yahoo_goog_daily_2004.csv");
    let out = env.ok(&[
        "data",
        "import",
        yahoo.to_str().unwrap(),
        "--symbol",
        "GOOG",
        "--timeframe",
        "1d",
    ]);
    assert!(out.contains("Yahoo Finance CSV"), "{out}");
    assert!(
        out.contains("  rows     31 read, 1 null rows skipped, 0 duplicates dropped"),
        "{out}"
    );
}

#[test]
fn malformed_number_names_line_column_and_value() {
    let env = Env::new();
    let stderr = env.import_fails(&format!("{HEAD}2024-01-02,10,11,9,12.3x,100\n"), "1d");
    assert_eq!(
        stderr,
        "error: line 3, column 'close': '12.3x' is not a number\n"
    );
}

#[test]
fn malformed_timestamp_names_line_column_and_value() {
    let env = Env::new();
    let stderr = env.import_fails(&format!("{HEAD}31/01/2024,10,11,9,10,100\n"), "1d");
    assert_eq!(
        stderr,
        "error: line 3, column 'date': '31/01/2024' is not a timestamp; expected a date \
         (2024-01-31), a datetime (2024-01-31 13:45:00, 2024-01-31T13:45:00Z, optional offset \
         like +02:00) or epoch seconds, milliseconds, microseconds or nanoseconds\n"
    );
}

#[test]
fn missing_columns_list_found_and_needed() {
    let env = Env::new();
    let stderr = env.import_fails(
        "Date,Open,High,Low,Adj Close,Volume\n2024-01-01,1,2,0.5,1,1\n",
        "1d",
    );
    assert_eq!(
        stderr,
        "error: missing required column close; found columns 'Date', 'Open', 'High', 'Low', \
         'Adj Close', 'Volume'; need a time column (date, time, timestamp, open_time or \
         datetime) and open, high, low, close (volume is optional)\n"
    );
}

#[test]
fn empty_file_is_an_error() {
    let env = Env::new();
    let file = env.write("empty.csv", "");
    let out = env.import(&file, "X", "1d", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "error: {} is empty: expected a header row and rows of bars\n",
            file.display()
        )
    );
}

#[test]
fn invariant_violation_names_line_field_and_value() {
    let env = Env::new();
    let stderr = env.import_fails(&format!("{HEAD}2024-01-02,10,10.5,9,11,100\n"), "1d");
    assert_eq!(
        stderr,
        "error: line 3: invalid high '10.5': is below close 11\n"
    );
}

#[test]
fn unsorted_rows_fail_with_both_lines_and_sort_fixes_them() {
    let env = Env::new();
    let text = format!("{HEAD}2024-01-03,10,11,9,10,100\n2024-01-02,10,11,9,10,100\n");
    let stderr = env.import_fails(&text, "1d");
    assert_eq!(
        stderr,
        "error: line 4: timestamp 2024-01-02T00:00:00Z is before 2024-01-03T00:00:00Z on line \
         3: the rows are not sorted by time; pass --sort to sort them\n"
    );
    let file = env.write("unsorted.csv", &text);
    let out = env.import(&file, "BAD", "1d", &["--sort"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("sorted (1 rows were out of order)"),
        "{stdout}"
    );
    let csv = env.export("BAD", "1d");
    assert_eq!(
        csv.lines().nth(2).unwrap(),
        "2024-01-02T00:00:00Z,10,11,9,10,100"
    );
}

#[test]
fn conflicting_duplicates_fail_identical_ones_are_dropped() {
    let env = Env::new();
    let text = format!("{HEAD}2024-01-02,10,11,9,10,100\n2024-01-02,10,11,9,10.7,100\n");
    let stderr = env.import_fails(&text, "1d");
    assert_eq!(
        stderr,
        "error: line 4: timestamp 2024-01-02T00:00:00Z is also on line 3, with different \
         values; remove one of the rows, or pass --sort to keep the last\n"
    );
    let file = env.write("dups.csv", &text);
    assert!(env.import(&file, "BAD", "1d", &["--sort"]).status.success());
    assert!(
        env.export("BAD", "1d")
            .ends_with("2024-01-02T00:00:00Z,10,11,9,10.7,100\n")
    );

    let same = env.write(
        "same.csv",
        &format!("{HEAD}2024-01-02,10,11,9,10,100\n2024-01-02,10,11,9,10,100\n"),
    );
    let out = env.import(&same, "SAME", "1d", &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("0 null rows skipped, 1 duplicates dropped"),
        "{stdout}"
    );
}

#[test]
fn bad_timeframes_are_rejected_clearly() {
    let env = Env::new();
    let file = env.write("ok.csv", HEAD);
    let out = env.import(&file, "X", "1x", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: invalid timeframe '1x': use a whole number and a unit s, m, h, d or w, e.g. 1m, \
         15m, 1h, 4h, 1d, 1w\n"
    );
    let stderr = env.import_fails(
        &fs::read_to_string(fixture("eurusd_hourly_2017_2018.csv")).unwrap(),
        "1d",
    );
    assert_eq!(
        stderr,
        "error: bars at 2017-04-19T09:00:00Z and 2017-04-19T10:00:00Z are 1h apart, closer than \
         the timeframe 1d: the data looks finer than 1d; pass --timeframe 1h if that is the bar \
         size\n"
    );
}

#[test]
fn failed_import_leaves_the_store_unchanged() {
    let env = Env::new();
    let good = env.write("good.csv", &format!("{HEAD}2024-01-02,10,11,9,10,100\n"));
    assert!(env.import(&good, "X", "1d", &[]).status.success());
    let before = env.snapshot();
    assert_eq!(before.len(), 1);
    let bad = env.write(
        "bad.csv",
        &format!("{HEAD}2024-01-03,10,11,9,10,100\n2024-01-04,10,11,9,oops,100\n"),
    );
    for extra in [&[][..], &["--replace"][..]] {
        let out = env.import(&bad, "X", "1d", extra);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "error: line 4, column 'close': 'oops' is not a number\n"
        );
        // Same files, same bytes: no partial file and no temporary file left behind.
        assert_eq!(env.snapshot(), before);
    }
}

#[test]
fn importing_over_an_existing_range_merges_without_duplicates() {
    let env = Env::new();
    let days = |from: u32, to: u32, close: f64| {
        let mut text = String::from("date,open,high,low,close,volume\n");
        for d in from..=to {
            text.push_str(&format!("2024-01-{d:02},10,11,9,{close},1\n"));
        }
        text
    };
    let a = env.write("a.csv", &days(1, 10, 10.0));
    let b = env.write("b.csv", &days(6, 15, 10.5));
    assert!(env.import(&a, "M", "1d", &[]).status.success());
    let out = String::from_utf8(env.import(&b, "M", "1d", &[]).stdout).unwrap();
    assert!(
        out.contains("  store    5 added, 5 replaced, 0 unchanged; 15 bars stored"),
        "{out}"
    );
    let csv = env.export("M", "1d");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 15);
    assert!(rows[4].ends_with(",10,1"), "{}", rows[4]);
    assert!(rows[5].ends_with(",10.5,1"), "{}", rows[5]);
    let again = String::from_utf8(env.import(&b, "M", "1d", &[]).stdout).unwrap();
    assert!(
        again.contains("0 added, 0 replaced, 10 unchanged; 15 bars stored"),
        "{again}"
    );
}

#[test]
fn import_export_import_round_trips() {
    let env = Env::new();
    let goog = fixture("goog_daily_2004_2013.csv");
    assert!(env.import(&goog, "GOOG", "1d", &[]).status.success());
    let first = env.export("GOOG", "1d");
    let exported = env.write("goog.csv", &first);
    let out = env.ok(&[
        "data",
        "export",
        "GOOG",
        "1d",
        "--output",
        exported.to_str().unwrap(),
    ]);
    assert!(
        out.starts_with("exported 2,148 bars of local:GOOG 1d"),
        "{out}"
    );
    assert!(env.import(&exported, "GOOG2", "1d", &[]).status.success());
    assert_eq!(env.export("GOOG2", "1d"), first);
    let window = env.ok(&[
        "data",
        "export",
        "GOOG",
        "1d",
        "--from",
        "2004-08-20",
        "--to",
        "2004-08-23",
        "-o",
        "-",
    ]);
    assert_eq!(
        window,
        "timestamp,open,high,low,close,volume\n\
         2004-08-20T00:00:00Z,101.01,109.08,100.5,108.31,11428600\n\
         2004-08-23T00:00:00Z,110.75,113.48,109.05,109.4,9137200\n"
    );
}

#[test]
fn generate_is_deterministic_per_seed() {
    let env = Env::new();
    let generate = |symbol: &str, seed: &str| {
        env.ok(&[
            "data",
            "generate",
            "--symbol",
            symbol,
            "--timeframe",
            "1h",
            "--bars",
            "300",
            "--seed",
            seed,
            "--model",
            "regime",
        ])
    };
    let out = generate("A", "7");
    assert!(
        out.starts_with("generated 300 bars of synthetic:A 1h (model regime, seed 7"),
        "{out}"
    );
    generate("B", "7");
    generate("C", "8");
    assert_eq!(env.export("A", "1h"), env.export("B", "1h"));
    assert_ne!(env.export("A", "1h"), env.export("C", "1h"));
    let stderr = env.fails(&[
        "data",
        "generate",
        "--symbol",
        "A",
        "--timeframe",
        "1h",
        "--bars",
        "3",
        "--model",
        "walk",
    ]);
    assert_eq!(
        stderr,
        "error: invalid model 'walk': expected gbm or regime\n"
    );
}

#[test]
fn resample_writes_coarser_bars_and_refuses_non_multiples() {
    let env = Env::new();
    env.ok(&[
        "data",
        "generate",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1m",
        "--bars",
        "150",
    ]);
    let out = env.ok(&["data", "resample", "BTC/USDT", "--from", "1m", "--to", "1h"]);
    assert!(
        out.starts_with(
            "resampled 150 1m bars of synthetic:BTC/USDT into 2 1h bars (partial last bucket \
             dropped; --keep-partial keeps it)"
        ),
        "{out}"
    );
    let csv = env.export("BTC/USDT", "1h");
    assert_eq!(csv.lines().count(), 3);
    let out = env.ok(&[
        "data",
        "resample",
        "BTC/USDT",
        "--from",
        "1m",
        "--to",
        "1h",
        "--keep-partial",
    ]);
    assert!(
        out.contains("1 added, 0 replaced, 2 unchanged; 3 bars stored"),
        "{out}"
    );
    let stderr = env.fails(&[
        "data", "resample", "BTC/USDT", "--from", "1h", "--to", "90m",
    ]);
    assert_eq!(
        stderr,
        "error: cannot resample 1h bars to 90m: the target must be a longer whole multiple of \
         1h (with aligned bucket boundaries); choose a target such as 2h\n"
    );
}

#[test]
fn inspect_file_reports_disorder_without_failing() {
    let env = Env::new();
    assert_eq!(
        env.fails(&["data", "inspect", "GOOG", "1d", "--timeframe", "1h"]),
        "error: --timeframe goes with --file; a stored series is named as SYMBOL TIMEFRAME\n"
    );
    let file = env.write(
        "messy.csv",
        &format!(
            "{HEAD}2024-01-03,10,11,9,10,100\n2024-01-02,10,11,9,10,100\n\
             2024-01-02,10,11,9,10.2,100\n2024-01-04,10,11,9,10,100\n\
             2024-01-05,10,11,9,10,100\n2024-01-08,10,11,9,10,0\n"
        ),
    );
    let out = env.ok(&["data", "inspect", "--file", file.to_str().unwrap()]);
    assert!(
        out.contains(
            "  order       1 rows out of order (first: line 4 at 2024-01-02T00:00:00Z after \
             line 3 at 2024-01-03T00:00:00Z)"
        ),
        "{out}"
    );
    assert!(
        out.contains("  duplicates  1 rows share a timestamp with another (first: lines 4 and 5"),
        "{out}"
    );
    assert!(out.contains("  timeframe   1d (inferred"), "{out}");
    assert!(
        out.contains("  volume      1 bars with zero volume"),
        "{out}"
    );
    assert!(
        out.contains("  gaps        1: 1 weekend-only, 0 spanning a weekend, 0 within the week"),
        "{out}"
    );
}

#[test]
fn store_commands_find_the_venue_or_ask_for_it() {
    let env = Env::new();
    let stderr = env.fails(&["data", "inspect", "BTC/USDT", "1h"]);
    assert_eq!(
        stderr,
        "error: no stored data for BTC/USDT 1h at any venue; `skeet data ls` lists what is \
         stored\n"
    );
    for venue in ["binance", "kraken"] {
        env.ok(&[
            "data",
            "generate",
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "1h",
            "--bars",
            "5",
            "--venue",
            venue,
        ]);
    }
    let stderr = env.fails(&["data", "export", "BTC/USDT", "1h", "-o", "-"]);
    assert_eq!(
        stderr,
        "error: BTC/USDT 1h is stored for several venues (binance, kraken); pass --venue\n"
    );
    env.ok(&["data", "rm", "BTC/USDT", "1h", "--venue", "kraken"]);
    assert_eq!(env.export("BTC/USDT", "1h").lines().count(), 6);
    assert!(
        env.ok(&["data", "ls"])
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("binance")
    );
}

//! Indicator values against TA-Lib and pandas-ta on real price series.
//!
//! The fixtures (`tests/fixtures/*_reference.csv`) were written by `scripts/ta_reference.py`
//! from the real GOOG daily and EUR/USD hourly series in `test_data/market/`. Every reference
//! value must be matched within 1e-9 relative error, and SKEET must have no value exactly where
//! the reference has none (same first valid index). The streaming path must equal the batch
//! path bit for bit.

#![allow(
    clippy::unwrap_used,
    reason = "a malformed fixture should fail the test loudly"
)]

use skeet_ta::{Candle, Columns, IndicatorSpec, parse};

const CALLS: &[&str] = &[
    "sma(close,10)",
    "sma(close,30)",
    "ema(close,10)",
    "ema(close,50)",
    "ema(hlc3,10)",
    "wma(close,10)",
    "wma(close,30)",
    "dema(close,10)",
    "tema(close,10)",
    "rsi(close,14)",
    "rsi(close,2)",
    "macd(close,12,26,9)",
    "macd(close,5,35,5)",
    "bbands(close,20,2,2)",
    "bbands(close,10,1.5,2.5)",
    "stddev(close,20,1)",
    "stddev(close,5,2)",
    "trange()",
    "atr(14)",
    "atr(5)",
    "natr(14)",
    "stoch(14,3,3)",
    "stoch(5,3,3)",
    "stochrsi(close,14,5,3)",
    "adx(14)",
    "adx(5)",
    "plus_di(14)",
    "minus_di(14)",
    "cci(14)",
    "cci(20)",
    "obv()",
    "mfi(14)",
    "willr(14)",
    "roc(close,10)",
    "mom(close,10)",
    "linreg_slope(close,14)",
    "sar(0.02,0.2)",
    "sma(rsi(close,14),5)",
    "donchian(20)",
    "keltner(20,2)",
    "supertrend(7,3)",
    "ichimoku(9,26,52)",
    "vwap()",
];

struct Fixture {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    ts: Vec<i64>,
    ohlcv: [Vec<f64>; 5],
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_ts(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000_000_000 + n(17, 19) * 1_000_000_000
}

fn load(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/{name}_reference.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let ts = rows.iter().map(|r| parse_ts(&r[0])).collect();
    let ohlcv = std::array::from_fn(|k| rows.iter().map(|r| r[k + 1].parse().unwrap()).collect());
    Fixture {
        headers,
        rows,
        ts,
        ohlcv,
    }
}

impl Fixture {
    fn columns(&self) -> Columns<'_> {
        Columns {
            ts: &self.ts,
            open: &self.ohlcv[0],
            high: &self.ohlcv[1],
            low: &self.ohlcv[2],
            close: &self.ohlcv[3],
            volume: &self.ohlcv[4],
        }
    }

    fn reference(&self, column: &str) -> Vec<Option<f64>> {
        let k = self
            .headers
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("fixture has no column {column}"));
        self.rows
            .iter()
            .map(|r| (!r[k].is_empty()).then(|| r[k].parse().unwrap()))
            .collect()
    }
}

fn check_against_reference(name: &str) {
    let fx = load(name);
    let cols = fx.columns();
    let mut covered = vec!["timestamp", "open", "high", "low", "close", "volume"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let mut failures = Vec::new();
    for call in CALLS {
        let spec = parse(call).unwrap();
        let outputs = spec.compute(&cols).unwrap();
        for (col_name, ours) in spec.column_names().into_iter().zip(&outputs) {
            let reference = fx.reference(&col_name);
            let mut worst = 0.0f64;
            for (i, (r, &o)) in reference.iter().zip(ours).enumerate() {
                match r {
                    None if !o.is_nan() => {
                        failures.push(format!(
                            "{name} {col_name}[{i}]: reference has no value, SKEET has {o}"
                        ));
                        break;
                    }
                    None => {}
                    Some(r) => {
                        let err = if *r == 0.0 {
                            o.abs()
                        } else {
                            ((o - r) / r).abs()
                        };
                        if o.is_nan() || err > 1e-9 {
                            failures.push(format!(
                                "{name} {col_name}[{i}]: reference {r}, SKEET {o} (rel err {err:e})"
                            ));
                            break;
                        }
                        worst = worst.max(err);
                    }
                }
            }
            covered.push(col_name);
        }
    }
    let uncovered: Vec<_> = fx.headers.iter().filter(|h| !covered.contains(h)).collect();
    assert!(
        uncovered.is_empty(),
        "fixture columns without a call: {uncovered:?}"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn goog_daily_matches_talib_and_pandas_ta() {
    check_against_reference("goog_daily");
}

#[test]
fn eurusd_hourly_matches_talib_and_pandas_ta() {
    check_against_reference("eurusd_hourly");
}

fn stream_all(spec: &IndicatorSpec, cols: &Columns<'_>) -> Vec<Vec<f64>> {
    let mut stream = spec.stream().unwrap();
    let n = spec.column_names().len();
    let mut out = vec![Vec::with_capacity(cols.len()); n];
    for i in 0..cols.len() {
        let c: Candle = cols.candle(i);
        for (col, v) in out.iter_mut().zip(stream.update(&c)) {
            col.push(*v);
        }
    }
    out
}

#[test]
fn streaming_equals_batch_bit_for_bit() {
    let fx = load("eurusd_hourly");
    let cols = fx.columns();
    for call in CALLS.iter().chain(&[
        "macd(close,12,26,9).signal",
        "sma(macd(close,12,26,9).hist,3)",
    ]) {
        let spec = parse(call).unwrap();
        let batch = spec.compute(&cols).unwrap();
        let streamed = stream_all(&spec, &cols);
        for (b, s) in batch.iter().zip(&streamed) {
            for (i, (x, y)) in b.iter().zip(s).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{call}[{i}]: batch {x} stream {y}"
                );
            }
        }
    }
}

#[test]
fn first_value_sits_at_lookback() {
    let fx = load("goog_daily");
    let cols = fx.columns();
    for call in CALLS {
        let spec = parse(call).unwrap();
        let first = spec.compute(&cols).unwrap()[0]
            .iter()
            .position(|v| !v.is_nan())
            .unwrap();
        if spec.def.name == "ichimoku" {
            // Lookback is where every output (span B last) has a value; tenkan starts earlier.
            assert_eq!(first, 8, "{call}");
        } else {
            assert_eq!(first, spec.lookback(), "{call}");
        }
    }
}

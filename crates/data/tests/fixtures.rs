//! The importer on the real files in `test_data/market/`, through the public API.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::PathBuf;

use skeet_core::Timeframe;
use skeet_data::NoProgress;
use skeet_data::import::{
    ImportOptions, SourceFormat, TimeFormat, check_timeframe, read_csv, read_csv_table,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../test_data/market")
        .join(name)
}

fn read(name: &str) -> skeet_data::import::Imported {
    read_csv(&fixture(name), &ImportOptions::default(), &NoProgress).unwrap()
}

#[test]
fn table_keeps_the_original_columns_row_for_row() {
    let table = read_csv_table(
        &fixture("goog_daily_2004_2013.csv"),
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(
        table.headers,
        ["", "Open", "High", "Low", "Close", "Volume"]
    );
    assert_eq!(table.records.len(), 2148);
    assert_eq!(table.bars.len(), 2148);
    assert_eq!(
        table.records[0].iter().collect::<Vec<_>>(),
        ["2004-08-19", "100", "104.06", "95.96", "100.34", "22351900"]
    );
    assert_eq!(table.report.format, SourceFormat::PandasIndex);
    assert_eq!(table.report.time_format, Some(TimeFormat::Date));

    let binance = read_csv_table(
        &fixture("binance_eurusdt_1h_ms.csv"),
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(binance.headers[0], "open_time");
    assert_eq!(binance.headers[11], "ignore");
    assert_eq!(&binance.records[0][6], "1492595999999");
}

#[test]
fn binance_variants_hold_the_eurusd_rows_they_were_made_from() {
    let source = read("eurusd_hourly_2017_2018.csv").bars.slice(0, 120);
    for name in [
        "binance_eurusdt_1h_ms.csv",
        "binance_eurusdt_1h_us.csv",
        "binance_eurusdt_1h_header.csv",
    ] {
        let got = read(name);
        assert_eq!(got.bars, source, "{name}");
        assert!(
            matches!(got.report.format, SourceFormat::BinanceKlines { .. }),
            "{name}"
        );
        check_timeframe(&got.bars, Timeframe::H1).unwrap();
    }
    assert_eq!(
        read("binance_eurusdt_1h_us.csv").report.time_format,
        Some(TimeFormat::EpochMicros)
    );
}

#[test]
fn real_files_pass_or_fail_the_spacing_check_as_documented() {
    let goog = read("goog_daily_2004_2013.csv");
    check_timeframe(&goog.bars, Timeframe::D1).unwrap();
    assert!(check_timeframe(&goog.bars, Timeframe::H1).is_err());
    let eurusd = read("eurusd_hourly_2017_2018.csv");
    check_timeframe(&eurusd.bars, Timeframe::H1).unwrap();
    let monthly = read("btcusd_monthly_2012_2024.csv");
    assert_eq!(monthly.bars.len(), 156);
    assert!(check_timeframe(&monthly.bars, Timeframe::D1).is_err());
    let yahoo = read("yahoo_goog_daily_2004.csv");
    assert_eq!((yahoo.report.null_rows, yahoo.bars.len()), (1, 30));
    assert_eq!(yahoo.bars, goog.bars.slice(0, 30));
}

use proptest::prelude::*;

use super::*;

fn read(text: &str) -> Result<Imported> {
    read_csv_bytes(text.as_bytes(), "test.csv", &ImportOptions::default())
}

fn read_sorted(text: &str) -> Result<Imported> {
    read_csv_bytes(
        text.as_bytes(),
        "test.csv",
        &ImportOptions {
            sort: true,
            ..ImportOptions::default()
        },
    )
}

/// The error and its causes, joined as the CLI prints them.
fn chain(err: &DataError) -> String {
    let mut out = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn ts(s: &str) -> i64 {
    s.parse::<UnixNanos>().unwrap().as_nanos()
}

#[test]
fn reads_yahoo_with_null_rows() {
    let csv = "Date,Open,High,Low,Close,Adj Close,Volume\n\
               2024-01-02,10,11,9,10.5,10.4,1000\n\
               2024-01-03,null,null,null,null,null,null\n\
               2024-01-04,10.5,12,10,11,10.9,2000\n";
    let got = read(csv).unwrap();
    assert_eq!(got.bars.len(), 2);
    assert_eq!(got.bars.close(), &[10.5, 11.0]);
    assert_eq!(got.bars.volume(), &[1000.0, 2000.0]);
    let r = &got.report;
    assert_eq!(r.format, SourceFormat::Yahoo);
    assert_eq!((r.rows, r.bars, r.null_rows), (3, 2, 1));
    assert_eq!(r.time_format, Some(TimeFormat::Date));
    assert_eq!(r.first, Some(UnixNanos::new(ts("2024-01-02"))));
}

#[test]
fn reads_binance_klines_in_ms_and_us_with_or_without_header() {
    let ms = "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704070799999,\
              53957248.9,47134,682.57581,28957416.8,0\n\
              1704070800000,42475.23,42775.00,42431.65,42613.56,1196.37856,1704074399999,\
              50984893.0,44634,580.05659,24720561.3,0\n";
    let got = read(ms).unwrap();
    assert_eq!(
        got.report.format,
        SourceFormat::BinanceKlines { header: false }
    );
    assert_eq!(got.report.time_format, Some(TimeFormat::EpochMillis));
    assert_eq!(got.bars.ts()[1], ts("2024-01-01T01:00:00Z"));
    let us = ms
        .replace("1704067200000,", "1704067200000000,")
        .replace("1704070800000,", "1704070800000000,");
    let got_us = read(&us).unwrap();
    assert_eq!(got_us.report.time_format, Some(TimeFormat::EpochMicros));
    assert_eq!(got_us.bars, got.bars);
    let headered = format!(
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
         taker_buy_base,taker_buy_quote,ignore\n{ms}"
    );
    let got_h = read(&headered).unwrap();
    assert_eq!(
        got_h.report.format,
        SourceFormat::BinanceKlines { header: true }
    );
    assert_eq!(got_h.bars, got.bars);
    assert_eq!(got_h.bars.volume()[0], 1271.68108);
}

#[test]
fn reads_other_delimiters_and_optional_volume() {
    let got = read("time;open;high;low;close\n2024-01-01 10:00;1;2;0.5;1.5\n").unwrap();
    assert_eq!(got.report.delimiter, b';');
    assert!(!got.report.has_volume);
    assert_eq!(got.bars.volume(), &[0.0]);
    let tab =
        read("timestamp\topen\thigh\tlow\tclose\tvolume\n1704067200\t1\t2\t0.5\t1.5\t3\n").unwrap();
    assert_eq!(tab.report.delimiter, b'\t');
    assert_eq!(tab.report.time_format, Some(TimeFormat::EpochSeconds));
    let split = read("Date,Time,Open,High,Low,Close\n2024-01-31,13:45:00,1,2,0.5,1.5\n").unwrap();
    assert_eq!(split.bars.ts()[0], ts("2024-01-31T13:45:00Z"));
    assert_eq!(split.report.time_column, "Date + Time");
}

#[test]
fn malformed_cells_name_line_column_and_value() {
    let head = "date,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n";
    let err = read(&format!("{head}2024-01-02,1,2,0.5,12.3x,10\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3, column 'close': '12.3x' is not a number"
    );
    let err = read(&format!("{head}02/01/2024,1,2,0.5,1.5,10\n")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("line 3, column 'date': '02/01/2024' is not a timestamp; expected"),
        "{err}"
    );
    let err = read(&format!("{head}2024-01-02,1,2,0.5\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3: has 4 fields, but column 'close' is field 5"
    );
    let err = read(&format!("{head}2024-01-02,11,10.5,9,11,10\n")).unwrap_err();
    assert_eq!(chain(&err), "line 3: invalid high '10.5': is below open 11");
    let err = read(&format!("{head}2024-01-02,1,2,0.5,1.5,-3\n")).unwrap_err();
    assert_eq!(
        chain(&err),
        "line 3: invalid volume '-3': must not be negative"
    );
    let err = read(&format!("{head}2024-01-02,1,null,0.5,1.5,1\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3, column 'high': 'null' is not a number"
    );
}

#[test]
fn empty_and_header_only_files_are_errors() {
    assert_eq!(
        read("").unwrap_err().to_string(),
        "test.csv is empty: expected a header row and rows of bars"
    );
    assert_eq!(
        read("\n\n").unwrap_err().to_string(),
        "test.csv is empty: expected a header row and rows of bars"
    );
    assert_eq!(
        read("date,open,high,low,close\n").unwrap_err().to_string(),
        "test.csv has no bars: 0 data rows, 0 of them null"
    );
    assert_eq!(
        read("date,open,high,low,close\n2024-01-01,null,null,null,null\n")
            .unwrap_err()
            .to_string(),
        "test.csv has no bars: 1 data rows, 1 of them null"
    );
}

const UNSORTED: &str = "date,open,high,low,close\n\
                        2024-01-01,1,2,0.5,1.5\n\
                        2024-01-03,1,2,0.5,1.5\n\
                        2024-01-02,1,2,0.5,1.5\n";

#[test]
fn unsorted_rows_fail_unless_sorting() {
    let err = read(UNSORTED).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 4: timestamp 2024-01-02T00:00:00Z is before 2024-01-03T00:00:00Z on line 3: the \
         rows are not sorted by time; pass --sort to sort them"
    );
    let got = read_sorted(UNSORTED).unwrap();
    assert_eq!(
        got.bars.ts(),
        &[ts("2024-01-01"), ts("2024-01-02"), ts("2024-01-03")]
    );
    assert!(got.report.sorted);
    assert_eq!(got.report.out_of_order_rows, 1);
    assert_eq!(got.report.first_out_of_order.unwrap().second_line, 4);
}

#[test]
fn duplicates_identical_are_dropped_conflicting_fail_or_last_wins() {
    let identical = "date,open,high,low,close\n\
                     2024-01-01,1,2,0.5,1.5\n\
                     2024-01-01,1,2,0.5,1.5\n\
                     2024-01-02,1,2,0.5,1.5\n";
    let got = read(identical).unwrap();
    assert_eq!(got.bars.len(), 2);
    assert_eq!(got.report.duplicates_dropped, 1);
    let conflicting = "date,open,high,low,close\n\
                       2024-01-01,1,2,0.5,1.5\n\
                       2024-01-02,1,2,0.5,1.5\n\
                       2024-01-02,1,2,0.5,1.7\n";
    assert_eq!(
        read(conflicting).unwrap_err().to_string(),
        "line 4: timestamp 2024-01-02T00:00:00Z is also on line 3, with different values; \
         remove one of the rows, or pass --sort to keep the last"
    );
    let got = read_sorted(conflicting).unwrap();
    assert_eq!(got.bars.close(), &[1.5, 1.7]);
    assert_eq!(got.report.duplicates_dropped, 1);
    let pair = got.report.first_duplicate.unwrap();
    assert_eq!((pair.first_line, pair.second_line), (3, 4));
}

#[test]
fn table_keeps_raw_records_aligned_after_sorting() {
    let csv = "Date,Open,High,Low,Close,Adj Close,Volume\n\
               2024-01-03,1,2,0.5,1.5,1.4,30\n\
               2024-01-01,1,2,0.5,1.5,1.2,10\n\
               2024-01-02,null,null,null,null,null,null\n\
               2024-01-01,1,2,0.5,1.6,1.3,11\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv).unwrap();
    let opts = ImportOptions {
        sort: true,
        ..ImportOptions::default()
    };
    let table = read_csv_table(&path, &opts, &crate::NoProgress).unwrap();
    assert_eq!(table.headers[5], "Adj Close");
    assert_eq!(table.records.len(), table.bars.len());
    assert_eq!(&table.records[0][5], "1.3");
    assert_eq!(&table.records[1][0], "2024-01-03");
    assert_eq!(table.bars.close(), &[1.6, 1.5]);
}

#[test]
fn timeframe_check_catches_finer_and_coarser_data() {
    let hourly = read(
        "time,open,high,low,close\n\
         2024-01-01 00:00,1,2,0.5,1.5\n2024-01-01 01:00,1,2,0.5,1.5\n\
         2024-01-01 03:00,1,2,0.5,1.5\n",
    )
    .unwrap()
    .bars;
    assert!(check_timeframe(&hourly, Timeframe::H1).is_ok());
    assert_eq!(
        check_timeframe(&hourly, Timeframe::D1)
            .unwrap_err()
            .to_string(),
        "bars at 2024-01-01T00:00:00Z and 2024-01-01T01:00:00Z are 1h apart, closer than the \
         timeframe 1d: the data looks finer than 1d; pass --timeframe 1h if that is the bar size"
    );
    assert_eq!(
        check_timeframe(&hourly, Timeframe::M1)
            .unwrap_err()
            .to_string(),
        "no two consecutive bars are 1m apart (the closest are 1h apart, at \
         2024-01-01T00:00:00Z and 2024-01-01T01:00:00Z): the data looks coarser than 1m; pass \
         --timeframe 1h if that is the bar size"
    );
    let monthly = read(
        "date,open,high,low,close\n2013-01-31,1,2,0.5,1.5\n2013-02-28,1,2,0.5,1.5\n\
         2013-03-31,1,2,0.5,1.5\n",
    )
    .unwrap()
    .bars;
    assert!(
        check_timeframe(&monthly, Timeframe::D1)
            .unwrap_err()
            .to_string()
            .ends_with("monthly bars have no fixed length and cannot be stored (keep them as a CSV file, or resample finer data)")
    );
}

#[test]
fn extreme_timestamps_do_not_overflow_later_steps() {
    let got = read(
        "timestamp,open,high,low,close\n-9000000000,1,2,0.5,1.5\n9000000000000000000,1,2,0.5,1.5\n",
    )
    .unwrap();
    assert_eq!(got.bars.len(), 2);
    assert!(got.report.mixed_time_formats);
    assert!(check_timeframe(&got.bars, Timeframe::D1).is_err());
    let report = crate::inspect::inspect(&got.bars, Timeframe::M1, 3);
    assert_eq!(report.gaps, 1);
    let resampled =
        crate::resample::resample(&got.bars, Timeframe::M1, Timeframe::D1, true).unwrap();
    assert_eq!(resampled.bars.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_csv_bytes(&bytes, "fuzz.csv", &ImportOptions::default());
        let _ = read_csv_bytes(&bytes, "fuzz.csv", &ImportOptions { sort: true, delimiter: None });
    }

    #[test]
    fn prop_csv_like_lines_never_panic(
        lines in proptest::collection::vec(
            "[0-9a-zA-Z:;,.\\-+ TZ\"\t]{0,40}", 0..12)
    ) {
        let text = format!("date,open,high,low,close,volume\n{}", lines.join("\n"));
        let _ = read_csv_bytes(text.as_bytes(), "fuzz.csv", &ImportOptions::default());
        if let Ok(got) =
            read_csv_bytes(text.as_bytes(), "fuzz.csv", &ImportOptions { sort: true, delimiter: None })
        {
            let _ = check_timeframe(&got.bars, Timeframe::M1);
            let _ = crate::inspect::inspect(&got.bars, Timeframe::M1, 3);
        }
    }

    #[test]
    fn prop_timestamps_never_panic(cell in "[0-9\\-+:.TZ ]{0,32}") {
        let _ = parse_timestamp(cell.as_bytes());
    }
}

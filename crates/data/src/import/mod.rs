//! CSV files of bars into a [`BarSeries`]: generic CSVs with a header, pandas and Yahoo
//! Finance exports, and Binance kline dumps with or without a header.
//!
//! Column detection is described in `layout.rs`, timestamp formats and the epoch-unit
//! thresholds in `timestamp.rs`; both are summarised in `docs/data.md`.
//!
//! Rows, in order of the checks:
//! - A row whose open, high, low and close are all empty, `null` or `NaN` (Yahoo writes such
//!   rows for days without trading) is skipped and counted in [`ImportReport::null_rows`].
//! - Any other cell that is not a number or timestamp fails with the line, column and value
//!   ([`DataError::BadNumber`], [`DataError::BadTimestamp`]); a row that breaks a bar
//!   invariant fails with the line and the rule ([`DataError::InvalidBar`]).
//! - Order: by default rows must be in increasing time order. A row earlier than the one
//!   before it fails ([`DataError::Unsorted`]); a repeated timestamp is dropped (and counted)
//!   when the whole bar is identical and fails otherwise ([`DataError::DuplicateTimestamp`]).
//!   With [`ImportOptions::sort`] rows are sorted by time (stable) and of rows sharing a
//!   timestamp the last one in the file is kept; the counts are in the report.
//!
//! Line numbers are 1-based physical lines of the file (the header is line 1).
//!
//! Performance: rows are read as `csv::ByteRecord`s into one reused buffer; timestamps are
//! parsed by hand and numbers by `str::parse::<f64>`, so reading allocates per row only when
//! the raw records are kept ([`read_csv_table`]).
//!
//! Never panics, whatever the input bytes (a property test feeds it random bytes).

mod layout;
mod timestamp;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use csv::{ByteRecord, StringRecord};
use skeet_core::{Bar, BarSeries, Timeframe, UnixNanos};

pub use layout::SourceFormat;
use layout::{Layout, TimeSource, detect, is_null, parse_number, sniff_delimiter, strip_bom};
pub use timestamp::TimeFormat;
use timestamp::parse_timestamp;

use crate::{DataError, Progress, Result, format_duration};

/// How to read a CSV file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Sort rows by time (keeping the last of rows sharing a timestamp) instead of failing on
    /// unsorted or conflicting rows.
    pub sort: bool,
    /// The field delimiter; `None` detects `,`, `;` or tab from the first line.
    pub delimiter: Option<u8>,
}

/// Two rows of a file involved in an ordering problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowPair {
    /// The earlier line in the file.
    pub first_line: u64,
    /// Its timestamp.
    pub first_ts: UnixNanos,
    /// The later line in the file.
    pub second_line: u64,
    /// Its timestamp.
    pub second_ts: UnixNanos,
}

/// What an import found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    /// The file read.
    pub path: PathBuf,
    /// The recognised kind of file.
    pub format: SourceFormat,
    /// The field delimiter used.
    pub delimiter: u8,
    /// The column the time came from, as named in the file (or `unnamed column 1`).
    pub time_column: String,
    /// How the first bar's time was written.
    pub time_format: Option<TimeFormat>,
    /// True when rows used different epoch units or mixed dates and epochs.
    pub mixed_time_formats: bool,
    /// True when the file has a volume column (otherwise volumes are 0).
    pub has_volume: bool,
    /// Data rows read (excluding the header).
    pub rows: u64,
    /// Bars produced.
    pub bars: u64,
    /// Rows skipped because all their prices were null.
    pub null_rows: u64,
    /// Rows dropped because another row had the same timestamp.
    pub duplicates_dropped: u64,
    /// Rows whose timestamp is before the previous row's (counted before sorting).
    pub out_of_order_rows: u64,
    /// True when rows were reordered.
    pub sorted: bool,
    /// The first pair of rows out of order, if any.
    pub first_out_of_order: Option<RowPair>,
    /// The first pair of rows sharing a timestamp, if any.
    pub first_duplicate: Option<RowPair>,
    /// First open time.
    pub first: Option<UnixNanos>,
    /// Last open time.
    pub last: Option<UnixNanos>,
}

/// Bars read from a CSV file.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The bars, strictly increasing in time.
    pub bars: BarSeries,
    /// What was found.
    pub report: ImportReport,
}

/// Bars read from a CSV file together with the file's own columns, aligned 1:1: record `i`
/// is the raw row that produced bar `i` (after skipping null rows, sorting and dropping
/// duplicates). Used by commands that write the input's columns back out.
#[derive(Debug, Clone)]
pub struct CsvTable {
    /// The header cells as written; for files without a header, synthesised names
    /// (Binance's documented column names, or `time, open, high, low, close, volume,
    /// column_7, ...`).
    pub headers: Vec<String>,
    /// The raw records, one per bar.
    pub records: Vec<StringRecord>,
    /// The bars.
    pub bars: BarSeries,
    /// What was found.
    pub report: ImportReport,
}

/// Reads a CSV file of bars.
///
/// # Errors
/// See the module documentation; every error names the file or the line at fault.
pub fn read_csv(path: &Path, options: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let parsed = parse_file(path, options, progress, false)?;
    let (bars, report, _) = parsed.finish(options)?;
    Ok(Imported { bars, report })
}

/// Reads a CSV file of bars and keeps its raw columns (see [`CsvTable`]).
///
/// # Errors
/// As [`read_csv`], plus [`DataError::Csv`] for a row that is not valid UTF-8.
pub fn read_csv_table(
    path: &Path,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<CsvTable> {
    let parsed = parse_file(path, options, progress, true)?;
    let headers = parsed.layout.headers.clone();
    let (bars, report, records) = parsed.finish(options)?;
    Ok(CsvTable {
        headers,
        records,
        bars,
        report,
    })
}

/// Reads bars from CSV bytes in memory; `name` stands for the file in messages.
///
/// # Errors
/// As [`read_csv`].
pub fn read_csv_bytes(bytes: &[u8], name: &str, options: &ImportOptions) -> Result<Imported> {
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(bytes));
    let parsed = parse(
        bytes,
        Path::new(name),
        delimiter,
        None,
        &crate::NoProgress,
        false,
    )?;
    let (bars, report, _) = parsed.finish(options)?;
    Ok(Imported { bars, report })
}

fn parse_file(
    path: &Path,
    options: &ImportOptions,
    progress: &dyn Progress,
    keep_records: bool,
) -> Result<Parsed> {
    let io = |source| DataError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map(|m| m.len()).ok();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let delimiter = match options.delimiter {
        Some(d) => d,
        None => sniff_delimiter(reader.fill_buf().map_err(io)?),
    };
    parse(reader, path, delimiter, size, progress, keep_records)
}

/// One accepted row: its bar and where it came from.
#[derive(Debug, Clone, Copy)]
struct Row {
    ts: i64,
    values: [f64; 5],
    line: u64,
}

struct Parsed {
    path: PathBuf,
    layout: Layout,
    delimiter: u8,
    rows: Vec<Row>,
    records: Vec<StringRecord>,
    data_rows: u64,
    null_rows: u64,
    time_format: Option<TimeFormat>,
    mixed_time_formats: bool,
}

/// Cells longer than this are cut in messages.
const MAX_SHOWN: usize = 60;

fn shown(cell: &[u8]) -> String {
    let s = String::from_utf8_lossy(cell.trim_ascii());
    if s.chars().count() > MAX_SHOWN {
        format!("{}...", s.chars().take(MAX_SHOWN).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// Progress is reported every this many rows.
const PROGRESS_EVERY: u64 = 1 << 16;

fn parse<R: Read>(
    source: R,
    path: &Path,
    delimiter: u8,
    size: Option<u64>,
    progress: &dyn Progress,
    keep_records: bool,
) -> Result<Parsed> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(1 << 16)
        .from_reader(source);
    if let Some(size) = size {
        progress.set_len(size);
    }
    let csv_err = |e: csv::Error| DataError::Csv {
        line: e.position().map_or(0, csv::Position::line),
        message: e.to_string(),
    };
    let mut record = ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_err)? {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let layout = detect(&record)?;
    let mut parsed = Parsed {
        path: path.to_path_buf(),
        layout,
        delimiter,
        rows: Vec::with_capacity(size.map_or(1024, |s| usize::try_from(s / 48).unwrap_or(0))),
        records: Vec::new(),
        data_rows: 0,
        null_rows: 0,
        time_format: None,
        mixed_time_formats: false,
    };
    let mut scratch = Vec::with_capacity(64);
    let mut last_reported = 0u64;
    let mut have_row = !parsed.layout.has_header;
    loop {
        if !have_row && !reader.read_byte_record(&mut record).map_err(csv_err)? {
            break;
        }
        have_row = false;
        parsed.data_rows += 1;
        parsed.row(&record, &mut scratch, keep_records)?;
        if parsed.data_rows.is_multiple_of(PROGRESS_EVERY)
            && let Some(pos) = record.position()
        {
            progress.inc(pos.byte().saturating_sub(last_reported));
            last_reported = pos.byte();
        }
    }
    if let Some(size) = size {
        progress.inc(size.saturating_sub(last_reported));
    }
    Ok(parsed)
}

impl Parsed {
    fn row(&mut self, record: &ByteRecord, scratch: &mut Vec<u8>, keep: bool) -> Result<()> {
        let line = record.position().map_or(0, csv::Position::line);
        let layout = &self.layout;
        if record.len() < layout.min_fields {
            let needed = (record.len()..layout.min_fields)
                .find(|i| {
                    layout.ohlc.contains(i)
                        || layout.volume == Some(*i)
                        || match layout.time {
                            TimeSource::Column(t) => t == *i,
                            TimeSource::DateAndTime(d, t) => d == *i || t == *i,
                        }
                })
                .unwrap_or(record.len());
            return Err(DataError::MissingFields {
                line,
                found: record.len(),
                column: layout.names.get(needed).cloned().unwrap_or_default(),
                needed: needed + 1,
            });
        }
        let [o, h, l, c] = layout.ohlc;
        if [o, h, l, c].iter().all(|&i| is_null(&record[i])) {
            self.null_rows += 1;
            return Ok(());
        }
        let (ts_cell, time_col): (&[u8], usize) = match layout.time {
            TimeSource::Column(i) => {
                let cell = if i == 0 {
                    strip_bom(&record[0])
                } else {
                    &record[i]
                };
                (cell, i)
            }
            TimeSource::DateAndTime(d, t) => {
                scratch.clear();
                scratch.extend_from_slice(record[d].trim_ascii());
                scratch.push(b' ');
                scratch.extend_from_slice(record[t].trim_ascii());
                (scratch.as_slice(), d)
            }
        };
        let Some((ts, format)) = parse_timestamp(ts_cell) else {
            return Err(DataError::BadTimestamp {
                line,
                column: match layout.time {
                    TimeSource::Column(_) => layout.names[time_col].clone(),
                    TimeSource::DateAndTime(..) => layout.time_name(),
                },
                value: shown(ts_cell),
            });
        };
        match self.time_format {
            None => self.time_format = Some(format),
            Some(f) if f != format => self.mixed_time_formats = true,
            Some(_) => {}
        }
        let mut values = [0.0; 5];
        for (k, idx) in [Some(o), Some(h), Some(l), Some(c), layout.volume]
            .into_iter()
            .enumerate()
        {
            let Some(idx) = idx else { continue };
            let cell = &record[idx];
            values[k] = parse_number(cell).ok_or_else(|| DataError::BadNumber {
                line,
                column: layout.names[idx].clone(),
                value: shown(cell),
            })?;
        }
        let [open, high, low, close, volume] = values;
        Bar::new(UnixNanos::new(ts), open, high, low, close, volume)
            .map_err(|source| DataError::InvalidBar { line, source })?;
        self.rows.push(Row { ts, values, line });
        if keep {
            let text =
                StringRecord::from_byte_record(record.clone()).map_err(|e| DataError::Csv {
                    line,
                    message: format!("is not valid UTF-8 ({e})"),
                })?;
            self.records.push(text);
        }
        Ok(())
    }

    /// Applies the ordering rules and builds the series (and the aligned records).
    fn finish(
        self,
        options: &ImportOptions,
    ) -> Result<(BarSeries, ImportReport, Vec<StringRecord>)> {
        let Self {
            path,
            layout,
            delimiter,
            rows,
            mut records,
            data_rows,
            null_rows,
            time_format,
            mixed_time_formats,
        } = self;
        if data_rows == 0 && !layout.has_header {
            return Err(DataError::EmptyFile { path });
        }
        if rows.is_empty() {
            return Err(DataError::NoBars {
                path,
                rows: data_rows,
                null_rows,
            });
        }
        let pair = |a: &Row, b: &Row| RowPair {
            first_line: a.line,
            first_ts: UnixNanos::new(a.ts),
            second_line: b.line,
            second_ts: UnixNanos::new(b.ts),
        };
        let mut out_of_order = 0u64;
        let mut first_out_of_order = None;
        let mut first_duplicate = None;
        let mut keep = vec![true; rows.len()];
        let mut duplicates = 0u64;
        for i in 1..rows.len() {
            let (prev, cur) = (&rows[i - 1], &rows[i]);
            if cur.ts < prev.ts {
                out_of_order += 1;
                first_out_of_order.get_or_insert(pair(prev, cur));
                if !options.sort {
                    return Err(DataError::Unsorted {
                        line: cur.line,
                        ts: UnixNanos::new(cur.ts),
                        prev_line: prev.line,
                        prev_ts: UnixNanos::new(prev.ts),
                    });
                }
            } else if cur.ts == prev.ts && !options.sort {
                first_duplicate.get_or_insert(pair(prev, cur));
                if cur.values != prev.values {
                    return Err(DataError::DuplicateTimestamp {
                        line: cur.line,
                        prev_line: prev.line,
                        ts: UnixNanos::new(cur.ts),
                    });
                }
                keep[i] = false;
                duplicates += 1;
            }
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut sorted = false;
        if options.sort {
            if out_of_order > 0 {
                // Stable: rows sharing a timestamp stay in file order, so the last is kept.
                order.sort_by_key(|&i| rows[i].ts);
                sorted = true;
            }
            for w in 1..order.len() {
                let (a, b) = (order[w - 1], order[w]);
                if rows[a].ts == rows[b].ts {
                    first_duplicate.get_or_insert(pair(&rows[a], &rows[b]));
                    keep[a] = false;
                    duplicates += 1;
                }
            }
        }
        let kept = order.iter().filter(|&&i| keep[i]).count();
        let mut bars = BarSeries::with_capacity(kept);
        for &i in &order {
            if !keep[i] {
                continue;
            }
            let r = &rows[i];
            let [open, high, low, close, volume] = r.values;
            let bar = Bar {
                ts: UnixNanos::new(r.ts),
                open,
                high,
                low,
                close,
                volume,
            };
            // Cannot fail: rows passed Bar::new when read, and the order is now strictly
            // increasing. Mapped rather than unwrapped all the same.
            bars.push(bar).map_err(|source| DataError::InvalidBar {
                line: r.line,
                source,
            })?;
        }
        if !records.is_empty() && (sorted || duplicates > 0) {
            let mut taken: Vec<Option<StringRecord>> = records.into_iter().map(Some).collect();
            records = order
                .iter()
                .filter(|&&i| keep[i])
                .filter_map(|&i| taken.get_mut(i).and_then(Option::take))
                .collect();
        }
        let range = bars.range();
        let report = ImportReport {
            path,
            format: layout.format,
            delimiter,
            time_column: layout.time_name(),
            time_format,
            mixed_time_formats,
            has_volume: layout.volume.is_some(),
            rows: data_rows,
            bars: u64::try_from(bars.len()).unwrap_or(u64::MAX),
            null_rows,
            duplicates_dropped: duplicates,
            out_of_order_rows: out_of_order,
            sorted,
            first_out_of_order,
            first_duplicate,
            first: range.map(|r| r.0),
            last: range.map(|r| r.1),
        };
        Ok((bars, report, records))
    }
}

/// Checks that bar spacing fits `timeframe`, to catch a wrong `--timeframe` at import.
///
/// Rule (documented in `docs/data.md`): no two consecutive bars may be closer than the
/// timeframe (the data would be finer), and at least one pair of consecutive bars must be
/// exactly one timeframe apart (otherwise the data is coarser). Larger gaps are allowed
/// anywhere (weekends, holidays, outages), and bar times need not be aligned to the
/// timeframe's buckets (stock hours opening at :30, daily bars at a local midnight). A
/// series with fewer than two bars always passes.
///
/// # Errors
/// [`DataError::FinerThanTimeframe`] or [`DataError::CoarserThanTimeframe`], naming the
/// closest bars and suggesting a timeframe.
pub fn check_timeframe(bars: &BarSeries, timeframe: Timeframe) -> Result<()> {
    let ts = bars.ts();
    let Some(closest) = (1..ts.len()).min_by_key(|&i| ts[i].saturating_sub(ts[i - 1])) else {
        return Ok(());
    };
    // Saturating: a series may span more than i64::MAX nanoseconds (1677 to 2262).
    let spacing = ts[closest].saturating_sub(ts[closest - 1]);
    let tf = timeframe.as_nanos();
    if spacing == tf {
        return Ok(());
    }
    let first = UnixNanos::new(ts[closest - 1]);
    let second = UnixNanos::new(ts[closest]);
    let as_timeframe = u32::try_from(spacing / 1_000_000_000)
        .ok()
        .filter(|_| spacing % 1_000_000_000 == 0)
        .and_then(|s| Timeframe::from_secs(s).ok());
    let suggest = match as_timeframe {
        Some(t) => format!("pass --timeframe {t} if that is the bar size"),
        None => "pass the timeframe the bars have".to_string(),
    };
    if spacing < tf {
        return Err(DataError::FinerThanTimeframe {
            first,
            second,
            spacing: format_duration(spacing),
            timeframe,
            hint: suggest,
        });
    }
    let day = 86_400_000_000_000;
    let hint = if (28 * day..=31 * day).contains(&spacing) {
        "monthly bars have no fixed length and cannot be stored (keep them as a CSV file, or \
         resample finer data)"
            .to_string()
    } else {
        suggest
    };
    Err(DataError::CoarserThanTimeframe {
        first,
        second,
        spacing: format_duration(spacing),
        timeframe,
        hint,
    })
}

#[cfg(test)]
mod tests;

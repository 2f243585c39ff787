//! [`DataError`]: everything that can go wrong reading, writing or checking market data.
//!
//! Messages are complete sentences for a user: they name the file, line, column and value at
//! fault and, where there is one, the fix. Variants that wrap a lower-level error show only
//! their own context and expose the cause through [`std::error::Error::source`], so a chain
//! printed as `outer: cause` (as the CLI does) reads naturally and never repeats itself.

use std::path::PathBuf;

use skeet_core::{Timeframe, UnixNanos, ValidationError};

use crate::SeriesKey;

/// The time columns the importer recognises, for messages.
pub(crate) const TIME_COLUMNS: &str = "date, time, timestamp, open_time or datetime";

/// An error from the market data crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or directory could not be opened, read, written or renamed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done: `"read"`, `"write"`, `"create directory"`, ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The CSV file has no bytes (or only blank lines).
    #[error("{} is empty: expected a header row and rows of bars", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },

    /// The CSV file has a header (or only null rows) but no bar.
    #[error("{} has no bars: {rows} data rows, {null_rows} of them null", path.display())]
    NoBars {
        /// The file.
        path: PathBuf,
        /// Data rows read (after the header).
        rows: u64,
        /// Rows skipped because every price was null.
        null_rows: u64,
    },

    /// The header lacks columns the importer needs.
    #[error(
        "missing required column{} {}; found {}; need a time column ({TIME_COLUMNS}) and \
         open, high, low, close (volume is optional)",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", "),
        if found.is_empty() { "no columns".to_string() } else { format!("columns {}", found.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")) }
    )]
    MissingColumns {
        /// The required columns that were not found.
        missing: Vec<String>,
        /// The header cells as written in the file.
        found: Vec<String>,
    },

    /// Two header cells map to the same field.
    #[error(
        "the header has two '{name}' columns (columns {first} and {second}); rename or remove one"
    )]
    DuplicateColumn {
        /// The field, e.g. `close`.
        name: String,
        /// 1-based position of the first.
        first: usize,
        /// 1-based position of the second.
        second: usize,
    },

    /// A price or volume cell is not a number.
    #[error("line {line}, column '{column}': '{value}' is not a number")]
    BadNumber {
        /// 1-based line number in the file.
        line: u64,
        /// The column's header name.
        column: String,
        /// The cell as written.
        value: String,
    },

    /// A time cell is not a recognised timestamp.
    #[error(
        "line {line}, column '{column}': '{value}' is not a timestamp; expected a date \
         (2024-01-31), a datetime (2024-01-31 13:45:00, 2024-01-31T13:45:00Z, optional offset \
         like +02:00) or epoch seconds, milliseconds, microseconds or nanoseconds"
    )]
    BadTimestamp {
        /// 1-based line number in the file.
        line: u64,
        /// The column's header name.
        column: String,
        /// The cell as written.
        value: String,
    },

    /// A row has fewer fields than the columns the importer reads.
    #[error("line {line}: has {found} fields, but column '{column}' is field {needed}")]
    MissingFields {
        /// 1-based line number.
        line: u64,
        /// Fields found on the line.
        found: usize,
        /// The column that is missing.
        column: String,
        /// Its 1-based position.
        needed: usize,
    },

    /// The CSV itself is malformed (for example invalid UTF-8 where text is required).
    #[error("line {line}: {message}")]
    Csv {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },

    /// A row's values break a bar invariant (`low <= open, close <= high`, finite, volume >= 0).
    #[error("line {line}")]
    InvalidBar {
        /// 1-based line number.
        line: u64,
        /// The rule that was broken, with the field and value.
        #[source]
        source: ValidationError,
    },

    /// A row's timestamp is before the previous row's.
    #[error(
        "line {line}: timestamp {ts} is before {prev_ts} on line {prev_line}: the rows are not \
         sorted by time; pass --sort to sort them"
    )]
    Unsorted {
        /// The line that goes back in time.
        line: u64,
        /// Its timestamp.
        ts: UnixNanos,
        /// The line before it.
        prev_line: u64,
        /// That line's timestamp.
        prev_ts: UnixNanos,
    },

    /// Two rows share a timestamp but differ in their values.
    #[error(
        "line {line}: timestamp {ts} is also on line {prev_line}, with different values; remove \
         one of the rows, or pass --sort to keep the last"
    )]
    DuplicateTimestamp {
        /// The later line.
        line: u64,
        /// The earlier line.
        prev_line: u64,
        /// The shared timestamp.
        ts: UnixNanos,
    },

    /// Consecutive bars are closer together than the timeframe: the data is finer.
    #[error(
        "bars at {first} and {second} are {spacing} apart, closer than the timeframe \
         {timeframe}: the data looks finer than {timeframe}; {hint}"
    )]
    FinerThanTimeframe {
        /// The earlier bar.
        first: UnixNanos,
        /// The later bar.
        second: UnixNanos,
        /// Their distance, formatted (`1h`).
        spacing: String,
        /// The timeframe asked for.
        timeframe: Timeframe,
        /// What to do instead.
        hint: String,
    },

    /// No two consecutive bars are as close as the timeframe: the data is coarser.
    #[error(
        "no two consecutive bars are {timeframe} apart (the closest are {spacing} apart, at \
         {first} and {second}): the data looks coarser than {timeframe}; {hint}"
    )]
    CoarserThanTimeframe {
        /// The earlier of the closest pair.
        first: UnixNanos,
        /// The later of the closest pair.
        second: UnixNanos,
        /// Their distance, formatted (`28d`).
        spacing: String,
        /// The timeframe asked for.
        timeframe: Timeframe,
        /// What to do instead.
        hint: String,
    },

    /// The store holds no series under this key.
    #[error("no stored data for {key}; `skeet data ls` lists what is stored")]
    NotFound {
        /// The key asked for.
        key: SeriesKey,
    },

    /// A Parquet file in the store does not hold SKEET bars.
    #[error("{} is not a valid SKEET bar file: {reason}", path.display())]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A Parquet file was written in a newer format than this build reads.
    #[error(
        "{} has format version {found}, but this build of SKEET reads versions up to \
         {supported}; upgrade SKEET",
        path.display()
    )]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: String,
        /// The newest version this build reads.
        supported: u32,
    },

    /// The Parquet library failed to read or write a file.
    #[error("Parquet error in {}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The library's error.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// Resampling to a timeframe that is not a longer whole multiple of the source.
    #[error(
        "cannot resample {from} bars to {to}: the target must be a longer whole multiple of \
         {from} (with aligned bucket boundaries); choose a target such as {example}"
    )]
    NotAMultiple {
        /// The source timeframe.
        from: Timeframe,
        /// The target timeframe.
        to: Timeframe,
        /// A target that would work.
        example: String,
    },

    /// An operation that needs bars was given none.
    #[error("nothing to {action}: the series is empty")]
    EmptySeries {
        /// What was attempted.
        action: &'static str,
    },

    /// A parameter (symbol, timeframe, bar count, price, ...) was rejected.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

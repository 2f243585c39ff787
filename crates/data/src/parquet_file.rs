//! The on-disk format of one stored series: a Parquet file with columns `ts` (INT64,
//! `TIMESTAMP(NANOS, isAdjustedToUTC=true)`), `open`, `high`, `low`, `close`, `volume`
//! (DOUBLE), all REQUIRED, snappy-compressed, sorted by `ts`, and key-value metadata
//! `skeet.format_version`, `skeet.venue`, `skeet.symbol`, `skeet.timeframe`.
//!
//! `ts` is delta-encoded (open times of regular bars compress to almost nothing); prices use
//! the default dictionary encoding with plain fallback. Both are read by pyarrow, polars and
//! DuckDB (`scripts/check_parquet_interop.py`).
//!
//! Reading is stricter than Parquet: columns are found by name, must have the types above
//! (a `ts` in milli- or microseconds is converted), must hold no nulls, and the bars must pass
//! [`Bar::new`] in strictly increasing time order, so a file edited by another tool either
//! reads as valid bars or fails with [`DataError::CorruptFile`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, Encoding, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::data_type::{DataType, DoubleType, Int64Type};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::statistics::Statistics;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use skeet_core::{Bar, BarSeries, UnixNanos};

use crate::{DataError, Result, SeriesKey};

/// The newest format this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Rows per row group: the Parquet default (1 Mi), so typical series are one group.
const ROW_GROUP_ROWS: usize = 1 << 20;

const SCHEMA: &str = "message bars {
    REQUIRED INT64 ts (TIMESTAMP(NANOS, true));
    REQUIRED DOUBLE open;
    REQUIRED DOUBLE high;
    REQUIRED DOUBLE low;
    REQUIRED DOUBLE close;
    REQUIRED DOUBLE volume;
}";

const PRICE_COLUMNS: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// Metadata keys.
pub(crate) const META_VERSION: &str = "skeet.format_version";
const META_VENUE: &str = "skeet.venue";
const META_SYMBOL: &str = "skeet.symbol";
const META_TIMEFRAME: &str = "skeet.timeframe";

/// Writes `bars` as a complete Parquet file into `sink` and returns the sink.
pub(crate) fn write_bars<W: Write + Send>(
    sink: W,
    key: &SeriesKey,
    bars: &BarSeries,
) -> parquet::errors::Result<W> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let ts_path = ColumnPath::from("ts");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_column_dictionary_enabled(ts_path.clone(), false)
        .set_column_encoding(ts_path, Encoding::DELTA_BINARY_PACKED)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_VERSION.to_string(), FORMAT_VERSION.to_string()),
            KeyValue::new(META_VENUE.to_string(), key.venue.to_string()),
            KeyValue::new(META_SYMBOL.to_string(), key.symbol.to_string()),
            KeyValue::new(META_TIMEFRAME.to_string(), key.timeframe.to_string()),
        ]))
        .build();
    let mut writer = SerializedFileWriter::new(sink, schema, Arc::new(props))?;
    let prices = [
        bars.open(),
        bars.high(),
        bars.low(),
        bars.close(),
        bars.volume(),
    ];
    let mut start = 0;
    while start < bars.len() {
        let end = (start + ROW_GROUP_ROWS).min(bars.len());
        let mut group = writer.next_row_group()?;
        let mut column = group
            .next_column()?
            .ok_or_else(|| parquet::errors::ParquetError::General("no ts column".into()))?;
        column
            .typed::<Int64Type>()
            .write_batch(&bars.ts()[start..end], None, None)?;
        column.close()?;
        for values in prices {
            let mut column = group.next_column()?.ok_or_else(|| {
                parquet::errors::ParquetError::General("missing price column".into())
            })?;
            column
                .typed::<DoubleType>()
                .write_batch(&values[start..end], None, None)?;
            column.close()?;
        }
        group.close()?;
        start = end;
    }
    writer.into_inner()
}

/// What the footer of a bar file says, without reading the data pages (when it can).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FileSummary {
    /// Number of bars.
    pub(crate) rows: u64,
    /// First and last open time.
    pub(crate) range: Option<(UnixNanos, UnixNanos)>,
}

/// Where the needed columns are, and the scale that turns `ts` into nanoseconds.
struct Layout {
    ts: usize,
    ts_scale: i64,
    prices: [usize; 5],
}

fn corrupt(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::CorruptFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn parquet_err(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> DataError + '_ {
    move |source| DataError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

fn open(path: &Path) -> Result<SerializedFileReader<File>> {
    let file = File::open(path).map_err(|source| DataError::Io {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    SerializedFileReader::new(file).map_err(parquet_err(path))
}

fn layout(path: &Path, reader: &SerializedFileReader<File>) -> Result<Layout> {
    let meta = reader.metadata().file_metadata();
    let kv: BTreeMap<&str, &str> = meta
        .key_value_metadata()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_deref().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(version) = kv.get(META_VERSION) {
        match version.parse::<u32>() {
            Ok(v) if v <= FORMAT_VERSION => {}
            _ => {
                return Err(DataError::UnsupportedFormat {
                    path: path.to_path_buf(),
                    found: (*version).to_string(),
                    supported: FORMAT_VERSION,
                });
            }
        }
    }
    let schema = meta.schema_descr();
    let find = |name: &str, physical: PhysicalType| -> Result<usize> {
        let idx = (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == name)
            .ok_or_else(|| corrupt(path, format!("no column '{name}'")))?;
        let col = schema.column(idx);
        if col.physical_type() != physical || col.max_rep_level() != 0 {
            return Err(corrupt(
                path,
                format!(
                    "column '{name}' is {} (repetition level {}), expected {physical}",
                    col.physical_type(),
                    col.max_rep_level()
                ),
            ));
        }
        Ok(idx)
    };
    let ts = find("ts", PhysicalType::INT64)?;
    let ts_scale = match schema.column(ts).logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => match t.unit {
            TimeUnit::NANOS => 1,
            TimeUnit::MICROS => 1_000,
            TimeUnit::MILLIS => 1_000_000,
        },
        other => {
            return Err(corrupt(
                path,
                format!("column 'ts' has logical type {other:?}, expected a TIMESTAMP"),
            ));
        }
    };
    let mut prices = [0; 5];
    for (slot, name) in prices.iter_mut().zip(PRICE_COLUMNS) {
        *slot = find(name, PhysicalType::DOUBLE)?;
    }
    Ok(Layout {
        ts,
        ts_scale,
        prices,
    })
}

/// Reads the bar count and time range, from column statistics when the file has them.
pub(crate) fn read_summary(path: &Path) -> Result<FileSummary> {
    let reader = open(path)?;
    let layout = layout(path, &reader)?;
    let meta = reader.metadata();
    let rows = u64::try_from(meta.file_metadata().num_rows())
        .map_err(|_| corrupt(path, "negative row count"))?;
    let groups = meta.row_groups();
    let stat = |group: usize, first: bool| -> Option<i64> {
        match groups.get(group)?.column(layout.ts).statistics()? {
            Statistics::Int64(s) => {
                if first {
                    s.min_opt().copied()
                } else {
                    s.max_opt().copied()
                }
            }
            _ => None,
        }
    };
    let from_stats = match (stat(0, true), groups.len().checked_sub(1)) {
        (Some(first), Some(last_group)) => stat(last_group, false).map(|last| (first, last)),
        _ => None,
    };
    let range = match from_stats {
        Some((first, last)) if rows > 0 => Some((
            UnixNanos::new(first.saturating_mul(layout.ts_scale)),
            UnixNanos::new(last.saturating_mul(layout.ts_scale)),
        )),
        _ if rows == 0 => None,
        _ => read_bars(path)?.range(),
    };
    Ok(FileSummary { rows, range })
}

/// Reads and validates every bar of a file.
pub(crate) fn read_bars(path: &Path) -> Result<BarSeries> {
    let reader = open(path)?;
    let layout = layout(path, &reader)?;
    let total = usize::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mut ts: Vec<i64> = Vec::with_capacity(total);
    let mut cols: [Vec<f64>; 5] = std::array::from_fn(|_| Vec::with_capacity(total));
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(parquet_err(path))?;
        read_column::<Int64Type>(path, &*group, layout.ts, "ts", &mut ts)?;
        for ((idx, name), out) in layout.prices.iter().zip(PRICE_COLUMNS).zip(&mut cols) {
            read_column::<DoubleType>(path, &*group, *idx, name, out)?;
        }
    }
    if cols.iter().any(|c| c.len() != ts.len()) {
        return Err(corrupt(path, "columns have different lengths"));
    }
    let mut series = BarSeries::with_capacity(ts.len());
    let [open, high, low, close, volume] = &cols;
    for i in 0..ts.len() {
        let t = ts[i]
            .checked_mul(layout.ts_scale)
            .ok_or_else(|| corrupt(path, format!("row {i}: timestamp out of range")))?;
        let bar = Bar::new(
            UnixNanos::new(t),
            open[i],
            high[i],
            low[i],
            close[i],
            volume[i],
        )
        .map_err(|e| corrupt(path, format!("row {i}: {e}")))?;
        series
            .push(bar)
            .map_err(|e| corrupt(path, format!("row {i}: {e}")))?;
    }
    Ok(series)
}

fn read_column<T: DataType>(
    path: &Path,
    group: &dyn RowGroupReader,
    idx: usize,
    name: &str,
    out: &mut Vec<T::T>,
) -> Result<()> {
    let rows = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
    let column = group.get_column_reader(idx).map_err(parquet_err(path))?;
    let mut reader = T::get_column_reader(column)
        .ok_or_else(|| corrupt(path, format!("column '{name}' has an unexpected type")))?;
    let nullable = group.metadata().column(idx).column_descr().max_def_level() > 0;
    let mut def_levels = Vec::new();
    let start = out.len();
    loop {
        let remaining = rows.saturating_sub(out.len() - start);
        if remaining == 0 {
            break;
        }
        let levels = nullable.then_some(&mut def_levels);
        let (records, values, _) = reader
            .read_records(remaining, levels, None, out)
            .map_err(parquet_err(path))?;
        if values != records {
            return Err(corrupt(path, format!("column '{name}' has null values")));
        }
        if records == 0 {
            break;
        }
        def_levels.clear();
    }
    if out.len() - start != rows {
        return Err(corrupt(
            path,
            format!("column '{name}' is shorter than its row group"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey::parse("binance", "BTC/USDT", "1h").unwrap()
    }

    fn bars(n: i64) -> BarSeries {
        BarSeries::from_bars((0..n).map(|i| {
            let p = 100.0 + i as f64;
            Bar::new(
                UnixNanos::new(i * 3_600_000_000_000),
                p,
                p + 2.0,
                p - 1.0,
                p + 1.0,
                5.0,
            )
            .unwrap()
        }))
        .unwrap()
    }

    #[test]
    fn round_trips_bars_and_summarises_from_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.parquet");
        let original = bars(1000);
        let file = File::create(&path).unwrap();
        write_bars(file, &key(), &original).unwrap();
        assert_eq!(read_bars(&path).unwrap(), original);
        let summary = read_summary(&path).unwrap();
        assert_eq!(summary.rows, 1000);
        assert_eq!(summary.range, original.range());
    }

    #[test]
    fn rejects_files_that_are_not_bars() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.parquet");
        std::fs::write(&path, b"not parquet at all").unwrap();
        let err = read_bars(&path).unwrap_err();
        assert!(matches!(err, DataError::Parquet { .. }), "{err:?}");
    }
}

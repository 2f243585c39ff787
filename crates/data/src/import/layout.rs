//! Which CSV dialect a file is, and which column holds what: detected from the first line.
//!
//! Rules, in order:
//! 1. Delimiter: the most frequent of `,`, `;` and tab on the first line (outside quotes);
//!    `,` on a tie or when none appears.
//! 2. Header or not: the first record is data when it has at least five fields, its first
//!    field is a timestamp and the next four are numbers (or `null`). Otherwise it is a header.
//! 3. Without a header, columns are positional: time, open, high, low, close, volume, ...
//!    (Binance kline dumps have exactly 12 such columns and an epoch time).
//! 4. With a header, names are compared trimmed and case-insensitively (a UTF-8 BOM and
//!    `<...>` brackets are ignored). Time column: the first found of `timestamp`,
//!    `datetime`, `open_time`, `date`, `time`, `ts`; when there are both `date` and `time`
//!    columns (and none of the first three) they are joined (`2024-01-31` + `13:45:00`); when
//!    none is found and the first header cell is empty, the first column (pandas' index).
//!    Prices: exactly `open`, `high`, `low`, `close` (so `Adj Close` and `close_time` are never
//!    taken for `close`); volume: `volume` or `vol`, optional (0 when absent).

use std::fmt;

use csv::ByteRecord;

use super::timestamp::parse_timestamp;
use crate::DataError;

/// The kind of file the importer recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// A CSV with a header naming its columns.
    Generic,
    /// A CSV written by pandas: the time column is the unnamed index (`,Open,High,...`).
    PandasIndex,
    /// A Yahoo Finance download (`Date,Open,High,Low,Close,Adj Close,Volume`).
    Yahoo,
    /// A Binance kline dump (data.binance.vision): 12 columns, epoch open time.
    BinanceKlines {
        /// True for the variant with a header row (`open_time,open,...`).
        header: bool,
    },
    /// A CSV without a header: time, open, high, low, close, volume by position.
    Headerless,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Generic => "CSV with header",
            Self::PandasIndex => "pandas CSV (unnamed index column)",
            Self::Yahoo => "Yahoo Finance CSV",
            Self::BinanceKlines { header: false } => "Binance klines (no header)",
            Self::BinanceKlines { header: true } => "Binance klines (with header)",
            Self::Headerless => "CSV without header (time, open, high, low, close, volume)",
        })
    }
}

/// The header Binance would have if its dumps had one.
pub(crate) const BINANCE_COLUMNS: [&str; 12] = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_base",
    "taker_buy_quote",
    "ignore",
];

/// Where the time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeSource {
    /// One column.
    Column(usize),
    /// A date column and a time-of-day column, joined with a space.
    DateAndTime(usize, usize),
}

/// The detected layout of a file.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) format: SourceFormat,
    pub(crate) has_header: bool,
    pub(crate) time: TimeSource,
    pub(crate) ohlc: [usize; 4],
    pub(crate) volume: Option<usize>,
    /// The header cells as written (synthesised names for files without a header).
    pub(crate) headers: Vec<String>,
    /// Column names for messages (never empty).
    pub(crate) names: Vec<String>,
    /// Fields a row needs (highest used index + 1).
    pub(crate) min_fields: usize,
}

impl Layout {
    /// The name of the time column for messages and reports.
    pub(crate) fn time_name(&self) -> String {
        match self.time {
            TimeSource::Column(i) => self.names[i].clone(),
            TimeSource::DateAndTime(d, t) => format!("{} + {}", self.names[d], self.names[t]),
        }
    }
}

/// Picks the delimiter from the first line of `head`.
pub(crate) fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let [comma, semicolon, tab] = counts;
    if semicolon > comma && semicolon >= tab {
        b';'
    } else if tab > comma && tab > semicolon {
        b'\t'
    } else {
        b','
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub(crate) fn strip_bom(cell: &[u8]) -> &[u8] {
    cell.strip_prefix(BOM).unwrap_or(cell)
}

/// A cell Yahoo and pandas use for a missing value.
pub(crate) fn is_null(cell: &[u8]) -> bool {
    let c = cell.trim_ascii();
    c.is_empty() || c.eq_ignore_ascii_case(b"null") || c.eq_ignore_ascii_case(b"nan")
}

pub(crate) fn parse_number(cell: &[u8]) -> Option<f64> {
    std::str::from_utf8(cell.trim_ascii()).ok()?.parse().ok()
}

fn looks_like_data(first: &ByteRecord) -> bool {
    first.len() >= 5
        && parse_timestamp(strip_bom(&first[0])).is_some()
        && (1..5).all(|i| is_null(&first[i]) || parse_number(&first[i]).is_some())
}

/// Detects the layout from the first record.
pub(crate) fn detect(first: &ByteRecord) -> Result<Layout, DataError> {
    if looks_like_data(first) {
        return Ok(headerless(first));
    }
    let headers: Vec<String> = first
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = if i == 0 { strip_bom(c) } else { c };
            String::from_utf8_lossy(c).into_owned()
        })
        .collect();
    let keys: Vec<String> = headers
        .iter()
        .map(|h| {
            h.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    let names: Vec<String> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let t = h.trim();
            if t.is_empty() {
                format!("unnamed column {}", i + 1)
            } else {
                t.to_string()
            }
        })
        .collect();
    let find = |name: &str| -> Result<Option<usize>, DataError> {
        let mut hits = keys.iter().enumerate().filter(|(_, k)| *k == name);
        let first = hits.next().map(|(i, _)| i);
        if let (Some(a), Some((b, _))) = (first, hits.next()) {
            return Err(DataError::DuplicateColumn {
                name: name.to_string(),
                first: a + 1,
                second: b + 1,
            });
        }
        Ok(first)
    };

    let mut time = None;
    for name in ["timestamp", "datetime", "open_time"] {
        if let Some(i) = find(name)? {
            time = Some(TimeSource::Column(i));
            break;
        }
    }
    if time.is_none() {
        time = match (find("date")?, find("time")?) {
            (Some(d), Some(t)) => Some(TimeSource::DateAndTime(d, t)),
            (Some(i), None) | (None, Some(i)) => Some(TimeSource::Column(i)),
            (None, None) => find("ts")?.map(TimeSource::Column),
        };
    }
    let mut pandas_index = false;
    if time.is_none() && keys.first().is_some_and(String::is_empty) && keys.len() > 1 {
        time = Some(TimeSource::Column(0));
        pandas_index = true;
    }
    let mut ohlc = [None; 4];
    for (slot, name) in ohlc.iter_mut().zip(["open", "high", "low", "close"]) {
        *slot = find(name)?;
    }
    let volume = match find("volume")? {
        Some(v) => Some(v),
        None => find("vol")?,
    };
    let mut missing = Vec::new();
    if time.is_none() {
        missing.push("time".to_string());
    }
    for (slot, name) in ohlc.iter().zip(["open", "high", "low", "close"]) {
        if slot.is_none() {
            missing.push(name.to_string());
        }
    }
    let (Some(time), [Some(o), Some(h), Some(l), Some(c)]) = (time, ohlc) else {
        return Err(DataError::MissingColumns {
            missing,
            found: headers.iter().map(|h| h.trim().to_string()).collect(),
        });
    };
    let format = if keys.iter().any(|k| k == "adj close" || k == "adj_close") {
        SourceFormat::Yahoo
    } else if time == TimeSource::Column(0)
        && keys.first().is_some_and(|k| k == "open_time")
        && keys.iter().any(|k| k == "close_time")
    {
        SourceFormat::BinanceKlines { header: true }
    } else if pandas_index {
        SourceFormat::PandasIndex
    } else {
        SourceFormat::Generic
    };
    let time_max = match time {
        TimeSource::Column(i) => i,
        TimeSource::DateAndTime(d, t) => d.max(t),
    };
    let min_fields = [time_max, o, h, l, c, volume.unwrap_or(0)]
        .into_iter()
        .max()
        .unwrap_or(0)
        + 1;
    Ok(Layout {
        format,
        has_header: true,
        time,
        ohlc: [o, h, l, c],
        volume,
        headers,
        names,
        min_fields,
    })
}

fn headerless(first: &ByteRecord) -> Layout {
    let n = first.len();
    let binance = n == 12
        && parse_timestamp(strip_bom(&first[0])).is_some_and(|(_, f)| {
            matches!(
                f,
                super::TimeFormat::EpochMillis | super::TimeFormat::EpochMicros
            )
        });
    let headers: Vec<String> = if binance {
        BINANCE_COLUMNS.iter().map(|s| (*s).to_string()).collect()
    } else {
        ["time", "open", "high", "low", "close", "volume"]
            .iter()
            .map(|s| (*s).to_string())
            .chain((7..=n).map(|i| format!("column_{i}")))
            .take(n)
            .collect()
    };
    Layout {
        format: if binance {
            SourceFormat::BinanceKlines { header: false }
        } else {
            SourceFormat::Headerless
        },
        has_header: false,
        time: TimeSource::Column(0),
        ohlc: [1, 2, 3, 4],
        volume: (n > 5).then_some(5),
        names: headers.clone(),
        headers,
        min_fields: if n > 5 { 6 } else { 5 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> ByteRecord {
        ByteRecord::from(line.split(',').collect::<Vec<_>>())
    }

    #[test]
    fn detects_common_headers() {
        let yahoo = detect(&rec("Date,Open,High,Low,Close,Adj Close,Volume")).unwrap();
        assert_eq!(yahoo.format, SourceFormat::Yahoo);
        assert_eq!(yahoo.ohlc, [1, 2, 3, 4]);
        assert_eq!(yahoo.volume, Some(6));
        let pandas = detect(&rec(",Open,High,Low,Close,Volume")).unwrap();
        assert_eq!(pandas.format, SourceFormat::PandasIndex);
        assert_eq!(pandas.time, TimeSource::Column(0));
        assert_eq!(pandas.time_name(), "unnamed column 1");
        let binance = detect(&rec(
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
             taker_buy_base,taker_buy_quote,ignore",
        ))
        .unwrap();
        assert_eq!(binance.format, SourceFormat::BinanceKlines { header: true });
        assert_eq!(binance.ohlc[3], 4);
        let split = detect(&rec("\u{feff}<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>")).unwrap();
        assert_eq!(split.time, TimeSource::DateAndTime(0, 1));
        assert_eq!(split.volume, None);
        let upper = detect(&rec(" Timestamp , OPEN,high,Low,close,VOL")).unwrap();
        assert_eq!(upper.format, SourceFormat::Generic);
        assert_eq!(upper.volume, Some(5));
    }

    #[test]
    fn detects_headerless_files() {
        let kline = rec("1704067200000,1,2,0.5,1.5,10,1704070799999,15,3,5,7,0");
        let layout = detect(&kline).unwrap();
        assert_eq!(layout.format, SourceFormat::BinanceKlines { header: false });
        assert_eq!(layout.headers[6], "close_time");
        let plain = detect(&rec("2024-01-01,1,2,0.5,1.5")).unwrap();
        assert_eq!(plain.format, SourceFormat::Headerless);
        assert_eq!(plain.volume, None);
    }

    #[test]
    fn reports_missing_and_duplicate_columns() {
        let err = detect(&rec("Date,Open,High,Low,Adj Close,Volume")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing required column close; found columns 'Date', 'Open', 'High', 'Low', \
             'Adj Close', 'Volume'; need a time column (date, time, timestamp, open_time or \
             datetime) and open, high, low, close (volume is optional)"
        );
        let err = detect(&rec("price,qty")).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "missing required columns time, open, high, low, close; found columns 'price', \
                 'qty'; need"
            ),
            "{err}"
        );
        let err = detect(&rec("date,open,high,low,close,Close")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the header has two 'close' columns (columns 5 and 6); rename or remove one"
        );
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1;2;3;4;5"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a;b\",c"), b',');
        assert_eq!(sniff_delimiter(b""), b',');
    }
}

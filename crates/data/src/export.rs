//! Bars out as CSV: header `timestamp,open,high,low,close,volume`, RFC 3339 UTC timestamps
//! (`2024-01-02T03:04:05Z`, with the shortest exact fraction when there is one) and numbers in
//! Rust's shortest round-trip form, so importing an export gives back the very same bars.

use std::io::{self, Write};

use skeet_core::{BarSeries, UnixNanos};

/// The header line written by [`write_csv`].
pub const HEADER: &str = "timestamp,open,high,low,close,volume";

/// Writes `bars` as CSV to `out` (buffer it: this writes one line at a time).
///
/// # Errors
/// Whatever `out` returns.
pub fn write_csv<W: Write>(bars: &BarSeries, mut out: W) -> io::Result<()> {
    writeln!(out, "{HEADER}")?;
    for bar in bars.iter() {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            UnixNanos::to_rfc3339(bar.ts),
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use skeet_core::Bar;

    use super::*;
    use crate::import::{ImportOptions, read_csv_bytes};

    #[test]
    fn export_then_import_gives_the_same_bars() {
        let bars = BarSeries::from_bars([
            Bar::new(
                "2024-01-02T03:04:05.25Z".parse().unwrap(),
                0.1 + 0.2,
                1e21,
                1e-7,
                0.5,
                0.0,
            )
            .unwrap(),
            Bar::new("2024-01-03".parse().unwrap(), 1.0, 2.0, 1.0, 2.0, 3.5).unwrap(),
        ])
        .unwrap();
        let mut out = Vec::new();
        write_csv(&bars, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with(
                "timestamp,open,high,low,close,volume\n\
                 2024-01-02T03:04:05.250Z,0.30000000000000004,"
            ),
            "{text}"
        );
        let back = read_csv_bytes(&out, "export.csv", &ImportOptions::default()).unwrap();
        assert_eq!(back.bars, bars);
    }
}

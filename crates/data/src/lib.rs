//! # skeet-data
//!
//! Market data in and out: a Parquet store of OHLCV bars partitioned by venue / symbol /
//! timeframe ([`MarketStore`]), CSV importers for generic, Yahoo and Binance kline files
//! ([`import`]), synthetic generators ([`generate`]), resampling ([`resample`]), inspection
//! ([`inspect`]), CSV export ([`export`]) and a content hash of a series ([`series_hash`]).
//!
//! Invariants held by this crate:
//! - Every bar that leaves it passed [`skeet_core::Bar::new`] and sits in a
//!   [`skeet_core::BarSeries`] (strictly increasing open times), whether it came from a CSV
//!   file, a Parquet file or a generator.
//! - A stored series changes atomically: a write goes to a temporary file in the same
//!   directory, is synced, then renamed over the old file. A failed write or import leaves the
//!   store as it was.
//! - Errors ([`DataError`]) are meant to be shown to a user as they are: they name the file,
//!   line, column and value at fault and say how to fix it.
//! - Generated data depends only on its parameters and seed, on every platform: the random
//!   stream and the transcendental functions are implemented in pure Rust (no OS randomness,
//!   no platform `libm`).
//!
//! Known limitation: one writer per series at a time. Two processes merging into the same
//! series concurrently can lose one of the writes (the last rename wins); nothing is ever
//! left half-written.

mod error;
pub mod export;
pub mod generate;
mod hash;
pub mod import;
pub mod inspect;
mod key;
mod parquet_file;
mod progress;
pub mod resample;
mod store;

pub use error::DataError;
pub use hash::series_hash;
pub use key::SeriesKey;
pub use progress::{NoProgress, Progress};
pub use store::{MarketStore, SeriesInfo, WriteMode, WriteReport};

/// The result type of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Formats a duration in nanoseconds in the largest whole unit that divides it (`28d`, `1h`,
/// `90s`), falling back to seconds with a fraction.
pub fn format_duration(nanos: i64) -> String {
    const UNITS: [(&str, i64); 4] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
    ];
    if nanos == 0 {
        return "0s".to_string();
    }
    for (unit, len) in UNITS {
        if nanos % len == 0 {
            return format!("{}{unit}", nanos / len);
        }
    }
    // Display only: the f64 rounding of very long durations does not matter.
    let secs = nanos as f64 / 1e9;
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(format_duration(28 * 86_400_000_000_000), "28d");
        assert_eq!(format_duration(3_600_000_000_000), "1h");
        assert_eq!(format_duration(90_000_000_000), "90s");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(-3_600_000_000_000), "-1h");
        assert_eq!(format_duration(0), "0s");
    }
}

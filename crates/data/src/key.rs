//! [`SeriesKey`]: which series of bars (venue, symbol, timeframe), and where it lives on disk.
//!
//! Layout (hive partitioning, readable by DuckDB, polars and pyarrow as partition columns):
//! `venue=<venue>/symbol=<symbol with '/' as '_'>/timeframe=<timeframe>/bars.parquet`, e.g.
//! `venue=binance/symbol=BTC_USDT/timeframe=1h/bars.parquet`. Every component is validated
//! by its core type, so a key can never name a path outside the store.

use std::cmp::Ordering;
use std::fmt;
use std::path::PathBuf;

use skeet_core::{InstrumentId, Symbol, Timeframe, ValidationError, Venue};

/// The identity of one stored series of bars. Ordered alphabetically by venue, then symbol,
/// then by timeframe length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SeriesKey {
    /// Where the bars come from (`binance`, `local` for imports, `synthetic` for generated).
    pub venue: Venue,
    /// What was traded.
    pub symbol: Symbol,
    /// The bar duration.
    pub timeframe: Timeframe,
}

impl SeriesKey {
    /// Combines the three parts.
    pub const fn new(venue: Venue, symbol: Symbol, timeframe: Timeframe) -> Self {
        Self {
            venue,
            symbol,
            timeframe,
        }
    }

    /// Parses the three parts from user input.
    ///
    /// # Errors
    /// The first part that fails validation, with the field and value named.
    pub fn parse(venue: &str, symbol: &str, timeframe: &str) -> Result<Self, ValidationError> {
        Ok(Self::new(
            Venue::new(venue)?,
            Symbol::new(symbol)?,
            timeframe.parse()?,
        ))
    }

    /// The venue and symbol.
    pub const fn instrument(&self) -> InstrumentId {
        InstrumentId::new(self.venue, self.symbol)
    }

    /// The partition directory relative to the store root
    /// (`venue=binance/symbol=BTC_USDT/timeframe=1h`).
    pub fn relative_dir(&self) -> PathBuf {
        PathBuf::from(format!("venue={}", self.venue))
            .join(format!("symbol={}", self.symbol.to_path_component()))
            .join(format!("timeframe={}", self.timeframe))
    }

    /// Rebuilds a key from the three directory names of a partition, `None` if any of them
    /// is not a valid `name=value` pair for its part.
    pub(crate) fn from_dir_names(
        venue_dir: &str,
        symbol_dir: &str,
        timeframe_dir: &str,
    ) -> Option<Self> {
        let venue = Venue::new(venue_dir.strip_prefix("venue=")?).ok()?;
        let symbol = Symbol::from_path_component(symbol_dir.strip_prefix("symbol=")?).ok()?;
        let timeframe = timeframe_dir.strip_prefix("timeframe=")?.parse().ok()?;
        let key = Self::new(venue, symbol, timeframe);
        // Only canonical spellings count (`timeframe=60m` is not the directory of `1h`), so
        // that one series has exactly one directory.
        let canonical = key.relative_dir();
        (canonical
            == PathBuf::from(venue_dir)
                .join(symbol_dir)
                .join(timeframe_dir))
        .then_some(key)
    }
}

impl Ord for SeriesKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Not the core types' own order, which compares short names first.
        (self.venue.as_str(), self.symbol.as_str(), self.timeframe).cmp(&(
            other.venue.as_str(),
            other.symbol.as_str(),
            other.timeframe,
        ))
    }
}

impl PartialOrd for SeriesKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SeriesKey {
    /// `binance:BTC/USDT 1h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} {}", self.venue, self.symbol, self.timeframe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_hive_partitions_and_round_trip() {
        let key = SeriesKey::parse("Binance", "btc/usdt", "60m").unwrap();
        assert_eq!(key.to_string(), "binance:BTC/USDT 1h");
        assert_eq!(
            key.relative_dir(),
            PathBuf::from("venue=binance/symbol=BTC_USDT/timeframe=1h")
        );
        let back =
            SeriesKey::from_dir_names("venue=binance", "symbol=BTC_USDT", "timeframe=1h").unwrap();
        assert_eq!(back, key);
        assert!(
            SeriesKey::from_dir_names("venue=binance", "symbol=BTC_USDT", "timeframe=60m")
                .is_none()
        );
        assert!(SeriesKey::from_dir_names("binance", "symbol=BTC_USDT", "timeframe=1h").is_none());
        assert!(SeriesKey::from_dir_names("venue=b", "symbol=../x", "timeframe=1h").is_none());
        let mut keys = [
            SeriesKey::parse("kraken", "BTC/USD", "1h").unwrap(),
            SeriesKey::parse("binance", "GOOG", "1d").unwrap(),
            SeriesKey::parse("binance", "EUR/USD", "1d").unwrap(),
            SeriesKey::parse("binance", "EUR/USD", "1m").unwrap(),
        ];
        keys.sort();
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "binance:EUR/USD 1m",
                "binance:EUR/USD 1d",
                "binance:GOOG 1d",
                "kraken:BTC/USD 1h"
            ]
        );
    }
}

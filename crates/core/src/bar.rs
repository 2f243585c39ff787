//! OHLCV bars: one checked [`Bar`], and [`BarSeries`], a column-oriented run of bars in strictly
//! increasing time order.
//!
//! A bar's `ts` is the **open** time of its interval (exchange convention); the bar is complete
//! and may be acted on only after `ts + timeframe`.
//!
//! Invariants (checked by [`Bar::new`] and [`BarSeries::push`]): all values finite; `low <=
//! open, close <= high`; `volume >= 0`; within a series, timestamps strictly increase.

use serde::{Deserialize, Serialize};

use crate::{UnixNanos, ValidationError};

/// One OHLCV bar. Prices are in the quote currency, volume in the base asset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Open time of the interval.
    pub ts: UnixNanos,
    /// First traded price.
    pub open: f64,
    /// Highest traded price.
    pub high: f64,
    /// Lowest traded price.
    pub low: f64,
    /// Last traded price.
    pub close: f64,
    /// Traded quantity (base asset); 0 when the source has none.
    pub volume: f64,
}

impl Bar {
    /// Checks the OHLC relations and that every value is finite.
    pub fn new(
        ts: UnixNanos,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<Self, ValidationError> {
        for (field, v) in [
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
            ("volume", volume),
        ] {
            if !v.is_finite() {
                return Err(ValidationError::new(field, v, "must be a finite number"));
            }
        }
        if volume < 0.0 {
            return Err(ValidationError::new(
                "volume",
                volume,
                "must not be negative",
            ));
        }
        if high < low {
            return Err(ValidationError::new(
                "high",
                high,
                format!("is below low {low}"),
            ));
        }
        for (name, v) in [("open", open), ("close", close)] {
            if v > high {
                return Err(ValidationError::new(
                    "high",
                    high,
                    format!("is below {name} {v}"),
                ));
            }
            if v < low {
                return Err(ValidationError::new(
                    "low",
                    low,
                    format!("is above {name} {v}"),
                ));
            }
        }
        Ok(Self {
            ts,
            open,
            high,
            low,
            close,
            volume,
        })
    }
}

/// Bars in strictly increasing time order, stored as columns so indicators and the engine read
/// contiguous `f64` slices.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarSeries {
    ts: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl BarSeries {
    /// An empty series.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty series with room for `n` bars.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        }
    }

    /// Builds a series from bars, checking their order.
    pub fn from_bars(bars: impl IntoIterator<Item = Bar>) -> Result<Self, ValidationError> {
        let iter = bars.into_iter();
        let mut s = Self::with_capacity(iter.size_hint().0);
        for b in iter {
            s.push(b)?;
        }
        Ok(s)
    }

    /// Appends a bar whose time is after the last one.
    pub fn push(&mut self, bar: Bar) -> Result<(), ValidationError> {
        if let Some(&last) = self.ts.last()
            && bar.ts.as_nanos() <= last
        {
            let reason = if bar.ts.as_nanos() == last {
                "duplicates the previous bar's timestamp".to_string()
            } else {
                format!("is before the previous bar at {}", UnixNanos::new(last))
            };
            return Err(ValidationError::new("ts", bar.ts, reason));
        }
        self.ts.push(bar.ts.as_nanos());
        self.open.push(bar.open);
        self.high.push(bar.high);
        self.low.push(bar.low);
        self.close.push(bar.close);
        self.volume.push(bar.volume);
        Ok(())
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The bar at `i`, if any.
    pub fn get(&self, i: usize) -> Option<Bar> {
        Some(Bar {
            ts: UnixNanos::new(*self.ts.get(i)?),
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        })
    }

    /// All bars in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Bar> + '_ {
        (0..self.len()).map(|i| Bar {
            ts: UnixNanos::new(self.ts[i]),
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        })
    }

    /// Open times in nanoseconds.
    pub fn ts(&self) -> &[i64] {
        &self.ts
    }
    /// Open prices.
    pub fn open(&self) -> &[f64] {
        &self.open
    }
    /// High prices.
    pub fn high(&self) -> &[f64] {
        &self.high
    }
    /// Low prices.
    pub fn low(&self) -> &[f64] {
        &self.low
    }
    /// Close prices.
    pub fn close(&self) -> &[f64] {
        &self.close
    }
    /// Volumes.
    pub fn volume(&self) -> &[f64] {
        &self.volume
    }

    /// First and last open time, if not empty.
    pub fn range(&self) -> Option<(UnixNanos, UnixNanos)> {
        Some((
            UnixNanos::new(*self.ts.first()?),
            UnixNanos::new(*self.ts.last()?),
        ))
    }

    /// The bars with `from <= ts <= to` (either bound optional).
    pub fn slice_time(&self, from: Option<UnixNanos>, to: Option<UnixNanos>) -> Self {
        let lo = from.map_or(0, |f| self.ts.partition_point(|&t| t < f.as_nanos()));
        let hi = to.map_or(self.len(), |t| {
            self.ts.partition_point(|&x| x <= t.as_nanos())
        });
        self.slice(lo, hi.max(lo))
    }

    /// The bars with index in `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.len());
        let start = start.min(end);
        Self {
            ts: self.ts[start..end].to_vec(),
            open: self.open[start..end].to_vec(),
            high: self.high[start..end].to_vec(),
            low: self.low[start..end].to_vec(),
            close: self.close[start..end].to_vec(),
            volume: self.volume[start..end].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> UnixNanos {
        s.parse().unwrap()
    }

    #[test]
    fn bar_invariants_name_field_and_value() {
        let ts = t("2024-01-01");
        assert!(Bar::new(ts, 10.0, 12.0, 9.0, 11.0, 5.0).is_ok());
        let err = Bar::new(ts, 10.0, 10.5, 9.0, 11.0, 5.0).unwrap_err();
        assert_eq!(err.to_string(), "invalid high '10.5': is below close 11");
        let err = Bar::new(ts, 8.0, 12.0, 9.0, 11.0, 5.0).unwrap_err();
        assert_eq!(err.to_string(), "invalid low '9': is above open 8");
        let err = Bar::new(ts, 10.0, 12.0, 9.0, 11.0, -1.0).unwrap_err();
        assert_eq!(err.field, "volume");
        let err = Bar::new(ts, f64::NAN, 12.0, 9.0, 11.0, 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid open 'NaN': must be a finite number"
        );
        let err = Bar::new(ts, 10.0, 8.0, 9.0, 8.5, 1.0).unwrap_err();
        assert_eq!(err.to_string(), "invalid high '8': is below low 9");
    }

    #[test]
    fn series_requires_increasing_time_and_slices() {
        let b = |d: &str, c: f64| Bar::new(t(d), c, c, c, c, 1.0).unwrap();
        let mut s = BarSeries::from_bars([
            b("2024-01-01", 1.0),
            b("2024-01-02", 2.0),
            b("2024-01-03", 3.0),
        ])
        .unwrap();
        let err = s.push(b("2024-01-03", 4.0)).unwrap_err();
        assert!(
            err.to_string()
                .contains("duplicates the previous bar's timestamp"),
            "{err}"
        );
        let err = s.push(b("2023-12-31", 4.0)).unwrap_err();
        assert!(
            err.to_string()
                .contains("is before the previous bar at 2024-01-03T00:00:00Z"),
            "{err}"
        );
        let mid = s.slice_time(Some(t("2024-01-02")), Some(t("2024-01-02T12:00")));
        assert_eq!(mid.close(), &[2.0]);
        assert_eq!(s.slice_time(None, Some(t("2023-01-01"))).len(), 0);
        assert_eq!(s.get(2).unwrap().close, 3.0);
        assert_eq!(s.range().unwrap().1, t("2024-01-03"));
    }
}

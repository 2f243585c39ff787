//! Time as signed nanoseconds since the Unix epoch (UTC), and the [`Clock`] seam.
//!
//! `i64` nanoseconds cover 1677-09-21 to 2262-04-11, which includes the oldest daily stock
//! histories (pre-1970 dates are negative). Parsers convert seconds, milliseconds and
//! microseconds to nanoseconds at the boundary; nothing past a parser holds a bare integer of
//! another unit.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Nanoseconds since 1970-01-01T00:00:00Z. Serialized as an integer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixNanos(i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl UnixNanos {
    /// The epoch itself.
    pub const EPOCH: Self = Self(0);

    /// Wraps a count of nanoseconds.
    pub const fn new(nanos: i64) -> Self {
        Self(nanos)
    }

    /// Converts whole seconds; `None` if the result would not fit.
    pub const fn from_secs(secs: i64) -> Option<Self> {
        match secs.checked_mul(NANOS_PER_SEC) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// Converts milliseconds; `None` if the result would not fit.
    pub const fn from_millis(ms: i64) -> Option<Self> {
        match ms.checked_mul(1_000_000) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// Converts microseconds; `None` if the result would not fit.
    pub const fn from_micros(us: i64) -> Option<Self> {
        match us.checked_mul(1_000) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// The raw nanosecond count.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds, rounded towards negative infinity.
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Whole seconds, rounded towards negative infinity.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// The same instant as a chrono UTC datetime (for display and calendar arithmetic).
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_nanos(self.0)
    }

    /// Converts a chrono datetime. Every `DateTime<Utc>` inside the i64 range converts.
    pub fn from_datetime(dt: DateTime<Utc>) -> Option<Self> {
        dt.timestamp_nanos_opt().map(Self)
    }

    /// Adds a signed number of nanoseconds, saturating at the ends of the range.
    #[must_use]
    pub const fn saturating_add(self, nanos: i64) -> Self {
        Self(self.0.saturating_add(nanos))
    }

    /// RFC 3339 in UTC with the shortest exact fraction (`2024-01-02T03:04:05Z`,
    /// `2024-01-02T03:04:05.250Z`).
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl fmt::Display for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixNanos({} = {})", self.0, self.to_rfc3339())
    }
}

impl FromStr for UnixNanos {
    type Err = ValidationError;

    /// Parses an RFC 3339 datetime (`2024-01-02T03:04:05Z`, any offset), a naive datetime
    /// taken as UTC (`2024-01-02 03:04:05`, `2024-01-02T03:04`), or a date (`2024-01-02`,
    /// midnight UTC).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || {
            ValidationError::new(
                "timestamp",
                s,
                "expected a date like 2024-01-31 or a datetime like 2024-01-31T13:45:00Z",
            )
        };
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Self::from_datetime(dt.with_timezone(&Utc)).ok_or_else(bad);
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
                return Self::from_datetime(naive.and_utc()).ok_or_else(bad);
            }
        }
        if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            let naive = date.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
            return Self::from_datetime(naive.and_utc()).ok_or_else(bad);
        }
        Err(bad())
    }
}

/// The source of "now". Engines take a clock so that backtests, replays and tests control
/// time; only [`SystemClock`] reads the wall clock.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixNanos;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "SystemClock is the one sanctioned reader of the wall clock"
    )]
    fn now(&self) -> UnixNanos {
        UnixNanos::from_datetime(Utc::now()).unwrap_or(UnixNanos(i64::MAX))
    }
}

/// A clock that always answers the same instant (tests, replays).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixNanos);

impl Clock for FixedClock {
    fn now(&self) -> UnixNanos {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_datetimes_as_utc() {
        let d: UnixNanos = "2024-01-02".parse().unwrap();
        assert_eq!(d.as_secs(), 1_704_153_600);
        let dt: UnixNanos = "2024-01-02T01:00:00+01:00".parse().unwrap();
        assert_eq!(dt, d);
        let naive: UnixNanos = "2024-01-02 00:00:00.5".parse().unwrap();
        assert_eq!(naive.as_nanos() - d.as_nanos(), 500_000_000);
    }

    #[test]
    fn displays_rfc3339_and_handles_pre_epoch() {
        let t: UnixNanos = "1962-01-02".parse().unwrap();
        assert!(t.as_nanos() < 0);
        assert_eq!(t.to_string(), "1962-01-02T00:00:00Z");
        assert_eq!(t.as_secs(), -252_374_400);
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        let err = "31/01/2024".parse::<UnixNanos>().unwrap_err();
        assert_eq!(err.field, "timestamp");
        assert!(err.to_string().contains("'31/01/2024'"), "{err}");
        assert!(err.to_string().contains("2024-01-31"), "{err}");
    }

    #[test]
    fn unit_conversions_check_overflow() {
        assert_eq!(
            UnixNanos::from_millis(1_500).unwrap().as_nanos(),
            1_500_000_000
        );
        assert!(UnixNanos::from_secs(i64::MAX / 10).is_none());
        assert_eq!(UnixNanos::new(-1).as_millis(), -1);
    }
}

//! Bar durations: `30s`, `1m`, `5m`, `15m`, `1h`, `4h`, `1d`, `1w` and any other whole number
//! of seconds, minutes, hours, days or weeks.
//!
//! A timeframe is stored as whole seconds and displayed in the largest unit that divides it
//! (`60m` prints as `1h`). Buckets are aligned to the Unix epoch, except weekly buckets, which
//! start on Monday 00:00 UTC as exchanges do. Months are not fixed durations and are rejected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{UnixNanos, ValidationError};

const UNITS: [(char, u32); 5] = [
    ('w', 604_800),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

/// 1970-01-05 was the first Monday after the epoch (a Thursday): weeks start there.
const WEEK_ORIGIN_SECS: i64 = 4 * 86_400;

/// A bar duration in whole seconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeframe {
    secs: u32,
}

impl Timeframe {
    /// One minute.
    pub const M1: Self = Self { secs: 60 };
    /// One hour.
    pub const H1: Self = Self { secs: 3_600 };
    /// One day.
    pub const D1: Self = Self { secs: 86_400 };

    /// A timeframe of `secs` seconds (must be above zero).
    pub fn from_secs(secs: u32) -> Result<Self, ValidationError> {
        if secs == 0 {
            return Err(ValidationError::new(
                "timeframe",
                secs,
                "must be at least 1s",
            ));
        }
        Ok(Self { secs })
    }

    /// Length in seconds.
    pub const fn as_secs(self) -> u32 {
        self.secs
    }

    /// Length in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.secs as i64 * 1_000_000_000
    }

    /// True for weekly multiples, whose buckets are aligned to Monday.
    const fn is_weekly(self) -> bool {
        self.secs.is_multiple_of(604_800)
    }

    /// The start of the bucket containing `ts`.
    pub fn bucket_start(self, ts: UnixNanos) -> UnixNanos {
        let len = self.as_nanos();
        let origin = if self.is_weekly() {
            WEEK_ORIGIN_SECS * 1_000_000_000
        } else {
            0
        };
        let offset = ts.as_nanos() - origin;
        UnixNanos::new(origin + offset.div_euclid(len) * len)
    }

    /// True when bars of `self` can be built from bars of `finer` (a whole multiple, and the
    /// bucket boundaries line up).
    pub fn is_multiple_of(self, finer: Self) -> bool {
        if !self.secs.is_multiple_of(finer.secs) {
            return false;
        }
        // Weekly buckets start on a Monday, which is a whole number of days but not of every
        // sub-day timeframe (e.g. 7h); require that the week origin sits on a finer boundary.
        !self.is_weekly() || (WEEK_ORIGIN_SECS % i64::from(finer.secs)) == 0
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, len) in UNITS {
            if self.secs.is_multiple_of(len) {
                return write!(f, "{}{}", self.secs / len, unit);
            }
        }
        write!(f, "{}s", self.secs)
    }
}

impl fmt::Debug for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timeframe({self})")
    }
}

impl FromStr for Timeframe {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let hint = "use a whole number and a unit s, m, h, d or w, e.g. 1m, 15m, 1h, 4h, 1d, 1w";
        if t.ends_with('M') || t.ends_with("mo") || t.ends_with("mon") {
            return Err(ValidationError::new(
                "timeframe",
                s,
                format!("months have no fixed length and are not supported; {hint}"),
            ));
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u32 = num
            .parse()
            .map_err(|_| ValidationError::new("timeframe", s, hint))?;
        let unit = unit.to_ascii_lowercase();
        let len = match unit.as_str() {
            "s" | "sec" => 1,
            "m" | "min" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            "w" | "week" => 604_800,
            _ => return Err(ValidationError::new("timeframe", s, hint)),
        };
        let secs = n
            .checked_mul(len)
            .filter(|&v| v > 0)
            .ok_or_else(|| ValidationError::new("timeframe", s, hint))?;
        Ok(Self { secs })
    }
}

impl Serialize for Timeframe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeframe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_canonically() {
        for (input, secs, shown) in [
            ("1m", 60, "1m"),
            ("60m", 3_600, "1h"),
            ("4h", 14_400, "4h"),
            ("1d", 86_400, "1d"),
            ("1w", 604_800, "1w"),
            ("90s", 90, "90s"),
            ("15min", 900, "15m"),
        ] {
            let tf: Timeframe = input.parse().unwrap();
            assert_eq!(tf.as_secs(), secs, "{input}");
            assert_eq!(tf.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn rejects_bad_timeframes_with_hints() {
        let err = "1M".parse::<Timeframe>().unwrap_err();
        assert!(
            err.to_string().contains("months have no fixed length"),
            "{err}"
        );
        let err = "5x".parse::<Timeframe>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid timeframe '5x': use a whole number and a unit s, m, h, d or w, e.g. 1m, 15m, 1h, 4h, 1d, 1w"
        );
        assert!("0m".parse::<Timeframe>().is_err());
        assert!("h".parse::<Timeframe>().is_err());
    }

    #[test]
    fn buckets_align_to_epoch_and_weeks_to_monday() {
        let h1 = Timeframe::H1;
        let ts: UnixNanos = "2024-03-05T10:59:59Z".parse().unwrap();
        assert_eq!(h1.bucket_start(ts).to_string(), "2024-03-05T10:00:00Z");
        let w1: Timeframe = "1w".parse().unwrap();
        // 2024-03-07 is a Thursday; its week starts Monday 2024-03-04.
        let thu: UnixNanos = "2024-03-07T12:00:00Z".parse().unwrap();
        assert_eq!(w1.bucket_start(thu).to_string(), "2024-03-04T00:00:00Z");
        let pre: UnixNanos = "1969-12-31T23:30:00Z".parse().unwrap();
        assert_eq!(h1.bucket_start(pre).to_string(), "1969-12-31T23:00:00Z");
        assert!(Timeframe::D1.is_multiple_of(Timeframe::H1));
        assert!(!Timeframe::H1.is_multiple_of("7m".parse().unwrap()));
        assert!(!w1.is_multiple_of("7h".parse().unwrap()));
    }
}

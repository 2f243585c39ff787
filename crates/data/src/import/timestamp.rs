//! Timestamp cells to [`UnixNanos`]: ISO-8601 dates and datetimes, and integer epochs whose
//! unit is detected by magnitude.
//!
//! Text forms (UTC unless an offset is given): `2024-01-31` (midnight),
//! `2024-01-31 13:45`, `2024-01-31 13:45:00`, `2024-01-31T13:45:00.123456789`, each with an
//! optional `Z`, `+02:00`, `+0200` or `+02` suffix (a space before the suffix is allowed).
//!
//! Epoch integers (optionally negative) by absolute value:
//!
//! | absolute value | unit | unambiguous for dates |
//! |---|---|---|
//! | < 10^11 | seconds (a fraction like `1704067200.5` is allowed) | up to year 5138 |
//! | 10^11 ..< 10^14 | milliseconds | 1973-03-03 .. 5138 |
//! | 10^14 ..< 10^17 | microseconds | 1973-03-03 .. 5138 |
//! | >= 10^17 | nanoseconds | 1973-03-03 .. 2262 |
//!
//! An 8-digit integer that is a valid `YYYYMMDD` date with a year from 1900 to 2199 is read
//! as that date (`20240131`), not as seconds in 1970.
//!
//! So any instant from 1973-03-03 on is read correctly in any unit; epochs of earlier
//! instants in ms/µs/ns are misread as a coarser unit (use ISO dates for such data). The unit
//! is detected per value, so a file mixing Binance's millisecond (before 2025) and
//! microsecond (from 2025) open times reads correctly.
//!
//! The parser is hand-written (no allocation, no chrono on the hot path) and never panics.

use std::fmt;

/// How a timestamp was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeFormat {
    /// A date without a time (`2024-01-31`).
    Date,
    /// A date and time, with or without an offset.
    DateTime,
    /// Integer or fractional seconds since the epoch.
    EpochSeconds,
    /// Milliseconds since the epoch.
    EpochMillis,
    /// Microseconds since the epoch.
    EpochMicros,
    /// Nanoseconds since the epoch.
    EpochNanos,
}

impl fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Date => "ISO dates",
            Self::DateTime => "ISO datetimes",
            Self::EpochSeconds => "epoch seconds",
            Self::EpochMillis => "epoch milliseconds",
            Self::EpochMicros => "epoch microseconds",
            Self::EpochNanos => "epoch nanoseconds",
        })
    }
}

/// Parses a trimmed cell. `None` when it is not a timestamp or is out of the `i64`
/// nanosecond range (1677..2262).
pub(crate) fn parse_timestamp(cell: &[u8]) -> Option<(i64, TimeFormat)> {
    let s = cell.trim_ascii();
    let first = *s.first()?;
    if first == b'-' || first == b'+' || s.len() < 5 || s[4] != b'-' {
        return parse_epoch(s);
    }
    parse_iso(s)
}

fn parse_epoch(s: &[u8]) -> Option<(i64, TimeFormat)> {
    let (negative, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], Some(&body[dot + 1..])),
        None => (body, None),
    };
    if int_part.is_empty() || int_part.len() > 19 {
        return None;
    }
    if !negative && frac_part.is_none() && int_part.len() == 8 {
        // `20240131`: a compact date, not epoch seconds in 1970.
        if let Some(date) = parse_compact_date(int_part) {
            return Some(date);
        }
    }
    let mut value: i64 = 0;
    for &b in int_part {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let (nanos, format) = if value < 100_000_000_000 {
        let frac = match frac_part {
            Some(f) => fraction_nanos(f)?,
            None => 0,
        };
        (
            value.checked_mul(1_000_000_000)?.checked_add(frac)?,
            TimeFormat::EpochSeconds,
        )
    } else if frac_part.is_some() {
        return None;
    } else if value < 100_000_000_000_000 {
        (value.checked_mul(1_000_000)?, TimeFormat::EpochMillis)
    } else if value < 100_000_000_000_000_000 {
        (value.checked_mul(1_000)?, TimeFormat::EpochMicros)
    } else {
        (value, TimeFormat::EpochNanos)
    };
    Some((if negative { -nanos } else { nanos }, format))
}

/// `YYYYMMDD` with a year from 1900 to 2199, as midnight UTC.
fn parse_compact_date(s: &[u8]) -> Option<(i64, TimeFormat)> {
    let (year, month, day) = (digits(s, 0, 4)?, digits(s, 4, 2)?, digits(s, 6, 2)?);
    if !(1900..2200).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    Some((
        days_from_civil(year, month, day) * 86_400_000_000_000,
        TimeFormat::Date,
    ))
}

/// Up to nine fraction digits as nanoseconds (`5` -> 500_000_000); more digits must be
/// digits but are truncated.
fn fraction_nanos(f: &[u8]) -> Option<i64> {
    if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nanos: i64 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + f.get(i).map_or(0, |&b| i64::from(b - b'0'));
    }
    Some(nanos)
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = s.get(at..at + n)?;
    let mut v = 0i64;
    for &b in part {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(v)
}

fn parse_iso(s: &[u8]) -> Option<(i64, TimeFormat)> {
    let year = digits(s, 0, 4)?;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(s, 5, 2)?;
    let day = digits(s, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if s.len() == 10 {
        return Some((days.checked_mul(86_400_000_000_000)?, TimeFormat::Date));
    }
    if !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    let hour = digits(s, 11, 2)?;
    if s.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(s, 14, 2)?;
    let mut at = 16;
    let mut second = 0;
    let mut frac = 0;
    if s.get(at) == Some(&b':') {
        second = digits(s, at + 1, 2)?;
        at += 3;
        if s.get(at) == Some(&b'.') || s.get(at) == Some(&b',') {
            let start = at + 1;
            let end = s[start..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(s.len(), |p| start + p);
            frac = fraction_nanos(&s[start..end])?;
            at = end;
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_secs = parse_offset(&s[at..])?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(hour * 3_600 + minute * 60 + second - offset_secs)?;
    let nanos = secs.checked_mul(1_000_000_000)?.checked_add(frac)?;
    Some((nanos, TimeFormat::DateTime))
}

/// `""`, `Z`, `UTC`, `+02:00`, `+0200`, `+02` (optionally after a space) as seconds east of UTC.
fn parse_offset(s: &[u8]) -> Option<i64> {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    match s {
        b"" | b"Z" | b"z" | b"UTC" | b"+00:00" => return Some(0),
        _ => {}
    }
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits(s, 1, 2)?;
    let minutes = match s.len() {
        3 => 0,
        5 => digits(s, 3, 2)?,
        6 if s[3] == b':' => digits(s, 4, 2)?,
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600 + minutes * 60))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use skeet_core::UnixNanos;

    use super::*;

    fn ns(s: &str) -> i64 {
        s.parse::<UnixNanos>().unwrap().as_nanos()
    }

    #[test]
    fn iso_forms_match_chrono() {
        for (cell, expected, format) in [
            ("2024-01-31", "2024-01-31", TimeFormat::Date),
            ("1962-01-02", "1962-01-02", TimeFormat::Date),
            (
                "2024-02-29 13:45",
                "2024-02-29T13:45:00Z",
                TimeFormat::DateTime,
            ),
            (
                "2024-01-31 13:45:00",
                "2024-01-31T13:45:00Z",
                TimeFormat::DateTime,
            ),
            (
                "2024-01-31T13:45:00Z",
                "2024-01-31T13:45:00Z",
                TimeFormat::DateTime,
            ),
            (
                "2024-01-31t13:45:00.25",
                "2024-01-31T13:45:00.25Z",
                TimeFormat::DateTime,
            ),
            (
                "2024-01-31T13:45:00+02:00",
                "2024-01-31T11:45:00Z",
                TimeFormat::DateTime,
            ),
            (
                "2024-01-31 13:45:00-0500",
                "2024-01-31T18:45:00Z",
                TimeFormat::DateTime,
            ),
            (
                "2024-01-31 13:45:00 +01",
                "2024-01-31T12:45:00Z",
                TimeFormat::DateTime,
            ),
            (
                "2024-01-31 13:45:00 UTC",
                "2024-01-31T13:45:00Z",
                TimeFormat::DateTime,
            ),
            (
                " 2024-01-31T13:45:00.123456789Z ",
                "2024-01-31T13:45:00.123456789Z",
                TimeFormat::DateTime,
            ),
        ] {
            assert_eq!(
                parse_timestamp(cell.as_bytes()),
                Some((ns(expected), format)),
                "{cell}"
            );
        }
    }

    #[test]
    fn epochs_by_magnitude() {
        let t = ns("2024-01-01");
        for (cell, format) in [
            ("1704067200", TimeFormat::EpochSeconds),
            ("1704067200000", TimeFormat::EpochMillis),
            ("1704067200000000", TimeFormat::EpochMicros),
            ("1704067200000000000", TimeFormat::EpochNanos),
        ] {
            assert_eq!(
                parse_timestamp(cell.as_bytes()),
                Some((t, format)),
                "{cell}"
            );
        }
        assert_eq!(
            parse_timestamp(b"1704067200.5"),
            Some((t + 500_000_000, TimeFormat::EpochSeconds))
        );
        assert_eq!(parse_timestamp(b"20240101"), Some((t, TimeFormat::Date)));
        assert_eq!(
            parse_timestamp(b"-86400"),
            Some((-86_400_000_000_000, TimeFormat::EpochSeconds))
        );
        // 1973-03-03 is the first instant whose milliseconds reach 10^11.
        assert_eq!(
            parse_timestamp(b"100000000000").map(|p| p.1),
            Some(TimeFormat::EpochMillis)
        );
    }

    #[test]
    fn rejects_garbage() {
        for cell in [
            "",
            "-",
            "abc",
            "2024-13-01",
            "2024-02-30",
            "2023-02-29",
            "2024-01-31 25:00",
            "2024-01-31T13:4",
            "2024-01-31X13:45",
            "31/01/2024",
            "2024-01-31 13:45:00+2",
            "1704067200000.5",
            "99999999999999999999",
            "12.3x",
            "2024-01-31 13:45:00.",
            "1e9",
        ] {
            assert_eq!(parse_timestamp(cell.as_bytes()), None, "{cell}");
        }
    }
}

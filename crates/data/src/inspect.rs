//! A health report of a series: range, expected and missing bars, the largest gaps, price
//! extremes and zero-volume bars.
//!
//! Gaps: consecutive bars more than one timeframe apart leave `floor(spacing / timeframe) - 1`
//! missing bars (so a 25-hour step in daily data, from a daylight-saving shift, is not a
//! gap). Expected bars = bars + missing bars. Each missing bar is classed by the UTC weekday
//! of its open time; a gap whose missing bars all fall on Saturday or Sunday is
//! *weekend-only*, which is normal for stock and forex data, so the report counts those
//! apart and lists the largest other gaps first. Holidays are not known: a Monday holiday
//! shows as a gap that spans a weekend plus one weekday.
//!
//! The timeframe is the series' own for stored data; for a CSV file it is given or inferred
//! as the most common spacing between bars ([`infer_timeframe`]).

use std::collections::HashMap;

use skeet_core::{BarSeries, Timeframe, UnixNanos};

use crate::series_hash;

const DAY: i64 = 86_400_000_000_000;

/// Gaps longer than this are certain to contain weekdays and weekend days; shorter ones are
/// classed bar by bar.
const CLASSIFY_LIMIT: i64 = 8 * DAY;

/// A run of missing bars between two bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The bar before the gap.
    pub after: UnixNanos,
    /// The bar after the gap.
    pub before: UnixNanos,
    /// Bars missing between them.
    pub missing_bars: u64,
    /// True when every missing bar falls on a Saturday or Sunday (UTC).
    pub weekend_only: bool,
    /// True when some missing bar falls on a Saturday or Sunday (UTC).
    pub spans_weekend: bool,
}

/// The report of [`inspect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The timeframe used to find gaps.
    pub timeframe: Timeframe,
    /// Number of bars.
    pub bars: u64,
    /// First open time.
    pub first: Option<UnixNanos>,
    /// Last open time.
    pub last: Option<UnixNanos>,
    /// Bars a gap-free series over the same range would have.
    pub expected_bars: u64,
    /// Missing bars in all gaps.
    pub missing_bars: u64,
    /// Number of gaps.
    pub gaps: u64,
    /// Gaps whose missing bars are all on weekends.
    pub weekend_only_gaps: u64,
    /// Gaps that include weekend and weekday bars.
    pub weekend_spanning_gaps: u64,
    /// The largest gaps, those with weekday bars missing first, then by size.
    pub largest_gaps: Vec<Gap>,
    /// Consecutive bars closer than the timeframe (0 for a stored series).
    pub closer_than_timeframe: u64,
    /// Lowest low and when.
    pub min_low: Option<(f64, UnixNanos)>,
    /// Highest high and when.
    pub max_high: Option<(f64, UnixNanos)>,
    /// Bars with zero volume.
    pub zero_volume_bars: u64,
    /// [`series_hash`] of the bars.
    pub hash: String,
}

/// Monday = 0 ... Sunday = 6, of the UTC day holding `ts`.
fn weekday(ts: i64) -> i64 {
    // 1970-01-01 was a Thursday (3).
    (ts.div_euclid(DAY) + 3).rem_euclid(7)
}

fn is_weekend(ts: i64) -> bool {
    weekday(ts) >= 5
}

/// Builds the report, listing at most `max_gaps` gaps.
pub fn inspect(bars: &BarSeries, timeframe: Timeframe, max_gaps: usize) -> Inspection {
    let ts = bars.ts();
    let tf = timeframe.as_nanos();
    let mut gaps = Vec::new();
    let mut closer = 0u64;
    let mut missing_total = 0u64;
    for w in ts.windows(2) {
        // Saturating: a series may span more than i64::MAX nanoseconds (1677 to 2262).
        let delta = w[1].saturating_sub(w[0]);
        if delta < tf {
            closer += 1;
            continue;
        }
        let missing = delta / tf - 1;
        if missing < 1 {
            continue;
        }
        let missing = u64::try_from(missing).unwrap_or(0);
        missing_total += missing;
        let (weekend_only, spans_weekend) = if delta > CLASSIFY_LIMIT {
            (false, true)
        } else {
            let (mut weekend, mut weekday) = (false, false);
            let first_missing = w[0] + tf;
            let last_missing = w[0] + i64::try_from(missing).unwrap_or(0) * tf;
            if tf <= DAY {
                // Every UTC day between the first and last missing bar holds one of them.
                let mut day = first_missing.div_euclid(DAY);
                while day <= last_missing.div_euclid(DAY) {
                    if is_weekend(day * DAY) {
                        weekend = true;
                    } else {
                        weekday = true;
                    }
                    day += 1;
                }
            } else {
                let mut t = first_missing;
                while t <= last_missing {
                    if is_weekend(t) {
                        weekend = true;
                    } else {
                        weekday = true;
                    }
                    t += tf;
                }
            }
            (!weekday, weekend)
        };
        gaps.push(Gap {
            after: UnixNanos::new(w[0]),
            before: UnixNanos::new(w[1]),
            missing_bars: missing,
            weekend_only,
            spans_weekend,
        });
    }
    let gap_count = u64::try_from(gaps.len()).unwrap_or(u64::MAX);
    let weekend_only_gaps = count(&gaps, |g| g.weekend_only);
    let weekend_spanning_gaps = count(&gaps, |g| g.spans_weekend && !g.weekend_only);
    gaps.sort_by_key(|g| (g.weekend_only, std::cmp::Reverse(g.missing_bars), g.after));
    gaps.truncate(max_gaps);
    let extreme = |values: &[f64], lowest: bool| -> Option<(f64, UnixNanos)> {
        let mut best: Option<(f64, UnixNanos)> = None;
        for (&v, &t) in values.iter().zip(ts) {
            let better = best.is_none_or(|(b, _)| if lowest { v < b } else { v > b });
            if better {
                best = Some((v, UnixNanos::new(t)));
            }
        }
        best
    };
    let n = u64::try_from(bars.len()).unwrap_or(u64::MAX);
    Inspection {
        timeframe,
        bars: n,
        first: bars.range().map(|r| r.0),
        last: bars.range().map(|r| r.1),
        expected_bars: n + missing_total,
        missing_bars: missing_total,
        gaps: gap_count,
        weekend_only_gaps,
        weekend_spanning_gaps,
        largest_gaps: gaps,
        closer_than_timeframe: closer,
        min_low: extreme(bars.low(), true),
        max_high: extreme(bars.high(), false),
        zero_volume_bars: u64::try_from(bars.volume().iter().filter(|&&v| v == 0.0).count())
            .unwrap_or(u64::MAX),
        hash: series_hash(bars),
    }
}

fn count(gaps: &[Gap], pred: impl Fn(&Gap) -> bool) -> u64 {
    u64::try_from(gaps.iter().filter(|g| pred(g)).count()).unwrap_or(u64::MAX)
}

/// The most common spacing between consecutive bars, as a timeframe (ties: the smaller).
/// `None` for fewer than two bars or when that spacing is not whole seconds.
pub fn infer_timeframe(bars: &BarSeries) -> Option<Timeframe> {
    let mut counts: HashMap<i64, u64> = HashMap::new();
    for w in bars.ts().windows(2) {
        *counts.entry(w[1].saturating_sub(w[0])).or_default() += 1;
    }
    let (&spacing, _) = counts
        .iter()
        .max_by_key(|&(&spacing, &n)| (n, std::cmp::Reverse(spacing)))?;
    if spacing % 1_000_000_000 != 0 {
        return None;
    }
    Timeframe::from_secs(u32::try_from(spacing / 1_000_000_000).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use skeet_core::Bar;

    use super::*;

    fn daily(dates: &[&str]) -> BarSeries {
        BarSeries::from_bars(dates.iter().enumerate().map(|(i, d)| {
            let p = 10.0 + i as f64;
            Bar::new(
                d.parse().unwrap(),
                p,
                p + 1.0,
                p - 1.0,
                p,
                if i == 1 { 0.0 } else { 5.0 },
            )
            .unwrap()
        }))
        .unwrap()
    }

    #[test]
    fn classes_weekend_and_weekday_gaps() {
        // 2024-01-05 is a Friday, 2024-01-15 a Monday (a US holiday).
        let bars = daily(&[
            "2024-01-04",
            "2024-01-05",
            "2024-01-08",
            "2024-01-09",
            "2024-01-12",
            "2024-01-16",
        ]);
        let r = inspect(&bars, Timeframe::D1, 5);
        assert_eq!(r.bars, 6);
        assert_eq!(r.gaps, 3);
        assert_eq!(r.missing_bars, 2 + 2 + 3);
        assert_eq!(r.expected_bars, 13);
        assert_eq!(r.weekend_only_gaps, 1);
        assert_eq!(r.weekend_spanning_gaps, 1);
        // Weekday gaps first, larger first: Fri 12 -> Tue 16 (Sat, Sun, Mon), then
        // Tue 9 -> Fri 12 (Wed, Thu), then the weekend.
        assert_eq!(r.largest_gaps[0].after, "2024-01-12".parse().unwrap());
        assert_eq!(r.largest_gaps[0].missing_bars, 3);
        assert!(r.largest_gaps[0].spans_weekend && !r.largest_gaps[0].weekend_only);
        assert_eq!(r.largest_gaps[1].after, "2024-01-09".parse().unwrap());
        assert!(!r.largest_gaps[1].spans_weekend);
        assert!(r.largest_gaps[2].weekend_only);
        assert_eq!(r.zero_volume_bars, 1);
        assert_eq!(r.min_low, Some((9.0, "2024-01-04".parse().unwrap())));
        assert_eq!(r.max_high, Some((16.0, "2024-01-16".parse().unwrap())));
        assert_eq!(infer_timeframe(&bars), Some(Timeframe::D1));
    }

    #[test]
    fn dst_steps_are_not_gaps_and_empty_series_are_fine() {
        let bars = daily(&["2024-01-04T00:00:00Z", "2024-01-05T01:00:00Z"]);
        let r = inspect(&bars, Timeframe::D1, 5);
        assert_eq!((r.gaps, r.expected_bars), (0, 2));
        let empty = inspect(&BarSeries::new(), Timeframe::D1, 5);
        assert_eq!((empty.bars, empty.first, empty.min_low), (0, None, None));
        assert_eq!(infer_timeframe(&BarSeries::new()), None);
    }
}

//! Coarser bars from finer ones: `1m` into `1h`, `1h` into `1d`, ...
//!
//! Each source bar goes to the bucket `to.bucket_start(ts)` (epoch-aligned; weekly buckets
//! start on Monday 00:00 UTC). A bucket's bar has the first open, the highest high, the
//! lowest low, the last close and the summed volume of its source bars, and the bucket's
//! start as its time. Buckets without source bars produce no bar (gaps stay gaps).
//!
//! The last bucket is *partial* when the data ends before the bucket does (its last source
//! bar closes before the bucket's end): it is still forming, so it is dropped unless
//! `keep_partial` is set. The first bucket may start mid-way through the data's first bucket;
//! it is kept, like any bucket with missing source bars.

use skeet_core::{Bar, BarSeries, Timeframe};

use crate::{DataError, Result};

/// The outcome of [`resample`].
#[derive(Debug, Clone, PartialEq)]
pub struct Resampled {
    /// The coarser bars.
    pub bars: BarSeries,
    /// True when a partial last bucket was dropped.
    pub dropped_partial: bool,
}

/// Aggregates `bars` of timeframe `from` into bars of timeframe `to`.
///
/// # Errors
/// [`DataError::NotAMultiple`] when `to` is not longer than `from` or not a whole multiple of
/// it (with aligned bucket boundaries).
pub fn resample(
    bars: &BarSeries,
    from: Timeframe,
    to: Timeframe,
    keep_partial: bool,
) -> Result<Resampled> {
    if to <= from || !to.is_multiple_of(from) {
        let factor = to.as_secs().div_ceil(from.as_secs()).max(2);
        let example = from
            .as_secs()
            .checked_mul(factor)
            .and_then(|s| Timeframe::from_secs(s).ok())
            .map_or_else(|| "a longer timeframe".to_string(), |t| t.to_string());
        return Err(DataError::NotAMultiple { from, to, example });
    }
    let ratio = usize::try_from(to.as_secs() / from.as_secs())
        .unwrap_or(1)
        .max(1);
    let mut out = BarSeries::with_capacity(bars.len() / ratio + 1);
    let mut current: Option<Bar> = None;
    let mut last_source_ts = 0;
    for bar in bars.iter() {
        let bucket = to.bucket_start(bar.ts);
        last_source_ts = bar.ts.as_nanos();
        current = Some(match current {
            Some(acc) if acc.ts == bucket => Bar {
                ts: bucket,
                open: acc.open,
                high: acc.high.max(bar.high),
                low: acc.low.min(bar.low),
                close: bar.close,
                volume: acc.volume + bar.volume,
            },
            Some(acc) => {
                push(&mut out, acc)?;
                Bar { ts: bucket, ..bar }
            }
            None => Bar { ts: bucket, ..bar },
        });
    }
    let mut dropped_partial = false;
    if let Some(acc) = current {
        let bucket_end = acc.ts.as_nanos().saturating_add(to.as_nanos());
        let covered_until = last_source_ts.saturating_add(from.as_nanos());
        if covered_until >= bucket_end || keep_partial {
            push(&mut out, acc)?;
        } else {
            dropped_partial = true;
        }
    }
    Ok(Resampled {
        bars: out,
        dropped_partial,
    })
}

fn push(out: &mut BarSeries, bar: Bar) -> Result<()> {
    // The aggregate of valid bars is valid, and buckets of increasing times increase; a
    // failure would be a bug, reported rather than panicking.
    let checked = Bar::new(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)?;
    out.push(checked)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use skeet_core::UnixNanos;

    use super::*;

    const M: i64 = 60_000_000_000;

    fn minutes(n: i64, start: i64) -> BarSeries {
        BarSeries::from_bars((start..start + n).map(|i| {
            let p = 100.0 + (i % 7) as f64;
            Bar::new(UnixNanos::new(i * M), p, p + 1.0, p - 1.0, p + 0.5, 2.0).unwrap()
        }))
        .unwrap()
    }

    #[test]
    fn aggregates_ohlcv_per_bucket() {
        let bars = minutes(120, 0);
        let h: Timeframe = "1h".parse().unwrap();
        let out = resample(&bars, Timeframe::M1, h, false).unwrap();
        assert_eq!(out.bars.len(), 2);
        assert!(!out.dropped_partial);
        let first = out.bars.get(0).unwrap();
        assert_eq!(first.ts, UnixNanos::new(0));
        assert_eq!(first.open, bars.open()[0]);
        assert_eq!(first.close, bars.close()[59]);
        assert_eq!(first.high, 107.0);
        assert_eq!(first.low, 99.0);
        assert_eq!(first.volume, 120.0);
    }

    #[test]
    fn drops_partial_last_bucket_unless_asked() {
        let bars = minutes(90, 0);
        let h: Timeframe = "1h".parse().unwrap();
        let out = resample(&bars, Timeframe::M1, h, false).unwrap();
        assert_eq!(out.bars.len(), 1);
        assert!(out.dropped_partial);
        let kept = resample(&bars, Timeframe::M1, h, true).unwrap();
        assert_eq!(kept.bars.len(), 2);
        assert_eq!(kept.bars.volume()[1], 60.0);
        // A first bucket starting mid-way is kept.
        let late = resample(&minutes(45, 15), Timeframe::M1, h, false).unwrap();
        assert_eq!(late.bars.len(), 1);
    }

    #[test]
    fn refuses_targets_that_are_not_multiples() {
        let h: Timeframe = "1h".parse().unwrap();
        let err = resample(&minutes(10, 0), h, "90m".parse().unwrap(), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot resample 1h bars to 90m: the target must be a longer whole multiple of 1h \
             (with aligned bucket boundaries); choose a target such as 2h"
        );
        let err = resample(&minutes(10, 0), h, Timeframe::M1, false).unwrap_err();
        assert!(err.to_string().contains("such as 2h"), "{err}");
        assert!(resample(&minutes(10, 0), h, h, false).is_err());
    }
}

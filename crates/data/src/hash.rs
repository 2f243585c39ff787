//! [`series_hash`]: a content hash of a series of bars, so a backtest report can say exactly
//! which data it ran on and a later run can check it has the same.
//!
//! Layout hashed with SHA-256, per bar in order, 48 bytes: `ts` as i64 little-endian
//! (nanoseconds), then `open, high, low, close, volume` as IEEE-754 f64 little-endian bit
//! patterns. No header, no separator; an empty series hashes the empty input. In Python:
//! `sha256(b"".join(struct.pack("<qddddd", *row) for row in rows)).hexdigest()`.

use sha2::{Digest, Sha256};
use skeet_core::BarSeries;

/// Bars hashed per `update` call (a 48 KiB stack buffer).
const CHUNK: usize = 1024;

/// Returns the lowercase hex SHA-256 of the bars in the layout described in the module docs.
pub fn series_hash(bars: &BarSeries) -> String {
    let mut hasher = Sha256::new();
    let mut buf = [0u8; CHUNK * 48];
    let (ts, o, h, l, c, v) = (
        bars.ts(),
        bars.open(),
        bars.high(),
        bars.low(),
        bars.close(),
        bars.volume(),
    );
    let mut start = 0;
    while start < bars.len() {
        let end = (start + CHUNK).min(bars.len());
        let mut at = 0;
        for i in start..end {
            buf[at..at + 8].copy_from_slice(&ts[i].to_le_bytes());
            for (k, x) in [o[i], h[i], l[i], c[i], v[i]].into_iter().enumerate() {
                let off = at + 8 + k * 8;
                buf[off..off + 8].copy_from_slice(&x.to_le_bytes());
            }
            at += 48;
        }
        hasher.update(&buf[..at]);
        start = end;
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use skeet_core::{Bar, UnixNanos};

    use super::*;

    #[test]
    fn hash_is_fixed_for_known_bars_and_sensitive_to_every_field() {
        assert_eq!(
            series_hash(&BarSeries::new()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let bar = Bar::new(UnixNanos::new(1_000), 1.0, 2.0, 0.5, 1.5, 10.0).unwrap();
        let one = BarSeries::from_bars([bar]).unwrap();
        // Reference: python3 -c "import hashlib,struct;
        //   print(hashlib.sha256(struct.pack('<qddddd',1000,1,2,.5,1.5,10)).hexdigest())"
        assert_eq!(series_hash(&one), REFERENCE_ONE_BAR);
        let changed = BarSeries::from_bars([Bar {
            volume: 11.0,
            ..bar
        }])
        .unwrap();
        assert_ne!(series_hash(&changed), series_hash(&one));
        let many = BarSeries::from_bars((0..3000).map(|i| Bar {
            ts: UnixNanos::new(i),
            ..bar
        }))
        .unwrap();
        assert_eq!(series_hash(&many).len(), 64);
    }

    const REFERENCE_ONE_BAR: &str =
        "a448f42957b885edce902a32e1d3c546966e538f54dff57a031d7416b632ea6f";
}

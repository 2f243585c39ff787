//! A small cache of recently read series: people run many backtests on the same dataset,
//! and reading and hashing the bars costs more than a short backtest itself.
//!
//! Invariant: an entry is used only while the file on disk is the one it was read from
//! (same size, modification time and, on Unix, inode); a replaced or merged series (the
//! store writes a new file and renames it over the old one) is read again.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use skeet_core::BarSeries;
use skeet_data::{DataError, MarketStore, SeriesKey, series_hash};

/// Series kept.
const ENTRIES: usize = 8;
/// Bars kept in all (about 48 bytes each).
const MAX_BARS: usize = 20_000_000;

#[derive(Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode,
    })
}

struct Entry {
    path: PathBuf,
    stamp: Stamp,
    bars: BarSeries,
    hash: String,
}

/// Most recently used last.
static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The bars of `key` and their hash, from the cache when the file is unchanged.
///
/// # Errors
/// As [`MarketStore::read`].
pub(crate) fn read(store: &MarketStore, key: &SeriesKey) -> Result<(BarSeries, String), DataError> {
    let path = store.path_of(key);
    let now = stamp(&path);
    {
        let mut cache = CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = cache
            .iter()
            .position(|e| e.path == path && Some(&e.stamp) == now.as_ref())
        {
            let e = cache.remove(i);
            let found = (e.bars.clone(), e.hash.clone());
            cache.push(e);
            return Ok(found);
        }
    }
    let bars = store.read(key, None, None)?;
    let hash = series_hash(&bars);
    // Stamp taken before the read: if the file changed in between, the entry will not match
    // the next stamp and is simply read again.
    if let Some(stamp) = now {
        let mut cache = CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|e| e.path != path);
        cache.push(Entry {
            path,
            stamp,
            bars: bars.clone(),
            hash: hash.clone(),
        });
        while cache.len() > ENTRIES || cache.iter().map(|e| e.bars.len()).sum::<usize>() > MAX_BARS
        {
            cache.remove(0);
        }
    }
    Ok((bars, hash))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use skeet_core::{Symbol, Timeframe, Venue};
    use skeet_data::generate::{GenerateParams, generate};
    use skeet_data::{NoProgress, WriteMode};

    use super::*;

    #[test]
    fn a_replaced_series_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = MarketStore::in_data_dir(dir.path()).unwrap();
        let key = SeriesKey::new(
            Venue::new("synthetic").unwrap(),
            Symbol::new("CACHE/TEST").unwrap(),
            Timeframe::H1,
        );
        let first = generate(&GenerateParams::new(Timeframe::H1, 300, 1), &NoProgress).unwrap();
        store.write(&key, &first, WriteMode::Replace).unwrap();
        let (a, ha) = read(&store, &key).unwrap();
        let (b, hb) = read(&store, &key).unwrap();
        assert_eq!((a.close(), &ha), (b.close(), &hb));
        assert_eq!(ha, series_hash(&first));
        let second = generate(&GenerateParams::new(Timeframe::H1, 300, 2), &NoProgress).unwrap();
        store.write(&key, &second, WriteMode::Replace).unwrap();
        let (c, hc) = read(&store, &key).unwrap();
        assert_eq!(c.close(), second.close());
        assert_eq!(hc, series_hash(&second));
    }
}

//! [`MarketStore`]: stored series of bars, one Parquet file per venue / symbol / timeframe.
//!
//! Layout under the store root (by default `<data_dir>/market/`):
//! `venue=<venue>/symbol=<SYMBOL with '/' as '_'>/timeframe=<tf>/bars.parquet` (see
//! [`SeriesKey::relative_dir`]); the file format is described in `parquet_file.rs` and
//! `docs/data.md`.
//!
//! Invariants:
//! - A stored series is a valid [`BarSeries`]: bars pass [`skeet_core::Bar::new`], open times
//!   strictly increase, no duplicates.
//! - Writes are atomic: the new file is written to a hidden temporary file in the same
//!   directory (`.bars-*.parquet.tmp`), synced, renamed over `bars.parquet`, and the directory
//!   is synced. A failure at any point leaves the previous file (or no file) in place and no
//!   temporary file behind.
//! - [`WriteMode::Merge`] never duplicates a timestamp: where old and new bars share one, the
//!   new bar wins.
//!
//! Known limitation: one writer per series at a time (no lock file); concurrent merges into
//! the same series can lose one of the writes.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use skeet_core::{BarSeries, Symbol, Timeframe, UnixNanos};

use crate::parquet_file::{read_bars, read_summary, write_bars};
use crate::{DataError, Result, SeriesKey};

/// The name of the data file inside a partition directory.
const FILE_NAME: &str = "bars.parquet";

/// How [`MarketStore::write`] treats bars already stored under the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Keeps stored bars and adds the new ones; on a shared timestamp the new bar wins.
    #[default]
    Merge,
    /// Discards whatever was stored and writes only the new bars.
    Replace,
}

/// What a write changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// The file written.
    pub path: PathBuf,
    /// New bars at timestamps that were not stored before.
    pub added: u64,
    /// Stored bars overwritten by a new bar with different values at the same timestamp.
    pub replaced: u64,
    /// New bars identical to the stored bar at the same timestamp.
    pub unchanged: u64,
    /// Stored bars dropped ([`WriteMode::Replace`] only).
    pub removed: u64,
    /// Bars in the file after the write.
    pub total: u64,
    /// First and last open time in the file after the write.
    pub range: Option<(UnixNanos, UnixNanos)>,
}

/// One stored series, as listed by [`MarketStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    /// Which series.
    pub key: SeriesKey,
    /// Number of bars.
    pub bars: u64,
    /// First open time (`None` only for an empty file).
    pub first: Option<UnixNanos>,
    /// Last open time.
    pub last: Option<UnixNanos>,
    /// Size of the Parquet file in bytes.
    pub file_size: u64,
    /// The Parquet file.
    pub path: PathBuf,
}

/// A directory of stored series. Cheap to create; touches the disk only when used.
#[derive(Debug, Clone)]
pub struct MarketStore {
    root: PathBuf,
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DataError + 'a {
    move |source| DataError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl MarketStore {
    /// Opens the store rooted at `root` (the directory that holds the `venue=...`
    /// directories). The directory is created on the first write.
    ///
    /// # Errors
    /// [`DataError::Io`] when `root` exists but is not a directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(DataError::Io {
                action: "use as the market data directory",
                path: root,
                source: std::io::Error::other("it is a file, not a directory"),
            });
        }
        Ok(Self { root })
    }

    /// Opens the store inside a SKEET data directory: `<data_dir>/market`.
    ///
    /// # Errors
    /// As [`MarketStore::open`].
    pub fn in_data_dir(data_dir: &Path) -> Result<Self> {
        Self::open(data_dir.join("market"))
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Parquet file of a series (whether or not it exists).
    pub fn path_of(&self, key: &SeriesKey) -> PathBuf {
        self.root.join(key.relative_dir()).join(FILE_NAME)
    }

    /// True when a series is stored under `key`.
    pub fn contains(&self, key: &SeriesKey) -> bool {
        self.path_of(key).is_file()
    }

    /// Reads the bars of a series with `from <= ts <= to` (either bound optional).
    ///
    /// # Errors
    /// [`DataError::NotFound`] when nothing is stored under `key`; [`DataError::CorruptFile`],
    /// [`DataError::Parquet`] or [`DataError::Io`] when the file cannot be read as bars.
    pub fn read(
        &self,
        key: &SeriesKey,
        from: Option<UnixNanos>,
        to: Option<UnixNanos>,
    ) -> Result<BarSeries> {
        let path = self.path_of(key);
        if !path.is_file() {
            return Err(DataError::NotFound { key: *key });
        }
        let bars = read_bars(&path)?;
        Ok(if from.is_none() && to.is_none() {
            bars
        } else {
            bars.slice_time(from, to)
        })
    }

    /// Writes bars under `key`, merging with or replacing what is stored (see [`WriteMode`]).
    /// Merging an empty series changes nothing and writes nothing.
    ///
    /// # Errors
    /// [`DataError::EmptySeries`] when replacing with no bars; read errors of the stored
    /// file when merging; [`DataError::Io`] / [`DataError::Parquet`] when writing fails (the
    /// store is then unchanged).
    pub fn write(&self, key: &SeriesKey, bars: &BarSeries, mode: WriteMode) -> Result<WriteReport> {
        let path = self.path_of(key);
        let exists = path.is_file();
        let (merged, mut report) = match mode {
            WriteMode::Replace => {
                if bars.is_empty() {
                    return Err(DataError::EmptySeries { action: "write" });
                }
                let removed = if exists {
                    read_summary(&path).map_or(0, |s| s.rows)
                } else {
                    0
                };
                let report = WriteReport {
                    path,
                    added: len_u64(bars),
                    replaced: 0,
                    unchanged: 0,
                    removed,
                    total: 0,
                    range: None,
                };
                (None, report)
            }
            WriteMode::Merge => {
                let old = if exists {
                    read_bars(&path)?
                } else {
                    BarSeries::new()
                };
                let (merged, added, replaced, unchanged) = merge(&old, bars);
                let report = WriteReport {
                    path,
                    added,
                    replaced,
                    unchanged,
                    removed: 0,
                    total: 0,
                    range: None,
                };
                (Some(merged), report)
            }
        };
        let to_write = merged.as_ref().unwrap_or(bars);
        report.total = len_u64(to_write);
        report.range = to_write.range();
        if to_write.is_empty() || (report.added == 0 && report.replaced == 0 && exists) {
            // Nothing new: leave the file (and its modification time) alone.
            return Ok(report);
        }
        self.write_atomic(key, to_write)?;
        Ok(report)
    }

    fn write_atomic(&self, key: &SeriesKey, bars: &BarSeries) -> Result<()> {
        let dir = self.root.join(key.relative_dir());
        // Remember which directories this write creates, to remove them again on failure.
        let mut created = Vec::new();
        let mut probe = dir.as_path();
        while !probe.exists() {
            created.push(probe.to_path_buf());
            match probe.parent() {
                Some(parent) => probe = parent,
                None => break,
            }
        }
        let result = self.write_in(&dir, key, bars);
        if result.is_err() {
            for d in &created {
                // Best effort: only empty directories are removed.
                let _ = fs::remove_dir(d);
            }
        }
        result
    }

    fn write_in(&self, dir: &Path, key: &SeriesKey, bars: &BarSeries) -> Result<()> {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".bars-")
            .suffix(".parquet.tmp")
            .tempfile_in(dir)
            .map_err(io_err("create a temporary file in", dir))?;
        let tmp_path = tmp.path().to_path_buf();
        let sink = BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        let mut sink = write_bars(sink, key, bars).map_err(|source| DataError::Parquet {
            path: tmp_path.clone(),
            source,
        })?;
        sink.flush().map_err(io_err("write", &tmp_path))?;
        drop(sink);
        tmp.as_file()
            .sync_all()
            .map_err(io_err("sync", &tmp_path))?;
        let path = dir.join(FILE_NAME);
        // On error the temporary file is deleted when `persist`'s error value drops.
        tmp.persist(&path).map_err(|e| DataError::Io {
            action: "rename the temporary file to",
            path: path.clone(),
            source: e.error,
        })?;
        // Make the rename itself durable. Directories cannot be opened for syncing on every
        // platform; the file is complete either way.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Deletes a stored series (and its now-empty partition directories).
    ///
    /// # Errors
    /// [`DataError::NotFound`] when nothing is stored under `key`; [`DataError::Io`] when the
    /// file cannot be deleted.
    pub fn remove(&self, key: &SeriesKey) -> Result<()> {
        let path = self.path_of(key);
        if !path.is_file() {
            return Err(DataError::NotFound { key: *key });
        }
        fs::remove_file(&path).map_err(io_err("delete", &path))?;
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    /// Describes one stored series.
    ///
    /// # Errors
    /// [`DataError::NotFound`], or a read error of its file.
    pub fn info(&self, key: &SeriesKey) -> Result<SeriesInfo> {
        let path = self.path_of(key);
        if !path.is_file() {
            return Err(DataError::NotFound { key: *key });
        }
        let summary = read_summary(&path)?;
        let file_size = fs::metadata(&path).map_err(io_err("read", &path))?.len();
        Ok(SeriesInfo {
            key: *key,
            bars: summary.rows,
            first: summary.range.map(|r| r.0),
            last: summary.range.map(|r| r.1),
            file_size,
            path,
        })
    }

    /// Every stored series, ordered by venue, symbol and timeframe. Directories that are not
    /// canonical partitions (and leftover temporary files) are ignored.
    ///
    /// # Errors
    /// [`DataError::Io`] when a directory cannot be listed, or a read error of a file whose
    /// footer is damaged (the message names the file; delete it to continue).
    pub fn list(&self) -> Result<Vec<SeriesInfo>> {
        let mut keys = Vec::new();
        for venue in subdirs(&self.root)? {
            for symbol in subdirs(&venue.1)? {
                for tf in subdirs(&symbol.1)? {
                    if let Some(key) = SeriesKey::from_dir_names(&venue.0, &symbol.0, &tf.0)
                        && tf.1.join(FILE_NAME).is_file()
                    {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        keys.iter().map(|k| self.info(k)).collect()
    }

    /// The stored keys with this symbol, optionally only this timeframe (to find the venue
    /// when the user did not name one).
    ///
    /// # Errors
    /// As [`MarketStore::list`].
    pub fn find(&self, symbol: Symbol, timeframe: Option<Timeframe>) -> Result<Vec<SeriesKey>> {
        Ok(self
            .list()?
            .into_iter()
            .map(|info| info.key)
            .filter(|k| k.symbol == symbol && timeframe.is_none_or(|tf| tf == k.timeframe))
            .collect())
    }
}

fn len_u64(bars: &BarSeries) -> u64 {
    u64::try_from(bars.len()).unwrap_or(u64::MAX)
}

/// Directories directly under `dir` as (name, path); none when `dir` does not exist.
fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        if path.is_dir()
            && let Some(name) = entry.file_name().to_str()
        {
            out.push((name.to_string(), path));
        }
    }
    Ok(out)
}

/// Merges two series; on equal timestamps the bar from `new` wins. Returns the merged series
/// and the counts of added, replaced (different values) and unchanged (identical) bars.
fn merge(old: &BarSeries, new: &BarSeries) -> (BarSeries, u64, u64, u64) {
    let (mut i, mut j) = (0, 0);
    let (mut added, mut replaced, mut unchanged) = (0, 0, 0);
    let mut out = BarSeries::with_capacity(old.len() + new.len());
    let (ot, nt) = (old.ts(), new.ts());
    while i < ot.len() || j < nt.len() {
        let take_new = match (ot.get(i), nt.get(j)) {
            (Some(a), Some(b)) if a == b => {
                if old.get(i) == new.get(j) {
                    unchanged += 1;
                } else {
                    replaced += 1;
                }
                i += 1;
                true
            }
            (Some(a), Some(b)) => {
                if b < a {
                    added += 1;
                }
                b < a
            }
            (None, Some(_)) => {
                added += 1;
                true
            }
            _ => false,
        };
        let bar = if take_new {
            j += 1;
            new.get(j - 1)
        } else {
            i += 1;
            old.get(i - 1)
        };
        if let Some(bar) = bar {
            // Both inputs are strictly increasing and equal timestamps are taken once, so the
            // merged order is strictly increasing too; a failure here would be a bug above.
            let pushed = out.push(bar);
            debug_assert!(pushed.is_ok(), "invariant: merge keeps time order");
        }
    }
    (out, added, replaced, unchanged)
}

#[cfg(test)]
mod tests {
    use skeet_core::Bar;

    use super::*;

    fn key() -> SeriesKey {
        SeriesKey::parse("binance", "BTC/USDT", "1h").unwrap()
    }

    const H: i64 = 3_600_000_000_000;

    fn series(hours: impl IntoIterator<Item = i64>, price: f64) -> BarSeries {
        BarSeries::from_bars(hours.into_iter().map(|h| {
            Bar::new(
                UnixNanos::new(h * H),
                price,
                price + 1.0,
                price - 1.0,
                price,
                1.0,
            )
            .unwrap()
        }))
        .unwrap()
    }

    #[test]
    fn write_read_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = MarketStore::in_data_dir(dir.path()).unwrap();
        assert!(store.list().unwrap().is_empty());
        let bars = series(0..24, 100.0);
        let report = store.write(&key(), &bars, WriteMode::Merge).unwrap();
        assert_eq!((report.added, report.total), (24, 24));
        assert!(
            report
                .path
                .ends_with("market/venue=binance/symbol=BTC_USDT/timeframe=1h/bars.parquet")
        );
        assert_eq!(store.read(&key(), None, None).unwrap(), bars);
        let part = store
            .read(
                &key(),
                Some(UnixNanos::new(2 * H)),
                Some(UnixNanos::new(4 * H)),
            )
            .unwrap();
        assert_eq!(part.len(), 3);
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, key());
        assert_eq!(listed[0].bars, 24);
        assert_eq!(listed[0].last, Some(UnixNanos::new(23 * H)));
        assert!(listed[0].file_size > 0);
        store.remove(&key()).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert!(!store.root().join("venue=binance").exists());
        assert!(matches!(
            store.read(&key(), None, None),
            Err(DataError::NotFound { .. })
        ));
    }

    #[test]
    fn merge_prefers_new_bars_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = MarketStore::open(dir.path()).unwrap();
        store
            .write(&key(), &series(0..10, 100.0), WriteMode::Merge)
            .unwrap();
        let report = store
            .write(&key(), &series(5..15, 200.0), WriteMode::Merge)
            .unwrap();
        assert_eq!(
            (
                report.added,
                report.replaced,
                report.unchanged,
                report.total
            ),
            (5, 5, 0, 15)
        );
        let bars = store.read(&key(), None, None).unwrap();
        assert_eq!(bars.close()[4], 100.0);
        assert_eq!(bars.close()[5], 200.0);
        let again = store
            .write(&key(), &series(5..15, 200.0), WriteMode::Merge)
            .unwrap();
        assert_eq!((again.added, again.replaced, again.unchanged), (0, 0, 10));
        let replaced = store
            .write(&key(), &series(100..102, 1.0), WriteMode::Replace)
            .unwrap();
        assert_eq!((replaced.removed, replaced.total), (15, 2));
        assert_eq!(store.read(&key(), None, None).unwrap().len(), 2);
        let leftovers: Vec<_> = fs::read_dir(store.path_of(&key()).parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("bars.parquet")]);
    }

    #[test]
    fn merge_interleaves() {
        let (m, added, replaced, unchanged) =
            merge(&series([0, 2, 4], 1.0), &series([1, 2, 5], 2.0));
        assert_eq!(m.ts(), &[0, H, 2 * H, 4 * H, 5 * H]);
        assert_eq!(m.close(), &[1.0, 2.0, 2.0, 1.0, 2.0]);
        assert_eq!((added, replaced, unchanged), (2, 1, 0));
    }
}

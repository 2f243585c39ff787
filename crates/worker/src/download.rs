//! Candle download from a venue into the market data store: paged, rate-limited (through the
//! venue's shared limiter), resumable, and usable by `skeet backtest` unchanged.
//!
//! Invariants:
//! - Bars are written to the store in chunks with [`WriteMode::Merge`]: an interrupted
//!   download keeps every chunk written, and running it again resumes after the last stored
//!   bar instead of starting over.
//! - Only closed bars are stored (the venue adapters drop the bar still forming), so a stored
//!   series never changes under a backtest except by appending.
//! - A page that does not advance the cursor ends the download: a venue that keeps answering
//!   the same bars cannot loop it forever.

use skeet_core::{BarSeries, Timeframe, UnixNanos};
use skeet_data::{MarketStore, SeriesKey, WriteMode};
use skeet_exchange::{Exchange, ExchangeError, http::retry_read};

/// What to download.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DownloadRequest {
    /// Venue name (`binance`, `kraken`, `coinbase`, `alpaca`).
    pub venue: String,
    /// Unified symbol, `BASE/QUOTE`.
    pub symbol: String,
    /// Timeframe, e.g. `1m`, `1h`.
    pub timeframe: String,
    /// First bar's open time (date or RFC 3339).
    pub since: String,
    /// Stop before this time (date or RFC 3339); now when absent.
    #[serde(default)]
    pub until: Option<String>,
    /// The venue's endpoint override (testnet, sandbox or a local test server).
    #[serde(default)]
    pub base_url: Option<String>,
}

/// What a download did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DownloadReport {
    /// The stored series (`venue/SYMBOL/timeframe`).
    pub series: String,
    /// Bars added to the store.
    pub added: u64,
    /// Bars in the series after the download.
    pub total: u64,
    /// Pages requested.
    pub pages: u64,
    /// Where the download started (ms): after the stored bars when resuming.
    pub started_at_ms: i64,
    /// Whether stored bars were found and the download resumed after them.
    pub resumed: bool,
    /// Open time of the last stored bar (ms).
    pub last_ms: Option<i64>,
}

/// A download that could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The request is wrong (symbol, timeframe, dates).
    #[error("{0}")]
    Invalid(String),
    /// The venue failed (after retries for retryable failures).
    #[error(transparent)]
    Venue(#[from] ExchangeError),
    /// The store could not be read or written.
    #[error("market data store: {0}")]
    Store(String),
}

/// Bars per page asked for (venues cap it lower where they must).
pub const PAGE: u32 = 1000;
/// Pages buffered before a write to the store.
const PAGES_PER_WRITE: u64 = 20;

/// The parsed request: key, timeframe, start and end in ms.
///
/// # Errors
/// [`DownloadError::Invalid`] naming the bad field.
pub fn plan(
    req: &DownloadRequest,
    now_ms: i64,
) -> Result<(SeriesKey, Timeframe, i64, i64), DownloadError> {
    let key = SeriesKey::parse(&req.venue, &req.symbol, &req.timeframe)
        .map_err(|e| DownloadError::Invalid(e.to_string()))?;
    let since: UnixNanos = req
        .since
        .parse()
        .map_err(|e| DownloadError::Invalid(format!("since: {e}")))?;
    let until = match &req.until {
        Some(u) => u
            .parse::<UnixNanos>()
            .map_err(|e| DownloadError::Invalid(format!("until: {e}")))?
            .as_millis(),
        None => now_ms,
    };
    if since.as_millis() >= until {
        return Err(DownloadError::Invalid(format!(
            "since ({}) must be before until ({})",
            req.since,
            req.until.as_deref().unwrap_or("now")
        )));
    }
    Ok((key, key.timeframe, since.as_millis(), until))
}

/// Downloads the bars of `req` from `ex` into `store`, resuming after stored bars.
/// `progress(fraction)` is called after every page with the share of the time range done.
///
/// # Errors
/// A bad request, a venue failure that retries did not cure, or a store failure. Chunks
/// written before the failure stay stored.
pub async fn download(
    ex: &dyn Exchange,
    store: &MarketStore,
    req: &DownloadRequest,
    now_ms: i64,
    progress: &mut (dyn FnMut(f64) + Send),
) -> Result<DownloadReport, DownloadError> {
    let (key, tf, since, until) = plan(req, now_ms)?;
    let tf_ms = i64::from(tf.as_secs()) * 1000;
    let stored_last = if store.contains(&key) {
        store
            .info(&key)
            .map_err(|e| DownloadError::Store(e.to_string()))?
            .last
            .map(UnixNanos::as_millis)
    } else {
        None
    };
    let start = match stored_last {
        Some(last) if last + tf_ms > since => last + tf_ms,
        _ => since,
    };
    let mut report = DownloadReport {
        series: key.to_string(),
        added: 0,
        total: 0,
        pages: 0,
        started_at_ms: start,
        resumed: start > since,
        last_ms: stored_last,
    };
    let span = (until - start).max(1) as f64;
    let mut cursor = start;
    let mut buffer = Vec::new();
    let mut since_write = 0;
    while cursor < until {
        let page = retry_read(5, || ex.candles(&req.symbol, tf, cursor, PAGE)).await?;
        report.pages += 1;
        since_write += 1;
        let mut advanced = false;
        for bar in page {
            let ms = bar.ts.as_millis();
            if ms < cursor || ms >= until {
                continue;
            }
            cursor = ms + tf_ms;
            advanced = true;
            buffer.push(bar);
        }
        progress((((cursor - start) as f64) / span).clamp(0.0, 1.0));
        if !advanced {
            break;
        }
        if since_write >= PAGES_PER_WRITE {
            flush(store, &key, &mut buffer, &mut report)?;
            since_write = 0;
        }
    }
    flush(store, &key, &mut buffer, &mut report)?;
    if report.total == 0 && store.contains(&key) {
        report.total = store
            .info(&key)
            .map_err(|e| DownloadError::Store(e.to_string()))?
            .bars;
    }
    progress(1.0);
    Ok(report)
}

fn flush(
    store: &MarketStore,
    key: &SeriesKey,
    buffer: &mut Vec<skeet_core::Bar>,
    report: &mut DownloadReport,
) -> Result<(), DownloadError> {
    if buffer.is_empty() {
        return Ok(());
    }
    let series = BarSeries::from_bars(buffer.drain(..))
        .map_err(|e| DownloadError::Invalid(format!("the venue sent bars out of order: {e}")))?;
    let last = series.range().map(|(_, l)| l.as_millis());
    let written = store
        .write(key, &series, WriteMode::Merge)
        .map_err(|e| DownloadError::Store(e.to_string()))?;
    report.added += written.added;
    report.total = written.total;
    report.last_ms = last.or(report.last_ms);
    Ok(())
}

/// Runs a `download` job (on the blocking pool: the async download is driven on the
/// runtime the worker runs in).
pub(crate) fn execute(
    payload: &serde_json::Value,
    dir: &std::path::Path,
    progress: &std::sync::atomic::AtomicU32,
) -> Result<(String, serde_json::Value), crate::JobError> {
    use crate::JobError;
    let req: DownloadRequest = serde_json::from_value(payload.clone())
        .map_err(|e| JobError::Invalid(format!("request body: {e}")))?;
    let cfg = skeet_exchange::VenueConfig {
        base_url: req.base_url.clone(),
        ..skeet_exchange::VenueConfig::default()
    };
    let ex =
        skeet_exchange::connect(&req.venue, cfg).map_err(|e| JobError::Invalid(e.to_string()))?;
    let store = MarketStore::in_data_dir(dir).map_err(|e| JobError::Transient(e.to_string()))?;
    let handle = tokio::runtime::Handle::current();
    let mut report_progress = |f: f64| {
        // Per mille, as the other jobs report it.
        progress.store(
            (f * 1000.0).round() as u32,
            std::sync::atomic::Ordering::Relaxed,
        );
    };
    let report = handle
        .block_on(download(
            &*ex,
            &store,
            &req,
            skeet_exchange::now_ms(),
            &mut report_progress,
        ))
        .map_err(|e| match e {
            DownloadError::Venue(v) if v.retryable() => JobError::Transient(v.to_string()),
            DownloadError::Store(s) => JobError::Transient(s),
            other => JobError::Invalid(other.to_string()),
        })?;
    // What the dataset registry needs (the worker records it after the job succeeds, so
    // the downloaded series appears with the workspace's datasets).
    let key = plan(&req, skeet_exchange::now_ms())
        .map_err(|e| JobError::Invalid(e.to_string()))?
        .0;
    let bars = store
        .read(&key, None, None)
        .map_err(|e| JobError::Invalid(format!("nothing was downloaded: {e}")))?;
    let (first, last) = bars
        .range()
        .map(|(f, l)| (f.as_millis(), l.as_millis()))
        .ok_or_else(|| JobError::Invalid("the venue sent no bars for that range".into()))?;
    let dataset = serde_json::json!({
        "venue": key.venue.to_string(),
        "symbol": key.symbol.to_string(),
        "timeframe": key.timeframe.to_string(),
        "bars": bars.len(),
        "first_ts": first,
        "last_ts": last,
        "data_hash": skeet_data::series_hash(&bars),
    });
    let summary = serde_json::json!({
        "series": report.series,
        "added": report.added,
        "total": report.total,
        "resumed": report.resumed,
    });
    let mut result =
        serde_json::to_value(&report).map_err(|e| JobError::Transient(e.to_string()))?;
    result["dataset"] = dataset;
    let result = result.to_string();
    Ok((result, summary))
}

/// Checks a `download` payload before it is queued.
///
/// # Errors
/// What is wrong, as one sentence.
pub(crate) fn validate(payload: &serde_json::Value) -> Result<(), String> {
    let req: DownloadRequest =
        serde_json::from_value(payload.clone()).map_err(|e| format!("request body: {e}"))?;
    if !skeet_exchange::VENUES.contains(&req.venue.as_str()) {
        return Err(format!(
            "unknown venue '{}'; use one of: {}",
            req.venue,
            skeet_exchange::VENUES.join(", ")
        ));
    }
    plan(&req, skeet_exchange::now_ms())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Records the downloaded series in the workspace's dataset registry (from the job result).
///
/// # Errors
/// A result without the dataset part, or a database error.
pub(crate) async fn record_dataset(
    jobs: &skeet_store::jobs::Jobs,
    workspace_id: &str,
    result: &str,
) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(result).map_err(|e| e.to_string())?;
    let d = &v["dataset"];
    let text = |k: &str| d[k].as_str().map(str::to_string).ok_or(format!("no {k}"));
    let (venue, symbol, timeframe, hash) = (
        text("venue")?,
        text("symbol")?,
        text("timeframe")?,
        text("data_hash")?,
    );
    let name = format!("{symbol} {timeframe} from {venue}");
    skeet_store::datasets::Datasets::new(jobs.db().clone())
        .upsert(
            workspace_id,
            &skeet_store::datasets::NewDataset {
                name: &name,
                venue: &venue,
                symbol: &symbol,
                timeframe: &timeframe,
                bars: d["bars"].as_i64().unwrap_or(0),
                first_ts: d["first_ts"].as_i64().unwrap_or(0),
                last_ts: d["last_ts"].as_i64().unwrap_or(0),
                data_hash: &hash,
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

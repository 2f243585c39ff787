//! Datasets: generate or upload a series into the workspace's market store, list them, and
//! read candles for charts.
//!
//! The bars live in the workspace's own Parquet store ([`skeet_store::workspace_dir`]); the
//! row in `datasets` is written after the bars, so a listed dataset always has its bars
//! (a failed write leaves the store as it was and records nothing).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use skeet_core::{Symbol, Timeframe, UnixNanos, Venue};
use skeet_data::generate::{GenerateParams, Model, generate};
use skeet_data::import::{ImportOptions, check_timeframe, read_csv_bytes};
use skeet_data::{MarketStore, NoProgress, SeriesKey, WriteMode, series_hash};
use skeet_store::datasets::{Dataset, NewDataset};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiJson, ApiQuery, ErrorBody, Page, page};
use crate::{ApiError, AppState, Caller, blocking};

/// Bars a generated dataset may have.
const MAX_GENERATED_BARS: usize = 2_000_000;
/// Candles one request may return.
const MAX_CANDLES: usize = 20_000;

/// Lists and filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListDatasets {
    /// Only this symbol (`BTC/USDT`).
    symbol: Option<String>,
    /// Only this timeframe (`1h`).
    timeframe: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<i64>,
    /// Rows to skip (default 0).
    offset: Option<i64>,
}

/// A page of datasets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DatasetPage {
    items: Vec<Dataset>,
    limit: i64,
    offset: i64,
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/datasets", tag = "datasets",
    params(("ws" = String, Path, description = "Workspace id"), ListDatasets),
    responses((status = 200, body = DatasetPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<ListDatasets>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    let Page { limit, offset } = page(q.limit, q.offset)?;
    let items = s
        .datasets
        .list(
            &ws,
            q.symbol.as_deref().filter(|v| !v.is_empty()),
            q.timeframe.as_deref().filter(|v| !v.is_empty()),
            limit,
            offset,
        )
        .await?;
    Ok(axum::Json(DatasetPage {
        items,
        limit,
        offset,
    }))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/datasets/{id}", tag = "datasets",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Dataset id")),
    responses((status = 200, body = Dataset), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.datasets.get(&ws, &id).await?))
}

#[utoipa::path(delete, path = "/api/workspaces/{ws}/datasets/{id}", tag = "datasets",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Dataset id")),
    responses((status = 204, description = "Deleted with its bars"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "delete datasets").await?;
    let d = s.datasets.delete(&ws, &id).await?;
    let dir = workspace_dir(&s, &ws)?;
    blocking(move || {
        let key = key_of(&d.venue, &d.symbol, &d.timeframe)?;
        let store = MarketStore::in_data_dir(&dir).map_err(data_error)?;
        match store.remove(&key) {
            Ok(()) | Err(skeet_data::DataError::NotFound { .. }) => Ok(()),
            Err(e) => Err(data_error(e)),
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Settings of a generated series.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GenerateBody {
    /// Symbol, `BASE/QUOTE` (`BTC/USDT`).
    symbol: String,
    /// Timeframe (`1m`, `1h`, `1d`, ...).
    timeframe: String,
    /// Number of bars, 1 to 2,000,000.
    bars: usize,
    /// Seed; the same settings and seed give the same bars on every machine (default 42).
    #[serde(default)]
    seed: Option<u64>,
    /// `gbm` (default) or `regime` (trending and ranging spells).
    #[serde(default)]
    model: Option<String>,
    /// First price (default 100).
    #[serde(default)]
    price: Option<f64>,
    /// Annualised volatility (default 0.6).
    #[serde(default)]
    volatility: Option<f64>,
    /// Annualised drift (default 0.05).
    #[serde(default)]
    drift: Option<f64>,
    /// Venue name under which the series is stored (default `synthetic`).
    #[serde(default)]
    venue: Option<String>,
    /// Display name (default `SYMBOL TF`).
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/datasets/generate", tag = "datasets",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = GenerateBody,
    responses((status = 201, body = Dataset), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn generate_dataset(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(b): ApiJson<GenerateBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "create datasets").await?;
    let dir = workspace_dir(&s, &ws)?;
    let d = generate_into(&s, &ws, dir, b).await?;
    Ok((StatusCode::CREATED, axum::Json(d)))
}

/// Generates a series into the workspace store and records it (also used for the demo
/// workspace).
pub(crate) async fn generate_into(
    s: &AppState,
    ws: &str,
    dir: PathBuf,
    b: GenerateBody,
) -> Result<Dataset, ApiError> {
    let venue = b.venue.clone().unwrap_or_else(|| "synthetic".into());
    let key = key_of(&venue, &b.symbol, &b.timeframe)?;
    if b.bars == 0 || b.bars > MAX_GENERATED_BARS {
        return Err(ApiError::bad_request(format!(
            "bars must be from 1 to {MAX_GENERATED_BARS}"
        )));
    }
    let mut params = GenerateParams::new(key.timeframe, b.bars, b.seed.unwrap_or(42));
    if let Some(m) = &b.model {
        params.model = m
            .parse::<Model>()
            .map_err(|e| ApiError::bad_request(format!("model: {e}")))?;
    }
    if let Some(p) = b.price {
        params.price = p;
    }
    if let Some(v) = b.volatility {
        params.volatility = v;
    }
    if let Some(d) = b.drift {
        params.drift = d;
    }
    let name = b
        .name
        .unwrap_or_else(|| format!("{} {}", key.symbol, key.timeframe));
    check_name(&name)?;
    let stored = blocking(move || {
        let bars = generate(&params, &NoProgress).map_err(data_error)?;
        let store = MarketStore::in_data_dir(&dir).map_err(data_error)?;
        store
            .write(&key, &bars, WriteMode::Replace)
            .map_err(data_error)?;
        Ok(summary(&bars))
    })
    .await?;
    record(s, ws, &name, &key, stored).await
}

/// Where an upload goes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// Symbol, `BASE/QUOTE`.
    symbol: String,
    /// Timeframe of the bars; the file's spacing is checked against it.
    timeframe: String,
    /// Venue the data came from (default `custom`).
    venue: Option<String>,
    /// Display name (default `SYMBOL TF`).
    name: Option<String>,
    /// `replace` (default) or `merge` with the bars already stored.
    mode: Option<String>,
    /// Sort unsorted rows (keeping the last of duplicates) instead of failing.
    sort: Option<bool>,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/datasets/upload", tag = "datasets",
    params(("ws" = String, Path, description = "Workspace id"), UploadQuery),
    request_body(content = String, content_type = "text/csv", description = "A CSV file of bars: generic (time, open, high, low, close[, volume]), Yahoo or Binance klines; up to 256 MB"),
    responses((status = 201, body = Dataset), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(crate) async fn upload(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "upload datasets").await?;
    let venue = q.venue.clone().unwrap_or_else(|| "custom".into());
    let key = key_of(&venue, &q.symbol, &q.timeframe)?;
    let mode = match q.mode.as_deref().unwrap_or("replace") {
        "replace" => WriteMode::Replace,
        "merge" => WriteMode::Merge,
        other => {
            return Err(ApiError::bad_request(format!(
                "mode '{other}' is not known; use replace or merge"
            )));
        }
    };
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; send the CSV file as the body (Content-Type: text/csv)",
        ));
    }
    let name = q
        .name
        .clone()
        .unwrap_or_else(|| format!("{} {}", key.symbol, key.timeframe));
    check_name(&name)?;
    let dir = workspace_dir(&s, &ws)?;
    let opts = ImportOptions {
        sort: q.sort.unwrap_or(false),
        delimiter: None,
    };
    let stored = blocking(move || {
        let imported = read_csv_bytes(&body, "upload", &opts).map_err(data_error)?;
        check_timeframe(&imported.bars, key.timeframe).map_err(data_error)?;
        let store = MarketStore::in_data_dir(&dir).map_err(data_error)?;
        store
            .write(&key, &imported.bars, mode)
            .map_err(data_error)?;
        let bars = store.read(&key, None, None).map_err(data_error)?;
        Ok(summary(&bars))
    })
    .await?;
    let d = record(&s, &ws, &name, &key, stored).await?;
    Ok((StatusCode::CREATED, axum::Json(d)))
}

/// A window of candles.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CandlesQuery {
    /// First open time, ms since the epoch (inclusive).
    from: Option<i64>,
    /// Last open time, ms (inclusive).
    to: Option<i64>,
    /// At most this many candles, the latest of the window (default 1000, max 20000).
    limit: Option<usize>,
}

/// Candles as columns (compact for charts): times in ms since the epoch.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Candles {
    /// Symbol.
    symbol: String,
    /// Timeframe.
    timeframe: String,
    /// Open times, ms.
    t: Vec<i64>,
    /// Opens.
    o: Vec<f64>,
    /// Highs.
    h: Vec<f64>,
    /// Lows.
    l: Vec<f64>,
    /// Closes.
    c: Vec<f64>,
    /// Volumes.
    v: Vec<f64>,
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/datasets/{id}/candles", tag = "datasets",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Dataset id"), CandlesQuery),
    responses((status = 200, body = Candles), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn candles(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<CandlesQuery>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    let d = s.datasets.get(&ws, &id).await?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=MAX_CANDLES).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_CANDLES}"
        )));
    }
    if let (Some(f), Some(t)) = (q.from, q.to)
        && f > t
    {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    let ms = |v: Option<i64>| -> Result<Option<UnixNanos>, ApiError> {
        v.map(|x| {
            x.checked_mul(1_000_000)
                .map(UnixNanos::new)
                .ok_or_else(|| ApiError::bad_request("from/to must be ms since the epoch"))
        })
        .transpose()
    };
    let (from, to) = (ms(q.from)?, ms(q.to)?);
    let dir = workspace_dir(&s, &ws)?;
    let out = blocking(move || {
        let key = key_of(&d.venue, &d.symbol, &d.timeframe)?;
        let store = MarketStore::in_data_dir(&dir).map_err(data_error)?;
        let bars = store.read(&key, from, to).map_err(data_error)?;
        let start = bars.len().saturating_sub(limit);
        let cut = |v: &[f64]| v[start..].to_vec();
        Ok(Candles {
            symbol: d.symbol,
            timeframe: d.timeframe,
            t: bars.ts()[start..].iter().map(|t| t / 1_000_000).collect(),
            o: cut(bars.open()),
            h: cut(bars.high()),
            l: cut(bars.low()),
            c: cut(bars.close()),
            v: cut(bars.volume()),
        })
    })
    .await?;
    Ok(axum::Json(out))
}

/// Count, range (ms) and hash of stored bars.
struct Stored {
    bars: i64,
    first_ms: i64,
    last_ms: i64,
    hash: String,
}

fn summary(bars: &skeet_core::BarSeries) -> Stored {
    let (first, last) = bars.range().map_or((0, 0), |(f, l)| {
        (f.as_nanos() / 1_000_000, l.as_nanos() / 1_000_000)
    });
    Stored {
        bars: i64::try_from(bars.len()).unwrap_or(i64::MAX),
        first_ms: first,
        last_ms: last,
        hash: series_hash(bars),
    }
}

async fn record(
    s: &AppState,
    ws: &str,
    name: &str,
    key: &SeriesKey,
    st: Stored,
) -> Result<Dataset, ApiError> {
    let (venue, symbol, tf) = (
        key.venue.to_string(),
        key.symbol.to_string(),
        key.timeframe.to_string(),
    );
    Ok(s.datasets
        .upsert(
            ws,
            &NewDataset {
                name,
                venue: &venue,
                symbol: &symbol,
                timeframe: &tf,
                bars: st.bars,
                first_ts: st.first_ms,
                last_ts: st.last_ms,
                data_hash: &st.hash,
            },
        )
        .await?)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    Ok(())
}

/// Parses a series key from request fields, naming the field at fault.
pub(crate) fn key_of(venue: &str, symbol: &str, timeframe: &str) -> Result<SeriesKey, ApiError> {
    let venue = Venue::new(venue).map_err(|e| ApiError::bad_request(format!("venue: {e}")))?;
    let symbol = Symbol::new(symbol).map_err(|e| ApiError::bad_request(format!("symbol: {e}")))?;
    let tf: Timeframe = timeframe
        .parse()
        .map_err(|e| ApiError::bad_request(format!("timeframe: {e}")))?;
    Ok(SeriesKey::new(venue, symbol, tf))
}

/// The workspace's data directory.
pub(crate) fn workspace_dir(s: &AppState, ws: &str) -> Result<PathBuf, ApiError> {
    Ok(skeet_store::workspace_dir(&s.data_dir, ws)?)
}

/// Data errors are the caller's (a bad file, a bad setting) unless they are I/O.
fn data_error(e: skeet_data::DataError) -> ApiError {
    match e {
        skeet_data::DataError::Io { .. } => {
            tracing::error!(error = %e, "market store I/O");
            ApiError::internal()
        }
        other => ApiError::bad_request(other.to_string()),
    }
}

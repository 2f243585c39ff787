//! Venues from the dashboard: the market browser (markets, ticker, a live ticker on the
//! websocket), "test connection" for a stored credential, and candle downloads as jobs.
//!
//! Invariants:
//! - The server only reads from venues (markets, tickers, a key's permissions). It never
//!   places an order: trading happens in the worker that holds the bot.
//! - Where a venue is reached is the operator's choice (`--venue-url venue=URL`), never a
//!   request's: a user cannot point the server at an internal address.
//! - A live ticker polls the venue once per second per watched symbol, however many viewers
//!   watch it, through the process-wide rate limiter; it stops when the last viewer leaves.
//! - A credential's secret is opened only for the duration of the test and never leaves this
//!   module; errors quote the venue, never the secret.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use skeet_exchange::{Credentials, Exchange, ExchangeError, VenueConfig};
use utoipa::ToSchema;

use crate::error::{ApiJson, ErrorBody};
use crate::{ApiError, AppState, Caller};

/// Operator settings for venues: endpoint overrides (testnets, sandboxes, test servers).
#[derive(Clone, Debug, Default)]
pub struct VenueSettings {
    /// Venue → base URL.
    pub urls: BTreeMap<String, String>,
    tickers: Arc<Mutex<HashSet<String>>>,
}

impl VenueSettings {
    /// Parses `venue=URL` entries (comma-separated).
    ///
    /// # Errors
    /// An entry that is not `venue=URL` with a known venue and an http(s) URL.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut urls = BTreeMap::new();
        for e in entries.iter().flat_map(|e| e.split(',')).map(str::trim) {
            if e.is_empty() {
                continue;
            }
            let (v, u) = e.split_once('=').ok_or_else(|| {
                format!(
                    "venue URL '{e}': write venue=URL, e.g. binance=https://testnet.binance.vision"
                )
            })?;
            if !skeet_exchange::VENUES.contains(&v) {
                return Err(format!(
                    "venue URL '{e}': unknown venue '{v}'; use one of: {}",
                    skeet_exchange::VENUES.join(", ")
                ));
            }
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "venue URL '{e}': the URL must start with http:// or https://"
                ));
            }
            urls.insert(v.to_string(), u.trim_end_matches('/').to_string());
        }
        Ok(Self {
            urls,
            tickers: Arc::default(),
        })
    }

    fn config(&self, venue: &str, credentials: Option<Credentials>) -> VenueConfig {
        VenueConfig {
            base_url: self.urls.get(venue).cloned(),
            credentials,
            ..VenueConfig::default()
        }
    }

    /// A client for `venue` (public calls).
    fn connect(&self, venue: &str) -> Result<Box<dyn Exchange>, ApiError> {
        known(venue)?;
        skeet_exchange::connect(venue, self.config(venue, None)).map_err(|e| venue_error(&e))
    }
}

fn known(venue: &str) -> Result<(), ApiError> {
    if skeet_exchange::VENUES.contains(&venue) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no venue '{venue}'; venues are {}",
            skeet_exchange::VENUES.join(", ")
        )))
    }
}

/// A venue failure as an API error: 502 (the venue, not the request, failed) or 400 for a
/// request the venue refused as invalid.
fn venue_error(e: &ExchangeError) -> ApiError {
    use skeet_exchange::ErrorKind;
    match e.kind {
        ErrorKind::InvalidOrder => {
            ApiError::new(StatusCode::BAD_REQUEST, "venue_rejected", e.to_string())
        }
        ErrorKind::RateLimited => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "venue_rate_limited",
            e.to_string(),
        ),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "venue_error", e.to_string()),
    }
}

/// A market and its trading rules (decimals as strings, exact).
#[derive(Serialize, ToSchema)]
pub(crate) struct MarketView {
    /// Unified symbol, `BASE/QUOTE`.
    symbol: String,
    /// The venue's own name for it.
    venue_symbol: String,
    /// Base asset.
    base: String,
    /// Quote asset.
    quote: String,
    /// `trading`, `halted` or `closed`.
    status: String,
    /// Price increment.
    tick_size: String,
    /// Quantity increment.
    step_size: String,
    /// Smallest quantity.
    min_qty: String,
    /// Smallest order value in the quote asset.
    min_notional: String,
}

impl From<skeet_exchange::Market> for MarketView {
    fn from(m: skeet_exchange::Market) -> Self {
        Self {
            status: format!("{:?}", m.status).to_lowercase(),
            tick_size: m.tick_size.normalize().to_string(),
            step_size: m.step_size.normalize().to_string(),
            min_qty: m.min_qty.normalize().to_string(),
            min_notional: m.min_notional.normalize().to_string(),
            symbol: m.symbol,
            venue_symbol: m.venue_symbol,
            base: m.base,
            quote: m.quote,
        }
    }
}

/// Best prices and the last trade (decimals as strings).
#[derive(Serialize, ToSchema)]
pub(crate) struct TickerView {
    /// Unified symbol.
    symbol: String,
    /// Best bid.
    bid: Option<String>,
    /// Best ask.
    ask: Option<String>,
    /// Last price.
    last: Option<String>,
    /// 24 h base volume, when the venue reports it.
    volume_24h: Option<String>,
    /// Venue time (ms; 0 when the venue gives none).
    ts_ms: i64,
}

impl From<skeet_exchange::Ticker> for TickerView {
    fn from(t: skeet_exchange::Ticker) -> Self {
        let s = |d: Option<rust_decimal::Decimal>| d.map(|d| d.normalize().to_string());
        Self {
            symbol: t.symbol,
            bid: s(t.bid),
            ask: s(t.ask),
            last: s(t.last),
            volume_24h: s(t.volume_24h),
            ts_ms: t.ts_ms,
        }
    }
}

/// What an API key may do.
#[derive(Serialize, ToSchema)]
pub(crate) struct PermissionsView {
    /// Read balances and orders.
    read: bool,
    /// Place and cancel orders.
    trade: bool,
    /// Withdraw funds (a bot's key should not).
    withdraw: bool,
    /// Restricted to whitelisted IPs (`null`: the venue does not say).
    ip_restricted: Option<bool>,
}

/// A venue the server can reach.
#[derive(Serialize, ToSchema)]
pub(crate) struct VenueInfo {
    /// Name.
    name: String,
    /// Whether the operator pointed it at another endpoint (testnet, sandbox).
    custom_endpoint: bool,
}

#[utoipa::path(get, path = "/api/venues", tag = "venues",
    responses((status = 200, body = [VenueInfo]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<Arc<AppState>>, _caller: Caller) -> impl IntoResponse {
    axum::Json(
        skeet_exchange::VENUES
            .iter()
            .map(|v| VenueInfo {
                name: (*v).to_string(),
                custom_endpoint: s.venues.urls.contains_key(*v),
            })
            .collect::<Vec<_>>(),
    )
}

#[utoipa::path(get, path = "/api/venues/{venue}/markets", tag = "venues",
    params(("venue" = String, Path, description = "Venue name")),
    responses((status = 200, body = [MarketView], description = "Markets with their trading rules"), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(crate) async fn markets(
    State(s): State<Arc<AppState>>,
    _caller: Caller,
    Path(venue): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let ex = s.venues.connect(&venue)?;
    let markets = ex.markets().await.map_err(|e| venue_error(&e))?;
    Ok(axum::Json(
        markets
            .into_iter()
            .map(MarketView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Which symbol.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SymbolQuery {
    /// Unified symbol, e.g. `BTC/USDT`.
    symbol: String,
}

#[utoipa::path(get, path = "/api/venues/{venue}/ticker", tag = "venues",
    params(("venue" = String, Path, description = "Venue name"), SymbolQuery),
    responses((status = 200, body = TickerView, description = "Best bid, ask and last price"), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(crate) async fn ticker(
    State(s): State<Arc<AppState>>,
    _caller: Caller,
    Path(venue): Path<String>,
    Query(q): Query<SymbolQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let ex = s.venues.connect(&venue)?;
    let t = ex.ticker(&q.symbol).await.map_err(|e| venue_error(&e))?;
    Ok(axum::Json(TickerView::from(t)))
}

/// What "test connection" found.
#[derive(Serialize, ToSchema)]
pub(crate) struct TestResult {
    /// The key worked.
    ok: bool,
    /// What the key may do (when it worked).
    permissions: Option<PermissionsView>,
    /// Things to fix (withdrawal rights, no trade rights, no IP restriction).
    warnings: Vec<String>,
    /// Why it failed (when it did): the venue's answer.
    error: Option<String>,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/credentials/{id}/test", tag = "credentials",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Credential id")),
    responses((status = 200, body = TestResult, description = "The outcome; a key the venue refuses is `ok: false` with its answer"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn test_credential(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let ex = with_credential(&s, &caller, &ws, &id).await?;
    let result = match ex.permissions().await {
        Ok(p) => {
            let mut warnings = Vec::new();
            if p.withdraw {
                warnings.push("this key can withdraw funds: create a trade-only key without withdrawal rights (docs/venues.md)".to_string());
            }
            if !p.trade {
                warnings.push("this key cannot trade: live bots need trading rights".to_string());
            }
            if p.ip_restricted == Some(false) {
                warnings.push(
                    "this key works from any IP address: restrict it to the server's IP"
                        .to_string(),
                );
            }
            TestResult {
                ok: true,
                permissions: Some(PermissionsView {
                    read: p.read,
                    trade: p.trade,
                    withdraw: p.withdraw,
                    ip_restricted: p.ip_restricted,
                }),
                warnings,
                error: None,
            }
        }
        Err(e) => TestResult {
            ok: false,
            permissions: None,
            warnings: Vec::new(),
            error: Some(e.to_string()),
        },
    };
    Ok(axum::Json(result))
}

/// An asset balance (decimals as strings).
#[derive(Serialize, ToSchema)]
pub(crate) struct BalanceView {
    /// Asset.
    asset: String,
    /// Available.
    free: String,
    /// Held by open orders.
    locked: String,
}

/// An open order (decimals as strings).
#[derive(Serialize, ToSchema)]
pub(crate) struct OrderView {
    /// The venue's id.
    venue_order_id: String,
    /// Our id.
    client_order_id: Option<String>,
    /// Unified symbol.
    symbol: String,
    /// `buy` or `sell`.
    side: String,
    /// Limit price.
    price: Option<String>,
    /// Ordered quantity.
    quantity: String,
    /// Filled so far.
    filled: String,
    /// `open`, `partially_filled`, ...
    state: String,
}

/// Opens a stored credential and connects its venue with it (owners and traders only).
async fn with_credential(
    s: &AppState,
    caller: &Caller,
    ws: &str,
    id: &str,
) -> Result<Box<dyn Exchange>, ApiError> {
    let role = caller.role_in(s, ws).await?;
    if !role.can_trade_live() {
        return Err(ApiError::forbidden(
            "only owners and traders can use exchange credentials",
        ));
    }
    let cred = s
        .vault
        .list(ws)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found("no such credential"))?;
    known(&cred.venue)?;
    let secret = s.vault.open(ws, id).await?;
    let creds = Credentials::new(&secret.api_key, &secret.api_secret);
    drop(secret);
    skeet_exchange::connect(&cred.venue, s.venues.config(&cred.venue, Some(creds)))
        .map_err(|e| venue_error(&e))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/credentials/{id}/balances", tag = "credentials",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Credential id")),
    responses((status = 200, body = [BalanceView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(crate) async fn balances(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let ex = with_credential(&s, &caller, &ws, &id).await?;
    let b = ex.balances().await.map_err(|e| venue_error(&e))?;
    Ok(axum::Json(
        b.into_iter()
            .map(|b| BalanceView {
                asset: b.asset,
                free: b.free.normalize().to_string(),
                locked: b.locked.normalize().to_string(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// Which symbol, if any.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct OptionalSymbol {
    /// Unified symbol, e.g. `BTC/USDT` (all symbols when absent, where the venue allows).
    symbol: Option<String>,
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/credentials/{id}/orders", tag = "credentials",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Credential id"), OptionalSymbol),
    responses((status = 200, body = [OrderView], description = "Open orders at the venue"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(crate) async fn open_orders(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<OptionalSymbol>,
) -> Result<impl IntoResponse, ApiError> {
    let ex = with_credential(&s, &caller, &ws, &id).await?;
    let orders = ex
        .open_orders(q.symbol.as_deref())
        .await
        .map_err(|e| venue_error(&e))?;
    let d = |d: rust_decimal::Decimal| d.normalize().to_string();
    Ok(axum::Json(
        orders
            .into_iter()
            .map(|o| OrderView {
                venue_order_id: o.venue_order_id,
                client_order_id: o.client_order_id,
                symbol: o.symbol,
                side: o.side.to_string(),
                price: o.price.map(d),
                quantity: d(o.quantity),
                filled: d(o.filled),
                state: serde_json::to_value(o.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// A candle download to run as a job.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DownloadBody {
    /// Venue name.
    venue: String,
    /// Unified symbol, e.g. `BTC/USDT`.
    symbol: String,
    /// Timeframe, e.g. `1m`, `1h`.
    timeframe: String,
    /// First bar's open time (date or RFC 3339).
    since: String,
    /// Stop before this time; now when absent.
    #[serde(default)]
    until: Option<String>,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/downloads", tag = "datasets",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = DownloadBody,
    responses((status = 202, body = skeet_store::jobs::Job, description = "Queued; the bars land in the workspace's market store"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn download(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(b): ApiJson<DownloadBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "download market data").await?;
    let payload = serde_json::json!({
        "venue": b.venue,
        "symbol": b.symbol,
        "timeframe": b.timeframe,
        "since": b.since,
        "until": b.until,
        "base_url": s.venues.urls.get(&b.venue),
    });
    let job = crate::jobs::queue(&s, &caller, &ws, "download", &payload, 3).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

/// The websocket channel of a live ticker: `ticker:{venue}:{symbol}`.
pub(crate) fn ticker_channel(channel: &str) -> Option<(&str, &str)> {
    let rest = channel.strip_prefix("ticker:")?;
    let (venue, symbol) = rest.split_once(':')?;
    (skeet_exchange::VENUES.contains(&venue) && symbol.contains('/')).then_some((venue, symbol))
}

/// Makes sure a poller feeds `channel` (once per channel, whoever subscribes).
pub(crate) fn watch_ticker(s: &Arc<AppState>, channel: &str) {
    let Some((venue, symbol)) = ticker_channel(channel) else {
        return;
    };
    {
        let mut running = s
            .venues
            .tickers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !running.insert(channel.to_string()) {
            return;
        }
    }
    let (s, channel, venue, symbol) = (
        s.clone(),
        channel.to_string(),
        venue.to_string(),
        symbol.to_string(),
    );
    tokio::spawn(async move {
        let ex = s.venues.connect(&venue).ok();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if s.hub.subscribers(&channel) == 0 {
                break;
            }
            let Some(ex) = &ex else { break };
            let text = match ex.ticker(&symbol).await {
                Ok(t) => {
                    serde_json::json!({"type": "event", "channel": channel, "event": "ticker", "data": TickerView::from(t)})
                }
                Err(e) => {
                    serde_json::json!({"type": "event", "channel": channel, "event": "ticker_error", "data": {"message": e.to_string()}})
                }
            };
            s.hub.publish(&channel, &text.to_string().into());
        }
        s.venues
            .tickers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&channel);
    });
}

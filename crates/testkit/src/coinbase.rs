//! A local Coinbase Advanced Trade server: the documented REST API under `/api/v3/brokerage`
//! and the websocket feeds, backed by a [`SimVenue`].
//!
//! - Every private request must carry `Authorization: Bearer <JWT>` signed with ES256 by the
//!   test key ([`TEST_KEY_NAME`], `test_data/coinbase/test_ec_key.pem`). The server checks the
//!   JWT with its own code (ring's ECDSA P-256 verification on the public key, independent of
//!   the adapter's signer): header `alg` ES256 and `kid`, claims `sub`, `iss` "cdp", the
//!   `nbf`/`exp` window, a nonce not seen before, and `uri` = `METHOD host path` with the host
//!   as the client addressed it (its `Host` header). Anything wrong answers 401
//!   `{"error":"UNAUTHENTICATED",...}` and counts [`SimVenue::bad_signatures`].
//! - `/api/v3/brokerage/market/...` are the public (unauthenticated) market-data twins.
//! - Faults ([`SimVenue::take_fault`]) apply at the start of every REST request: 429
//!   `RATE_LIMIT_EXCEEDED` with `Retry-After`, 503, or a slow answer after the work is done.
//! - Websockets: `/ws` (market data) and `/ws-user` (the `user` channel; `/ws` accepts it too),
//!   standing in for `wss://advanced-trade-ws.coinbase.com` and
//!   `wss://advanced-trade-ws-user.coinbase.com`. Upgrades are refused with 503 while
//!   [`SimVenue::streams_refused`]; connections close when [`SimVenue::drop_streams`] fires.
//! - Venue order ids are UUID-shaped and encode the simulated id; a repeated
//!   `client_order_id` answers success with the EXISTING order, as Coinbase does.
//! - Market rules, the book, the ticker and candles come from `test_data/coinbase/*.json`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::sim::{Fault, Kind, Lookup, Refusal, Side, SimEvent, SimOrder, SimTrade, SimVenue};
use crate::{Running, recorded, serve, test_data_dir};

/// The CDP key name of the test key (`Credentials.key`).
pub const TEST_KEY_NAME: &str = "organizations/5eed5eed-0000-4000-8000-000000000001/apiKeys/7e57c0de-0000-4000-8000-000000000002";

/// The test key's private key PEM (SEC1 `BEGIN EC PRIVATE KEY`, as Coinbase issues it).
///
/// # Panics
/// When the committed fixture is missing.
pub fn test_key_pem() -> String {
    read_fixture("coinbase/test_ec_key.pem")
}

/// The same test key as PKCS#8 (`BEGIN PRIVATE KEY`).
///
/// # Panics
/// When the committed fixture is missing.
pub fn test_key_pkcs8_pem() -> String {
    read_fixture("coinbase/test_ec_key_pkcs8.pem")
}

/// Another P-256 key whose signatures the server must refuse.
///
/// # Panics
/// When the committed fixture is missing.
pub fn wrong_key_pem() -> String {
    read_fixture("coinbase/wrong_ec_key.pem")
}

/// The test key's public key as the uncompressed point (65 bytes, `04 || X || Y`), taken
/// from the SubjectPublicKeyInfo DER `test_ec_pub.der` (the point is its last 65 bytes).
///
/// # Panics
/// When the committed fixture is missing or malformed.
pub fn test_public_key() -> Vec<u8> {
    let path = test_data_dir().join("coinbase/test_ec_pub.der");
    let der = std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    assert!(
        der.len() >= 65 && der[der.len() - 65] == 4,
        "test_ec_pub.der is not a P-256 SubjectPublicKeyInfo"
    );
    der[der.len() - 65..].to_vec()
}

fn read_fixture(rel: &str) -> String {
    let path = test_data_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// What the server accepts.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The only key name accepted (`kid` and `sub`).
    pub key_name: String,
    /// Its public key, uncompressed point (65 bytes).
    pub public_key: Vec<u8>,
    /// Most items per page on the paginated lists (accounts, orders, fills); Coinbase allows
    /// up to 250. Tests lower it to exercise cursors.
    pub max_page: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            key_name: TEST_KEY_NAME.to_string(),
            public_key: test_public_key(),
            max_page: 250,
        }
    }
}

#[derive(Clone)]
struct St {
    sim: SimVenue,
    cfg: Arc<ServerConfig>,
    nonces: Arc<Mutex<HashSet<String>>>,
    /// Order configurations as placed (post-only and IOC flags the simulator does not keep).
    configs: Arc<Mutex<HashMap<u64, Value>>>,
}

/// A simulated venue listing BTC/USD at 30000 with 100000 USD and 2 BTC, served by
/// [`spawn`] with the test key.
pub async fn spawn_default() -> (SimVenue, Running) {
    let sim = SimVenue::new(
        &["BTC/USD"],
        &[("USD", "100000"), ("BTC", "2")],
        &[("BTC/USD", "30000")],
    );
    let running = spawn(sim.clone(), ServerConfig::default()).await;
    (sim, running)
}

/// Serves `sim` on 127.0.0.1 as Coinbase Advanced Trade.
pub async fn spawn(sim: SimVenue, cfg: ServerConfig) -> Running {
    let st = St {
        sim,
        cfg: Arc::new(cfg),
        nonces: Arc::default(),
        configs: Arc::default(),
    };
    let b = "/api/v3/brokerage";
    let public = Router::new()
        .route(&format!("{b}/market/products"), get(products))
        .route(&format!("{b}/market/products/{{id}}/ticker"), get(ticker))
        .route(&format!("{b}/market/product_book"), get(product_book))
        .route(&format!("{b}/market/products/{{id}}/candles"), get(candles));
    let private = Router::new()
        .route(&format!("{b}/products"), get(products))
        .route(&format!("{b}/products/{{id}}/ticker"), get(ticker))
        .route(&format!("{b}/product_book"), get(product_book))
        .route(&format!("{b}/best_bid_ask"), get(best_bid_ask))
        .route(&format!("{b}/products/{{id}}/candles"), get(candles))
        .route(&format!("{b}/accounts"), get(accounts))
        .route(&format!("{b}/orders"), post(create_order))
        .route(&format!("{b}/orders/batch_cancel"), post(batch_cancel))
        .route(&format!("{b}/orders/historical/batch"), get(list_orders))
        .route(&format!("{b}/orders/historical/fills"), get(list_fills))
        .route(&format!("{b}/orders/historical/{{id}}"), get(get_order))
        .route(&format!("{b}/key_permissions"), get(key_permissions))
        .route_layer(middleware::from_fn_with_state(st.clone(), authenticate));
    let rest = public
        .merge(private)
        .layer(middleware::from_fn_with_state(st.clone(), faults));
    let router = rest
        .route("/ws", get(ws))
        .route("/ws-user", get(ws))
        .with_state(st);
    serve(router).await
}

// ---------------------------------------------------------------------------------------------
// Plumbing: faults, errors, authentication.

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": code, "error_details": message, "message": message})),
    )
        .into_response()
}

async fn faults(State(st): State<St>, req: Request, next: Next) -> Response {
    st.sim.count_request();
    match st.sim.take_fault() {
        Some(Fault::RateLimit { secs }) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "Too many requests",
            );
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Some(Fault::Unavailable) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "service unavailable",
        ),
        Some(Fault::SlowAnswer(d)) => {
            let r = next.run(req).await;
            tokio::time::sleep(d).await;
            r
        }
        None => next.run(req).await,
    }
}

fn unauthenticated(st: &St, why: &str) -> Response {
    st.sim.bad_signatures.fetch_add(1, Ordering::SeqCst);
    error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why)
}

async fn authenticate(State(st): State<St>, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some(token) = token else {
        return unauthenticated(&st, "missing bearer token");
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let uri = format!("{} {host}{}", req.method(), req.uri().path());
    match verify_jwt(&st, &token, Some(&uri)) {
        Ok(()) => next.run(req).await,
        Err(why) => unauthenticated(&st, &why),
    }
}

fn wall_clock_s() -> i64 {
    #[allow(
        clippy::disallowed_methods,
        reason = "the server checks a JWT's nbf/exp against the wall clock, as Coinbase does"
    )]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn b64_json(part: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "JWT part is not base64url".to_string())?;
    serde_json::from_slice(&bytes).map_err(|_| "JWT part is not JSON".to_string())
}

/// Checks a JWT as Coinbase does; `uri` is `None` for websocket JWTs (no `uri` claim).
fn verify_jwt(st: &St, token: &str, uri: Option<&str>) -> Result<(), String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err("a JWT has three parts".into());
    };
    let header = b64_json(h)?;
    let claims = b64_json(c)?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "signature is not base64url".to_string())?;
    if header["alg"] != "ES256" {
        return Err("alg must be ES256".into());
    }
    if header["kid"] != st.cfg.key_name.as_str() || claims["sub"] != st.cfg.key_name.as_str() {
        return Err("unknown API key".into());
    }
    if claims["iss"] != "cdp" {
        return Err("iss must be cdp".into());
    }
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        st.cfg.public_key.as_slice(),
    );
    key.verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "signature does not verify".to_string())?;
    let now = wall_clock_s();
    let (nbf, exp) = (
        claims["nbf"].as_i64().unwrap_or(i64::MAX),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if nbf > now + 5 || exp < now || exp - nbf > 300 {
        return Err("JWT is expired or not yet valid".into());
    }
    if let Some(uri) = uri
        && claims["uri"] != uri
    {
        return Err(format!("uri claim {} does not match {uri}", claims["uri"]));
    }
    let nonce = header["nonce"].as_str().unwrap_or_default().to_string();
    if nonce.is_empty()
        || !st
            .nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(nonce)
    {
        return Err("missing or replayed nonce".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Formats.

/// `2024-01-02T00:00:00.001Z` for ms since the epoch (Coinbase's RFC 3339 timestamps).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

/// The UUID-shaped venue id of simulated order `id`.
pub fn order_uuid(id: u64) -> String {
    format!("0b7e0000-0000-4000-8000-{id:012x}")
}

fn trade_uuid(id: u64) -> String {
    format!("7ade0000-0000-4000-8000-{id:012x}")
}

fn parse_order_uuid(s: &str) -> Option<u64> {
    let tail = s.strip_prefix("0b7e0000-0000-4000-8000-")?;
    u64::from_str_radix(tail, 16).ok()
}

fn product_id(symbol: &str) -> String {
    symbol.replace('/', "-")
}

fn symbol_of(product: &str) -> String {
    product.replace('-', "/")
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn status_str(o: &SimOrder) -> &'static str {
    match o.status {
        crate::sim::Status::Open | crate::sim::Status::PartiallyFilled => "OPEN",
        crate::sim::Status::Filled => "FILLED",
        crate::sim::Status::Cancelled => "CANCELLED",
    }
}

fn s(d: Decimal) -> String {
    d.normalize().to_string()
}

fn fees_of(st: &St, o: &SimOrder) -> Decimal {
    st.sim
        .trades(&o.symbol, 0)
        .iter()
        .filter(|t| t.order_id == o.id)
        .map(|t| t.fee)
        .sum()
}

fn configuration(st: &St, o: &SimOrder) -> Value {
    if let Some(c) = st
        .configs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&o.id)
    {
        return c.clone();
    }
    match o.kind {
        Kind::Market => json!({"market_market_ioc": {"base_size": s(o.qty)}}),
        Kind::Limit(p) => json!({"limit_limit_gtc": {
            "base_size": s(o.qty), "limit_price": s(p), "post_only": false}}),
        Kind::Stop(t) => json!({"stop_limit_stop_limit_gtc": {
            "base_size": s(o.qty), "stop_price": s(t), "limit_price": s(t)}}),
    }
}

/// An order as `GET /orders/historical/{order_id}` shows it.
fn order_json(st: &St, o: &SimOrder) -> Value {
    let fees = fees_of(st, o);
    let last_fill = st
        .sim
        .trades(&o.symbol, 0)
        .iter()
        .filter(|t| t.order_id == o.id)
        .map(|t| t.ts_ms)
        .max();
    json!({
        "order_id": order_uuid(o.id),
        "product_id": product_id(&o.symbol),
        "user_id": "5eed5eed-0000-4000-8000-00000000u5e4",
        "order_configuration": configuration(st, o),
        "side": side_str(o.side),
        "client_order_id": o.client_id,
        "status": status_str(o),
        "time_in_force": "GOOD_UNTIL_CANCELLED",
        "created_time": rfc3339(o.created_ms),
        "completion_percentage": s((o.filled / o.qty * Decimal::ONE_HUNDRED).round_dp(2)),
        "filled_size": s(o.filled),
        "average_filled_price": o.avg_price().map_or_else(|| "0".to_string(), |p| s(p.round_dp(8))),
        "fee": "",
        "number_of_fills": st.sim.trades(&o.symbol, 0).iter().filter(|t| t.order_id == o.id).count().to_string(),
        "filled_value": s(o.cost),
        "pending_cancel": false,
        "size_in_quote": false,
        "total_fees": s(fees),
        "size_inclusive_of_fees": false,
        "total_value_after_fees": s(o.cost + fees),
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": if o.kind == Kind::Market { "MARKET" } else { "LIMIT" },
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": o.status == crate::sim::Status::Filled,
        "product_type": "SPOT",
        "reject_message": "",
        "cancel_message": "",
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": "0",
        "last_fill_time": last_fill.map(rfc3339),
    })
}

/// An order as the `user` websocket channel shows it.
fn ws_order_json(st: &St, o: &SimOrder) -> Value {
    json!({
        "order_id": order_uuid(o.id),
        "client_order_id": o.client_id,
        "cumulative_quantity": s(o.filled),
        "leaves_quantity": s(if o.status == crate::sim::Status::Cancelled { Decimal::ZERO } else { o.qty - o.filled }),
        "avg_price": o.avg_price().map_or_else(|| "0".to_string(), |p| s(p.round_dp(8))),
        "total_fees": s(fees_of(st, o)),
        "status": status_str(o),
        "product_id": product_id(&o.symbol),
        "creation_time": rfc3339(o.created_ms),
        "order_side": side_str(o.side),
        "order_type": if o.kind == Kind::Market { "Market" } else { "Limit" },
        "limit_price": o.price().map_or_else(String::new, s),
        "cancel_reason": "",
        "reject_reason": "",
        "total_value_after_fees": s(o.cost),
        "product_type": "SPOT",
        "time_in_force": "GOOD_UNTIL_CANCELLED",
    })
}

fn fill_json(t: &SimTrade) -> Value {
    json!({
        "entry_id": format!("e4714000-0000-4000-8000-{:012x}", t.id),
        "trade_id": trade_uuid(t.id),
        "order_id": order_uuid(t.order_id),
        "trade_time": rfc3339(t.ts_ms),
        "trade_type": "FILL",
        "price": s(t.price),
        "size": s(t.qty),
        "commission": s(t.fee),
        "product_id": product_id(&t.symbol),
        "sequence_timestamp": rfc3339(t.ts_ms),
        "liquidity_indicator": if t.maker { "MAKER" } else { "TAKER" },
        "size_in_quote": false,
        "user_id": "5eed5eed-0000-4000-8000-00000000u5e4",
        "side": side_str(t.side),
        "retail_portfolio_id": "8f3c2b1a-0000-4000-8000-5eed5eed5eed",
    })
}

type Params = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn params<'a>(q: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// One page of `items` from `cursor` (an offset, as text), `limit` capped at the server max.
fn page<T: Clone>(st: &St, q: &[(String, String)], items: &[T]) -> (Vec<T>, Option<String>) {
    let from = param(q, "cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = param(q, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(49)
        .clamp(1, st.cfg.max_page);
    let end = (from + limit).min(items.len());
    let chunk = items.get(from..end).map(<[T]>::to_vec).unwrap_or_default();
    (chunk, (end < items.len()).then(|| end.to_string()))
}

fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    // Only the shape this server and the adapter write: YYYY-MM-DDTHH:MM:SS[.fff]Z.
    let (date, time) = s.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let ms = format!("{frac:0<3}").get(..3)?.parse::<i64>().ok()?;
    // days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms)
}

// ---------------------------------------------------------------------------------------------
// Market data.

async fn products() -> Response {
    axum::Json(recorded("coinbase/products.json")).into_response()
}

fn price_of(st: &St, product: &str) -> Option<Decimal> {
    st.sim.price(&symbol_of(product))
}

async fn ticker(State(st): State<St>, Path(id): Path<String>) -> Response {
    let Some(p) = price_of(&st, &id) else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "product not found");
    };
    // The recorded shape, priced at the simulator's last price.
    let mut t = recorded("coinbase/ticker.json");
    let cent = Decimal::new(1, 2);
    t["best_bid"] = json!(s(p - cent));
    t["best_ask"] = json!(s(p + cent));
    t["trades"][0]["price"] = json!(s(p));
    t["trades"][0]["product_id"] = json!(id);
    axum::Json(t).into_response()
}

async fn best_bid_ask(State(st): State<St>, q: Params) -> Response {
    let cent = Decimal::new(1, 2);
    let books: Vec<Value> = params(&q, "product_ids")
        .into_iter()
        .filter_map(|id| {
            price_of(&st, id).map(|p| {
                json!({"product_id": id, "bids": [{"price": s(p - cent), "size": "0.5"}],
                       "asks": [{"price": s(p + cent), "size": "0.4"}], "time": rfc3339(st.sim.now_ms())})
            })
        })
        .collect();
    axum::Json(json!({ "pricebooks": books })).into_response()
}

async fn product_book(State(st): State<St>, q: Params) -> Response {
    let id = param(&q, "product_id").unwrap_or_default();
    if price_of(&st, id).is_none() {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "product not found");
    }
    let limit = param(&q, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let mut b = recorded("coinbase/product_book.json");
    for side in ["bids", "asks"] {
        if let Some(levels) = b["pricebook"][side].as_array_mut() {
            levels.truncate(limit);
        }
    }
    axum::Json(b).into_response()
}

/// The recorded one-minute candles, plus the current (unclosed) minute when the range
/// reaches it, as Coinbase includes it; newest first; at most 350 per request.
async fn candles(State(st): State<St>, Path(id): Path<String>, q: Params) -> Response {
    let Some(p) = price_of(&st, &id) else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "product not found");
    };
    let num = |k: &str| param(&q, k).and_then(|v| v.parse::<i64>().ok());
    let (Some(start), Some(end)) = (num("start"), num("end")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "start and end are required",
        );
    };
    let gran = match param(&q, "granularity").unwrap_or_default() {
        "ONE_MINUTE" => 60,
        "FIVE_MINUTE" => 300,
        "FIFTEEN_MINUTE" => 900,
        "THIRTY_MINUTE" => 1800,
        "ONE_HOUR" => 3600,
        "TWO_HOUR" => 7200,
        "SIX_HOUR" => 21_600,
        "ONE_DAY" => 86_400,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "granularity is not a valid enum value",
            );
        }
    };
    if end < start || (end - start) / gran > 350 {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "number of candles requested should be less than 350",
        );
    }
    let mut out: Vec<Value> = Vec::new();
    let now_s = wall_clock_s();
    let current = now_s - now_s.rem_euclid(gran);
    if (start..=end).contains(&current) {
        let px = s(p);
        out.push(
            json!({"start": current.to_string(), "low": px, "high": px, "open": px,
                        "close": px, "volume": "0.01"}),
        );
    }
    if gran == 60 {
        let rec = recorded("coinbase/candles.json");
        for c in rec["candles"].as_array().into_iter().flatten() {
            let t = c["start"]
                .as_str()
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(-1);
            if (start..=end).contains(&t) {
                out.push(c.clone());
            }
        }
    }
    axum::Json(json!({ "candles": out })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Account and orders.

async fn key_permissions() -> Response {
    axum::Json(recorded("coinbase/key_permissions.json")).into_response()
}

async fn accounts(State(st): State<St>, q: Params) -> Response {
    let all: Vec<Value> = st
        .sim
        .balances()
        .iter()
        .enumerate()
        .map(|(i, (asset, free, locked))| {
            json!({
                "uuid": format!("acc00000-0000-4000-8000-{i:012x}"),
                "name": format!("{asset} Wallet"),
                "currency": asset,
                "available_balance": {"value": s(*free), "currency": asset},
                "default": true,
                "active": true,
                "created_at": "2023-11-01T10:00:00.000Z",
                "updated_at": "2024-01-02T00:00:00.000Z",
                "deleted_at": null,
                "type": if asset == "USD" { "ACCOUNT_TYPE_FIAT" } else { "ACCOUNT_TYPE_CRYPTO" },
                "ready": true,
                "hold": {"value": s(*locked), "currency": asset},
                "retail_portfolio_id": "8f3c2b1a-0000-4000-8000-5eed5eed5eed",
                "platform": "ACCOUNT_PLATFORM_CONSUMER"
            })
        })
        .collect();
    let (chunk, next) = page(&st, &q, &all);
    axum::Json(json!({
        "accounts": chunk,
        "has_next": next.is_some(),
        "cursor": next.unwrap_or_default(),
        "size": chunk.len(),
    }))
    .into_response()
}

fn failure(code: &str, preview: &str, message: &str) -> Response {
    axum::Json(json!({
        "success": false,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {
            "error": code,
            "message": message,
            "error_details": message,
            "preview_failure_reason": preview,
            "new_order_failure_reason": code,
        },
        "order_configuration": null,
    }))
    .into_response()
}

fn success(o: &SimOrder, config: &Value) -> Response {
    axum::Json(json!({
        "success": true,
        "success_response": {
            "order_id": order_uuid(o.id),
            "product_id": product_id(&o.symbol),
            "side": side_str(o.side),
            "client_order_id": o.client_id,
        },
        "order_configuration": config,
    }))
    .into_response()
}

fn dec_field(v: &Value) -> Option<Decimal> {
    v.as_str().and_then(|x| x.parse::<Decimal>().ok())
}

async fn create_order(State(st): State<St>, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "body is not JSON",
        );
    };
    let product = req["product_id"].as_str().unwrap_or_default().to_string();
    let client_id = req["client_order_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if client_id.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "client_order_id is required",
        );
    }
    let side = match req["side"].as_str() {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        _ => {
            return failure(
                "INVALID_SIDE",
                "PREVIEW_INVALID_SIDE",
                "side must be BUY or SELL",
            );
        }
    };
    let config = req["order_configuration"].clone();
    let (kind, qty, post_only, ioc) = if let Some(m) = config.get("market_market_ioc") {
        (Kind::Market, dec_field(&m["base_size"]), false, false)
    } else if let Some(l) = config.get("limit_limit_gtc") {
        let p = dec_field(&l["limit_price"]).unwrap_or_default();
        (
            Kind::Limit(p),
            dec_field(&l["base_size"]),
            l["post_only"].as_bool().unwrap_or(false),
            false,
        )
    } else if let Some(l) = config
        .get("sor_limit_ioc")
        .or_else(|| config.get("limit_limit_fok"))
    {
        let p = dec_field(&l["limit_price"]).unwrap_or_default();
        (Kind::Limit(p), dec_field(&l["base_size"]), false, true)
    } else {
        return failure(
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "PREVIEW_INVALID_ORDER_CONFIG",
            "this test venue supports market_market_ioc, limit_limit_gtc, sor_limit_ioc and limit_limit_fok",
        );
    };
    let Some(qty) = qty else {
        return failure(
            "INVALID_SIZE",
            "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
            "base_size is required",
        );
    };
    let symbol = symbol_of(&product);
    // Coinbase answers a repeated client_order_id with the order it already has.
    if let Some(existing) = st.sim.get(&Lookup::Client(client_id.clone())) {
        st.sim.placements.fetch_add(1, Ordering::SeqCst);
        let cfg = configuration(&st, &existing);
        return success(&existing, &cfg);
    }
    if let (Kind::Limit(p), true) = (kind, post_only) {
        let last = st.sim.price(&symbol).unwrap_or_default();
        let crosses = match side {
            Side::Buy => p >= last,
            Side::Sell => p <= last,
        };
        if crosses {
            st.sim.placements.fetch_add(1, Ordering::SeqCst);
            return failure(
                "INVALID_LIMIT_PRICE_POST_ONLY",
                "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
                "Limit price too aggressive for a post-only order",
            );
        }
    }
    match st.sim.place(&symbol, side, kind, qty, &client_id) {
        Ok(o) => {
            st.configs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(o.id, config.clone());
            if ioc && o.status == crate::sim::Status::Open {
                let _ = st.sim.cancel(&Lookup::Id(o.id));
            }
            success(&o, &config)
        }
        Err(Refusal::InsufficientFunds) => failure(
            "INSUFFICIENT_FUND",
            "PREVIEW_INSUFFICIENT_FUND",
            "Insufficient balance in source account",
        ),
        Err(Refusal::UnknownSymbol) => failure(
            "INVALID_PRODUCT_ID",
            "PREVIEW_INVALID_PRODUCT_ID",
            "Invalid product_id",
        ),
        Err(Refusal::DuplicateClientId) => failure(
            "DUPLICATE_CLIENT_ORDER_ID",
            "PREVIEW_DUPLICATE_CLIENT_ORDER_ID",
            "duplicate client_order_id",
        ),
        Err(Refusal::BadOrder | Refusal::UnknownOrder) => failure(
            "INVALID_SIZE",
            "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
            "size and price must be above zero",
        ),
    }
}

async fn batch_cancel(State(st): State<St>, body: axum::body::Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let results: Vec<Value> = req["order_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|id| {
            let done = parse_order_uuid(id).map(|n| st.sim.cancel(&Lookup::Id(n)));
            match done {
                Some(Ok(_)) => json!({"success": true, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": id}),
                _ => json!({"success": false, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": id}),
            }
        })
        .collect();
    axum::Json(json!({ "results": results })).into_response()
}

async fn get_order(State(st): State<St>, Path(id): Path<String>) -> Response {
    match parse_order_uuid(&id).and_then(|n| st.sim.get(&Lookup::Id(n))) {
        Some(o) => axum::Json(json!({ "order": order_json(&st, &o) })).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "order with this orderID was not found",
        ),
    }
}

async fn list_orders(State(st): State<St>, q: Params) -> Response {
    let statuses = params(&q, "order_status");
    let products = params(&q, "product_ids");
    let mut orders: Vec<SimOrder> = st
        .sim
        .orders()
        .into_iter()
        .filter(|o| statuses.is_empty() || statuses.contains(&status_str(o)))
        .filter(|o| products.is_empty() || products.contains(&product_id(&o.symbol).as_str()))
        .collect();
    // Newest first, as Coinbase lists them.
    orders.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
    let (chunk, next) = page(&st, &q, &orders);
    let listed: Vec<Value> = chunk.iter().map(|o| order_json(&st, o)).collect();
    axum::Json(json!({
        "orders": listed,
        "sequence": "0",
        "has_next": next.is_some(),
        "cursor": next.unwrap_or_default(),
    }))
    .into_response()
}

async fn list_fills(State(st): State<St>, q: Params) -> Response {
    let products = params(&q, "product_ids");
    let order_ids = params(&q, "order_ids");
    let since = param(&q, "start_sequence_timestamp")
        .and_then(parse_rfc3339_ms)
        .unwrap_or(i64::MIN);
    let symbols: Vec<String> = st.sim.markets().iter().map(|m| m.symbol()).collect();
    let mut fills: Vec<SimTrade> = symbols
        .iter()
        .filter(|s| products.is_empty() || products.contains(&product_id(s).as_str()))
        .flat_map(|s| st.sim.trades(s, since))
        .filter(|t| order_ids.is_empty() || order_ids.contains(&order_uuid(t.order_id).as_str()))
        .collect();
    fills.sort_by(|a, b| b.ts_ms.cmp(&a.ts_ms).then(b.id.cmp(&a.id)));
    let (chunk, next) = page(&st, &q, &fills);
    let listed: Vec<Value> = chunk.iter().map(fill_json).collect();
    axum::Json(json!({ "fills": listed, "cursor": next.unwrap_or_default() })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Websockets.

async fn ws(State(st): State<St>, upgrade: WebSocketUpgrade) -> Response {
    if st.sim.streams_refused() {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(Body::from("service unavailable"))
            .unwrap_or_default();
    }
    upgrade.on_upgrade(move |socket| ws_session(st, socket))
}

struct Feed {
    seq: u64,
    subs: HashMap<String, Vec<String>>,
}

impl Feed {
    fn envelope(&mut self, st: &St, channel: &str, events: &Value) -> Message {
        let m = json!({
            "channel": channel,
            "client_id": "",
            "timestamp": rfc3339(st.sim.now_ms()),
            "sequence_num": self.seq,
            "events": events,
        });
        self.seq += 1;
        Message::Text(m.to_string().into())
    }

    fn wants(&self, channel: &str, product: &str) -> bool {
        self.subs
            .get(channel)
            .is_some_and(|ps| ps.is_empty() || ps.iter().any(|p| p == product))
    }
}

fn ticker_event(kind: &str, product: &str, p: Decimal) -> Value {
    let cent = Decimal::new(1, 2);
    json!([{"type": kind, "tickers": [{
        "type": "ticker", "product_id": product, "price": s(p),
        "volume_24_h": "8450.12345678", "low_24_h": s(p - Decimal::ONE_HUNDRED),
        "high_24_h": s(p + Decimal::ONE_HUNDRED), "low_52_w": "15460", "high_52_w": "48240",
        "price_percent_chg_24_h": "1.25", "best_bid": s(p - cent), "best_bid_quantity": "0.5",
        "best_ask": s(p + cent), "best_ask_quantity": "0.4"}]}])
}

fn candle_event(kind: &str, product: &str, p: Decimal, now_ms: i64) -> Value {
    let start = now_ms.div_euclid(1000) - now_ms.div_euclid(1000).rem_euclid(300);
    json!([{"type": kind, "candles": [{
        "start": start.to_string(), "high": s(p), "low": s(p), "open": s(p), "close": s(p),
        "volume": "0.01", "product_id": product}]}])
}

/// Handles one subscribe/unsubscribe message; returns the messages to send back.
fn on_client_message(st: &St, feed: &mut Feed, text: &str) -> Vec<Message> {
    let Ok(m) = serde_json::from_str::<Value>(text) else {
        return vec![Message::Text(
            json!({"type": "error", "message": "failure to parse message"})
                .to_string()
                .into(),
        )];
    };
    let channel = m["channel"].as_str().unwrap_or_default().to_string();
    let products: Vec<String> = m["product_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    let jwt = m["jwt"].as_str().unwrap_or_default();
    // The user channel needs a JWT; market channels check one when it is sent.
    if (channel == "user" || !jwt.is_empty())
        && let Err(why) = verify_jwt(st, jwt, None)
    {
        st.sim.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return vec![Message::Text(
            json!({"type": "error", "message": format!("authentication failure: {why}")})
                .to_string()
                .into(),
        )];
    }
    if m["type"] == "unsubscribe" {
        feed.subs.remove(&channel);
    } else {
        feed.subs.insert(channel.clone(), products.clone());
    }
    let subs: serde_json::Map<String, Value> = feed
        .subs
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut out = vec![feed.envelope(st, "subscriptions", &json!([{ "subscriptions": subs }]))];
    if m["type"] == "unsubscribe" {
        return out;
    }
    let listed: Vec<String> = if products.is_empty() {
        st.sim
            .markets()
            .iter()
            .map(|m| product_id(&m.symbol()))
            .collect()
    } else {
        products
    };
    match channel.as_str() {
        "user" => {
            let open: Vec<Value> = st
                .sim
                .open_orders(None)
                .iter()
                .filter(|o| listed.contains(&product_id(&o.symbol)))
                .map(|o| ws_order_json(st, o))
                .collect();
            out.push(feed.envelope(
                st,
                "user",
                &json!([{"type": "snapshot", "orders": open, "positions": {}}]),
            ));
        }
        "ticker" | "candles" => {
            for p in &listed {
                if let Some(px) = price_of(st, p) {
                    let ev = if channel == "ticker" {
                        ticker_event("snapshot", p, px)
                    } else {
                        candle_event("snapshot", p, px, st.sim.now_ms())
                    };
                    out.push(feed.envelope(st, &channel, &ev));
                }
            }
        }
        "market_trades" => {
            out.push(feed.envelope(
                st,
                "market_trades",
                &json!([{"type": "snapshot", "trades": []}]),
            ));
        }
        _ => {}
    }
    out
}

fn on_sim_event(st: &St, feed: &mut Feed, ev: &SimEvent) -> Vec<Message> {
    let mut out = Vec::new();
    let order = match ev {
        SimEvent::Order(o) | SimEvent::Trade(_, o) => o,
    };
    let product = product_id(&order.symbol);
    if feed.wants("user", &product) {
        let orders = json!([{"type": "update", "orders": [ws_order_json(st, order)]}]);
        out.push(feed.envelope(st, "user", &orders));
    }
    if let SimEvent::Trade(t, _) = ev {
        if feed.wants("market_trades", &product) {
            let trades = json!([{"type": "update", "trades": [{
                "trade_id": t.id.to_string(), "product_id": product, "price": s(t.price),
                "size": s(t.qty), "side": side_str(t.side), "time": rfc3339(t.ts_ms)}]}]);
            out.push(feed.envelope(st, "market_trades", &trades));
        }
        if feed.wants("ticker", &product) {
            out.push(feed.envelope(st, "ticker", &ticker_event("update", &product, t.price)));
        }
        if feed.wants("candles", &product) {
            let ev = candle_event("update", &product, t.price, t.ts_ms);
            out.push(feed.envelope(st, "candles", &ev));
        }
    }
    out
}

async fn ws_session(st: St, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let mut events = st.sim.subscribe();
    let mut killer = st.sim.stream_killer();
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    let mut feed = Feed {
        seq: 0,
        subs: HashMap::new(),
    };
    let mut counter: u64 = 0;
    loop {
        let out = tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => on_client_message(&st, &mut feed, t.as_str()),
                Some(Ok(Message::Ping(p))) => vec![Message::Pong(p)],
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => vec![],
            },
            ev = events.recv() => match ev {
                Ok(ev) => on_sim_event(&st, &mut feed, &ev),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => vec![],
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = killer.recv() => return,
            _ = beat.tick() => {
                if feed.subs.contains_key("heartbeats") {
                    counter += 1;
                    let ev = json!([{"current_time": rfc3339(st.sim.now_ms()), "heartbeat_counter": counter}]);
                    vec![feed.envelope(&st, "heartbeats", &ev)]
                } else {
                    vec![]
                }
            }
        };
        for m in out {
            if tx.send(m).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(rfc3339(1_704_153_600_001), "2024-01-02T00:00:00.001Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            parse_rfc3339_ms("2024-01-02T00:00:00.001Z"),
            Some(1_704_153_600_001)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T00:00:00Z"),
            Some(951_782_400_000)
        );
        assert_eq!(parse_order_uuid(&order_uuid(42)), Some(42));
        assert_eq!(test_public_key().len(), 65);
    }
}

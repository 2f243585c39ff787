//! A local Alpaca server: the Trading API (`/v2/clock`, `/v2/assets`, `/v2/account`,
//! `/v2/positions`, `/v2/orders`, `/v2/orders:by_client_order_id`, `/v2/orders/{id}`,
//! `/v2/account/activities/FILL`), the Market Data API (`/v2/stocks/{symbol}/bars|snapshot|
//! quotes/latest`, `/v1beta3/crypto/us/bars|snapshots|latest/orderbooks`) and the websockets
//! (`/stream` trade updates, `/v2/iex` and `/v1beta3/crypto/us` market data), all on one host,
//! backed by a [`SimVenue`].
//!
//! Invariants:
//! - Every REST request is counted, then takes the next injected fault (429 with
//!   `Retry-After` and Alpaca's `{"code":42910000,...}`, 503, or a held answer), then has its
//!   key pair checked: Trading API and stock data always, crypto data when a key is sent. A
//!   wrong or missing key answers Alpaca's 401 `{"code":40110000,"message":"request is not
//!   authorized"}` and counts a bad signature.
//! - The clock's `is_open` is whatever [`ServerConfig::set_market_open`] last said (the server
//!   itself does not police market hours: Alpaca queues orders for the open).
//! - Order ids are UUID-shaped and carry the simulated id; fill execution ids likewise, and a
//!   FILL activity's id ends in the same execution id the trade-updates stream sends.
//! - Market data comes from the recorded payloads in `test_data/alpaca/`, with the last trade
//!   price taken from the simulated venue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::sim::{
    Fault, Kind, Lookup, Refusal, Side, SimEvent, SimOrder, SimTrade, SimVenue, Status,
};
use crate::{Running, recorded, serve};

/// The key id the server accepts by default.
pub const API_KEY: &str = "PKTESTALPACA00000001";
/// The secret key the server accepts by default.
pub const API_SECRET: &str = "alpaca-test-secret-0000000000000000000001";

/// Documented rate limit: requests per minute per key.
const LIMIT_PER_MIN: u32 = 200;
const ORDER_ID_PREFIX: &str = "0a0a0a0a-0000-4000-8000-";
const EXEC_ID_PREFIX: &str = "e0e0e0e0-0000-4000-8000-";

/// The server's settings; clones share the switches.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Accepted key id.
    pub key: String,
    /// Accepted secret key.
    pub secret: String,
    market_open: Arc<AtomicBool>,
    forming_bar_ms: Arc<AtomicI64>,
    trade_streams: Arc<AtomicU64>,
    data_streams: Arc<AtomicU64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            key: API_KEY.to_string(),
            secret: API_SECRET.to_string(),
            market_open: Arc::new(AtomicBool::new(true)),
            forming_bar_ms: Arc::default(),
            trade_streams: Arc::default(),
            data_streams: Arc::default(),
        }
    }
}

impl ServerConfig {
    /// Opens or closes the US stock market (`GET /v2/clock`'s `is_open`).
    pub fn set_market_open(&self, open: bool) {
        self.market_open.store(open, Ordering::SeqCst);
    }

    /// Whether the stock market is open.
    pub fn market_open(&self) -> bool {
        self.market_open.load(Ordering::SeqCst)
    }

    /// Adds a still-forming one-minute bar opening at `open_ms` to every bars answer (0: none),
    /// as Alpaca returns the current minute's bar.
    pub fn set_forming_bar(&self, open_ms: i64) {
        self.forming_bar_ms.store(open_ms, Ordering::SeqCst);
    }

    /// Trade-update connections that authenticated and listen (ever).
    pub fn trade_streams(&self) -> u64 {
        self.trade_streams.load(Ordering::SeqCst)
    }

    /// Market-data connections that authenticated and subscribed (ever).
    pub fn data_streams(&self) -> u64 {
        self.data_streams.load(Ordering::SeqCst)
    }
}

/// A simulated venue with Alpaca's usual test markets: AAPL/USD at 190 and BTC/USD at 30,000;
/// 100,000 USD cash, 10 AAPL and 1 BTC.
pub fn sim() -> SimVenue {
    SimVenue::new(
        &["AAPL/USD", "BTC/USD"],
        &[("USD", "100000"), ("AAPL", "10"), ("BTC", "1")],
        &[("AAPL/USD", "190"), ("BTC/USD", "30000")],
    )
}

/// [`sim`] served with the default [`ServerConfig`] (market open, [`API_KEY`] /
/// [`API_SECRET`]).
pub async fn spawn_default() -> (SimVenue, Running) {
    let venue = sim();
    let running = spawn(venue.clone(), ServerConfig::default()).await;
    (venue, running)
}

/// Order details the simulated venue does not keep.
#[derive(Clone, Debug)]
struct Extra {
    tif: String,
}

#[derive(Clone)]
struct Srv {
    sim: SimVenue,
    cfg: ServerConfig,
    /// Alpaca names of the listed assets → crypto or not.
    classes: Arc<HashMap<String, bool>>,
    extra: Arc<Mutex<HashMap<u64, Extra>>>,
    window: Arc<Mutex<(u64, u32)>>,
    started: tokio::time::Instant,
}

/// Serves the Alpaca protocol for `sim`.
pub async fn spawn(sim: SimVenue, cfg: ServerConfig) -> Running {
    let classes = recorded("alpaca/assets.json")
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| {
            Some((
                a.get("symbol")?.as_str()?.to_string(),
                a.get("class")?.as_str()? == "crypto",
            ))
        })
        .collect();
    let srv = Srv {
        sim,
        cfg,
        classes: Arc::new(classes),
        extra: Arc::default(),
        window: Arc::default(),
        started: tokio::time::Instant::now(),
    };
    let router = Router::new()
        .route("/v2/clock", get(clock))
        .route("/v2/assets", get(assets))
        .route("/v2/account", get(account))
        .route("/v2/positions", get(positions))
        .route("/v2/orders", get(list_orders).post(create_order))
        .route("/v2/orders:by_client_order_id", get(by_client_id))
        .route("/v2/orders/{id}", get(get_order).delete(cancel_order))
        .route("/v2/account/activities/FILL", get(fill_activities))
        .route("/v2/stocks/{symbol}/bars", get(stock_bars))
        .route("/v2/stocks/{symbol}/snapshot", get(stock_snapshot))
        .route("/v2/stocks/{symbol}/quotes/latest", get(stock_quote))
        .route("/v1beta3/crypto/us/bars", get(crypto_bars))
        .route("/v1beta3/crypto/us/snapshots", get(crypto_snapshots))
        .route("/v1beta3/crypto/us/latest/orderbooks", get(crypto_books))
        .route("/stream", get(trade_ws))
        .route("/v2/iex", get(stock_ws))
        .route("/v1beta3/crypto/us", get(crypto_ws))
        .layer(middleware::from_fn_with_state(srv.clone(), gate))
        .with_state(srv);
    serve(router).await
}

// ---------------------------------------------------------------------------------------
// Helpers: time, ids, symbols, answers.

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's civil-from-days).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parts(ms: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, mo, d) = civil(days);
    (
        y,
        mo,
        d,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1_000 % 60,
        rem % 1_000,
    )
}

/// ms → `2024-01-02T03:04:05.006Z`.
fn rfc3339(ms: i64) -> String {
    let (y, mo, d, h, mi, s, f) = parts(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}Z")
}

/// `2024-01-02T03:04:05[.fff...](Z|±hh:mm)` or `2024-01-02` → ms.
fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let date = days_from_civil(num(0, 4)?, num(5, 7)?, num(8, 10)?) * 86_400_000;
    if s.len() == 10 {
        return Some(date);
    }
    let mut ms = date + num(11, 13)? * 3_600_000 + num(14, 16)? * 60_000 + num(17, 19)? * 1_000;
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        let padded = format!("{digits:0<3}");
        ms += padded.get(..3)?.parse::<i64>().ok()?;
        rest = &frac[digits.len()..];
    }
    match rest {
        "Z" | "z" => Some(ms),
        off => {
            let sign = match off.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let h = off.get(1..3)?.parse::<i64>().ok()?;
            let m = off.get(4..6)?.parse::<i64>().ok()?;
            Some(ms - sign * (h * 3_600_000 + m * 60_000))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn order_uuid(id: u64) -> String {
    format!("{ORDER_ID_PREFIX}{id:012x}")
}

fn exec_uuid(id: u64) -> String {
    format!("{EXEC_ID_PREFIX}{id:012x}")
}

fn parse_order_uuid(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix(ORDER_ID_PREFIX)?, 16).ok()
}

fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A JSON number for market data (Alpaca sends numbers there).
fn jnum(d: Decimal) -> Value {
    serde_json::from_str(&num(d)).unwrap_or(Value::Null)
}

fn answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    answer(status, &json!({"code": code, "message": message}))
}

fn ok(body: &Value) -> Response {
    answer(StatusCode::OK, body)
}

impl Srv {
    /// The Alpaca name of a simulated symbol (`AAPL/USD` → `AAPL`, `BTC/USD` as is).
    fn venue_name(&self, unified: &str) -> String {
        if self.classes.get(unified).copied().unwrap_or(false) {
            return unified.to_string();
        }
        match unified.split_once('/') {
            Some((base, "USD")) => base.to_string(),
            _ => unified.to_string(),
        }
    }

    /// The simulated symbol of an Alpaca name.
    fn unified(name: &str) -> String {
        if name.contains('/') {
            name.to_string()
        } else {
            format!("{name}/USD")
        }
    }

    fn is_crypto(&self, unified: &str) -> bool {
        self.classes.get(unified).copied().unwrap_or(false)
    }

    fn listed(&self, unified: &str) -> bool {
        self.sim.markets().iter().any(|m| m.symbol() == unified)
    }

    fn order_json(&self, o: &SimOrder) -> Value {
        let mut v = recorded("alpaca/order.json");
        let (kind, limit) = match o.kind {
            Kind::Market => ("market", Value::Null),
            Kind::Limit(p) => ("limit", json!(num(p))),
            // This server does not place stops; a sim order of another server could be one.
            Kind::Stop(_) => ("stop", Value::Null),
        };
        let tif = lock(&self.extra)
            .get(&o.id)
            .map_or_else(|| "gtc".to_string(), |e| e.tif.clone());
        let status = match o.status {
            Status::Open if o.filled.is_zero() => "new",
            Status::Open | Status::PartiallyFilled => "partially_filled",
            Status::Filled => "filled",
            Status::Cancelled => "canceled",
        };
        let crypto = self.is_crypto(&o.symbol);
        v["id"] = json!(order_uuid(o.id));
        v["client_order_id"] = json!(o.client_id);
        v["created_at"] = json!(rfc3339(o.created_ms));
        v["submitted_at"] = json!(rfc3339(o.created_ms));
        v["updated_at"] = json!(rfc3339(o.updated_ms));
        v["filled_at"] = if o.status == Status::Filled {
            json!(rfc3339(o.updated_ms))
        } else {
            Value::Null
        };
        v["canceled_at"] = if o.status == Status::Cancelled {
            json!(rfc3339(o.updated_ms))
        } else {
            Value::Null
        };
        v["symbol"] = json!(self.venue_name(&o.symbol));
        v["asset_class"] = json!(if crypto { "crypto" } else { "us_equity" });
        v["qty"] = json!(num(o.qty));
        v["filled_qty"] = json!(num(o.filled));
        v["filled_avg_price"] = o.avg_price().map_or(Value::Null, |p| json!(num(p)));
        v["order_type"] = json!(kind);
        v["type"] = json!(kind);
        v["side"] = json!(match o.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        });
        v["position_intent"] = json!(match o.side {
            Side::Buy => "buy_to_open",
            Side::Sell => "sell_to_close",
        });
        v["time_in_force"] = json!(tif);
        v["limit_price"] = limit;
        v["stop_price"] = Value::Null;
        v["status"] = json!(status);
        v
    }

    /// Every simulated fill, oldest first.
    fn all_trades(&self) -> Vec<SimTrade> {
        let mut t: Vec<SimTrade> = self
            .sim
            .markets()
            .iter()
            .flat_map(|m| self.sim.trades(&m.symbol(), i64::MIN))
            .collect();
        t.sort_by_key(|t| (t.ts_ms, t.id));
        t
    }

    fn activity_json(&self, t: &SimTrade, all: &[SimTrade]) -> Value {
        let mut v = recorded("alpaca/activities_fill.json")
            .get(0)
            .cloned()
            .unwrap_or(Value::Null);
        let (y, mo, d, h, mi, s, f) = parts(t.ts_ms);
        let cum: Decimal = all
            .iter()
            .filter(|x| x.order_id == t.order_id && (x.ts_ms, x.id) <= (t.ts_ms, t.id))
            .map(|x| x.qty)
            .sum();
        let order = self.sim.get(&Lookup::Id(t.order_id));
        let leaves = order.as_ref().map_or(Decimal::ZERO, |o| o.qty - cum);
        v["id"] = json!(format!(
            "{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{f:03}::{}",
            exec_uuid(t.id)
        ));
        v["transaction_time"] = json!(rfc3339(t.ts_ms));
        v["type"] = json!(if leaves.is_zero() {
            "fill"
        } else {
            "partial_fill"
        });
        v["price"] = json!(num(t.price));
        v["qty"] = json!(num(t.qty));
        v["side"] = json!(match t.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        });
        v["symbol"] = json!(self.venue_name(&t.symbol));
        v["leaves_qty"] = json!(num(leaves));
        v["order_id"] = json!(order_uuid(t.order_id));
        v["cum_qty"] = json!(num(cum));
        v["order_status"] = json!(if leaves.is_zero() {
            "filled"
        } else {
            "partially_filled"
        });
        v
    }

    fn trade_update(&self, ev: &SimEvent) -> Value {
        let mut v = recorded("alpaca/trade_update.json");
        let data = &mut v["data"];
        match ev {
            SimEvent::Order(o) => {
                let event = match o.status {
                    Status::Cancelled => "canceled",
                    Status::Filled => "fill",
                    Status::Open | Status::PartiallyFilled => "new",
                };
                *data = json!({
                    "event": event,
                    "timestamp": rfc3339(o.updated_ms),
                    "order": self.order_json(o),
                });
            }
            SimEvent::Trade(t, o) => {
                let base = o.symbol.split_once('/').map_or("", |(b, _)| b);
                let position: Decimal = self
                    .sim
                    .balances()
                    .iter()
                    .filter(|b| b.0 == base)
                    .map(|b| b.1 + b.2)
                    .sum();
                data["event"] = json!(if o.status == Status::Filled {
                    "fill"
                } else {
                    "partial_fill"
                });
                data["execution_id"] = json!(exec_uuid(t.id));
                data["order"] = self.order_json(o);
                data["position_qty"] = json!(num(position));
                data["price"] = json!(num(t.price));
                data["qty"] = json!(num(t.qty));
                data["timestamp"] = json!(rfc3339(t.ts_ms));
            }
        }
        v
    }

    fn key_ok(&self, key: Option<&str>, secret: Option<&str>) -> bool {
        key == Some(self.cfg.key.as_str()) && secret == Some(self.cfg.secret.as_str())
    }

    fn rate_headers(&self, headers: &mut HeaderMap) {
        let minute = self.started.elapsed().as_secs() / 60;
        let used = {
            let mut w = lock(&self.window);
            if w.0 != minute {
                *w = (minute, 0);
            }
            w.1 += 1;
            w.1
        };
        let reset = self.sim.now_ms() / 1000 + 60;
        for (k, v) in [
            ("x-ratelimit-limit", LIMIT_PER_MIN.to_string()),
            (
                "x-ratelimit-remaining",
                LIMIT_PER_MIN.saturating_sub(used).to_string(),
            ),
            ("x-ratelimit-reset", reset.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.insert(k, v);
            }
        }
    }
}

/// Faults, authentication and rate-limit headers for every REST request.
async fn gate(State(s): State<Srv>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if matches!(path.as_str(), "/stream" | "/v2/iex" | "/v1beta3/crypto/us") {
        return next.run(req).await;
    }
    s.sim.count_request();
    let mut slow = None;
    match s.sim.take_fault() {
        Some(Fault::RateLimit { secs }) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                42_910_000,
                "rate limit exceeded",
            );
            s.rate_headers(r.headers_mut());
            let h = r.headers_mut();
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                h.insert("retry-after", v);
            }
            return r;
        }
        Some(Fault::Unavailable) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                50_300_000,
                "service unavailable",
            );
        }
        Some(Fault::SlowAnswer(d)) => slow = Some(d),
        None => {}
    }
    // Owned: the request body is not `Sync`, so no borrow of it may live across an await.
    let (key, secret) = {
        let h = req.headers();
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        (get("apca-api-key-id"), get("apca-api-secret-key"))
    };
    // Crypto market data may be read without a key; a key that is sent must be right.
    let public = path.starts_with("/v1beta3/crypto/") && key.is_none() && secret.is_none();
    if !public && !s.key_ok(key.as_deref(), secret.as_deref()) {
        s.sim.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return error(
            StatusCode::UNAUTHORIZED,
            40_110_000,
            "request is not authorized",
        );
    }
    let mut r = next.run(req).await;
    s.rate_headers(r.headers_mut());
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    r
}

type Params = Query<HashMap<String, String>>;

// ---------------------------------------------------------------------------------------
// Trading API.

async fn clock(State(s): State<Srv>) -> Response {
    let mut v = recorded("alpaca/clock.json");
    let now = s.sim.now_ms();
    v["timestamp"] = json!(rfc3339(now));
    v["is_open"] = json!(s.cfg.market_open());
    if s.cfg.market_open() {
        // Open now; the recorded next open becomes tomorrow's.
        let next_close = now + 3_600_000;
        v["next_close"] = json!(rfc3339(next_close));
        v["next_open"] = json!(rfc3339(now + 86_400_000));
    }
    ok(&v)
}

async fn assets(Query(q): Params) -> Response {
    let all = recorded("alpaca/assets.json");
    let list: Vec<Value> = all
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| {
            q.get("status")
                .is_none_or(|s| a.get("status").and_then(Value::as_str) == Some(s))
                && q.get("asset_class")
                    .is_none_or(|c| a.get("class").and_then(Value::as_str) == Some(c))
        })
        .collect();
    ok(&Value::Array(list))
}

async fn account(State(s): State<Srv>) -> Response {
    let mut v = recorded("alpaca/account.json");
    let (free, locked) = s
        .sim
        .balances()
        .iter()
        .find(|b| b.0 == "USD")
        .map_or((Decimal::ZERO, Decimal::ZERO), |b| (b.1, b.2));
    let positions: Decimal = s
        .sim
        .markets()
        .iter()
        .map(|m| {
            let held: Decimal = s
                .sim
                .balances()
                .iter()
                .filter(|b| b.0 == m.base)
                .map(|b| b.1 + b.2)
                .sum();
            held * s.sim.price(&m.symbol()).unwrap_or_default()
        })
        .sum();
    let cash = free + locked;
    for k in [
        "buying_power",
        "regt_buying_power",
        "non_marginable_buying_power",
    ] {
        v[k] = json!(num(free));
    }
    v["cash"] = json!(num(cash));
    v["long_market_value"] = json!(num(positions));
    v["equity"] = json!(num(cash + positions));
    v["portfolio_value"] = json!(num(cash + positions));
    ok(&v)
}

async fn positions(State(s): State<Srv>) -> Response {
    let template = recorded("alpaca/positions.json")
        .get(0)
        .cloned()
        .unwrap_or(Value::Null);
    let mut out = Vec::new();
    for m in s.sim.markets() {
        let Some((_, free, locked)) = s.sim.balances().into_iter().find(|b| b.0 == m.base) else {
            continue;
        };
        let qty = free + locked;
        if qty.is_zero() {
            continue;
        }
        let crypto = s.is_crypto(&m.symbol());
        let price = s.sim.price(&m.symbol()).unwrap_or_default();
        let mut p = template.clone();
        // Positions name crypto pairs without the slash (`BTCUSD`).
        p["symbol"] = json!(s.venue_name(&m.symbol()).replace('/', ""));
        p["exchange"] = json!(if crypto { "CRYPTO" } else { "NASDAQ" });
        p["asset_class"] = json!(if crypto { "crypto" } else { "us_equity" });
        p["qty"] = json!(num(qty));
        p["qty_available"] = json!(num(free));
        p["current_price"] = json!(num(price));
        p["market_value"] = json!(num(qty * price));
        out.push(p);
    }
    ok(&Value::Array(out))
}

fn field(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn create_order(State(s): State<Srv>, body: String) -> Response {
    let bad = |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, 40_010_001, m);
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return bad("invalid request body");
    };
    let name = field(&v, "symbol").unwrap_or_default();
    let symbol = Srv::unified(&name);
    if !s.listed(&symbol) {
        return bad(&format!("asset \"{name}\" not found"));
    }
    let crypto = s.is_crypto(&symbol);
    let Some(qty) = field(&v, "qty").and_then(|q| q.parse::<Decimal>().ok()) else {
        return bad("qty is required");
    };
    let side = match field(&v, "side").as_deref() {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        _ => return bad("invalid side"),
    };
    let kind = match field(&v, "type").as_deref() {
        Some("market") => Kind::Market,
        Some("limit") => match field(&v, "limit_price").and_then(|p| p.parse().ok()) {
            Some(p) => Kind::Limit(p),
            None => return bad("limit_price is required for limit orders"),
        },
        Some("stop" | "stop_limit") => {
            return bad("stop orders are not simulated by this test server");
        }
        _ => return bad("invalid order type"),
    };
    let tif = field(&v, "time_in_force").unwrap_or_default();
    let tif_ok = if crypto {
        matches!(tif.as_str(), "gtc" | "ioc")
    } else {
        matches!(tif.as_str(), "day" | "gtc" | "ioc" | "fok" | "opg" | "cls")
    };
    if !tif_ok {
        return bad(&format!("invalid time_in_force: {tif}"));
    }
    if !crypto && !qty.fract().is_zero() && tif != "day" {
        return bad("fractional orders must be DAY orders");
    }
    let client = field(&v, "client_order_id").unwrap_or_default();
    match s.sim.place(&symbol, side, kind, qty, &client) {
        Ok(o) => {
            lock(&s.extra).insert(o.id, Extra { tif });
            // Answer with the order as it is now (a crossing order filled already).
            let now = s.sim.get(&Lookup::Id(o.id)).unwrap_or(o);
            ok(&s.order_json(&now))
        }
        Err(Refusal::DuplicateClientId) => bad("client_order_id must be unique"),
        Err(Refusal::InsufficientFunds) => {
            let msg = match (crypto, side) {
                (true, Side::Buy) => format!(
                    "insufficient balance for USD (requested: {}, available: {})",
                    num(qty * s.sim.price(&symbol).unwrap_or_default()),
                    num(s.sim.free("USD"))
                ),
                (true, Side::Sell) | (false, Side::Sell) => {
                    let base = symbol.split_once('/').map_or("", |(b, _)| b);
                    format!(
                        "insufficient qty available for order (requested: {}, available: {})",
                        num(qty),
                        num(s.sim.free(base))
                    )
                }
                (false, Side::Buy) => "insufficient buying power".to_string(),
            };
            error(StatusCode::FORBIDDEN, 40_310_000, &msg)
        }
        Err(Refusal::UnknownSymbol) => bad(&format!("asset \"{name}\" not found")),
        Err(Refusal::BadOrder | Refusal::UnknownOrder) => bad("qty must be > 0"),
    }
}

async fn list_orders(State(s): State<Srv>, Query(q): Params) -> Response {
    let status = q.get("status").map_or("open", String::as_str);
    let symbols: Option<Vec<String>> = q
        .get("symbols")
        .map(|l| l.split(',').map(Srv::unified).collect());
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .min(500);
    let mut orders: Vec<SimOrder> = s
        .sim
        .orders()
        .into_iter()
        .filter(|o| {
            let open = matches!(o.status, Status::Open | Status::PartiallyFilled);
            match status {
                "open" => open,
                "closed" => !open,
                _ => true,
            }
        })
        .filter(|o| symbols.as_ref().is_none_or(|l| l.contains(&o.symbol)))
        .collect();
    if q.get("direction").map(String::as_str) != Some("asc") {
        orders.reverse();
    }
    orders.truncate(limit);
    ok(&Value::Array(
        orders.iter().map(|o| s.order_json(o)).collect(),
    ))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 40_410_000, "order not found")
}

async fn get_order(State(s): State<Srv>, Path(id): Path<String>) -> Response {
    match parse_order_uuid(&id).and_then(|n| s.sim.get(&Lookup::Id(n))) {
        Some(o) => ok(&s.order_json(&o)),
        None => not_found(),
    }
}

async fn by_client_id(State(s): State<Srv>, Query(q): Params) -> Response {
    let id = q.get("client_order_id").cloned().unwrap_or_default();
    match s.sim.get(&Lookup::Client(id)) {
        Some(o) => ok(&s.order_json(&o)),
        None => not_found(),
    }
}

async fn cancel_order(State(s): State<Srv>, Path(id): Path<String>) -> Response {
    let Some(n) = parse_order_uuid(&id) else {
        return not_found();
    };
    match s.sim.cancel(&Lookup::Id(n)) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(_) if s.sim.get(&Lookup::Id(n)).is_some() => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42_210_000,
            "order is not cancelable",
        ),
        Err(_) => not_found(),
    }
}

async fn fill_activities(State(s): State<Srv>, Query(q): Params) -> Response {
    let all = s.all_trades();
    let after = q.get("after").and_then(|a| parse_time(a));
    let until = q.get("until").and_then(|a| parse_time(a));
    let mut list: Vec<Value> = all
        .iter()
        .filter(|t| after.is_none_or(|a| t.ts_ms > a) && until.is_none_or(|u| t.ts_ms < u))
        .map(|t| s.activity_json(t, &all))
        .collect();
    if q.get("direction").map(String::as_str) != Some("asc") {
        list.reverse();
    }
    if let Some(token) = q.get("page_token")
        && let Some(i) = list
            .iter()
            .position(|a| a.get("id").and_then(Value::as_str) == Some(token.as_str()))
    {
        list.drain(..=i);
    }
    let size = q
        .get("page_size")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    list.truncate(size);
    ok(&Value::Array(list))
}

// ---------------------------------------------------------------------------------------
// Market Data API.

/// Bars from `recorded` (already the symbol's list) at or after `start`, plus the forming
/// bar, one page of `limit`, with a page token when more remain.
fn bar_page(
    s: &Srv,
    symbol: &str,
    recorded: &Value,
    q: &HashMap<String, String>,
) -> (Vec<Value>, Value) {
    let mut bars: Vec<Value> = if q.get("timeframe").map(String::as_str) == Some("1Min") {
        recorded.as_array().cloned().unwrap_or_default()
    } else {
        Vec::new()
    };
    let forming = s.cfg.forming_bar_ms.load(Ordering::SeqCst);
    if forming != 0 && q.get("timeframe").map(String::as_str) == Some("1Min") {
        let p = s.sim.price(symbol).map_or(Value::Null, jnum);
        bars.push(
            json!({"t": rfc3339(forming), "o": p, "h": p, "l": p, "c": p, "v": 1, "n": 1, "vw": p}),
        );
    }
    let t = |b: &Value| {
        b.get("t")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .unwrap_or(0)
    };
    let mut start = q
        .get("start")
        .and_then(|x| parse_time(x))
        .unwrap_or(i64::MIN);
    if let Some(token) = q.get("page_token")
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(token)
        && let Some(at) = String::from_utf8_lossy(&raw)
            .rsplit('|')
            .next()
            .and_then(parse_time)
    {
        start = start.max(at);
    }
    bars.retain(|b| t(b) >= start);
    bars.sort_by_key(t);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, 10_000);
    let token = bars.get(limit).map_or(Value::Null, |next| {
        let raw = format!(
            "{symbol}|M|{}",
            next.get("t").and_then(Value::as_str).unwrap_or_default()
        );
        json!(base64::engine::general_purpose::STANDARD.encode(raw))
    });
    bars.truncate(limit);
    (bars, token)
}

async fn stock_bars(State(s): State<Srv>, Path(name): Path<String>, Query(q): Params) -> Response {
    let rec = recorded("alpaca/stock_bars.json");
    let list = if rec.get("symbol").and_then(Value::as_str) == Some(name.as_str()) {
        rec.get("bars").cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let (bars, token) = bar_page(&s, &Srv::unified(&name), &list, &q);
    ok(&json!({"bars": bars, "symbol": name, "next_page_token": token}))
}

async fn crypto_bars(State(s): State<Srv>, Query(q): Params) -> Response {
    let rec = recorded("alpaca/crypto_bars.json");
    let mut out = serde_json::Map::new();
    let mut next = Value::Null;
    for name in q
        .get("symbols")
        .map(|l| l.split(',').collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let list = rec
            .get("bars")
            .and_then(|b| b.get(name))
            .cloned()
            .unwrap_or(Value::Null);
        let (bars, token) = bar_page(&s, name, &list, &q);
        if !bars.is_empty() {
            out.insert(name.to_string(), Value::Array(bars));
        }
        if !token.is_null() {
            next = token;
        }
    }
    ok(&json!({"bars": out, "next_page_token": next}))
}

fn invalid_symbol(name: &str) -> Response {
    answer(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"message": format!("invalid symbol: {name}")}),
    )
}

async fn stock_snapshot(State(s): State<Srv>, Path(name): Path<String>) -> Response {
    let mut v = recorded("alpaca/stock_snapshot.json");
    if v.get("symbol").and_then(Value::as_str) != Some(name.as_str()) {
        return invalid_symbol(&name);
    }
    if let Some(p) = s.sim.price(&Srv::unified(&name)) {
        v["latestTrade"]["p"] = jnum(p);
    }
    ok(&v)
}

async fn stock_quote(Path(name): Path<String>) -> Response {
    let v = recorded("alpaca/stock_quote_latest.json");
    if v.get("symbol").and_then(Value::as_str) != Some(name.as_str()) {
        return invalid_symbol(&name);
    }
    ok(&v)
}

async fn crypto_snapshots(State(s): State<Srv>, Query(q): Params) -> Response {
    let mut v = recorded("alpaca/crypto_snapshots.json");
    let want: Vec<String> = q
        .get("symbols")
        .map(|l| l.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(map) = v.get_mut("snapshots").and_then(Value::as_object_mut) {
        map.retain(|k, _| want.contains(k));
        for (k, snap) in map.iter_mut() {
            if let Some(p) = s.sim.price(k) {
                snap["latestTrade"]["p"] = jnum(p);
            }
        }
    }
    ok(&v)
}

async fn crypto_books(Query(q): Params) -> Response {
    let mut v = recorded("alpaca/crypto_orderbooks.json");
    let want: Vec<String> = q
        .get("symbols")
        .map(|l| l.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(map) = v.get_mut("orderbooks").and_then(Value::as_object_mut) {
        map.retain(|k, _| want.contains(k));
    }
    ok(&v)
}

// ---------------------------------------------------------------------------------------
// Websockets.

fn refused() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "streams are down").into_response()
}

async fn trade_ws(State(s): State<Srv>, ws: WebSocketUpgrade) -> Response {
    if s.sim.streams_refused() {
        return refused();
    }
    ws.on_upgrade(move |sock| trade_session(s, sock))
}

async fn send(sock: &mut WebSocket, v: &Value) -> bool {
    sock.send(Message::text(v.to_string())).await.is_ok()
}

/// Reads the credentials of an auth message: `{"action":"auth","key","secret"}`, or the
/// older `{"action":"authenticate","data":{"key_id","secret_key"}}`.
fn credentials(v: &Value) -> (Option<&str>, Option<&str>) {
    fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
        v.get(k).and_then(Value::as_str)
    }
    match s(v, "action") {
        Some("authenticate") => (
            v.get("data")
                .and_then(|d| d.get("key_id"))
                .and_then(Value::as_str),
            v.get("data")
                .and_then(|d| d.get("secret_key"))
                .and_then(Value::as_str),
        ),
        _ => (s(v, "key"), s(v, "secret")),
    }
}

async fn trade_session(s: Srv, mut sock: WebSocket) {
    let mut events = s.sim.subscribe();
    let mut kill = s.sim.stream_killer();
    let mut authed = false;
    let mut listening = false;
    loop {
        // Biased: a drop requested before an event was queued wins over that event.
        tokio::select! {
            biased;
            _ = kill.recv() => return,
            msg = sock.recv() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match v.get("action").and_then(Value::as_str) {
                    Some("auth" | "authenticate") => {
                        let (key, secret) = credentials(&v);
                        authed = s.key_ok(key, secret);
                        let status = if authed { "authorized" } else { "unauthorized" };
                        let reply = json!({"stream": "authorization", "data": {"action": "authenticate", "status": status}});
                        if !send(&mut sock, &reply).await || !authed {
                            if !authed {
                                s.sim.bad_signatures.fetch_add(1, Ordering::SeqCst);
                            }
                            return;
                        }
                    }
                    Some("listen") if authed => {
                        let wants = v.pointer("/data/streams").and_then(Value::as_array).is_some_and(|l| l.iter().any(|x| x == "trade_updates"));
                        listening = wants;
                        let streams: Vec<&str> = if wants { vec!["trade_updates"] } else { vec![] };
                        if !send(&mut sock, &json!({"stream": "listening", "data": {"streams": streams}})).await {
                            return;
                        }
                        if wants {
                            s.cfg.trade_streams.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Some("listen") => {
                        let reply = json!({"stream": "authorization", "data": {"action": "listen", "status": "unauthorized"}});
                        let _ = send(&mut sock, &reply).await;
                        return;
                    }
                    _ => {}
                }
            }
            ev = events.recv(), if listening => match ev {
                Ok(e) => {
                    if !send(&mut sock, &s.trade_update(&e)).await {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

async fn stock_ws(State(s): State<Srv>, ws: WebSocketUpgrade) -> Response {
    if s.sim.streams_refused() {
        return refused();
    }
    ws.on_upgrade(move |sock| data_session(s, sock, false))
}

async fn crypto_ws(State(s): State<Srv>, ws: WebSocketUpgrade) -> Response {
    if s.sim.streams_refused() {
        return refused();
    }
    ws.on_upgrade(move |sock| data_session(s, sock, true))
}

fn names(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A market-data connection: `connected`, then auth, then subscribe; the recorded messages
/// of the subscribed symbols follow, then our own fills as public trades.
async fn data_session(s: Srv, mut sock: WebSocket, crypto: bool) {
    let mut events = s.sim.subscribe();
    let mut kill = s.sim.stream_killer();
    let (mut authed, mut trades, mut quotes, mut bars) =
        (false, Vec::new(), Vec::new(), Vec::new());
    if !send(&mut sock, &json!([{"T": "success", "msg": "connected"}])).await {
        return;
    }
    loop {
        // Biased: a drop requested before an event was queued wins over that event.
        tokio::select! {
            biased;
            _ = kill.recv() => return,
            msg = sock.recv() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match v.get("action").and_then(Value::as_str) {
                    Some("auth") => {
                        let (key, secret) = credentials(&v);
                        if !s.key_ok(key, secret) {
                            s.sim.bad_signatures.fetch_add(1, Ordering::SeqCst);
                            let _ = send(&mut sock, &json!([{"T": "error", "code": 402, "msg": "auth failed"}])).await;
                            return;
                        }
                        authed = true;
                        if !send(&mut sock, &json!([{"T": "success", "msg": "authenticated"}])).await {
                            return;
                        }
                    }
                    Some("subscribe") if authed => {
                        trades.extend(names(&v, "trades"));
                        quotes.extend(names(&v, "quotes"));
                        bars.extend(names(&v, "bars"));
                        let ack = if crypto {
                            json!([{"T": "subscription", "trades": trades, "quotes": quotes, "orderbooks": [], "bars": bars, "updatedBars": [], "dailyBars": []}])
                        } else {
                            json!([{"T": "subscription", "trades": trades, "quotes": quotes, "bars": bars, "updatedBars": [], "dailyBars": [], "statuses": [], "lulds": [], "corrections": trades, "cancelErrors": trades}])
                        };
                        if !send(&mut sock, &ack).await {
                            return;
                        }
                        let file = if crypto { "alpaca/stream_crypto.json" } else { "alpaca/stream_stocks.json" };
                        let sample: Vec<Value> = recorded(file)
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|m| {
                                let sym = m.get("S").and_then(Value::as_str).unwrap_or_default().to_string();
                                match m.get("T").and_then(Value::as_str) {
                                    Some("t") => trades.contains(&sym),
                                    Some("q") => quotes.contains(&sym),
                                    Some("b") => bars.contains(&sym),
                                    _ => false,
                                }
                            })
                            .collect();
                        if !sample.is_empty() && !send(&mut sock, &Value::Array(sample)).await {
                            return;
                        }
                        s.cfg.data_streams.fetch_add(1, Ordering::SeqCst);
                    }
                    Some("subscribe") => {
                        let _ = send(&mut sock, &json!([{"T": "error", "code": 401, "msg": "not authenticated"}])).await;
                        return;
                    }
                    _ => {}
                }
            }
            ev = events.recv() => match ev {
                Ok(SimEvent::Trade(t, _)) => {
                    let name = s.venue_name(&t.symbol);
                    if trades.contains(&name) && s.is_crypto(&t.symbol) == crypto {
                        let msg = json!([{"T": "t", "S": name, "p": jnum(t.price), "s": jnum(t.qty), "t": rfc3339(t.ts_ms), "i": t.id, "x": "V", "z": "C", "c": ["@"]}]);
                        if !send(&mut sock, &msg).await {
                            return;
                        }
                    }
                }
                Ok(SimEvent::Order(_)) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn times_format_and_parse_both_ways() {
        let ms = 1_704_205_800_123; // 2024-01-02T14:30:00.123Z
        assert_eq!(rfc3339(ms), "2024-01-02T14:30:00.123Z");
        assert_eq!(parse_time("2024-01-02T14:30:00.123Z"), Some(ms));
        assert_eq!(parse_time("2024-01-02T09:30:00.123456789-05:00"), Some(ms));
        assert_eq!(parse_time("2024-01-02T14:30:00Z"), Some(ms - 123));
        assert_eq!(parse_time("2024-01-02"), Some(1_704_153_600_000));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_time("2024-02-29T00:00:00Z").map(rfc3339).as_deref(),
            Some("2024-02-29T00:00:00.000Z")
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn ids_carry_the_simulated_ids() {
        assert_eq!(parse_order_uuid(&order_uuid(42)), Some(42));
        assert_eq!(order_uuid(42).len(), 36);
        assert!(parse_order_uuid("61e69015-8549-4bfd-b9c3-01e75843f47d").is_none());
    }
}

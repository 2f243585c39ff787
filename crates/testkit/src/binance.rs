//! A local Binance spot server: the documented REST paths, parameters, JSON shapes, error
//! bodies and rate-limit headers, the combined market stream and the listen-key user data
//! stream, all on one port, backed by a [`SimVenue`].
//!
//! Invariants:
//! - Every SIGNED request is checked like Binance does: the `X-MBX-APIKEY` header must be
//!   the known key, `timestamp` must be sent, and `signature` must be the HMAC-SHA256 (hex) of
//!   the query string concatenated with the form body, as sent, minus the `signature`
//!   parameter. A mismatch answers 400 `{"code":-1022,...}` and counts in
//!   [`SimVenue::bad_signatures`]. The check is this module's own code: it does not trust the
//!   adapter's signer.
//! - Each REST request is counted ([`SimVenue::count_request`]) and takes the next injected
//!   fault first: `RateLimit` answers 429 with `Retry-After` and `-1003`, `Unavailable`
//!   answers 503, `SlowAnswer(d)` does the work and then holds the answer for `d`.
//! - Every answer carries `X-MBX-USED-WEIGHT-1M` (`X-SAPI-USED-IP-WEIGHT-1M` on `/sapi`),
//!   counting the documented weights over the current minute.
//! - Market data (rules, ticker, book, klines) comes from the recorded payloads in
//!   `test_data/binance/`, with prices taken from the simulated venue where they must agree.
//! - Websocket upgrades answer 503 while [`SimVenue::streams_refused`]; every open socket
//!   closes when [`SimVenue::drop_streams`] fires, before it sends anything else.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{KeyInit, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::Running;
use crate::sim::{Fault, Kind, Lookup, Refusal, Side, SimEvent, SimOrder, SimVenue, Status};

/// The API key the server accepts (the example key of Binance's signing documentation).
pub const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
/// The secret the server verifies signatures with (the documentation's example secret).
pub const API_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

/// Kline intervals Binance spot accepts, with their length in ms (`1M` is calendar-based:
/// accepted, but served empty here).
const INTERVALS: [(&str, i64); 16] = [
    ("1s", 1_000),
    ("1m", 60_000),
    ("3m", 180_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("2h", 7_200_000),
    ("4h", 14_400_000),
    ("6h", 21_600_000),
    ("8h", 28_800_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
    ("3d", 259_200_000),
    ("1w", 604_800_000),
    ("1M", 0),
];

/// How often the market stream pushes an update of each subscribed stream.
const MARKET_PUSH_EVERY: Duration = Duration::from_millis(200);

/// The credentials the server accepts.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Expected `X-MBX-APIKEY`.
    pub api_key: String,
    /// HMAC secret.
    pub api_secret: String,
    /// When above zero, BTCUSDT klines of every interval are this many generated closed bars
    /// ending now (deterministic waves around 30,000: the same bar has the same prices in
    /// every request) instead of the recorded 1m ones: history for paged downloads and
    /// backtests, and new bars closing on time for live bots (1s bars close every second).
    pub history_bars: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            api_key: API_KEY.to_string(),
            api_secret: API_SECRET.to_string(),
            history_bars: 0,
        }
    }
}

/// Wall-clock ms. The server plays the venue's clock: the adapter compares kline close
/// times with the wall clock, so the bar in progress must be in progress by that clock.
#[allow(
    clippy::disallowed_methods,
    reason = "the test server stands in for the venue's own clock"
)]
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The simulated venue the default server trades on: BTC/USDT at 30,000 and ETH/USDT at
/// 2,000; 100,000 USDT, 1 BTC and 10 ETH; the venue clock set to the wall clock (so a
/// resync "since a moment ago" finds the fills made now).
pub fn default_sim() -> SimVenue {
    let sim = SimVenue::new(
        &["BTC/USDT", "ETH/USDT"],
        &[("USDT", "100000"), ("BTC", "1"), ("ETH", "10")],
        &[("BTC/USDT", "30000"), ("ETH/USDT", "2000")],
    );
    sim.set_now_ms(wall_ms());
    sim
}

/// [`default_sim`] served with the default key pair ([`API_KEY`], [`API_SECRET`]).
pub async fn spawn_default() -> (SimVenue, Running) {
    let sim = default_sim();
    let running = spawn(sim.clone(), ServerConfig::default()).await;
    (sim, running)
}

/// Serves `sim` as Binance spot on 127.0.0.1 (REST and websockets on the same port).
pub async fn spawn(sim: SimVenue, cfg: ServerConfig) -> Running {
    crate::serve(router(sim, cfg)).await
}

/// The Binance spot protocol over `sim`, as a router (to serve on an address of your
/// choice, e.g. in `skeet-venue-sim`).
pub fn router(sim: SimVenue, cfg: ServerConfig) -> Router {
    let server = Arc::new(Server::new(sim, cfg));
    Router::new()
        .route("/ws/{listen_key}", get(user_ws))
        .route("/stream", get(market_ws))
        .fallback(rest)
        .with_state(server)
}

/// A market's rules, from the recorded `exchangeInfo`.
#[derive(Clone, Debug, Default)]
struct Rules {
    tick: Decimal,
    step: Decimal,
    min_qty: Decimal,
    min_notional: Decimal,
}

/// What Binance remembers of an order beyond the simulated venue.
#[derive(Clone, Debug)]
struct Meta {
    kind: String,
    tif: String,
    /// An IOC/FOK remainder the server cancelled at once: Binance calls it EXPIRED.
    expired: bool,
}

#[derive(Debug)]
struct Server {
    sim: SimVenue,
    cfg: ServerConfig,
    exchange_info: Value,
    rules: HashMap<String, Rules>,
    ticker: Value,
    depth: Value,
    klines: Vec<Value>,
    account: Value,
    restrictions: Value,
    ws_market: Value,
    execution_report: Value,
    /// Weight used in the current minute: (window start, used).
    weight: Mutex<(Instant, u32)>,
    sapi_weight: Mutex<(Instant, u32)>,
    listen_key: Mutex<Option<String>>,
    meta: Mutex<HashMap<u64, Meta>>,
}

type Answer = (StatusCode, Value);

/// The synthetic close of the bar opening at `open_ms` (any interval): two slow waves around
/// 30,000 plus a little deterministic noise, so the same bar always has the same prices, in
/// every request, and moving-average crossovers happen every few dozen bars.
fn synthetic_close(open_ms: i64, len_ms: i64) -> Decimal {
    let k = (open_ms / len_ms.max(1)) as f64;
    let noise = ((open_ms / len_ms.max(1)).wrapping_mul(2_654_435_761) % 1000) as f64 / 100.0;
    let x = 30_000.0
        + 250.0 * (k * std::f64::consts::TAU / 41.0).sin()
        + 80.0 * (k * std::f64::consts::TAU / 13.0).sin()
        + noise;
    format!("{x:.2}").parse().unwrap_or(Decimal::from(30_000))
}

/// Closed `len_ms` klines (Binance's row format) over the `n` intervals before the one holding
/// `now_ms`, from `synthetic_close`: the open is the previous close.
fn generated_klines(n: usize, now_ms: i64, len_ms: i64) -> Vec<Value> {
    let first = (now_ms.div_euclid(len_ms) - i64::try_from(n).unwrap_or(0)) * len_ms;
    (0..n)
        .map(|i| {
            let open_ms = first + i64::try_from(i).unwrap_or(0) * len_ms;
            let open = synthetic_close(open_ms - len_ms, len_ms);
            let close = synthetic_close(open_ms, len_ms);
            let high = open.max(close) + Decimal::from(3);
            let low = open.min(close) - Decimal::from(3);
            json!([
                open_ms,
                fmt8(open),
                fmt8(high),
                fmt8(low),
                fmt8(close),
                "1.50000000",
                open_ms + len_ms - 1,
                fmt8(close * Decimal::new(15, 1)),
                10,
                "0.75000000",
                fmt8(close * Decimal::new(75, 2)),
                "0"
            ])
        })
        .collect()
}

fn err(status: StatusCode, code: i64, msg: &str) -> Answer {
    (status, json!({ "code": code, "msg": msg }))
}

fn bad(code: i64, msg: &str) -> Answer {
    err(StatusCode::BAD_REQUEST, code, msg)
}

fn mandatory(name: &str) -> Answer {
    bad(
        -1102,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

fn fmt8(d: Decimal) -> String {
    format!("{d:.8}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `application/x-www-form-urlencoded` decoding of one component.
fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_params(raw: &str, into: &mut HashMap<String, String>) {
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        into.insert(decode(k), decode(v));
    }
}

/// `raw` without its `signature=` parameter, and the signature.
fn strip_signature(raw: &str) -> (String, Option<String>) {
    let mut sig = None;
    let kept: Vec<&str> = raw
        .split('&')
        .filter(|p| {
            if let Some(s) = p.strip_prefix("signature=") {
                sig = Some(s.to_string());
                false
            } else {
                true
            }
        })
        .collect();
    (kept.join("&"), sig)
}

fn hmac_hex(secret: &str, payload: &str) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn dec_param(p: &HashMap<String, String>, name: &str) -> Result<Decimal, Answer> {
    let v = p
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| mandatory(name))?;
    Decimal::from_str(v).map_err(|_| {
        bad(
            -1100,
            &format!("Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."),
        )
    })
}

fn int_param(p: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Answer> {
    match p.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            bad(
                -1100,
                &format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."),
            )
        }),
    }
}

impl Server {
    fn new(sim: SimVenue, cfg: ServerConfig) -> Self {
        let exchange_info = crate::recorded("binance/exchange_info.json");
        let mut rules = HashMap::new();
        for s in exchange_info["symbols"].as_array().into_iter().flatten() {
            let mut r = Rules::default();
            for f in s["filters"].as_array().into_iter().flatten() {
                let d = |k: &str| {
                    f[k].as_str()
                        .and_then(|v| Decimal::from_str(v).ok())
                        .unwrap_or_default()
                };
                match f["filterType"].as_str() {
                    Some("PRICE_FILTER") => r.tick = d("tickSize"),
                    Some("LOT_SIZE") => {
                        r.step = d("stepSize");
                        r.min_qty = d("minQty");
                    }
                    Some("NOTIONAL" | "MIN_NOTIONAL") => r.min_notional = d("minNotional"),
                    _ => {}
                }
            }
            if let Some(name) = s["symbol"].as_str() {
                rules.insert(name.to_string(), r);
            }
        }
        let klines = if cfg.history_bars > 0 {
            Vec::new()
        } else {
            match crate::recorded("binance/klines_btcusdt_1m.json") {
                Value::Array(rows) => rows,
                _ => Vec::new(),
            }
        };
        let now = Instant::now();
        Self {
            sim,
            cfg,
            exchange_info,
            rules,
            ticker: crate::recorded("binance/ticker_24hr.json"),
            depth: crate::recorded("binance/depth_btcusdt.json"),
            klines,
            account: crate::recorded("binance/account.json"),
            restrictions: crate::recorded("binance/api_restrictions.json"),
            ws_market: crate::recorded("binance/ws_market.json"),
            execution_report: crate::recorded("binance/ws_execution_report.json"),
            weight: Mutex::new((now, 0)),
            sapi_weight: Mutex::new((now, 0)),
            listen_key: Mutex::new(None),
            meta: Mutex::new(HashMap::new()),
        }
    }

    /// The unified symbol of a Binance name (`BTCUSDT` → `BTC/USDT`), for listed markets.
    fn unified(&self, venue: &str) -> Option<String> {
        self.sim
            .markets()
            .into_iter()
            .map(|m| m.symbol())
            .find(|s| s.replace('/', "") == venue)
    }

    fn venue_name(symbol: &str) -> String {
        symbol.replace('/', "")
    }

    fn symbol_param(&self, p: &HashMap<String, String>) -> Result<(String, String), Answer> {
        let v = p
            .get("symbol")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| mandatory("symbol"))?;
        let u = self
            .unified(v)
            .ok_or_else(|| bad(-1121, "Invalid symbol."))?;
        Ok((v.clone(), u))
    }

    /// Adds `weight` to the minute's count and returns the total.
    fn use_weight(&self, weight: u32, sapi: bool) -> u32 {
        let mut w = lock(if sapi {
            &self.sapi_weight
        } else {
            &self.weight
        });
        if w.0.elapsed() >= Duration::from_secs(60) {
            *w = (Instant::now(), 0);
        }
        w.1 += weight;
        w.1
    }

    /// Documented request weights.
    fn weight_of(method: &Method, path: &str, p: &HashMap<String, String>) -> u32 {
        let has_symbol = p.contains_key("symbol");
        match (method.as_str(), path) {
            ("GET", "/api/v3/exchangeInfo" | "/api/v3/account" | "/api/v3/myTrades") => 20,
            ("GET", "/api/v3/ticker/24hr") => {
                if has_symbol {
                    2
                } else {
                    80
                }
            }
            ("GET", "/api/v3/depth") => {
                match p
                    .get("limit")
                    .and_then(|l| l.parse::<u32>().ok())
                    .unwrap_or(100)
                {
                    0..=100 => 5,
                    101..=500 => 25,
                    501..=1000 => 50,
                    _ => 250,
                }
            }
            ("GET", "/api/v3/klines" | "/api/v3/userDataStream")
            | (_, "/api/v3/userDataStream") => 2,
            ("GET", "/api/v3/order") => 4,
            ("GET", "/api/v3/openOrders") => {
                if has_symbol {
                    6
                } else {
                    80
                }
            }
            _ => 1,
        }
    }

    /// Checks the key header (and for SIGNED endpoints the timestamp and signature).
    fn authenticate(
        &self,
        headers: &HeaderMap,
        query: &str,
        body: &str,
        signed: bool,
    ) -> Result<(), Answer> {
        let key = headers
            .get("x-mbx-apikey")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| err(StatusCode::UNAUTHORIZED, -2014, "API-key format invalid."))?;
        if key != self.cfg.api_key {
            return Err(err(
                StatusCode::UNAUTHORIZED,
                -2015,
                "Invalid API-key, IP, or permissions for action.",
            ));
        }
        if !signed {
            return Ok(());
        }
        let (q, qs) = strip_signature(query);
        let (b, bs) = strip_signature(body);
        let Some(signature) = qs.or(bs) else {
            return Err(mandatory("signature"));
        };
        // totalParams: the query string concatenated with the body, as sent.
        let total = format!("{q}{b}");
        let mut params = HashMap::new();
        parse_params(&q, &mut params);
        parse_params(&b, &mut params);
        if int_param(&params, "timestamp")?.is_none() {
            return Err(mandatory("timestamp"));
        }
        if hmac_hex(&self.cfg.api_secret, &total) != signature.to_ascii_lowercase() {
            self.sim.bad_signatures.fetch_add(1, Ordering::SeqCst);
            return Err(bad(-1022, "Signature for this request is not valid."));
        }
        Ok(())
    }

    fn dispatch(
        &self,
        method: &Method,
        path: &str,
        p: &HashMap<String, String>,
    ) -> Result<Answer, Answer> {
        let ok = |v: Value| Ok((StatusCode::OK, v));
        match (method.as_str(), path) {
            ("GET", "/api/v3/ping") => ok(json!({})),
            ("GET", "/api/v3/time") => ok(json!({ "serverTime": self.sim.now_ms() })),
            ("GET", "/api/v3/exchangeInfo") => ok(self.exchange_info_answer(p)?),
            ("GET", "/api/v3/ticker/24hr") => ok(self.ticker_answer(p)?),
            ("GET", "/api/v3/depth") => ok(self.depth_answer(p)?),
            ("GET", "/api/v3/klines") => ok(self.klines_answer(p)?),
            ("GET", "/api/v3/account") => ok(self.account_answer(p)),
            ("GET", "/sapi/v1/account/apiRestrictions") => ok(self.restrictions.clone()),
            ("POST", "/api/v3/order") => ok(self.new_order(p)?),
            ("DELETE", "/api/v3/order") => ok(self.cancel_order(p)?),
            ("GET", "/api/v3/order") => ok(self.query_order(p)?),
            ("GET", "/api/v3/openOrders") => ok(self.open_orders(p)?),
            ("GET", "/api/v3/myTrades") => ok(self.my_trades(p)?),
            ("POST", "/api/v3/userDataStream") => {
                let mut k = lock(&self.listen_key);
                // An account has one active listen key: POST returns it again.
                let key = k
                    .get_or_insert_with(|| format!("{:0>64}", format!("sk{}", self.sim.now_ms())))
                    .clone();
                ok(json!({ "listenKey": key }))
            }
            ("PUT" | "DELETE", "/api/v3/userDataStream") => {
                let key = p.get("listenKey").ok_or_else(|| mandatory("listenKey"))?;
                let mut k = lock(&self.listen_key);
                if k.as_deref() != Some(key.as_str()) {
                    return Err(bad(-1125, "This listenKey does not exist."));
                }
                if method == Method::DELETE {
                    *k = None;
                }
                ok(json!({}))
            }
            _ => Err(err(StatusCode::NOT_FOUND, -1000, "Unknown path.")),
        }
    }

    fn exchange_info_answer(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let mut info = self.exchange_info.clone();
        info["serverTime"] = json!(self.sim.now_ms());
        if let Some(sym) = p.get("symbol") {
            let list: Vec<Value> = info["symbols"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["symbol"].as_str() == Some(sym.as_str()))
                .cloned()
                .collect();
            if list.is_empty() {
                return Err(bad(-1121, "Invalid symbol."));
            }
            info["symbols"] = Value::Array(list);
        }
        Ok(info)
    }

    fn ticker_of(&self, venue: &str, unified: &str) -> Value {
        let mut t = self.ticker.clone();
        let price = self.sim.price(unified).unwrap_or_default();
        let now = self.sim.now_ms();
        t["symbol"] = json!(venue);
        t["lastPrice"] = json!(fmt8(price));
        t["bidPrice"] = json!(fmt8(price - Decimal::new(1, 2)));
        t["askPrice"] = json!(fmt8(price));
        t["closeTime"] = json!(now);
        t["openTime"] = json!(now - 86_400_000);
        t
    }

    fn ticker_answer(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        if p.contains_key("symbol") {
            let (v, u) = self.symbol_param(p)?;
            return Ok(self.ticker_of(&v, &u));
        }
        Ok(Value::Array(
            self.sim
                .markets()
                .iter()
                .map(|m| self.ticker_of(&Self::venue_name(&m.symbol()), &m.symbol()))
                .collect(),
        ))
    }

    fn depth_answer(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let (v, u) = self.symbol_param(p)?;
        let limit = int_param(p, "limit")?.unwrap_or(100).clamp(1, 5000);
        let take = usize::try_from(limit).unwrap_or(100);
        let mut book = self.depth.clone();
        if v != "BTCUSDT" {
            // Only BTCUSDT is recorded: other books are the same shape around their price.
            let price = self.sim.price(&u).unwrap_or_default();
            let tick = Decimal::new(1, 2);
            let side = |sign: Decimal, levels: &Value| -> Value {
                Value::Array(
                    levels
                        .as_array()
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, l)| {
                            let off = tick * Decimal::from(i + 1) * sign;
                            json!([fmt8(price + off), l[1].clone()])
                        })
                        .collect(),
                )
            };
            book["bids"] = side(Decimal::NEGATIVE_ONE, &self.depth["bids"]);
            book["asks"] = side(Decimal::ONE, &self.depth["asks"]);
        }
        for k in ["bids", "asks"] {
            if let Some(levels) = book[k].as_array_mut() {
                levels.truncate(take);
            }
        }
        Ok(book)
    }

    fn klines_answer(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let (v, _) = self.symbol_param(p)?;
        let iv = p.get("interval").ok_or_else(|| mandatory("interval"))?;
        let Some((_, len)) = INTERVALS.iter().find(|(n, _)| n == iv) else {
            return Err(bad(-1120, "Invalid interval."));
        };
        let limit = int_param(p, "limit")?.unwrap_or(500);
        if !(1..=1000).contains(&limit) {
            return Err(bad(-1130, "Data sent for parameter 'limit' is not valid."));
        }
        let start = int_param(p, "startTime")?;
        let end = int_param(p, "endTime")?;
        let mut rows: Vec<Value> = if self.cfg.history_bars > 0 && v == "BTCUSDT" && *len > 0 {
            // Generated history for any interval, ending now (recomputed per request, so a
            // live bot polling for new bars sees them close on time).
            generated_klines(self.cfg.history_bars, wall_ms(), *len)
        } else if v == "BTCUSDT" && iv == "1m" {
            self.klines.clone()
        } else {
            Vec::new()
        };
        // Binance includes the bar in progress (close time in the future).
        if let Some(last) = rows.last().cloned()
            && *len > 0
        {
            let now = wall_ms();
            let open = now.div_euclid(*len) * len;
            let c = last[4].clone();
            rows.push(json!([
                open,
                c,
                c,
                c,
                c,
                "0.00000000",
                open + len - 1,
                "0.00000000",
                0,
                "0.00000000",
                "0.00000000",
                "0"
            ]));
        }
        let open_of = |r: &Value| r[0].as_i64().unwrap_or(0);
        rows.retain(|r| {
            start.is_none_or(|s| open_of(r) >= s) && end.is_none_or(|e| open_of(r) <= e)
        });
        let take = usize::try_from(limit).unwrap_or(500);
        if start.is_none() && rows.len() > take {
            // Without a start the most recent bars are returned.
            rows.drain(..rows.len() - take);
        }
        rows.truncate(take);
        Ok(Value::Array(rows))
    }

    fn account_answer(&self, p: &HashMap<String, String>) -> Value {
        let omit_zero = p.get("omitZeroBalances").map(String::as_str) == Some("true");
        let mut a = self.account.clone();
        a["updateTime"] = json!(self.sim.now_ms());
        a["balances"] = Value::Array(
            self.sim
                .balances()
                .into_iter()
                .filter(|(_, f, l)| !(omit_zero && f.is_zero() && l.is_zero()))
                .map(|(asset, free, locked)| {
                    json!({ "asset": asset, "free": fmt8(free), "locked": fmt8(locked) })
                })
                .collect(),
        );
        a
    }

    fn meta_of(&self, o: &SimOrder) -> Meta {
        lock(&self.meta)
            .get(&o.id)
            .cloned()
            .unwrap_or_else(|| Meta {
                kind: if o.price().is_some() {
                    "LIMIT"
                } else {
                    "MARKET"
                }
                .to_string(),
                tif: "GTC".to_string(),
                expired: false,
            })
    }

    fn status_of(&self, o: &SimOrder) -> &'static str {
        match o.status {
            Status::Open => "NEW",
            Status::PartiallyFilled => "PARTIALLY_FILLED",
            Status::Filled => "FILLED",
            Status::Cancelled if self.meta_of(o).expired => "EXPIRED",
            Status::Cancelled => "CANCELED",
        }
    }

    fn side_str(side: Side) -> &'static str {
        match side {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }

    /// `GET /api/v3/order` / `openOrders` shape.
    fn order_json(&self, o: &SimOrder) -> Value {
        let m = self.meta_of(o);
        json!({
            "symbol": Self::venue_name(&o.symbol),
            "orderId": o.id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "price": fmt8(o.price().unwrap_or_default()),
            "origQty": fmt8(o.qty),
            "executedQty": fmt8(o.filled),
            "cummulativeQuoteQty": fmt8(o.cost),
            "status": self.status_of(o),
            "timeInForce": m.tif,
            "type": m.kind,
            "side": Self::side_str(o.side),
            "stopPrice": fmt8(match o.kind {
                Kind::Stop(t) => t,
                _ => Decimal::ZERO,
            }),
            "icebergQty": "0.00000000",
            "time": o.created_ms,
            "updateTime": o.updated_ms,
            "isWorking": true,
            "workingTime": o.created_ms,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER"
        })
    }

    fn lookup(p: &HashMap<String, String>) -> Result<Lookup, Answer> {
        if let Some(id) = int_param(p, "orderId")? {
            return Ok(Lookup::Id(u64::try_from(id).unwrap_or(0)));
        }
        match p.get("origClientOrderId").filter(|c| !c.is_empty()) {
            Some(c) => Ok(Lookup::Client(c.clone())),
            None => Err(bad(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )),
        }
    }

    fn new_order(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let (_, unified) = self.symbol_param(p)?;
        let side = match p.get("side").map(String::as_str) {
            Some("BUY") => Side::Buy,
            Some("SELL") => Side::Sell,
            Some(_) => return Err(bad(-1100, "Illegal characters found in parameter 'side'.")),
            None => return Err(mandatory("side")),
        };
        let kind_name = p.get("type").cloned().ok_or_else(|| mandatory("type"))?;
        let qty = dec_param(p, "quantity")?;
        let (kind, tif) = match kind_name.as_str() {
            "MARKET" => (Kind::Market, "GTC".to_string()),
            "LIMIT" => {
                let tif = p
                    .get("timeInForce")
                    .cloned()
                    .ok_or_else(|| mandatory("timeInForce"))?;
                if !matches!(tif.as_str(), "GTC" | "IOC" | "FOK") {
                    return Err(bad(-1115, "Invalid timeInForce."));
                }
                (Kind::Limit(dec_param(p, "price")?), tif)
            }
            "LIMIT_MAKER" => (Kind::Limit(dec_param(p, "price")?), "GTC".to_string()),
            // A stop-loss sell, triggered when the last price falls to stopPrice.
            "STOP_LOSS" if side == Side::Sell => {
                (Kind::Stop(dec_param(p, "stopPrice")?), "GTC".to_string())
            }
            // The simulated venue takes no other stop orders.
            _ => return Err(bad(-1116, "Invalid orderType.")),
        };
        let last = self.sim.price(&unified).unwrap_or_default();
        let rules = self
            .rules
            .get(&Self::venue_name(&unified))
            .cloned()
            .unwrap_or_default();
        if let Kind::Limit(price) = kind
            && !rules.tick.is_zero()
            && !(price % rules.tick).is_zero()
        {
            return Err(bad(-1013, "Filter failure: PRICE_FILTER"));
        }
        if qty < rules.min_qty || (!rules.step.is_zero() && !(qty % rules.step).is_zero()) {
            return Err(bad(-1013, "Filter failure: LOT_SIZE"));
        }
        let price_for_notional = match kind {
            Kind::Limit(price) | Kind::Stop(price) => price,
            Kind::Market => last,
        };
        if price_for_notional * qty < rules.min_notional {
            return Err(bad(-1013, "Filter failure: NOTIONAL"));
        }
        if kind_name == "LIMIT_MAKER"
            && let Kind::Limit(price) = kind
            && match side {
                Side::Buy => price >= last,
                Side::Sell => price <= last,
            }
        {
            return Err(bad(-2010, "Order would immediately match and take."));
        }
        let client = p.get("newClientOrderId").cloned().unwrap_or_default();
        let mut order =
            self.sim
                .place(&unified, side, kind, qty, &client)
                .map_err(|r| match r {
                    Refusal::InsufficientFunds => bad(
                        -2010,
                        "Account has insufficient balance for requested action.",
                    ),
                    Refusal::DuplicateClientId => bad(-2010, "Duplicate order sent."),
                    Refusal::UnknownSymbol => bad(-1121, "Invalid symbol."),
                    Refusal::UnknownOrder | Refusal::BadOrder => bad(-1013, "Invalid quantity."),
                })?;
        lock(&self.meta).insert(
            order.id,
            Meta {
                kind: kind_name.clone(),
                tif: tif.clone(),
                expired: false,
            },
        );
        if matches!(tif.as_str(), "IOC" | "FOK") && order.status == Status::Open {
            // Nothing matched: the remainder expires instead of resting.
            if let Some(m) = lock(&self.meta).get_mut(&order.id) {
                m.expired = true;
            }
            if let Ok(o) = self.sim.cancel(&Lookup::Id(order.id)) {
                order = o;
            }
        }
        let default_resp = if matches!(kind_name.as_str(), "MARKET" | "LIMIT") {
            "FULL"
        } else {
            "ACK"
        };
        let resp_type = p
            .get("newOrderRespType")
            .map_or(default_resp, String::as_str);
        let mut out = json!({
            "symbol": Self::venue_name(&order.symbol),
            "orderId": order.id,
            "orderListId": -1,
            "clientOrderId": order.client_id,
            "transactTime": order.updated_ms,
        });
        if resp_type == "ACK" {
            return Ok(out);
        }
        let full = self.order_json(&order);
        for k in [
            "price",
            "origQty",
            "executedQty",
            "origQuoteOrderQty",
            "cummulativeQuoteQty",
            "status",
            "timeInForce",
            "type",
            "side",
            "workingTime",
            "selfTradePreventionMode",
        ] {
            out[k] = full[k].clone();
        }
        if resp_type == "FULL" {
            out["fills"] = Value::Array(
                self.sim
                    .trades(&order.symbol, 0)
                    .iter()
                    .filter(|t| t.order_id == order.id)
                    .map(|t| {
                        json!({
                            "price": fmt8(t.price),
                            "qty": fmt8(t.qty),
                            "commission": fmt8(t.fee),
                            "commissionAsset": t.fee_asset,
                            "tradeId": t.id
                        })
                    })
                    .collect(),
            );
        }
        Ok(out)
    }

    fn find(&self, p: &HashMap<String, String>, unknown: Answer) -> Result<SimOrder, Answer> {
        let (_, unified) = self.symbol_param(p)?;
        let by = Self::lookup(p)?;
        self.sim
            .get(&by)
            .filter(|o| o.symbol == unified)
            .ok_or(unknown)
    }

    fn cancel_order(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let unknown = || bad(-2011, "Unknown order sent.");
        let found = self.find(p, unknown())?;
        let o = self
            .sim
            .cancel(&Lookup::Id(found.id))
            .map_err(|_| unknown())?;
        let mut out = self.order_json(&o);
        out["origClientOrderId"] = json!(o.client_id);
        out["clientOrderId"] = json!(
            p.get("newClientOrderId")
                .cloned()
                .unwrap_or_else(|| format!("cancel-{}", o.id))
        );
        out["transactTime"] = json!(o.updated_ms);
        for k in [
            "time",
            "updateTime",
            "isWorking",
            "workingTime",
            "icebergQty",
        ] {
            if let Some(m) = out.as_object_mut() {
                m.remove(k);
            }
        }
        Ok(out)
    }

    fn query_order(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let o = self.find(p, bad(-2013, "Order does not exist."))?;
        Ok(self.order_json(&o))
    }

    fn open_orders(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let unified = if p.contains_key("symbol") {
            Some(self.symbol_param(p)?.1)
        } else {
            None
        };
        Ok(Value::Array(
            self.sim
                .open_orders(unified.as_deref())
                .iter()
                .map(|o| self.order_json(o))
                .collect(),
        ))
    }

    fn my_trades(&self, p: &HashMap<String, String>) -> Result<Value, Answer> {
        let (venue, unified) = self.symbol_param(p)?;
        let limit = int_param(p, "limit")?.unwrap_or(500);
        if !(1..=1000).contains(&limit) {
            return Err(bad(-1130, "Data sent for parameter 'limit' is not valid."));
        }
        let take = usize::try_from(limit).unwrap_or(500);
        let start = int_param(p, "startTime")?;
        let end = int_param(p, "endTime")?;
        let from_id = int_param(p, "fromId")?;
        let order_id = int_param(p, "orderId")?;
        let mut trades: Vec<_> = self
            .sim
            .trades(&unified, start.unwrap_or(i64::MIN))
            .into_iter()
            .filter(|t| end.is_none_or(|e| t.ts_ms <= e))
            .filter(|t| from_id.is_none_or(|f| i64::try_from(t.id).is_ok_and(|id| id >= f)))
            .filter(|t| order_id.is_none_or(|o| i64::try_from(t.order_id).is_ok_and(|id| id == o)))
            .collect();
        if start.is_none() && from_id.is_none() && trades.len() > take {
            // Without a starting point the most recent trades are returned.
            trades.drain(..trades.len() - take);
        }
        trades.truncate(take);
        Ok(Value::Array(
            trades
                .iter()
                .map(|t| {
                    json!({
                        "symbol": venue,
                        "id": t.id,
                        "orderId": t.order_id,
                        "orderListId": -1,
                        "price": fmt8(t.price),
                        "qty": fmt8(t.qty),
                        "quoteQty": fmt8(t.price * t.qty),
                        "commission": fmt8(t.fee),
                        "commissionAsset": t.fee_asset,
                        "time": t.ts_ms,
                        "isBuyer": t.side == Side::Buy,
                        "isMaker": t.maker,
                        "isBestMatch": true
                    })
                })
                .collect(),
        ))
    }

    /// The `executionReport` events Binance sends for one simulated venue event.
    fn execution_reports(&self, ev: &SimEvent) -> Vec<String> {
        let report = |o: &SimOrder, x: &str, status: &str| {
            let m = self.meta_of(o);
            let mut r = self.execution_report.clone();
            r["E"] = json!(o.updated_ms);
            r["s"] = json!(Self::venue_name(&o.symbol));
            r["c"] = json!(o.client_id);
            r["S"] = json!(Self::side_str(o.side));
            r["o"] = json!(m.kind);
            r["f"] = json!(m.tif);
            r["q"] = json!(fmt8(o.qty));
            r["p"] = json!(fmt8(o.price().unwrap_or_default()));
            r["x"] = json!(x);
            r["X"] = json!(status);
            r["i"] = json!(o.id);
            r["z"] = json!(fmt8(o.filled));
            r["Z"] = json!(fmt8(o.cost));
            r["T"] = json!(o.updated_ms);
            r["O"] = json!(o.created_ms);
            r["W"] = json!(o.created_ms);
            r["w"] = json!(matches!(o.status, Status::Open | Status::PartiallyFilled));
            r
        };
        match ev {
            SimEvent::Order(o) => {
                let (x, status) = match o.status {
                    Status::Cancelled if self.meta_of(o).expired => ("EXPIRED", "EXPIRED"),
                    Status::Cancelled => ("CANCELED", "CANCELED"),
                    _ => ("NEW", "NEW"),
                };
                let mut r = report(o, x, status);
                if x == "CANCELED" {
                    // On a cancel `c` is the cancel request's id and `C` the order's.
                    r["C"] = json!(o.client_id);
                    r["c"] = json!(format!("cancel-{}", o.id));
                }
                vec![r.to_string()]
            }
            SimEvent::Trade(t, o) => {
                let mut out = Vec::new();
                if !t.maker && o.filled == t.qty {
                    // A marketable order is accepted (NEW) before it trades.
                    let mut accepted = o.clone();
                    accepted.filled = Decimal::ZERO;
                    accepted.cost = Decimal::ZERO;
                    accepted.status = Status::Open;
                    out.push(report(&accepted, "NEW", "NEW").to_string());
                }
                let mut r = report(o, "TRADE", self.status_of(o));
                r["l"] = json!(fmt8(t.qty));
                r["L"] = json!(fmt8(t.price));
                r["n"] = json!(fmt8(t.fee));
                r["N"] = json!(t.fee_asset);
                r["t"] = json!(t.id);
                r["m"] = json!(t.maker);
                r["Y"] = json!(fmt8(t.price * t.qty));
                r["T"] = json!(t.ts_ms);
                out.push(r.to_string());
                out
            }
        }
    }

    /// One combined-stream message for `stream` (`btcusdt@trade`, `@bookTicker`,
    /// `@kline_1m`), priced from the simulated venue.
    fn market_message(&self, stream: &str) -> Option<String> {
        let (lower, kind) = stream.split_once('@')?;
        let venue = lower.to_ascii_uppercase();
        let unified = self.unified(&venue)?;
        let price = self.sim.price(&unified)?;
        let now = wall_ms();
        let data = if kind == "trade" {
            let mut d = self.ws_market["trade"].clone();
            d["E"] = json!(now);
            d["T"] = json!(now);
            d["s"] = json!(venue);
            d["p"] = json!(fmt8(price));
            d["q"] = json!("0.01000000");
            d
        } else if kind == "bookTicker" {
            let mut d = self.ws_market["bookTicker"].clone();
            d["s"] = json!(venue);
            d["b"] = json!(fmt8(price - Decimal::new(1, 2)));
            d["a"] = json!(fmt8(price));
            d
        } else if let Some(iv) = kind.strip_prefix("kline_") {
            let (_, len) = INTERVALS.iter().find(|(n, l)| *n == iv && *l > 0)?;
            let open = now.div_euclid(*len) * len;
            let mut d = self.ws_market["kline"].clone();
            d["E"] = json!(now);
            d["s"] = json!(venue);
            let k = &mut d["k"];
            k["t"] = json!(open);
            k["T"] = json!(open + len - 1);
            k["s"] = json!(venue);
            k["i"] = json!(iv);
            for f in ["o", "h", "l", "c"] {
                k[f] = json!(fmt8(price));
            }
            k["v"] = json!("0.00000000");
            k["x"] = json!(false);
            d
        } else {
            return None;
        };
        Some(json!({ "stream": stream, "data": data }).to_string())
    }
}

/// Every REST request: count, fault, authenticate, answer, rate-limit headers.
async fn rest(
    State(s): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    s.sim.count_request();
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let mut params = HashMap::new();
    parse_params(&query, &mut params);
    parse_params(&body, &mut params);
    let sapi = path.starts_with("/sapi/");
    let used = s.use_weight(Server::weight_of(&method, &path, &params), sapi);
    let mut slow = None;
    let answer = match s.sim.take_fault() {
        Some(Fault::RateLimit { secs }) => {
            let mut r = err(
                StatusCode::TOO_MANY_REQUESTS,
                -1003,
                "Too many requests; current limit of IP(127.0.0.1) request weight per minute is 6000. Please use WebSocket Streams for live updates to avoid polling the API.",
            )
            .into_response_json();
            r.headers_mut().insert(
                "Retry-After",
                HeaderValue::from_str(&secs.to_string()).unwrap_or(HeaderValue::from_static("1")),
            );
            return with_weight(r, used, sapi);
        }
        Some(Fault::Unavailable) => {
            return with_weight(
                err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -1008,
                    "Service Unavailable.",
                )
                .into_response_json(),
                used,
                sapi,
            );
        }
        Some(Fault::SlowAnswer(d)) => {
            slow = Some(d);
            s.answer(&method, &path, &params, &headers, &query, &body)
        }
        None => s.answer(&method, &path, &params, &headers, &query, &body),
    };
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    with_weight(answer.into_response_json(), used, sapi)
}

impl Server {
    fn answer(
        &self,
        method: &Method,
        path: &str,
        params: &HashMap<String, String>,
        headers: &HeaderMap,
        query: &str,
        body: &str,
    ) -> Answer {
        let signed = matches!(
            path,
            "/api/v3/account"
                | "/api/v3/order"
                | "/api/v3/openOrders"
                | "/api/v3/myTrades"
                | "/sapi/v1/account/apiRestrictions"
        );
        let key_only = path == "/api/v3/userDataStream";
        if (signed || key_only)
            && let Err(e) = self.authenticate(headers, query, body, signed)
        {
            return e;
        }
        self.dispatch(method, path, params).unwrap_or_else(|e| e)
    }
}

trait IntoJson {
    fn into_response_json(self) -> Response;
}

impl IntoJson for Answer {
    fn into_response_json(self) -> Response {
        (self.0, axum::Json(self.1)).into_response()
    }
}

fn with_weight(mut r: Response, used: u32, sapi: bool) -> Response {
    let name = if sapi {
        "X-SAPI-USED-IP-WEIGHT-1M"
    } else {
        "X-MBX-USED-WEIGHT-1M"
    };
    if let Ok(v) = HeaderValue::from_str(&used.to_string()) {
        r.headers_mut().insert(name, v);
    }
    r
}

/// `GET /ws/<listenKey>`: the user data stream.
async fn user_ws(
    State(s): State<Arc<Server>>,
    Path(listen_key): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    if s.sim.streams_refused() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if lock(&s.listen_key).as_deref() != Some(listen_key.as_str()) {
        return (StatusCode::BAD_REQUEST, "invalid listen key").into_response();
    }
    // Subscribed before the upgrade completes: nothing between now and then is lost.
    let mut events = s.sim.subscribe();
    let mut killer = s.sim.stream_killer();
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        loop {
            tokio::select! {
                biased;
                _ = killer.recv() => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                ev = events.recv() => match ev {
                    Ok(ev) => {
                        for text in s.execution_reports(&ev) {
                            if socket.send(Message::Text(text.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                msg = socket.recv() => match msg {
                    // Pings are answered by the websocket layer while we read.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    })
}

/// `GET /stream?streams=a/b/c`: the combined market stream.
async fn market_ws(
    State(s): State<Arc<Server>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    if s.sim.streams_refused() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut params = HashMap::new();
    parse_params(query.as_deref().unwrap_or_default(), &mut params);
    let streams: Vec<String> = params
        .get("streams")
        .map(|v| {
            v.split('/')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if streams.is_empty() {
        return (StatusCode::BAD_REQUEST, "no streams").into_response();
    }
    let mut killer = s.sim.stream_killer();
    let known: HashSet<String> = streams.into_iter().collect();
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        let mut tick = tokio::time::interval(MARKET_PUSH_EVERY);
        loop {
            tokio::select! {
                biased;
                _ = killer.recv() => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                _ = tick.tick() => {
                    for stream in &known {
                        if let Some(text) = s.market_message(stream)
                            && socket.send(Message::Text(text.into())).await.is_err()
                        {
                            return;
                        }
                    }
                }
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn signatures_are_checked_over_query_plus_body_minus_the_signature() {
        // The documentation's example 3: part in the query string, part in the body.
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";
        let body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
        let (q, _) = strip_signature(query);
        let (b, sig) = strip_signature(body);
        assert_eq!(hmac_hex(API_SECRET, &format!("{q}{b}")), sig.unwrap());
        assert_eq!(decode("a%3Ab+c"), "a:b c");
        assert_eq!(decode("100%"), "100%");
    }
}

//! Kraken spot: REST (`https://api.kraken.com/0/...`) and websocket API v2 (public
//! `wss://ws.kraken.com/v2`, private `wss://ws-auth.kraken.com/v2`).
//!
//! Endpoints: with a `base_url` override every endpoint lives under it: REST at
//! `{base}/0/...`, the public websocket at `{base as ws}/v2` and the private one at
//! `{base as ws}/v2-auth` (Kraken's two websocket hosts need two distinct paths on one host).
//!
//! Invariants:
//! - Every answer is `{"error":[...],"result":...}`, usually with HTTP 200 even for errors
//!   (a rate limit included): the `error` array is checked first, and its first entry is
//!   classified ([`ExchangeError::kraken`], plus `EOrder:Duplicate order` →
//!   [`ErrorKind::DuplicateOrder`] and `EGeneral:Invalid arguments:*` →
//!   [`ErrorKind::InvalidOrder`]), keeping Kraken's text.
//! - Private calls are form-encoded POSTs signed with `API-Sign` ([`crate::sign::kraken`]) over
//!   the exact body sent; the nonce is a millisecond timestamp, strictly increasing for the
//!   whole process (so for every key), taken after the limiter wait so that requests leave
//!   in nonce order. A request Kraken refuses with `EAPI:Invalid nonce` (concurrent requests
//!   crossing on the way) was not executed and is sent again with a fresh nonce (up to 3
//!   tries); heavy concurrent use of one key also wants a nonce window set on the key.
//! - Rate limits: public calls share `kraken:ip` (about 1 per second); private calls take
//!   from the key's REST counter `kraken:key:<label>` (15, decaying 0.33 per second; trade
//!   history costs 2); `AddOrder`/`CancelOrder` use Kraken's separate trading limit, a bucket
//!   per key and pair `kraken:key:<label>:orders:<pair>` (60 per minute). `EAPI:Rate limit
//!   exceeded` backs the bucket off for every user of the process.
//! - Markets come from `AssetPairs` and are cached after the first load; orders are checked
//!   against them (tick = `tick_size` or 10^-`pair_decimals`, step = 10^-`lot_decimals`,
//!   `ordermin`, `costmin`) before anything is sent. Unified names come from `wsname`
//!   (`XBT/USD` → `BTC/USD`, `XDG` → `DOGE`), which is also the websocket v2 symbol.
//! - Our client order id travels as `cl_ord_id`. Kraken enforces its uniqueness among open
//!   orders only, so [`crate::submit`]'s look-up before a retry (open, then closed orders by
//!   `cl_ord_id`) is what keeps a filled order from being placed twice.
//! - The OHLC endpoint's last row is the current, uncommitted bar: it is never returned.
//! - The user stream fetches a fresh websocket token (`GetWebSocketsToken`) on every
//!   connection; after a gap it recovers fills from `TradesHistory` and order states from
//!   `QueryOrders`/`OpenOrders`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use reqwest::Method;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use skeet_core::{Bar, OrderKind, Side, TimeInForce, Timeframe, UnixNanos};

use crate::api::{BoxFut, Credentials, Exchange, VenueConfig};
use crate::error::{ErrorKind, ExchangeError};
use crate::http::{Response, Rest};
use crate::limiter::Quota;
use crate::stream::{EventStream, StreamOptions, WsSession};
use crate::types::{
    Balance, Fill, Market, MarketStatus, NewOrder, OrderBook, OrderInfo, OrderRef, OrderState,
    Permissions, StreamEvent, Subscription, Ticker, dec,
};

const VENUE: &str = "kraken";
const REST_URL: &str = "https://api.kraken.com";
const WS_PUBLIC: &str = "wss://ws.kraken.com/v2";
const WS_PRIVATE: &str = "wss://ws-auth.kraken.com/v2";
const IP_BUCKET: &str = "kraken:ip";
/// OHLC intervals Kraken serves, in minutes.
const INTERVALS: [u32; 9] = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600];

/// Builds the Kraken adapter.
///
/// # Errors
/// When the HTTP client cannot start.
pub fn connect(cfg: VenueConfig) -> Result<Box<dyn Exchange>, ExchangeError> {
    let rest = Rest::new(
        VENUE,
        &cfg.rest_url(REST_URL),
        cfg.timeout,
        cfg.limiter.clone(),
    )?;
    // About one public call per second, with a small burst.
    cfg.limiter
        .define(IP_BUCKET, Quota::new(3, Duration::from_secs(3)));
    let label = cfg.credentials.as_ref().map(Credentials::label);
    if let Some(l) = &label {
        // Starter tier: a counter of 15 that decays by 0.33 per second.
        cfg.limiter.define(
            &format!("kraken:key:{l}"),
            Quota::new(15, Duration::from_millis(45_455)),
        );
    }
    let (ws_public, ws_private) = match cfg.base_url {
        Some(_) => {
            let root = cfg.ws_url(WS_PUBLIC);
            (format!("{root}/v2"), format!("{root}/v2-auth"))
        }
        None => (WS_PUBLIC.to_string(), WS_PRIVATE.to_string()),
    };
    Ok(Box::new(Kraken {
        inner: Arc::new(Inner {
            rest,
            creds: cfg.credentials,
            label,
            ws_public,
            ws_private,
            stream: cfg.stream,
            catalog: RwLock::new(None),
        }),
    }))
}

// ---------------------------------------------------------------------------------------
// Errors

/// Classifies one entry of Kraken's `error` array.
fn kraken_error(text: &str) -> ExchangeError {
    let mut e = ExchangeError::kraken(text);
    let (class, rest) = text.split_once(':').unwrap_or(("", text));
    match (class, rest) {
        ("EOrder", t) if t.starts_with("Duplicate order") => e.kind = ErrorKind::DuplicateOrder,
        ("EOrder", t) if t.starts_with("Insufficient funds") => {
            e.kind = ErrorKind::InsufficientFunds;
        }
        ("EGeneral", t) if t.starts_with("Invalid arguments") => e.kind = ErrorKind::InvalidOrder,
        ("EGeneral", "Temporary lockout") => e.kind = ErrorKind::RateLimited,
        ("EGeneral", "Internal error") => e.kind = ErrorKind::Unavailable,
        _ => {}
    }
    e
}

fn permission_denied(e: &ExchangeError) -> bool {
    e.code.as_deref() == Some("EGeneral") && e.message.starts_with("Permission denied")
}

/// The `result` of a Kraken answer, or its first error.
fn decode(resp: &Response) -> Result<Value, ExchangeError> {
    let parsed: Option<Value> = serde_json::from_str(&resp.body).ok();
    let first = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str);
    if let Some(first) = first {
        let mut e = kraken_error(first);
        if e.kind == ErrorKind::RateLimited {
            e.retry_after = resp.retry_after();
        }
        return Err(e);
    }
    let http = |kind: ErrorKind| ExchangeError {
        kind,
        venue: VENUE,
        code: Some(format!("HTTP {}", resp.status)),
        message: resp.body.chars().take(200).collect(),
        retry_after: resp.retry_after(),
    };
    match resp.status {
        500..=599 => return Err(http(ErrorKind::Unavailable)),
        429 => return Err(http(ErrorKind::RateLimited)),
        401 | 403 => return Err(http(ErrorKind::Auth)),
        s if !(200..300).contains(&s) => return Err(http(ErrorKind::Other)),
        _ => {}
    }
    match parsed.and_then(|mut v| v.get_mut("result").map(Value::take)) {
        Some(r) => Ok(r),
        None => resp
            .json::<Value>(VENUE)
            .and_then(|_| Err(ExchangeError::protocol(VENUE, "answer without a result"))),
    }
}

// ---------------------------------------------------------------------------------------
// Names and numbers

/// Kraken's legacy asset codes (`XXBT`, `ZUSD`) and aliases (`XBT`, `XDG`) in unified form;
/// suffixed balance names (`XBT.M`, `USD.HOLD`) keep their suffix.
fn normalize_asset(code: &str) -> String {
    let (head, suffix) = match code.split_once('.') {
        Some((h, s)) => (h, format!(".{s}")),
        None => (code, String::new()),
    };
    let base = match head {
        "XXBT" | "XBT" => "BTC",
        "XXDG" | "XDG" => "DOGE",
        "XETH" => "ETH",
        "XETC" => "ETC",
        "XLTC" => "LTC",
        "XMLN" => "MLN",
        "XREP" => "REP",
        "XXLM" => "XLM",
        "XXMR" => "XMR",
        "XXRP" => "XRP",
        "XZEC" => "ZEC",
        "ZUSD" => "USD",
        "ZEUR" => "EUR",
        "ZGBP" => "GBP",
        "ZJPY" => "JPY",
        "ZCAD" => "CAD",
        "ZAUD" => "AUD",
        other => other,
    };
    format!("{base}{suffix}")
}

/// A decimal from a JSON string or number.
fn dnum(field: &str, v: &Value) -> Result<Decimal, ExchangeError> {
    match v {
        Value::String(s) => dec(VENUE, field, s),
        Value::Number(n) => dec(VENUE, field, &n.to_string()),
        _ => Err(ExchangeError::protocol(
            VENUE,
            &format!("{field}: missing or not a number"),
        )),
    }
}

fn dopt(v: &Value) -> Option<Decimal> {
    dnum("", v).ok()
}

/// Epoch seconds (a float, as Kraken writes `opentm`, `time`) in ms.
fn secs_to_ms(v: &Value) -> Option<i64> {
    let d = dopt(v)?;
    (d * Decimal::from(1000)).round().to_i64()
}

/// An RFC 3339 time (websocket v2) in ms; 0 when absent.
fn rfc_ms(v: &Value) -> i64 {
    v.as_str()
        .and_then(|s| s.parse::<UnixNanos>().ok())
        .map_or(0, UnixNanos::as_millis)
}

fn parse_side(v: &Value) -> Result<Side, ExchangeError> {
    match v.as_str() {
        Some("buy") => Ok(Side::Buy),
        Some("sell") => Ok(Side::Sell),
        other => Err(ExchangeError::protocol(
            VENUE,
            &format!("unknown side {other:?}"),
        )),
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn f64_of(field: &str, v: &Value) -> Result<f64, ExchangeError> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ExchangeError::protocol(VENUE, &format!("{field}: not a number")))
}

/// Strictly increasing nonces for the whole process: the millisecond clock, bumped past the
/// last one handed out.
fn next_nonce() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = crate::now_ms();
    let prev = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(prev + 1)
}

// ---------------------------------------------------------------------------------------
// Markets

#[derive(Clone, Debug)]
struct Pair {
    market: Market,
    /// `XXBTZUSD`.
    key: String,
    /// `XBTUSD` (what requests send).
    altname: String,
    /// Kraken's own status word (`online`, `limit_only`, ...).
    raw_status: String,
}

#[derive(Debug, Default)]
struct Catalog {
    pairs: Vec<Pair>,
    by_symbol: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    fn parse(result: &Value) -> Result<Self, ExchangeError> {
        let obj = result
            .as_object()
            .ok_or_else(|| ExchangeError::protocol(VENUE, "AssetPairs: result is not an object"))?;
        let mut cat = Self::default();
        for (key, v) in obj {
            // Dark-pool (`.d`) pairs have no wsname and no public book: skip them.
            let Some(wsname) = v["wsname"].as_str() else {
                continue;
            };
            let (b, q) = wsname.split_once('/').unwrap_or((wsname, ""));
            let (base, quote) = (normalize_asset(b), normalize_asset(q));
            let symbol = format!("{base}/{quote}");
            let scale = |f: &str| {
                v[f].as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        ExchangeError::protocol(VENUE, &format!("AssetPairs {key}: {f} missing"))
                    })
            };
            let tick = match v.get("tick_size") {
                Some(t) if !t.is_null() => dnum("tick_size", t)?,
                _ => Decimal::new(1, scale("pair_decimals")?),
            };
            let raw_status = v["status"].as_str().unwrap_or("online").to_string();
            let status = match raw_status.as_str() {
                "online" | "limit_only" => MarketStatus::Trading,
                // cancel_only, post_only, reduce_only, maintenance, delisted, ...
                _ => MarketStatus::Halted,
            };
            let altname = v["altname"].as_str().unwrap_or(key).to_string();
            let market = Market {
                symbol: symbol.clone(),
                venue_symbol: altname.clone(),
                base,
                quote,
                status,
                tick_size: tick,
                step_size: Decimal::new(1, scale("lot_decimals")?),
                min_qty: dopt(&v["ordermin"]).unwrap_or_default(),
                min_notional: dopt(&v["costmin"]).unwrap_or_default(),
            };
            let i = cat.pairs.len();
            cat.by_symbol.insert(symbol.clone(), i);
            for name in [key.as_str(), altname.as_str(), wsname, symbol.as_str()] {
                cat.by_name.insert(name.to_string(), i);
            }
            cat.pairs.push(Pair {
                market,
                key: key.clone(),
                altname,
                raw_status,
            });
        }
        Ok(cat)
    }

    fn get(&self, symbol: &str) -> Result<&Pair, ExchangeError> {
        let s = symbol.trim().to_ascii_uppercase();
        self.by_symbol
            .get(&s)
            .or_else(|| self.by_name.get(&s))
            .map(|&i| &self.pairs[i])
            .ok_or_else(|| {
                ExchangeError::invalid(
                    VENUE,
                    &format!("kraken lists no market {symbol} (use BASE/QUOTE, e.g. BTC/USD)"),
                )
            })
    }

    /// The unified symbol of any Kraken name of a pair (`XXBTZUSD`, `XBTUSD`, `BTC/USD`).
    fn unified(&self, name: &str) -> String {
        self.by_name.get(name).map_or_else(
            || name.to_string(),
            |&i| self.pairs[i].market.symbol.clone(),
        )
    }

    fn quote_of(&self, symbol: &str) -> String {
        self.by_symbol
            .get(symbol)
            .map_or_else(String::new, |&i| self.pairs[i].market.quote.clone())
    }
}

// ---------------------------------------------------------------------------------------
// The adapter

struct Inner {
    rest: Rest,
    creds: Option<Credentials>,
    label: Option<String>,
    ws_public: String,
    ws_private: String,
    stream: StreamOptions,
    catalog: RwLock<Option<Arc<Catalog>>>,
}

struct Kraken {
    inner: Arc<Inner>,
}

/// Which limit a private call draws from.
enum Bucket<'a> {
    /// The key's REST counter, with this cost.
    Counter(u32),
    /// The trading limit of this pair (altname).
    Trading(&'a str),
}

impl Inner {
    async fn public(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ExchangeError> {
        let req = self.rest.request(Method::GET, path).query(query);
        let resp = self.rest.send(req, &[IP_BUCKET], 1).await?;
        decode(&resp).inspect_err(|e| self.rest.note(IP_BUCKET, e))
    }

    fn creds(&self) -> Result<(&Credentials, &str), ExchangeError> {
        match (&self.creds, &self.label) {
            (Some(c), Some(l)) => Ok((c, l.as_str())),
            _ => Err(ExchangeError::no_credentials(VENUE)),
        }
    }

    async fn private(
        &self,
        method: &str,
        params: &[(&str, String)],
        bucket: Bucket<'_>,
    ) -> Result<Value, ExchangeError> {
        let (creds, label) = self.creds()?;
        let path = format!("/0/private/{method}");
        let (bucket, weight) = match bucket {
            Bucket::Counter(w) => (format!("kraken:key:{label}"), w),
            Bucket::Trading(pair) => {
                let b = format!("kraken:key:{label}:orders:{pair}");
                self.rest
                    .limiter()
                    .define(&b, Quota::new(60, Duration::from_secs(60)));
                (b, 1)
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.rest.limiter().acquire(&[&bucket], weight).await;
            // The nonce is taken after the wait, so requests leave in nonce order.
            let nonce = next_nonce().to_string();
            let body = {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("nonce", &nonce);
                for (k, v) in params {
                    form.append_pair(k, v);
                }
                form.finish()
            };
            let sign = crate::sign::kraken(&creds.secret, &path, &nonce, &body).map_err(|e| {
                ExchangeError {
                    kind: ErrorKind::Auth,
                    venue: VENUE,
                    code: None,
                    message: e.to_string(),
                    retry_after: None,
                }
            })?;
            let req = self
                .rest
                .request(Method::POST, &path)
                .header("API-Key", creds.key.as_str())
                .header("API-Sign", sign)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=utf-8",
                )
                .body(body);
            let resp = self.rest.send(req, &[], 0).await?;
            match decode(&resp) {
                Err(e) if e.message == "Invalid nonce" && attempt < 3 => {
                    tracing::debug!(
                        venue = VENUE,
                        method,
                        "nonce crossed another request; resending"
                    );
                }
                Err(e) => {
                    self.rest.note(&bucket, &e);
                    return Err(e);
                }
                Ok(v) => return Ok(v),
            }
        }
    }

    async fn catalog(&self) -> Result<Arc<Catalog>, ExchangeError> {
        let cached = self
            .catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match cached {
            Some(c) => Ok(c),
            None => self.load_catalog().await,
        }
    }

    async fn load_catalog(&self) -> Result<Arc<Catalog>, ExchangeError> {
        let r = self.public("/0/public/AssetPairs", &[]).await?;
        let c = Arc::new(Catalog::parse(&r)?);
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&c));
        Ok(c)
    }

    fn parse_order(cat: &Catalog, txid: &str, v: &Value) -> Result<OrderInfo, ExchangeError> {
        let descr = &v["descr"];
        let symbol = cat.unified(descr["pair"].as_str().unwrap_or_default());
        let quantity = dnum("vol", &v["vol"])?;
        let filled = dnum("vol_exec", &v["vol_exec"])?;
        let price = match descr["ordertype"].as_str() {
            Some("limit") => dopt(&descr["price"]),
            Some("stop-loss-limit" | "take-profit-limit") => dopt(&descr["price2"]),
            _ => None,
        }
        .filter(|p| !p.is_zero());
        let avg_price = dopt(&v["price"]).filter(|p| !p.is_zero() && !filled.is_zero());
        let state = match v["status"].as_str() {
            Some("pending" | "open") if filled.is_zero() => OrderState::Open,
            Some("pending" | "open") => OrderState::PartiallyFilled,
            Some("closed") if filled >= quantity => OrderState::Filled,
            Some("closed" | "expired") => OrderState::Expired,
            Some("canceled") => OrderState::Cancelled,
            other => {
                return Err(ExchangeError::protocol(
                    VENUE,
                    &format!("order {txid}: unknown status {other:?}"),
                ));
            }
        };
        Ok(OrderInfo {
            venue_order_id: txid.to_string(),
            client_order_id: v["cl_ord_id"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(String::from),
            symbol,
            side: parse_side(&descr["type"])?,
            price,
            quantity,
            filled,
            avg_price,
            state,
            ts_ms: secs_to_ms(&v["closetm"])
                .or_else(|| secs_to_ms(&v["lastupdated"]))
                .or_else(|| secs_to_ms(&v["opentm"]))
                .unwrap_or(0),
        })
    }

    fn parse_orders(cat: &Catalog, map: &Value) -> Result<Vec<OrderInfo>, ExchangeError> {
        let mut out = Vec::new();
        if let Some(obj) = map.as_object() {
            for (id, v) in obj {
                out.push(Self::parse_order(cat, id, v)?);
            }
        }
        out.sort_by_key(|o| o.ts_ms);
        Ok(out)
    }

    /// `QueryOrders` for up to 50 ids at a time.
    async fn query_orders(
        &self,
        cat: &Catalog,
        ids: &[String],
    ) -> Result<Vec<OrderInfo>, ExchangeError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(50) {
            let r = self
                .private(
                    "QueryOrders",
                    &[("txid", chunk.join(",")), ("trades", "true".into())],
                    Bucket::Counter(1),
                )
                .await
                .map_err(|mut e| {
                    if e.message.starts_with("Invalid order") {
                        e.kind = ErrorKind::UnknownOrder;
                    }
                    e
                })?;
            out.extend(Self::parse_orders(cat, &r)?);
        }
        Ok(out)
    }

    async fn fetch(&self, cat: &Catalog, order: &OrderRef) -> Result<OrderInfo, ExchangeError> {
        let unknown = |id: &str| ExchangeError {
            kind: ErrorKind::UnknownOrder,
            venue: VENUE,
            code: None,
            message: format!("kraken has no order {id}"),
            retry_after: None,
        };
        match order {
            OrderRef::Venue(id) => self
                .query_orders(cat, std::slice::from_ref(id))
                .await?
                .into_iter()
                .find(|o| &o.venue_order_id == id)
                .ok_or_else(|| unknown(id)),
            OrderRef::Client(c) => {
                let by = [("cl_ord_id", c.clone())];
                let open = self.private("OpenOrders", &by, Bucket::Counter(1)).await?;
                if let Some(o) = Self::parse_orders(cat, &open["open"])?.into_iter().next() {
                    return Ok(o);
                }
                let closed = self
                    .private("ClosedOrders", &by, Bucket::Counter(1))
                    .await?;
                Self::parse_orders(cat, &closed["closed"])?
                    .into_iter()
                    .max_by_key(|o| o.ts_ms)
                    .ok_or_else(|| unknown(c))
            }
        }
    }

    /// Our fills at or after `since_ms` on every pair, oldest first, with their orders (looked
    /// up to learn our client ids, which `TradesHistory` does not carry).
    async fn fills_since(
        &self,
        cat: &Catalog,
        since_ms: i64,
    ) -> Result<(Vec<Fill>, Vec<OrderInfo>), ExchangeError> {
        // `start` is exclusive and in seconds: ask from the second before.
        let start = (since_ms.div_euclid(1000) - 1).max(0).to_string();
        let mut fills = Vec::new();
        let mut ofs = 0usize;
        // 50 trades a page; 20 pages bound one call's cost.
        for _ in 0..20 {
            let r = self
                .private(
                    "TradesHistory",
                    &[("start", start.clone()), ("ofs", ofs.to_string())],
                    Bucket::Counter(2),
                )
                .await?;
            let page = r["trades"].as_object().cloned().unwrap_or_default();
            let count = r["count"].as_u64().unwrap_or(0);
            ofs += page.len();
            for (id, t) in &page {
                let symbol = cat.unified(t["pair"].as_str().unwrap_or_default());
                fills.push(Fill {
                    trade_id: id.clone(),
                    venue_order_id: t["ordertxid"].as_str().unwrap_or_default().to_string(),
                    client_order_id: None,
                    fee_asset: cat.quote_of(&symbol),
                    symbol,
                    side: parse_side(&t["type"])?,
                    price: dnum("price", &t["price"])?,
                    quantity: dnum("vol", &t["vol"])?,
                    fee: dnum("fee", &t["fee"])?,
                    maker: t["maker"].as_bool().unwrap_or(false),
                    ts_ms: secs_to_ms(&t["time"]).unwrap_or(0),
                });
            }
            if page.is_empty() || ofs as u64 >= count {
                break;
            }
        }
        fills.retain(|f| f.ts_ms >= since_ms);
        fills.sort_by(|a, b| (a.ts_ms, &a.trade_id).cmp(&(b.ts_ms, &b.trade_id)));
        let ids: Vec<String> = fills
            .iter()
            .map(|f| f.venue_order_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let orders = if ids.is_empty() {
            Vec::new()
        } else {
            match self.query_orders(cat, &ids).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(venue = VENUE, error = %e, "fills: orders not found; client ids unknown");
                    Vec::new()
                }
            }
        };
        let client: HashMap<&str, &str> = orders
            .iter()
            .filter_map(|o| Some((o.venue_order_id.as_str(), o.client_order_id.as_deref()?)))
            .collect();
        for f in &mut fills {
            f.client_order_id = client
                .get(f.venue_order_id.as_str())
                .map(|c| (*c).to_string());
        }
        Ok((fills, orders))
    }
}

impl Exchange for Kraken {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn markets(&self) -> BoxFut<'_, Vec<Market>> {
        Box::pin(async move {
            let cat = self.inner.load_catalog().await?;
            let mut markets: Vec<Market> = cat.pairs.iter().map(|p| p.market.clone()).collect();
            markets.sort_by(|a, b| a.symbol.cmp(&b.symbol));
            Ok(markets)
        })
    }

    fn ticker<'a>(&'a self, symbol: &'a str) -> BoxFut<'a, Ticker> {
        Box::pin(async move {
            let cat = self.inner.catalog().await?;
            let pair = cat.get(symbol)?;
            let r = self
                .inner
                .public("/0/public/Ticker", &[("pair", pair.altname.clone())])
                .await?;
            let t = r
                .get(&pair.key)
                .or_else(|| r.as_object().and_then(|o| o.values().next()))
                .ok_or_else(|| ExchangeError::protocol(VENUE, "Ticker: empty result"))?;
            Ok(Ticker {
                symbol: pair.market.symbol.clone(),
                bid: dopt(&t["b"][0]),
                ask: dopt(&t["a"][0]),
                last: dopt(&t["c"][0]),
                volume_24h: dopt(&t["v"][1]),
                ts_ms: 0,
            })
        })
    }

    fn order_book<'a>(&'a self, symbol: &'a str, depth: u32) -> BoxFut<'a, OrderBook> {
        Box::pin(async move {
            let cat = self.inner.catalog().await?;
            let pair = cat.get(symbol)?;
            let r = self
                .inner
                .public(
                    "/0/public/Depth",
                    &[
                        ("pair", pair.altname.clone()),
                        ("count", depth.clamp(1, 500).to_string()),
                    ],
                )
                .await?;
            let b = r
                .get(&pair.key)
                .or_else(|| r.as_object().and_then(|o| o.values().next()))
                .ok_or_else(|| ExchangeError::protocol(VENUE, "Depth: empty result"))?;
            let mut ts = 0i64;
            let mut side = |name: &str| -> Result<Vec<(Decimal, Decimal)>, ExchangeError> {
                let mut out = Vec::new();
                for l in b[name].as_array().map_or(&[][..], Vec::as_slice) {
                    ts = ts.max(l[2].as_i64().unwrap_or(0) * 1000);
                    out.push((dnum("price", &l[0])?, dnum("volume", &l[1])?));
                }
                Ok(out)
            };
            let bids = side("bids")?;
            let asks = side("asks")?;
            Ok(OrderBook {
                symbol: pair.market.symbol.clone(),
                bids,
                asks,
                ts_ms: ts,
            })
        })
    }

    fn candles<'a>(
        &'a self,
        symbol: &'a str,
        timeframe: Timeframe,
        since_ms: i64,
        limit: u32,
    ) -> BoxFut<'a, Vec<Bar>> {
        Box::pin(async move {
            let secs = timeframe.as_secs();
            let minutes = secs / 60;
            if !secs.is_multiple_of(60) || !INTERVALS.contains(&minutes) {
                return Err(ExchangeError::invalid(
                    VENUE,
                    &format!(
                        "kraken has no {timeframe} candles; use 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w or 15d"
                    ),
                ));
            }
            let cat = self.inner.catalog().await?;
            let pair = cat.get(symbol)?;
            let r = self
                .inner
                .public(
                    "/0/public/OHLC",
                    &[
                        ("pair", pair.altname.clone()),
                        ("interval", minutes.to_string()),
                        ("since", (since_ms.div_euclid(1000) - 1).to_string()),
                    ],
                )
                .await?;
            let rows = r
                .get(&pair.key)
                .or_else(|| {
                    r.as_object()
                        .and_then(|o| o.iter().find(|(k, v)| *k != "last" && v.is_array()))
                        .map(|(_, v)| v)
                })
                .and_then(Value::as_array)
                .ok_or_else(|| ExchangeError::protocol(VENUE, "OHLC: no rows"))?;
            // The last row is the current, uncommitted bar.
            let committed = &rows[..rows.len().saturating_sub(1)];
            let mut bars = Vec::new();
            for row in committed {
                let t = row[0]
                    .as_i64()
                    .ok_or_else(|| ExchangeError::protocol(VENUE, "OHLC: time missing"))?;
                if t * 1000 < since_ms {
                    continue;
                }
                let ts = UnixNanos::from_secs(t)
                    .ok_or_else(|| ExchangeError::protocol(VENUE, "OHLC: time out of range"))?;
                let bar = Bar::new(
                    ts,
                    f64_of("open", &row[1])?,
                    f64_of("high", &row[2])?,
                    f64_of("low", &row[3])?,
                    f64_of("close", &row[4])?,
                    f64_of("volume", &row[6])?,
                )
                .map_err(|e| ExchangeError::protocol(VENUE, &format!("OHLC: {e}")))?;
                bars.push(bar);
                if bars.len() >= limit as usize {
                    break;
                }
            }
            Ok(bars)
        })
    }

    fn balances(&self) -> BoxFut<'_, Vec<Balance>> {
        Box::pin(async move {
            let r = self
                .inner
                .private("BalanceEx", &[], Bucket::Counter(1))
                .await?;
            let mut out = Vec::new();
            for (code, v) in r.as_object().into_iter().flatten() {
                let total = dnum("balance", &v["balance"])?;
                let hold = dopt(&v["hold_trade"]).unwrap_or_default();
                if total.is_zero() && hold.is_zero() {
                    continue;
                }
                out.push(Balance {
                    asset: normalize_asset(code),
                    free: total - hold,
                    locked: hold,
                });
            }
            out.sort_by(|a, b| a.asset.cmp(&b.asset));
            Ok(out)
        })
    }

    fn create_order<'a>(&'a self, order: &'a NewOrder) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            self.inner.creds()?;
            let cat = self.inner.catalog().await?;
            let pair = cat.get(&order.symbol)?;
            if pair.raw_status == "limit_only" && !matches!(order.kind, OrderKind::Limit { .. }) {
                return Err(ExchangeError::invalid(
                    VENUE,
                    &format!("{} accepts limit orders only now", pair.market.symbol),
                ));
            }
            pair.market.check(VENUE, order, None)?;
            let mut p: Vec<(&str, String)> = vec![
                ("pair", pair.altname.clone()),
                ("type", side_name(order.side).into()),
                ("volume", text(order.quantity)),
            ];
            let limit = match order.kind {
                OrderKind::Market => {
                    p.push(("ordertype", "market".into()));
                    false
                }
                OrderKind::Limit { price } => {
                    p.push(("ordertype", "limit".into()));
                    p.push(("price", text(price.as_decimal())));
                    true
                }
                OrderKind::Stop { trigger } => {
                    p.push(("ordertype", "stop-loss".into()));
                    p.push(("price", text(trigger.as_decimal())));
                    false
                }
                OrderKind::StopLimit { trigger, price } => {
                    p.push(("ordertype", "stop-loss-limit".into()));
                    p.push(("price", text(trigger.as_decimal())));
                    p.push(("price2", text(price.as_decimal())));
                    true
                }
            };
            match order.time_in_force {
                TimeInForce::Gtc => {}
                TimeInForce::Ioc => p.push(("timeinforce", "IOC".into())),
                TimeInForce::Fok => {
                    return Err(ExchangeError::invalid(
                        VENUE,
                        "kraken spot has no fill-or-kill orders; use IOC",
                    ));
                }
                TimeInForce::PostOnly if limit => p.push(("oflags", "post".into())),
                TimeInForce::PostOnly => {
                    return Err(ExchangeError::invalid(
                        VENUE,
                        "post-only needs a limit order",
                    ));
                }
            }
            p.push(("cl_ord_id", order.client_order_id.as_str().to_string()));
            let r = self
                .inner
                .private("AddOrder", &p, Bucket::Trading(&pair.altname))
                .await?;
            let txid = r["txid"][0]
                .as_str()
                .ok_or_else(|| ExchangeError::protocol(VENUE, "AddOrder: no txid"))?
                .to_string();
            // AddOrder says nothing of the order's state (a market order is filled by now):
            // ask, and fall back to "open" if the question fails.
            match self.inner.fetch(&cat, &OrderRef::Venue(txid.clone())).await {
                Ok(info) => Ok(info),
                Err(e) => {
                    tracing::warn!(venue = VENUE, error = %e, "order placed; its state is unknown");
                    Ok(OrderInfo {
                        symbol: pair.market.symbol.clone(),
                        ..order.accepted(txid, crate::now_ms())
                    })
                }
            }
        })
    }

    fn cancel_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            self.inner.creds()?;
            let cat = self.inner.catalog().await?;
            let pair = cat.get(symbol)?;
            let by = match order {
                OrderRef::Venue(id) => ("txid", id.clone()),
                OrderRef::Client(c) => ("cl_ord_id", c.clone()),
            };
            self.inner
                .private("CancelOrder", &[by], Bucket::Trading(&pair.altname))
                .await?;
            self.inner.fetch(&cat, order).await
        })
    }

    fn fetch_order<'a>(&'a self, _symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            self.inner.creds()?;
            let cat = self.inner.catalog().await?;
            self.inner.fetch(&cat, order).await
        })
    }

    fn open_orders<'a>(&'a self, symbol: Option<&'a str>) -> BoxFut<'a, Vec<OrderInfo>> {
        Box::pin(async move {
            self.inner.creds()?;
            let cat = self.inner.catalog().await?;
            let want = symbol
                .map(|s| cat.get(s).map(|p| p.market.symbol.clone()))
                .transpose()?;
            let r = self
                .inner
                .private("OpenOrders", &[], Bucket::Counter(1))
                .await?;
            let mut orders = Inner::parse_orders(&cat, &r["open"])?;
            orders.retain(|o| want.as_ref().is_none_or(|s| &o.symbol == s));
            Ok(orders)
        })
    }

    fn my_trades<'a>(&'a self, symbol: &'a str, since_ms: i64) -> BoxFut<'a, Vec<Fill>> {
        Box::pin(async move {
            self.inner.creds()?;
            let cat = self.inner.catalog().await?;
            let want = cat.get(symbol)?.market.symbol.clone();
            let (mut fills, _) = self.inner.fills_since(&cat, since_ms).await?;
            fills.retain(|f| f.symbol == want);
            Ok(fills)
        })
    }

    fn permissions(&self) -> BoxFut<'_, Permissions> {
        Box::pin(async move {
            // Kraken has no "what may this key do" call: try one harmless call per right.
            // Permission denied means no; any other refusal got past the permission check.
            let judge = |r: Result<Value, ExchangeError>| match r {
                Ok(_) => Ok(true),
                Err(e) if permission_denied(&e) => Ok(false),
                Err(e)
                    if matches!(
                        e.kind,
                        ErrorKind::InvalidOrder
                            | ErrorKind::InsufficientFunds
                            | ErrorKind::UnknownOrder
                            | ErrorKind::DuplicateOrder
                            | ErrorKind::Other
                    ) =>
                {
                    Ok(true)
                }
                Err(e) => Err(e),
            };
            let read = judge(self.inner.private("Balance", &[], Bucket::Counter(1)).await)?;
            let cat = self.inner.catalog().await?;
            let pair = cat
                .pairs
                .iter()
                .find(|p| p.market.status == MarketStatus::Trading)
                .or_else(|| cat.pairs.first())
                .ok_or_else(|| ExchangeError::protocol(VENUE, "kraken lists no markets"))?;
            let m = &pair.market;
            let volume = m.min_qty.max(m.step_size).max(Decimal::new(1, 8));
            let price = if m.tick_size.is_zero() {
                Decimal::ONE
            } else {
                m.tick_size
            };
            // validate=true: Kraken checks the order and the key's rights, and places nothing.
            let trade = judge(
                self.inner
                    .private(
                        "AddOrder",
                        &[
                            ("pair", pair.altname.clone()),
                            ("type", "buy".into()),
                            ("ordertype", "limit".into()),
                            ("volume", text(volume)),
                            ("price", text(price)),
                            ("validate", "true".into()),
                        ],
                        Bucket::Trading(&pair.altname),
                    )
                    .await,
            )?;
            let withdraw = judge(
                self.inner
                    .private("WithdrawMethods", &[], Bucket::Counter(1))
                    .await,
            )?;
            Ok(Permissions {
                read,
                trade,
                withdraw,
                ip_restricted: None,
            })
        })
    }

    fn market_stream(&self, subs: Vec<Subscription>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            let cat = self.inner.catalog().await?;
            let mut trades = Vec::new();
            let mut tickers = Vec::new();
            let mut ohlc: HashMap<u32, (String, Vec<String>)> = HashMap::new();
            for s in &subs {
                match s {
                    Subscription::Trades { symbol } => {
                        trades.push(cat.get(symbol)?.market.symbol.clone());
                    }
                    Subscription::BestBidAsk { symbol } => {
                        tickers.push(cat.get(symbol)?.market.symbol.clone());
                    }
                    Subscription::Candles { symbol, timeframe } => {
                        let tf: Timeframe = timeframe.parse().map_err(|e| {
                            ExchangeError::invalid(VENUE, &format!("timeframe: {e}"))
                        })?;
                        let minutes = tf.as_secs() / 60;
                        if !tf.as_secs().is_multiple_of(60) || !INTERVALS.contains(&minutes) {
                            return Err(ExchangeError::invalid(
                                VENUE,
                                &format!(
                                    "kraken streams no {timeframe} candles; use 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w or 15d"
                                ),
                            ));
                        }
                        ohlc.entry(minutes)
                            .or_insert_with(|| (timeframe.clone(), Vec::new()))
                            .1
                            .push(cat.get(symbol)?.market.symbol.clone());
                    }
                }
            }
            let mut messages = Vec::new();
            if !trades.is_empty() {
                messages.push(
                    json!({"method": "subscribe", "params": {"channel": "trade", "symbol": trades, "snapshot": true}})
                        .to_string(),
                );
            }
            if !tickers.is_empty() {
                messages.push(
                    json!({"method": "subscribe", "params": {"channel": "ticker", "symbol": tickers, "event_trigger": "bbo"}})
                        .to_string(),
                );
            }
            let mut names = HashMap::new();
            for (minutes, (tf, symbols)) in &ohlc {
                names.insert(*minutes, tf.clone());
                messages.push(
                    json!({"method": "subscribe", "params": {"channel": "ohlc", "symbol": symbols, "interval": minutes}})
                        .to_string(),
                );
            }
            let session = PublicSession {
                url: self.inner.ws_public.clone(),
                messages,
                timeframes: names,
                bars: HashMap::new(),
                catalog: cat,
            };
            Ok(crate::stream::spawn(session, self.inner.stream))
        })
    }

    fn user_stream(&self, symbols: Vec<String>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            self.inner.creds()?;
            let cat = self.inner.catalog().await?;
            let mut want = HashSet::new();
            for s in &symbols {
                want.insert(cat.get(s)?.market.symbol.clone());
            }
            let session = PrivateSession {
                inner: Arc::clone(&self.inner),
                symbols: want,
                orders: HashMap::new(),
                catalog: cat,
            };
            Ok(crate::stream::spawn(session, self.inner.stream))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Websocket v2

/// A subscription refused: a permission problem ends the stream, anything else is logged
/// (a reconnect would be refused the same way).
fn refused(v: &Value) -> Result<Vec<StreamEvent>, ExchangeError> {
    let error = v["error"].as_str().unwrap_or("subscription refused");
    if error.to_ascii_lowercase().contains("permission") {
        return Err(ExchangeError {
            kind: ErrorKind::Auth,
            venue: VENUE,
            code: None,
            message: format!("websocket: {error} (the key needs the WebSocket interface right)"),
            retry_after: None,
        });
    }
    tracing::warn!(venue = VENUE, error, "websocket subscription refused");
    Ok(Vec::new())
}

fn envelope(text: &str) -> Result<Value, ExchangeError> {
    serde_json::from_str(text)
        .map_err(|e| ExchangeError::protocol(VENUE, &format!("websocket: not JSON ({e})")))
}

struct PublicSession {
    url: String,
    messages: Vec<String>,
    /// Subscribed name of each interval (minutes).
    timeframes: HashMap<u32, String>,
    /// The bar being built per (symbol, minutes): its final state is emitted as closed when
    /// the next one starts.
    bars: HashMap<(String, u32), Bar>,
    catalog: Arc<Catalog>,
}

impl PublicSession {
    fn candles(&mut self, data: &[Value]) -> Result<Vec<StreamEvent>, ExchangeError> {
        let mut out = Vec::new();
        for d in data {
            let symbol = self
                .catalog
                .unified(d["symbol"].as_str().unwrap_or_default());
            let minutes = d["interval"]
                .as_u64()
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(1);
            let ts = UnixNanos::from_millis(rfc_ms(&d["interval_begin"])).unwrap_or_default();
            let bar = Bar::new(
                ts,
                f64_of("open", &d["open"])?,
                f64_of("high", &d["high"])?,
                f64_of("low", &d["low"])?,
                f64_of("close", &d["close"])?,
                f64_of("volume", &d["volume"])?,
            )
            .map_err(|e| ExchangeError::protocol(VENUE, &format!("ohlc: {e}")))?;
            let timeframe = self
                .timeframes
                .get(&minutes)
                .cloned()
                .unwrap_or_else(|| format!("{minutes}m"));
            let key = (symbol.clone(), minutes);
            if let Some(prev) = self.bars.get(&key)
                && prev.ts < bar.ts
            {
                out.push(StreamEvent::Candle {
                    symbol: symbol.clone(),
                    timeframe: timeframe.clone(),
                    bar: *prev,
                    closed: true,
                });
            }
            self.bars.insert(key, bar);
            out.push(StreamEvent::Candle {
                symbol,
                timeframe,
                bar,
                closed: false,
            });
        }
        Ok(out)
    }
}

impl WsSession for PublicSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        Box::pin(async move { Ok(self.url.clone()) })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        // A new connection starts new bars.
        self.bars.clear();
        Box::pin(async move { Ok(self.messages.clone()) })
    }

    fn parse(&mut self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v = envelope(text)?;
        if v.get("method").is_some() {
            return if v["success"] == false {
                refused(&v)
            } else {
                Ok(Vec::new())
            };
        }
        let data = v["data"].as_array().map_or(&[][..], Vec::as_slice);
        let mut out = Vec::new();
        match v["channel"].as_str() {
            Some("trade") => {
                for d in data {
                    out.push(StreamEvent::Trade {
                        symbol: self
                            .catalog
                            .unified(d["symbol"].as_str().unwrap_or_default()),
                        price: dnum("price", &d["price"])?,
                        quantity: dnum("qty", &d["qty"])?,
                        ts_ms: rfc_ms(&d["timestamp"]),
                    });
                }
            }
            Some("ticker") => {
                for d in data {
                    out.push(StreamEvent::BestBidAsk {
                        symbol: self
                            .catalog
                            .unified(d["symbol"].as_str().unwrap_or_default()),
                        bid: dnum("bid", &d["bid"])?,
                        ask: dnum("ask", &d["ask"])?,
                        ts_ms: rfc_ms(&d["timestamp"]),
                    });
                }
            }
            Some("ohlc") => out = self.candles(data)?,
            _ => {}
        }
        Ok(out)
    }

    fn resync(&mut self, _since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        // Public data has nothing to recover: the snapshot after resubscribing is current.
        Box::pin(async move { Ok(Vec::new()) })
    }
}

struct PrivateSession {
    inner: Arc<Inner>,
    /// Unified symbols wanted (empty: all).
    symbols: HashSet<String>,
    /// Orders as known from the stream (execution reports carry only what changed).
    orders: HashMap<String, OrderInfo>,
    catalog: Arc<Catalog>,
}

impl PrivateSession {
    fn wanted(&self, symbol: &str) -> bool {
        self.symbols.is_empty() || self.symbols.contains(symbol)
    }

    fn report(&mut self, d: &Value) -> Result<Vec<StreamEvent>, ExchangeError> {
        let Some(id) = d["order_id"].as_str() else {
            return Ok(Vec::new());
        };
        let o = self
            .orders
            .entry(id.to_string())
            .or_insert_with(|| OrderInfo {
                venue_order_id: id.to_string(),
                client_order_id: None,
                symbol: String::new(),
                side: Side::Buy,
                price: None,
                quantity: Decimal::ZERO,
                filled: Decimal::ZERO,
                avg_price: None,
                state: OrderState::Open,
                ts_ms: 0,
            });
        if let Some(c) = d["cl_ord_id"].as_str().filter(|c| !c.is_empty()) {
            o.client_order_id = Some(c.to_string());
        }
        if let Some(s) = d["symbol"].as_str() {
            o.symbol = self.catalog.unified(s);
        }
        if d.get("side").is_some() {
            o.side = parse_side(&d["side"])?;
        }
        if let Some(q) = dopt(&d["order_qty"]) {
            o.quantity = q;
        }
        if let Some(p) = dopt(&d["limit_price"]).filter(|p| !p.is_zero()) {
            o.price = Some(p);
        }
        if let Some(p) = dopt(&d["avg_price"]).filter(|p| !p.is_zero()) {
            o.avg_price = Some(p);
        }
        let exec_type = d["exec_type"].as_str().unwrap_or_default();
        let mut out = Vec::new();
        if exec_type == "trade" {
            let qty = dnum("last_qty", &d["last_qty"])?;
            let price = dnum("last_price", &d["last_price"])?;
            match dopt(&d["cum_qty"]) {
                Some(c) => o.filled = c,
                None => o.filled += qty,
            }
            let fees = d["fees"].as_array().map_or(&[][..], Vec::as_slice);
            let mut fee = Decimal::ZERO;
            for f in fees {
                fee += dnum("fees.qty", &f["qty"])?;
            }
            let fee_asset = fees
                .first()
                .and_then(|f| f["asset"].as_str())
                .map_or_else(|| self.catalog.quote_of(&o.symbol), normalize_asset);
            out.push(StreamEvent::Fill(Fill {
                trade_id: d["exec_id"].as_str().unwrap_or_default().to_string(),
                venue_order_id: id.to_string(),
                client_order_id: o.client_order_id.clone(),
                symbol: o.symbol.clone(),
                side: o.side,
                price,
                quantity: qty,
                fee,
                fee_asset,
                maker: d["liquidity_ind"] == "m",
                ts_ms: rfc_ms(&d["timestamp"]),
            }));
        } else if let Some(c) = dopt(&d["cum_qty"]) {
            o.filled = c;
        }
        o.state = match d["order_status"].as_str() {
            Some("pending_new" | "new") => OrderState::Open,
            Some("partially_filled") => OrderState::PartiallyFilled,
            Some("filled") => OrderState::Filled,
            Some("canceled") => OrderState::Cancelled,
            Some("expired") => OrderState::Expired,
            _ => o.state,
        };
        let ts = rfc_ms(&d["timestamp"]);
        if ts > 0 {
            o.ts_ms = ts;
        }
        // An order first seen mid-life (a report during a gap) lacks its size: its fill is
        // still delivered, its state comes from the resync.
        if !o.symbol.is_empty() && !o.quantity.is_zero() {
            out.push(StreamEvent::Order(o.clone()));
        }
        if o.state.is_terminal() {
            self.orders.remove(id);
        }
        out.retain(|e| match e {
            StreamEvent::Fill(f) => self.wanted(&f.symbol),
            StreamEvent::Order(o) => self.wanted(&o.symbol),
            _ => true,
        });
        Ok(out)
    }
}

impl WsSession for PrivateSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        Box::pin(async move { Ok(self.inner.ws_private.clone()) })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async move {
            // A token is valid for 15 minutes until used; fetch one per connection.
            let r = self
                .inner
                .private("GetWebSocketsToken", &[], Bucket::Counter(1))
                .await?;
            let token = r["token"]
                .as_str()
                .ok_or_else(|| ExchangeError::protocol(VENUE, "GetWebSocketsToken: no token"))?;
            Ok(vec![
                json!({"method": "subscribe", "params": {
                    "channel": "executions", "token": token,
                    "snap_orders": true, "snap_trades": false}})
                .to_string(),
            ])
        })
    }

    fn parse(&mut self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v = envelope(text)?;
        if v.get("method").is_some() {
            return if v["success"] == false {
                refused(&v)
            } else {
                Ok(Vec::new())
            };
        }
        if v["channel"] != "executions" {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for d in v["data"].as_array().map_or(&[][..], Vec::as_slice) {
            out.extend(self.report(d)?);
        }
        Ok(out)
    }

    fn resync(&mut self, since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        Box::pin(async move {
            let cat = Arc::clone(&self.catalog);
            let (fills, closed) = self.inner.fills_since(&cat, since_ms).await?;
            let open = self
                .inner
                .private("OpenOrders", &[], Bucket::Counter(1))
                .await?;
            let open = Inner::parse_orders(&cat, &open["open"])?;
            let mut out: Vec<StreamEvent> = fills
                .into_iter()
                .filter(|f| self.wanted(&f.symbol))
                .map(StreamEvent::Fill)
                .collect();
            self.orders.clear();
            let mut sent = HashSet::new();
            for o in closed.into_iter().chain(open) {
                if !self.wanted(&o.symbol) || !sent.insert(o.venue_order_id.clone()) {
                    continue;
                }
                if !o.state.is_terminal() {
                    self.orders.insert(o.venue_order_id.clone(), o.clone());
                }
                out.push(StreamEvent::Order(o));
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn kraken_errors_keep_their_text_and_say_what_to_do() {
        let k = |t: &str| kraken_error(t).kind;
        assert_eq!(k("EOrder:Duplicate order"), ErrorKind::DuplicateOrder);
        assert_eq!(k("EOrder:Insufficient funds"), ErrorKind::InsufficientFunds);
        assert_eq!(
            k("EGeneral:Invalid arguments:volume"),
            ErrorKind::InvalidOrder
        );
        assert_eq!(k("EGeneral:Permission denied"), ErrorKind::Auth);
        assert_eq!(k("EAPI:Rate limit exceeded"), ErrorKind::RateLimited);
        assert_eq!(k("EGeneral:Temporary lockout"), ErrorKind::RateLimited);
        assert_eq!(k("EService:Unavailable"), ErrorKind::Unavailable);
        assert_eq!(k("EOrder:Unknown order"), ErrorKind::UnknownOrder);
        let e = kraken_error("EOrder:Duplicate order");
        assert_eq!(e.code.as_deref(), Some("EOrder"));
        assert_eq!(e.message, "Duplicate order");
        assert!(permission_denied(&kraken_error(
            "EGeneral:Permission denied"
        )));
        assert!(!permission_denied(&kraken_error("EAPI:Invalid key")));
    }

    fn resp(status: u16, body: &str, retry: Option<&str>) -> Response {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(r) = retry {
            headers.insert("retry-after", r.parse().unwrap());
        }
        Response {
            status,
            headers,
            body: body.to_string(),
        }
    }

    #[test]
    fn answers_are_judged_by_their_error_array_first() {
        let e = decode(&resp(
            200,
            r#"{"error":["EAPI:Rate limit exceeded"]}"#,
            Some("2"),
        ))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
        let e = decode(&resp(503, "<html>busy</html>", None)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        let e = decode(&resp(503, r#"{"error":["EService:Unavailable"]}"#, None)).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::Unavailable, Some("EService"))
        );
        let v = decode(&resp(200, r#"{"error":[],"result":{"count":1}}"#, None)).unwrap();
        assert_eq!(v["count"], 1);
        assert_eq!(
            decode(&resp(200, "not json", None)).unwrap_err().kind,
            ErrorKind::Other
        );
    }

    #[test]
    fn legacy_asset_codes_are_unified() {
        assert_eq!(normalize_asset("XXBT"), "BTC");
        assert_eq!(normalize_asset("XBT"), "BTC");
        assert_eq!(normalize_asset("ZUSD"), "USD");
        assert_eq!(normalize_asset("XETH"), "ETH");
        assert_eq!(normalize_asset("ZEUR"), "EUR");
        assert_eq!(normalize_asset("XDG"), "DOGE");
        assert_eq!(normalize_asset("XBT.M"), "BTC.M");
        assert_eq!(normalize_asset("SOL"), "SOL");
    }

    #[test]
    fn nonces_strictly_increase() {
        let a = next_nonce();
        let b = next_nonce();
        let c = next_nonce();
        assert!(a < b && b < c);
    }

    #[test]
    fn asset_pairs_give_unified_markets_and_rules() {
        let v: Value = serde_json::from_str(
            r#"{"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","base":"XXBT","quote":"ZUSD",
            "pair_decimals":1,"lot_decimals":8,"ordermin":"0.0001","costmin":"0.5","status":"online"},
            "XDGUSD":{"altname":"XDGUSD","wsname":"XDG/USD","base":"XXDG","quote":"ZUSD",
            "pair_decimals":7,"lot_decimals":8,"ordermin":"15","tick_size":"0.0000001","status":"cancel_only"},
            "XXBTZUSD.d":{"altname":"XBTUSD.d","base":"XXBT","quote":"ZUSD","pair_decimals":1,"lot_decimals":8}}"#,
        )
        .unwrap();
        let cat = Catalog::parse(&v).unwrap();
        assert_eq!(cat.pairs.len(), 2);
        let btc = cat.get("BTC/USD").unwrap();
        assert_eq!(btc.market.tick_size, Decimal::new(1, 1));
        assert_eq!(btc.market.step_size, Decimal::new(1, 8));
        assert_eq!(btc.market.min_notional, Decimal::new(5, 1));
        assert_eq!(btc.altname, "XBTUSD");
        let doge = cat.get("DOGE/USD").unwrap();
        assert_eq!(doge.market.status, MarketStatus::Halted);
        assert_eq!(cat.unified("XXBTZUSD"), "BTC/USD");
        assert_eq!(cat.unified("XBTUSD"), "BTC/USD");
        assert!(cat.get("BTC/EUR").is_err());
    }
}

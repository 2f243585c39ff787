//! Alpaca (US stocks and crypto): the Trading API (`api.alpaca.markets`, or
//! `paper-api.alpaca.markets` with [`VenueConfig::paper`]) for assets, the market clock, the
//! account, positions, orders and fill activities; the Market Data API
//! (`data.alpaca.markets`) for bars, quotes, trades, snapshots and crypto order books; the
//! `trade_updates` websocket (`/stream`) for our orders and fills; and the market-data
//! websockets (`/v2/iex` for stocks, `/v1beta3/crypto/us` for crypto).
//!
//! With a `base_url` override every endpoint lives under that one host: the paths do not
//! clash (`/v2/account` and `/v2/stocks/...`, `/v1beta3/crypto/...`; ws `/stream`, `/v2/iex`,
//! `/v1beta3/crypto/us`).
//!
//! Invariants:
//! - Every request carries the key pair in `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`
//!   ([`crate::sign::alpaca_headers`]); private calls without a key fail before sending.
//! - Market hours are respected: a stock market reports [`MarketStatus::Closed`] while the
//!   clock (`GET /v2/clock`, cached briefly) says closed, and a stock MARKET order is refused
//!   before sending while closed, naming the next open. A limit or stop order is sent and
//!   queued by Alpaca for the open. Crypto trades around the clock.
//! - Orders are checked against the cached asset rules ([`Market::check`]) before sending:
//!   stocks tick 0.01 (0.0001 below $1), whole shares or 1e-9 steps when fractionable, with
//!   Alpaca's $1 minimum for fractional orders; crypto uses the asset's `min_order_size`,
//!   `min_trade_increment` and `price_increment`.
//! - Fills: the trade id is the execution id. `trade_updates` carries it as `execution_id`;
//!   a FILL activity carries it after the `::` of its id (`20240102143001234::<execution
//!   id>`), so a fill seen live and again in a resync is recognised. Stock trades have no
//!   commission; crypto fees are booked as separate CFEE activities, so fills report fee 0.
//!   Whether we were maker is not reported; fills say taker.
//! - Stocks have no order book in this API: [`Exchange::order_book`] for a stock is the latest
//!   quote as a one-level book.
//! - Rate limits: 200 requests a minute per key for the Trading API (`alpaca:key:{label}`)
//!   and for the Market Data API (`alpaca:data:key:{label}`; `alpaca:data:ip` without a key);
//!   `X-RateLimit-Remaining` is believed when it is lower than our count, and a 429 blocks the
//!   bucket for everyone until `Retry-After` (or `X-RateLimit-Reset`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use skeet_core::{Bar, OrderKind, Side, TimeInForce, Timeframe, UnixNanos};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::{BoxFut, Exchange, VenueConfig};
use crate::error::{ErrorKind, ExchangeError};
use crate::http::{Response, Rest};
use crate::limiter::Quota;
use crate::stream::{self, EventStream, WsSession};
use crate::types::{
    Balance, Fill, Market, MarketStatus, NewOrder, OrderBook, OrderInfo, OrderRef, OrderState,
    Permissions, StreamEvent, Subscription, Ticker, dec,
};

const VENUE: &str = "alpaca";
const TRADING: &str = "https://api.alpaca.markets";
const PAPER: &str = "https://paper-api.alpaca.markets";
const DATA: &str = "https://data.alpaca.markets";
const TRADING_WS: &str = "wss://api.alpaca.markets";
const PAPER_WS: &str = "wss://paper-api.alpaca.markets";
const DATA_WS: &str = "wss://stream.data.alpaca.markets";
/// How long an "open" answer of the clock is trusted (a "closed" answer is re-read before an
/// order is refused on it).
const CLOCK_TTL: Duration = Duration::from_secs(15);
/// Activities per page (Alpaca allows up to 100).
const PAGE: usize = 100;
/// Pages read per fill query at most (10,000 fills).
const MAX_PAGES: usize = 100;

/// Builds the Alpaca adapter.
///
/// # Errors
/// When the HTTP client cannot start.
pub fn connect(cfg: VenueConfig) -> Result<Box<dyn Exchange>, ExchangeError> {
    let trade_root = cfg.rest_url(if cfg.paper { PAPER } else { TRADING });
    let data_root = cfg.rest_url(DATA);
    let trade = Rest::new(VENUE, &trade_root, cfg.timeout, cfg.limiter.clone())?;
    let data = Rest::new(VENUE, &data_root, cfg.timeout, cfg.limiter.clone())?;
    let per_min = |n| Quota::new(n, Duration::from_secs(60));
    let (trade_bucket, data_bucket) = match &cfg.credentials {
        Some(c) => (
            format!("alpaca:key:{}", c.label()),
            format!("alpaca:data:key:{}", c.label()),
        ),
        None => ("alpaca:ip".to_string(), "alpaca:data:ip".to_string()),
    };
    cfg.limiter.define(&trade_bucket, per_min(200));
    cfg.limiter.define(&data_bucket, per_min(200));
    Ok(Box::new(Alpaca(Arc::new(Inner {
        cfg,
        trade,
        data,
        trade_bucket,
        data_bucket,
        listings: Mutex::new(None),
        clock: Mutex::new(None),
    }))))
}

/// The adapter; clones of the inner state feed the websocket sessions' REST resyncs.
struct Alpaca(Arc<Inner>);

/// A listed asset: its rules (status from `tradable` only; the clock is applied on use).
#[derive(Clone, Debug)]
struct Listing {
    market: Market,
    crypto: bool,
    fractionable: bool,
}

/// `GET /v2/clock`, parsed.
#[derive(Clone, Debug)]
struct MarketClock {
    is_open: bool,
    next_open: String,
    next_open_ms: i64,
    next_close_ms: i64,
}

struct Inner {
    cfg: VenueConfig,
    trade: Rest,
    data: Rest,
    trade_bucket: String,
    data_bucket: String,
    listings: Mutex<Option<Arc<HashMap<String, Listing>>>>,
    clock: Mutex<Option<(Instant, MarketClock)>>,
}

/// Which API a request goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Trading,
    Data,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// True when a unified symbol is a crypto pair at Alpaca (its venue name keeps the slash).
fn is_crypto(symbol: &str) -> Result<bool, ExchangeError> {
    venue_symbol(symbol).map(|v| v.contains('/'))
}

fn venue_symbol(symbol: &str) -> Result<String, ExchangeError> {
    crate::symbols::to_venue(VENUE, symbol).map_err(|e| ExchangeError::invalid(VENUE, &e))
}

/// The unified symbol of an Alpaca name: `AAPL` → `AAPL/USD`, `BTC/USD` as is, and the
/// slash-less crypto names positions and activities use (`BTCUSD`) → `BTC/USD`.
fn unified(name: &str) -> String {
    if name.contains('/') {
        return name.to_string();
    }
    for quote in ["USDT", "USDC", "USD", "BTC"] {
        if let Some(base) = name.strip_suffix(quote)
            && !base.is_empty()
            && crate::symbols::to_venue(VENUE, &format!("{base}/USD"))
                .is_ok_and(|v| v.contains('/'))
        {
            return format!("{base}/{quote}");
        }
    }
    format!("{name}/USD")
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A decimal field sent as a string (Trading API) or a number (Market Data API); `None` when
/// absent or null.
fn dec_opt(v: &Value, key: &str) -> Result<Option<Decimal>, ExchangeError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => dec(VENUE, key, s).map(Some),
        Some(Value::Number(n)) => dec(VENUE, key, &n.to_string()).map(Some),
        Some(other) => Err(ExchangeError::protocol(
            VENUE,
            &format!("{key}: '{other}' is not a decimal"),
        )),
    }
}

fn dec_req(v: &Value, key: &str) -> Result<Decimal, ExchangeError> {
    dec_opt(v, key)?.ok_or_else(|| ExchangeError::protocol(VENUE, &format!("{key} is missing")))
}

fn f64_req(v: &Value, key: &str) -> Result<f64, ExchangeError> {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ExchangeError::protocol(VENUE, &format!("bar field {key} is not a number")))
}

/// RFC 3339 (any offset, any fraction) → ms since the epoch.
fn ts_ms(s: &str) -> Result<i64, ExchangeError> {
    s.parse::<UnixNanos>()
        .map(UnixNanos::as_millis)
        .map_err(|_| ExchangeError::protocol(VENUE, &format!("'{s}' is not an RFC 3339 time")))
}

fn rfc3339(ms: i64) -> String {
    UnixNanos::from_millis(ms)
        .unwrap_or(UnixNanos::EPOCH)
        .to_rfc3339()
}

fn side_of(s: &str) -> Result<Side, ExchangeError> {
    match s {
        "buy" => Ok(Side::Buy),
        // Alpaca reports short sales of stock as `sell_short`.
        "sell" | "sell_short" => Ok(Side::Sell),
        other => Err(ExchangeError::protocol(
            VENUE,
            &format!("unknown side '{other}'"),
        )),
    }
}

/// Alpaca's bar timeframe for ours: `{1-59}Min`, `{1-23}Hour`, `1Day`, `1Week`.
fn timeframe(tf: Timeframe) -> Result<String, ExchangeError> {
    let s = tf.as_secs();
    let name = match s {
        604_800 => "1Week".to_string(),
        86_400 => "1Day".to_string(),
        h if h % 3_600 == 0 && h / 3_600 < 24 => format!("{}Hour", h / 3_600),
        m if m % 60 == 0 && m / 60 < 60 => format!("{}Min", m / 60),
        _ => {
            return Err(ExchangeError::protocol(
                VENUE,
                &format!(
                    "Alpaca has no {tf} bars; use 1-59 minutes, 1-23 hours, 1d or 1w (e.g. 1m, 15m, 1h, 1d)"
                ),
            ));
        }
    };
    Ok(name)
}

/// Classifies an Alpaca error answer: HTTP status plus the body's `code` and `message`
/// (`{"code":40310000,"message":"insufficient buying power"}`).
fn map_error(status: u16, body: &str, retry_after: Option<Duration>) -> ExchangeError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed.get("code").and_then(|c| match c {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    });
    let message = str_of(&parsed, "message")
        .map(str::to_string)
        .unwrap_or_else(|| {
            let head: String = body.chars().take(200).collect();
            if head.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                head
            }
        });
    let lower = message.to_ascii_lowercase();
    let kind = match (status, code.as_deref()) {
        (429, _) | (_, Some("42910000")) => ErrorKind::RateLimited,
        (401, _) | (_, Some("40110000")) => ErrorKind::Auth,
        (403, _) if lower.contains("insufficient") => ErrorKind::InsufficientFunds,
        // 40310000 is an order the account may not place (short sale not allowed, pattern
        // day trading protection): fix the order, not the key.
        (403, Some("40310000")) => ErrorKind::InvalidOrder,
        (403, _) => ErrorKind::Auth,
        (_, _) if lower.contains("client_order_id must be unique") => ErrorKind::DuplicateOrder,
        // Cancelling an order that is already done: the venue no longer knows it as working.
        (422, _) if lower.contains("not cancelable") => ErrorKind::UnknownOrder,
        (404, _) if code.as_deref() == Some("40410000") || lower.contains("order") => {
            ErrorKind::UnknownOrder
        }
        (400 | 422, _) => ErrorKind::InvalidOrder,
        (500..=599, _) => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    };
    ExchangeError {
        kind,
        venue: VENUE,
        code,
        message,
        retry_after: if kind == ErrorKind::RateLimited {
            retry_after
        } else {
            None
        },
    }
}

/// How long a 429 asks us to wait: `Retry-After`, else `X-RateLimit-Reset` (epoch seconds).
fn rate_limit_wait(resp: &Response) -> Option<Duration> {
    resp.retry_after().or_else(|| {
        let reset = resp
            .header("x-ratelimit-reset")?
            .trim()
            .parse::<i64>()
            .ok()?;
        let wait_ms = reset.checked_mul(1000)? - crate::now_ms();
        u64::try_from(wait_ms)
            .ok()
            .map(|ms| Duration::from_millis(ms).min(Duration::from_secs(60)))
    })
}

/// Alpaca's order status → ours (`filled` decides between open and partly filled).
fn order_state(status: &str, filled: Decimal) -> Result<OrderState, ExchangeError> {
    let working = if filled.is_zero() {
        OrderState::Open
    } else {
        OrderState::PartiallyFilled
    };
    Ok(match status {
        "new"
        | "accepted"
        | "pending_new"
        | "accepted_for_bidding"
        | "pending_cancel"
        | "pending_replace"
        | "held"
        | "calculated"
        | "stopped"
        | "suspended"
        | "done_for_day" => working,
        "partially_filled" => OrderState::PartiallyFilled,
        "filled" => OrderState::Filled,
        // A replaced order lives on as its replacement; this one is over.
        "canceled" | "replaced" => OrderState::Cancelled,
        "expired" => OrderState::Expired,
        "rejected" => OrderState::Rejected,
        other => {
            return Err(ExchangeError::protocol(
                VENUE,
                &format!("unknown order status '{other}'"),
            ));
        }
    })
}

/// An Alpaca order object → [`OrderInfo`].
fn order_info(o: &Value) -> Result<OrderInfo, ExchangeError> {
    let filled = dec_opt(o, "filled_qty")?.unwrap_or_default();
    let status = str_of(o, "status").unwrap_or_default();
    let ts = ["updated_at", "submitted_at", "created_at"]
        .iter()
        .find_map(|k| str_of(o, k))
        .map(ts_ms)
        .transpose()?
        .unwrap_or(0);
    Ok(OrderInfo {
        venue_order_id: str_of(o, "id")
            .ok_or_else(|| ExchangeError::protocol(VENUE, "order without an id"))?
            .to_string(),
        client_order_id: str_of(o, "client_order_id").map(str::to_string),
        symbol: unified(str_of(o, "symbol").unwrap_or_default()),
        side: side_of(str_of(o, "side").unwrap_or_default())?,
        price: dec_opt(o, "limit_price")?,
        // A notional order has no qty until it fills.
        quantity: dec_opt(o, "qty")?.unwrap_or(filled),
        filled,
        avg_price: dec_opt(o, "filled_avg_price")?.filter(|_| !filled.is_zero()),
        state: order_state(status, filled)?,
        ts_ms: ts,
    })
}

/// A FILL activity → [`Fill`].
fn activity_fill(a: &Value) -> Result<Fill, ExchangeError> {
    let id = str_of(a, "id").unwrap_or_default();
    let symbol = unified(str_of(a, "symbol").unwrap_or_default());
    let quote = symbol.split_once('/').map_or("USD", |(_, q)| q).to_string();
    Ok(Fill {
        trade_id: id.split_once("::").map_or(id, |(_, exec)| exec).to_string(),
        venue_order_id: str_of(a, "order_id").unwrap_or_default().to_string(),
        client_order_id: None,
        symbol,
        side: side_of(str_of(a, "side").unwrap_or_default())?,
        price: dec_req(a, "price")?,
        quantity: dec_req(a, "qty")?,
        fee: Decimal::ZERO,
        fee_asset: quote,
        maker: false,
        ts_ms: ts_ms(str_of(a, "transaction_time").unwrap_or_default())?,
    })
}

/// One Alpaca bar (`{t,o,h,l,c,v,n,vw}`) → [`Bar`].
fn bar_of(b: &Value) -> Result<Bar, ExchangeError> {
    let t = ts_ms(str_of(b, "t").unwrap_or_default())?;
    let ts = UnixNanos::from_millis(t)
        .ok_or_else(|| ExchangeError::protocol(VENUE, "bar time out of range"))?;
    Bar::new(
        ts,
        f64_req(b, "o")?,
        f64_req(b, "h")?,
        f64_req(b, "l")?,
        f64_req(b, "c")?,
        f64_req(b, "v").unwrap_or(0.0),
    )
    .map_err(|e| ExchangeError::protocol(VENUE, &format!("bad bar: {e}")))
}

fn level(v: &Value) -> Result<(Decimal, Decimal), ExchangeError> {
    Ok((dec_req(v, "p")?, dec_req(v, "s")?))
}

/// A quote's price, with Alpaca's 0 for "no quote on this side" as `None`.
fn quote_price(q: &Value, key: &str) -> Result<Option<Decimal>, ExchangeError> {
    Ok(dec_opt(q, key)?.filter(|p| !p.is_zero()))
}

/// An asset of `GET /v2/assets` → a listing (`None` for classes we do not trade, e.g.
/// options).
fn listing(a: &Value) -> Result<Option<Listing>, ExchangeError> {
    let class = str_of(a, "class").unwrap_or_default();
    let name = str_of(a, "symbol").unwrap_or_default();
    let tradable = a.get("tradable").and_then(Value::as_bool).unwrap_or(false);
    let active = str_of(a, "status").is_none_or(|s| s == "active");
    let fractionable = a
        .get("fractionable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let status = if tradable && active {
        MarketStatus::Trading
    } else {
        MarketStatus::Halted
    };
    let crypto = match class {
        "crypto" => true,
        "us_equity" => false,
        _ => return Ok(None),
    };
    let symbol = unified(name);
    let Some((base, quote)) = symbol.split_once('/') else {
        return Ok(None);
    };
    let market = if crypto {
        let step = dec_opt(a, "min_trade_increment")?.unwrap_or_default();
        Market {
            symbol: symbol.clone(),
            venue_symbol: name.to_string(),
            base: base.to_string(),
            quote: quote.to_string(),
            status,
            tick_size: dec_opt(a, "price_increment")?.unwrap_or_default(),
            step_size: step,
            min_qty: dec_opt(a, "min_order_size")?.unwrap_or(step),
            min_notional: Decimal::ZERO,
        }
    } else {
        // Stocks: a cent tick (0.0001 below $1, applied per order); whole shares, or 1e-9
        // steps with Alpaca's $1 minimum for fractional orders.
        let step = if fractionable {
            Decimal::new(1, 9)
        } else {
            Decimal::ONE
        };
        Market {
            symbol: symbol.clone(),
            venue_symbol: name.to_string(),
            base: base.to_string(),
            quote: quote.to_string(),
            status,
            tick_size: Decimal::new(1, 2),
            step_size: step,
            min_qty: dec_opt(a, "min_order_size")?.unwrap_or(step),
            min_notional: if fractionable {
                Decimal::ONE
            } else {
                Decimal::ZERO
            },
        }
    };
    Ok(Some(Listing {
        market,
        crypto,
        fractionable,
    }))
}

impl Inner {
    fn rest(&self, api: Api) -> (&Rest, &str) {
        match api {
            Api::Trading => (&self.trade, &self.trade_bucket),
            Api::Data => (&self.data, &self.data_bucket),
        }
    }

    /// Sends one request: the key headers (required on the Trading API, sent when present on
    /// the Market Data API), the shared limiter, the rate-limit headers, and the error
    /// mapping.
    async fn call(
        &self,
        api: Api,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Response, ExchangeError> {
        let (rest, bucket) = self.rest(api);
        let mut req = rest.request(method, path);
        match &self.cfg.credentials {
            Some(c) => {
                for (k, v) in crate::sign::alpaca_headers(&c.key, &c.secret) {
                    req = req.header(k, v);
                }
            }
            None if api == Api::Trading => return Err(ExchangeError::no_credentials(VENUE)),
            None => {}
        }
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = rest.send(req, &[bucket], 1).await?;
        if let (Some(limit), Some(left)) = (
            resp.header("x-ratelimit-limit")
                .and_then(|v| v.trim().parse::<u32>().ok()),
            resp.header("x-ratelimit-remaining")
                .and_then(|v| v.trim().parse::<u32>().ok()),
        ) {
            rest.limiter()
                .observe_used(bucket, limit.saturating_sub(left));
        }
        if resp.ok() {
            return Ok(resp);
        }
        let err = map_error(resp.status, &resp.body, rate_limit_wait(&resp));
        rest.note(bucket, &err);
        Err(err)
    }

    async fn get(
        &self,
        api: Api,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ExchangeError> {
        self.call(api, Method::GET, path, query, None)
            .await?
            .json(VENUE)
    }

    /// The asset listings, loaded once and cached (the rules checked before every order).
    async fn listings(
        &self,
        refresh: bool,
    ) -> Result<Arc<HashMap<String, Listing>>, ExchangeError> {
        if !refresh && let Some(l) = lock(&self.listings).clone() {
            return Ok(l);
        }
        let assets = self
            .get(Api::Trading, "/v2/assets", &[("status", "active".into())])
            .await?;
        let list = assets
            .as_array()
            .ok_or_else(|| ExchangeError::protocol(VENUE, "assets: expected an array"))?;
        let mut map = HashMap::new();
        for a in list {
            if let Some(l) = listing(a)? {
                map.insert(l.market.symbol.clone(), l);
            }
        }
        let map = Arc::new(map);
        *lock(&self.listings) = Some(map.clone());
        Ok(map)
    }

    async fn listing(&self, symbol: &str) -> Result<Listing, ExchangeError> {
        let want = symbol.to_ascii_uppercase();
        self.listings(false)
            .await?
            .get(&want)
            .cloned()
            .ok_or_else(|| {
                ExchangeError::invalid(VENUE, &format!("{symbol} is not listed at Alpaca"))
            })
    }

    /// The market clock; a cached answer is used while fresh and before the next open or
    /// close it announced, unless `fresh` asks for a new reading.
    async fn clock(&self, fresh: bool) -> Result<MarketClock, ExchangeError> {
        if !fresh && let Some((at, c)) = lock(&self.clock).clone() {
            let now = crate::now_ms();
            let boundary = if c.is_open {
                c.next_close_ms
            } else {
                c.next_open_ms
            };
            if at.elapsed() < CLOCK_TTL && now < boundary {
                return Ok(c);
            }
        }
        let v = self.get(Api::Trading, "/v2/clock", &[]).await?;
        let next_open = str_of(&v, "next_open").unwrap_or_default().to_string();
        let c = MarketClock {
            is_open: v
                .get("is_open")
                .and_then(Value::as_bool)
                .ok_or_else(|| ExchangeError::protocol(VENUE, "clock: is_open is missing"))?,
            next_open_ms: ts_ms(&next_open)?,
            next_close_ms: ts_ms(str_of(&v, "next_close").unwrap_or_default())?,
            next_open,
        };
        *lock(&self.clock) = Some((Instant::now(), c.clone()));
        Ok(c)
    }

    async fn markets(&self) -> Result<Vec<Market>, ExchangeError> {
        let listings = self.listings(true).await?;
        let has_stocks = listings.values().any(|l| !l.crypto);
        let open = if has_stocks {
            self.clock(false).await?.is_open
        } else {
            true
        };
        let mut out: Vec<Market> = listings
            .values()
            .map(|l| {
                let mut m = l.market.clone();
                if !l.crypto && !open && m.status == MarketStatus::Trading {
                    m.status = MarketStatus::Closed;
                }
                m
            })
            .collect();
        out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(out)
    }

    async fn ticker(&self, symbol: &str) -> Result<Ticker, ExchangeError> {
        let name = venue_symbol(symbol)?;
        let snap = if is_crypto(symbol)? {
            let v = self
                .get(
                    Api::Data,
                    "/v1beta3/crypto/us/snapshots",
                    &[("symbols", name.clone())],
                )
                .await?;
            v.get("snapshots")
                .and_then(|s| s.get(&name))
                .cloned()
                .ok_or_else(|| {
                    ExchangeError::invalid(VENUE, &format!("no market data for {symbol}"))
                })?
        } else {
            self.get(Api::Data, &format!("/v2/stocks/{name}/snapshot"), &[])
                .await?
        };
        let quote = snap.get("latestQuote").cloned().unwrap_or(Value::Null);
        let trade = snap.get("latestTrade").cloned().unwrap_or(Value::Null);
        let ts = [&trade, &quote]
            .iter()
            .filter_map(|x| str_of(x, "t"))
            .map(ts_ms)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .max()
            .unwrap_or(0);
        Ok(Ticker {
            symbol: symbol.to_ascii_uppercase(),
            bid: quote_price(&quote, "bp")?,
            ask: quote_price(&quote, "ap")?,
            last: dec_opt(&trade, "p")?,
            // Alpaca reports session bars, not a rolling 24 h volume.
            volume_24h: None,
            ts_ms: ts,
        })
    }

    async fn order_book(&self, symbol: &str, depth: u32) -> Result<OrderBook, ExchangeError> {
        let name = venue_symbol(symbol)?;
        let depth = usize::try_from(depth.max(1)).unwrap_or(usize::MAX);
        if is_crypto(symbol)? {
            let v = self
                .get(
                    Api::Data,
                    "/v1beta3/crypto/us/latest/orderbooks",
                    &[("symbols", name.clone())],
                )
                .await?;
            let book = v
                .get("orderbooks")
                .and_then(|b| b.get(&name))
                .ok_or_else(|| {
                    ExchangeError::invalid(VENUE, &format!("no order book for {symbol}"))
                })?;
            let side = |k: &str| -> Result<Vec<(Decimal, Decimal)>, ExchangeError> {
                book.get(k)
                    .and_then(Value::as_array)
                    .map(|l| l.iter().map(level).collect())
                    .unwrap_or_else(|| Ok(Vec::new()))
            };
            let mut bids = side("b")?;
            let mut asks = side("a")?;
            bids.sort_by_key(|l| std::cmp::Reverse(l.0));
            asks.sort_by_key(|l| l.0);
            bids.truncate(depth);
            asks.truncate(depth);
            return Ok(OrderBook {
                symbol: symbol.to_ascii_uppercase(),
                bids,
                asks,
                ts_ms: str_of(book, "t").map(ts_ms).transpose()?.unwrap_or(0),
            });
        }
        // Stocks: no depth in this API; the latest quote is the top of the book.
        let v = self
            .get(Api::Data, &format!("/v2/stocks/{name}/quotes/latest"), &[])
            .await?;
        let q = v.get("quote").cloned().unwrap_or(Value::Null);
        let one = |p: &str, s: &str| -> Result<Vec<(Decimal, Decimal)>, ExchangeError> {
            Ok(match (quote_price(&q, p)?, dec_opt(&q, s)?) {
                (Some(price), Some(size)) => vec![(price, size)],
                _ => Vec::new(),
            })
        };
        Ok(OrderBook {
            symbol: symbol.to_ascii_uppercase(),
            bids: one("bp", "bs")?,
            asks: one("ap", "as")?,
            ts_ms: str_of(&q, "t").map(ts_ms).transpose()?.unwrap_or(0),
        })
    }

    async fn candles(
        &self,
        symbol: &str,
        tf: Timeframe,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<Bar>, ExchangeError> {
        let name = venue_symbol(symbol)?;
        let mut query = vec![
            ("timeframe", timeframe(tf)?),
            ("start", rfc3339(since_ms)),
            ("limit", limit.clamp(1, 10_000).to_string()),
        ];
        let raw = if is_crypto(symbol)? {
            query.push(("symbols", name.clone()));
            let v = self
                .get(Api::Data, "/v1beta3/crypto/us/bars", &query)
                .await?;
            v.get("bars")
                .and_then(|b| b.get(&name))
                .cloned()
                .unwrap_or(Value::Null)
        } else {
            let v = self
                .get(Api::Data, &format!("/v2/stocks/{name}/bars"), &query)
                .await?;
            v.get("bars").cloned().unwrap_or(Value::Null)
        };
        let now = crate::now_ms();
        let len_ms = i64::from(tf.as_secs()) * 1000;
        let mut bars = raw
            .as_array()
            .map(|l| l.iter().map(bar_of).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default();
        bars.sort_by_key(|b| b.ts);
        // The bar still forming is not a candle yet.
        bars.retain(|b| b.ts.as_millis() >= since_ms && b.ts.as_millis() + len_ms <= now);
        bars.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(bars)
    }

    async fn account(&self) -> Result<Value, ExchangeError> {
        self.get(Api::Trading, "/v2/account", &[]).await
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        let acct = self.account().await?;
        let cash = dec_opt(&acct, "cash")?.unwrap_or_default();
        let power = dec_opt(&acct, "buying_power")?.unwrap_or(cash);
        // Cash not covered by buying power is held by open buy orders (a margin account's
        // buying power can exceed its cash: then nothing is held).
        let free = cash.min(power).max(Decimal::ZERO);
        let mut out = Vec::new();
        if !cash.is_zero() {
            out.push(Balance {
                asset: str_of(&acct, "currency").unwrap_or("USD").to_string(),
                free,
                locked: cash - free,
            });
        }
        let positions = self.get(Api::Trading, "/v2/positions", &[]).await?;
        for p in positions.as_array().map(Vec::as_slice).unwrap_or_default() {
            let qty = dec_req(p, "qty")?;
            if qty.is_zero() {
                continue;
            }
            let available = dec_opt(p, "qty_available")?.unwrap_or(qty);
            let symbol = unified(str_of(p, "symbol").unwrap_or_default());
            let asset = symbol.split_once('/').map_or(symbol.as_str(), |(b, _)| b);
            out.push(Balance {
                asset: asset.to_string(),
                free: available,
                locked: qty - available,
            });
        }
        Ok(out)
    }

    /// The body of `POST /v2/orders`, after the rule and market-hours checks.
    async fn order_body(&self, order: &NewOrder) -> Result<Value, ExchangeError> {
        let l = self.listing(&order.symbol).await?;
        let q = order.quantity;
        let fractional = !q.fract().is_zero();
        let mut rules = l.market.clone();
        if !l.crypto {
            if order.prices().iter().any(|p| *p < Decimal::ONE) {
                rules.tick_size = Decimal::new(1, 4);
            }
            if !fractional {
                rules.min_notional = Decimal::ZERO;
            }
            if fractional && !l.fractionable {
                return Err(ExchangeError::invalid(
                    VENUE,
                    &format!(
                        "{} is not fractionable at Alpaca; use a whole number of shares",
                        l.market.symbol
                    ),
                ));
            }
        }
        rules.check(VENUE, order, None)?;
        let bad = |m: String| Err(ExchangeError::invalid(VENUE, &m));
        let (kind, limit, stop) = match order.kind {
            OrderKind::Market => ("market", None, None),
            OrderKind::Limit { price } => ("limit", Some(price.as_decimal()), None),
            OrderKind::Stop { .. } if l.crypto => {
                return bad(format!(
                    "Alpaca takes market, limit and stop-limit orders for crypto, not stop orders ({})",
                    order.symbol
                ));
            }
            OrderKind::Stop { trigger } => ("stop", None, Some(trigger.as_decimal())),
            OrderKind::StopLimit { trigger, price } => (
                "stop_limit",
                Some(price.as_decimal()),
                Some(trigger.as_decimal()),
            ),
        };
        let tif = match (order.time_in_force, l.crypto, kind) {
            (TimeInForce::PostOnly, _, _) => {
                return bad("Alpaca has no post-only orders".to_string());
            }
            (TimeInForce::Fok, true, _) => {
                return bad(
                    "Alpaca takes crypto orders good till cancelled or IOC, not FOK".into(),
                );
            }
            // A stock market order executes at once (the market is open, checked below), so
            // a day lifetime is the same thing, and the one Alpaca accepts for fractions.
            (TimeInForce::Gtc, false, "market") => "day",
            (_, false, _) if fractional => {
                return bad(format!(
                    "Alpaca accepts fractional stock quantities only as day orders; use a whole number of shares for a {} order on {}",
                    match order.time_in_force {
                        TimeInForce::Ioc => "IOC",
                        TimeInForce::Fok => "FOK",
                        _ => "good-till-cancelled",
                    },
                    order.symbol
                ));
            }
            (TimeInForce::Gtc, _, _) => "gtc",
            (TimeInForce::Ioc, _, _) => "ioc",
            (TimeInForce::Fok, _, _) => "fok",
        };
        if !l.crypto && kind == "market" {
            self.require_open(&l.market.symbol).await?;
        }
        let mut body = json!({
            "symbol": l.market.venue_symbol,
            "qty": q.normalize().to_string(),
            "side": match order.side { Side::Buy => "buy", Side::Sell => "sell" },
            "type": kind,
            "time_in_force": tif,
            "client_order_id": order.client_order_id.as_str(),
        });
        if let Some(p) = limit {
            body["limit_price"] = json!(p.normalize().to_string());
        }
        if let Some(p) = stop {
            body["stop_price"] = json!(p.normalize().to_string());
        }
        Ok(body)
    }

    /// Refuses a stock market order while the market is closed. A cached "closed" is read
    /// again first, so an order is never refused on a stale clock.
    async fn require_open(&self, symbol: &str) -> Result<(), ExchangeError> {
        if self.clock(false).await?.is_open {
            return Ok(());
        }
        let c = self.clock(true).await?;
        if c.is_open {
            return Ok(());
        }
        Err(ExchangeError::invalid(
            VENUE,
            &format!(
                "the US stock market is closed; it opens at {} ({}). A market order on {symbol} is not sent while closed; a good-till-cancelled limit order is queued for the open",
                c.next_open,
                rfc3339(c.next_open_ms)
            ),
        ))
    }

    async fn create_order(&self, order: &NewOrder) -> Result<OrderInfo, ExchangeError> {
        let body = self.order_body(order).await?;
        let resp = self
            .call(Api::Trading, Method::POST, "/v2/orders", &[], Some(&body))
            .await?;
        order_info(&resp.json::<Value>(VENUE)?)
    }

    async fn fetch_order(&self, order: &OrderRef) -> Result<OrderInfo, ExchangeError> {
        let v = match order {
            OrderRef::Venue(id) => {
                self.get(Api::Trading, &format!("/v2/orders/{id}"), &[])
                    .await?
            }
            OrderRef::Client(id) => {
                self.get(
                    Api::Trading,
                    "/v2/orders:by_client_order_id",
                    &[("client_order_id", id.clone())],
                )
                .await?
            }
        };
        order_info(&v)
    }

    async fn cancel_order(&self, order: &OrderRef) -> Result<OrderInfo, ExchangeError> {
        let id = match order {
            OrderRef::Venue(id) => id.clone(),
            OrderRef::Client(_) => self.fetch_order(order).await?.venue_order_id,
        };
        // 204 without a body: the order's state after the cancel is read back.
        self.call(
            Api::Trading,
            Method::DELETE,
            &format!("/v2/orders/{id}"),
            &[],
            None,
        )
        .await?;
        self.fetch_order(&OrderRef::Venue(id)).await
    }

    async fn open_orders(&self, symbol: Option<&str>) -> Result<Vec<OrderInfo>, ExchangeError> {
        let mut query = vec![
            ("status", "open".to_string()),
            ("limit", "500".to_string()),
            ("direction", "asc".to_string()),
        ];
        if let Some(s) = symbol {
            query.push(("symbols", venue_symbol(s)?));
        }
        let v = self.get(Api::Trading, "/v2/orders", &query).await?;
        let want = symbol.map(str::to_ascii_uppercase);
        v.as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(order_info)
            .filter(|o| {
                o.as_ref()
                    .map_or(true, |o| want.as_ref().is_none_or(|w| &o.symbol == w))
            })
            .collect()
    }

    /// Our fills at or after `since_ms` on the `symbols` given (all when empty), oldest first.
    async fn fills(&self, symbols: &[String], since_ms: i64) -> Result<Vec<Fill>, ExchangeError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            // `after` is exclusive: one millisecond earlier includes a fill at `since_ms`.
            let mut query = vec![
                ("after", rfc3339(since_ms.saturating_sub(1))),
                ("direction", "asc".to_string()),
                ("page_size", PAGE.to_string()),
            ];
            if let Some(t) = &token {
                query.push(("page_token", t.clone()));
            }
            let v = self
                .get(Api::Trading, "/v2/account/activities/FILL", &query)
                .await?;
            let page = v.as_array().map(Vec::as_slice).unwrap_or_default();
            for a in page {
                let f = activity_fill(a)?;
                if f.ts_ms >= since_ms && (symbols.is_empty() || symbols.contains(&f.symbol)) {
                    out.push(f);
                }
            }
            token = page
                .last()
                .and_then(|a| str_of(a, "id"))
                .map(str::to_string);
            if page.len() < PAGE || token.is_none() {
                break;
            }
        }
        out.sort_by_key(|f| f.ts_ms);
        Ok(out)
    }

    async fn permissions(&self) -> Result<Permissions, ExchangeError> {
        let a = self.account().await?;
        let flag = |k| a.get(k).and_then(Value::as_bool).unwrap_or(false);
        Ok(Permissions {
            read: true,
            trade: !flag("trading_blocked")
                && !flag("account_blocked")
                && str_of(&a, "status") == Some("ACTIVE"),
            // Trading API keys cannot move money out.
            withdraw: false,
            ip_restricted: None,
        })
    }

    fn auth_message(&self) -> Result<String, ExchangeError> {
        let c = self
            .cfg
            .credentials
            .as_ref()
            .ok_or_else(|| ExchangeError::no_credentials(VENUE))?;
        Ok(json!({"action": "auth", "key": c.key, "secret": c.secret.as_str()}).to_string())
    }
}

impl Exchange for Alpaca {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn markets(&self) -> BoxFut<'_, Vec<Market>> {
        Box::pin(self.0.markets())
    }

    fn ticker<'a>(&'a self, symbol: &'a str) -> BoxFut<'a, Ticker> {
        Box::pin(self.0.ticker(symbol))
    }

    fn order_book<'a>(&'a self, symbol: &'a str, depth: u32) -> BoxFut<'a, OrderBook> {
        Box::pin(self.0.order_book(symbol, depth))
    }

    fn candles<'a>(
        &'a self,
        symbol: &'a str,
        timeframe: Timeframe,
        since_ms: i64,
        limit: u32,
    ) -> BoxFut<'a, Vec<Bar>> {
        Box::pin(self.0.candles(symbol, timeframe, since_ms, limit))
    }

    fn balances(&self) -> BoxFut<'_, Vec<Balance>> {
        Box::pin(self.0.balances())
    }

    fn create_order<'a>(&'a self, order: &'a NewOrder) -> BoxFut<'a, OrderInfo> {
        Box::pin(self.0.create_order(order))
    }

    fn cancel_order<'a>(&'a self, _symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(self.0.cancel_order(order))
    }

    fn fetch_order<'a>(&'a self, _symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(self.0.fetch_order(order))
    }

    fn open_orders<'a>(&'a self, symbol: Option<&'a str>) -> BoxFut<'a, Vec<OrderInfo>> {
        Box::pin(self.0.open_orders(symbol))
    }

    fn my_trades<'a>(&'a self, symbol: &'a str, since_ms: i64) -> BoxFut<'a, Vec<Fill>> {
        Box::pin(async move {
            let want = unified(&venue_symbol(symbol)?);
            self.0.fills(&[want], since_ms).await
        })
    }

    fn permissions(&self) -> BoxFut<'_, Permissions> {
        Box::pin(self.0.permissions())
    }

    fn market_stream(&self, subs: Vec<Subscription>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            self.0.auth_message()?;
            let mut stocks = Vec::new();
            let mut crypto = Vec::new();
            for s in subs {
                let (Subscription::Trades { symbol }
                | Subscription::BestBidAsk { symbol }
                | Subscription::Candles { symbol, .. }) = &s;
                if let Subscription::Candles { timeframe, .. } = &s
                    && timeframe != "1m"
                {
                    return Err(ExchangeError::protocol(
                        VENUE,
                        &format!(
                            "Alpaca streams one-minute bars only; subscribe to 1m, not {timeframe}"
                        ),
                    ));
                }
                if is_crypto(symbol)? {
                    crypto.push(s);
                } else {
                    stocks.push(s);
                }
            }
            let opts = self.0.cfg.stream;
            let session = |crypto, subs| MarketSession {
                inner: self.0.clone(),
                crypto,
                subs,
            };
            Ok(match (stocks.is_empty(), crypto.is_empty()) {
                (false, true) => stream::spawn(session(false, stocks), opts),
                (true, false) => stream::spawn(session(true, crypto), opts),
                (true, true) => {
                    return Err(ExchangeError::protocol(VENUE, "no subscriptions given"));
                }
                (false, false) => merge(
                    stream::spawn(session(false, stocks), opts),
                    stream::spawn(session(true, crypto), opts),
                ),
            })
        })
    }

    fn user_stream(&self, symbols: Vec<String>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            self.0.auth_message()?;
            let symbols = symbols
                .iter()
                .map(|s| venue_symbol(s).map(|v| unified(&v)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(stream::spawn(
                UserSession {
                    inner: self.0.clone(),
                    symbols,
                },
                self.0.cfg.stream,
            ))
        })
    }
}

/// One stream of two (stocks and crypto come from different sockets).
fn merge(a: EventStream, b: EventStream) -> EventStream {
    let (tx, rx) = mpsc::channel(1024);
    let forward = |mut s: EventStream, tx: mpsc::Sender<_>| async move {
        while let Some(ev) = s.next().await {
            if tx.send(ev).await.is_err() {
                break;
            }
        }
    };
    let task = tokio::spawn(async move {
        tokio::join!(forward(a, tx.clone()), forward(b, tx));
    });
    EventStream::from_channel(rx, task)
}

/// The `trade_updates` stream: our orders and fills.
struct UserSession {
    inner: Arc<Inner>,
    /// Unified symbols to pass on (all when empty).
    symbols: Vec<String>,
}

impl UserSession {
    fn wanted(&self, symbol: &str) -> bool {
        self.symbols.is_empty() || self.symbols.iter().any(|s| s == symbol)
    }
}

impl WsSession for UserSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        let cfg = &self.inner.cfg;
        let root = cfg.ws_url(if cfg.paper { PAPER_WS } else { TRADING_WS });
        Box::pin(async move { Ok(format!("{root}/stream")) })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async move {
            Ok(vec![
                self.inner.auth_message()?,
                json!({"action": "listen", "data": {"streams": ["trade_updates"]}}).to_string(),
            ])
        })
    }

    fn parse(&mut self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ExchangeError::protocol(VENUE, &format!("trade_updates: {e}")))?;
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        match str_of(&v, "stream") {
            Some("authorization") => {
                if str_of(&data, "status") == Some("authorized") {
                    Ok(Vec::new())
                } else {
                    Err(ExchangeError {
                        kind: ErrorKind::Auth,
                        venue: VENUE,
                        code: None,
                        message: format!(
                            "the trade_updates stream refused the key: {}",
                            str_of(&data, "status").unwrap_or("unauthorized")
                        ),
                        retry_after: None,
                    })
                }
            }
            Some("trade_updates") => {
                let order = data.get("order").cloned().unwrap_or(Value::Null);
                let info = order_info(&order)?;
                if !self.wanted(&info.symbol) {
                    return Ok(Vec::new());
                }
                let mut out = Vec::new();
                if matches!(str_of(&data, "event"), Some("fill" | "partial_fill")) {
                    // Older streams sent no execution id: the cumulative quantity keys the fill.
                    let trade_id = str_of(&data, "execution_id").map_or_else(
                        || format!("{}:{}", info.venue_order_id, info.filled),
                        str::to_string,
                    );
                    let quote = info
                        .symbol
                        .split_once('/')
                        .map_or("USD", |(_, q)| q)
                        .to_string();
                    out.push(StreamEvent::Fill(Fill {
                        trade_id,
                        venue_order_id: info.venue_order_id.clone(),
                        client_order_id: info.client_order_id.clone(),
                        symbol: info.symbol.clone(),
                        side: info.side,
                        price: dec_req(&data, "price")?,
                        quantity: dec_req(&data, "qty")?,
                        fee: Decimal::ZERO,
                        fee_asset: quote,
                        maker: false,
                        ts_ms: str_of(&data, "timestamp")
                            .map(ts_ms)
                            .transpose()?
                            .unwrap_or(info.ts_ms),
                    }));
                }
                out.push(StreamEvent::Order(info));
                Ok(out)
            }
            // `listening` acknowledgements and anything new.
            _ => Ok(Vec::new()),
        }
    }

    fn resync(&mut self, since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        Box::pin(async move {
            let mut out: Vec<StreamEvent> = self
                .inner
                .fills(&self.symbols, since_ms)
                .await?
                .into_iter()
                .map(StreamEvent::Fill)
                .collect();
            for o in self.inner.open_orders(None).await? {
                if self.wanted(&o.symbol) {
                    out.push(StreamEvent::Order(o));
                }
            }
            Ok(out)
        })
    }
}

/// A market-data stream (stocks on the IEX feed, or crypto).
struct MarketSession {
    inner: Arc<Inner>,
    crypto: bool,
    subs: Vec<Subscription>,
}

impl WsSession for MarketSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        let root = self.inner.cfg.ws_url(DATA_WS);
        let path = if self.crypto {
            "/v1beta3/crypto/us"
        } else {
            "/v2/iex"
        };
        Box::pin(async move { Ok(format!("{root}{path}")) })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async move {
            let mut trades = Vec::new();
            let mut quotes = Vec::new();
            let mut bars = Vec::new();
            for s in &self.subs {
                match s {
                    Subscription::Trades { symbol } => trades.push(venue_symbol(symbol)?),
                    Subscription::BestBidAsk { symbol } => quotes.push(venue_symbol(symbol)?),
                    Subscription::Candles { symbol, .. } => bars.push(venue_symbol(symbol)?),
                }
            }
            Ok(vec![
                self.inner.auth_message()?,
                json!({"action": "subscribe", "trades": trades, "quotes": quotes, "bars": bars})
                    .to_string(),
            ])
        })
    }

    fn parse(&mut self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ExchangeError::protocol(VENUE, &format!("market data: {e}")))?;
        let msgs = match v {
            Value::Array(a) => a,
            other => vec![other],
        };
        let mut out = Vec::new();
        for m in &msgs {
            let symbol = || unified(str_of(m, "S").unwrap_or_default());
            let t = || str_of(m, "t").map(ts_ms).transpose();
            match str_of(m, "T") {
                Some("t") => out.push(StreamEvent::Trade {
                    symbol: symbol(),
                    price: dec_req(m, "p")?,
                    quantity: dec_req(m, "s")?,
                    ts_ms: t()?.unwrap_or(0),
                }),
                Some("q") => out.push(StreamEvent::BestBidAsk {
                    symbol: symbol(),
                    bid: dec_req(m, "bp")?,
                    ask: dec_req(m, "ap")?,
                    ts_ms: t()?.unwrap_or(0),
                }),
                // Minute bars are sent once the minute is over.
                Some("b") => out.push(StreamEvent::Candle {
                    symbol: symbol(),
                    timeframe: "1m".to_string(),
                    bar: bar_of(m)?,
                    closed: true,
                }),
                Some("error") => {
                    let code = m.get("code").and_then(Value::as_i64).unwrap_or(0);
                    let msg = str_of(m, "msg").unwrap_or("error");
                    // 401 not authenticated, 402 auth failed, 405 symbol limit, 409
                    // insufficient subscription: reconnecting cannot fix these.
                    let kind = if matches!(code, 401 | 402 | 405 | 409) {
                        ErrorKind::Auth
                    } else {
                        ErrorKind::Other
                    };
                    return Err(ExchangeError {
                        kind,
                        venue: VENUE,
                        code: Some(code.to_string()),
                        message: msg.to_string(),
                        retry_after: None,
                    });
                }
                // success, subscription, corrections, updated bars, statuses.
                _ => {}
            }
        }
        Ok(out)
    }

    fn resync(&mut self, _since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        // Public data has nothing to recover: the next messages are current.
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    fn kind(status: u16, body: &str) -> ErrorKind {
        map_error(status, body, None).kind
    }

    #[test]
    fn errors_map_to_what_the_caller_can_do() {
        assert_eq!(
            kind(
                401,
                r#"{"code":40110000,"message":"request is not authorized"}"#
            ),
            ErrorKind::Auth
        );
        assert_eq!(kind(403, r#"{"message":"forbidden."}"#), ErrorKind::Auth);
        assert_eq!(
            kind(
                403,
                r#"{"code":40310000,"message":"insufficient buying power"}"#
            ),
            ErrorKind::InsufficientFunds
        );
        assert_eq!(
            kind(
                403,
                r#"{"available":"0","balance":"0","code":40310000,"message":"insufficient balance for USDT (requested: 221.63, available: 0)","symbol":"USDT"}"#
            ),
            ErrorKind::InsufficientFunds
        );
        assert_eq!(
            kind(
                403,
                r#"{"code":40310000,"message":"account is not allowed to short"}"#
            ),
            ErrorKind::InvalidOrder
        );
        assert_eq!(
            kind(
                422,
                r#"{"code":40010001,"message":"client_order_id must be unique"}"#
            ),
            ErrorKind::DuplicateOrder
        );
        assert_eq!(
            kind(
                422,
                r#"{"code":40010001,"message":"invalid order type for crypto order"}"#
            ),
            ErrorKind::InvalidOrder
        );
        assert_eq!(
            kind(
                422,
                r#"{"code":42210000,"message":"order is not cancelable"}"#
            ),
            ErrorKind::UnknownOrder
        );
        assert_eq!(
            kind(404, r#"{"code":40410000,"message":"order not found"}"#),
            ErrorKind::UnknownOrder
        );
        assert_eq!(kind(404, "404 page not found"), ErrorKind::Other);
        assert_eq!(kind(503, ""), ErrorKind::Unavailable);
        let e = map_error(
            429,
            r#"{"code":42910000,"message":"rate limit exceeded"}"#,
            Some(Duration::from_secs(3)),
        );
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(
            e.to_string(),
            "alpaca: [42910000] rate limit exceeded (retry after 3.0 s)"
        );
        // The venue's message is kept; an empty body says the status.
        assert_eq!(map_error(502, "", None).message, "HTTP 502");
    }

    #[test]
    fn names_map_to_unified_symbols() {
        assert_eq!(unified("AAPL"), "AAPL/USD");
        assert_eq!(unified("BTC/USD"), "BTC/USD");
        assert_eq!(unified("BTCUSD"), "BTC/USD");
        assert_eq!(unified("ETHUSDT"), "ETH/USDT");
        assert_eq!(unified("BRK.B"), "BRK.B/USD");
        // A stock whose ticker ends in USD stays a stock.
        assert_eq!(unified("XUSD"), "XUSD/USD");
    }

    #[test]
    fn timeframes_map_to_alpaca_names() {
        let tf = |s: &str| timeframe(s.parse().unwrap());
        assert_eq!(tf("1m").unwrap(), "1Min");
        assert_eq!(tf("15m").unwrap(), "15Min");
        assert_eq!(tf("1h").unwrap(), "1Hour");
        assert_eq!(tf("4h").unwrap(), "4Hour");
        assert_eq!(tf("1d").unwrap(), "1Day");
        assert_eq!(tf("1w").unwrap(), "1Week");
        assert!(tf("30s").is_err());
        assert!(tf("2d").is_err());
    }

    #[test]
    fn orders_and_activities_parse() {
        let o: Value = serde_json::from_str(
            r#"{"id":"61e69015-8549-4bfd-b9c3-01e75843f47d","client_order_id":"c-1","updated_at":"2021-03-16T18:38:01.942282Z","symbol":"AAPL","qty":"2","filled_qty":"1","filled_avg_price":"190.5","type":"limit","side":"buy","limit_price":"191","status":"partially_filled"}"#,
        )
        .unwrap();
        let i = order_info(&o).unwrap();
        assert_eq!(i.symbol, "AAPL/USD");
        assert_eq!(i.state, OrderState::PartiallyFilled);
        assert_eq!(i.price, Some(Decimal::from(191)));
        assert_eq!(i.ts_ms, 1_615_919_881_942);
        let a: Value = serde_json::from_str(
            r#"{"id":"20210127144930176::ddc0a142-ebfd-4890-9021-641d33e58742","activity_type":"FILL","transaction_time":"2021-01-27T19:49:30.176Z","type":"partial_fill","price":"31.6","qty":"100","side":"buy","symbol":"QQQJ","leaves_qty":"131","order_id":"ee8058e5-41a0-48fd-8156-915ae0af6d17","cum_qty":"869"}"#,
        )
        .unwrap();
        let f = activity_fill(&a).unwrap();
        assert_eq!(f.trade_id, "ddc0a142-ebfd-4890-9021-641d33e58742");
        assert_eq!(f.symbol, "QQQJ/USD");
        assert_eq!(f.ts_ms, 1_611_776_970_176);
        assert!(order_state("what", Decimal::ZERO).is_err());
        assert_eq!(
            order_state("new", Decimal::ONE).unwrap(),
            OrderState::PartiallyFilled
        );
    }
}

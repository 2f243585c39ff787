//! Binance spot: REST (`/api/v3/...`, `/sapi/v1/account/apiRestrictions`), the combined
//! market stream (`/stream?streams=...`) and the listen-key user data stream (`/ws/<key>`).
//!
//! Invariants:
//! - SIGNED requests carry `recvWindow=5000` and `timestamp`, and the signature is the HMAC
//!   of exactly the bytes sent: the query string (GET, DELETE, PUT) or the form body (POST).
//!   The key travels in `X-MBX-APIKEY` only; the secret never leaves [`crate::sign`].
//! - Every request draws its documented weight from the shared `binance:ip` bucket (6,000 a
//!   minute; `/sapi` draws from `binance:sapi:ip`), orders also from the credential's order
//!   buckets (50 per 10 s, 160,000 a day); the venue's own count
//!   (`X-MBX-USED-WEIGHT-1M`) is believed when it is higher, and a 429/418 blocks the bucket
//!   for everyone until its `Retry-After`.
//! - Orders are checked against the market rules (tick, step, minimum quantity and
//!   notional) before they are sent; the rules are loaded once and cached.
//! - Candles never include the bar that has not closed yet.
//! - A user stream recovers missed fills after a gap from `myTrades` (with the client order
//!   id looked up), and the open orders from `openOrders`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use skeet_core::{Bar, OrderKind, Side, TimeInForce, Timeframe, UnixNanos};

use crate::api::{BoxFut, Credentials, Exchange, VenueConfig};
use crate::error::ExchangeError;
use crate::http::{Response, Rest};
use crate::limiter::Quota;
use crate::stream::{self, EventStream, StreamOptions, WsSession};
use crate::types::{
    Balance, Fill, Market, MarketStatus, NewOrder, OrderBook, OrderInfo, OrderRef, OrderState,
    Permissions, StreamEvent, Subscription, Ticker, dec,
};

const VENUE: &str = "binance";
/// Production REST root.
pub const REST_URL: &str = "https://api.binance.com";
/// Production market and user stream root.
pub const WS_URL: &str = "wss://stream.binance.com:9443";
/// The IP-wide `REQUEST_WEIGHT` bucket of `/api` endpoints.
pub const IP_BUCKET: &str = "binance:ip";
/// The IP-wide weight bucket of `/sapi` endpoints (counted apart by Binance).
pub const SAPI_BUCKET: &str = "binance:sapi:ip";
const RECV_WINDOW: &str = "5000";
/// Binance asks for a listen-key refresh about every 30 minutes (keys lapse after 60).
const LISTEN_KEY_REFRESH: Duration = Duration::from_secs(30 * 60);
/// Most rows `klines` and `myTrades` return per request.
const PAGE: u32 = 1000;
/// Pages of `myTrades` read at most per call (10,000 fills).
const MAX_TRADE_PAGES: usize = 10;
/// Orders looked up at most in one resync to recover the client order ids of missed fills.
const MAX_RESYNC_LOOKUPS: usize = 20;

/// Kline intervals Binance serves, by length in seconds (`1M` is not a fixed length).
const INTERVALS: [(u32, &str); 15] = [
    (1, "1s"),
    (60, "1m"),
    (180, "3m"),
    (300, "5m"),
    (900, "15m"),
    (1_800, "30m"),
    (3_600, "1h"),
    (7_200, "2h"),
    (14_400, "4h"),
    (21_600, "6h"),
    (28_800, "8h"),
    (43_200, "12h"),
    (86_400, "1d"),
    (259_200, "3d"),
    (604_800, "1w"),
];

/// How a request is authenticated (Binance's endpoint security types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    /// Public market data.
    None,
    /// `USER_STREAM`: the key header, no signature.
    Key,
    /// `TRADE` / `USER_DATA`: key header, timestamp and signature.
    Signed,
}

/// What a request costs in the limiter.
#[derive(Clone, Copy, Debug)]
struct Cost {
    weight: u32,
    /// Counts against the credential's order buckets too.
    order: bool,
    /// A `/sapi` endpoint (its own IP bucket and used-weight header).
    sapi: bool,
}

impl Cost {
    const fn weight(weight: u32) -> Self {
        Self {
            weight,
            order: false,
            sapi: false,
        }
    }
}

/// The Binance spot adapter.
#[derive(Debug)]
pub struct Binance {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rest: Rest,
    ws_root: String,
    creds: Option<Credentials>,
    /// The credential's order buckets (10 s and daily), when there is a key.
    order_buckets: Vec<String>,
    /// Markets from `exchangeInfo`, loaded once (`markets()` refreshes them).
    markets: Mutex<Option<Arc<Vec<Market>>>>,
    stream: StreamOptions,
}

/// Builds the Binance spot adapter and declares its rate-limit buckets on the shared limiter.
///
/// # Errors
/// When the HTTP client cannot start.
pub fn connect(cfg: VenueConfig) -> Result<Box<dyn Exchange>, ExchangeError> {
    Ok(Box::new(Binance::new(cfg)?))
}

impl Binance {
    /// The adapter for `cfg`.
    ///
    /// # Errors
    /// When the HTTP client cannot start.
    pub fn new(cfg: VenueConfig) -> Result<Self, ExchangeError> {
        let limiter = cfg.limiter.clone();
        limiter.define(IP_BUCKET, Quota::new(6_000, Duration::from_secs(60)));
        limiter.define(SAPI_BUCKET, Quota::new(12_000, Duration::from_secs(60)));
        let order_buckets = match &cfg.credentials {
            Some(c) => {
                let label = c.label();
                let ten_s = format!("binance:key:{label}:orders");
                let day = format!("binance:key:{label}:orders:day");
                limiter.define(&ten_s, Quota::new(50, Duration::from_secs(10)));
                limiter.define(&day, Quota::new(160_000, Duration::from_secs(86_400)));
                vec![ten_s, day]
            }
            None => Vec::new(),
        };
        let rest = Rest::new(VENUE, &cfg.rest_url(REST_URL), cfg.timeout, limiter)?;
        Ok(Self {
            inner: Arc::new(Inner {
                rest,
                ws_root: cfg.ws_url(WS_URL).trim_end_matches('/').to_string(),
                creds: cfg.credentials,
                order_buckets,
                markets: Mutex::new(None),
                stream: cfg.stream,
            }),
        })
    }
}

/// Binance's name for a unified symbol (`BTC/USDT` → `BTCUSDT`).
fn venue_symbol(symbol: &str) -> Result<String, ExchangeError> {
    crate::symbols::to_venue(VENUE, symbol).map_err(|m| ExchangeError::invalid(VENUE, &m))
}

/// Binance's kline interval for a timeframe.
///
/// # Errors
/// [`ErrorKind::InvalidOrder`] naming the intervals Binance has.
pub fn interval(tf: Timeframe) -> Result<&'static str, ExchangeError> {
    INTERVALS
        .iter()
        .find(|(secs, _)| *secs == tf.as_secs())
        .map(|(_, name)| *name)
        .ok_or_else(|| {
            let allowed: Vec<&str> = INTERVALS.iter().map(|(_, n)| *n).collect();
            ExchangeError::invalid(
                VENUE,
                &format!(
                    "binance has no {tf} candles; use one of {}",
                    allowed.join(", ")
                ),
            )
        })
}

/// The weight of `GET /api/v3/depth` for `limit` levels.
fn depth_weight(limit: u32) -> u32 {
    match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    }
}

/// The classified error of a non-2xx answer (`{"code":-1022,"msg":"..."}`, or a bare status).
fn error_of(resp: &Response) -> ExchangeError {
    #[derive(Deserialize)]
    struct Body {
        code: i64,
        msg: String,
    }
    match serde_json::from_str::<Body>(&resp.body) {
        Ok(b) => ExchangeError::binance(resp.status, Some(b.code), &b.msg, resp.retry_after()),
        Err(_) => {
            let head: String = resp.body.trim().chars().take(200).collect();
            let msg = if head.is_empty() {
                format!("HTTP {}", resp.status)
            } else {
                format!("HTTP {}: {head}", resp.status)
            };
            ExchangeError::binance(resp.status, None, &msg, resp.retry_after())
        }
    }
}

/// A decimal as Binance accepts it: plain digits, no exponent, no trailing zeros.
fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn parse_side(s: &str) -> Result<Side, ExchangeError> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(ExchangeError::protocol(
            VENUE,
            &format!("unknown side '{other}'"),
        )),
    }
}

fn parse_state(s: &str) -> Result<OrderState, ExchangeError> {
    Ok(match s {
        // PENDING_NEW (order lists) and PENDING_CANCEL are still working.
        "NEW" | "PENDING_NEW" | "PENDING_CANCEL" => OrderState::Open,
        "PARTIALLY_FILLED" => OrderState::PartiallyFilled,
        "FILLED" => OrderState::Filled,
        "CANCELED" => OrderState::Cancelled,
        "REJECTED" => OrderState::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderState::Expired,
        other => {
            return Err(ExchangeError::protocol(
                VENUE,
                &format!("unknown order status '{other}'"),
            ));
        }
    })
}

/// `price` and `stopPrice` are `"0.00000000"` when the order has none.
fn opt_price(field: &str, s: Option<&str>) -> Result<Option<Decimal>, ExchangeError> {
    match s {
        None => Ok(None),
        Some(s) => {
            let d = dec(VENUE, field, s)?;
            Ok((!d.is_zero()).then_some(d))
        }
    }
}

/// The request parameters of a new order (`POST /api/v3/order`), before signing.
///
/// # Errors
/// [`ErrorKind::InvalidOrder`] for a combination Binance spot cannot express (post-only
/// market or stop orders).
fn order_params(
    order: &NewOrder,
    symbol: &str,
) -> Result<Vec<(&'static str, String)>, ExchangeError> {
    let tif = |t: TimeInForce| match t {
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::Gtc | TimeInForce::PostOnly => "GTC",
    };
    let mut p: Vec<(&'static str, String)> = vec![
        ("symbol", symbol.to_string()),
        ("side", side_str(order.side).to_string()),
    ];
    let post_only = order.time_in_force == TimeInForce::PostOnly;
    match order.kind {
        OrderKind::Limit { price } if post_only => {
            // Binance's post-only order is its own type, without a time in force.
            p.push(("type", "LIMIT_MAKER".into()));
            p.push(("price", num(price.as_decimal())));
        }
        OrderKind::Limit { price } => {
            p.push(("type", "LIMIT".into()));
            p.push(("timeInForce", tif(order.time_in_force).into()));
            p.push(("price", num(price.as_decimal())));
        }
        OrderKind::StopLimit { trigger, price } if !post_only => {
            p.push(("type", "STOP_LOSS_LIMIT".into()));
            p.push(("timeInForce", tif(order.time_in_force).into()));
            p.push(("price", num(price.as_decimal())));
            p.push(("stopPrice", num(trigger.as_decimal())));
        }
        OrderKind::Market if !post_only => p.push(("type", "MARKET".into())),
        OrderKind::Stop { trigger } if !post_only => {
            p.push(("type", "STOP_LOSS".into()));
            p.push(("stopPrice", num(trigger.as_decimal())));
        }
        _ => {
            return Err(ExchangeError::invalid(
                VENUE,
                "post-only applies to limit orders only on binance",
            ));
        }
    }
    p.push(("quantity", num(order.quantity)));
    p.push((
        "newClientOrderId",
        order.client_order_id.as_str().to_string(),
    ));
    // RESULT carries the status and the executed quantities (ACK does not).
    p.push(("newOrderRespType", "RESULT".into()));
    Ok(p)
}

/// An order as the REST endpoints return it (new, cancel, query, open orders).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderJson {
    order_id: i64,
    #[serde(default)]
    client_order_id: Option<String>,
    /// Cancels answer with the cancel's own id in `clientOrderId` and ours here.
    #[serde(default)]
    orig_client_order_id: Option<String>,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    orig_qty: Option<String>,
    #[serde(default)]
    executed_qty: Option<String>,
    #[serde(default)]
    cummulative_quote_qty: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    side: Option<String>,
    #[serde(default)]
    time: Option<i64>,
    #[serde(default)]
    update_time: Option<i64>,
    #[serde(default)]
    transact_time: Option<i64>,
}

impl OrderJson {
    fn info(&self, symbol: &str) -> Result<OrderInfo, ExchangeError> {
        let need = |v: &Option<String>, f: &str| {
            v.clone().ok_or_else(|| {
                ExchangeError::protocol(VENUE, &format!("order answer without '{f}'"))
            })
        };
        let filled = dec(
            VENUE,
            "executedQty",
            &need(&self.executed_qty, "executedQty")?,
        )?;
        // Negative for some historical orders: "not available".
        let quote = match &self.cummulative_quote_qty {
            Some(q) => dec(VENUE, "cummulativeQuoteQty", q)?,
            None => Decimal::NEGATIVE_ONE,
        };
        let avg_price =
            (filled > Decimal::ZERO && quote > Decimal::ZERO).then(|| (quote / filled).normalize());
        Ok(OrderInfo {
            venue_order_id: self.order_id.to_string(),
            client_order_id: self
                .orig_client_order_id
                .clone()
                .filter(|c| !c.is_empty())
                .or_else(|| self.client_order_id.clone()),
            symbol: symbol.to_string(),
            side: parse_side(&need(&self.side, "side")?)?,
            price: opt_price("price", self.price.as_deref())?,
            quantity: dec(VENUE, "origQty", &need(&self.orig_qty, "origQty")?)?,
            filled,
            avg_price,
            state: parse_state(&need(&self.status, "status")?)?,
            ts_ms: self
                .update_time
                .or(self.transact_time)
                .or(self.time)
                .unwrap_or(0),
        })
    }
}

/// A fill from `GET /api/v3/myTrades`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TradeJson {
    id: i64,
    order_id: i64,
    price: String,
    qty: String,
    commission: String,
    commission_asset: String,
    time: i64,
    is_buyer: bool,
    is_maker: bool,
}

impl TradeJson {
    fn fill(&self, symbol: &str) -> Result<Fill, ExchangeError> {
        Ok(Fill {
            trade_id: self.id.to_string(),
            venue_order_id: self.order_id.to_string(),
            client_order_id: None,
            symbol: symbol.to_string(),
            side: if self.is_buyer { Side::Buy } else { Side::Sell },
            price: dec(VENUE, "price", &self.price)?,
            quantity: dec(VENUE, "qty", &self.qty)?,
            fee: dec(VENUE, "commission", &self.commission)?,
            fee_asset: self.commission_asset.clone(),
            maker: self.is_maker,
            ts_ms: self.time,
        })
    }
}

/// One entry of `exchangeInfo.symbols`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SymbolJson {
    symbol: String,
    status: String,
    base_asset: String,
    quote_asset: String,
    #[serde(default)]
    filters: Vec<Value>,
}

impl SymbolJson {
    fn market(&self) -> Result<Market, ExchangeError> {
        let field = |filter: &Value, name: &str| -> Result<Decimal, ExchangeError> {
            match filter.get(name).and_then(Value::as_str) {
                Some(s) => dec(VENUE, name, s),
                None => Ok(Decimal::ZERO),
            }
        };
        let mut m = Market {
            symbol: format!("{}/{}", self.base_asset, self.quote_asset),
            venue_symbol: self.symbol.clone(),
            base: self.base_asset.clone(),
            quote: self.quote_asset.clone(),
            status: match self.status.as_str() {
                "TRADING" => MarketStatus::Trading,
                // BREAK, HALT, PRE_TRADING, POST_TRADING, AUCTION_MATCH, END_OF_DAY.
                _ => MarketStatus::Halted,
            },
            tick_size: Decimal::ZERO,
            step_size: Decimal::ZERO,
            min_qty: Decimal::ZERO,
            min_notional: Decimal::ZERO,
        };
        for f in &self.filters {
            match f.get("filterType").and_then(Value::as_str) {
                Some("PRICE_FILTER") => m.tick_size = field(f, "tickSize")?.normalize(),
                Some("LOT_SIZE") => {
                    m.step_size = field(f, "stepSize")?.normalize();
                    m.min_qty = field(f, "minQty")?.normalize();
                }
                // NOTIONAL replaced MIN_NOTIONAL; a symbol carries one or the other.
                Some("NOTIONAL" | "MIN_NOTIONAL") => {
                    m.min_notional = field(f, "minNotional")?.normalize();
                }
                _ => {}
            }
        }
        Ok(m)
    }
}

/// `executionReport` of the user data stream.
#[derive(Debug, Deserialize)]
struct ExecutionReport {
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "c")]
    client_id: String,
    #[serde(rename = "C", default)]
    orig_client_id: Option<String>,
    #[serde(rename = "S")]
    side: String,
    #[serde(rename = "q")]
    qty: String,
    #[serde(rename = "p")]
    price: String,
    #[serde(rename = "x")]
    exec_type: String,
    #[serde(rename = "X")]
    status: String,
    #[serde(rename = "i")]
    order_id: i64,
    #[serde(rename = "l")]
    last_qty: String,
    #[serde(rename = "z")]
    cum_qty: String,
    #[serde(rename = "L")]
    last_price: String,
    #[serde(rename = "n", default)]
    fee: Option<String>,
    #[serde(rename = "N", default)]
    fee_asset: Option<String>,
    #[serde(rename = "T")]
    time: i64,
    #[serde(rename = "t")]
    trade_id: i64,
    #[serde(rename = "m", default)]
    maker: bool,
    #[serde(rename = "Z", default)]
    cum_quote: Option<String>,
}

impl ExecutionReport {
    /// The order update and, for `x = TRADE`, the fill (fill first: the order state after it).
    fn events(&self, symbol: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let side = parse_side(&self.side)?;
        // On a cancel `c` is the cancel request's id and `C` the order's.
        let client = self
            .orig_client_id
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| self.client_id.clone());
        let filled = dec(VENUE, "z", &self.cum_qty)?;
        let quote = match &self.cum_quote {
            Some(z) => dec(VENUE, "Z", z)?,
            None => Decimal::ZERO,
        };
        let order = OrderInfo {
            venue_order_id: self.order_id.to_string(),
            client_order_id: Some(client.clone()),
            symbol: symbol.to_string(),
            side,
            price: opt_price("p", Some(&self.price))?,
            quantity: dec(VENUE, "q", &self.qty)?,
            filled,
            avg_price: (filled > Decimal::ZERO && quote > Decimal::ZERO)
                .then(|| (quote / filled).normalize()),
            state: parse_state(&self.status)?,
            ts_ms: self.time,
        };
        let mut out = Vec::with_capacity(2);
        if self.exec_type == "TRADE" {
            out.push(StreamEvent::Fill(Fill {
                trade_id: self.trade_id.to_string(),
                venue_order_id: order.venue_order_id.clone(),
                client_order_id: Some(client),
                symbol: symbol.to_string(),
                side,
                price: dec(VENUE, "L", &self.last_price)?,
                quantity: dec(VENUE, "l", &self.last_qty)?,
                fee: match &self.fee {
                    Some(n) => dec(VENUE, "n", n)?,
                    None => Decimal::ZERO,
                },
                fee_asset: self.fee_asset.clone().unwrap_or_default(),
                maker: self.maker,
                ts_ms: self.time,
            }));
        }
        out.push(StreamEvent::Order(order));
        Ok(out)
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ExchangeError> {
    serde_json::from_str(text).map_err(|e| {
        let head: String = text.chars().take(200).collect();
        ExchangeError::protocol(
            VENUE,
            &format!("unexpected message ({e}); it starts with: {head}"),
        )
    })
}

impl Inner {
    fn credentials(&self) -> Result<&Credentials, ExchangeError> {
        self.creds
            .as_ref()
            .ok_or_else(|| ExchangeError::no_credentials(VENUE))
    }

    /// Sends one request and returns its 2xx answer; anything else is classified, applied to
    /// the limiter (a rate-limit refusal blocks the bucket for everyone) and returned.
    async fn call(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        security: Security,
        cost: Cost,
    ) -> Result<Response, ExchangeError> {
        let creds = match security {
            Security::None => None,
            Security::Key | Security::Signed => Some(self.credentials()?),
        };
        let mut payload = {
            // The serializer is not `Send`: it must be gone before the first await.
            let mut qs = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                qs.append_pair(k, v);
            }
            if security == Security::Signed {
                qs.append_pair("recvWindow", RECV_WINDOW);
                qs.append_pair("timestamp", &crate::now_ms().to_string());
                let signed = qs.finish();
                let key = creds.map(|c| c.secret.as_str()).unwrap_or_default();
                let signature = crate::sign::binance(key, &signed);
                format!("{signed}&signature={signature}")
            } else {
                qs.finish()
            }
        };
        let req = if method == Method::POST && !payload.is_empty() {
            self.rest
                .request(method, path)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(std::mem::take(&mut payload))
        } else if payload.is_empty() {
            self.rest.request(method, path)
        } else {
            self.rest.request(method, &format!("{path}?{payload}"))
        };
        let req = match creds {
            Some(c) => req.header("X-MBX-APIKEY", c.key.as_str()),
            None => req,
        };
        let (bucket, used_header) = if cost.sapi {
            (SAPI_BUCKET, "x-sapi-used-ip-weight-1m")
        } else {
            (IP_BUCKET, "x-mbx-used-weight-1m")
        };
        let mut buckets: Vec<&str> = vec![bucket];
        if cost.order {
            buckets.extend(self.order_buckets.iter().map(String::as_str));
        }
        let resp = self.rest.send(req, &buckets, cost.weight).await?;
        if let Some(used) = resp
            .header(used_header)
            .and_then(|v| v.trim().parse::<u32>().ok())
        {
            self.rest.limiter().observe_used(bucket, used);
        }
        if resp.ok() {
            return Ok(resp);
        }
        let err = error_of(&resp);
        self.rest.note(bucket, &err);
        Err(err)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
        security: Security,
        cost: Cost,
    ) -> Result<T, ExchangeError> {
        self.call(Method::GET, path, params, security, cost)
            .await?
            .json(VENUE)
    }

    /// Reads every market and refreshes the cache.
    async fn load_markets(&self) -> Result<Arc<Vec<Market>>, ExchangeError> {
        #[derive(Deserialize)]
        struct Info {
            symbols: Vec<SymbolJson>,
        }
        let info: Info = self
            .get(
                "/api/v3/exchangeInfo",
                &[],
                Security::None,
                Cost::weight(20),
            )
            .await?;
        let markets = Arc::new(
            info.symbols
                .iter()
                .map(SymbolJson::market)
                .collect::<Result<Vec<_>, _>>()?,
        );
        *self
            .markets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(markets.clone());
        Ok(markets)
    }

    /// The cached markets, loading them the first time.
    async fn markets_cached(&self) -> Result<Arc<Vec<Market>>, ExchangeError> {
        let cached = self
            .markets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match cached {
            Some(m) => Ok(m),
            None => self.load_markets().await,
        }
    }

    /// Venue name → unified symbol, from the cached markets.
    async fn symbol_map(&self) -> Result<HashMap<String, String>, ExchangeError> {
        Ok(self
            .markets_cached()
            .await?
            .iter()
            .map(|m| (m.venue_symbol.clone(), m.symbol.clone()))
            .collect())
    }

    async fn order_request(
        &self,
        method: Method,
        symbol: &str,
        order: &OrderRef,
        weight: u32,
    ) -> Result<OrderInfo, ExchangeError> {
        let mut params = vec![("symbol", venue_symbol(symbol)?)];
        match order {
            OrderRef::Venue(id) => params.push(("orderId", id.clone())),
            OrderRef::Client(id) => params.push(("origClientOrderId", id.clone())),
        }
        let o: OrderJson = self
            .call(
                method,
                "/api/v3/order",
                &params,
                Security::Signed,
                Cost::weight(weight),
            )
            .await?
            .json(VENUE)?;
        o.info(symbol)
    }

    async fn open_orders(&self, symbol: Option<&str>) -> Result<Vec<OrderInfo>, ExchangeError> {
        let (params, weight) = match symbol {
            Some(s) => (vec![("symbol", venue_symbol(s)?)], 6),
            None => (vec![], 80),
        };
        let orders: Vec<Value> = self
            .get(
                "/api/v3/openOrders",
                &params,
                Security::Signed,
                Cost::weight(weight),
            )
            .await?;
        let names = match symbol {
            Some(_) => HashMap::new(),
            None => self.symbol_map().await?,
        };
        orders
            .into_iter()
            .map(|v| {
                let o: OrderJson = serde_json::from_value(v.clone()).map_err(|e| {
                    ExchangeError::protocol(VENUE, &format!("unexpected open order ({e})"))
                })?;
                let unified = match symbol {
                    Some(s) => s.to_string(),
                    None => {
                        let name = v.get("symbol").and_then(Value::as_str).unwrap_or_default();
                        names.get(name).cloned().unwrap_or_else(|| name.to_string())
                    }
                };
                o.info(&unified)
            })
            .collect()
    }

    async fn my_trades(&self, symbol: &str, since_ms: i64) -> Result<Vec<Fill>, ExchangeError> {
        let vsym = venue_symbol(symbol)?;
        let mut fills = Vec::new();
        let mut from_id: Option<i64> = None;
        for _ in 0..MAX_TRADE_PAGES {
            let mut params = vec![("symbol", vsym.clone()), ("limit", PAGE.to_string())];
            match from_id {
                // Later pages continue by trade id: startTime and fromId do not combine.
                Some(id) => params.push(("fromId", id.to_string())),
                None => params.push(("startTime", since_ms.to_string())),
            }
            let page: Vec<TradeJson> = self
                .get(
                    "/api/v3/myTrades",
                    &params,
                    Security::Signed,
                    Cost::weight(20),
                )
                .await?;
            let full = page.len() >= PAGE as usize;
            from_id = page.last().map(|t| t.id + 1);
            for t in &page {
                fills.push(t.fill(symbol)?);
            }
            if !full {
                break;
            }
        }
        Ok(fills)
    }

    /// What a user stream missed since `since_ms`: fills (with their client order ids looked
    /// up) and the open orders.
    async fn resync(
        &self,
        symbols: &[String],
        since_ms: i64,
    ) -> Result<Vec<StreamEvent>, ExchangeError> {
        let mut events = Vec::new();
        for symbol in symbols {
            let mut fills = self.my_trades(symbol, since_ms).await?;
            let mut ids: HashMap<String, Option<String>> = HashMap::new();
            for f in &fills {
                if ids.len() >= MAX_RESYNC_LOOKUPS {
                    break;
                }
                if !ids.contains_key(&f.venue_order_id) {
                    let o = self
                        .order_request(
                            Method::GET,
                            symbol,
                            &OrderRef::Venue(f.venue_order_id.clone()),
                            4,
                        )
                        .await?;
                    ids.insert(f.venue_order_id.clone(), o.client_order_id);
                }
            }
            for f in &mut fills {
                f.client_order_id = ids.get(&f.venue_order_id).cloned().flatten();
            }
            events.extend(fills.into_iter().map(StreamEvent::Fill));
            events.extend(
                self.open_orders(Some(symbol))
                    .await?
                    .into_iter()
                    .map(StreamEvent::Order),
            );
        }
        if symbols.is_empty() {
            events.extend(
                self.open_orders(None)
                    .await?
                    .into_iter()
                    .map(StreamEvent::Order),
            );
        }
        Ok(events)
    }
}

impl Exchange for Binance {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn markets(&self) -> BoxFut<'_, Vec<Market>> {
        Box::pin(async move { Ok(self.inner.load_markets().await?.as_ref().clone()) })
    }

    fn ticker<'a>(&'a self, symbol: &'a str) -> BoxFut<'a, Ticker> {
        Box::pin(async move {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct T {
                bid_price: Option<String>,
                ask_price: Option<String>,
                last_price: Option<String>,
                volume: Option<String>,
                close_time: Option<i64>,
            }
            let t: T = self
                .inner
                .get(
                    "/api/v3/ticker/24hr",
                    &[("symbol", venue_symbol(symbol)?)],
                    Security::None,
                    Cost::weight(2),
                )
                .await?;
            Ok(Ticker {
                symbol: symbol.to_string(),
                bid: opt_price("bidPrice", t.bid_price.as_deref())?,
                ask: opt_price("askPrice", t.ask_price.as_deref())?,
                last: opt_price("lastPrice", t.last_price.as_deref())?,
                volume_24h: t
                    .volume
                    .as_deref()
                    .map(|v| dec(VENUE, "volume", v))
                    .transpose()?,
                ts_ms: t.close_time.unwrap_or(0),
            })
        })
    }

    fn order_book<'a>(&'a self, symbol: &'a str, depth: u32) -> BoxFut<'a, OrderBook> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct D {
                bids: Vec<(String, String)>,
                asks: Vec<(String, String)>,
            }
            let limit = depth.clamp(1, 5000);
            let d: D = self
                .inner
                .get(
                    "/api/v3/depth",
                    &[
                        ("symbol", venue_symbol(symbol)?),
                        ("limit", limit.to_string()),
                    ],
                    Security::None,
                    Cost::weight(depth_weight(limit)),
                )
                .await?;
            let levels = |side: &[(String, String)]| {
                side.iter()
                    .take(depth as usize)
                    .map(|(p, q)| Ok((dec(VENUE, "price", p)?, dec(VENUE, "qty", q)?)))
                    .collect::<Result<Vec<_>, ExchangeError>>()
            };
            Ok(OrderBook {
                symbol: symbol.to_string(),
                bids: levels(&d.bids)?,
                asks: levels(&d.asks)?,
                // The REST book carries an update id, not a time.
                ts_ms: 0,
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
            let iv = interval(timeframe)?;
            let rows: Vec<Vec<Value>> = self
                .inner
                .get(
                    "/api/v3/klines",
                    &[
                        ("symbol", venue_symbol(symbol)?),
                        ("interval", iv.to_string()),
                        ("startTime", since_ms.to_string()),
                        ("limit", limit.clamp(1, PAGE).to_string()),
                    ],
                    Security::None,
                    Cost::weight(2),
                )
                .await?;
            let now = crate::now_ms();
            let mut bars = Vec::with_capacity(rows.len());
            for row in &rows {
                let bad = || ExchangeError::protocol(VENUE, "malformed kline row");
                let int = |i: usize| row.get(i).and_then(Value::as_i64).ok_or_else(bad);
                let float = |i: usize| -> Result<f64, ExchangeError> {
                    row.get(i)
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<f64>().ok())
                        .ok_or_else(bad)
                };
                // The bar in progress is returned too: it is not a bar yet.
                if int(6)? >= now {
                    continue;
                }
                let ts = UnixNanos::from_millis(int(0)?).ok_or_else(bad)?;
                let bar = Bar::new(ts, float(1)?, float(2)?, float(3)?, float(4)?, float(5)?)
                    .map_err(|e| ExchangeError::protocol(VENUE, &format!("kline: {e}")))?;
                bars.push(bar);
            }
            Ok(bars)
        })
    }

    fn balances(&self) -> BoxFut<'_, Vec<Balance>> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct B {
                asset: String,
                free: String,
                locked: String,
            }
            #[derive(Deserialize)]
            struct A {
                balances: Vec<B>,
            }
            let a: A = self
                .inner
                .get(
                    "/api/v3/account",
                    &[("omitZeroBalances", "true".to_string())],
                    Security::Signed,
                    Cost::weight(20),
                )
                .await?;
            let mut out = Vec::new();
            for b in a.balances {
                let free = dec(VENUE, "free", &b.free)?;
                let locked = dec(VENUE, "locked", &b.locked)?;
                if !(free.is_zero() && locked.is_zero()) {
                    out.push(Balance {
                        asset: b.asset,
                        free,
                        locked,
                    });
                }
            }
            Ok(out)
        })
    }

    fn create_order<'a>(&'a self, order: &'a NewOrder) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            self.inner.credentials()?;
            let markets = self.inner.markets_cached().await?;
            let market = markets
                .iter()
                .find(|m| m.symbol.eq_ignore_ascii_case(&order.symbol))
                .ok_or_else(|| {
                    ExchangeError::invalid(
                        VENUE,
                        &format!("binance does not list {}", order.symbol),
                    )
                })?;
            market.check(VENUE, order, None)?;
            let params = order_params(order, &market.venue_symbol)?;
            let o: OrderJson = self
                .inner
                .call(
                    Method::POST,
                    "/api/v3/order",
                    &params,
                    Security::Signed,
                    Cost {
                        weight: 1,
                        order: true,
                        sapi: false,
                    },
                )
                .await?
                .json(VENUE)?;
            o.info(&market.symbol)
        })
    }

    fn cancel_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            self.inner
                .order_request(Method::DELETE, symbol, order, 1)
                .await
        })
    }

    fn fetch_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            self.inner
                .order_request(Method::GET, symbol, order, 4)
                .await
        })
    }

    fn open_orders<'a>(&'a self, symbol: Option<&'a str>) -> BoxFut<'a, Vec<OrderInfo>> {
        Box::pin(async move { self.inner.open_orders(symbol).await })
    }

    fn my_trades<'a>(&'a self, symbol: &'a str, since_ms: i64) -> BoxFut<'a, Vec<Fill>> {
        Box::pin(async move { self.inner.my_trades(symbol, since_ms).await })
    }

    fn permissions(&self) -> BoxFut<'_, Permissions> {
        Box::pin(async move {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct R {
                #[serde(default)]
                enable_reading: bool,
                #[serde(default)]
                enable_spot_and_margin_trading: bool,
                #[serde(default)]
                enable_withdrawals: bool,
                #[serde(default)]
                ip_restrict: Option<bool>,
            }
            let r: R = self
                .inner
                .get(
                    "/sapi/v1/account/apiRestrictions",
                    &[],
                    Security::Signed,
                    Cost {
                        weight: 1,
                        order: false,
                        sapi: true,
                    },
                )
                .await?;
            Ok(Permissions {
                read: r.enable_reading,
                trade: r.enable_spot_and_margin_trading,
                withdraw: r.enable_withdrawals,
                ip_restricted: r.ip_restrict,
            })
        })
    }

    fn market_stream(&self, subs: Vec<Subscription>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            let session = MarketSession::new(&self.inner.ws_root, &subs)?;
            Ok(stream::spawn(session, self.inner.stream))
        })
    }

    fn user_stream(&self, symbols: Vec<String>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            self.inner.credentials()?;
            let names = self.inner.symbol_map().await?;
            let mut wanted = HashSet::new();
            for s in &symbols {
                wanted.insert(venue_symbol(s)?);
            }
            let session = UserSession {
                inner: self.inner.clone(),
                symbols,
                wanted,
                names,
                listen_key: None,
            };
            Ok(stream::spawn(session, self.inner.stream))
        })
    }
}

/// The combined market stream: one connection for every subscription.
struct MarketSession {
    url: String,
    /// Lower-case venue name → unified symbol.
    names: HashMap<String, String>,
    /// Kline stream name → timeframe as subscribed.
    timeframes: HashMap<String, String>,
}

impl MarketSession {
    fn new(ws_root: &str, subs: &[Subscription]) -> Result<Self, ExchangeError> {
        if subs.is_empty() {
            return Err(ExchangeError::invalid(
                VENUE,
                "subscribe to at least one stream",
            ));
        }
        let mut streams = BTreeSet::new();
        let mut names = HashMap::new();
        let mut timeframes = HashMap::new();
        for sub in subs {
            let (symbol, suffix) = match sub {
                Subscription::Trades { symbol } => (symbol, "trade".to_string()),
                Subscription::BestBidAsk { symbol } => (symbol, "bookTicker".to_string()),
                Subscription::Candles { symbol, timeframe } => {
                    let tf: Timeframe = timeframe.parse().map_err(|e| {
                        ExchangeError::invalid(VENUE, &format!("timeframe '{timeframe}': {e}"))
                    })?;
                    (symbol, format!("kline_{}", interval(tf)?))
                }
            };
            let lower = venue_symbol(symbol)?.to_ascii_lowercase();
            let name = format!("{lower}@{suffix}");
            if let Subscription::Candles { timeframe, .. } = sub {
                timeframes.insert(name.clone(), timeframe.clone());
            }
            names.insert(lower, symbol.clone());
            streams.insert(name);
        }
        let list: Vec<String> = streams.into_iter().collect();
        Ok(Self {
            url: format!("{ws_root}/stream?streams={}", list.join("/")),
            names,
            timeframes,
        })
    }

    fn parse_message(&self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v: Value = parse_json(text)?;
        let (Some(stream), Some(data)) = (v.get("stream").and_then(Value::as_str), v.get("data"))
        else {
            // Subscription acknowledgements and other control messages.
            return Ok(vec![]);
        };
        let (lower, kind) = stream.split_once('@').unwrap_or((stream, ""));
        let Some(symbol) = self.names.get(lower).cloned() else {
            return Ok(vec![]);
        };
        let s = |k: &str| -> Result<Decimal, ExchangeError> {
            let text = data.get(k).and_then(Value::as_str).ok_or_else(|| {
                ExchangeError::protocol(VENUE, &format!("{stream}: no field '{k}'"))
            })?;
            dec(VENUE, k, text)
        };
        let int = |obj: &Value, k: &str| obj.get(k).and_then(Value::as_i64).unwrap_or(0);
        if kind == "bookTicker" {
            return Ok(vec![StreamEvent::BestBidAsk {
                symbol,
                bid: s("b")?,
                ask: s("a")?,
                // Spot bookTicker carries an update id only; newer payloads may add "E".
                ts_ms: int(data, "E"),
            }]);
        }
        match data.get("e").and_then(Value::as_str) {
            Some("trade") => Ok(vec![StreamEvent::Trade {
                symbol,
                price: s("p")?,
                quantity: s("q")?,
                ts_ms: int(data, "T"),
            }]),
            Some("kline") => {
                let k = data
                    .get("k")
                    .ok_or_else(|| ExchangeError::protocol(VENUE, "kline without 'k'"))?;
                let f = |key: &str| -> Result<f64, ExchangeError> {
                    k.get(key)
                        .and_then(Value::as_str)
                        .and_then(|x| x.parse::<f64>().ok())
                        .ok_or_else(|| {
                            ExchangeError::protocol(VENUE, &format!("kline: no field '{key}'"))
                        })
                };
                let ts = UnixNanos::from_millis(int(k, "t"))
                    .ok_or_else(|| ExchangeError::protocol(VENUE, "kline: bad open time"))?;
                let bar = match Bar::new(ts, f("o")?, f("h")?, f("l")?, f("c")?, f("v")?) {
                    Ok(bar) => bar,
                    Err(e) => {
                        // One inconsistent update is dropped; reconnecting would not fix it.
                        tracing::warn!(venue = VENUE, stream, error = %e, "kline dropped");
                        return Ok(vec![]);
                    }
                };
                let timeframe = self
                    .timeframes
                    .get(stream)
                    .cloned()
                    .or_else(|| k.get("i").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                Ok(vec![StreamEvent::Candle {
                    symbol,
                    timeframe,
                    bar,
                    closed: k.get("x").and_then(Value::as_bool).unwrap_or(false),
                }])
            }
            _ => Ok(vec![]),
        }
    }
}

impl WsSession for MarketSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        Box::pin(async move { Ok(self.url.clone()) })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        // The streams are named in the URL: nothing to send.
        Box::pin(async { Ok(vec![]) })
    }

    fn parse(&mut self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        self.parse_message(text)
    }

    fn resync(&mut self, _since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        // Market data is not replayed: the next update supersedes what was missed.
        Box::pin(async { Ok(vec![]) })
    }
}

/// The user data stream of one key: a listen key from REST, then `/ws/<listenKey>`.
struct UserSession {
    inner: Arc<Inner>,
    /// Unified symbols asked for (resync reads fills per symbol).
    symbols: Vec<String>,
    /// Their venue names; empty means every symbol.
    wanted: HashSet<String>,
    /// Venue name → unified symbol.
    names: HashMap<String, String>,
    listen_key: Option<String>,
}

impl UserSession {
    fn parse_message(&self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v: Value = parse_json(text)?;
        // `/ws/<key>` sends the event bare; `/stream?streams=<key>` wraps it in "data" and the
        // WebSocket API subscription in "event".
        let ev = v.get("event").or_else(|| v.get("data")).unwrap_or(&v);
        match ev.get("e").and_then(Value::as_str) {
            Some("executionReport") => {
                let r: ExecutionReport = serde_json::from_value(ev.clone()).map_err(|e| {
                    ExchangeError::protocol(VENUE, &format!("unexpected executionReport ({e})"))
                })?;
                if !self.wanted.is_empty() && !self.wanted.contains(&r.symbol) {
                    return Ok(vec![]);
                }
                let symbol = self
                    .names
                    .get(&r.symbol)
                    .cloned()
                    .unwrap_or_else(|| r.symbol.clone());
                r.events(&symbol)
            }
            // The key lapsed or the stream was closed: reconnect with a fresh key.
            Some("listenKeyExpired" | "eventStreamTerminated") => Err(ExchangeError::protocol(
                VENUE,
                "the user data stream ended; reconnecting",
            )),
            _ => Ok(vec![]),
        }
    }
}

impl WsSession for UserSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        Box::pin(async move {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct K {
                listen_key: String,
            }
            let k: K = self
                .inner
                .call(
                    Method::POST,
                    "/api/v3/userDataStream",
                    &[],
                    Security::Key,
                    Cost::weight(2),
                )
                .await?
                .json(VENUE)?;
            let url = format!("{}/ws/{}", self.inner.ws_root, k.listen_key);
            self.listen_key = Some(k.listen_key);
            Ok(url)
        })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async { Ok(vec![]) })
    }

    fn parse(&mut self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        self.parse_message(text)
    }

    fn resync(&mut self, since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        Box::pin(async move { self.inner.resync(&self.symbols, since_ms).await })
    }

    fn keepalive(&mut self) -> Option<(Duration, BoxFut<'_, Option<String>>)> {
        let key = self.listen_key.clone()?;
        let inner = self.inner.clone();
        Some((
            LISTEN_KEY_REFRESH,
            Box::pin(async move {
                inner
                    .call(
                        Method::PUT,
                        "/api/v3/userDataStream",
                        &[("listenKey", key)],
                        Security::Key,
                        Cost::weight(2),
                    )
                    .await?;
                Ok(None)
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;
    use crate::error::ErrorKind;
    use skeet_core::{ClientOrderId, Price};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn order(kind: OrderKind, tif: TimeInForce) -> NewOrder {
        NewOrder {
            symbol: "BTC/USDT".into(),
            side: Side::Buy,
            kind,
            quantity: d("0.00100"),
            time_in_force: tif,
            client_order_id: ClientOrderId::new("bot-1:42").unwrap(),
        }
    }

    fn value(params: &[(&str, String)], key: &str) -> Option<String> {
        params
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn error_bodies_keep_code_and_message_and_map_by_kind() {
        let resp = |status: u16, body: &str, retry: Option<&str>| {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(r) = retry {
                headers.insert("retry-after", r.parse().unwrap());
            }
            Response {
                status,
                headers,
                body: body.to_string(),
            }
        };
        let e = error_of(&resp(
            400,
            r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#,
            None,
        ));
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(e.code.as_deref(), Some("-1022"));
        assert_eq!(e.message, "Signature for this request is not valid.");
        let e = error_of(&resp(
            400,
            r#"{"code":-2010,"msg":"Duplicate order sent."}"#,
            None,
        ));
        assert_eq!(e.kind, ErrorKind::DuplicateOrder);
        let e = error_of(&resp(
            400,
            r#"{"code":-2013,"msg":"Order does not exist."}"#,
            None,
        ));
        assert_eq!(e.kind, ErrorKind::UnknownOrder);
        let e = error_of(&resp(
            429,
            r#"{"code":-1003,"msg":"Too many requests."}"#,
            Some("3"),
        ));
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        // An answer that is not Binance JSON (a proxy's page) is classified by status.
        let e = error_of(&resp(503, "<html>Service Unavailable</html>", None));
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.starts_with("HTTP 503"));
        assert_eq!(error_of(&resp(502, "", None)).message, "HTTP 502");
    }

    #[test]
    fn order_types_map_to_binance_parameters() {
        let p = |k, t| order_params(&order(k, t), "BTCUSDT").unwrap();
        let limit = OrderKind::Limit {
            price: Price::new(d("30000.10")),
        };
        let l = p(limit, TimeInForce::Ioc);
        assert_eq!(value(&l, "type").as_deref(), Some("LIMIT"));
        assert_eq!(value(&l, "timeInForce").as_deref(), Some("IOC"));
        assert_eq!(value(&l, "price").as_deref(), Some("30000.1"));
        assert_eq!(value(&l, "quantity").as_deref(), Some("0.001"));
        assert_eq!(value(&l, "newClientOrderId").as_deref(), Some("bot-1:42"));
        let pm = p(limit, TimeInForce::PostOnly);
        assert_eq!(value(&pm, "type").as_deref(), Some("LIMIT_MAKER"));
        assert_eq!(value(&pm, "timeInForce"), None);
        let m = p(OrderKind::Market, TimeInForce::Gtc);
        assert_eq!(value(&m, "type").as_deref(), Some("MARKET"));
        assert_eq!(value(&m, "price"), None);
        let sl = p(
            OrderKind::StopLimit {
                trigger: Price::new(d("29000")),
                price: Price::new(d("28990")),
            },
            TimeInForce::Gtc,
        );
        assert_eq!(value(&sl, "type").as_deref(), Some("STOP_LOSS_LIMIT"));
        assert_eq!(value(&sl, "stopPrice").as_deref(), Some("29000"));
        let s = p(
            OrderKind::Stop {
                trigger: Price::new(d("29000")),
            },
            TimeInForce::Gtc,
        );
        assert_eq!(value(&s, "type").as_deref(), Some("STOP_LOSS"));
        let e =
            order_params(&order(OrderKind::Market, TimeInForce::PostOnly), "BTCUSDT").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidOrder);
    }

    #[test]
    fn the_signature_covers_the_exact_query_sent() {
        // The documented example: the adapter signs the form-encoded parameters in order.
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
            ("recvWindow", "5000"),
            ("timestamp", "1499827319559"),
        ] {
            qs.append_pair(k, v);
        }
        assert_eq!(
            crate::sign::binance(
                "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
                &qs.finish()
            ),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn intervals_are_the_documented_ones() {
        assert_eq!(interval(Timeframe::M1).unwrap(), "1m");
        assert_eq!(interval(Timeframe::H1).unwrap(), "1h");
        assert_eq!(interval("1w".parse().unwrap()).unwrap(), "1w");
        let e = interval("2m".parse().unwrap()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidOrder);
        assert!(e.message.contains("1s, 1m, 3m, 5m"), "{e}");
        assert_eq!(interval("1s".parse().unwrap()).unwrap(), "1s");
        assert_eq!(depth_weight(100), 5);
        assert_eq!(depth_weight(500), 25);
        assert_eq!(depth_weight(5000), 250);
    }

    #[test]
    fn the_documented_execution_report_parses() {
        // The example payload of the user data stream documentation (a new order).
        let doc = r#"{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000"}"#;
        let s = UserSession {
            inner: Arc::new(Inner {
                rest: Rest::new(
                    VENUE,
                    "http://127.0.0.1:9",
                    Duration::from_secs(1),
                    crate::RateLimiter::new(),
                )
                .unwrap(),
                ws_root: String::new(),
                creds: None,
                order_buckets: vec![],
                markets: Mutex::new(None),
                stream: StreamOptions::default(),
            }),
            symbols: vec![],
            wanted: HashSet::new(),
            names: HashMap::from([("ETHBTC".to_string(), "ETH/BTC".to_string())]),
            listen_key: None,
        };
        let ev = s.parse_message(doc).unwrap();
        assert_eq!(ev.len(), 1);
        let StreamEvent::Order(o) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(o.symbol, "ETH/BTC");
        assert_eq!(o.venue_order_id, "4293153");
        assert_eq!(o.client_order_id.as_deref(), Some("mUvoqJxFIILMdfAW5iGSOW"));
        assert_eq!(o.price, Some(d("0.1026441")));
        assert_eq!(o.state, OrderState::Open);
        // A trade: the fill (trade id t) comes before the order's new state.
        let trade = doc
            .replace(r#""x":"NEW","X":"NEW""#, r#""x":"TRADE","X":"FILLED""#)
            .replace(r#""l":"0.00000000""#, r#""l":"1.00000000""#)
            .replace(r#""z":"0.00000000""#, r#""z":"1.00000000""#)
            .replace(r#""L":"0.00000000""#, r#""L":"0.10260000""#)
            .replace(r#""Z":"0.00000000""#, r#""Z":"0.10260000""#)
            .replace(r#""n":"0","N":null"#, r#""n":"0.0001","N":"BNB""#)
            .replace(r#""t":-1"#, r#""t":777"#)
            .replace(r#""m":false"#, r#""m":true"#);
        let ev = s.parse_message(&trade).unwrap();
        assert_eq!(ev.len(), 2);
        let StreamEvent::Fill(f) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(f.trade_id, "777");
        assert_eq!((f.price, f.quantity), (d("0.1026"), d("1")));
        assert_eq!(
            (f.fee, f.fee_asset.as_str(), f.maker),
            (d("0.0001"), "BNB", true)
        );
        let StreamEvent::Order(o) = &ev[1] else {
            panic!("{ev:?}")
        };
        assert_eq!(o.state, OrderState::Filled);
        assert_eq!(o.avg_price, Some(d("0.1026")));
        // Wrapped in "event" (WebSocket API subscriptions) it parses the same.
        let wrapped = format!(r#"{{"subscriptionId":0,"event":{doc}}}"#);
        assert_eq!(s.parse_message(&wrapped).unwrap().len(), 1);
        // Other events are ignored; an expired key forces a reconnect.
        assert!(
            s.parse_message(r#"{"e":"outboundAccountPosition","E":1,"u":1,"B":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(
            s.parse_message(r#"{"e":"listenKeyExpired","E":1,"listenKey":"x"}"#)
                .is_err()
        );
    }

    #[test]
    fn the_documented_market_payloads_parse() {
        let s = MarketSession::new(
            "ws://h",
            &[
                Subscription::Trades {
                    symbol: "BNB/BTC".into(),
                },
                Subscription::BestBidAsk {
                    symbol: "BNB/USDT".into(),
                },
                Subscription::Candles {
                    symbol: "BNB/BTC".into(),
                    timeframe: "1m".into(),
                },
            ],
        )
        .unwrap();
        assert_eq!(
            s.url,
            "ws://h/stream?streams=bnbbtc@kline_1m/bnbbtc@trade/bnbusdt@bookTicker"
        );
        let trade = r#"{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}"#;
        assert_eq!(
            s.parse_message(trade).unwrap(),
            vec![StreamEvent::Trade {
                symbol: "BNB/BTC".into(),
                price: d("0.001"),
                quantity: d("100"),
                ts_ms: 1_672_515_782_136
            }]
        );
        let book = r#"{"stream":"bnbusdt@bookTicker","data":{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#;
        assert_eq!(
            s.parse_message(book).unwrap(),
            vec![StreamEvent::BestBidAsk {
                symbol: "BNB/USDT".into(),
                bid: d("25.3519"),
                ask: d("25.3652"),
                ts_ms: 0
            }]
        );
        let kline = r#"{"stream":"bnbbtc@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}"#;
        // The documented example has its low above its open: such an update is dropped
        // (no reconnect); with a consistent low it parses.
        assert!(s.parse_message(kline).unwrap().is_empty());
        let kline = kline.replace(r#""l":"0.0015""#, r#""l":"0.0009""#);
        let ev = s.parse_message(&kline).unwrap();
        let StreamEvent::Candle {
            timeframe,
            bar,
            closed,
            ..
        } = &ev[0]
        else {
            panic!("{ev:?}")
        };
        assert_eq!((timeframe.as_str(), *closed), ("1m", false));
        assert_eq!(bar.ts.as_millis(), 1_672_515_780_000);
        assert!((bar.high - 0.0025).abs() < 1e-12);
        assert!(
            s.parse_message(r#"{"result":null,"id":1}"#)
                .unwrap()
                .is_empty()
        );
        let e = MarketSession::new(
            "ws://h",
            &[Subscription::Candles {
                symbol: "BTC/USDT".into(),
                timeframe: "2m".into(),
            }],
        )
        .err()
        .unwrap();
        assert!(e.message.contains("use one of 1s, 1m"), "{e}");
    }

    #[test]
    fn exchange_info_filters_become_market_rules() {
        let s: SymbolJson = serde_json::from_str(
            r#"{"symbol":"BNBBTC","status":"BREAK","baseAsset":"BNB","quoteAsset":"BTC","filters":[
                {"filterType":"PRICE_FILTER","minPrice":"0.00000100","maxPrice":"100000.00000000","tickSize":"0.00000100"},
                {"filterType":"LOT_SIZE","minQty":"0.00100000","maxQty":"100000.00000000","stepSize":"0.00100000"},
                {"filterType":"MIN_NOTIONAL","minNotional":"0.00100000","applyToMarket":true,"avgPriceMins":5}]}"#,
        )
        .unwrap();
        let m = s.market().unwrap();
        assert_eq!(m.symbol, "BNB/BTC");
        assert_eq!(m.status, MarketStatus::Halted);
        assert_eq!(m.tick_size, d("0.000001"));
        assert_eq!((m.step_size, m.min_qty), (d("0.001"), d("0.001")));
        assert_eq!(m.min_notional, d("0.001"));
    }
}

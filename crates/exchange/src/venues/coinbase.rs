//! Coinbase Advanced Trade (spot): REST under `https://api.coinbase.com/api/v3/brokerage`,
//! market data on `wss://advanced-trade-ws.coinbase.com`, the `user` channel on
//! `wss://advanced-trade-ws-user.coinbase.com`.
//!
//! With a `base_url` override everything lives under it: REST at `{base}/api/v3/brokerage/...`,
//! the market websocket at `{base}/ws` and the user websocket at `{base}/ws-user` (`http` →
//! `ws`, `https` → `wss`).
//!
//! Authentication (CDP API keys): the key name `organizations/{org}/apiKeys/{id}` is
//! `Credentials.key`, the EC P-256 private key PEM (`BEGIN EC PRIVATE KEY`, as the CDP portal
//! issues it; PKCS#8 `BEGIN PRIVATE KEY` is accepted too) is `Credentials.secret`. Every
//! private request carries `Authorization: Bearer <JWT>`, a fresh ES256 JWT (header `kid` = key
//! name and a random `nonce`; claims `sub` = key name, `iss` "cdp", `nbf` = now, `exp` = now +
//! 120 s, `uri` = `METHOD host path`, the host taken from the configured base URL). Websocket
//! subscriptions carry a JWT without the `uri` claim.
//!
//! Invariants:
//! - A JWT is signed after the rate limiter let the request through, so a long wait cannot
//!   make it expire before it is sent.
//! - Without usable credentials market data uses the public `/market/...` endpoints (the
//!   public IP budget); with them, the authenticated ones (the key's budget).
//! - Orders are checked against the cached market rules before anything is sent.
//! - A repeated `client_order_id` makes Coinbase answer with the order it already has: that is
//!   success, and the order's real state is read back, so a retry never places twice.
//! - The `user` channel has no per-fill ids: order updates become [`StreamEvent::Order`], and
//!   whenever an order's filled quantity grows its fills are read through REST, so every
//!   [`StreamEvent::Fill`] carries Coinbase's own `trade_id`, the same id a resync returns;
//!   fills are delivered once per stream.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use skeet_core::{Bar, OrderKind, Side, TimeInForce, Timeframe, UnixNanos};
use tokio::sync::mpsc;

use crate::api::{BoxFut, Exchange, VenueConfig};
use crate::error::{ErrorKind, ExchangeError};
use crate::http::{Response, Rest, retry_read};
use crate::limiter::Quota;
use crate::stream::{self, EventStream, StreamOptions, WsSession};
use crate::types::{
    Balance, Fill, Market, MarketStatus, NewOrder, OrderBook, OrderInfo, OrderRef, OrderState,
    Permissions, StreamEvent, Subscription, Ticker, dec,
};

const VENUE: &str = "coinbase";
const REST_URL: &str = "https://api.coinbase.com";
const WS_MARKET: &str = "wss://advanced-trade-ws.coinbase.com";
const WS_USER: &str = "wss://advanced-trade-ws-user.coinbase.com";
const B: &str = "/api/v3/brokerage";
/// Public endpoints: 10 requests per second per IP.
const IP_BUCKET: &str = "coinbase:ip";
/// The largest page Coinbase serves on its paginated lists.
const PAGE: usize = 250;
/// Stop following cursors after this many pages (a venue bug must not loop forever).
const MAX_PAGES: usize = 200;
/// Empty candle windows skipped forward before `candles` answers with nothing.
const EMPTY_WINDOWS: usize = 8;
/// Coinbase's candles endpoint returns at most 350 bars per request.
const MAX_CANDLES: u32 = 350;
/// Coinbase's websocket `candles` channel streams five-minute bars only.
const WS_CANDLE_TIMEFRAME: &str = "5m";

/// Builds the Coinbase adapter. Credentials are checked lazily: a bad PEM fails the first
/// private call with [`ErrorKind::Auth`], while public market data keeps working.
///
/// # Errors
/// When the HTTP client cannot start.
pub fn connect(cfg: VenueConfig) -> Result<Box<dyn Exchange>, ExchangeError> {
    let base = cfg.rest_url(REST_URL);
    let host = host_of(&base)?;
    let (ws_market, ws_user) = match &cfg.base_url {
        Some(_) => {
            let root = cfg.ws_url(WS_MARKET);
            (format!("{root}/ws"), format!("{root}/ws-user"))
        }
        None => (WS_MARKET.to_string(), WS_USER.to_string()),
    };
    let VenueConfig {
        credentials,
        limiter,
        timeout,
        stream,
        ..
    } = cfg;
    limiter.define(IP_BUCKET, Quota::new(10, Duration::from_secs(1)));
    let (creds, private_bucket) = match credentials {
        Some(c) => {
            let bucket = format!("coinbase:key:{}", c.label());
            // Coinbase counts every private request, orders included, in one per-key budget
            // of 30 requests per second; there is no separate order budget.
            limiter.define(&bucket, Quota::new(30, Duration::from_secs(1)));
            (Some(Signer::from_pem(&c.key, c.secret.as_str())), bucket)
        }
        None => (None, String::new()),
    };
    let rest = Rest::new(VENUE, &base, timeout, limiter)?;
    Ok(Box::new(Coinbase {
        inner: Arc::new(Inner {
            rest,
            host,
            creds,
            private_bucket,
            ws_market,
            ws_user,
            stream,
            markets: Mutex::new(None),
        }),
    }))
}

/// `host[:port]` of a base URL, as the JWT `uri` claim names it.
fn host_of(base: &str) -> Result<String, ExchangeError> {
    let url = url::Url::parse(base)
        .map_err(|e| ExchangeError::protocol(VENUE, &format!("base URL '{base}': {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| ExchangeError::protocol(VENUE, &format!("base URL '{base}' has no host")))?;
    Ok(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Signing.

/// Signs Coinbase CDP JWTs (ES256) with one API key.
pub struct Signer {
    key_name: String,
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(kid={}, key=***)", crate::mask(&self.key_name))
    }
}

fn bad_pem(detail: &str) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Auth,
        venue: VENUE,
        code: None,
        message: format!(
            "the Coinbase secret must be the EC private key PEM from the CDP portal \
             (-----BEGIN EC PRIVATE KEY----- ...); {detail}"
        ),
        retry_after: None,
    }
}

/// One DER element: tag, contents, and what follows it.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let contents = input.get(header..header + len)?;
    Some((tag, contents, input.get(header + len..)?))
}

/// The DER of the OID prime256v1 (1.2.840.10045.3.1.7).
const P256_OID: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The private scalar and the public point of a SEC1 `ECPrivateKey`:
/// `SEQUENCE { INTEGER 1, OCTET STRING priv, [0] OID, [1] BIT STRING pub }`.
fn sec1_parts(der: &[u8]) -> Result<(&[u8], &[u8]), ExchangeError> {
    let (tag, seq, _) = der_next(der).ok_or_else(|| bad_pem("the key is not DER"))?;
    if tag != 0x30 {
        return Err(bad_pem("the key is not a SEC1 EC private key"));
    }
    let (tag, version, rest) = der_next(seq).ok_or_else(|| bad_pem("truncated key"))?;
    if tag != 0x02 || version != [1] {
        return Err(bad_pem("unsupported EC private key version"));
    }
    let (tag, private, mut rest) = der_next(rest).ok_or_else(|| bad_pem("truncated key"))?;
    if tag != 0x04 || private.len() != 32 {
        return Err(bad_pem("the private key is not a P-256 scalar"));
    }
    let mut public = None;
    while let Some((tag, contents, next)) = der_next(rest) {
        match tag {
            0xa0 => {
                let (t, oid, _) =
                    der_next(contents).ok_or_else(|| bad_pem("bad curve parameters"))?;
                if t != 0x06 || oid != P256_OID {
                    return Err(bad_pem("the key is not on the P-256 curve (prime256v1)"));
                }
            }
            0xa1 => {
                let (t, bits, _) = der_next(contents).ok_or_else(|| bad_pem("bad public key"))?;
                // A BIT STRING starts with its count of unused bits (0).
                match bits.split_first() {
                    Some((0, point)) if t == 0x03 && point.len() == 65 => public = Some(point),
                    _ => return Err(bad_pem("the public key is not an uncompressed P-256 point")),
                }
            }
            _ => {}
        }
        rest = next;
    }
    let public = public.ok_or_else(|| bad_pem("the key does not include its public key"))?;
    Ok((private, public))
}

/// The label and the decoded body of the first PEM block. Literal `\n` sequences (a key
/// copied out of the CDP JSON file) count as line breaks.
fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let text = text.replace("\\n", "\n");
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = text.get(start..)?;
    let label_end = rest.find("-----")?;
    let label = rest.get(..label_end)?.trim().to_string();
    let body_start = label_end + 5;
    let body_end = rest.find("-----END ")?;
    let body: String = rest
        .get(body_start..body_end)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Some((label, STANDARD.decode(body).ok()?))
}

impl Signer {
    /// A signer for key `key_name` from its PEM private key.
    ///
    /// # Errors
    /// [`ErrorKind::Auth`] explaining what the secret must be.
    pub fn from_pem(key_name: &str, pem: &str) -> Result<Self, ExchangeError> {
        let rng = SystemRandom::new();
        let (label, der) = pem_block(pem).ok_or_else(|| bad_pem("no PEM block was found"))?;
        let pair = match label.as_str() {
            "EC PRIVATE KEY" => {
                let (private, public) = sec1_parts(&der)?;
                EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    private,
                    public,
                    &rng,
                )
                .map_err(|e| bad_pem(&format!("the key was rejected ({e})")))?
            }
            "PRIVATE KEY" => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
                .map_err(|e| bad_pem(&format!("the PKCS#8 key is not P-256 ({e})")))?,
            other => return Err(bad_pem(&format!("found a '{other}' PEM block"))),
        };
        if key_name.is_empty() {
            return Err(ExchangeError {
                message:
                    "the Coinbase API key must be the key name (organizations/.../apiKeys/...)"
                        .into(),
                ..bad_pem("")
            });
        }
        Ok(Self {
            key_name: key_name.to_string(),
            pair,
            rng,
        })
    }

    /// A JWT valid for 120 s from `now_s`; `uri` (`METHOD host path`) for REST, `None` for
    /// websocket subscriptions.
    ///
    /// # Errors
    /// When the system random source fails.
    pub fn jwt(&self, uri: Option<&str>, now_s: i64) -> Result<String, ExchangeError> {
        let fail = || ExchangeError::protocol(VENUE, "cannot sign the request (random source)");
        let mut nonce = [0u8; 16];
        self.rng.fill(&mut nonce).map_err(|_| fail())?;
        let header = json!({"alg": "ES256", "kid": self.key_name, "nonce": hex::encode(nonce), "typ": "JWT"});
        let mut claims =
            json!({"sub": self.key_name, "iss": "cdp", "nbf": now_s, "exp": now_s + 120});
        if let Some(uri) = uri {
            claims["uri"] = json!(uri);
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| fail())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }
}

fn now_s() -> i64 {
    crate::now_ms().div_euclid(1000)
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// Classifies a Coinbase failure: the HTTP status, the body's `error` code (or an order's
/// `error_response.error`), its `preview_failure_reason`, and `Retry-After`.
pub fn map_error(
    status: u16,
    code: &str,
    preview: &str,
    message: &str,
    retry_after: Option<Duration>,
) -> ExchangeError {
    let code_u = code.to_ascii_uppercase();
    let preview_u = preview.to_ascii_uppercase();
    let has = |s: &str| code_u.contains(s) || preview_u.contains(s);
    let kind = if status == 429 || has("RATE_LIMIT") || code_u == "RESOURCE_EXHAUSTED" {
        ErrorKind::RateLimited
    } else if has("INSUFFICIENT_FUND") {
        ErrorKind::InsufficientFunds
    } else if matches!(status, 401 | 403)
        || matches!(
            code_u.as_str(),
            "UNAUTHENTICATED" | "PERMISSION_DENIED" | "INVALID_API_KEY"
        )
    {
        ErrorKind::Auth
    } else if has("DUPLICATE_CLIENT_ORDER_ID") {
        ErrorKind::DuplicateOrder
    } else if status == 404
        || matches!(
            code_u.as_str(),
            "NOT_FOUND" | "UNKNOWN_CANCEL_ORDER" | "ORDER_NOT_FOUND"
        )
    {
        ErrorKind::UnknownOrder
    } else if status >= 500 || matches!(code_u.as_str(), "INTERNAL" | "UNAVAILABLE") {
        ErrorKind::Unavailable
    } else if code_u.starts_with("INVALID_")
        || code_u.starts_with("UNSUPPORTED_")
        || (preview_u.starts_with("PREVIEW_") && preview_u != "UNKNOWN_PREVIEW_FAILURE_REASON")
        || status == 400
    {
        ErrorKind::InvalidOrder
    } else {
        ErrorKind::Other
    };
    let code = if code.is_empty() {
        format!("HTTP {status}")
    } else {
        code.to_string()
    };
    let message = if message.is_empty() {
        preview.to_string()
    } else {
        message.to_string()
    };
    ExchangeError {
        kind,
        venue: VENUE,
        code: Some(code),
        message,
        retry_after,
    }
}

fn error_from_response(resp: &Response) -> ExchangeError {
    let v: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
    let head: String = resp.body.chars().take(200).collect();
    let message = [text(&v, "message"), text(&v, "error_details")]
        .into_iter()
        .find(|m| !m.is_empty())
        .map_or(head, str::to_string);
    map_error(
        resp.status,
        text(&v, "error"),
        text(&v, "preview_failure_reason"),
        &message,
        resp.retry_after(),
    )
}

// ---------------------------------------------------------------------------------------------
// JSON helpers.

/// A string field, "" when absent.
fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A decimal string field, required.
fn num(v: &Value, key: &str) -> Result<Decimal, ExchangeError> {
    dec(VENUE, key, text(v, key))
}

/// A decimal string field, zero when absent or empty.
fn num_or_zero(v: &Value, key: &str) -> Result<Decimal, ExchangeError> {
    match text(v, key) {
        "" => Ok(Decimal::ZERO),
        s => dec(VENUE, key, s),
    }
}

/// An RFC 3339 field as ms since the epoch.
fn time_ms(v: &Value, key: &str) -> Option<i64> {
    text(v, key)
        .parse::<UnixNanos>()
        .ok()
        .map(UnixNanos::as_millis)
}

fn symbol_of(product: &str) -> Result<String, ExchangeError> {
    crate::symbols::from_venue(VENUE, product).map_err(|e| ExchangeError::protocol(VENUE, &e))
}

fn product_of(symbol: &str) -> Result<String, ExchangeError> {
    crate::symbols::to_venue(VENUE, symbol).map_err(|e| ExchangeError::invalid(VENUE, &e))
}

fn side_of(s: &str) -> Result<Side, ExchangeError> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(ExchangeError::protocol(
            VENUE,
            &format!("unknown side '{other}'"),
        )),
    }
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn state_of(status: &str, filled: Decimal) -> OrderState {
    match status {
        "FILLED" => OrderState::Filled,
        "CANCELLED" => OrderState::Cancelled,
        "EXPIRED" => OrderState::Expired,
        "FAILED" => OrderState::Rejected,
        // OPEN, PENDING, QUEUED, CANCEL_QUEUED, UNKNOWN_ORDER_STATUS: still working.
        _ if filled > Decimal::ZERO => OrderState::PartiallyFilled,
        _ => OrderState::Open,
    }
}

fn s(d: Decimal) -> String {
    d.normalize().to_string()
}

/// An order as `GET /orders/historical/...` returns it.
fn order_info(o: &Value) -> Result<OrderInfo, ExchangeError> {
    // `order_configuration` holds exactly one of market_market_ioc, limit_limit_gtc, ...
    let config = o
        .get("order_configuration")
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
        .cloned()
        .unwrap_or(Value::Null);
    let filled = num_or_zero(o, "filled_size")?;
    let quantity = match text(&config, "base_size") {
        "" => filled,
        q => dec(VENUE, "base_size", q)?,
    };
    let price = match text(&config, "limit_price") {
        "" => None,
        p => Some(dec(VENUE, "limit_price", p)?),
    };
    let avg = num_or_zero(o, "average_filled_price")?;
    Ok(OrderInfo {
        venue_order_id: text(o, "order_id").to_string(),
        client_order_id: Some(text(o, "client_order_id").to_string()).filter(|c| !c.is_empty()),
        symbol: symbol_of(text(o, "product_id"))?,
        side: side_of(text(o, "side"))?,
        price,
        quantity,
        filled,
        avg_price: (filled > Decimal::ZERO && avg > Decimal::ZERO).then_some(avg),
        state: state_of(text(o, "status"), filled),
        ts_ms: time_ms(o, "last_fill_time")
            .or_else(|| time_ms(o, "created_time"))
            .unwrap_or(0),
    })
}

/// A fill as `GET /orders/historical/fills` returns it (fees are in the quote currency).
fn fill_of(f: &Value) -> Result<Fill, ExchangeError> {
    let symbol = symbol_of(text(f, "product_id"))?;
    let quote = symbol.split_once('/').map(|(_, q)| q.to_string());
    let trade_id = match text(f, "trade_id") {
        "" => text(f, "entry_id"),
        t => t,
    };
    Ok(Fill {
        trade_id: trade_id.to_string(),
        venue_order_id: text(f, "order_id").to_string(),
        client_order_id: None,
        side: side_of(text(f, "side"))?,
        price: num(f, "price")?,
        quantity: num(f, "size")?,
        fee: num_or_zero(f, "commission")?,
        fee_asset: quote.unwrap_or_default(),
        maker: text(f, "liquidity_indicator") == "MAKER",
        ts_ms: time_ms(f, "trade_time")
            .or_else(|| time_ms(f, "sequence_timestamp"))
            .unwrap_or(0),
        symbol,
    })
}

fn granularity(tf: Timeframe) -> Option<&'static str> {
    Some(match tf.as_secs() {
        60 => "ONE_MINUTE",
        300 => "FIVE_MINUTE",
        900 => "FIFTEEN_MINUTE",
        1800 => "THIRTY_MINUTE",
        3600 => "ONE_HOUR",
        7200 => "TWO_HOUR",
        21_600 => "SIX_HOUR",
        86_400 => "ONE_DAY",
        _ => return None,
    })
}

fn bar_of(c: &Value) -> Result<Bar, ExchangeError> {
    let f = |k: &str| {
        text(c, k)
            .parse::<f64>()
            .map_err(|_| ExchangeError::protocol(VENUE, &format!("candle {k} is not a number")))
    };
    let start = text(c, "start")
        .parse::<i64>()
        .ok()
        .and_then(UnixNanos::from_secs)
        .ok_or_else(|| ExchangeError::protocol(VENUE, "candle start is not unix seconds"))?;
    Bar::new(
        start,
        f("open")?,
        f("high")?,
        f("low")?,
        f("close")?,
        f("volume")?,
    )
    .map_err(|e| ExchangeError::protocol(VENUE, &format!("bad candle: {e}")))
}

/// The `order_configuration` for an order.
fn configuration(order: &NewOrder) -> Result<Value, ExchangeError> {
    let size = s(order.quantity);
    Ok(match (order.kind, order.time_in_force) {
        (OrderKind::Market, _) => json!({"market_market_ioc": {"base_size": size}}),
        (OrderKind::Limit { price }, TimeInForce::Gtc | TimeInForce::PostOnly) => {
            json!({"limit_limit_gtc": {"base_size": size, "limit_price": s(price.as_decimal()),
                   "post_only": order.time_in_force == TimeInForce::PostOnly}})
        }
        (OrderKind::Limit { price }, TimeInForce::Ioc) => {
            json!({"sor_limit_ioc": {"base_size": size, "limit_price": s(price.as_decimal())}})
        }
        (OrderKind::Limit { price }, TimeInForce::Fok) => {
            json!({"limit_limit_fok": {"base_size": size, "limit_price": s(price.as_decimal())}})
        }
        (OrderKind::StopLimit { trigger, price }, TimeInForce::Gtc) => {
            // A buy stop triggers when the price rises to the stop, a sell stop when it falls.
            let direction = match order.side {
                Side::Buy => "STOP_DIRECTION_STOP_UP",
                Side::Sell => "STOP_DIRECTION_STOP_DOWN",
            };
            json!({"stop_limit_stop_limit_gtc": {"base_size": size,
                   "limit_price": s(price.as_decimal()), "stop_price": s(trigger.as_decimal()),
                   "stop_direction": direction}})
        }
        (OrderKind::StopLimit { .. }, tif) => {
            return Err(ExchangeError::invalid(
                VENUE,
                &format!(
                    "Coinbase stop-limit orders are good-till-cancelled; {tif:?} is not available"
                ),
            ));
        }
        (OrderKind::Stop { .. }, _) => {
            return Err(ExchangeError::invalid(
                VENUE,
                "Coinbase Advanced Trade has no stop-market orders; use a stop-limit order",
            ));
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The adapter.

struct Inner {
    rest: Rest,
    /// `host[:port]` for the JWT `uri` claim.
    host: String,
    /// `None` without credentials; `Some(Err)` when the PEM is unusable.
    creds: Option<Result<Signer, ExchangeError>>,
    private_bucket: String,
    ws_market: String,
    ws_user: String,
    stream: StreamOptions,
    markets: Mutex<Option<Vec<Market>>>,
}

/// The Coinbase Advanced Trade adapter.
pub struct Coinbase {
    inner: Arc<Inner>,
}

impl Inner {
    fn signer(&self) -> Result<&Signer, ExchangeError> {
        match &self.creds {
            None => Err(ExchangeError::no_credentials(VENUE)),
            Some(Err(e)) => Err(e.clone()),
            Some(Ok(s)) => Ok(s),
        }
    }

    /// Market data path: authenticated when a usable key is configured, public otherwise.
    fn data_path(&self, private: &str, public: &str) -> (String, bool) {
        if matches!(self.creds, Some(Ok(_))) {
            (format!("{B}{private}"), true)
        } else {
            (format!("{B}/market{public}"), false)
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        private: bool,
    ) -> Result<Value, ExchangeError> {
        let bucket = if private {
            self.signer()?;
            self.private_bucket.as_str()
        } else {
            IP_BUCKET
        };
        // Wait first, sign after: a JWT lives 120 s and must not expire in the queue.
        self.rest.limiter().acquire(&[bucket], 1).await;
        let mut req = self.rest.request(method.clone(), path);
        if private {
            let uri = format!("{method} {}{path}", self.host);
            req = req.bearer_auth(self.signer()?.jwt(Some(&uri), now_s())?);
        }
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = self.rest.send(req, &[], 0).await?;
        if !resp.ok() {
            let e = error_from_response(&resp);
            self.rest.note(bucket, &e);
            return Err(e);
        }
        resp.json(VENUE)
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ExchangeError> {
        self.call(Method::GET, path, query, None, true).await
    }

    async fn load_markets(&self) -> Result<Vec<Market>, ExchangeError> {
        let (path, private) = self.data_path("/products", "/products");
        let v = self
            .call(
                Method::GET,
                &path,
                &[("product_type", "SPOT".into())],
                None,
                private,
            )
            .await?;
        let mut out = Vec::new();
        for p in v["products"].as_array().into_iter().flatten() {
            if !matches!(text(p, "product_type"), "" | "SPOT") {
                continue;
            }
            let venue_symbol = text(p, "product_id").to_string();
            let symbol = symbol_of(&venue_symbol)?;
            let (base, quote) = symbol
                .split_once('/')
                .map(|(b, q)| (b.to_string(), q.to_string()))
                .unwrap_or_default();
            let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
            // Post-only and cancel-only phases accept no ordinary order: treat as halted.
            let trading = text(p, "status") == "online"
                && !flag("trading_disabled")
                && !flag("is_disabled")
                && !flag("cancel_only")
                && !flag("post_only");
            let tick = match text(p, "price_increment") {
                "" => num(p, "quote_increment")?,
                t => dec(VENUE, "price_increment", t)?,
            };
            out.push(Market {
                symbol,
                venue_symbol,
                base,
                quote,
                status: if trading {
                    MarketStatus::Trading
                } else {
                    MarketStatus::Halted
                },
                tick_size: tick.normalize(),
                step_size: num(p, "base_increment")?.normalize(),
                min_qty: num_or_zero(p, "base_min_size")?.normalize(),
                min_notional: num_or_zero(p, "quote_min_size")?.normalize(),
            });
        }
        *self
            .markets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(out.clone());
        Ok(out)
    }

    async fn market(&self, symbol: &str) -> Result<Market, ExchangeError> {
        let cached = self
            .markets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let markets = match cached {
            Some(m) => m,
            None => self.load_markets().await?,
        };
        markets
            .into_iter()
            .find(|m| m.symbol.eq_ignore_ascii_case(symbol))
            .ok_or_else(|| {
                ExchangeError::invalid(VENUE, &format!("Coinbase lists no market {symbol}"))
            })
    }

    async fn order_by_id(&self, id: &str) -> Result<OrderInfo, ExchangeError> {
        if id.is_empty() || id.contains('/') {
            return Err(ExchangeError {
                kind: ErrorKind::UnknownOrder,
                ..ExchangeError::invalid(VENUE, "an order id is required")
            });
        }
        let v = self
            .get(&format!("{B}/orders/historical/{id}"), &[])
            .await?;
        order_info(&v["order"])
    }

    /// Walks `GET /orders/historical/batch` pages (newest first) until `stop` says so.
    async fn list_orders(
        &self,
        query: &[(&str, String)],
        mut stop: impl FnMut(&OrderInfo) -> bool,
    ) -> Result<Vec<OrderInfo>, ExchangeError> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("limit", PAGE.to_string()));
            if !cursor.is_empty() {
                q.push(("cursor", cursor.clone()));
            }
            let v = self
                .get(&format!("{B}/orders/historical/batch"), &q)
                .await?;
            for o in v["orders"].as_array().into_iter().flatten() {
                let info = order_info(o)?;
                let done = stop(&info);
                out.push(info);
                if done {
                    return Ok(out);
                }
            }
            cursor = text(&v, "cursor").to_string();
            if v["has_next"] != true || cursor.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    async fn order_by_client(&self, symbol: &str, cid: &str) -> Result<OrderInfo, ExchangeError> {
        let q = [("product_ids", product_of(symbol)?)];
        let found = self
            .list_orders(&q, |o| o.client_order_id.as_deref() == Some(cid))
            .await?;
        found
            .into_iter()
            .find(|o| o.client_order_id.as_deref() == Some(cid))
            .ok_or_else(|| ExchangeError {
                kind: ErrorKind::UnknownOrder,
                venue: VENUE,
                code: None,
                message: format!("no order with client_order_id {cid} on {symbol}"),
                retry_after: None,
            })
    }

    async fn resolve(&self, symbol: &str, order: &OrderRef) -> Result<OrderInfo, ExchangeError> {
        match order {
            OrderRef::Venue(id) => self.order_by_id(id).await,
            OrderRef::Client(cid) => self.order_by_client(symbol, cid).await,
        }
    }

    /// Fills matching `query`, every page, oldest first.
    async fn fills(&self, query: &[(&str, String)]) -> Result<Vec<Fill>, ExchangeError> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("limit", PAGE.to_string()));
            if !cursor.is_empty() {
                q.push(("cursor", cursor.clone()));
            }
            let v = self
                .get(&format!("{B}/orders/historical/fills"), &q)
                .await?;
            for f in v["fills"].as_array().into_iter().flatten() {
                out.push(fill_of(f)?);
            }
            cursor = text(&v, "cursor").to_string();
            if cursor.is_empty() {
                break;
            }
        }
        out.sort_by(|a, b| a.ts_ms.cmp(&b.ts_ms).then(a.trade_id.cmp(&b.trade_id)));
        Ok(out)
    }

    async fn fills_since(
        &self,
        symbols: &[String],
        since_ms: i64,
    ) -> Result<Vec<Fill>, ExchangeError> {
        let mut q: Vec<(&str, String)> = vec![(
            "start_sequence_timestamp",
            UnixNanos::from_millis(since_ms)
                .unwrap_or(UnixNanos::EPOCH)
                .to_rfc3339(),
        )];
        for sym in symbols {
            q.push(("product_ids", product_of(sym)?));
        }
        let fills = self.fills(&q).await?;
        Ok(fills.into_iter().filter(|f| f.ts_ms >= since_ms).collect())
    }

    async fn open_orders(&self, symbols: &[String]) -> Result<Vec<OrderInfo>, ExchangeError> {
        let mut q: Vec<(&str, String)> = vec![("order_status", "OPEN".into())];
        for sym in symbols {
            q.push(("product_ids", product_of(sym)?));
        }
        self.list_orders(&q, |_| false).await
    }
}

impl Exchange for Coinbase {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn markets(&self) -> BoxFut<'_, Vec<Market>> {
        Box::pin(self.inner.load_markets())
    }

    fn ticker<'a>(&'a self, symbol: &'a str) -> BoxFut<'a, Ticker> {
        Box::pin(async move {
            let id = product_of(symbol)?;
            let p = format!("/products/{id}/ticker");
            let (path, private) = self.inner.data_path(&p, &p);
            let v = self
                .inner
                .call(Method::GET, &path, &[("limit", "1".into())], None, private)
                .await?;
            let opt = |k: &str| match text(&v, k) {
                "" => Ok(None),
                x => dec(VENUE, k, x).map(Some),
            };
            let last = v["trades"].get(0);
            Ok(Ticker {
                symbol: symbol.to_string(),
                bid: opt("best_bid")?,
                ask: opt("best_ask")?,
                last: last.map(|t| num(t, "price")).transpose()?,
                volume_24h: None,
                ts_ms: last.and_then(|t| time_ms(t, "time")).unwrap_or(0),
            })
        })
    }

    fn order_book<'a>(&'a self, symbol: &'a str, depth: u32) -> BoxFut<'a, OrderBook> {
        Box::pin(async move {
            let id = product_of(symbol)?;
            let (path, private) = self.inner.data_path("/product_book", "/product_book");
            let q = [("product_id", id), ("limit", depth.max(1).to_string())];
            let v = self
                .inner
                .call(Method::GET, &path, &q, None, private)
                .await?;
            let book = &v["pricebook"];
            let levels = |side: &str| -> Result<Vec<(Decimal, Decimal)>, ExchangeError> {
                book[side]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(depth as usize)
                    .map(|l| Ok((num(l, "price")?, num(l, "size")?)))
                    .collect()
            };
            Ok(OrderBook {
                symbol: symbol.to_string(),
                bids: levels("bids")?,
                asks: levels("asks")?,
                ts_ms: time_ms(book, "time").unwrap_or(0),
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
            let id = product_of(symbol)?;
            let gran = granularity(timeframe).ok_or_else(|| {
                ExchangeError::invalid(
                    VENUE,
                    &format!(
                        "Coinbase has no {timeframe} candles; use 1m, 5m, 15m, 30m, 1h, 2h, 6h or 1d"
                    ),
                )
            })?;
            let tf_s = i64::from(timeframe.as_secs());
            let limit = limit.clamp(1, MAX_CANDLES);
            // Start at the bucket holding `since_ms`; bars opening before it are dropped below.
            let mut start = since_ms.div_euclid(1000).div_euclid(tf_s) * tf_s;
            let p = format!("/products/{id}/candles");
            let (path, private) = self.inner.data_path(&p, &p);
            let now_ns = UnixNanos::from_millis(crate::now_ms()).unwrap_or(UnixNanos::EPOCH);
            let since_ns = UnixNanos::from_millis(since_ms).unwrap_or(UnixNanos::EPOCH);
            let mut bars = Vec::new();
            // Coinbase answers time windows, not "the next bars after": an empty window
            // (before the product was listed, a halt) is skipped, up to EMPTY_WINDOWS of them,
            // so a caller paging from an early date is not stopped by one quiet stretch.
            for _ in 0..EMPTY_WINDOWS {
                let end = start + tf_s * i64::from(limit) - 1;
                if start * 1000 > crate::now_ms() {
                    break;
                }
                let q = [
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                    ("granularity", gran.to_string()),
                ];
                let v = self
                    .inner
                    .call(Method::GET, &path, &q, None, private)
                    .await?;
                bars = v["candles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(bar_of)
                    .collect::<Result<Vec<Bar>, _>>()?;
                // Coinbase returns the newest first and includes the bar still forming.
                bars.retain(|b| {
                    b.ts >= since_ns && b.ts.saturating_add(timeframe.as_nanos()) <= now_ns
                });
                if !bars.is_empty() {
                    break;
                }
                start = end + 1;
            }
            bars.sort_by_key(|b| b.ts);
            bars.dedup_by_key(|b| b.ts);
            bars.truncate(limit as usize);
            Ok(bars)
        })
    }

    fn balances(&self) -> BoxFut<'_, Vec<Balance>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut cursor = String::new();
            for _ in 0..MAX_PAGES {
                let mut q = vec![("limit", PAGE.to_string())];
                if !cursor.is_empty() {
                    q.push(("cursor", cursor.clone()));
                }
                let v = self.inner.get(&format!("{B}/accounts"), &q).await?;
                for a in v["accounts"].as_array().into_iter().flatten() {
                    let free = num_or_zero(&a["available_balance"], "value")?;
                    let locked = num_or_zero(&a["hold"], "value")?;
                    if free.is_zero() && locked.is_zero() {
                        continue;
                    }
                    out.push(Balance {
                        asset: text(a, "currency").to_string(),
                        free,
                        locked,
                    });
                }
                cursor = text(&v, "cursor").to_string();
                if v["has_next"] != true || cursor.is_empty() {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn create_order<'a>(&'a self, order: &'a NewOrder) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            self.inner.signer()?;
            let market = self.inner.market(&order.symbol).await?;
            market.check(VENUE, order, None)?;
            let body = json!({
                "client_order_id": order.client_order_id.as_str(),
                "product_id": market.venue_symbol,
                "side": side_str(order.side),
                "order_configuration": configuration(order)?,
            });
            let v = self
                .inner
                .call(Method::POST, &format!("{B}/orders"), &[], Some(&body), true)
                .await?;
            if v["success"] != true {
                let e = &v["error_response"];
                let code = match text(e, "error") {
                    "" => text(&v, "failure_reason"),
                    c => c,
                };
                let message = match text(e, "message") {
                    "" => text(e, "error_details"),
                    m => m,
                };
                return Err(map_error(
                    200,
                    code,
                    text(e, "preview_failure_reason"),
                    message,
                    None,
                ));
            }
            let ok = &v["success_response"];
            let id = match text(ok, "order_id") {
                "" => text(&v, "order_id"),
                i => i,
            }
            .to_string();
            // Coinbase answers a repeated client_order_id with the existing order: read its
            // real state (it may have filled, or be another order's fills entirely).
            match self.inner.order_by_id(&id).await {
                Ok(info) => Ok(info),
                Err(e) => {
                    // The order exists; report it as accepted rather than fail a placement
                    // that succeeded (a failed read must not cause a second order).
                    tracing::warn!(venue = VENUE, error = %e, "order placed; reading it back failed");
                    Ok(order.accepted(id, crate::now_ms()))
                }
            }
        })
    }

    fn cancel_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            let id = match order {
                OrderRef::Venue(id) => id.clone(),
                OrderRef::Client(_) => self.inner.resolve(symbol, order).await?.venue_order_id,
            };
            let body = json!({ "order_ids": [id] });
            let v = self
                .inner
                .call(
                    Method::POST,
                    &format!("{B}/orders/batch_cancel"),
                    &[],
                    Some(&body),
                    true,
                )
                .await?;
            let r = v["results"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| text(r, "order_id") == id))
                .ok_or_else(|| ExchangeError::protocol(VENUE, "batch_cancel answered no result"))?;
            if r["success"] != true {
                let reason = text(r, "failure_reason");
                return Err(map_error(
                    200,
                    reason,
                    "",
                    &format!("cannot cancel order {id}: {reason}"),
                    None,
                ));
            }
            self.inner.order_by_id(&id).await
        })
    }

    fn fetch_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(self.inner.resolve(symbol, order))
    }

    fn open_orders<'a>(&'a self, symbol: Option<&'a str>) -> BoxFut<'a, Vec<OrderInfo>> {
        Box::pin(async move {
            let symbols: Vec<String> = symbol.map(str::to_string).into_iter().collect();
            self.inner.open_orders(&symbols).await
        })
    }

    fn my_trades<'a>(&'a self, symbol: &'a str, since_ms: i64) -> BoxFut<'a, Vec<Fill>> {
        Box::pin(async move {
            self.inner
                .fills_since(&[symbol.to_string()], since_ms)
                .await
        })
    }

    fn permissions(&self) -> BoxFut<'_, Permissions> {
        Box::pin(async move {
            let v = self.inner.get(&format!("{B}/key_permissions"), &[]).await?;
            let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
            Ok(Permissions {
                read: flag("can_view"),
                trade: flag("can_trade"),
                withdraw: flag("can_transfer"),
                ip_restricted: None,
            })
        })
    }

    fn market_stream(&self, subs: Vec<Subscription>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            let mut channels: Vec<(&'static str, Vec<String>)> = Vec::new();
            let mut add = |channel: &'static str, product: String| match channels
                .iter_mut()
                .find(|(c, _)| *c == channel)
            {
                Some((_, ps)) if !ps.contains(&product) => ps.push(product),
                Some(_) => {}
                None => channels.push((channel, vec![product])),
            };
            for sub in &subs {
                match sub {
                    Subscription::Trades { symbol } => add("market_trades", product_of(symbol)?),
                    Subscription::BestBidAsk { symbol } => add("ticker", product_of(symbol)?),
                    Subscription::Candles { symbol, timeframe } => {
                        if timeframe != WS_CANDLE_TIMEFRAME {
                            return Err(ExchangeError::invalid(
                                VENUE,
                                &format!(
                                    "Coinbase streams 5m candles only (asked for {timeframe}); poll candles() for other timeframes"
                                ),
                            ));
                        }
                        add("candles", product_of(symbol)?);
                    }
                }
            }
            let products: Vec<String> = channels
                .iter()
                .flat_map(|(_, ps)| ps.iter().cloned())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            // Heartbeats keep quiet subscriptions open (Coinbase closes idle ones).
            channels.push(("heartbeats", products));
            let session = MarketSession {
                inner: self.inner.clone(),
                channels,
                candles: HashMap::new(),
            };
            Ok(stream::spawn(session, self.inner.stream))
        })
    }

    fn user_stream(&self, symbols: Vec<String>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            self.inner.signer()?;
            let products = symbols
                .iter()
                .map(|s| product_of(s))
                .collect::<Result<Vec<_>, _>>()?;
            let session = UserSession {
                inner: self.inner.clone(),
                symbols,
                products,
                last_venue_ms: None,
                quantities: HashMap::new(),
            };
            let inner_stream = stream::spawn(session, self.inner.stream);
            let (tx, rx) = mpsc::channel(1024);
            let task = tokio::spawn(follow_fills(self.inner.clone(), inner_stream, tx));
            Ok(EventStream::from_channel(rx, task))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Streams.

fn subscribe_msg(
    inner: &Inner,
    channel: &str,
    products: &[String],
) -> Result<String, ExchangeError> {
    let mut m = json!({"type": "subscribe", "product_ids": products, "channel": channel});
    if let Some(Ok(signer)) = &inner.creds {
        // A fresh JWT per message: each expires after two minutes.
        m["jwt"] = json!(signer.jwt(None, now_s())?);
    }
    Ok(m.to_string())
}

/// An `{"type":"error"}` message: authentication failures end the stream.
fn ws_error(v: &Value) -> ExchangeError {
    let message = text(v, "message");
    let lower = message.to_ascii_lowercase();
    if lower.contains("auth") || lower.contains("jwt") || lower.contains("unauthenticated") {
        ExchangeError {
            kind: ErrorKind::Auth,
            ..ExchangeError::protocol(VENUE, &format!("websocket: {message}"))
        }
    } else {
        ExchangeError::protocol(VENUE, &format!("websocket: {message}"))
    }
}

fn envelope_ms(v: &Value) -> Option<i64> {
    time_ms(v, "timestamp")
}

struct MarketSession {
    inner: Arc<Inner>,
    channels: Vec<(&'static str, Vec<String>)>,
    /// The bar last seen per product, to mark it closed when the next one starts.
    candles: HashMap<String, Bar>,
}

impl WsSession for MarketSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        let url = self.inner.ws_market.clone();
        Box::pin(async move { Ok(url) })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async move {
            self.channels
                .iter()
                .map(|(c, ps)| subscribe_msg(&self.inner, c, ps))
                .collect()
        })
    }

    fn parse(&mut self, text_msg: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v: Value = serde_json::from_str(text_msg).map_err(|e| {
            ExchangeError::protocol(VENUE, &format!("websocket message is not JSON: {e}"))
        })?;
        if text(&v, "type") == "error" {
            return Err(ws_error(&v));
        }
        let ts = envelope_ms(&v).unwrap_or(0);
        let mut out = Vec::new();
        for ev in v["events"].as_array().into_iter().flatten() {
            match text(&v, "channel") {
                // Snapshots replay trades from before the subscription: only live ones count.
                "market_trades" if text(ev, "type") == "update" => {
                    for t in ev["trades"].as_array().into_iter().flatten() {
                        out.push(StreamEvent::Trade {
                            symbol: symbol_of(text(t, "product_id"))?,
                            price: num(t, "price")?,
                            quantity: num(t, "size")?,
                            ts_ms: time_ms(t, "time").unwrap_or(ts),
                        });
                    }
                }
                "ticker" | "ticker_batch" => {
                    for t in ev["tickers"].as_array().into_iter().flatten() {
                        if text(t, "best_bid").is_empty() || text(t, "best_ask").is_empty() {
                            continue;
                        }
                        out.push(StreamEvent::BestBidAsk {
                            symbol: symbol_of(text(t, "product_id"))?,
                            bid: num(t, "best_bid")?,
                            ask: num(t, "best_ask")?,
                            ts_ms: ts,
                        });
                    }
                }
                "candles" => {
                    for c in ev["candles"].as_array().into_iter().flatten() {
                        let product = text(c, "product_id").to_string();
                        let symbol = symbol_of(&product)?;
                        let bar = bar_of(c)?;
                        if let Some(prev) = self.candles.get(&product)
                            && prev.ts < bar.ts
                        {
                            out.push(StreamEvent::Candle {
                                symbol: symbol.clone(),
                                timeframe: WS_CANDLE_TIMEFRAME.into(),
                                bar: *prev,
                                closed: true,
                            });
                        }
                        self.candles.insert(product, bar);
                        out.push(StreamEvent::Candle {
                            symbol,
                            timeframe: WS_CANDLE_TIMEFRAME.into(),
                            bar,
                            closed: false,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn resync(&mut self, _since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        // Market data has nothing to recover: the next messages carry the current state.
        Box::pin(async { Ok(Vec::new()) })
    }
}

struct UserSession {
    inner: Arc<Inner>,
    symbols: Vec<String>,
    products: Vec<String>,
    /// Venue time of the last message: a resync starts there (minus the margin) as well,
    /// so a venue clock behind ours cannot hide a fill.
    last_venue_ms: Option<i64>,
    /// Ordered quantity per order (updates give filled + leaves, which shrinks on cancel).
    quantities: HashMap<String, Decimal>,
}

impl UserSession {
    fn order(&mut self, o: &Value, ts: i64) -> Result<OrderInfo, ExchangeError> {
        let id = text(o, "order_id").to_string();
        let filled = num_or_zero(o, "cumulative_quantity")?;
        let leaves = num_or_zero(o, "leaves_quantity")?;
        let qty = self.quantities.entry(id.clone()).or_insert(Decimal::ZERO);
        *qty = (*qty).max(filled + leaves);
        let avg = num_or_zero(o, "avg_price")?;
        let price = match text(o, "limit_price") {
            "" => None,
            p => Some(dec(VENUE, "limit_price", p)?).filter(|p| !p.is_zero()),
        };
        Ok(OrderInfo {
            venue_order_id: id,
            client_order_id: Some(text(o, "client_order_id").to_string()).filter(|c| !c.is_empty()),
            symbol: symbol_of(text(o, "product_id"))?,
            side: side_of(text(o, "order_side"))?,
            price,
            quantity: *qty,
            filled,
            avg_price: (filled > Decimal::ZERO && avg > Decimal::ZERO).then_some(avg),
            state: state_of(text(o, "status"), filled),
            ts_ms: ts,
        })
    }
}

impl WsSession for UserSession {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn connect_url(&mut self) -> BoxFut<'_, String> {
        Box::pin(async move {
            self.inner.signer()?;
            Ok(self.inner.ws_user.clone())
        })
    }

    fn on_open(&mut self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async move {
            self.inner.signer()?;
            Ok(vec![
                subscribe_msg(&self.inner, "heartbeats", &self.products)?,
                subscribe_msg(&self.inner, "user", &self.products)?,
            ])
        })
    }

    fn parse(&mut self, text_msg: &str) -> Result<Vec<StreamEvent>, ExchangeError> {
        let v: Value = serde_json::from_str(text_msg).map_err(|e| {
            ExchangeError::protocol(VENUE, &format!("websocket message is not JSON: {e}"))
        })?;
        if text(&v, "type") == "error" {
            return Err(ws_error(&v));
        }
        let ts = envelope_ms(&v);
        if let Some(t) = ts {
            self.last_venue_ms = Some(self.last_venue_ms.map_or(t, |l| l.max(t)));
        }
        let mut out = Vec::new();
        if text(&v, "channel") == "user" {
            for ev in v["events"].as_array().into_iter().flatten() {
                for o in ev["orders"].as_array().into_iter().flatten() {
                    out.push(StreamEvent::Order(self.order(o, ts.unwrap_or(0))?));
                }
            }
        }
        Ok(out)
    }

    fn resync(&mut self, since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>> {
        Box::pin(async move {
            let margin = i64::try_from(self.inner.stream.resync_margin.as_millis()).unwrap_or(0);
            let since = self
                .last_venue_ms
                .map_or(since_ms, |l| since_ms.min(l - margin));
            let fills = self.inner.fills_since(&self.symbols, since).await?;
            let open = self.inner.open_orders(&self.symbols).await?;
            // Fills first (they are what a gap can lose), then the working orders' state.
            Ok(fills
                .into_iter()
                .map(StreamEvent::Fill)
                .chain(open.into_iter().map(StreamEvent::Order))
                .collect())
        })
    }
}

/// Trade ids delivered (bounded), and per order the quantity delivered as fills.
struct Delivered {
    ids: HashSet<String>,
    order: VecDeque<String>,
    filled: HashMap<String, Decimal>,
    clients: HashMap<String, String>,
}

impl Delivered {
    const CAP: usize = 10_000;

    /// Records `f`; false when it was delivered before.
    fn first_time(&mut self, f: &mut Fill) -> bool {
        let key = format!("{}:{}", f.symbol, f.trade_id);
        if !self.ids.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > Self::CAP
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        *self
            .filled
            .entry(f.venue_order_id.clone())
            .or_insert(Decimal::ZERO) += f.quantity;
        if f.client_order_id.is_none() {
            f.client_order_id = self.clients.get(&f.venue_order_id).cloned();
        }
        true
    }
}

/// Passes the driver's events on and turns growth of an order's filled quantity into the
/// order's fills (read through REST), each delivered once.
async fn follow_fills(
    inner: Arc<Inner>,
    mut events: EventStream,
    tx: mpsc::Sender<Result<StreamEvent, ExchangeError>>,
) {
    let mut seen = Delivered {
        ids: HashSet::new(),
        order: VecDeque::new(),
        filled: HashMap::new(),
        clients: HashMap::new(),
    };
    while let Some(item) = events.next().await {
        let mut out = Vec::new();
        match item {
            Ok(StreamEvent::Fill(mut f)) => {
                if seen.first_time(&mut f) {
                    out.push(Ok(StreamEvent::Fill(f)));
                }
            }
            Ok(StreamEvent::Order(o)) => {
                if let Some(c) = &o.client_order_id {
                    seen.clients.insert(o.venue_order_id.clone(), c.clone());
                }
                let (id, filled) = (o.venue_order_id.clone(), o.filled);
                out.push(Ok(StreamEvent::Order(o)));
                // Fills can lag the order update by a moment: read again a few times.
                for attempt in 0..3u64 {
                    let have = seen.filled.get(&id).copied().unwrap_or(Decimal::ZERO);
                    if have >= filled {
                        break;
                    }
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    let q = [("order_ids", id.clone())];
                    match retry_read(3, || inner.fills(&q)).await {
                        Ok(fills) => {
                            for mut f in fills {
                                if seen.first_time(&mut f) {
                                    out.push(Ok(StreamEvent::Fill(f)));
                                }
                            }
                        }
                        Err(e) => {
                            // The next update or the next resync will deliver them.
                            tracing::warn!(venue = VENUE, error = %e, "stream: cannot read the fills of order {id}");
                            break;
                        }
                    }
                }
            }
            other => out.push(other),
        }
        for ev in out {
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    const KEY: &str = include_str!("../../../../test_data/coinbase/test_ec_key.pem");
    const KEY_PKCS8: &str = include_str!("../../../../test_data/coinbase/test_ec_key_pkcs8.pem");
    const PUB_DER: &[u8] = include_bytes!("../../../../test_data/coinbase/test_ec_pub.der");
    const NAME: &str = "organizations/org-1/apiKeys/key-1";

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn verify(jwt: &str) -> (Value, Value) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(sig.len(), 64, "ES256 signatures are r||s, 64 bytes");
        // The public key is the last 65 bytes of the SubjectPublicKeyInfo DER.
        let point = &PUB_DER[PUB_DER.len() - 65..];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("the Coinbase JWT verifies with the matching public key");
        (decode(parts[0]), decode(parts[1]))
    }

    #[test]
    fn the_coinbase_jwt_verifies_with_the_matching_public_key() {
        let signer = Signer::from_pem(NAME, KEY).unwrap();
        let now = 1_704_153_600;
        let uri = "GET api.coinbase.com/api/v3/brokerage/accounts";
        let jwt = signer.jwt(Some(uri), now).unwrap();
        let (header, claims) = verify(&jwt);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], NAME);
        let nonce = header["nonce"].as_str().unwrap();
        assert_eq!(nonce.len(), 32);
        assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(claims["sub"], NAME);
        assert_eq!(claims["iss"], "cdp");
        assert_eq!(claims["nbf"], now);
        assert_eq!(claims["exp"], now + 120);
        assert_eq!(claims["uri"], uri);
        // Every JWT has its own nonce; websocket JWTs carry no uri.
        let ws = signer.jwt(None, now).unwrap();
        let (h2, c2) = verify(&ws);
        assert_ne!(h2["nonce"], header["nonce"]);
        assert!(c2.get("uri").is_none());
        // A tampered claim no longer verifies.
        let parts: Vec<&str> = jwt.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            claims
                .to_string()
                .replace("accounts", "orders")
                .into_bytes(),
        );
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let point = &PUB_DER[PUB_DER.len() - 65..];
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(format!("{}.{forged}", parts[0]).as_bytes(), &sig)
                .is_err()
        );
    }

    #[test]
    fn pkcs8_and_escaped_newlines_are_accepted_and_junk_is_refused_clearly() {
        let pkcs8 = Signer::from_pem(NAME, KEY_PKCS8).unwrap();
        verify(&pkcs8.jwt(Some("GET h/p"), 1).unwrap());
        let escaped = KEY.trim_end().replace('\n', "\\n");
        let s = Signer::from_pem(NAME, &escaped).unwrap();
        verify(&s.jwt(None, 1).unwrap());
        for junk in [
            "not a pem",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
            "c2VjcmV0",
        ] {
            let e = Signer::from_pem(NAME, junk).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Auth);
            assert!(
                e.message.contains(
                    "the Coinbase secret must be the EC private key PEM from the CDP portal"
                ),
                "{e}"
            );
        }
        assert!(format!("{s:?}").contains("***"));
    }

    #[test]
    fn coinbase_errors_map_to_what_the_caller_can_do() {
        let k = |status, code, preview| map_error(status, code, preview, "m", None).kind;
        assert_eq!(k(401, "UNAUTHENTICATED", ""), ErrorKind::Auth);
        assert_eq!(k(403, "PERMISSION_DENIED", ""), ErrorKind::Auth);
        assert_eq!(k(429, "RATE_LIMIT_EXCEEDED", ""), ErrorKind::RateLimited);
        assert_eq!(k(200, "RATE_LIMIT_EXCEEDED", ""), ErrorKind::RateLimited);
        assert_eq!(
            k(200, "INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND"),
            ErrorKind::InsufficientFunds
        );
        assert_eq!(
            k(200, "UNKNOWN_FAILURE_REASON", "PREVIEW_INSUFFICIENT_FUND"),
            ErrorKind::InsufficientFunds
        );
        assert_eq!(
            k(200, "INVALID_LIMIT_PRICE_POST_ONLY", ""),
            ErrorKind::InvalidOrder
        );
        assert_eq!(
            k(
                200,
                "UNKNOWN_FAILURE_REASON",
                "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL"
            ),
            ErrorKind::InvalidOrder
        );
        assert_eq!(
            k(200, "UNSUPPORTED_ORDER_CONFIGURATION", ""),
            ErrorKind::InvalidOrder
        );
        assert_eq!(k(400, "INVALID_ARGUMENT", ""), ErrorKind::InvalidOrder);
        assert_eq!(k(404, "NOT_FOUND", ""), ErrorKind::UnknownOrder);
        assert_eq!(k(200, "UNKNOWN_CANCEL_ORDER", ""), ErrorKind::UnknownOrder);
        assert_eq!(
            k(200, "DUPLICATE_CLIENT_ORDER_ID", ""),
            ErrorKind::DuplicateOrder
        );
        assert_eq!(k(503, "", ""), ErrorKind::Unavailable);
        assert_eq!(k(500, "INTERNAL", ""), ErrorKind::Unavailable);
        assert_eq!(k(200, "SOMETHING_NEW", ""), ErrorKind::Other);
        let e = map_error(
            429,
            "RATE_LIMIT_EXCEEDED",
            "",
            "Too many requests",
            Some(Duration::from_secs(2)),
        );
        assert!(e.retryable());
        assert_eq!(
            e.to_string(),
            "coinbase: [RATE_LIMIT_EXCEEDED] Too many requests (retry after 2.0 s)"
        );
        assert_eq!(
            map_error(503, "", "", "down", None).code.as_deref(),
            Some("HTTP 503")
        );
    }

    #[test]
    fn orders_become_the_documented_configurations() {
        use skeet_core::{ClientOrderId, Price};
        let d = |x: &str| x.parse::<Decimal>().unwrap();
        let order = |kind, tif| NewOrder {
            symbol: "BTC/USD".into(),
            side: Side::Sell,
            kind,
            quantity: d("0.0100"),
            time_in_force: tif,
            client_order_id: ClientOrderId::new("c-1").unwrap(),
        };
        let p = Price::new(d("30000.50"));
        assert_eq!(
            configuration(&order(OrderKind::Market, TimeInForce::Gtc)).unwrap(),
            json!({"market_market_ioc": {"base_size": "0.01"}})
        );
        assert_eq!(
            configuration(&order(OrderKind::Limit { price: p }, TimeInForce::PostOnly)).unwrap(),
            json!({"limit_limit_gtc": {"base_size": "0.01", "limit_price": "30000.5", "post_only": true}})
        );
        assert!(
            configuration(&order(OrderKind::Limit { price: p }, TimeInForce::Ioc))
                .unwrap()
                .get("sor_limit_ioc")
                .is_some()
        );
        let stop = configuration(&order(
            OrderKind::StopLimit {
                trigger: Price::new(d("29000")),
                price: Price::new(d("28900")),
            },
            TimeInForce::Gtc,
        ))
        .unwrap();
        assert_eq!(
            stop["stop_limit_stop_limit_gtc"]["stop_direction"],
            "STOP_DIRECTION_STOP_DOWN"
        );
        let e = configuration(&order(
            OrderKind::Stop {
                trigger: Price::new(d("29000")),
            },
            TimeInForce::Gtc,
        ))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidOrder);
        assert_eq!(host_of("http://127.0.0.1:8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(host_of(REST_URL).unwrap(), "api.coinbase.com");
    }
}

//! The one async [`Exchange`] trait every venue implements, the configuration a venue is
//! built from, and [`submit`], the idempotent order placement every caller should use.
//!
//! The trait is object safe (`Box<dyn Exchange>`): methods return boxed futures, so the CLI,
//! the API's "test connection" and the bot runtime pick a venue at run time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use skeet_core::{Bar, Timeframe};
use zeroize::Zeroizing;

use crate::error::{ErrorKind, ExchangeError};
use crate::limiter::RateLimiter;
use crate::stream::{EventStream, StreamOptions};
use crate::types::{
    Balance, Fill, Market, NewOrder, OrderBook, OrderInfo, OrderRef, Permissions, Subscription,
    Ticker,
};

/// A venue call's future.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, ExchangeError>> + Send + 'a>>;

/// An API key pair (and Coinbase's key name / Alpaca's key id live in `key`). The secret is
/// wiped from memory on drop and never printed.
#[derive(Clone)]
pub struct Credentials {
    /// API key (Binance, Kraken), key name (Coinbase `organizations/.../apiKeys/...`) or key
    /// id (Alpaca).
    pub key: String,
    /// Secret: HMAC secret (Binance), base64 secret (Kraken), PEM EC private key (Coinbase),
    /// secret key (Alpaca).
    pub secret: Zeroizing<String>,
}

impl Credentials {
    /// A key pair.
    pub fn new(key: &str, secret: &str) -> Self {
        Self {
            key: key.trim().to_string(),
            secret: Zeroizing::new(secret.to_string()),
        }
    }

    /// A short, non-reversible label for rate-limit buckets and logs (first 8 hex digits of
    /// the key's SHA-256).
    pub fn label(&self) -> String {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(self.key.as_bytes())[..4])
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials(key={}, secret=***)", crate::mask(&self.key))
    }
}

/// How to reach a venue. `base_url` replaces every REST and websocket endpoint of the venue
/// (a local test server, a testnet or a sandbox serves them all under one host); without it
/// the venue's production endpoints are used.
#[derive(Clone, Debug)]
pub struct VenueConfig {
    /// Override of the venue's endpoints: `http://127.0.0.1:PORT` for a test server. Websocket
    /// URLs are derived from it (`http` → `ws`, `https` → `wss`).
    pub base_url: Option<String>,
    /// The key pair, for private calls.
    pub credentials: Option<Credentials>,
    /// The process-wide limiter (clones share buckets).
    pub limiter: RateLimiter,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Websocket heartbeat, staleness and reconnect settings.
    pub stream: StreamOptions,
    /// Alpaca: trade on the paper account endpoints.
    pub paper: bool,
}

impl Default for VenueConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            credentials: None,
            limiter: RateLimiter::global(),
            timeout: Duration::from_secs(10),
            stream: StreamOptions::default(),
            paper: false,
        }
    }
}

impl VenueConfig {
    /// The configuration pointing at `base_url` (a test server), with credentials.
    pub fn at(base_url: &str, credentials: Option<Credentials>) -> Self {
        Self {
            base_url: Some(base_url.trim_end_matches('/').to_string()),
            credentials,
            ..Self::default()
        }
    }

    /// The REST root: the override, or the venue's default.
    pub fn rest_url(&self, default: &str) -> String {
        self.base_url.clone().unwrap_or_else(|| default.to_string())
    }

    /// A websocket root: derived from the override, or the venue's default.
    pub fn ws_url(&self, default: &str) -> String {
        match &self.base_url {
            Some(b) => {
                if let Some(rest) = b.strip_prefix("https://") {
                    format!("wss://{rest}")
                } else if let Some(rest) = b.strip_prefix("http://") {
                    format!("ws://{rest}")
                } else {
                    b.clone()
                }
            }
            None => default.to_string(),
        }
    }
}

/// One venue: market data, account, orders and streams, in unified symbols.
///
/// Every method maps the venue's failures to [`ExchangeError`] kinds; private methods without
/// credentials fail with [`ErrorKind::Auth`] before sending anything.
pub trait Exchange: Send + Sync {
    /// The venue's name (`binance`, `kraken`, `coinbase`, `alpaca`, `paper`).
    fn venue(&self) -> &'static str;

    /// Every market with its trading rules.
    fn markets(&self) -> BoxFut<'_, Vec<Market>>;

    /// Best bid/ask and last price.
    fn ticker<'a>(&'a self, symbol: &'a str) -> BoxFut<'a, Ticker>;

    /// The top `depth` levels of the book.
    fn order_book<'a>(&'a self, symbol: &'a str, depth: u32) -> BoxFut<'a, OrderBook>;

    /// Up to `limit` bars whose open time is at or after `since_ms`, oldest first (one page:
    /// callers page by asking again from the last bar's open time plus one timeframe). A bar
    /// that has not closed yet is not returned.
    fn candles<'a>(
        &'a self,
        symbol: &'a str,
        timeframe: Timeframe,
        since_ms: i64,
        limit: u32,
    ) -> BoxFut<'a, Vec<Bar>>;

    /// Non-zero balances.
    fn balances(&self) -> BoxFut<'_, Vec<Balance>>;

    /// Places an order as it is (no retry; use [`submit`] for the idempotent path). The market
    /// rules are checked first when the adapter knows them.
    fn create_order<'a>(&'a self, order: &'a NewOrder) -> BoxFut<'a, OrderInfo>;

    /// Cancels an order.
    fn cancel_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo>;

    /// Looks an order up, by the venue's id or ours. [`ErrorKind::UnknownOrder`] when the venue
    /// has no such order.
    fn fetch_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo>;

    /// Working orders, for one symbol or all.
    fn open_orders<'a>(&'a self, symbol: Option<&'a str>) -> BoxFut<'a, Vec<OrderInfo>>;

    /// Our fills on `symbol` at or after `since_ms`, oldest first.
    fn my_trades<'a>(&'a self, symbol: &'a str, since_ms: i64) -> BoxFut<'a, Vec<Fill>>;

    /// What the key may do (read, trade, withdraw), as far as the venue tells.
    fn permissions(&self) -> BoxFut<'_, Permissions>;

    /// Public market data; reconnects by itself.
    fn market_stream(&self, subs: Vec<Subscription>) -> BoxFut<'_, EventStream>;

    /// Our order and fill updates for `symbols`; reconnects by itself and, after a gap,
    /// recovers missed fills through REST before delivering new events.
    fn user_stream(&self, symbols: Vec<String>) -> BoxFut<'_, EventStream>;
}

/// Places `order` exactly once, whatever happens on the way.
///
/// When the answer is lost (timeout, connection reset) or the venue fails (5xx, rate limit),
/// the order may or may not exist at the venue. Before any retry the order is looked up by its
/// client order id: found means placed (its state is returned); unknown means it is safe to
/// send again. Venues also refuse a second order with the same client id, so even a race with
/// a slow venue cannot place it twice.
///
/// # Errors
/// The venue's refusal (invalid order, funds, auth), or the last failure after `attempts`.
pub async fn submit(
    ex: &dyn Exchange,
    order: &NewOrder,
    attempts: u32,
) -> Result<OrderInfo, ExchangeError> {
    let id = OrderRef::Client(order.client_order_id.as_str().to_string());
    let mut last = None;
    for attempt in 0..attempts.max(1) {
        if attempt > 0 {
            match ex.fetch_order(&order.symbol, &id).await {
                Ok(found) => return Ok(found),
                Err(e) if e.kind == ErrorKind::UnknownOrder => {}
                Err(e) if e.retryable() => {
                    wait_before_retry(&e, attempt).await;
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        match ex.create_order(order).await {
            Ok(info) => return Ok(info),
            Err(e) if e.kind == ErrorKind::DuplicateOrder => {
                return ex.fetch_order(&order.symbol, &id).await;
            }
            Err(e) if e.retryable() => {
                wait_before_retry(&e, attempt).await;
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ExchangeError::network(ex.venue(), "no attempt was made")))
}

async fn wait_before_retry(e: &ExchangeError, attempt: u32) {
    let backoff = Duration::from_millis(100u64 << attempt.min(6));
    tokio::time::sleep(
        e.retry_after
            .unwrap_or(backoff)
            .min(Duration::from_secs(60)),
    )
    .await;
}

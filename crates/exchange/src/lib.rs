//! # skeet-exchange
//!
//! SKEET's venue layer: one async [`Exchange`] trait (markets, ticker, book, candles,
//! balances, orders, fills, market and user streams) in unified symbols, implemented by every
//! venue in [`venues`], on shared foundations: what a venue's failure means for the caller
//! ([`error`]), request signing exactly as each venue documents it ([`sign`]), one rate
//! limiter shared by every bot and user of the process ([`limiter`]), REST plumbing
//! ([`http`]), reconnecting websocket streams with resync ([`stream`]) and symbol mapping
//! ([`symbols`]).
//!
//! Invariants:
//! - Signing is byte-for-byte what the venues' documentation shows: each signer is tested
//!   against the worked example published in that venue's official API docs.
//! - Errors are classified by what the caller can do (fix the order, top up funds, fix the
//!   key, wait, retry), and keep the venue's own code and message.
//! - Every request waits for the shared limiter; a venue's back-off applies to all callers.
//! - An order is placed through [`submit`] at most once: a retry first looks it up by its
//!   client order id.
//! - Money is `Decimal` from the wire to the caller; secrets are never logged or printed.

pub mod api;
pub mod error;
pub mod http;
pub mod limiter;
pub mod sign;
pub mod stream;
pub mod symbols;
pub mod types;
pub mod venues;

pub use api::{BoxFut, Credentials, Exchange, VenueConfig, submit};
pub use error::{ErrorKind, ExchangeError};
pub use limiter::RateLimiter;
pub use stream::{EventStream, StreamOptions};
pub use types::*;
pub use venues::{VENUES, connect};

/// A key shown safely: its first 4 and last 4 characters.
pub fn mask(key: &str) -> String {
    let n = key.chars().count();
    if n <= 8 {
        return "****".to_string();
    }
    let head: String = key.chars().take(4).collect();
    let tail: String = key.chars().skip(n - 4).collect();
    format!("{head}…{tail}")
}

/// Wall-clock milliseconds since the epoch (venue timestamps and nonces).
pub fn now_ms() -> i64 {
    use skeet_core::Clock;
    skeet_core::SystemClock.now().as_millis()
}

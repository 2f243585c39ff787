//! # skeet-exchange
//!
//! The venue layer's foundations, shared by every adapter (Binance, Kraken, Coinbase,
//! Alpaca, paper): what a venue's failure means for the caller ([`error`]), request signing
//! exactly as each venue documents it ([`sign`]), one rate limiter shared by every bot and
//! user of the process ([`limiter`]), and unified symbols mapped to each venue's own
//! ([`symbols`]).
//!
//! Invariants:
//! - Signing is byte-for-byte what the venues' documentation shows: each signer is tested
//!   against the worked example published in that venue's official API docs.
//! - Errors are classified by what the caller can do (fix the order, top up funds, fix the
//!   key, wait, retry), and keep the venue's own code and message.
//! - Secrets are borrowed for the duration of a signature and never stored here.

pub mod error;
pub mod limiter;
pub mod sign;
pub mod symbols;

pub use error::{ErrorKind, ExchangeError};
pub use limiter::RateLimiter;

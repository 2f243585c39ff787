//! # skeet-core
//!
//! The domain values every other SKEET crate speaks: timestamps, prices, quantities, money,
//! instruments, timeframes, OHLCV bars and the order / fill / position types of the trading
//! path.
//!
//! Invariants held by this crate:
//! - Values are checked at construction. An invalid value cannot exist: constructors return
//!   [`ValidationError`], which names the field, the offending value and what would be valid.
//! - Money is exact. [`Price`], [`Quantity`] and [`Money`] are decimal (`rust_decimal`), so
//!   balances, order sizes and fees never drift through binary floating point. Market-data bars
//!   ([`Bar`], [`BarSeries`]) hold `f64` because they are measurements consumed by indicators;
//!   they become exact values only when an order is priced from them, rounded to the
//!   instrument's tick size.
//! - Time is [`UnixNanos`] (signed nanoseconds since the Unix epoch, UTC) everywhere past a
//!   parser. Wall-clock time comes only through a [`Clock`], so engines stay deterministic.
//! - Pure: no I/O, no async runtime, no database or HTTP types.

mod bar;
mod error;
mod inline_str;
mod instrument;
mod num;
mod order;
mod time;
mod timeframe;

pub use bar::{Bar, BarSeries};
pub use error::ValidationError;
pub use instrument::{Instrument, InstrumentId, Symbol, Venue};
pub use num::{Currency, Money, Price, Quantity};
pub use order::{
    ClientOrderId, Fill, InvalidTransition, Order, OrderEvent, OrderKind, OrderRequest,
    OrderStatus, Position, Side, TimeInForce,
};
pub use time::{Clock, FixedClock, SystemClock, UnixNanos};
pub use timeframe::Timeframe;

/// Re-exported so callers construct exact values without naming the decimal crate themselves.
pub use rust_decimal::Decimal;

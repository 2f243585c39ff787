//! The event log: everything that happened in a run, in order. Two runs of the same strategy
//! on the same data with the same settings produce identical logs (property-tested), which
//! is what makes a result reproducible and two results comparable.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_core::{OrderStatus, Side};

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Bar index at which it happened.
    pub bar: usize,
    /// Time, ns since the epoch.
    pub ts: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Kinds of events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// An order passed the risk checks and was sent.
    Submitted {
        /// Order id.
        order: u64,
        /// Instrument index.
        instrument: usize,
        /// Direction.
        side: Side,
        /// Order type and prices.
        trigger: crate::order::Trigger,
        /// Why.
        purpose: crate::order::Purpose,
    },
    /// An order (or part of it) executed.
    Filled {
        /// Order id.
        order: u64,
        /// Direction.
        side: Side,
        /// Units (serialized as a decimal string).
        #[serde(with = "rust_decimal::serde::str")]
        quantity: Decimal,
        /// Price (serialized as a decimal string).
        #[serde(with = "rust_decimal::serde::str")]
        price: Decimal,
        /// Fee (serialized as a decimal string).
        #[serde(with = "rust_decimal::serde::str")]
        fee: Decimal,
        /// Order status after the fill.
        status: OrderStatus,
    },
    /// An order ended without (fully) filling.
    Closed {
        /// Order id.
        order: u64,
        /// Final status (cancelled, expired, rejected).
        status: OrderStatus,
        /// Why.
        reason: String,
    },
    /// The risk manager or the venue refused an intent before it became an order.
    Refused {
        /// Instrument index.
        instrument: usize,
        /// What was asked.
        purpose: String,
        /// Why it was refused.
        reason: String,
    },
    /// A protection paused entries.
    Paused {
        /// Instrument index.
        instrument: usize,
        /// Which protection.
        protection: String,
        /// Until this bar.
        until_bar: usize,
    },
}

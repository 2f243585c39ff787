//! Orders, their state machine, fills and positions: the vocabulary of the trading path shared
//! by backtests, paper and live bots.
//!
//! Invariants:
//! - An [`Order`] changes state only through [`Order::apply`], which accepts exactly the legal
//!   transitions below and rejects everything else with [`InvalidTransition`]:
//!
//!   ```text
//!   New ──submit──▶ Submitted ──accept──▶ Accepted ──fill──▶ PartiallyFilled ──fill──▶ Filled
//!    │                 │  │                  │  │                  │
//!    │                 │  └──fill──────────────────────────────────┘ (venues may fill at once)
//!    └──reject/cancel──┴──reject/cancel/expire──┴──reject/cancel/expire
//!                                                   (partially filled: cancel/expire only)
//!   ```
//!   Filled, Cancelled, Rejected and Expired are terminal.
//! - The filled quantity never exceeds the order quantity; a fill that would overfill is
//!   refused, not clipped, because it signals a bug or a venue mismatch to reconcile.
//! - [`Position`] accounting is exact decimal: realised PnL plus the cash moved equals the sum
//!   of fills, with no rounding.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::inline_str::InlineStr;
use crate::{InstrumentId, Money, Price, Quantity, UnixNanos, ValidationError};

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Acquire the base asset.
    Buy,
    /// Dispose of the base asset.
    Sell,
}

impl Side {
    /// `+1` for buys, `-1` for sells.
    pub fn sign(self) -> Decimal {
        match self {
            Self::Buy => Decimal::ONE,
            Self::Sell => Decimal::NEGATIVE_ONE,
        }
    }

    /// The other side.
    #[must_use]
    pub fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        })
    }
}

/// How an order executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    /// At the best available price.
    Market,
    /// At `price` or better.
    Limit {
        /// Worst acceptable price.
        price: Price,
    },
    /// Becomes a market order once the price trades through `trigger`.
    Stop {
        /// Activation price.
        trigger: Price,
    },
    /// Becomes a limit order at `price` once the price trades through `trigger`.
    StopLimit {
        /// Activation price.
        trigger: Price,
        /// Limit price after activation.
        price: Price,
    },
}

/// How long an order stays working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Good till cancelled.
    #[default]
    Gtc,
    /// Immediate or cancel: fill what is possible now, cancel the rest.
    Ioc,
    /// Fill or kill: fill completely now or not at all.
    Fok,
    /// Post only: rest on the book as maker, or be rejected.
    PostOnly,
}

/// A client order id: up to 36 characters of letters, digits, `-`, `_`, `.`, `:` (the
/// intersection of what the supported venues accept). Derived from the bot's journal so a
/// retry is recognised by the venue instead of placed twice.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientOrderId(InlineStr<36>);

impl ClientOrderId {
    /// Validates an id.
    pub fn new(s: &str) -> Result<Self, ValidationError> {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if !ok {
            return Err(ValidationError::new(
                "client_order_id",
                s,
                "use 1-36 letters, digits, '-', '_', '.' or ':'",
            ));
        }
        InlineStr::new(s)
            .map(Self)
            .ok_or_else(|| ValidationError::new("client_order_id", s, "at most 36 characters"))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({})", self.as_str())
    }
}

impl FromStr for ClientOrderId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for ClientOrderId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ClientOrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// What a strategy asks for. It becomes an [`Order`] only after the risk manager approves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Idempotency key.
    pub client_order_id: ClientOrderId,
    /// What to trade.
    pub instrument: InstrumentId,
    /// Direction.
    pub side: Side,
    /// Amount of the base asset.
    pub quantity: Quantity,
    /// Execution style.
    pub kind: OrderKind,
    /// Lifetime.
    pub time_in_force: TimeInForce,
    /// Only reduce an existing position, never open or increase one.
    pub reduce_only: bool,
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created and journaled, not yet sent.
    New,
    /// Sent to the venue, no answer yet.
    Submitted,
    /// Acknowledged and working at the venue.
    Accepted,
    /// Some quantity filled, the rest working.
    PartiallyFilled,
    /// Completely filled (terminal).
    Filled,
    /// Cancelled with the remainder unfilled (terminal).
    Cancelled,
    /// Refused by risk checks or the venue (terminal).
    Rejected,
    /// Lifetime ended with the remainder unfilled (terminal).
    Expired,
}

impl OrderStatus {
    /// True for states an order never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Cancelled | Self::Rejected | Self::Expired
        )
    }

    /// True while the order may still fill.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::Accepted | Self::PartiallyFilled
        )
    }
}

/// Something that happened to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderEvent {
    /// Sent to the venue.
    Submitted {
        /// When it was sent.
        ts: UnixNanos,
    },
    /// The venue acknowledged it.
    Accepted {
        /// When the venue accepted it.
        ts: UnixNanos,
    },
    /// Refused.
    Rejected {
        /// When it was refused.
        ts: UnixNanos,
        /// Why, as the venue or risk manager said it.
        reason: String,
    },
    /// Some or all of the quantity executed.
    Filled(Fill),
    /// Cancelled.
    Cancelled {
        /// When it was cancelled.
        ts: UnixNanos,
    },
    /// Lifetime ended.
    Expired {
        /// When it expired.
        ts: UnixNanos,
    },
}

/// An event that is not legal in the order's current state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("order {client_order_id}: cannot apply {event} in state {from:?}: {reason}")]
pub struct InvalidTransition {
    /// The order.
    pub client_order_id: ClientOrderId,
    /// Its state when the event arrived.
    pub from: OrderStatus,
    /// The event's name.
    pub event: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// One execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The order that filled.
    pub client_order_id: ClientOrderId,
    /// What traded.
    pub instrument: InstrumentId,
    /// Direction.
    pub side: Side,
    /// Executed amount (base asset).
    pub quantity: Quantity,
    /// Execution price.
    pub price: Price,
    /// Fee charged (usually quote currency).
    pub fee: Money,
    /// True when the fill added liquidity.
    pub maker: bool,
    /// Venue time of the execution.
    pub ts: UnixNanos,
}

/// An order and its progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// What was asked.
    pub request: OrderRequest,
    /// Current state.
    pub status: OrderStatus,
    /// Executed so far.
    pub filled: Quantity,
    /// Sum of price × quantity over fills (for the average price).
    #[serde(with = "rust_decimal::serde::str")]
    pub filled_notional: Decimal,
    /// When the order was created.
    pub ts_init: UnixNanos,
    /// When the order last changed.
    pub ts_last: UnixNanos,
}

impl Order {
    /// A new order from an approved request.
    pub fn new(request: OrderRequest, ts_init: UnixNanos) -> Self {
        Self {
            request,
            status: OrderStatus::New,
            filled: Quantity::ZERO,
            filled_notional: Decimal::ZERO,
            ts_init,
            ts_last: ts_init,
        }
    }

    /// Quantity not yet filled.
    pub fn remaining(&self) -> Quantity {
        self.request
            .quantity
            .checked_sub(self.filled)
            .unwrap_or(Quantity::ZERO)
    }

    /// Volume-weighted average fill price, if anything filled.
    pub fn avg_fill_price(&self) -> Option<Price> {
        (!self.filled.is_zero())
            .then(|| Price::new(self.filled_notional / self.filled.as_decimal()))
    }

    /// Applies an event, enforcing the state machine in the module docs.
    pub fn apply(&mut self, event: &OrderEvent) -> Result<(), InvalidTransition> {
        use OrderStatus as S;
        let from = self.status;
        let (name, ts, to) = match event {
            OrderEvent::Submitted { ts } => (
                "submitted",
                *ts,
                matches!(from, S::New).then_some(S::Submitted),
            ),
            OrderEvent::Accepted { ts } => (
                "accepted",
                *ts,
                matches!(from, S::Submitted).then_some(S::Accepted),
            ),
            // A venue may also reject an order it had acknowledged but not filled (a margin or
            // post-only check at execution time).
            OrderEvent::Rejected { ts, .. } => (
                "rejected",
                *ts,
                matches!(from, S::New | S::Submitted | S::Accepted).then_some(S::Rejected),
            ),
            OrderEvent::Cancelled { ts } => (
                "cancelled",
                *ts,
                (from == S::New || from.is_open()).then_some(S::Cancelled),
            ),
            OrderEvent::Expired { ts } => ("expired", *ts, from.is_open().then_some(S::Expired)),
            OrderEvent::Filled(fill) => {
                if !from.is_open() {
                    ("filled", fill.ts, None)
                } else {
                    let filled = self.filled + fill.quantity;
                    if fill.quantity.is_zero() || filled > self.request.quantity {
                        return Err(self.invalid(
                            "filled",
                            format!(
                                "fill of {} would make {} filled of {} ordered",
                                fill.quantity, filled, self.request.quantity
                            ),
                        ));
                    }
                    if fill.side != self.request.side
                        || fill.client_order_id != self.request.client_order_id
                    {
                        return Err(self
                            .invalid("filled", "fill side or id does not match the order".into()));
                    }
                    self.filled = filled;
                    self.filled_notional += fill.price * fill.quantity;
                    let to = if filled == self.request.quantity {
                        S::Filled
                    } else {
                        S::PartiallyFilled
                    };
                    ("filled", fill.ts, Some(to))
                }
            }
        };
        match to {
            Some(to) => {
                self.status = to;
                self.ts_last = ts;
                Ok(())
            }
            None => Err(self.invalid(name, "not a legal transition".into())),
        }
    }

    fn invalid(&self, event: &'static str, reason: String) -> InvalidTransition {
        InvalidTransition {
            client_order_id: self.request.client_order_id,
            from: self.status,
            event,
            reason,
        }
    }
}

/// Net holding of one instrument with exact average price and realised PnL.
///
/// `quantity` is signed: positive long, negative short. Fees are tracked separately from
/// realised PnL so reports can show both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// What is held.
    pub instrument: InstrumentId,
    /// Signed size in base units.
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    /// Average entry price of the open quantity (0 when flat), for display: `cost / |quantity|`
    /// rounded to 28 digits. Accounting uses `cost`, which is exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub avg_price: Decimal,
    /// Exact cost basis of the open quantity: the sum of price × quantity over the entry fills
    /// still held (always >= 0; for a short, the proceeds).
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
    /// PnL realised by reducing or closing, in quote currency, before fees.
    #[serde(with = "rust_decimal::serde::str")]
    pub realized_pnl: Decimal,
    /// Total fees paid on this instrument.
    #[serde(with = "rust_decimal::serde::str")]
    pub fees: Decimal,
}

impl Position {
    /// A flat position.
    pub fn flat(instrument: InstrumentId) -> Self {
        Self {
            instrument,
            quantity: Decimal::ZERO,
            avg_price: Decimal::ZERO,
            cost: Decimal::ZERO,
            realized_pnl: Decimal::ZERO,
            fees: Decimal::ZERO,
        }
    }

    /// Applies a fill and returns the PnL it realised.
    pub fn apply_fill(&mut self, fill: &Fill) -> Decimal {
        let signed = fill.side.sign() * fill.quantity.as_decimal();
        let price = fill.price.as_decimal();
        self.fees += fill.fee.amount;
        let same_direction = self.quantity.is_zero()
            || (self.quantity.is_sign_positive() == signed.is_sign_positive());
        if same_direction {
            self.quantity += signed;
            self.cost += price * signed.abs();
            self.avg_price = self.cost / self.quantity.abs();
            return Decimal::ZERO;
        }
        let held = self.quantity.abs();
        let closing = signed.abs().min(held);
        let long = self.quantity.is_sign_positive();
        // The cost leaving with the closed part. Rounding (a cost that does not divide evenly)
        // only moves value between realised and unrealised PnL: the cost removed here is
        // exactly the cost no longer held, so their sum stays exact.
        // Rounded to the cost's own decimals, so `cost - released` and `proceeds - released`
        // stay exact within the decimal's 28 digits.
        let released = if closing == held {
            self.cost
        } else {
            (self.cost * closing / held).round_dp(self.cost.scale())
        };
        let proceeds = price * closing;
        let pnl = if long {
            proceeds - released
        } else {
            released - proceeds
        };
        self.realized_pnl += pnl;
        self.cost -= released;
        self.quantity += signed;
        if self.quantity.is_zero() {
            self.avg_price = Decimal::ZERO;
            self.cost = Decimal::ZERO;
        } else if self.quantity.is_sign_positive() != long {
            // Flipped through zero: the remainder opened at the fill price.
            self.avg_price = price;
            self.cost = price * self.quantity.abs();
        } else {
            self.avg_price = self.cost / self.quantity.abs();
        }
        pnl
    }

    /// Unrealised PnL at `mark`, exactly (from the cost basis).
    pub fn unrealized_pnl(&self, mark: Price) -> Decimal {
        let value = mark.as_decimal() * self.quantity.abs();
        if self.quantity.is_sign_positive() {
            value - self.cost
        } else {
            self.cost - value
        }
    }

    /// True when nothing is held.
    pub fn is_flat(&self) -> bool {
        self.quantity.is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn request(qty: &str) -> OrderRequest {
        OrderRequest {
            client_order_id: ClientOrderId::new("bot1-000001").unwrap(),
            instrument: "binance:BTC/USDT".parse().unwrap(),
            side: Side::Buy,
            quantity: qty.parse().unwrap(),
            kind: OrderKind::Market,
            time_in_force: TimeInForce::Gtc,
            reduce_only: false,
        }
    }

    fn fill(req: &OrderRequest, side: Side, qty: &str, price: &str) -> Fill {
        Fill {
            client_order_id: req.client_order_id,
            instrument: req.instrument,
            side,
            quantity: qty.parse().unwrap(),
            price: price.parse().unwrap(),
            fee: Money::new(d("0.1"), Currency::new("USDT").unwrap()),
            maker: false,
            ts: UnixNanos::new(2),
        }
    }

    #[test]
    fn order_walks_the_legal_path_and_refuses_overfill() {
        let req = request("2");
        let mut o = Order::new(req, UnixNanos::new(1));
        o.apply(&OrderEvent::Submitted {
            ts: UnixNanos::new(1),
        })
        .unwrap();
        o.apply(&OrderEvent::Accepted {
            ts: UnixNanos::new(1),
        })
        .unwrap();
        o.apply(&OrderEvent::Filled(fill(&req, Side::Buy, "0.5", "100")))
            .unwrap();
        assert_eq!(o.status, OrderStatus::PartiallyFilled);
        let err = o
            .apply(&OrderEvent::Filled(fill(&req, Side::Buy, "2", "100")))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("would make 2.5 filled of 2 ordered"),
            "{err}"
        );
        o.apply(&OrderEvent::Filled(fill(&req, Side::Buy, "1.5", "104")))
            .unwrap();
        assert_eq!(o.status, OrderStatus::Filled);
        assert_eq!(o.avg_fill_price().unwrap().as_decimal(), d("103"));
        let err = o
            .apply(&OrderEvent::Cancelled {
                ts: UnixNanos::new(3),
            })
            .unwrap_err();
        assert_eq!(err.from, OrderStatus::Filled);
    }

    #[test]
    fn terminal_states_are_final() {
        let mut o = Order::new(request("1"), UnixNanos::new(1));
        o.apply(&OrderEvent::Rejected {
            ts: UnixNanos::new(1),
            reason: "min notional".into(),
        })
        .unwrap();
        assert!(o.status.is_terminal());
        assert!(
            o.apply(&OrderEvent::Submitted {
                ts: UnixNanos::new(2)
            })
            .is_err()
        );
    }

    #[test]
    fn position_realises_exact_pnl_through_a_flip() {
        let req = request("1");
        let mut p = Position::flat(req.instrument);
        p.apply_fill(&fill(&req, Side::Buy, "1", "100.10"));
        p.apply_fill(&fill(&req, Side::Buy, "1", "100.20"));
        assert_eq!(p.avg_price, d("100.15"));
        let pnl = p.apply_fill(&fill(&req, Side::Sell, "3", "101"));
        assert_eq!(pnl, d("1.70"));
        assert_eq!(p.quantity, d("-1"));
        assert_eq!(p.avg_price, d("101"));
        assert_eq!(p.unrealized_pnl("100".parse().unwrap()), d("1"));
        assert_eq!(p.fees, d("0.3"));
    }

    #[test]
    fn client_order_id_rules() {
        assert!(
            ClientOrderId::new("a b")
                .unwrap_err()
                .to_string()
                .contains("letters, digits")
        );
        assert!(ClientOrderId::new(&"x".repeat(37)).is_err());
    }
}

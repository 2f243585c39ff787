//! Orders as the engine works them: what to do ([`OrderIntent`]), the risk-approved wrapper
//! ([`RiskApproved`]) that is the only way to reach a venue, and the working order with its
//! state machine (`skeet_core::Order`, whose `apply` refuses illegal transitions).

use std::fmt;

use serde::{Deserialize, Serialize};
use skeet_core::{Order, Side, TimeInForce};

/// How an order executes in the simulated venue.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// At the next fill opportunity.
    Market,
    /// At `price` or better.
    Limit {
        /// Limit price.
        price: f64,
    },
    /// Market once the price trades through `price`.
    Stop {
        /// Trigger price.
        price: f64,
    },
    /// Limit at `limit` once the price trades through `stop`.
    StopLimit {
        /// Trigger price.
        stop: f64,
        /// Limit price after triggering.
        limit: f64,
    },
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Market => f.write_str("market"),
            Self::Limit { price } => write!(f, "limit {price}"),
            Self::Stop { price } => write!(f, "stop {price}"),
            Self::StopLimit { stop, limit } => write!(f, "stop {stop} limit {limit}"),
        }
    }
}

/// How much, decided when the order fills (so an all-in entry after an exit uses the equity
/// the exit left, at the price the entry actually gets, as backtesting.py does).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Size {
    /// Exactly this many units.
    Units(f64),
    /// All equity (fees included), whole lots.
    AllIn,
    /// A percentage of equity.
    PctEquity(f64),
    /// An amount of quote currency.
    Quote(f64),
    /// Risk `pct` of equity between the fill price and `stop`.
    Risk {
        /// Percent of equity.
        pct: f64,
        /// Stop distance from the entry, in price units.
        distance: f64,
    },
    /// Whatever the position holds at fill time (exits).
    ClosePosition,
}

/// Why an order exists (reports, and which orders cancel which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Opens or adds to a position.
    Entry,
    /// Closes on a strategy signal.
    Exit,
    /// Protective stop.
    StopLoss,
    /// Profit target.
    TakeProfit,
    /// Trailing stop.
    TrailingStop,
    /// Time stop.
    TimeStop,
    /// Placed by a code strategy or a user.
    Manual,
    /// Closes what is still open when a test window ends (walk-forward), so every window's
    /// result is realised, fees included, and the next window starts flat.
    EndOfTest,
}

impl Purpose {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entry => "entry",
            Self::Exit => "signal",
            Self::StopLoss => "stop_loss",
            Self::TakeProfit => "take_profit",
            Self::TrailingStop => "trailing_stop",
            Self::TimeStop => "time_stop",
            Self::Manual => "manual",
            Self::EndOfTest => "end_of_test",
        }
    }

    /// True for orders that close (part of) a position.
    pub fn is_exit(self) -> bool {
        !matches!(self, Self::Entry | Self::Manual)
    }
}

/// What a strategy (through the engine) wants done.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderIntent {
    /// Instrument index.
    pub instrument: usize,
    /// Direction.
    pub side: Side,
    /// Execution style.
    pub trigger: Trigger,
    /// Quantity rule.
    pub size: Size,
    /// Lifetime.
    pub tif: TimeInForce,
    /// Cancel if not filled by this bar (inclusive).
    pub expires_bar: Option<usize>,
    /// Why.
    pub purpose: Purpose,
    /// Orders sharing a group cancel each other when one fills (one-cancels-other).
    pub oco: Option<u64>,
}

/// An intent the risk manager approved. Only [`crate::risk::RiskManager::check`] creates one,
/// so holding a `RiskApproved` proves the checks ran.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RiskApproved<T>(T);

impl<T> RiskApproved<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self(inner)
    }

    /// The approved value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Unwraps the approved value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// An order working at the (simulated) venue.
#[derive(Clone, Debug)]
pub struct WorkingOrder {
    /// Engine order id (also encoded in the client order id).
    pub id: u64,
    /// What was asked.
    pub intent: OrderIntent,
    /// Bar at which it was submitted; it can fill from the next bar on.
    pub submitted_bar: usize,
    /// Resolved quantity once known (after the first fill for sized intents).
    pub quantity: Option<f64>,
    /// The state machine and fill totals.
    pub order: Order,
    /// Highest high (long) / lowest low (short) seen since the position opened, for trailing
    /// stops.
    pub extreme: f64,
}

//! The venue-neutral vocabulary every adapter speaks: markets with their trading rules,
//! tickers, books, balances, orders, fills and stream events. Prices, quantities, balances and
//! fees are exact decimals; only candles (market data for indicators) are `f64` bars.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_core::{Bar, ClientOrderId, OrderKind, Side, TimeInForce};

use crate::error::{ErrorKind, ExchangeError};

/// Whether a market accepts orders now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketStatus {
    /// Open for trading.
    Trading,
    /// Listed but not accepting orders (halted, pre-trading, post-only phase, break).
    Halted,
    /// Closed for the session (stocks outside market hours).
    Closed,
}

/// A tradable market and the rules an order must meet before it is sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Market {
    /// Unified symbol, `BASE/QUOTE`.
    pub symbol: String,
    /// The venue's own name for it.
    pub venue_symbol: String,
    /// Base asset.
    pub base: String,
    /// Quote asset.
    pub quote: String,
    /// Trading state.
    pub status: MarketStatus,
    /// Prices must be multiples of this (0: no rule).
    pub tick_size: Decimal,
    /// Quantities must be multiples of this (0: no rule).
    pub step_size: Decimal,
    /// Smallest quantity.
    pub min_qty: Decimal,
    /// Smallest `price × quantity` in the quote asset.
    pub min_notional: Decimal,
}

impl Market {
    /// Checks an order against the market's precision, size and notional rules, so a bad
    /// order is refused here with a clear reason instead of costing a request (and rate-limit
    /// weight) at the venue. `reference` prices a market order's notional.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidOrder`] naming the rule broken and the nearest valid value.
    pub fn check(
        &self,
        venue: &'static str,
        order: &NewOrder,
        reference: Option<Decimal>,
    ) -> Result<(), ExchangeError> {
        let bad = |m: String| ExchangeError::invalid(venue, &m);
        if self.status != MarketStatus::Trading {
            return Err(bad(format!(
                "{} is not trading now ({:?})",
                self.symbol, self.status
            )));
        }
        let q = order.quantity;
        if q <= Decimal::ZERO {
            return Err(bad("quantity must be above zero".into()));
        }
        if !self.step_size.is_zero() && !(q % self.step_size).is_zero() {
            let fixed = (q / self.step_size).floor() * self.step_size;
            return Err(bad(format!(
                "quantity {q} is not a multiple of the step size {} of {}; use {}",
                self.step_size.normalize(),
                self.symbol,
                fixed.normalize()
            )));
        }
        if q < self.min_qty {
            return Err(bad(format!(
                "quantity {q} is below the minimum {} of {}",
                self.min_qty.normalize(),
                self.symbol
            )));
        }
        for p in order.prices() {
            if p <= Decimal::ZERO {
                return Err(bad(format!("price {p} must be above zero")));
            }
            if !self.tick_size.is_zero() && !(p % self.tick_size).is_zero() {
                let fixed = (p / self.tick_size).floor() * self.tick_size;
                return Err(bad(format!(
                    "price {p} is not a multiple of the tick size {} of {}; use {}",
                    self.tick_size.normalize(),
                    self.symbol,
                    fixed.normalize()
                )));
            }
        }
        let price = order.prices().first().copied().or(reference);
        if let Some(p) = price {
            let notional = p * q;
            if notional < self.min_notional {
                return Err(bad(format!(
                    "order value {} {} is below the minimum notional {} {} of {}",
                    notional.normalize(),
                    self.quote,
                    self.min_notional.normalize(),
                    self.quote,
                    self.symbol
                )));
            }
        }
        Ok(())
    }
}

/// Best prices and the last trade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticker {
    /// Unified symbol.
    pub symbol: String,
    /// Best bid.
    pub bid: Option<Decimal>,
    /// Best ask.
    pub ask: Option<Decimal>,
    /// Last traded price.
    pub last: Option<Decimal>,
    /// Traded base volume over the venue's rolling 24 h (when it reports one).
    pub volume_24h: Option<Decimal>,
    /// Venue time, ms since the epoch (0 when the venue gives none).
    pub ts_ms: i64,
}

/// One price level: price and quantity.
pub type Level = (Decimal, Decimal);

/// An order book snapshot, best levels first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderBook {
    /// Unified symbol.
    pub symbol: String,
    /// Bids, highest first.
    pub bids: Vec<Level>,
    /// Asks, lowest first.
    pub asks: Vec<Level>,
    /// Venue time, ms since the epoch (0 when the venue gives none).
    pub ts_ms: i64,
}

/// An asset balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Asset code as the venue names it, unified (`BTC`, not `XXBT`).
    pub asset: String,
    /// Available.
    pub free: Decimal,
    /// Held by open orders.
    pub locked: Decimal,
}

/// An order to place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewOrder {
    /// Unified symbol.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// Market / limit / stop / stop-limit.
    pub kind: OrderKind,
    /// Base quantity.
    pub quantity: Decimal,
    /// Lifetime.
    pub time_in_force: TimeInForce,
    /// Idempotency key, derived from the journal: the venue refuses a second order with the
    /// same id, and a lost answer is recovered by looking the order up by it.
    pub client_order_id: ClientOrderId,
}

impl NewOrder {
    /// The limit price, for limit and stop-limit orders.
    pub fn limit_price(&self) -> Option<Decimal> {
        match self.kind {
            OrderKind::Limit { price } | OrderKind::StopLimit { price, .. } => {
                Some(price.as_decimal())
            }
            OrderKind::Market | OrderKind::Stop { .. } => None,
        }
    }

    /// The order as the venue holds it right after accepting it under `venue_order_id`
    /// (working, nothing filled yet), at `ts_ms`.
    pub fn accepted(&self, venue_order_id: String, ts_ms: i64) -> OrderInfo {
        OrderInfo {
            venue_order_id,
            client_order_id: Some(self.client_order_id.as_str().to_string()),
            symbol: self.symbol.clone(),
            side: self.side,
            price: self.limit_price(),
            quantity: self.quantity,
            filled: Decimal::ZERO,
            avg_price: None,
            state: OrderState::Open,
            ts_ms,
        }
    }

    /// The limit and trigger prices the order carries.
    pub fn prices(&self) -> Vec<Decimal> {
        match self.kind {
            OrderKind::Market => vec![],
            OrderKind::Limit { price } => vec![price.as_decimal()],
            OrderKind::Stop { trigger } => vec![trigger.as_decimal()],
            OrderKind::StopLimit { trigger, price } => {
                vec![price.as_decimal(), trigger.as_decimal()]
            }
        }
    }
}

/// Where an order is, as the venue reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Working, nothing filled.
    Open,
    /// Working, some quantity filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled (possibly after partial fills).
    Cancelled,
    /// Refused by the venue.
    Rejected,
    /// Expired (IOC/FOK remainder, day order at the close).
    Expired,
}

impl OrderState {
    /// No further change will happen.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Open | Self::PartiallyFilled)
    }
}

/// An order as the venue knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderInfo {
    /// The venue's id.
    pub venue_order_id: String,
    /// Our id, when the order carried one.
    pub client_order_id: Option<String>,
    /// Unified symbol.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// Limit price, when there is one.
    pub price: Option<Decimal>,
    /// Ordered base quantity.
    pub quantity: Decimal,
    /// Filled so far.
    pub filled: Decimal,
    /// Average fill price, when anything filled.
    pub avg_price: Option<Decimal>,
    /// State.
    pub state: OrderState,
    /// Venue time of the last update, ms since the epoch.
    pub ts_ms: i64,
}

/// One execution of one of our orders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// The venue's trade id (unique per venue and symbol): the key that de-duplicates fills
    /// seen both on the stream and in a resync.
    pub trade_id: String,
    /// The venue's order id.
    pub venue_order_id: String,
    /// Our order id, when known.
    pub client_order_id: Option<String>,
    /// Unified symbol.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// Execution price.
    pub price: Decimal,
    /// Executed base quantity.
    pub quantity: Decimal,
    /// Fee charged.
    pub fee: Decimal,
    /// Asset the fee was charged in.
    pub fee_asset: String,
    /// True when we provided liquidity.
    pub maker: bool,
    /// Venue time, ms since the epoch.
    pub ts_ms: i64,
}

/// An order to cancel or look up: by the venue's id or by ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderRef {
    /// The venue's order id.
    Venue(String),
    /// Our client order id.
    Client(String),
}

/// A market-data subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Subscription {
    /// Public trades.
    Trades {
        /// Unified symbol.
        symbol: String,
    },
    /// Best bid and ask.
    BestBidAsk {
        /// Unified symbol.
        symbol: String,
    },
    /// Candles of one timeframe, e.g. `1m`.
    Candles {
        /// Unified symbol.
        symbol: String,
        /// Timeframe, e.g. `1m`, `1h`.
        timeframe: String,
    },
}

/// What a stream delivers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// A public trade.
    Trade {
        /// Unified symbol.
        symbol: String,
        /// Price.
        price: Decimal,
        /// Base quantity.
        quantity: Decimal,
        /// Venue time, ms.
        ts_ms: i64,
    },
    /// Best bid and ask changed.
    BestBidAsk {
        /// Unified symbol.
        symbol: String,
        /// Best bid.
        bid: Decimal,
        /// Best ask.
        ask: Decimal,
        /// Venue time, ms (0 when none).
        ts_ms: i64,
    },
    /// A candle update; `closed` marks the final state of the bar.
    Candle {
        /// Unified symbol.
        symbol: String,
        /// Timeframe as subscribed.
        timeframe: String,
        /// The bar (open time in `ts`).
        bar: Bar,
        /// The bar is complete.
        closed: bool,
    },
    /// One of our orders changed.
    Order(OrderInfo),
    /// One of our orders filled (possibly partly).
    Fill(Fill),
    /// The connection was lost and re-established (`gap_ms` without data); any fills in the
    /// gap follow as [`StreamEvent::Fill`] events from a REST resync.
    Reconnected {
        /// How long the stream was down.
        gap_ms: i64,
    },
}

/// An API key's rights, as far as the venue tells them (for "test connection").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Can read balances and orders.
    pub read: bool,
    /// Can place and cancel orders.
    pub trade: bool,
    /// Can withdraw funds: a key for a bot should not.
    pub withdraw: bool,
    /// Restricted to whitelisted IPs, when the venue says.
    pub ip_restricted: Option<bool>,
}

impl ExchangeError {
    /// An order refused before sending.
    pub fn invalid(venue: &'static str, message: &str) -> Self {
        Self {
            kind: ErrorKind::InvalidOrder,
            venue,
            code: None,
            message: message.to_string(),
            retry_after: None,
        }
    }

    /// A response the adapter could not understand (the venue changed its format, or the URL
    /// does not point at the venue).
    pub fn protocol(venue: &'static str, message: &str) -> Self {
        Self {
            kind: ErrorKind::Other,
            venue,
            code: None,
            message: message.to_string(),
            retry_after: None,
        }
    }

    /// A private call without a key.
    pub fn no_credentials(venue: &'static str) -> Self {
        Self {
            kind: ErrorKind::Auth,
            venue,
            code: None,
            message: format!(
                "this call needs an API key; set SKEET_{}_API_KEY and SKEET_{}_API_SECRET or pick a vault credential",
                venue.to_ascii_uppercase(),
                venue.to_ascii_uppercase()
            ),
            retry_after: None,
        }
    }
}

/// Parses a venue decimal string, naming the field when it is not a number.
///
/// # Errors
/// A protocol error naming the field.
pub fn dec(venue: &'static str, field: &str, s: &str) -> Result<Decimal, ExchangeError> {
    s.trim()
        .parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(s.trim()))
        .map_err(|_| ExchangeError::protocol(venue, &format!("{field}: '{s}' is not a decimal")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;
    use skeet_core::Price;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn market() -> Market {
        Market {
            symbol: "BTC/USDT".into(),
            venue_symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            status: MarketStatus::Trading,
            tick_size: d("0.01"),
            step_size: d("0.00001"),
            min_qty: d("0.00001"),
            min_notional: d("5"),
        }
    }

    fn order(q: &str, price: Option<&str>) -> NewOrder {
        NewOrder {
            symbol: "BTC/USDT".into(),
            side: Side::Buy,
            kind: price.map_or(OrderKind::Market, |p| OrderKind::Limit {
                price: Price::new(d(p)),
            }),
            quantity: d(q),
            time_in_force: TimeInForce::Gtc,
            client_order_id: ClientOrderId::new("t-1").unwrap(),
        }
    }

    #[test]
    fn orders_breaking_the_market_rules_are_refused_with_the_fix() {
        let m = market();
        assert!(
            m.check("binance", &order("0.001", Some("30000.01")), None)
                .is_ok()
        );
        let e = m
            .check("binance", &order("0.0010001", Some("30000")), None)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidOrder);
        assert!(e.message.contains("step size 0.00001") && e.message.contains("use 0.001"));
        let e = m
            .check("binance", &order("0.001", Some("30000.005")), None)
            .unwrap_err();
        assert!(e.message.contains("tick size 0.01"), "{e}");
        let e = m
            .check("binance", &order("0.0001", Some("30000")), None)
            .unwrap_err();
        assert!(e.message.contains("minimum notional 5 USDT"), "{e}");
        // A market order is priced by the reference; without one only size rules apply.
        assert!(m.check("binance", &order("0.0001", None), None).is_ok());
        assert!(
            m.check("binance", &order("0.0001", None), Some(d("30000")))
                .is_err()
        );
        let halted = Market {
            status: MarketStatus::Halted,
            ..market()
        };
        assert!(
            halted
                .check("binance", &order("0.001", Some("30000")), None)
                .unwrap_err()
                .message
                .contains("not trading")
        );
    }

    #[test]
    fn decimals_parse_plain_and_scientific() {
        assert_eq!(dec("x", "p", "0.00100000").unwrap(), d("0.001"));
        assert_eq!(dec("x", "p", "1e-8").unwrap(), d("0.00000001"));
        assert!(
            dec("x", "price", "abc")
                .unwrap_err()
                .message
                .contains("price")
        );
    }
}

//! Where and what is traded: [`Venue`], [`Symbol`], [`InstrumentId`] and the trading rules of
//! an [`Instrument`].
//!
//! Unified symbol form: `BASE/QUOTE` for pairs (`BTC/USDT`, `AAPL/USD`) or a bare ticker for
//! a listed stock (`AAPL`, `BRK.B`). Symbols are uppercase ASCII letters, digits, `.` and `-`,
//! with at most one `/`. The underscore is never part of a symbol, so `BTC_USDT` can stand for
//! `BTC/USDT` in file paths. Venue names are lowercase (`binance`, `kraken`, `local`).
//!
//! An [`InstrumentId`] prints as `venue:SYMBOL` (`binance:BTC/USDT`).

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::inline_str::InlineStr;
use crate::{Currency, Price, Quantity, ValidationError};

/// A trading venue (exchange, broker, or `local` for imported data).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Venue(InlineStr<23>);

impl Venue {
    /// Validates and lowercases a venue name: letters, digits, `-` and `_`, 1 to 23 characters.
    pub fn new(name: &str) -> Result<Self, ValidationError> {
        let lower = name.trim().to_ascii_lowercase();
        if lower.is_empty()
            || !lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ValidationError::new(
                "venue",
                name,
                "use letters, digits, '-' or '_', e.g. binance, kraken, local",
            ));
        }
        InlineStr::new(&lower)
            .map(Self)
            .ok_or_else(|| ValidationError::new("venue", name, "at most 23 characters"))
    }

    /// The name, e.g. `"binance"`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A unified symbol: `BASE/QUOTE` or a ticker.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol(InlineStr<31>);

impl Symbol {
    /// Validates and uppercases a symbol. `BTC-USDT` style input is **not** rewritten: a dash
    /// is legal inside tickers (`BF-B`), so pairs must be written with `/`.
    pub fn new(s: &str) -> Result<Self, ValidationError> {
        let upper = s.trim().to_ascii_uppercase();
        let hint =
            "use BASE/QUOTE such as BTC/USDT, or a ticker such as AAPL (letters, digits, '.', '-')";
        if upper.is_empty() {
            return Err(ValidationError::new("symbol", s, hint));
        }
        if !upper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-'))
        {
            return Err(ValidationError::new("symbol", s, hint));
        }
        let slashes = upper.bytes().filter(|&b| b == b'/').count();
        if slashes > 1 || upper.starts_with('/') || upper.ends_with('/') {
            return Err(ValidationError::new("symbol", s, hint));
        }
        InlineStr::new(&upper)
            .map(Self)
            .ok_or_else(|| ValidationError::new("symbol", s, "at most 31 characters"))
    }

    /// The symbol, e.g. `"BTC/USDT"`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The base asset (`BTC` of `BTC/USDT`); a ticker is its own base.
    pub fn base(&self) -> &str {
        self.as_str().split('/').next().unwrap_or_default()
    }

    /// The quote asset (`USDT` of `BTC/USDT`), `None` for a bare ticker.
    pub fn quote(&self) -> Option<&str> {
        self.as_str().split_once('/').map(|(_, q)| q)
    }

    /// A form safe in file and directory names: `/` becomes `_` (`BTC_USDT`).
    pub fn to_path_component(&self) -> String {
        self.as_str().replace('/', "_")
    }

    /// Inverse of [`Symbol::to_path_component`].
    pub fn from_path_component(s: &str) -> Result<Self, ValidationError> {
        Self::new(&s.replace('_', "/"))
    }
}

/// A venue plus a symbol: the identity of a tradable instrument.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstrumentId {
    /// Where it trades.
    pub venue: Venue,
    /// What trades.
    pub symbol: Symbol,
}

impl InstrumentId {
    /// Combines a venue and a symbol.
    pub const fn new(venue: Venue, symbol: Symbol) -> Self {
        Self { venue, symbol }
    }
}

impl FromStr for InstrumentId {
    type Err = ValidationError;
    /// Parses `venue:SYMBOL`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (venue, symbol) = s.split_once(':').ok_or_else(|| {
            ValidationError::new(
                "instrument",
                s,
                "expected venue:SYMBOL, e.g. binance:BTC/USDT",
            )
        })?;
        Ok(Self::new(Venue::new(venue)?, Symbol::new(symbol)?))
    }
}

macro_rules! string_like {
    ($t:ty, $name:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", $name, self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_like!(Venue, "Venue");
string_like!(Symbol, "Symbol");

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.venue, self.symbol)
    }
}

impl fmt::Debug for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstrumentId({self})")
    }
}

impl Serialize for InstrumentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for InstrumentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The trading rules of an instrument: precision, minimums and fees.
///
/// Tick/lot rounding lives here and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// Identity.
    pub id: InstrumentId,
    /// The asset bought or sold.
    pub base: Currency,
    /// The currency prices and fees are in.
    pub quote: Currency,
    /// Smallest price increment (0 = any precision).
    #[serde(with = "rust_decimal::serde::str")]
    pub tick_size: Decimal,
    /// Smallest quantity increment (0 = any precision).
    #[serde(with = "rust_decimal::serde::str")]
    pub lot_size: Decimal,
    /// Smallest accepted order quantity.
    #[serde(with = "rust_decimal::serde::str")]
    pub min_quantity: Decimal,
    /// Smallest accepted order value in quote currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub min_notional: Decimal,
    /// Fee rate for orders that add liquidity (0.001 = 0.1 %).
    #[serde(with = "rust_decimal::serde::str")]
    pub maker_fee: Decimal,
    /// Fee rate for orders that take liquidity.
    #[serde(with = "rust_decimal::serde::str")]
    pub taker_fee: Decimal,
}

impl Instrument {
    /// An instrument with no precision limits and no fees: what an imported CSV implies.
    /// The quote currency is the symbol's quote, or `USD` for a bare ticker.
    pub fn unrestricted(id: InstrumentId) -> Self {
        // A symbol's base and quote are letters, digits, '.' or '-'; a code with '.' or '-'
        // (`BRK.B`) is not a currency, so it falls back to the generic unit.
        let base = Currency::new(id.symbol.base())
            .unwrap_or_else(|_| Currency::new("UNIT").expect("invariant: UNIT is a valid code"));
        let quote = id
            .symbol
            .quote()
            .and_then(|q| Currency::new(q).ok())
            .unwrap_or_else(|| Currency::new("USD").expect("invariant: USD is a valid code"));
        Self {
            id,
            base,
            quote,
            tick_size: Decimal::ZERO,
            lot_size: Decimal::ZERO,
            min_quantity: Decimal::ZERO,
            min_notional: Decimal::ZERO,
            maker_fee: Decimal::ZERO,
            taker_fee: Decimal::ZERO,
        }
    }

    /// Rounds a price to the nearest tick (half away from zero).
    pub fn round_price(&self, price: Price) -> Price {
        Price::new(round_to_step(
            price.as_decimal(),
            self.tick_size,
            RoundingStrategy::MidpointAwayFromZero,
        ))
    }

    /// Rounds a quantity down to a whole number of lots (never buys more than asked).
    pub fn round_quantity_down(&self, qty: Quantity) -> Quantity {
        let d = round_to_step(qty.as_decimal(), self.lot_size, RoundingStrategy::ToZero);
        Quantity::new(d).unwrap_or(Quantity::ZERO)
    }

    /// Checks an order against the venue's minimums and precision.
    pub fn check_order(&self, qty: Quantity, price: Price) -> Result<(), ValidationError> {
        if qty.is_zero() {
            return Err(ValidationError::new("quantity", qty, "must be above zero"));
        }
        if qty.as_decimal() < self.min_quantity {
            return Err(ValidationError::new(
                "quantity",
                qty,
                format!("below the minimum {} for {}", self.min_quantity, self.id),
            ));
        }
        if !is_multiple(qty.as_decimal(), self.lot_size) {
            return Err(ValidationError::new(
                "quantity",
                qty,
                format!(
                    "not a multiple of the lot size {} for {}",
                    self.lot_size, self.id
                ),
            ));
        }
        if !is_multiple(price.as_decimal(), self.tick_size) {
            return Err(ValidationError::new(
                "price",
                price,
                format!(
                    "not a multiple of the tick size {} for {}",
                    self.tick_size, self.id
                ),
            ));
        }
        let notional = price * qty;
        if notional.abs() < self.min_notional {
            return Err(ValidationError::new(
                "notional",
                notional,
                format!(
                    "below the minimum order value {} for {}",
                    self.min_notional, self.id
                ),
            ));
        }
        Ok(())
    }
}

fn round_to_step(value: Decimal, step: Decimal, strategy: RoundingStrategy) -> Decimal {
    if step <= Decimal::ZERO {
        return value;
    }
    let steps = (value / step).round_dp_with_strategy(0, strategy);
    (steps * step).normalize()
}

fn is_multiple(value: Decimal, step: Decimal) -> bool {
    step <= Decimal::ZERO || (value % step).is_zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_uppercased_and_checked() {
        let s = Symbol::new("btc/usdt").unwrap();
        assert_eq!(s.as_str(), "BTC/USDT");
        assert_eq!((s.base(), s.quote()), ("BTC", Some("USDT")));
        assert_eq!(s.to_path_component(), "BTC_USDT");
        assert_eq!(Symbol::from_path_component("BTC_USDT").unwrap(), s);
        assert_eq!(Symbol::new("brk.b").unwrap().quote(), None);
        let err = Symbol::new("BTC_USDT").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid symbol 'BTC_USDT': use BASE/QUOTE"),
            "{err}"
        );
        assert!(Symbol::new("A/B/C").is_err());
        assert!(Symbol::new("/USD").is_err());
    }

    #[test]
    fn instrument_id_round_trips() {
        let id: InstrumentId = "Binance:btc/usdt".parse().unwrap();
        assert_eq!(id.to_string(), "binance:BTC/USDT");
        let err = "BTC/USDT".parse::<InstrumentId>().unwrap_err();
        assert!(err.to_string().contains("venue:SYMBOL"), "{err}");
    }

    #[test]
    fn instrument_rounds_and_checks_minimums() {
        let mut inst = Instrument::unrestricted("binance:BTC/USDT".parse().unwrap());
        inst.tick_size = "0.01".parse().unwrap();
        inst.lot_size = "0.001".parse().unwrap();
        inst.min_notional = "5".parse().unwrap();
        assert_eq!(inst.quote.as_str(), "USDT");
        assert_eq!(
            inst.round_price("100.005".parse().unwrap()).to_string(),
            "100.01"
        );
        assert_eq!(
            inst.round_quantity_down("0.0019".parse().unwrap())
                .to_string(),
            "0.001"
        );
        let err = inst
            .check_order("0.001".parse().unwrap(), "100".parse().unwrap())
            .unwrap_err();
        assert_eq!(err.field, "notional");
        assert!(
            err.to_string().contains("below the minimum order value 5"),
            "{err}"
        );
        let err = inst
            .check_order("0.0015".parse().unwrap(), "10000".parse().unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("lot size 0.001"), "{err}");
        assert!(
            inst.check_order("0.001".parse().unwrap(), "10000".parse().unwrap())
                .is_ok()
        );
    }
}

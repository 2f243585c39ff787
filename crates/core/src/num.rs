//! Exact numeric values: [`Price`], [`Quantity`], [`Currency`] and [`Money`].
//!
//! All are decimal (`rust_decimal::Decimal`, 96-bit mantissa, up to 28 fractional digits), so
//! `0.1 + 0.2 == 0.3` and a balance updated a million times equals the same sum done once.
//! They serialize as strings (`"101.25"`) so JSON readers in other languages never round them
//! through a double.
//!
//! Invariants:
//! - [`Quantity`] is never negative; direction lives in [`crate::Side`] or a signed position.
//! - [`Money`] arithmetic only combines equal currencies (checked, never implicit FX).
//! - Conversion from `f64` goes through the shortest decimal that round-trips the double
//!   (`100.34_f64` becomes `100.34`, not `100.3400000000000034106`), which is exactly the
//!   number a CSV or exchange message contained.

use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ValidationError;
use crate::inline_str::InlineStr;

/// Converts a finite double to the shortest decimal that reads back as the same double.
fn decimal_from_f64(field: &'static str, x: f64) -> Result<Decimal, ValidationError> {
    if !x.is_finite() {
        return Err(ValidationError::new(field, x, "must be a finite number"));
    }
    // Fast path (no formatting): the smallest number of decimals `s` at which `x * 10^s` is a
    // whole number `m` below 2^50 that divides back to exactly `x`. Below 2^50 a double's
    // spacing is under a quarter of 10^-s, so `m / 10^s` is the only decimal with `s` places
    // that reads back as `x`: the shortest round-trip decimal (once trailing zeros are
    // stripped), the same value the formatting path gives. Prices and quantities from market
    // data almost always take this path.
    const POW10: [f64; 13] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    ];
    for (s, p) in POW10.iter().enumerate() {
        let m = x * p;
        if m.abs() >= 1_125_899_906_842_624.0 {
            break;
        }
        let r = m.round();
        if r == m && r / p == x {
            return Ok(Decimal::from_i128_with_scale(r as i128, s as u32).normalize());
        }
    }
    // `{}` on f64 prints the shortest representation that round-trips (Rust guarantees it).
    let text = format!("{x}");
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| ValidationError::new(field, x, "does not fit a 28-digit decimal"))
}

/// The correctly rounded nearest double. `Decimal::to_f64` can be one unit in the last place
/// off; parsing the decimal text is exact, and this is never on a per-bar path.
pub(crate) fn decimal_to_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

/// A price in quote currency per unit of base. May be negative (some futures have traded
/// below zero); instruments decide what they accept.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(Decimal);

impl Price {
    /// Zero.
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// Wraps an exact decimal.
    pub const fn new(value: Decimal) -> Self {
        Self(value)
    }

    /// The shortest decimal equal to `x` when read back as a double; errors on NaN/inf.
    pub fn try_from_f64(x: f64) -> Result<Self, ValidationError> {
        decimal_from_f64("price", x).map(Self)
    }

    /// The exact value.
    pub const fn as_decimal(self) -> Decimal {
        self.0
    }

    /// The nearest double (for indicators and charts, never for accounting).
    pub fn to_f64(self) -> f64 {
        decimal_to_f64(self.0)
    }

    /// True when the price is above zero.
    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }
}

/// An amount of an asset. Never negative.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(Decimal);

impl Quantity {
    /// Zero.
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// Checks that `value` is not negative.
    pub fn new(value: Decimal) -> Result<Self, ValidationError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(ValidationError::new(
                "quantity",
                value,
                "must not be negative; use the order side for direction",
            ));
        }
        Ok(Self(value.normalize()))
    }

    /// The shortest decimal equal to `x`; errors on negative, NaN or infinite values.
    pub fn try_from_f64(x: f64) -> Result<Self, ValidationError> {
        Self::new(decimal_from_f64("quantity", x)?)
    }

    /// The exact value.
    pub const fn as_decimal(self) -> Decimal {
        self.0
    }

    /// The nearest double.
    pub fn to_f64(self) -> f64 {
        decimal_to_f64(self.0)
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// `self - other`, or `None` if that would be negative.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        let d = self.0 - other.0;
        (!d.is_sign_negative() || d.is_zero()).then_some(Self(d))
    }

    /// The smaller of two quantities.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        if self <= other { self } else { other }
    }
}

impl Add for Quantity {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0 + rhs.0)
    }
}

/// Notional value: a price times a quantity, in the quote currency.
impl Mul<Quantity> for Price {
    type Output = Decimal;
    fn mul(self, rhs: Quantity) -> Decimal {
        self.0 * rhs.0
    }
}

/// A currency or asset code such as `USD`, `USDT`, `BTC` (uppercase ASCII letters and digits,
/// 1 to 15 characters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(InlineStr<15>);

impl Currency {
    /// Validates and uppercases `code`.
    pub fn new(code: &str) -> Result<Self, ValidationError> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValidationError::new(
                "currency",
                code,
                "use letters and digits only, e.g. USD, USDT, BTC",
            ));
        }
        InlineStr::new(&upper)
            .map(Self)
            .ok_or_else(|| ValidationError::new("currency", code, "at most 15 characters"))
    }

    /// The code, e.g. `"USDT"`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// An exact amount of one currency; may be negative (a loss, a fee, a debt).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Money {
    /// The signed amount.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The currency the amount is in.
    pub currency: Currency,
}

impl Money {
    /// An amount of `currency`.
    pub const fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Zero of `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// Adds two amounts of the same currency.
    pub fn checked_add(self, other: Self) -> Result<Self, ValidationError> {
        self.same_currency(other)?;
        Ok(Self::new(self.amount + other.amount, self.currency))
    }

    /// Subtracts two amounts of the same currency.
    pub fn checked_sub(self, other: Self) -> Result<Self, ValidationError> {
        self.same_currency(other)?;
        Ok(Self::new(self.amount - other.amount, self.currency))
    }

    fn same_currency(self, other: Self) -> Result<(), ValidationError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(ValidationError::new(
                "currency",
                other.currency,
                format!("cannot combine {} with {}", other.currency, self.currency),
            ))
        }
    }
}

impl Neg for Money {
    type Output = Self;
    fn neg(self) -> Self {
        Self::new(-self.amount, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

macro_rules! decimal_newtype_impls {
    ($t:ident, $field:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.0)
            }
        }

        impl FromStr for $t {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let d = Decimal::from_str(s.trim())
                    .or_else(|_| Decimal::from_scientific(s.trim()))
                    .map_err(|_| {
                        ValidationError::new($field, s, "expected a decimal number like 101.25")
                    })?;
                $t::try_from(d)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

decimal_newtype_impls!(Price, "price");
decimal_newtype_impls!(Quantity, "quantity");

impl TryFrom<Decimal> for Price {
    type Error = ValidationError;
    fn try_from(d: Decimal) -> Result<Self, ValidationError> {
        Ok(Self(d))
    }
}

impl TryFrom<Decimal> for Quantity {
    type Error = ValidationError;
    fn try_from(d: Decimal) -> Result<Self, ValidationError> {
        Self::new(d)
    }
}

impl Sub for Price {
    type Output = Decimal;
    fn sub(self, rhs: Self) -> Decimal {
        self.0 - rhs.0
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn f64_conversion_takes_the_shortest_round_trip_decimal() {
        assert_eq!(
            Price::try_from_f64(100.34).unwrap().as_decimal(),
            dec("100.34")
        );
        assert_eq!(
            Price::try_from_f64(0.1 + 0.2).unwrap().as_decimal(),
            dec("0.30000000000000004")
        );
        assert_eq!(
            Price::try_from_f64(1e-9).unwrap().as_decimal(),
            dec("0.000000001")
        );
        let err = Price::try_from_f64(f64::NAN).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid price 'NaN': must be a finite number"
        );
    }

    #[test]
    fn quantity_rejects_negative_with_field_and_value() {
        let err = Quantity::new(dec("-1.5")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid quantity '-1.5': must not be negative; use the order side for direction"
        );
        assert!(Quantity::new(dec("-0")).is_ok());
        let q = Quantity::new(dec("2.50")).unwrap();
        assert_eq!(q.to_string(), "2.5");
        assert_eq!(q.checked_sub(Quantity::new(dec("3")).unwrap()), None);
    }

    #[test]
    fn money_refuses_mixed_currencies() {
        let usd = Currency::new("usd").unwrap();
        let btc = Currency::new("BTC").unwrap();
        let a = Money::new(dec("1.10"), usd);
        let b = Money::new(dec("2.20"), usd);
        assert_eq!(a.checked_add(b).unwrap().amount, dec("3.30"));
        let err = a.checked_add(Money::new(dec("1"), btc)).unwrap_err();
        assert!(
            err.to_string().contains("cannot combine BTC with USD"),
            "{err}"
        );
    }

    #[test]
    fn values_serialize_as_strings() {
        let p: Price = "101.25".parse().unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"101.25\"");
        let m = Money::new(dec("-0.5"), Currency::new("USDT").unwrap());
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"amount":"-0.5","currency":"USDT"}"#
        );
        let back: Money = serde_json::from_str(r#"{"amount":"-0.5","currency":"USDT"}"#).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn currency_codes_are_validated() {
        assert_eq!(Currency::new(" usdt ").unwrap().as_str(), "USDT");
        assert!(
            Currency::new("US-D")
                .unwrap_err()
                .to_string()
                .contains("letters and digits")
        );
        assert!(
            Currency::new("ABCDEFGHIJKLMNOP")
                .unwrap_err()
                .to_string()
                .contains("15")
        );
    }

    mod property_tests {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn prop_summing_cents_never_drifts(cents in proptest::collection::vec(-1_000_000i64..1_000_000, 1..500)) {
                let usd = Currency::new("USD").unwrap();
                let mut total = Money::zero(usd);
                for c in &cents {
                    total = total.checked_add(Money::new(Decimal::new(*c, 2), usd)).unwrap();
                }
                let exact: i64 = cents.iter().sum();
                prop_assert_eq!(total.amount, Decimal::new(exact, 2));
            }

            #[test]
            fn prop_f64_round_trips(x in -1e12f64..1e12) {
                let p = Price::try_from_f64(x).unwrap();
                prop_assert_eq!(p.to_f64(), x);
            }

            #[test]
            fn prop_fast_path_equals_shortest_text(cents in -100_000_000_000i64..100_000_000_000, scale in 0u32..9) {
                // Prices as they come from files: few decimals. The fast path must give exactly
                // the decimal the shortest-formatting path gives.
                let x = cents as f64 / 10f64.powi(scale as i32);
                let fast = Price::try_from_f64(x).unwrap().as_decimal();
                let text = Decimal::from_str(&format!("{x}")).or_else(|_| Decimal::from_scientific(&format!("{x}"))).unwrap();
                prop_assert_eq!(fast, text);
                prop_assert_eq!(fast.to_string(), text.to_string());
            }
        }
    }
}

//! Exact accounting: cash, positions, fees and realised PnL in decimal, updated only by
//! fills; `f64` shadows of the same numbers serve the per-bar mark-to-market (an equity curve
//! is a measurement; the ledger is money).
//!
//! Invariants (property-tested):
//! - `cash + Σ position value at the fill prices` changes by exactly the fees charged: a fill
//!   moves `price × quantity` between cash and the position, never creating or destroying
//!   money.
//! - Realised PnL plus unrealised PnL minus fees equals equity minus initial cash, exactly.

use rust_decimal::Decimal;
use skeet_core::{Fill, InstrumentId, Position, Side};

/// Cash and positions.
#[derive(Clone, Debug)]
pub struct Account {
    initial: Decimal,
    cash: Decimal,
    fees: Decimal,
    positions: Vec<Position>,
    cash_f: f64,
    qty_f: Vec<f64>,
    avg_f: Vec<f64>,
}

impl Account {
    /// An account holding `cash` of the quote currency and no positions in `instruments`.
    pub fn new(cash: Decimal, instruments: &[InstrumentId]) -> Self {
        Self {
            initial: cash,
            cash,
            fees: Decimal::ZERO,
            positions: instruments.iter().map(|&id| Position::flat(id)).collect(),
            cash_f: to_f64(cash),
            qty_f: vec![0.0; instruments.len()],
            avg_f: vec![0.0; instruments.len()],
        }
    }

    /// Applies a fill to instrument `i`; returns the PnL it realised (before fees).
    pub fn apply(&mut self, i: usize, fill: &Fill) -> Decimal {
        let notional = fill.price.as_decimal() * fill.quantity.as_decimal();
        match fill.side {
            Side::Buy => self.cash -= notional,
            Side::Sell => self.cash += notional,
        }
        self.cash -= fill.fee.amount;
        self.fees += fill.fee.amount;
        let realised = self.positions[i].apply_fill(fill);
        self.cash_f = to_f64(self.cash);
        self.qty_f[i] = to_f64(self.positions[i].quantity);
        self.avg_f[i] = to_f64(self.positions[i].avg_price);
        realised
    }

    /// Exact cash.
    pub fn cash(&self) -> Decimal {
        self.cash
    }

    /// Starting cash.
    pub fn initial_cash(&self) -> Decimal {
        self.initial
    }

    /// Fees paid so far.
    pub fn fees(&self) -> Decimal {
        self.fees
    }

    /// Position in instrument `i`.
    pub fn position(&self, i: usize) -> &Position {
        &self.positions[i]
    }

    /// Signed units held in `i`, as a double.
    #[inline]
    pub fn qty_f(&self, i: usize) -> f64 {
        self.qty_f[i]
    }

    /// Average entry price of the position in `i` as a double (0 when flat).
    #[inline]
    pub fn avg_price_f(&self, i: usize) -> f64 {
        self.avg_f[i]
    }

    /// Cash as a double.
    #[inline]
    pub fn cash_f(&self) -> f64 {
        self.cash_f
    }

    /// Mark-to-market equity as a double, given each instrument's last price.
    #[inline]
    pub fn equity_f(&self, last: &[f64]) -> f64 {
        let mut e = self.cash_f;
        for (q, p) in self.qty_f.iter().zip(last) {
            e += q * p;
        }
        e
    }

    /// Exact equity at the given (exact) prices.
    pub fn equity(&self, last: &[Decimal]) -> Decimal {
        self.cash
            + self
                .positions
                .iter()
                .zip(last)
                .map(|(p, &px)| p.quantity * px)
                .sum::<Decimal>()
    }
}

/// A double for `d`: correctly rounded when the mantissa is below 2^53 and the scale at most
/// 22 (both are then exact doubles and one division rounds correctly), which covers prices,
/// whole-unit quantities and balances of ordinary size; within an ulp otherwise.
#[inline]
pub fn to_f64(d: Decimal) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m.unsigned_abs() < (1u128 << 53) && scale < POW10.len() {
        return m as f64 / POW10[scale];
    }
    // Longer mantissas (products of many-digit prices and quantities): within an ulp, which no
    // sizing decision on real prices depends on.
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_f64_is_correctly_rounded() {
        for s in [
            "0.1",
            "100.34",
            "-0.30000000000000004",
            "1e-20",
            "56263.51934",
            "-637.5717",
        ] {
            let d: Decimal = s.parse().or_else(|_| Decimal::from_scientific(s)).unwrap();
            let expect: f64 = d.to_string().parse().unwrap();
            assert_eq!(to_f64(d), expect, "{s}");
        }
    }
}

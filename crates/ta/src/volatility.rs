//! Volatility and channels: STDDEV, Bollinger Bands, True Range, ATR, NATR, Donchian and
//! Keltner channels.
//!
//! TA-Lib conventions reproduced: standard deviation is the population one computed from
//! running sums (`E[x²] − E[x]²`, 0 when that is below 1e-8); ATR is Wilder-smoothed and seeded
//! with the simple mean of the first `n` true ranges, which start at the second bar.
//! Donchian and Keltner are not in TA-Lib; they follow pandas-ta's definitions (Donchian:
//! highest high / lowest low / their midpoint; Keltner: EMA of close ± `mult` × EMA of true
//! range) and are checked against pandas-ta's output.

use crate::error::{TaError, period, real};
use crate::indicator::{Candle, Indicator};
use crate::ma::{Ema, Sma};
use crate::window::{Highest, Lowest, Ring, is_zero, is_zero_or_neg};

/// Population standard deviation over `n` values, times `nbdev`.
#[derive(Clone, Debug)]
pub struct StdDev {
    n: usize,
    nbdev: f64,
    ring: Ring,
    sum: f64,
    sum_sq: f64,
}

impl StdDev {
    /// Standard deviation of `n >= 2` values, scaled by `nbdev`.
    pub fn new(n: usize, nbdev: f64) -> Result<Self, TaError> {
        let n = period("stddev", "period", n, 2)?;
        let nbdev = real("stddev", "nbdev", nbdev, -1e6, 1e6)?;
        Ok(Self {
            n,
            nbdev,
            ring: Ring::new(n),
            sum: 0.0,
            sum_sq: 0.0,
        })
    }
}

impl Indicator for StdDev {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.ring.push(x);
        self.sum += x;
        self.sum_sq += x * x;
        if !self.ring.is_full() {
            return None;
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let mean_sq = self.sum_sq / n;
        let old = self.ring.oldest();
        self.sum -= old;
        self.sum_sq -= old * old;
        let var = mean_sq - mean * mean;
        Some(if is_zero_or_neg(var) {
            0.0
        } else {
            var.sqrt() * self.nbdev
        })
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.ring.clear();
        self.sum = 0.0;
        self.sum_sq = 0.0;
    }
}

/// Bollinger Bands around an SMA: outputs `[upper, middle, lower]`.
#[derive(Clone, Debug)]
pub struct Bbands {
    n: usize,
    up: f64,
    dn: f64,
    sma: Sma,
    ring: Ring,
    sum_sq: f64,
}

impl Bbands {
    /// Bands `up` and `dn` standard deviations around an SMA of `n >= 2` values.
    pub fn new(n: usize, up: f64, dn: f64) -> Result<Self, TaError> {
        let n = period("bbands", "period", n, 2)?;
        let up = real("bbands", "nbdevup", up, -1e6, 1e6)?;
        let dn = real("bbands", "nbdevdn", dn, -1e6, 1e6)?;
        Ok(Self {
            n,
            up,
            dn,
            sma: Sma::new(n)?,
            ring: Ring::new(n),
            sum_sq: 0.0,
        })
    }
}

impl Indicator for Bbands {
    type Input = f64;
    type Output = [f64; 3];

    #[inline]
    fn update(&mut self, x: f64) -> Option<[f64; 3]> {
        self.ring.push(x);
        self.sum_sq += x * x;
        let mid = self.sma.update(x)?;
        let mut var = self.sum_sq / self.n as f64;
        let old = self.ring.oldest();
        self.sum_sq -= old * old;
        var -= mid * mid;
        let sd = if is_zero_or_neg(var) { 0.0 } else { var.sqrt() };
        Some([mid + sd * self.up, mid, mid - sd * self.dn])
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.sma.reset();
        self.ring.clear();
        self.sum_sq = 0.0;
    }
}

/// True range of a bar given the previous close.
#[inline]
pub(crate) fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut greatest = high - low;
    let a = (prev_close - high).abs();
    if a > greatest {
        greatest = a;
    }
    let b = (low - prev_close).abs();
    if b > greatest {
        greatest = b;
    }
    greatest
}

/// True range (needs the previous close, so the first bar has no value).
#[derive(Clone, Debug, Default)]
pub struct TrueRange {
    prev_close: Option<f64>,
}

impl TrueRange {
    /// A true-range stream.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Indicator for TrueRange {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let prev = self.prev_close.replace(c.close)?;
        Some(true_range(c.high, c.low, prev))
    }

    fn lookback(&self) -> usize {
        1
    }

    fn reset(&mut self) {
        self.prev_close = None;
    }
}

/// Average True Range (Wilder).
#[derive(Clone, Debug)]
pub struct Atr {
    n: usize,
    tr: TrueRange,
    count: usize,
    value: f64,
}

impl Atr {
    /// An ATR of period `n >= 1`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("atr", "period", n, 1)?;
        Ok(Self {
            n,
            tr: TrueRange::new(),
            count: 0,
            value: 0.0,
        })
    }
}

impl Indicator for Atr {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let tr = self.tr.update(c)?;
        let n = self.n as f64;
        if self.count < self.n {
            self.value += tr;
            self.count += 1;
            if self.count < self.n {
                return None;
            }
            self.value /= n;
            return Some(self.value);
        }
        self.value *= n - 1.0;
        self.value += tr;
        self.value /= n;
        Some(self.value)
    }

    fn lookback(&self) -> usize {
        self.n
    }

    fn reset(&mut self) {
        self.tr.reset();
        self.count = 0;
        self.value = 0.0;
    }
}

/// Normalised ATR: ATR as a percentage of the close.
#[derive(Clone, Debug)]
pub struct Natr {
    atr: Atr,
}

impl Natr {
    /// An NATR of period `n >= 1`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        period("natr", "period", n, 1)?;
        Ok(Self { atr: Atr::new(n)? })
    }
}

impl Indicator for Natr {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let atr = self.atr.update(c)?;
        Some(if is_zero(c.close) {
            0.0
        } else {
            (atr / c.close) * 100.0
        })
    }

    fn lookback(&self) -> usize {
        self.atr.lookback()
    }

    fn reset(&mut self) {
        self.atr.reset();
    }
}

/// Donchian channel: outputs `[upper, middle, lower]`.
#[derive(Clone, Debug)]
pub struct Donchian {
    n: usize,
    seen: usize,
    hi: Highest,
    lo: Lowest,
}

impl Donchian {
    /// Highest high and lowest low of the last `n >= 1` bars.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("donchian", "period", n, 1)?;
        Ok(Self {
            n,
            seen: 0,
            hi: Highest::new(n),
            lo: Lowest::new(n),
        })
    }
}

impl Indicator for Donchian {
    type Input = Candle;
    type Output = [f64; 3];

    #[inline]
    fn update(&mut self, c: Candle) -> Option<[f64; 3]> {
        let h = self.hi.push(c.high);
        let l = self.lo.push(c.low);
        self.seen += 1;
        if self.seen < self.n {
            return None;
        }
        Some([h, 0.5 * (l + h), l])
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.hi.clear();
        self.lo.clear();
    }
}

/// Keltner channel: EMA of close ± `mult` × EMA of true range. Outputs `[upper, middle, lower]`.
#[derive(Clone, Debug)]
pub struct Keltner {
    mult: f64,
    basis: Ema,
    tr: TrueRange,
    band: Ema,
}

impl Keltner {
    /// A channel of period `n >= 1` and width `mult`.
    pub fn new(n: usize, mult: f64) -> Result<Self, TaError> {
        let n = period("keltner", "period", n, 1)?;
        let mult = real("keltner", "mult", mult, 0.0, 1e6)?;
        Ok(Self {
            mult,
            basis: Ema::new(n)?,
            tr: TrueRange::new(),
            band: Ema::new(n)?,
        })
    }
}

impl Indicator for Keltner {
    type Input = Candle;
    type Output = [f64; 3];

    /// The middle line appears one bar before the bands (the true range needs a previous
    /// close); until then the bands are `NaN`.
    #[inline]
    fn update(&mut self, c: Candle) -> Option<[f64; 3]> {
        let mid = self.basis.update(c.close);
        let band = self.tr.update(c).and_then(|tr| self.band.update(tr));
        let mid = mid?;
        Some(match band {
            Some(band) => {
                let w = self.mult * band;
                [mid + w, mid, mid - w]
            }
            None => [f64::NAN, mid, f64::NAN],
        })
    }

    /// Bars before every output has a value.
    fn lookback(&self) -> usize {
        self.band.lookback() + 1
    }

    fn reset(&mut self) {
        self.basis.reset();
        self.tr.reset();
        self.band.reset();
    }
}

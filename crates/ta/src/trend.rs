//! Trend indicators: ADX and the directional indicators (+DI, −DI), Parabolic SAR,
//! SuperTrend, Ichimoku and the linear-regression slope.
//!
//! ADX, DI, SAR and LINEARREG_SLOPE reproduce TA-Lib (Wilder's smoothing without rounding;
//! SAR's initial direction from the first bar's −DM). SuperTrend and Ichimoku are not in TA-Lib
//! and follow pandas-ta (SuperTrend over TA-Lib's ATR; Ichimoku spans displaced so that the
//! value at bar `t` is the one charted at `t`).
//!
//! Ichimoku's lagging span (chikou) is the close shifted **back** in time: its value at `t` is
//! the close of `t + kijun − 1`, a future bar. It is deliberately not provided, because no
//! causal system can use it. The linear-regression slope is O(n) per update, as in TA-Lib.

use crate::error::{TaError, period, real};
use crate::indicator::{Candle, Indicator};
use crate::volatility::{Atr, true_range};
use crate::window::{Highest, Lowest, Ring, is_zero};

/// Wilder's directional movement state shared by ADX and the DI indicators.
#[derive(Clone, Debug)]
struct Dm {
    n: usize,
    seen: usize,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
}

impl Dm {
    fn new(n: usize) -> Self {
        Self {
            n,
            seen: 0,
            prev_high: 0.0,
            prev_low: 0.0,
            prev_close: 0.0,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
        }
    }

    /// Feeds a bar; returns how many bars have been seen (1 for the first).
    /// Bars 2..n accumulate raw sums; from bar n+1 on, the sums are Wilder-smoothed.
    #[inline]
    fn update(&mut self, c: Candle) -> usize {
        self.seen += 1;
        if self.seen == 1 {
            self.prev_high = c.high;
            self.prev_low = c.low;
            self.prev_close = c.close;
            return 1;
        }
        let diff_p = c.high - self.prev_high;
        let diff_m = self.prev_low - c.low;
        self.prev_high = c.high;
        self.prev_low = c.low;
        let n = self.n as f64;
        let smoothing = self.seen > self.n;
        if smoothing {
            self.minus_dm -= self.minus_dm / n;
            self.plus_dm -= self.plus_dm / n;
        }
        // TA-Lib's `if (-DM case) ... else if (+DM case)` as two selects: the cases exclude
        // each other, and adding an exact 0.0 leaves a sum unchanged, so the result is
        // identical while the unpredictable branch disappears.
        let minus = if diff_m > 0.0 && diff_p < diff_m {
            diff_m
        } else {
            0.0
        };
        let plus = if diff_p > 0.0 && diff_p > diff_m {
            diff_p
        } else {
            0.0
        };
        self.minus_dm += minus;
        self.plus_dm += plus;
        let tr = true_range(c.high, c.low, self.prev_close);
        if smoothing {
            self.tr = self.tr - self.tr / n + tr;
        } else {
            self.tr += tr;
        }
        self.prev_close = c.close;
        self.seen
    }

    /// `(+DI, −DI)` if the smoothed true range is not zero.
    #[inline]
    fn di(&self) -> Option<(f64, f64)> {
        if is_zero(self.tr) {
            return None;
        }
        Some((
            100.0 * (self.plus_dm / self.tr),
            100.0 * (self.minus_dm / self.tr),
        ))
    }

    fn reset(&mut self) {
        *self = Self::new(self.n);
    }
}

/// Average Directional Index.
#[derive(Clone, Debug)]
pub struct Adx {
    dm: Dm,
    sum_dx: f64,
    adx: f64,
}

impl Adx {
    /// An ADX of period `n >= 2`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("adx", "period", n, 2)?;
        Ok(Self {
            dm: Dm::new(n),
            sum_dx: 0.0,
            adx: 0.0,
        })
    }

    #[inline]
    fn dx(&self) -> Option<f64> {
        let (plus, minus) = self.dm.di()?;
        let sum = minus + plus;
        if is_zero(sum) {
            return None;
        }
        Some(100.0 * ((minus - plus).abs() / sum))
    }
}

impl Indicator for Adx {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let seen = self.dm.update(c);
        let n = self.dm.n;
        let nf = n as f64;
        if seen <= n {
            return None;
        }
        if seen <= 2 * n {
            if let Some(dx) = self.dx() {
                self.sum_dx += dx;
            }
            if seen < 2 * n {
                return None;
            }
            self.adx = self.sum_dx / nf;
            return Some(self.adx);
        }
        if let Some(dx) = self.dx() {
            self.adx = (self.adx * (nf - 1.0) + dx) / nf;
        }
        Some(self.adx)
    }

    fn lookback(&self) -> usize {
        2 * self.dm.n - 1
    }

    fn reset(&mut self) {
        self.dm.reset();
        self.sum_dx = 0.0;
        self.adx = 0.0;
    }
}

/// Plus (`plus = true`) or minus directional indicator.
#[derive(Clone, Debug)]
pub struct Di {
    dm: Dm,
    plus: bool,
}

impl Di {
    /// +DI of period `n >= 2`.
    pub fn plus(n: usize) -> Result<Self, TaError> {
        let n = period("plus_di", "period", n, 2)?;
        Ok(Self {
            dm: Dm::new(n),
            plus: true,
        })
    }

    /// −DI of period `n >= 2`.
    pub fn minus(n: usize) -> Result<Self, TaError> {
        let n = period("minus_di", "period", n, 2)?;
        Ok(Self {
            dm: Dm::new(n),
            plus: false,
        })
    }
}

impl Indicator for Di {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        if self.dm.update(c) <= self.dm.n {
            return None;
        }
        Some(match self.dm.di() {
            Some((p, m)) => {
                if self.plus {
                    p
                } else {
                    m
                }
            }
            None => 0.0,
        })
    }

    fn lookback(&self) -> usize {
        self.dm.n
    }

    fn reset(&mut self) {
        self.dm.reset();
    }
}

/// Parabolic SAR (stop and reverse).
#[derive(Clone, Debug)]
pub struct Sar {
    accel: f64,
    max: f64,
    seen: usize,
    long: bool,
    af: f64,
    ep: f64,
    sar: f64,
    prev_high: f64,
    prev_low: f64,
}

impl Sar {
    /// SAR with acceleration step `accel` and cap `max`.
    pub fn new(accel: f64, max: f64) -> Result<Self, TaError> {
        let accel = real("sar", "accel", accel, 0.0, 1e6)?;
        let max = real("sar", "max", max, 0.0, 1e6)?;
        // TA-Lib caps the step at the maximum, for the start and for every reversal.
        let accel = accel.min(max);
        Ok(Self {
            accel,
            max,
            seen: 0,
            long: true,
            af: 0.0,
            ep: 0.0,
            sar: 0.0,
            prev_high: 0.0,
            prev_low: 0.0,
        })
    }
}

impl Indicator for Sar {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        self.seen += 1;
        let (high, low) = (c.high, c.low);
        if self.seen == 1 {
            self.prev_high = high;
            self.prev_low = low;
            return None;
        }
        let (prev_high, prev_low) = if self.seen == 2 {
            // Initial direction: short when the second bar has a positive -DM.
            let diff_p = high - self.prev_high;
            let diff_m = self.prev_low - low;
            self.long = !(diff_m > 0.0 && diff_p < diff_m);
            self.af = self.accel;
            if self.long {
                self.ep = high;
                self.sar = self.prev_low;
            } else {
                self.ep = low;
                self.sar = self.prev_high;
            }
            // TA-Lib treats the first processed bar as its own predecessor.
            (high, low)
        } else {
            (self.prev_high, self.prev_low)
        };
        self.prev_high = high;
        self.prev_low = low;
        let out;
        if self.long {
            if low <= self.sar {
                self.long = false;
                self.sar = self.ep.max(prev_high).max(high);
                out = self.sar;
                self.af = self.accel;
                self.ep = low;
                self.sar += self.af * (self.ep - self.sar);
                self.sar = self.sar.max(prev_high).max(high);
            } else {
                out = self.sar;
                if high > self.ep {
                    self.ep = high;
                    self.af = (self.af + self.accel).min(self.max);
                }
                self.sar += self.af * (self.ep - self.sar);
                self.sar = self.sar.min(prev_low).min(low);
            }
        } else if high >= self.sar {
            self.long = true;
            self.sar = self.ep.min(prev_low).min(low);
            out = self.sar;
            self.af = self.accel;
            self.ep = high;
            self.sar += self.af * (self.ep - self.sar);
            self.sar = self.sar.min(prev_low).min(low);
        } else {
            out = self.sar;
            if low < self.ep {
                self.ep = low;
                self.af = (self.af + self.accel).min(self.max);
            }
            self.sar += self.af * (self.ep - self.sar);
            self.sar = self.sar.max(prev_high).max(high);
        }
        Some(out)
    }

    fn lookback(&self) -> usize {
        1
    }

    fn reset(&mut self) {
        self.seen = 0;
    }
}

/// SuperTrend: outputs `[value, direction]` (direction +1 up, −1 down).
#[derive(Clone, Debug)]
pub struct SuperTrend {
    atr: Atr,
    mult: f64,
    dir: f64,
    prev: Option<(f64, f64)>,
}

impl SuperTrend {
    /// SuperTrend over an ATR of `n >= 1` bars and band width `mult`.
    pub fn new(n: usize, mult: f64) -> Result<Self, TaError> {
        let n = period("supertrend", "period", n, 1)?;
        let mult = real("supertrend", "mult", mult, 0.0, 1e6)?;
        Ok(Self {
            atr: Atr::new(n)?,
            mult,
            dir: 1.0,
            prev: None,
        })
    }
}

impl Indicator for SuperTrend {
    type Input = Candle;
    type Output = [f64; 2];

    #[inline]
    fn update(&mut self, c: Candle) -> Option<[f64; 2]> {
        let atr = self.atr.update(c)?;
        let hl2 = 0.5 * (c.high + c.low);
        let matr = self.mult * atr;
        let mut lower = hl2 - matr;
        let mut upper = hl2 + matr;
        if let Some((prev_upper, prev_lower)) = self.prev {
            if c.close > prev_upper {
                self.dir = 1.0;
            } else if c.close < prev_lower {
                self.dir = -1.0;
            } else {
                if self.dir > 0.0 && lower < prev_lower {
                    lower = prev_lower;
                }
                if self.dir < 0.0 && upper > prev_upper {
                    upper = prev_upper;
                }
            }
        }
        self.prev = Some((upper, lower));
        let value = if self.dir > 0.0 { lower } else { upper };
        Some([value, self.dir])
    }

    fn lookback(&self) -> usize {
        self.atr.lookback()
    }

    fn reset(&mut self) {
        self.atr.reset();
        self.dir = 1.0;
        self.prev = None;
    }
}

/// Midpoint of the highest high and lowest low over a window.
#[derive(Clone, Debug)]
struct MidPrice {
    n: usize,
    seen: usize,
    hi: Highest,
    lo: Lowest,
}

impl MidPrice {
    fn new(n: usize) -> Self {
        Self {
            n,
            seen: 0,
            hi: Highest::new(n),
            lo: Lowest::new(n),
        }
    }

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let h = self.hi.push(c.high);
        let l = self.lo.push(c.low);
        self.seen += 1;
        (self.seen >= self.n).then(|| (h + l) / 2.0)
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.hi.clear();
        self.lo.clear();
    }
}

/// Ichimoku cloud: outputs `[tenkan, kijun, senkou_a, senkou_b]`, each `NaN` until its own
/// window fills; the spans are displaced `kijun − 1` bars forward as charted.
#[derive(Clone, Debug)]
pub struct Ichimoku {
    tenkan: MidPrice,
    kijun: MidPrice,
    senkou: MidPrice,
    kijun_n: usize,
    senkou_n: usize,
    delay_a: Ring,
    delay_b: Ring,
}

impl Ichimoku {
    /// Conversion line over `tenkan`, base line over `kijun`, leading span B over `senkou`.
    pub fn new(tenkan: usize, kijun: usize, senkou: usize) -> Result<Self, TaError> {
        let tenkan = period("ichimoku", "tenkan", tenkan, 1)?;
        let kijun = period("ichimoku", "kijun", kijun, 1)?;
        let senkou = period("ichimoku", "senkou", senkou, 1)?;
        Ok(Self {
            tenkan: MidPrice::new(tenkan),
            kijun: MidPrice::new(kijun),
            senkou: MidPrice::new(senkou),
            kijun_n: kijun,
            senkou_n: senkou,
            delay_a: Ring::new(kijun),
            delay_b: Ring::new(kijun),
        })
    }
}

impl Indicator for Ichimoku {
    type Input = Candle;
    type Output = [f64; 4];

    #[inline]
    fn update(&mut self, c: Candle) -> Option<[f64; 4]> {
        let t = self.tenkan.update(c);
        let k = self.kijun.update(c);
        let s = self.senkou.update(c);
        let a = match (t, k) {
            (Some(t), Some(k)) => 0.5 * (t + k),
            _ => f64::NAN,
        };
        // Each delay line holds the last `kijun` values; its oldest is `kijun - 1` bars back.
        self.delay_a.push(a);
        self.delay_b.push(s.unwrap_or(f64::NAN));
        let (span_a, span_b) = if self.delay_a.is_full() {
            (self.delay_a.oldest(), self.delay_b.oldest())
        } else {
            (f64::NAN, f64::NAN)
        };
        let t = t?;
        Some([t, k.unwrap_or(f64::NAN), span_a, span_b])
    }

    /// Bars before every output has a value (span B is last).
    fn lookback(&self) -> usize {
        self.senkou_n.max(self.kijun_n).max(self.tenkan.n) - 1 + self.kijun_n - 1
    }

    fn reset(&mut self) {
        self.tenkan.reset();
        self.kijun.reset();
        self.senkou.reset();
        self.delay_a.clear();
        self.delay_b.clear();
    }
}

/// Slope of the least-squares line through the last `n` values (per bar).
#[derive(Clone, Debug)]
pub struct LinRegSlope {
    n: usize,
    ring: Ring,
    sum_x: f64,
    divisor: f64,
}

impl LinRegSlope {
    /// Slope over `n >= 2` values.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("linreg_slope", "period", n, 2)?;
        let nf = n as f64;
        let sum_x = nf * (nf - 1.0) * 0.5;
        // Exact in integers (n(n-1)(2n-1) is divisible by 6), as TA-Lib computes it.
        let sum_x_sq = ((n * (n - 1) * (2 * n - 1)) / 6) as f64;
        Ok(Self {
            n,
            ring: Ring::new(n),
            sum_x,
            divisor: sum_x * sum_x - nf * sum_x_sq,
        })
    }
}

impl Indicator for LinRegSlope {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.ring.push(x);
        if !self.ring.is_full() {
            return None;
        }
        let mut sum_xy = 0.0;
        let mut sum_y = 0.0;
        // x is the age of the value (n-1 for the oldest, 0 for the newest), oldest first.
        for age in (0..self.n).rev() {
            let v = self.ring.back(age);
            sum_y += v;
            sum_xy += age as f64 * v;
        }
        Some((self.n as f64 * sum_xy - self.sum_x * sum_y) / self.divisor)
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.ring.clear();
    }
}

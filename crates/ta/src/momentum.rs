//! Momentum oscillators: RSI, MACD, Stochastic (slow and fast), StochRSI, CCI, MFI,
//! Williams %R, ROC and MOM, each following TA-Lib's seeding and arithmetic.
//!
//! Notes on TA-Lib conventions reproduced here:
//! - RSI is Wilder's: the first value averages the first `n` gains and losses; then
//!   `avg = (avg·(n−1) + x) / n`. A zero total (|gain+loss| < 1e-8) gives 0.
//! - MACD seeds its fast EMA at the slow EMA's first index, with the SMA of the `fast` values
//!   ending there (not of the first `fast` values): TA-Lib aligns both averages that way.
//! - Stochastic %K is `(close − LL) / ((HH − LL) / 100)`; 0 when the range is 0.
//! - CCI recomputes the mean deviation over its window on every bar: O(n) per update, as in
//!   TA-Lib (a mean absolute deviation cannot be updated in O(1) exactly).
//! - MFI gives 0 when the window's total money flow is below 1.0 (TA-Lib's guard).

use crate::error::{TaError, period};
use crate::indicator::{Candle, Indicator};
use crate::ma::{Ema, Sma};
use crate::window::{CircBuf, Highest, Lowest, Ring, is_zero};

/// Wilder's Relative Strength Index.
#[derive(Clone, Debug)]
pub struct Rsi {
    n: usize,
    seen: usize,
    prev: f64,
    gain: f64,
    loss: f64,
}

impl Rsi {
    /// An RSI of period `n >= 2`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("rsi", "period", n, 2)?;
        Ok(Self {
            n,
            seen: 0,
            prev: 0.0,
            gain: 0.0,
            loss: 0.0,
        })
    }

    #[inline]
    fn value(&self) -> f64 {
        let total = self.gain + self.loss;
        if is_zero(total) {
            0.0
        } else {
            100.0 * (self.gain / total)
        }
    }
}

impl Indicator for Rsi {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        if self.seen == 0 {
            self.prev = x;
            self.seen = 1;
            return None;
        }
        let d = x - self.prev;
        self.prev = x;
        let n = self.n as f64;
        // Branchless form of TA-Lib's `if d < 0 { loss -= d } else { gain += d }`: adding or
        // subtracting an exact 0.0 leaves the other sum bit-identical, and random-walk data
        // would mispredict the branch half the time.
        let (up, down) = (d.max(0.0), d.min(0.0));
        if self.seen <= self.n {
            self.loss -= down;
            self.gain += up;
            self.seen += 1;
            if self.seen <= self.n {
                return None;
            }
            self.loss /= n;
            self.gain /= n;
            return Some(self.value());
        }
        self.loss *= n - 1.0;
        self.gain *= n - 1.0;
        self.loss -= down;
        self.gain += up;
        self.loss /= n;
        self.gain /= n;
        Some(self.value())
    }

    fn lookback(&self) -> usize {
        self.n
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.gain = 0.0;
        self.loss = 0.0;
    }
}

/// Moving Average Convergence/Divergence: outputs `[macd, signal, hist]`.
#[derive(Clone, Debug)]
pub struct Macd {
    fast_n: usize,
    slow_n: usize,
    recent: Ring,
    slow: Ema,
    fast: Ema,
    signal: Ema,
    seen: usize,
}

impl Macd {
    /// MACD with EMA periods `fast`, `slow` (swapped if given the wrong way round, as TA-Lib
    /// does) and a signal EMA of `signal`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, TaError> {
        let fast = period("macd", "fast", fast, 2)?;
        let slow = period("macd", "slow", slow, 2)?;
        let signal = period("macd", "signal", signal, 1)?;
        let (fast, slow) = if slow < fast {
            (slow, fast)
        } else {
            (fast, slow)
        };
        Ok(Self {
            fast_n: fast,
            slow_n: slow,
            recent: Ring::new(fast),
            slow: Ema::new(slow)?,
            fast: Ema::new(fast)?,
            signal: Ema::new(signal)?,
            seen: 0,
        })
    }
}

impl Indicator for Macd {
    type Input = f64;
    type Output = [f64; 3];

    #[inline]
    fn update(&mut self, x: f64) -> Option<[f64; 3]> {
        self.seen += 1;
        let slow = self.slow.update(x);
        if self.seen < self.slow_n {
            self.recent.push(x);
            return None;
        }
        let fast = if self.seen == self.slow_n {
            self.recent.push(x);
            let mut sum = 0.0;
            for age in (0..self.fast_n).rev() {
                sum += self.recent.back(age);
            }
            let seed = sum / self.fast_n as f64;
            self.fast.seed(seed);
            seed
        } else {
            self.fast.update(x)?
        };
        let macd = fast - slow?;
        let signal = self.signal.update(macd)?;
        Some([macd, signal, macd - signal])
    }

    fn lookback(&self) -> usize {
        self.slow_n - 1 + self.signal.lookback()
    }

    fn reset(&mut self) {
        self.recent.clear();
        self.slow.reset();
        self.fast.reset();
        self.signal.reset();
        self.seen = 0;
    }
}

/// Raw stochastic %K of a value against the window's extremes, TA-Lib arithmetic.
#[inline]
fn raw_k(x: f64, highest: f64, lowest: f64) -> f64 {
    let diff = (highest - lowest) / 100.0;
    if diff != 0.0 {
        (x - lowest) / diff
    } else {
        0.0
    }
}

/// Slow stochastic: outputs `[k, d]` where `k` is the SMA of raw %K and `d` the SMA of `k`.
#[derive(Clone, Debug)]
pub struct Stoch {
    fastk_n: usize,
    seen: usize,
    hi: Highest,
    lo: Lowest,
    slowk: Sma,
    slowd: Sma,
}

impl Stoch {
    /// %K over `fastk` bars, smoothed by `slowk`, with %D over `slowd`.
    pub fn new(fastk: usize, slowk: usize, slowd: usize) -> Result<Self, TaError> {
        let fastk = period("stoch", "fastk", fastk, 1)?;
        let slowk = period("stoch", "slowk", slowk, 1)?;
        let slowd = period("stoch", "slowd", slowd, 1)?;
        Ok(Self {
            fastk_n: fastk,
            seen: 0,
            hi: Highest::new(fastk),
            lo: Lowest::new(fastk),
            slowk: Sma::new(slowk)?,
            slowd: Sma::new(slowd)?,
        })
    }
}

impl Indicator for Stoch {
    type Input = Candle;
    type Output = [f64; 2];

    #[inline]
    fn update(&mut self, c: Candle) -> Option<[f64; 2]> {
        let h = self.hi.push(c.high);
        let l = self.lo.push(c.low);
        self.seen += 1;
        if self.seen < self.fastk_n {
            return None;
        }
        let k = self.slowk.update(raw_k(c.close, h, l))?;
        let d = self.slowd.update(k)?;
        Some([k, d])
    }

    fn lookback(&self) -> usize {
        self.fastk_n - 1 + self.slowk.lookback() + self.slowd.lookback()
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.hi.clear();
        self.lo.clear();
        self.slowk.reset();
        self.slowd.reset();
    }
}

/// Fast stochastic of a single series against its own window extremes: `[fastk, fastd]`.
/// Both outputs start together, at `fastd`'s first value (TA-Lib's STOCHF alignment).
#[derive(Clone, Debug)]
struct StochF {
    fastk_n: usize,
    seen: usize,
    hi: Highest,
    lo: Lowest,
    fastd: Sma,
}

impl StochF {
    fn new(fastk: usize, fastd: usize) -> Result<Self, TaError> {
        Ok(Self {
            fastk_n: fastk,
            seen: 0,
            hi: Highest::new(fastk),
            lo: Lowest::new(fastk),
            fastd: Sma::new(fastd)?,
        })
    }

    #[inline]
    fn update(&mut self, x: f64) -> Option<[f64; 2]> {
        let h = self.hi.push(x);
        let l = self.lo.push(x);
        self.seen += 1;
        if self.seen < self.fastk_n {
            return None;
        }
        let k = raw_k(x, h, l);
        let d = self.fastd.update(k)?;
        Some([k, d])
    }

    fn lookback(&self) -> usize {
        self.fastk_n - 1 + self.fastd.lookback()
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.hi.clear();
        self.lo.clear();
        self.fastd.reset();
    }
}

/// Stochastic RSI (TA-Lib's STOCHRSI): fast stochastic of RSI; outputs `[k, d]`.
#[derive(Clone, Debug)]
pub struct StochRsi {
    rsi: Rsi,
    stoch: StochF,
}

impl StochRsi {
    /// RSI of `period`, fast %K over `fastk`, %D over `fastd`.
    pub fn new(rsi_period: usize, fastk: usize, fastd: usize) -> Result<Self, TaError> {
        let rsi_period = period("stochrsi", "period", rsi_period, 2)?;
        let fastk = period("stochrsi", "fastk", fastk, 1)?;
        let fastd = period("stochrsi", "fastd", fastd, 1)?;
        Ok(Self {
            rsi: Rsi::new(rsi_period)?,
            stoch: StochF::new(fastk, fastd)?,
        })
    }
}

impl Indicator for StochRsi {
    type Input = f64;
    type Output = [f64; 2];

    #[inline]
    fn update(&mut self, x: f64) -> Option<[f64; 2]> {
        let r = self.rsi.update(x)?;
        self.stoch.update(r)
    }

    fn lookback(&self) -> usize {
        self.rsi.lookback() + self.stoch.lookback()
    }

    fn reset(&mut self) {
        self.rsi.reset();
        self.stoch.reset();
    }
}

/// Commodity Channel Index over typical prices. O(n) per update (see module docs).
#[derive(Clone, Debug)]
pub struct Cci {
    n: usize,
    ring: CircBuf,
}

impl Cci {
    /// A CCI of period `n >= 2`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("cci", "period", n, 2)?;
        Ok(Self {
            n,
            ring: CircBuf::new(n),
        })
    }
}

impl Indicator for Cci {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let tp = (c.high + c.low + c.close) / 3.0;
        self.ring.push(tp);
        if !self.ring.is_full() {
            return None;
        }
        let n = self.n as f64;
        let slots = self.ring.slots();
        let mut avg = 0.0;
        for &v in slots {
            avg += v;
        }
        avg /= n;
        let mut dev = 0.0;
        for &v in slots {
            dev += (v - avg).abs();
        }
        let t = tp - avg;
        Some(if t != 0.0 && dev != 0.0 {
            t / (0.015 * (dev / n))
        } else {
            0.0
        })
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.ring.clear();
    }
}

/// Money Flow Index.
#[derive(Clone, Debug)]
pub struct Mfi {
    n: usize,
    seen: usize,
    prev_tp: f64,
    pos: Ring,
    neg: Ring,
    pos_sum: f64,
    neg_sum: f64,
}

impl Mfi {
    /// An MFI of period `n >= 2`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("mfi", "period", n, 2)?;
        Ok(Self {
            n,
            seen: 0,
            prev_tp: 0.0,
            pos: Ring::new(n),
            neg: Ring::new(n),
            pos_sum: 0.0,
            neg_sum: 0.0,
        })
    }

    #[inline]
    fn value(&self) -> f64 {
        let total = self.pos_sum + self.neg_sum;
        if total < 1.0 {
            0.0
        } else {
            100.0 * (self.pos_sum / total)
        }
    }
}

impl Indicator for Mfi {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let tp = (c.high + c.low + c.close) / 3.0;
        if self.seen == 0 {
            self.prev_tp = tp;
            self.seen = 1;
            return None;
        }
        let d = tp - self.prev_tp;
        self.prev_tp = tp;
        let flow = tp * c.volume;
        // Selects rather than TA-Lib's if/else-if: same values, no unpredictable branch.
        let p = if d > 0.0 { flow } else { 0.0 };
        let q = if d < 0.0 { flow } else { 0.0 };
        if self.seen > self.n {
            self.pos_sum -= self.pos.oldest();
            self.neg_sum -= self.neg.oldest();
        }
        self.pos.push(p);
        self.neg.push(q);
        self.pos_sum += p;
        self.neg_sum += q;
        if self.seen <= self.n {
            self.seen += 1;
            if self.seen <= self.n {
                return None;
            }
        }
        Some(self.value())
    }

    fn lookback(&self) -> usize {
        self.n
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.pos.clear();
        self.neg.clear();
        self.pos_sum = 0.0;
        self.neg_sum = 0.0;
    }
}

/// Williams %R (−100 … 0).
#[derive(Clone, Debug)]
pub struct Willr {
    n: usize,
    seen: usize,
    hi: Highest,
    lo: Lowest,
}

impl Willr {
    /// A Williams %R of period `n >= 2`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("willr", "period", n, 2)?;
        Ok(Self {
            n,
            seen: 0,
            hi: Highest::new(n),
            lo: Lowest::new(n),
        })
    }
}

impl Indicator for Willr {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let h = self.hi.push(c.high);
        let l = self.lo.push(c.low);
        self.seen += 1;
        if self.seen < self.n {
            return None;
        }
        let diff = (h - l) / -100.0;
        Some(if diff != 0.0 {
            (h - c.close) / diff
        } else {
            0.0
        })
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

/// Rate of change in percent: `(x / x[n] − 1) · 100`.
#[derive(Clone, Debug)]
pub struct Roc {
    ring: Ring,
}

impl Roc {
    /// A ROC over `n >= 1` bars.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("roc", "period", n, 1)?;
        Ok(Self {
            ring: Ring::new(n + 1),
        })
    }
}

impl Indicator for Roc {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.ring.push(x);
        if !self.ring.is_full() {
            return None;
        }
        let prev = self.ring.oldest();
        Some(if prev != 0.0 {
            ((x / prev) - 1.0) * 100.0
        } else {
            0.0
        })
    }

    fn lookback(&self) -> usize {
        self.ring.cap() - 1
    }

    fn reset(&mut self) {
        self.ring.clear();
    }
}

/// Momentum: `x − x[n]`.
#[derive(Clone, Debug)]
pub struct Mom {
    ring: Ring,
}

impl Mom {
    /// A momentum over `n >= 1` bars.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("mom", "period", n, 1)?;
        Ok(Self {
            ring: Ring::new(n + 1),
        })
    }
}

impl Indicator for Mom {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.ring.push(x);
        if !self.ring.is_full() {
            return None;
        }
        Some(x - self.ring.oldest())
    }

    fn lookback(&self) -> usize {
        self.ring.cap() - 1
    }

    fn reset(&mut self) {
        self.ring.clear();
    }
}

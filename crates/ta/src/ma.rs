//! Moving averages: SMA, EMA, WMA, DEMA, TEMA, with TA-Lib's seeding and arithmetic order.
//!
//! - SMA keeps a running sum: add the new value, divide, subtract the value leaving the window
//!   (TA-Lib's order, so long series drift exactly as TA-Lib's do).
//! - EMA uses `k = 2 / (n + 1)` and is seeded with the SMA of its first `n` inputs; the update
//!   is `(x - prev) * k + prev`.
//! - DEMA = `2·e1 − e2`, TEMA = `e3 + (3·e1 − 3·e2)`, where each `e` is an EMA of the previous,
//!   each seeded as above from the first `n` values of its input.

use crate::error::{TaError, period};
use crate::indicator::Indicator;
use crate::window::Ring;

/// Simple moving average over `n` values.
#[derive(Clone, Debug)]
pub struct Sma {
    n: usize,
    ring: Ring,
    sum: f64,
}

impl Sma {
    /// An SMA of `n >= 1` values.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("sma", "period", n, 1)?;
        Ok(Self {
            n,
            ring: Ring::new(n),
            sum: 0.0,
        })
    }
}

impl Indicator for Sma {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.ring.push(x);
        self.sum += x;
        if !self.ring.is_full() {
            return None;
        }
        let out = self.sum / self.n as f64;
        self.sum -= self.ring.oldest();
        Some(out)
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.ring.clear();
        self.sum = 0.0;
    }

    fn batch_slice(&self, x: &[f64], out: &mut [f64]) -> bool {
        if self.ring.count() != 0 {
            return false;
        }
        let (n, nf) = (self.n, self.n as f64);
        let warm = (n - 1).min(x.len());
        let mut sum = 0.0;
        for (&v, o) in x[..warm].iter().zip(&mut out[..warm]) {
            sum += v;
            *o = f64::NAN;
        }
        if x.len() < n {
            return true;
        }
        // Each step adds the newest value and, after the output, takes away the one leaving
        // the window: both read from the input.
        let newest = &x[n - 1..];
        let leaving = &x[..x.len() + 1 - n];
        let mut block = [0.0; crate::indicator::BLOCK];
        for ((dst, nw), lv) in out[n - 1..]
            .chunks_mut(crate::indicator::BLOCK)
            .zip(newest.chunks(crate::indicator::BLOCK))
            .zip(leaving.chunks(crate::indicator::BLOCK))
        {
            for ((b, &a), &o) in block.iter_mut().zip(nw).zip(lv) {
                sum += a;
                *b = sum / nf;
                sum -= o;
            }
            dst.copy_from_slice(&block[..dst.len()]);
        }
        true
    }
}

/// Exponential moving average, SMA-seeded.
#[derive(Clone, Debug)]
pub struct Ema {
    n: usize,
    k: f64,
    seen: usize,
    value: f64,
}

impl Ema {
    /// An EMA of period `n >= 1`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("ema", "period", n, 1)?;
        Ok(Self::with_k(n, 2.0 / ((n + 1) as f64)))
    }

    /// An EMA of period `n` with smoothing factor `k` (Wilder's smoothing is `k = 1/n`).
    pub(crate) fn with_k(n: usize, k: f64) -> Self {
        Self {
            n,
            k,
            seen: 0,
            value: 0.0,
        }
    }

    /// Seeds the average directly (used where TA-Lib seeds from a window other than the first).
    pub(crate) fn seed(&mut self, value: f64) {
        self.seen = self.n;
        self.value = value;
    }
}

impl Indicator for Ema {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        if self.seen < self.n {
            self.value += x;
            self.seen += 1;
            if self.seen < self.n {
                return None;
            }
            self.value /= self.n as f64;
            return Some(self.value);
        }
        self.value = (x - self.value) * self.k + self.value;
        Some(self.value)
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.value = 0.0;
    }

    fn batch_slice(&self, x: &[f64], out: &mut [f64]) -> bool {
        if self.seen != 0 {
            return false;
        }
        let (n, k) = (self.n, self.k);
        let warm = n.min(x.len());
        let mut value = 0.0;
        for (i, (&v, o)) in x[..warm].iter().zip(&mut out[..warm]).enumerate() {
            value += v;
            *o = if i + 1 < n {
                f64::NAN
            } else {
                value /= n as f64;
                value
            };
        }
        crate::indicator::blocked(&x[warm..], &mut out[warm..], |v| {
            value = (v - value) * k + value;
            value
        });
        true
    }
}

/// Linearly weighted moving average (newest weight `n`, oldest weight 1).
#[derive(Clone, Debug)]
pub struct Wma {
    n: usize,
    ring: Ring,
    seen: usize,
    sum: f64,
    sub: f64,
    trailing: f64,
    divider: f64,
}

impl Wma {
    /// A WMA of `n >= 1` values.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("wma", "period", n, 1)?;
        Ok(Self {
            n,
            ring: Ring::new(n),
            seen: 0,
            sum: 0.0,
            sub: 0.0,
            trailing: 0.0,
            divider: ((n * (n + 1)) >> 1) as f64,
        })
    }
}

impl Indicator for Wma {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.ring.push(x);
        self.seen += 1;
        if self.seen < self.n {
            // Warm-up: the i-th value (1-based) gets weight i.
            self.sub += x;
            self.sum += x * self.seen as f64;
            return None;
        }
        self.sub += x;
        self.sub -= self.trailing;
        self.sum += x * self.n as f64;
        self.trailing = self.ring.oldest();
        let out = self.sum / self.divider;
        self.sum -= self.sub;
        Some(out)
    }

    fn lookback(&self) -> usize {
        self.n - 1
    }

    fn reset(&mut self) {
        self.ring.clear();
        self.seen = 0;
        self.sum = 0.0;
        self.sub = 0.0;
        self.trailing = 0.0;
    }

    fn batch_slice(&self, x: &[f64], out: &mut [f64]) -> bool {
        if self.seen != 0 {
            return false;
        }
        let (n, nf, divider) = (self.n, self.n as f64, self.divider);
        let warm = (n - 1).min(x.len());
        let (mut sum, mut sub, mut trailing) = (0.0, 0.0, 0.0);
        for (i, (&v, o)) in x[..warm].iter().zip(&mut out[..warm]).enumerate() {
            // Warm-up: the i-th value (1-based) gets weight i.
            sub += v;
            sum += v * (i + 1) as f64;
            *o = f64::NAN;
        }
        if x.len() < n {
            return true;
        }
        let newest = &x[n - 1..];
        let leaving = &x[..x.len() + 1 - n];
        let mut block = [0.0; crate::indicator::BLOCK];
        for ((dst, nw), lv) in out[n - 1..]
            .chunks_mut(crate::indicator::BLOCK)
            .zip(newest.chunks(crate::indicator::BLOCK))
            .zip(leaving.chunks(crate::indicator::BLOCK))
        {
            for ((b, &a), &o) in block.iter_mut().zip(nw).zip(lv) {
                sub += a;
                sub -= trailing;
                sum += a * nf;
                trailing = o;
                *b = sum / divider;
                sum -= sub;
            }
            dst.copy_from_slice(&block[..dst.len()]);
        }
        true
    }
}

/// Double exponential moving average.
#[derive(Clone, Debug)]
pub struct Dema {
    e1: Ema,
    e2: Ema,
}

impl Dema {
    /// A DEMA of period `n >= 1`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("dema", "period", n, 1)?;
        Ok(Self {
            e1: Ema::new(n)?,
            e2: Ema::new(n)?,
        })
    }
}

impl Indicator for Dema {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        let a = self.e1.update(x)?;
        let b = self.e2.update(a)?;
        Some(2.0 * a - b)
    }

    fn lookback(&self) -> usize {
        2 * self.e1.lookback()
    }

    fn reset(&mut self) {
        self.e1.reset();
        self.e2.reset();
    }
}

/// Triple exponential moving average.
#[derive(Clone, Debug)]
pub struct Tema {
    e1: Ema,
    e2: Ema,
    e3: Ema,
}

impl Tema {
    /// A TEMA of period `n >= 1`.
    pub fn new(n: usize) -> Result<Self, TaError> {
        let n = period("tema", "period", n, 1)?;
        Ok(Self {
            e1: Ema::new(n)?,
            e2: Ema::new(n)?,
            e3: Ema::new(n)?,
        })
    }
}

impl Indicator for Tema {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        let a = self.e1.update(x)?;
        let b = self.e2.update(a)?;
        let c = self.e3.update(b)?;
        Some(c + (3.0 * a - 3.0 * b))
    }

    fn lookback(&self) -> usize {
        3 * self.e1.lookback()
    }

    fn reset(&mut self) {
        self.e1.reset();
        self.e2.reset();
        self.e3.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::batch;

    /// Streams `ind` over `xs` one update at a time.
    fn streamed<I: Indicator<Input = f64, Output = f64>>(mut ind: I, xs: &[f64]) -> Vec<f64> {
        xs.iter()
            .map(|&x| ind.update(x).unwrap_or(f64::NAN))
            .collect()
    }

    /// The batch fast paths (values read from the slice) equal streaming bit for bit at every
    /// period and length, including inputs shorter than the period, gaps (NaN) inside the
    /// series and lengths across the output block; an indicator already fed falls back to
    /// streaming.
    #[test]
    fn slice_kernels_equal_streaming_bit_for_bit() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 100.0 - 50.0
        };
        let mut xs: Vec<f64> = (0..700).map(|_| next()).collect();
        xs[400] = f64::NAN;
        let same = |a: &[f64], b: &[f64], what: &str| {
            assert_eq!(a.len(), b.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{what}[{i}]: batch {x} stream {y}"
                );
            }
        };
        for n in [1_usize, 2, 3, 7, 10, 30, 257] {
            for len in [0, 1, n.saturating_sub(1), n, n + 1, 255, 256, 257, 700] {
                let x = &xs[..len.min(xs.len())];
                same(
                    &batch(Sma::new(n).unwrap(), x),
                    &streamed(Sma::new(n).unwrap(), x),
                    &format!("sma({n}) len {len}"),
                );
                same(
                    &batch(Ema::new(n).unwrap(), x),
                    &streamed(Ema::new(n).unwrap(), x),
                    &format!("ema({n}) len {len}"),
                );
                same(
                    &batch(Wma::new(n).unwrap(), x),
                    &streamed(Wma::new(n).unwrap(), x),
                    &format!("wma({n}) len {len}"),
                );
            }
        }
        let mut fed = Sma::new(3).unwrap();
        fed.update(1.0);
        assert!(
            !fed.batch_slice(&[1.0, 2.0], &mut [0.0; 2]),
            "only from a fresh state"
        );
    }

    #[test]
    fn sma_and_ema_basics() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        let s = batch(Sma::new(3).unwrap(), &xs);
        assert!(s[1].is_nan());
        assert_eq!(&s[2..], &[2.0, 3.0, 4.0]);
        let e = batch(Ema::new(3).unwrap(), &xs);
        assert_eq!(e[2], 2.0);
        assert_eq!(e[3], 3.0);
        let w = batch(Wma::new(3).unwrap(), &xs);
        assert_eq!(w[2], (1.0 + 4.0 + 9.0) / 6.0);
        assert_eq!(w[4], (3.0 + 8.0 + 15.0) / 6.0);
    }

    #[test]
    fn rejects_zero_period() {
        let err = Sma::new(0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sma: parameter 'period' = 0 is invalid: must be a whole number from 1 to 100000"
        );
    }
}

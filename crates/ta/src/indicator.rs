//! The [`Indicator`] trait: the one definition each indicator provides, used both for streaming
//! (one `update` per closed bar, O(1) or as stated) and for batch computation
//! ([`batch`], [`batch_candles`]), which simply drives `update` over an array. Batch results are
//! therefore identical to streaming results by construction, and tests check it anyway.
//!
//! Conventions (TA-Lib's):
//! - `update` returns `None` until the indicator has seen `lookback() + 1` inputs; the first
//!   value appears at index `lookback()` of the input, exactly where TA-Lib's first output is.
//! - Batch outputs have the input's length, with `NaN` before the first value.
//! - Leading `NaN` inputs (from a nested indicator that is still warming up) are skipped by the
//!   batch drivers, as TA-Lib's Python wrapper does, so `sma(rsi(close,14),5)` starts after
//!   the RSI does.

/// One bar as indicators see it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Candle {
    /// Bar open time, nanoseconds since the Unix epoch (only session-anchored indicators use it).
    pub ts: i64,
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Volume.
    pub volume: f64,
}

/// A streaming indicator.
pub trait Indicator {
    /// What one update consumes: `f64` for single-series indicators, [`Candle`] for the rest.
    type Input: Copy;
    /// What one update produces once warm.
    type Output: Copy;

    /// Feeds the next closed bar's input; `None` while warming up.
    fn update(&mut self, input: Self::Input) -> Option<Self::Output>;

    /// How many inputs precede the first output.
    fn lookback(&self) -> usize;

    /// Forgets all inputs, keeping the parameters.
    fn reset(&mut self);
}

/// Runs a single-series indicator over `input`; `NaN` where it has no value.
pub fn batch<I: Indicator<Input = f64, Output = f64>>(mut ind: I, input: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; input.len()];
    let start = first_valid(input);
    for (o, &x) in out[start..].iter_mut().zip(&input[start..]) {
        if let Some(v) = ind.update(x) {
            *o = v;
        }
    }
    out
}

/// Runs a single-series indicator with `N` outputs over `input`.
pub fn batch_multi<const N: usize, I: Indicator<Input = f64, Output = [f64; N]>>(
    mut ind: I,
    input: &[f64],
) -> [Vec<f64>; N] {
    let mut out: [Vec<f64>; N] = std::array::from_fn(|_| vec![f64::NAN; input.len()]);
    let start = first_valid(input);
    for (i, &x) in input.iter().enumerate().skip(start) {
        if let Some(vs) = ind.update(x) {
            for (col, v) in out.iter_mut().zip(vs) {
                col[i] = v;
            }
        }
    }
    out
}

/// Runs a candle indicator with `N` outputs over bars given as columns.
pub fn batch_candles<const N: usize, I: Indicator<Input = Candle, Output = [f64; N]>>(
    mut ind: I,
    bars: &Columns<'_>,
) -> [Vec<f64>; N] {
    let len = bars.len();
    let mut out: [Vec<f64>; N] = std::array::from_fn(|_| vec![f64::NAN; len]);
    for i in 0..len {
        if let Some(vs) = ind.update(bars.candle(i)) {
            for (col, v) in out.iter_mut().zip(vs) {
                col[i] = v;
            }
        }
    }
    out
}

/// Bars as borrowed columns of equal length (the batch input).
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    /// Open times (ns); may be empty when no indicator needs time.
    pub ts: &'a [i64],
    /// Opens.
    pub open: &'a [f64],
    /// Highs.
    pub high: &'a [f64],
    /// Lows.
    pub low: &'a [f64],
    /// Closes.
    pub close: &'a [f64],
    /// Volumes.
    pub volume: &'a [f64],
}

impl Columns<'_> {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// Checks that every column has the same length (an empty `ts` is allowed).
    pub fn check(&self) -> Result<(), crate::TaError> {
        let n = self.close.len();
        for len in [
            self.open.len(),
            self.high.len(),
            self.low.len(),
            self.volume.len(),
        ] {
            if len != n {
                return Err(crate::TaError::LengthMismatch(n, len));
            }
        }
        if !self.ts.is_empty() && self.ts.len() != n {
            return Err(crate::TaError::LengthMismatch(n, self.ts.len()));
        }
        Ok(())
    }

    /// The bar at `i`.
    #[inline]
    pub fn candle(&self, i: usize) -> Candle {
        Candle {
            ts: self.ts.get(i).copied().unwrap_or(0),
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        }
    }
}

fn first_valid(input: &[f64]) -> usize {
    input
        .iter()
        .position(|x| !x.is_nan())
        .unwrap_or(input.len())
}

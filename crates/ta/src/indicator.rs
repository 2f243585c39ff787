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

    /// The batch fast path of single-series indicators: from a fresh state, fills `out` (the
    /// input's length) with the outputs over `input` (`NaN` while warming up) and returns
    /// true; false (the default, or when the state is not fresh) leaves the caller to drive
    /// [`Indicator::update`]. Overrides read trailing values from the input slice instead of
    /// a ring buffer, as TA-Lib's array code does, with the same arithmetic in the same
    /// order, so batch and streaming stay bit-identical (tested on every indicator).
    fn batch_slice(&self, input: &[f64], out: &mut [f64]) -> bool {
        let _ = (input, out);
        false
    }
}

/// Writes `f`'s values for `src` into `out` (same length) through a stack block (see
/// [`BLOCK`]); `f` keeps the running state.
#[inline]
pub(crate) fn blocked<T: Copy>(src: &[T], out: &mut [f64], mut f: impl FnMut(T) -> f64) {
    let mut block = [0.0; BLOCK];
    for (s, dst) in src.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        for (b, &x) in block.iter_mut().zip(s) {
            *b = f(x);
        }
        dst.copy_from_slice(&block[..dst.len()]);
    }
}

/// Runs a single-series indicator over `input`; `NaN` where it has no value.
pub fn batch<I: Indicator<Input = f64, Output = f64>>(ind: I, input: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; input.len()];
    batch_into(ind, input, &mut out);
    out
}

/// Like [`batch`], writing into `out` (which must have the input's length). Reusing the
/// buffer avoids allocating and faulting in fresh memory on every run, which on large inputs
/// costs more than the indicator itself.
pub fn batch_into<I: Indicator<Input = f64, Output = f64>>(
    mut ind: I,
    input: &[f64],
    out: &mut [f64],
) {
    let start = first_valid(input);
    let out = &mut out[..input.len()];
    out[..start].fill(f64::NAN);
    if ind.batch_slice(&input[start..], &mut out[start..]) {
        return;
    }
    let mut block = [0.0; BLOCK];
    for (src, dst) in input[start..]
        .chunks(BLOCK)
        .zip(out[start..].chunks_mut(BLOCK))
    {
        for (b, &x) in block.iter_mut().zip(src) {
            *b = ind.update(x).unwrap_or(f64::NAN);
        }
        dst.copy_from_slice(&block[..dst.len()]);
    }
}

/// Outputs are produced into a small stack block and copied out in bulk. Writing them one at
/// a time interleaved with the input reads is up to 3x slower when the arrays happen to sit at
/// the same offset within a 4 KiB page (the CPU then mistakes loads for dependents of the
/// stores: "4K aliasing"), which large allocations often do.
pub(crate) const BLOCK: usize = 256;

/// Runs a single-series indicator with `N` outputs over `input`.
pub fn batch_multi<const N: usize, I: Indicator<Input = f64, Output = [f64; N]>>(
    ind: I,
    input: &[f64],
) -> [Vec<f64>; N] {
    let mut out: [Vec<f64>; N] = std::array::from_fn(|_| vec![f64::NAN; input.len()]);
    batch_multi_into(ind, input, &mut out);
    out
}

/// Like [`batch_multi`], writing into `out` (`N` columns, each of the input's length).
pub fn batch_multi_into<const N: usize, I: Indicator<Input = f64, Output = [f64; N]>>(
    mut ind: I,
    input: &[f64],
    out: &mut [Vec<f64>],
) {
    let start = first_valid(input);
    let mut writer = BlockWriter::<N>::new(out, input.len());
    for (i, &x) in input.iter().enumerate() {
        let vs = if i < start { None } else { ind.update(x) };
        writer.push(vs.unwrap_or([f64::NAN; N]));
    }
    writer.flush();
}

/// Collects `N`-wide rows into a stack block and writes them to `N` columns in bulk.
struct BlockWriter<'a, const N: usize> {
    cols: [&'a mut [f64]; N],
    block: [[f64; BLOCK]; N],
    filled: usize,
    written: usize,
}

impl<'a, const N: usize> BlockWriter<'a, N> {
    fn new(out: &'a mut [Vec<f64>], len: usize) -> Self {
        let mut it = out.iter_mut();
        Self {
            cols: std::array::from_fn(|_| match it.next() {
                Some(v) => &mut v[..len],
                None => &mut [],
            }),
            block: [[0.0; BLOCK]; N],
            filled: 0,
            written: 0,
        }
    }

    #[inline]
    fn push(&mut self, row: [f64; N]) {
        for (b, v) in self.block.iter_mut().zip(row) {
            b[self.filled] = v;
        }
        self.filled += 1;
        if self.filled == BLOCK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let (from, to) = (self.written, self.written + self.filled);
        for (col, b) in self.cols.iter_mut().zip(&self.block) {
            if let Some(dst) = col.get_mut(from..to) {
                dst.copy_from_slice(&b[..self.filled]);
            }
        }
        self.written = to;
        self.filled = 0;
    }
}

/// Runs a candle indicator with `N` outputs over bars given as columns.
pub fn batch_candles<const N: usize, I: Indicator<Input = Candle, Output = [f64; N]>>(
    ind: I,
    bars: &Columns<'_>,
) -> [Vec<f64>; N] {
    let mut out: [Vec<f64>; N] = std::array::from_fn(|_| vec![f64::NAN; bars.len()]);
    batch_candles_into(ind, bars, &mut out);
    out
}

/// Like [`batch_candles`], writing into `out` (`N` columns, each of the bars' length).
pub fn batch_candles_into<const N: usize, I: Indicator<Input = Candle, Output = [f64; N]>>(
    mut ind: I,
    bars: &Columns<'_>,
    out: &mut [Vec<f64>],
) {
    let mut writer = BlockWriter::<N>::new(out, bars.len());
    bars.for_each(|_, c| writer.push(ind.update(c).unwrap_or([f64::NAN; N])));
    writer.flush();
}

/// Runs a single-output candle indicator, writing into `out` (of the bars' length).
pub fn batch_candles1_into<I: Indicator<Input = Candle, Output = f64>>(
    mut ind: I,
    bars: &Columns<'_>,
    out: &mut [f64],
) {
    let out = [out];
    let mut writer = BlockWriter::<1> {
        cols: [&mut out[0][..bars.len()]],
        block: [[0.0; BLOCK]],
        filled: 0,
        written: 0,
    };
    bars.for_each(|_, c| writer.push([ind.update(c).unwrap_or(f64::NAN)]));
    writer.flush();
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

    /// Calls `f(i, bar)` for every bar in order. Iterates the columns in lock step, which
    /// the compiler turns into a loop without bounds checks.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(usize, Candle)) {
        let n = self.len();
        let (open, high, low, volume) = (
            &self.open[..n],
            &self.high[..n],
            &self.low[..n],
            &self.volume[..n],
        );
        let rows = open
            .iter()
            .zip(high)
            .zip(low)
            .zip(&self.close[..n])
            .zip(volume);
        if self.ts.len() == n {
            for (i, (((((&o, &h), &l), &c), &v), &ts)) in rows.zip(&self.ts[..n]).enumerate() {
                f(
                    i,
                    Candle {
                        ts,
                        open: o,
                        high: h,
                        low: l,
                        close: c,
                        volume: v,
                    },
                );
            }
        } else {
            for (i, ((((&o, &h), &l), &c), &v)) in rows.enumerate() {
                f(
                    i,
                    Candle {
                        ts: 0,
                        open: o,
                        high: h,
                        low: l,
                        close: c,
                        volume: v,
                    },
                );
            }
        }
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

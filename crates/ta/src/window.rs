//! Fixed windows over a stream.
//!
//! - [`Ring`] keeps the last `n` values in a power-of-two buffer (index by mask, no modulo).
//! - [`CircBuf`] is an exact-size circular buffer filled from slot 0, for the one place
//!   (CCI) where TA-Lib sums a window in storage order and the order of additions shows in
//!   the result.
//! - [`Extreme`] tracks the window maximum or minimum the way TA-Lib does: compare each new
//!   value with the current extreme and rescan the window only when the extreme leaves it.
//!   That is O(1) per update on market data (the extreme leaves about once per window) and
//!   O(n) in the worst case (a window whose extreme is always its oldest value).

/// The last `n` values of a stream.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    mask: usize,
    n: usize,
    count: usize,
}

impl Ring {
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        let cap = n.next_power_of_two();
        Self {
            buf: vec![0.0; cap],
            mask: cap - 1,
            n,
            count: 0,
        }
    }

    /// The window length.
    pub(crate) fn cap(&self) -> usize {
        self.n
    }

    /// True once `n` values have been pushed.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.count >= self.n
    }

    /// Appends `x`; once full, the oldest value leaves the window.
    #[inline]
    pub(crate) fn push(&mut self, x: f64) {
        self.buf[self.count & self.mask] = x;
        self.count += 1;
    }

    /// The oldest value in the window (the first value before the window is full).
    #[inline]
    pub(crate) fn oldest(&self) -> f64 {
        self.buf[self.count.saturating_sub(self.n) & self.mask]
    }

    /// The value `age` steps back (0 = newest); `age` must be below the number pushed and `n`.
    #[inline]
    pub(crate) fn back(&self, age: usize) -> f64 {
        self.buf[(self.count - 1 - age) & self.mask]
    }

    /// Number of values pushed so far.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    pub(crate) fn clear(&mut self) {
        self.count = 0;
    }
}

/// Exact-size circular buffer filled from slot 0 (TA-Lib's `CIRCBUF`).
#[derive(Clone, Debug)]
pub(crate) struct CircBuf {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl CircBuf {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            buf: vec![0.0; n.max(1)],
            head: 0,
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: f64) {
        self.buf[self.head] = x;
        self.head += 1;
        if self.head == self.buf.len() {
            self.head = 0;
        }
        if self.len < self.buf.len() {
            self.len += 1;
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// The stored values in slot order.
    pub(crate) fn slots(&self) -> &[f64] {
        &self.buf[..self.len]
    }

    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// Maximum (`MAX = true`) or minimum of the last `n` values.
#[derive(Clone, Debug)]
pub(crate) struct Extreme<const MAX: bool> {
    ring: Ring,
    best: f64,
    /// Sequence number (0-based push count) of `best`.
    best_seq: usize,
}

/// Window maximum.
pub(crate) type Highest = Extreme<true>;
/// Window minimum.
pub(crate) type Lowest = Extreme<false>;

impl<const MAX: bool> Extreme<MAX> {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            ring: Ring::new(n),
            best: f64::NAN,
            best_seq: 0,
        }
    }

    #[inline]
    fn at_least_as_good(x: f64, than: f64) -> bool {
        if MAX { x >= than } else { x <= than }
    }

    /// Adds `x` and returns the extreme of the last `n` values (fewer at the start).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) -> f64 {
        self.ring.push(x);
        let seq = self.ring.count() - 1;
        let n = self.ring.cap();
        if seq == 0 || self.best_seq + n <= seq {
            // The extreme left the window (or this is the first value): rescan.
            let len = (seq + 1).min(n);
            let mut best_age = len - 1;
            let mut best = self.ring.back(best_age);
            for age in (0..len - 1).rev() {
                let v = self.ring.back(age);
                if if MAX { v > best } else { v < best } {
                    best = v;
                    best_age = age;
                }
            }
            self.best = best;
            self.best_seq = seq - best_age;
        } else {
            // Written as selects so the compiler emits conditional moves: whether a new
            // value sets a new extreme is close to a coin flip on market data.
            let take = Self::at_least_as_good(x, self.best);
            self.best = if take { x } else { self.best };
            self.best_seq = if take { seq } else { self.best_seq };
        }
        self.best
    }

    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.best = f64::NAN;
        self.best_seq = 0;
    }
}

/// TA-Lib's `TA_EPSILON` since 0.6 (it was 1e-8 in 0.4, which zeroed the standard deviation
/// of low-priced assets such as EUR/USD).
const EPSILON: f64 = 0.000_000_000_000_01;

/// TA-Lib's `TA_IS_ZERO`: treats |x| < 1e-14 as zero.
#[inline]
pub(crate) fn is_zero(x: f64) -> bool {
    -EPSILON < x && x < EPSILON
}

/// TA-Lib's `TA_IS_ZERO_OR_NEG`.
#[inline]
pub(crate) fn is_zero_or_neg(x: f64) -> bool {
    x < EPSILON
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_values() {
        let mut r = Ring::new(3);
        r.push(1.0);
        assert_eq!(r.oldest(), 1.0);
        for x in [2.0, 3.0, 4.0] {
            r.push(x);
        }
        assert_eq!(r.oldest(), 2.0);
        assert_eq!((r.back(0), r.back(2)), (4.0, 2.0));
    }

    #[test]
    fn circbuf_keeps_slot_order() {
        let mut c = CircBuf::new(3);
        for x in [1.0, 2.0, 3.0, 4.0] {
            c.push(x);
        }
        assert_eq!(c.slots(), &[4.0, 2.0, 3.0]);
    }

    #[test]
    fn extreme_tracks_window_max_and_min() {
        let xs = [5.0, 1.0, 4.0, 2.0, 3.0, 0.5, 6.0, 6.0, 1.0, 1.0, 1.0, 0.0];
        for n in 1..5 {
            let mut mx = Highest::new(n);
            let mut mn = Lowest::new(n);
            for (i, &x) in xs.iter().enumerate() {
                let w = &xs[(i + 1).saturating_sub(n)..=i];
                assert_eq!(
                    mx.push(x),
                    w.iter().copied().fold(f64::MIN, f64::max),
                    "n={n} i={i}"
                );
                assert_eq!(
                    mn.push(x),
                    w.iter().copied().fold(f64::MAX, f64::min),
                    "n={n} i={i}"
                );
            }
        }
    }

    mod property_tests {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn prop_extreme_equals_naive_window(xs in proptest::collection::vec(-100.0f64..100.0, 1..200), n in 1usize..20) {
                let mut mx = Highest::new(n);
                let mut mn = Lowest::new(n);
                for (i, &x) in xs.iter().enumerate() {
                    let w = &xs[(i + 1).saturating_sub(n)..=i];
                    prop_assert_eq!(mx.push(x), w.iter().copied().fold(f64::MIN, f64::max));
                    prop_assert_eq!(mn.push(x), w.iter().copied().fold(f64::MAX, f64::min));
                }
            }
        }
    }
}

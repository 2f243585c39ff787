//! Fixed windows over a stream: a ring buffer of the last `n` values and monotonic deques that
//! give the window maximum or minimum in amortised O(1).
//!
//! Invariant: [`Ring`] stores values in arrival order modulo its capacity, starting at slot 0,
//! so a sum over its storage visits values in the same order TA-Lib's circular buffers do
//! (which keeps results bit-identical where the order of additions matters, as in CCI).

/// The last `cap` values of a stream.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: vec![0.0; cap.max(1)],
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Appends `x`, overwriting the oldest value once full.
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

    /// The oldest stored value (the next to be overwritten once full).
    #[inline]
    pub(crate) fn oldest(&self) -> f64 {
        if self.is_full() {
            self.buf[self.head]
        } else {
            self.buf[0]
        }
    }

    /// The value `age` steps back (0 = newest). `age` must be below `len`.
    #[inline]
    pub(crate) fn back(&self, age: usize) -> f64 {
        let cap = self.buf.len();
        let idx = (self.head + cap - 1 - age) % cap;
        self.buf[idx]
    }

    /// The storage, in slot order (see the module invariant).
    pub(crate) fn slots(&self) -> &[f64] {
        &self.buf[..self.len]
    }

    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// Maximum (or minimum) of the last `n` values in amortised O(1).
#[derive(Clone, Debug)]
pub(crate) struct Extreme {
    /// (sequence number, value), values monotonically decreasing (max) / increasing (min).
    deque: std::collections::VecDeque<(u64, f64)>,
    n: u64,
    seq: u64,
    max: bool,
}

impl Extreme {
    pub(crate) fn max(n: usize) -> Self {
        Self::new(n, true)
    }

    pub(crate) fn min(n: usize) -> Self {
        Self::new(n, false)
    }

    fn new(n: usize, max: bool) -> Self {
        Self {
            deque: std::collections::VecDeque::with_capacity(n + 1),
            n: n as u64,
            seq: 0,
            max,
        }
    }

    /// Adds `x` and returns the extreme of the last `n` values (fewer at the start).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) -> f64 {
        while let Some(&(_, back)) = self.deque.back() {
            let dominated = if self.max { back <= x } else { back >= x };
            if dominated {
                self.deque.pop_back();
            } else {
                break;
            }
        }
        self.deque.push_back((self.seq, x));
        self.seq += 1;
        while let Some(&(s, _)) = self.deque.front() {
            if s + self.n < self.seq {
                self.deque.pop_front();
            } else {
                break;
            }
        }
        self.deque.front().map_or(x, |&(_, v)| v)
    }

    pub(crate) fn clear(&mut self) {
        self.deque.clear();
        self.seq = 0;
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
        for x in [1.0, 2.0, 3.0, 4.0] {
            r.push(x);
        }
        assert_eq!(r.oldest(), 2.0);
        assert_eq!((r.back(0), r.back(2)), (4.0, 2.0));
        assert_eq!(r.slots(), &[4.0, 2.0, 3.0]);
    }

    #[test]
    fn extreme_tracks_window_max_and_min() {
        let xs = [5.0, 1.0, 4.0, 2.0, 3.0, 0.5, 6.0];
        let mut mx = Extreme::max(3);
        let mut mn = Extreme::min(3);
        for (i, &x) in xs.iter().enumerate() {
            let lo = i.saturating_sub(2);
            let w = &xs[lo..=i];
            assert_eq!(mx.push(x), w.iter().copied().fold(f64::MIN, f64::max));
            assert_eq!(mn.push(x), w.iter().copied().fold(f64::MAX, f64::min));
        }
    }
}

//! Volume indicators: On-Balance Volume (TA-Lib) and VWAP (session-anchored as pandas-ta's
//! `vwap(anchor="D")`, or rolling over `n` bars).
//!
//! OBV starts at the first bar's volume, as TA-Lib does. The session VWAP resets at 00:00 UTC
//! and needs bar timestamps; with zero cumulative volume it reports the typical price.

use crate::error::{TaError, period};
use crate::indicator::{Candle, Indicator};
use crate::window::Ring;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// On-Balance Volume of a price series (the close by default) and volume.
#[derive(Clone, Debug, Default)]
pub struct Obv {
    started: bool,
    obv: f64,
    prev: f64,
}

impl Obv {
    /// An OBV stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a price and its volume.
    #[inline]
    pub fn update_with(&mut self, price: f64, volume: f64) -> f64 {
        if !self.started {
            self.started = true;
            self.obv = volume;
        } else {
            // Branchless: +volume, -volume or +0.0 (which leaves the sum unchanged).
            let dir =
                f64::from(u8::from(price > self.prev)) - f64::from(u8::from(price < self.prev));
            self.obv += dir * volume;
        }
        self.prev = price;
        self.obv
    }
}

impl Indicator for Obv {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        Some(self.update_with(c.close, c.volume))
    }

    fn lookback(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Volume-weighted average of the typical price `(h + l + c) / 3`.
#[derive(Clone, Debug)]
pub struct Vwap {
    window: Option<(Ring, Ring)>,
    day: Option<i64>,
    pv: f64,
    vol: f64,
}

impl Vwap {
    /// VWAP anchored to the UTC day (resets at midnight).
    pub fn session() -> Self {
        Self {
            window: None,
            day: None,
            pv: 0.0,
            vol: 0.0,
        }
    }

    /// VWAP over the last `n >= 1` bars.
    pub fn rolling(n: usize) -> Result<Self, TaError> {
        let n = period("vwap", "period", n, 1)?;
        Ok(Self {
            window: Some((Ring::new(n), Ring::new(n))),
            day: None,
            pv: 0.0,
            vol: 0.0,
        })
    }
}

impl Indicator for Vwap {
    type Input = Candle;
    type Output = f64;

    #[inline]
    fn update(&mut self, c: Candle) -> Option<f64> {
        let tp = (c.high + c.low + c.close) / 3.0;
        let pv = tp * c.volume;
        match &mut self.window {
            None => {
                let day = c.ts.div_euclid(NANOS_PER_DAY);
                if self.day != Some(day) {
                    self.day = Some(day);
                    self.pv = 0.0;
                    self.vol = 0.0;
                }
                self.pv += pv;
                self.vol += c.volume;
            }
            Some((pvs, vols)) => {
                if pvs.is_full() {
                    self.pv -= pvs.oldest();
                    self.vol -= vols.oldest();
                }
                pvs.push(pv);
                vols.push(c.volume);
                self.pv += pv;
                self.vol += c.volume;
                if !pvs.is_full() {
                    return None;
                }
            }
        }
        Some(if self.vol == 0.0 {
            tp
        } else {
            self.pv / self.vol
        })
    }

    fn lookback(&self) -> usize {
        self.window.as_ref().map_or(0, |(r, _)| r.cap() - 1)
    }

    fn reset(&mut self) {
        if let Some((a, b)) = &mut self.window {
            a.clear();
            b.clear();
        }
        self.day = None;
        self.pv = 0.0;
        self.vol = 0.0;
    }
}

//! # skeet-ta
//!
//! Technical indicators with one definition for streaming and batch use.
//!
//! Every indicator implements [`Indicator`]: `update` takes one closed bar and returns the new
//! value in O(1) (amortised O(1) for window extremes; O(n) for CCI and the linear-regression
//! slope, whose exact definitions need the whole window, as in TA-Lib). Batch functions
//! ([`batch`], [`batch_multi`], [`batch_candles`]) drive that same `update` over arrays, so a
//! backtest and a live bot see identical values.
//!
//! Values reproduce TA-Lib 0.6 (seeding, first valid index and arithmetic order) to within
//! 1e-9 relative error; the indicators TA-Lib lacks (VWAP, Donchian, Keltner, SuperTrend,
//! Ichimoku) follow pandas-ta. Fixtures and the script that made them live in
//! `crates/ta/tests/fixtures/` and `scripts/ta_reference.py`.
//!
//! Indicators are causal by construction: an output at bar `t` depends on bars `<= t` only.
//! (Ichimoku's lagging span, which is defined from a future close, is omitted for that reason.)
//!
//! The textual call syntax (`sma(close,10)`, `macd(close,12,26,9).signal`) is parsed by
//! [`call`] and checked against the catalogue in [`registry`].

pub mod call;
mod error;
mod indicator;
pub mod ma;
pub mod momentum;
pub mod registry;
pub mod trend;
pub mod volatility;
pub mod volume;
mod window;

pub use error::TaError;
pub use indicator::{
    Candle, Columns, Indicator, batch, batch_candles, batch_candles_into, batch_candles1_into,
    batch_into, batch_multi, batch_multi_into,
};
pub use registry::{Field, INDICATORS, IndicatorDef, IndicatorSpec, Source, Stream, parse};

//! # skeet-backtest
//!
//! Backtests on the shared engine: the simulated venue, the runner, reports and metrics.

pub mod metrics;
pub mod table;

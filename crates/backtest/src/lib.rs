//! # skeet-backtest
//!
//! Backtests on the shared engine: the runner ([`runner`]) that compiles a spec and drives
//! the engine and its simulated venue over bars, performance [`metrics`] and the terminal
//! [`table`].

pub mod bias;
pub mod metrics;
pub mod montecarlo;
pub mod optimize;
pub mod runner;
pub mod stats;
pub mod table;
pub mod walkforward;

pub use runner::{
    BacktestError, CurvePoint, ENGINE_VERSION, Market, Report, RunConfig, RunOutput, run_spec,
    run_spec_portfolio, run_strategy,
};

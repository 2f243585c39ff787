//! # skeet-backtest
//!
//! Backtests on the shared engine: the runner ([`runner`]) that compiles a spec and drives
//! the engine and its simulated venue over bars, performance [`metrics`] and the terminal
//! [`table`]; and the tools that tell whether a result is real: parameter search with
//! overfitting guards ([`optimize`]), walk-forward analysis ([`walkforward`]), Monte Carlo
//! resampling of trades ([`montecarlo`]), the look-ahead check ([`bias`]) and the statistics
//! they share ([`stats`]).
//!
//! Every analysis is built from ordinary runs: a trial, a walk-forward window or a bias cut
//! is a [`run_spec`] like `skeet backtest`'s, so their numbers reproduce exactly.

pub mod bias;
pub mod metrics;
pub mod montecarlo;
pub mod optimize;
pub mod runner;
pub mod stats;
pub mod stepper;
pub mod table;
pub mod walkforward;

pub use runner::{
    BacktestError, CurvePoint, ENGINE_VERSION, Market, Report, RunConfig, RunOutput, run_spec,
    run_spec_portfolio, run_strategy,
};

//! # skeet-ta
//!
//! Technical indicators.

//! # skeet-data
//!
//! Market data in and out.

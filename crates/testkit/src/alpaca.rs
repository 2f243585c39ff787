//! A local alpaca server (being written).

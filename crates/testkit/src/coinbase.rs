//! A local coinbase server (being written).

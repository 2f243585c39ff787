//! A local kraken server (being written).

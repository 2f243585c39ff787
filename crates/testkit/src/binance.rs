//! A local binance server (being written).

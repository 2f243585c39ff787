//! The venues, and [`connect`], which builds one by name.

pub mod alpaca;
pub mod binance;
pub mod coinbase;
pub mod kraken;
pub mod paper;

use crate::api::{Exchange, VenueConfig};
use crate::error::ExchangeError;

/// Venue names [`connect`] accepts.
pub const VENUES: &[&str] = &["binance", "kraken", "coinbase", "alpaca"];

/// Builds the adapter for `venue`.
///
/// # Errors
/// An unknown venue name (the message lists the known ones), or a client that cannot start.
pub fn connect(venue: &str, cfg: VenueConfig) -> Result<Box<dyn Exchange>, ExchangeError> {
    match venue {
        "binance" => binance::connect(cfg),
        "kraken" => kraken::connect(cfg),
        "coinbase" => coinbase::connect(cfg),
        "alpaca" => alpaca::connect(cfg),
        other => Err(ExchangeError::protocol(
            "skeet",
            &format!("unknown venue '{other}'; use one of: {}", VENUES.join(", ")),
        )),
    }
}

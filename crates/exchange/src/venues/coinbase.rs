//! coinbase adapter (being written).

use crate::api::{Exchange, VenueConfig};
use crate::error::ExchangeError;

/// Builds the coinbase adapter.
///
/// # Errors
/// Not available yet.
pub fn connect(cfg: VenueConfig) -> Result<Box<dyn Exchange>, ExchangeError> {
    drop(cfg);
    Err(ExchangeError::protocol(
        "coinbase",
        "the coinbase adapter is not built yet",
    ))
}

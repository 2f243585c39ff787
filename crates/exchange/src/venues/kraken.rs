//! kraken adapter (being written).

use crate::api::{Exchange, VenueConfig};
use crate::error::ExchangeError;

/// Builds the kraken adapter.
///
/// # Errors
/// Not available yet.
pub fn connect(cfg: VenueConfig) -> Result<Box<dyn Exchange>, ExchangeError> {
    drop(cfg);
    Err(ExchangeError::protocol(
        "kraken",
        "the kraken adapter is not built yet",
    ))
}

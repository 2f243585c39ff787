//! Venue errors, classified by what the caller can do, with the venue's code and message
//! kept for the log and the user.

use std::fmt;
use std::time::Duration;

/// What kind of failure, from the caller's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The order is wrong (size, price, precision, min notional, unknown symbol): fix it.
    InvalidOrder,
    /// Not enough balance or margin.
    InsufficientFunds,
    /// Key, signature, permission or timestamp problem: fix the credential or the clock.
    Auth,
    /// Too many requests: wait (see [`ExchangeError::retry_after`]).
    RateLimited,
    /// The venue is down, overloaded or in maintenance: retry later.
    Unavailable,
    /// The request may not have reached the venue (timeout, connection reset): look the order
    /// up by its client id before retrying.
    Network,
    /// The venue does not know the order (already done, cancelled or never placed).
    UnknownOrder,
    /// An order with this client order id already exists at the venue: look it up instead of
    /// placing it again.
    DuplicateOrder,
    /// Anything else the venue said.
    Other,
}

/// A failure of a venue call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ExchangeError {
    /// Classification.
    pub kind: ErrorKind,
    /// Venue name.
    pub venue: &'static str,
    /// The venue's own error code, when it gave one.
    pub code: Option<String>,
    /// The venue's message, as it wrote it.
    pub message: String,
    /// How long to wait, when the venue said (or the limiter knows).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.venue)?;
        if let Some(c) = &self.code {
            write!(f, "[{c}] ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(w) = self.retry_after {
            write!(f, " (retry after {:.1} s)", w.as_secs_f64())?;
        }
        Ok(())
    }
}

impl ExchangeError {
    /// May the same request be sent again (after `retry_after`, and for [`ErrorKind::Network`]
    /// only after looking the order up by its client id)?
    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Network
        )
    }

    fn new(
        kind: ErrorKind,
        venue: &'static str,
        code: Option<String>,
        message: &str,
        retry_after: Option<Duration>,
    ) -> Self {
        Self {
            kind,
            venue,
            code,
            message: message.to_string(),
            retry_after,
        }
    }

    /// Binance (spot REST): HTTP status, the body's `code` and `msg`, and `Retry-After`.
    pub fn binance(
        status: u16,
        code: Option<i64>,
        msg: &str,
        retry_after: Option<Duration>,
    ) -> Self {
        let lower = msg.to_ascii_lowercase();
        let kind = match (status, code) {
            (429 | 418, _) | (_, Some(-1003 | -1015)) => ErrorKind::RateLimited,
            (_, Some(-2010)) if lower.contains("insufficient balance") => {
                ErrorKind::InsufficientFunds
            }
            (_, Some(-2010)) if lower.contains("duplicate order") => ErrorKind::DuplicateOrder,
            (_, Some(-2011 | -2013)) => ErrorKind::UnknownOrder,
            (_, Some(-2014 | -2015 | -1022 | -1021 | -1002)) => ErrorKind::Auth,
            (_, Some(-1000 | -1001 | -1006 | -1007 | -1008)) => ErrorKind::Unavailable,
            (500..=599, _) => ErrorKind::Unavailable,
            (
                _,
                Some(
                    -2010
                    | -1013
                    | -1100..=-1099
                    | -1106..=-1102
                    | -1111
                    | -1112
                    | -1114
                    | -1115
                    | -1116
                    | -1117
                    | -1121,
                ),
            ) => ErrorKind::InvalidOrder,
            (401 | 403, _) => ErrorKind::Auth,
            _ => ErrorKind::Other,
        };
        Self::new(
            kind,
            "binance",
            code.map(|c| c.to_string()),
            msg,
            retry_after,
        )
    }

    /// Kraken (spot REST): the first entry of the `error` array, e.g. `EOrder:Insufficient funds`.
    pub fn kraken(error: &str) -> Self {
        let (class, text) = error.split_once(':').unwrap_or(("", error));
        let kind = match (class, text) {
            (_, t) if t.contains("Rate limit exceeded") || t.contains("Too many requests") => {
                ErrorKind::RateLimited
            }
            ("EOrder", "Insufficient funds") | ("EFunding", "Insufficient funds") => {
                ErrorKind::InsufficientFunds
            }
            ("EOrder", "Unknown order") => ErrorKind::UnknownOrder,
            ("EAPI", "Invalid key" | "Invalid signature" | "Invalid nonce")
            | ("EGeneral", "Permission denied") => ErrorKind::Auth,
            ("EService", _) => ErrorKind::Unavailable,
            ("EOrder", _)
            | ("EGeneral", "Invalid arguments")
            | ("EQuery", "Unknown asset pair") => ErrorKind::InvalidOrder,
            _ => ErrorKind::Other,
        };
        Self::new(
            kind,
            "kraken",
            Some(class.to_string()).filter(|c| !c.is_empty()),
            text,
            None,
        )
    }

    /// A transport failure: the request may or may not have reached the venue.
    pub fn network(venue: &'static str, message: &str) -> Self {
        Self::new(ErrorKind::Network, venue, None, message, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_codes_map_to_what_the_caller_can_do() {
        let k = |status, code, msg| ExchangeError::binance(status, code, msg, None).kind;
        assert_eq!(
            k(
                400,
                Some(-2010),
                "Account has insufficient balance for requested action."
            ),
            ErrorKind::InsufficientFunds
        );
        assert_eq!(
            k(400, Some(-2010), "Order would immediately match and take."),
            ErrorKind::InvalidOrder
        );
        assert_eq!(
            k(400, Some(-1013), "Filter failure: LOT_SIZE"),
            ErrorKind::InvalidOrder
        );
        assert_eq!(
            k(
                401,
                Some(-2015),
                "Invalid API-key, IP, or permissions for action."
            ),
            ErrorKind::Auth
        );
        assert_eq!(
            k(400, Some(-1022), "Signature for this request is not valid."),
            ErrorKind::Auth
        );
        assert_eq!(
            k(429, Some(-1003), "Too many requests"),
            ErrorKind::RateLimited
        );
        assert_eq!(k(418, None, "banned"), ErrorKind::RateLimited);
        assert_eq!(
            k(400, Some(-2013), "Order does not exist."),
            ErrorKind::UnknownOrder
        );
        assert_eq!(k(503, None, "Service Unavailable."), ErrorKind::Unavailable);
        let e = ExchangeError::binance(
            429,
            Some(-1003),
            "Too many requests",
            Some(Duration::from_secs(7)),
        );
        assert!(e.retryable());
        assert_eq!(
            e.to_string(),
            "binance: [-1003] Too many requests (retry after 7.0 s)"
        );
        assert!(!ExchangeError::binance(400, Some(-1013), "x", None).retryable());
    }

    #[test]
    fn kraken_errors_map_to_what_the_caller_can_do() {
        let k = |e| ExchangeError::kraken(e).kind;
        assert_eq!(k("EOrder:Insufficient funds"), ErrorKind::InsufficientFunds);
        assert_eq!(k("EAPI:Invalid signature"), ErrorKind::Auth);
        assert_eq!(k("EAPI:Invalid nonce"), ErrorKind::Auth);
        assert_eq!(k("EAPI:Rate limit exceeded"), ErrorKind::RateLimited);
        assert_eq!(k("EOrder:Rate limit exceeded"), ErrorKind::RateLimited);
        assert_eq!(k("EService:Unavailable"), ErrorKind::Unavailable);
        assert_eq!(k("EOrder:Unknown order"), ErrorKind::UnknownOrder);
        assert_eq!(k("EOrder:Invalid price"), ErrorKind::InvalidOrder);
        assert_eq!(k("EQuery:Unknown asset pair"), ErrorKind::InvalidOrder);
        let e = ExchangeError::kraken("EOrder:Insufficient funds");
        assert_eq!(e.to_string(), "kraken: [EOrder] Insufficient funds");
    }
}

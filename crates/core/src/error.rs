//! The one validation error of the domain: which field, which value, and why it is wrong.

use std::fmt;

/// A value was rejected at construction.
///
/// The message always names the field and the offending value, and says what a valid value
/// looks like, so it can be shown to a user as is (`invalid high 99.5: below close 100.2`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The field or parameter that was rejected, e.g. `"high"` or `"timeframe"`.
    pub field: &'static str,
    /// The rejected value as the user wrote it (or as formatted, for numbers).
    pub value: String,
    /// Why it was rejected and, where possible, what would be accepted.
    pub reason: String,
}

impl ValidationError {
    /// Builds an error for `field` holding `value`.
    pub fn new(field: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        Self {
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} '{}': {}",
            self.field, self.value, self.reason
        )
    }
}

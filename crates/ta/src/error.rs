//! Errors of the indicator library: bad parameters, unknown names, malformed calls.
//!
//! Every message names what was wrong and what would be right, so the CLI and the strategy
//! language can show it to a user unchanged.

/// Something the caller asked for cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaError {
    /// A parameter is out of its valid range.
    #[error("{indicator}: parameter '{param}' = {value} is invalid: {reason}")]
    InvalidParameter {
        /// Indicator name, e.g. `sma`.
        indicator: &'static str,
        /// Parameter name, e.g. `period`.
        param: &'static str,
        /// The value given.
        value: f64,
        /// What would be valid.
        reason: String,
    },
    /// No indicator has this name.
    #[error("unknown indicator '{name}' at {line}:{column}{}", suggestion_text(.suggestion))]
    UnknownIndicator {
        /// The name as written.
        name: String,
        /// 1-based line of the name.
        line: usize,
        /// 1-based column of the name.
        column: usize,
        /// The closest known name, if any is close.
        suggestion: Option<String>,
    },
    /// The call text could not be parsed, or its arguments do not fit the indicator.
    #[error("{message} at {line}:{column}{}", hint_text(.hint))]
    Syntax {
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// How to fix it.
        hint: Option<String>,
    },
    /// Batch inputs of different lengths.
    #[error("input columns have different lengths ({0} and {1})")]
    LengthMismatch(usize, usize),
}

fn suggestion_text(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_default()
}

fn hint_text(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!("; {s}")).unwrap_or_default()
}

/// Checks an integer period parameter: a whole number in `min..=100_000`.
pub(crate) fn period(
    indicator: &'static str,
    param: &'static str,
    value: usize,
    min: usize,
) -> Result<usize, TaError> {
    if value < min || value > 100_000 {
        return Err(TaError::InvalidParameter {
            indicator,
            param,
            value: value as f64,
            reason: format!("must be a whole number from {min} to 100000"),
        });
    }
    Ok(value)
}

/// Checks a real parameter: finite and within `min..=max`.
pub(crate) fn real(
    indicator: &'static str,
    param: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<f64, TaError> {
    if !value.is_finite() || value < min || value > max {
        return Err(TaError::InvalidParameter {
            indicator,
            param,
            value,
            reason: format!("must be a number from {min} to {max}"),
        });
    }
    Ok(value)
}

//! Errors of strategy definitions: where in the spec, what, and how to fix it.

use std::fmt;

/// A strategy spec, parameter or rule that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The JSON itself is malformed or has unknown / missing fields.
    #[error("invalid strategy JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's description.
        message: String,
    },
    /// A field has a bad value or a rule does not compile.
    #[error("{0}")]
    Invalid(Located),
}

/// A problem at a JSON path, optionally at a position inside a rule expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// JSON path such as `entry.long` or `parameters.fast`.
    pub path: String,
    /// Position inside the expression (1-based line, column), for rule errors.
    pub pos: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some((l, c)) = self.pos {
            write!(f, " at {l}:{c}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl SpecError {
    /// A problem with a field.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(Located {
            path: path.into(),
            pos: None,
            message: message.into(),
            hint: None,
        })
    }

    /// A problem inside a rule expression.
    pub fn in_rule(
        path: impl Into<String>,
        pos: skeet_ta::call::Pos,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        Self::Invalid(Located {
            path: path.into(),
            pos: Some((pos.line, pos.column)),
            message: message.into(),
            hint,
        })
    }
}

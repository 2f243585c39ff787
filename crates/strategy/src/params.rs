//! Parameters: their declared spaces (`"fast": {"int": [5, 50], "step": 5, "default": 10}`)
//! and the concrete values of one run.
//!
//! Invariants: a [`ParamDef`] has `low <= high`, a positive step, and a default inside its
//! range (on its grid for stepped spaces); [`ParamValues`] only holds declared names with
//! values inside their spaces.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The space of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamDef {
    /// Whole numbers `low..=high` in steps of `step`.
    Int {
        /// Lowest value.
        low: i64,
        /// Highest value.
        high: i64,
        /// Grid step (1 by default).
        step: i64,
        /// Value when not given.
        default: i64,
    },
    /// Real numbers `low..=high`; `step` defines the grid for grid search.
    Float {
        /// Lowest value.
        low: f64,
        /// Highest value.
        high: f64,
        /// Grid step (`None`: continuous; grid search then uses 10 points).
        step: Option<f64>,
        /// Value when not given.
        default: f64,
    },
    /// One of listed values.
    Choice {
        /// The allowed values.
        values: Vec<f64>,
        /// Value when not given.
        default: f64,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    int: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    float: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    choice: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<f64>,
}

impl<'de> Deserialize<'de> for ParamDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawParam::deserialize(d)?;
        let kinds = [raw.int.is_some(), raw.float.is_some(), raw.choice.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(D::Error::custom(
                "a parameter needs exactly one of \"int\": [low, high], \"float\": [low, high] or \"choice\": [values]",
            ));
        }
        let def = if let Some([low, high]) = raw.int {
            if low.fract() != 0.0
                || high.fract() != 0.0
                || raw.step.is_some_and(|s| s.fract() != 0.0)
            {
                return Err(D::Error::custom(
                    "an int parameter needs whole-number bounds and step",
                ));
            }
            let step = raw.step.unwrap_or(1.0) as i64;
            let (low, high) = (low as i64, high as i64);
            Self::Int {
                low,
                high,
                step,
                default: raw.default.map_or(low, |d| d as i64),
            }
        } else if let Some([low, high]) = raw.float {
            Self::Float {
                low,
                high,
                step: raw.step,
                default: raw.default.unwrap_or(low),
            }
        } else {
            let values = raw.choice.unwrap_or_default();
            if values.is_empty() {
                return Err(D::Error::custom("\"choice\" needs at least one value"));
            }
            let default = raw.default.unwrap_or(values[0]);
            Self::Choice { values, default }
        };
        def.check().map_err(D::Error::custom)?;
        Ok(def)
    }
}

impl Serialize for ParamDef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = match self {
            Self::Int {
                low,
                high,
                step,
                default,
            } => RawParam {
                int: Some([*low as f64, *high as f64]),
                float: None,
                choice: None,
                step: (*step != 1).then_some(*step as f64),
                default: Some(*default as f64),
            },
            Self::Float {
                low,
                high,
                step,
                default,
            } => RawParam {
                int: None,
                float: Some([*low, *high]),
                choice: None,
                step: *step,
                default: Some(*default),
            },
            Self::Choice { values, default } => RawParam {
                int: None,
                float: None,
                choice: Some(values.clone()),
                step: None,
                default: Some(*default),
            },
        };
        raw.serialize(s)
    }
}

impl ParamDef {
    fn check(&self) -> Result<(), String> {
        match self {
            Self::Int {
                low,
                high,
                step,
                default,
            } => {
                if low > high {
                    return Err(format!("range [{low}, {high}] is empty"));
                }
                if *step <= 0 {
                    return Err(format!("step {step} must be positive"));
                }
                if default < low || default > high {
                    return Err(format!("default {default} is outside [{low}, {high}]"));
                }
                if (default - low) % step != 0 {
                    return Err(format!(
                        "default {default} is not on the grid {low}, {}, ... (step {step})",
                        low + step
                    ));
                }
            }
            Self::Float {
                low,
                high,
                step,
                default,
            } => {
                if !(low.is_finite() && high.is_finite()) || low > high {
                    return Err(format!("range [{low}, {high}] is empty"));
                }
                if step.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
                    return Err("step must be positive".into());
                }
                if default < low || default > high {
                    return Err(format!("default {default} is outside [{low}, {high}]"));
                }
                if let Some(step) = step {
                    let k = (default - low) / step;
                    if (k - k.round()).abs() > 1e-9 {
                        return Err(format!(
                            "default {default} is not on the grid {low}, {}, ... (step {step})",
                            low + step
                        ));
                    }
                }
            }
            Self::Choice { values, default } => {
                if !values.contains(default) {
                    return Err(format!("default {default} is not one of the choices"));
                }
            }
        }
        Ok(())
    }

    /// The default value.
    pub fn default_value(&self) -> f64 {
        match self {
            Self::Int { default, .. } => *default as f64,
            Self::Float { default, .. } | Self::Choice { default, .. } => *default,
        }
    }

    /// Checks a value against the space; the error says what would be accepted.
    pub fn accepts(&self, v: f64) -> Result<(), String> {
        match self {
            Self::Int { low, high, .. } => {
                if v.fract() != 0.0 {
                    return Err(format!("{v} is not a whole number"));
                }
                if v < *low as f64 || v > *high as f64 {
                    return Err(format!("{v} is outside its range {low}..{high}"));
                }
            }
            Self::Float { low, high, .. } => {
                if !v.is_finite() || v < *low || v > *high {
                    return Err(format!("{v} is outside its range {low}..{high}"));
                }
            }
            Self::Choice { values, .. } => {
                if !values.contains(&v) {
                    let list: Vec<String> = values.iter().map(|x| format!("{x}")).collect();
                    return Err(format!("{v} is not one of {}", list.join(", ")));
                }
            }
        }
        Ok(())
    }

    /// The grid of values a grid search visits (`points` values for a continuous float).
    pub fn grid(&self, points: usize) -> Vec<f64> {
        match self {
            Self::Int {
                low, high, step, ..
            } => {
                let mut out = Vec::new();
                let mut v = *low;
                while v <= *high {
                    out.push(v as f64);
                    v += step;
                }
                out
            }
            Self::Float {
                low, high, step, ..
            } => {
                let n = match step {
                    Some(s) => ((high - low) / s + 1e-9).floor() as usize + 1,
                    None => points.max(2),
                };
                let s = step.unwrap_or((high - low) / (n.max(2) - 1) as f64);
                (0..n).map(|i| low + s * i as f64).collect()
            }
            Self::Choice { values, .. } => values.clone(),
        }
    }
}

/// The parameter values of one run, by name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParamValues(pub BTreeMap<String, f64>);

impl ParamValues {
    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }
}

impl fmt::Display for ParamValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(json: &str) -> Result<ParamDef, String> {
        serde_json::from_str::<ParamDef>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_and_checks_spaces() {
        let d = def(r#"{"int": [5, 50], "step": 5, "default": 10}"#).unwrap();
        assert_eq!(d.grid(0).len(), 10);
        assert_eq!(d.default_value(), 10.0);
        assert!(
            d.accepts(60.0)
                .unwrap_err()
                .contains("outside its range 5..50")
        );
        let f = def(r#"{"float": [1.0, 2.0], "step": 0.25}"#).unwrap();
        assert_eq!(f.grid(0), vec![1.0, 1.25, 1.5, 1.75, 2.0]);
        assert!(
            def(r#"{"int": [5, 1]}"#)
                .unwrap_err()
                .contains("range [5, 1] is empty")
        );
        assert!(
            def(r#"{"int": [1, 5], "float": [1, 2]}"#)
                .unwrap_err()
                .contains("exactly one of")
        );
        assert!(
            def(r#"{"choice": [10, 20], "default": 15}"#)
                .unwrap_err()
                .contains("not one of the choices")
        );
        assert!(
            def(r#"{"int": [1, 5], "stepp": 1}"#)
                .unwrap_err()
                .contains("unknown field `stepp`")
        );
    }
}

//! The declarative strategy: [`StrategySpec`], a versioned JSON document.
//!
//! ```json
//! {
//!   "version": 1,
//!   "name": "SMA cross",
//!   "universe": { "symbols": ["BTC/USDT"], "timeframe": "1h", "extra_timeframes": ["4h"] },
//!   "parameters": { "fast": { "int": [5, 50], "step": 5, "default": 10 },
//!                   "slow": { "int": [20, 200], "step": 10, "default": 30 } },
//!   "constraints": ["$fast < $slow"],
//!   "indicators": { "fast_ma": "sma(close, $fast)", "slow_ma": "sma(close, $slow)" },
//!   "entry": { "long": "crossover(fast_ma, slow_ma)", "short": "crossunder(fast_ma, slow_ma)" },
//!   "exit":  { "long": "crossunder(fast_ma, slow_ma)", "short": "crossover(fast_ma, slow_ma)" },
//!   "execution": { "order": { "type": "market" }, "sizing": { "type": "all_in" },
//!                  "stop_loss": { "pct": 5 }, "take_profit": { "rr": 2 } }
//! }
//! ```
//!
//! The full reference is docs/strategies.md. Numbers in `execution` may be written as
//! `"$param"` to take a parameter's value. Unknown fields are rejected (a typo must not
//! silently change a strategy), as are names that rules could not reach (see
//! [`StrategySpec::from_json`]); [`crate::compile`] then checks every rule, parameter and
//! setting up front, reporting the JSON path of the problem.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::SpecError;
use crate::params::ParamDef;

/// Schema version this build reads and writes.
pub const SPEC_VERSION: u32 = 1;

/// A declarative strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// Schema version (1).
    pub version: u32,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What it trades.
    #[serde(default)]
    pub universe: Universe,
    /// Tunable parameters, referenced as `$name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, ParamDef>,
    /// Conditions over parameters that must hold (`"$fast < $slow"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// Named expressions usable in rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indicators: BTreeMap<String, String>,
    /// When to open positions.
    #[serde(default)]
    pub entry: Sides,
    /// When to close positions (besides stops).
    #[serde(default)]
    pub exit: Sides,
    /// Orders, sizing, stops and protections.
    #[serde(default)]
    pub execution: Execution,
    /// Lets rules read future bars with negative lookbacks (`close[-1]`), for research
    /// labels only: results of such a spec cannot be achieved in trading, so never run it in a
    /// bot, and check it with `skeet backtest --check-bias`. Off (and not serialized, so
    /// existing specs keep their hash) by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_lookahead: bool,
}

/// Instruments and timeframes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Universe {
    /// Unified symbols; empty means "whatever data the run is given". Informational for now:
    /// a single-instrument run does not check it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<String>,
    /// Bar timeframe the rules are written for; `None` means the data's own. Data of another
    /// timeframe is refused, not resampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeframe: Option<String>,
    /// Higher timeframes used with `@tf` in rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_timeframes: Vec<String>,
}

/// A rule per side.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sides {
    /// Rule for the long side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long: Option<String>,
    /// Rule for the short side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<String>,
}

/// A number, or `"$param"`.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    /// A literal.
    Value(f64),
    /// A parameter reference, `"$name"`.
    Param(String),
}

impl Serialize for Num {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => s.serialize_f64(*v),
            Self::Param(p) => s.serialize_str(&format!("${p}")),
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a parameter reference such as \"$fast\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num::Value(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Value(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num::Value(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Num, E> {
                match v.strip_prefix('$') {
                    Some(p) if !p.is_empty() => Ok(Num::Param(p.to_ascii_lowercase())),
                    _ => Err(E::custom(format!(
                        "expected a number or a parameter reference such as \"$fast\", found \"{v}\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Self::Value(v)
    }
}

/// How orders, sizes and exits are made.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Execution {
    /// Entry order type.
    #[serde(default)]
    pub order: OrderType,
    /// Position size.
    #[serde(default)]
    pub sizing: Sizing,
    /// Whether short entries are taken (a run may also allow them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_short: bool,
    /// Protective stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Distance>,
    /// Profit target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Distance>,
    /// Stop that follows the price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing_stop: Option<Distance>,
    /// Exit after this many bars in a trade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_stop: Option<TimeStop>,
    /// Entries allowed into one position (1: no scaling in; more: each further entry signal
    /// in the same direction adds a new lot, as DCA and grid strategies do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<Num>,
    /// Pauses after losses or drawdown.
    #[serde(default)]
    pub protections: Protections,
}

/// Entry order type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OrderType {
    /// At the next fill opportunity (next open, or the signal close).
    #[default]
    Market,
    /// A limit `offset_pct` below (long) / above (short) the signal close, valid for
    /// `valid_bars` bars.
    Limit {
        /// Percent away from the signal close, in the favourable direction.
        offset_pct: Num,
        /// Bars the order stays working (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_bars: Option<Num>,
    },
    /// A stop `offset_pct` above (long) / below (short) the signal close (breakout entry).
    Stop {
        /// Percent away from the signal close, in the breakout direction.
        offset_pct: Num,
        /// Bars the order stays working (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_bars: Option<Num>,
    },
}

/// Position sizing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Sizing {
    /// All available equity, in whole lots, fees included (backtesting.py's default).
    #[default]
    AllIn,
    /// A percentage of current equity.
    PctEquity {
        /// Percent of equity (0-100].
        pct: Num,
    },
    /// A fixed amount of quote currency.
    Quote {
        /// Quote currency per entry.
        amount: Num,
    },
    /// A fixed number of units.
    Units {
        /// Base units per entry.
        quantity: Num,
    },
    /// Risk a percentage of equity between the entry and the stop loss (needs `stop_loss`).
    Risk {
        /// Percent of equity lost if the stop is hit.
        risk_pct: Num,
    },
}

/// A distance from the entry price: exactly one of `pct` (percent of the entry price),
/// `atr_period` + `atr_mult` (a multiple of the ATR at the signal bar), or, for take-profit
/// only, `rr` (a multiple of the stop-loss distance).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distance {
    /// Percent of the entry price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pct: Option<Num>,
    /// ATR period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atr_period: Option<Num>,
    /// ATR multiple.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atr_mult: Option<Num>,
    /// Reward-to-risk multiple of the stop-loss distance (take-profit only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rr: Option<Num>,
}

/// Leave a trade after a number of bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeStop {
    /// Bars in the trade.
    pub bars: Num,
}

/// Pauses that keep a strategy out of the market after trouble.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protections {
    /// After `losses` losing trades in a row, take no entries for `bars` bars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
    /// When equity is `pct` percent below its peak, take no entries for `bars` bars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawdown_pause: Option<DrawdownPause>,
}

/// See [`Protections::cooldown`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooldown {
    /// Consecutive losing trades.
    pub losses: Num,
    /// Bars without entries.
    pub bars: Num,
}

/// See [`Protections::drawdown_pause`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawdownPause {
    /// Drawdown from the equity peak, percent.
    pub pct: Num,
    /// Bars without entries.
    pub bars: Num,
}

impl StrategySpec {
    /// Parses JSON, reporting syntax errors with line and column and unknown or missing
    /// fields by name.
    ///
    /// # Errors
    /// Malformed JSON, an unknown or missing field, an unsupported version, or an indicator or
    /// parameter name that rules cannot refer to: rules read names in lowercase, so a name must
    /// be lowercase letters, digits and `_`, and an indicator must not take a built-in name
    /// (`close`, `bar_index`, `equity`, ...), which would silently shadow it.
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        // The version decides the schema, so check it before the fields: a version-2 file
        // must be reported as such, not by its first field this build does not know.
        if let Ok(serde_json::Value::Object(doc)) = serde_json::from_str(text)
            && let Some(version) = doc.get("version").and_then(serde_json::Value::as_u64)
            && version != u64::from(SPEC_VERSION)
        {
            return Err(SpecError::at(
                "version",
                format!(
                    "version {version} is not supported; this build reads version {SPEC_VERSION}"
                ),
            ));
        }
        let spec: Self = serde_json::from_str(text).map_err(|e| json_error(&e))?;
        if spec.version != SPEC_VERSION {
            return Err(SpecError::at(
                "version",
                format!(
                    "version {} is not supported; this build reads version {SPEC_VERSION}",
                    spec.version
                ),
            ));
        }
        spec.check_names()?;
        spec.check_timeframes()?;
        Ok(spec)
    }

    /// Every timeframe in `universe` must parse (they are otherwise only read when used).
    fn check_timeframes(&self) -> Result<(), SpecError> {
        let u = &self.universe;
        let listed = u.timeframe.iter().map(|t| ("universe.timeframe", t)).chain(
            u.extra_timeframes
                .iter()
                .map(|t| ("universe.extra_timeframes", t)),
        );
        for (path, text) in listed {
            text.parse::<skeet_core::Timeframe>()
                .map_err(|e| SpecError::at(path, e.to_string()))?;
        }
        Ok(())
    }

    fn check_names(&self) -> Result<(), SpecError> {
        const BUILT_IN: &[&str] = &[
            "open",
            "high",
            "low",
            "close",
            "volume",
            "hl2",
            "hlc3",
            "ohlc4",
            "bar_index",
            "bars_in_trade",
            "equity",
            "position",
            "true",
            "false",
            "and",
            "or",
            "not",
        ];
        let names = self
            .indicators
            .keys()
            .map(|k| ("indicators", k))
            .chain(self.parameters.keys().map(|k| ("parameters", k)));
        for (section, name) in names {
            let path = format!("{section}.{name}");
            let identifier = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !identifier {
                let mut fixed: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                if !fixed.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
                    fixed.insert(0, '_');
                }
                return Err(SpecError::Invalid(crate::error::Located {
                    path,
                    pos: None,
                    message: format!(
                        "name '{name}' must be lowercase letters, digits and '_' (rules read names in lowercase)"
                    ),
                    hint: Some(format!("rename it '{fixed}'")),
                }));
            }
            if section == "indicators" && BUILT_IN.contains(&name.as_str()) {
                return Err(SpecError::Invalid(crate::error::Located {
                    path,
                    pos: None,
                    message: format!(
                        "'{name}' is a built-in name; rules would read the built-in, not this indicator"
                    ),
                    hint: Some(format!("rename it, e.g. '{name}_1'")),
                }));
            }
        }
        Ok(())
    }

    /// Canonical JSON (sorted keys, no whitespace): the input of [`StrategySpec::hash`].
    pub fn canonical_json(&self) -> String {
        // serde_json::Value keeps object keys sorted (no `preserve_order` feature here).
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        value.to_string()
    }

    /// SHA-256 of the canonical JSON, hex: identifies a spec in reports.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }
}

/// A serde error as [`SpecError::Json`]: the position once (serde's own text repeats it), and
/// for a misspelt field or variant the closest valid name instead of the whole list.
fn json_error(e: &serde_json::Error) -> SpecError {
    let (line, column) = (e.line(), e.column());
    let text = e.to_string();
    let text = text
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&text);
    let mut message = text.to_string();
    for kind in ["field", "variant"] {
        let Some(rest) = text.strip_prefix(&format!("unknown {kind} `")) else {
            continue;
        };
        // "unknown field `entyr`, expected one of `version`, `name`, ..."
        let mut names = rest.split('`').step_by(2).filter(|n| !n.is_empty());
        let Some(unknown) = names.next() else {
            continue;
        };
        if let Some(best) = skeet_ta::call::suggest(unknown, names) {
            message = format!("unknown {kind} '{unknown}'; did you mean '{best}'?");
        }
    }
    SpecError::Json {
        line,
        column,
        message,
    }
}

impl StrategySpec {
    /// The values of a run: declared defaults, overridden by `overrides` (`fast=12`).
    ///
    /// # Errors
    /// An override naming an undeclared parameter (with a suggestion) or a value outside the
    /// parameter's space.
    pub fn resolve_params(
        &self,
        overrides: &[(String, f64)],
    ) -> Result<crate::ParamValues, SpecError> {
        let mut values: BTreeMap<String, f64> = self
            .parameters
            .iter()
            .map(|(k, d)| (k.clone(), d.default_value()))
            .collect();
        for (name, v) in overrides {
            let name = name.trim().trim_start_matches('$').to_ascii_lowercase();
            let Some(def) = self.parameters.get(&name) else {
                let declared: Vec<&str> = self.parameters.keys().map(String::as_str).collect();
                let hint = skeet_ta::call::suggest(&name, declared.iter().copied())
                    .map(|s| format!("did you mean '{s}'?"))
                    .unwrap_or_else(|| {
                        if declared.is_empty() {
                            format!("'{}' declares no parameters", self.name)
                        } else {
                            format!("parameters of '{}': {}", self.name, declared.join(", "))
                        }
                    });
                return Err(SpecError::Invalid(crate::error::Located {
                    path: format!("parameters.{name}"),
                    pos: None,
                    message: format!("unknown parameter '{name}'"),
                    hint: Some(hint),
                }));
            };
            def.accepts(*v)
                .map_err(|m| SpecError::at(format!("parameters.{name}"), m))?;
            values.insert(name, *v);
        }
        Ok(crate::ParamValues(values))
    }
}

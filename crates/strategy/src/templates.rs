//! Built-in strategies, each an ordinary [`StrategySpec`]: a user can print one
//! (`skeet backtest --strategy sma_cross --print-spec`), edit it and run the file.
//!
//! Every template's parameters have ranges, so each can be optimised as it is.

use crate::{SpecError, StrategySpec};

/// Template names and one-line descriptions.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "sma_cross",
        "long when the fast SMA crosses above the slow one; reverses on the opposite cross when shorts are allowed",
    ),
    ("ema_cross", "the same crossover with exponential averages"),
    (
        "rsi_mean_reversion",
        "buy oversold, sell overbought (RSI), exit at the midline, with a stop loss",
    ),
    (
        "bollinger_breakout",
        "enter on a close outside the Bollinger Bands, exit at the middle band",
    ),
    (
        "macd_trend",
        "MACD line crossing its signal, in the direction of a long EMA trend filter",
    ),
    (
        "donchian_breakout",
        "turtle-style channel breakout with an ATR stop and risk-based sizing",
    ),
    (
        "dca",
        "dollar-cost averaging: buy a fixed amount every N bars, take profit on the whole position",
    ),
    (
        "grid",
        "scale in on every step below the average entry price, exit the whole position one step above it",
    ),
];

/// The JSON of a template.
pub fn json(name: &str) -> Option<&'static str> {
    Some(match name {
        "sma_cross" => SMA_CROSS,
        "ema_cross" => EMA_CROSS,
        "rsi_mean_reversion" => RSI_MEAN_REVERSION,
        "bollinger_breakout" => BOLLINGER_BREAKOUT,
        "macd_trend" => MACD_TREND,
        "donchian_breakout" => DONCHIAN_BREAKOUT,
        "dca" => DCA,
        "grid" => GRID,
        _ => return None,
    })
}

/// A template as a spec.
///
/// # Errors
/// An unknown name, with the closest template name as a hint.
pub fn get(name: &str) -> Result<StrategySpec, SpecError> {
    let Some(text) = json(name) else {
        let names = TEMPLATES.iter().map(|(n, _)| *n);
        let hint = skeet_ta::call::suggest(name, names)
            .map(|s| format!("did you mean '{s}'?"))
            .unwrap_or_else(|| {
                format!(
                    "templates: {}",
                    TEMPLATES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        return Err(SpecError::Invalid(crate::Located {
            path: "strategy".into(),
            pos: None,
            message: format!("unknown template '{name}'"),
            hint: Some(hint),
        }));
    };
    StrategySpec::from_json(text)
}

const SMA_CROSS: &str = r#"{
  "version": 1,
  "name": "sma_cross",
  "description": "Long when the fast SMA crosses above the slow SMA. With shorts allowed, the opposite cross reverses into a short; otherwise it only exits.",
  "parameters": {
    "fast": { "int": [5, 50], "step": 5, "default": 10 },
    "slow": { "int": [20, 200], "step": 10, "default": 30 }
  },
  "constraints": ["$fast < $slow"],
  "indicators": { "fast_ma": "sma(close, $fast)", "slow_ma": "sma(close, $slow)" },
  "entry": { "long": "crossover(fast_ma, slow_ma)", "short": "crossunder(fast_ma, slow_ma)" },
  "exit": { "long": "crossunder(fast_ma, slow_ma)", "short": "crossover(fast_ma, slow_ma)" }
}"#;

const EMA_CROSS: &str = r#"{
  "version": 1,
  "name": "ema_cross",
  "description": "Long when the fast EMA crosses above the slow EMA; the opposite cross exits (or reverses when shorts are allowed).",
  "parameters": {
    "fast": { "int": [3, 50], "step": 1, "default": 12 },
    "slow": { "int": [10, 200], "step": 2, "default": 26 }
  },
  "constraints": ["$fast < $slow"],
  "indicators": { "fast_ma": "ema(close, $fast)", "slow_ma": "ema(close, $slow)" },
  "entry": { "long": "crossover(fast_ma, slow_ma)", "short": "crossunder(fast_ma, slow_ma)" },
  "exit": { "long": "crossunder(fast_ma, slow_ma)", "short": "crossover(fast_ma, slow_ma)" }
}"#;

const RSI_MEAN_REVERSION: &str = r#"{
  "version": 1,
  "name": "rsi_mean_reversion",
  "description": "Buy when RSI is oversold, sell short when overbought; exit when RSI returns to the midline or the stop loss is hit.",
  "parameters": {
    "period": { "int": [2, 30], "step": 1, "default": 14 },
    "oversold": { "int": [10, 40], "step": 5, "default": 30 },
    "overbought": { "int": [60, 90], "step": 5, "default": 70 },
    "stop_pct": { "float": [1, 20], "step": 1, "default": 8 }
  },
  "indicators": { "r": "rsi(close, $period)" },
  "entry": { "long": "r < $oversold", "short": "r > $overbought" },
  "exit": { "long": "r > 50", "short": "r < 50" },
  "execution": { "stop_loss": { "pct": "$stop_pct" } }
}"#;

const BOLLINGER_BREAKOUT: &str = r#"{
  "version": 1,
  "name": "bollinger_breakout",
  "description": "Enter in the direction of a close outside the Bollinger Bands; exit when price returns to the middle band.",
  "parameters": {
    "period": { "int": [10, 50], "step": 5, "default": 20 },
    "width": { "float": [1.0, 3.0], "step": 0.5, "default": 2.0 }
  },
  "entry": { "long": "close > bbands(close, $period, $width, $width).upper", "short": "close < bbands(close, $period, $width, $width).lower" },
  "exit": { "long": "close < bbands(close, $period, $width, $width).middle", "short": "close > bbands(close, $period, $width, $width).middle" }
}"#;

const MACD_TREND: &str = r#"{
  "version": 1,
  "name": "macd_trend",
  "description": "MACD line crossing its signal line, taken only in the direction of the long-term EMA.",
  "parameters": {
    "fast": { "int": [6, 20], "step": 2, "default": 12 },
    "slow": { "int": [20, 40], "step": 2, "default": 26 },
    "signal": { "int": [5, 15], "step": 1, "default": 9 },
    "trend": { "int": [50, 300], "step": 50, "default": 200 }
  },
  "constraints": ["$fast < $slow"],
  "indicators": {
    "line": "macd(close, $fast, $slow, $signal).macd",
    "sig": "macd(close, $fast, $slow, $signal).signal",
    "trend_ma": "ema(close, $trend)"
  },
  "entry": { "long": "crossover(line, sig) and close > trend_ma", "short": "crossunder(line, sig) and close < trend_ma" },
  "exit": { "long": "crossunder(line, sig)", "short": "crossover(line, sig)" }
}"#;

const DONCHIAN_BREAKOUT: &str = r#"{
  "version": 1,
  "name": "donchian_breakout",
  "description": "Turtle-style: enter when the close breaks the previous N-bar channel, exit on the shorter opposite channel; ATR stop, 1 % risk per trade.",
  "parameters": {
    "entry": { "int": [10, 60], "step": 5, "default": 20 },
    "exit": { "int": [5, 30], "step": 5, "default": 10 },
    "atr_mult": { "float": [1.0, 4.0], "step": 0.5, "default": 2.0 },
    "risk_pct": { "float": [0.25, 3.0], "step": 0.25, "default": 1.0 }
  },
  "constraints": ["$exit < $entry"],
  "entry": { "long": "close > donchian($entry).upper[1]", "short": "close < donchian($entry).lower[1]" },
  "exit": { "long": "close < donchian($exit).lower[1]", "short": "close > donchian($exit).upper[1]" },
  "execution": {
    "sizing": { "type": "risk", "risk_pct": "$risk_pct" },
    "stop_loss": { "atr_period": 20, "atr_mult": "$atr_mult" }
  }
}"#;

const DCA: &str = r#"{
  "version": 1,
  "name": "dca",
  "description": "Dollar-cost averaging: buy a fixed quote amount every N bars; sell everything when the position is up by the take-profit percentage.",
  "parameters": {
    "every": { "int": [1, 500], "step": 1, "default": 24 },
    "amount": { "float": [10, 100000], "default": 100 },
    "take_profit": { "float": [1, 100], "step": 1, "default": 10 }
  },
  "entry": { "long": "bar_index % $every == 0" },
  "exit": { "long": "position.pnl_pct >= $take_profit" },
  "execution": { "sizing": { "type": "quote", "amount": "$amount" }, "max_entries": 100000 }
}"#;

const GRID: &str = r#"{
  "version": 1,
  "name": "grid",
  "description": "Long-only grid: open when price falls a step below its recent high, add a lot at every further step below the average entry, close everything one step above it.",
  "parameters": {
    "step_pct": { "float": [0.5, 10], "step": 0.5, "default": 2 },
    "levels": { "int": [1, 20], "step": 1, "default": 5 },
    "lookback": { "int": [10, 200], "step": 10, "default": 50 },
    "lot_pct": { "float": [1, 50], "step": 1, "default": 10 }
  },
  "entry": {
    "long": "(position.size == 0 and close < highest(close, $lookback) * (1 - $step_pct / 100)) or (position.size > 0 and close < position.entry_price * (1 - $step_pct / 100))"
  },
  "exit": { "long": "position.pnl_pct >= $step_pct" },
  "execution": { "sizing": { "type": "pct_equity", "pct": "$lot_pct" }, "max_entries": "$levels" }
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_resolves_its_defaults() {
        for (name, _) in TEMPLATES {
            let spec = get(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(spec.name, *name);
            spec.resolve_params(&[])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let err = get("sma_crosss").unwrap_err();
        assert_eq!(
            err.to_string(),
            "strategy: unknown template 'sma_crosss'; did you mean 'sma_cross'?"
        );
    }
}

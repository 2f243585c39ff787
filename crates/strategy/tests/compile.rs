//! The strategy compiler through its public API, on small synthetic series where every value
//! can be worked out by hand: crossovers (backtesting.py's strict definition), lookbacks,
//! arithmetic, `bar_index`, rolling extremes, named indicators and their deduplication,
//! multi-output indicators, parameters, position-dependent rules, higher timeframes (causal
//! alignment, gaps) and NaN warm-up. Then every kind of bad input, each with its exact message.

use skeet_core::Timeframe;
use skeet_strategy::api::{DistanceRule, EntryOrder, ExecSettings, PositionState, SizingRule};
use skeet_strategy::{Program, RuleKind, SeriesData, SpecError, StrategySpec, compile};

const HOUR: i64 = 3_600_000_000_000;
/// 2024-01-01T00:00:00Z, a 4-hour (and daily) boundary.
const T0: i64 = 1_704_067_200_000_000_000;

/// Bars of one timeframe, owned.
struct Bars {
    ts: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    tf: Timeframe,
}

impl Bars {
    /// Hourly bars from `T0` with `open = high = low = close`.
    fn flat(close: &[f64]) -> Self {
        let hours: Vec<i64> = (0..close.len() as i64).collect();
        Self::at_hours(&hours, close)
    }

    /// Hourly bars opening `hours` after `T0`, with `open = high = low = close`.
    fn at_hours(hours: &[i64], close: &[f64]) -> Self {
        assert_eq!(hours.len(), close.len());
        Self {
            ts: hours.iter().map(|h| T0 + h * HOUR).collect(),
            open: close.to_vec(),
            high: close.to_vec(),
            low: close.to_vec(),
            close: close.to_vec(),
            volume: vec![1.0; close.len()],
            tf: Timeframe::H1,
        }
    }

    fn data(&self) -> SeriesData<'_> {
        SeriesData {
            ts: &self.ts,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
            timeframe: self.tf,
        }
    }
}

/// Parses, resolves `overrides` and compiles; the first error as text.
fn try_program(json: &str, overrides: &[(&str, f64)], bars: &Bars) -> Result<Program, String> {
    let spec = StrategySpec::from_json(json).map_err(|e| e.to_string())?;
    let overrides: Vec<(String, f64)> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_string(), *v))
        .collect();
    let params = spec.resolve_params(&overrides).map_err(|e| e.to_string())?;
    compile(&spec, &params, &bars.data()).map_err(|e| e.to_string())
}

fn program(json: &str, bars: &Bars) -> Program {
    try_program(json, &[], bars).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

/// Compiles a probe of `expr`: `entry.long` holds where `expr == equity` and `entry.short`
/// where `expr` is a number, so a column can be read through the rule API alone (the compiled
/// program keeps no other columns). `fields` adds JSON members: universe, parameters,
/// indicators.
fn probe(fields: &str, expr: &str, bars: &Bars) -> Program {
    let sep = if fields.is_empty() { "" } else { "," };
    program(
        &format!(
            r#"{{"version": 1, "name": "probe"{sep} {fields},
                "entry": {{"long": "({expr}) == equity", "short": "({expr}) >= 0 or ({expr}) < 0"}}}}"#
        ),
        bars,
    )
}

/// `expr` has exactly the values `want` (NaN where NaN is expected).
#[track_caller]
fn assert_expr(fields: &str, expr: &str, bars: &Bars, want: &[f64]) {
    let p = probe(fields, expr, bars);
    assert_eq!(p.len(), want.len(), "{expr}");
    for (t, &w) in want.iter().enumerate() {
        let is_number = p.rule(RuleKind::EntryShort, t, &PositionState::default());
        if w.is_nan() {
            assert!(
                !is_number,
                "{expr} at bar {t}: a number where NaN was expected"
            );
        } else {
            let st = PositionState {
                equity: w,
                ..PositionState::default()
            };
            assert!(is_number, "{expr} at bar {t}: NaN where {w} was expected");
            assert!(
                p.rule(RuleKind::EntryLong, t, &st),
                "{expr} at bar {t}: not {w}"
            );
        }
    }
}

fn bits(p: &Program, kind: RuleKind, st: &PositionState) -> Vec<bool> {
    (0..p.len()).map(|t| p.rule(kind, t, st)).collect()
}

fn flat_bits(p: &Program, kind: RuleKind) -> Vec<bool> {
    bits(p, kind, &PositionState::default())
}

fn b(s: &str) -> Vec<bool> {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c == '1')
        .collect()
}

const NAN: f64 = f64::NAN;

#[test]
fn crossover_and_crossunder_are_strict_as_in_backtesting_py() {
    // open is flat at 2; close crosses it, touches it, and leaves a touch.
    let mut bars = Bars::flat(&[1.0, 3.0, 2.0, 2.0, 3.0, 1.0, 1.0, 3.0]);
    bars.open = vec![2.0; 8];
    let p = program(
        r#"{"version": 1, "name": "x",
            "entry": {"long": "crossover(close, open)", "short": "crossunder(close, open)"},
            "exit": {"long": "crossover(close, 2)", "short": "crossunder(2, close)"}}"#,
        &bars,
    );
    // Bar 1: 1 < 2 then 3 > 2. Bar 4: from a touch (2 == 2) to above is not a cross, nor is
    // bar 2 (from above to a touch).
    assert_eq!(flat_bits(&p, RuleKind::EntryLong), b("0100 0001"));
    assert_eq!(flat_bits(&p, RuleKind::EntryShort), b("0000 0100"));
    // A constant on either side broadcasts; crossunder(2, close) is crossover(close, 2).
    assert_eq!(flat_bits(&p, RuleKind::ExitLong), b("0100 0001"));
    assert_eq!(flat_bits(&p, RuleKind::ExitShort), b("0100 0001"));
}

#[test]
fn a_crossover_needs_both_bars_of_both_inputs() {
    // sma(close,2) exists from bar 1; at bar 1 its previous value is NaN, so no cross even
    // though it is above open.
    let mut bars = Bars::flat(&[1.0, 5.0, 5.0, 1.0, 1.0, 5.0]);
    bars.open = vec![2.5; 6];
    assert_expr("", "sma(close, 2)", &bars, &[NAN, 3.0, 5.0, 3.0, 1.0, 3.0]);
    let p = program(
        r#"{"version": 1, "name": "x", "indicators": {"m": "sma(close, 2)"},
            "entry": {"long": "crossover(m, open)", "short": "crossunder(m, open)"}}"#,
        &bars,
    );
    assert_eq!(flat_bits(&p, RuleKind::EntryLong), b("0000 01"));
    assert_eq!(flat_bits(&p, RuleKind::EntryShort), b("0000 10"));
}

#[test]
fn lookbacks_shift_towards_the_past_only() {
    let bars = Bars::flat(&[10.0, 11.0, 13.0, 12.0]);
    assert_expr("", "close[1]", &bars, &[NAN, 10.0, 11.0, 13.0]);
    assert_expr("", "close[2]", &bars, &[NAN, NAN, 10.0, 11.0]);
    assert_expr("", "close[0]", &bars, &[10.0, 11.0, 13.0, 12.0]);
    assert_expr("", "close - close[1]", &bars, &[NAN, 1.0, 2.0, -1.0]);
    assert_expr("", "sma(close, 2)[1]", &bars, &[NAN, NAN, 10.5, 12.0]);
    assert_expr(
        r#""indicators": {"m": "sma(close, 2)"}"#,
        "m[1] + m[2]",
        &bars,
        &[NAN, NAN, NAN, 22.5],
    );
    assert_expr("", "close[9]", &bars, &[NAN; 4]);
    let p = program(
        r#"{"version": 1, "name": "x", "entry": {"long": "close > close[1]"}}"#,
        &bars,
    );
    assert_eq!(flat_bits(&p, RuleKind::EntryLong), b("0110"));
}

#[test]
fn arithmetic_remainder_and_bar_index() {
    let bars = Bars::flat(&[5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
    assert_expr(
        "",
        "bar_index % 3",
        &bars,
        &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0],
    );
    assert_expr(
        "",
        "1 + bar_index * 2 - 4 / 2",
        &bars,
        &[-1.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0],
    );
    // Unary minus binds tighter than %, and % keeps the sign of the dividend (Rust's, not
    // Python's, remainder).
    assert_expr(
        "",
        "-close % 4",
        &bars,
        &[-1.0, -2.0, -3.0, 0.0, -1.0, -2.0, -3.0],
    );
    assert_expr(
        "",
        "abs(3 - close)",
        &bars,
        &[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    );
    assert_expr(
        "",
        "min(close, 8)",
        &bars,
        &[5.0, 6.0, 7.0, 8.0, 8.0, 8.0, 8.0],
    );
    assert_expr(
        "",
        "max(close, 8)",
        &bars,
        &[8.0, 8.0, 8.0, 8.0, 9.0, 10.0, 11.0],
    );
    assert_expr(
        "",
        "(close > 6) + (true and not false)",
        &bars,
        &[1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0],
    );
    assert_expr("", "close / 0 > 1e308", &bars, &[1.0; 7]);
    let p = program(
        r#"{"version": 1, "name": "x",
            "entry": {"long": "bar_index % 3 == 0"},
            "exit": {"long": "not (bar_index < 2 or bar_index >= 5) and close != 8"}}"#,
        &bars,
    );
    assert_eq!(flat_bits(&p, RuleKind::EntryLong), b("1001 001"));
    assert_eq!(flat_bits(&p, RuleKind::ExitLong), b("0010 100"));
}

#[test]
fn highest_and_lowest_include_the_current_bar() {
    let mut bars = Bars::flat(&[2.0, 2.0, 2.0, 2.0, 2.0, 2.0]);
    bars.high = vec![1.0, 3.0, 2.0, 5.0, 4.0, 1.0];
    bars.low = vec![0.5, 0.4, 0.9, 0.3, 0.8, 0.7];
    let n = r#""parameters": {"n": {"int": [1, 10], "default": 3}}"#;
    assert_expr(
        n,
        "highest(high, $n)",
        &bars,
        &[NAN, NAN, 3.0, 5.0, 5.0, 5.0],
    );
    assert_expr("", "lowest(low, 2)", &bars, &[NAN, 0.4, 0.4, 0.3, 0.3, 0.7]);
    assert_expr("", "highest(high, 1)", &bars, &bars.high);
    assert_expr("", "highest(high, 7)", &bars, &[NAN; 6]);
    let p = program(
        r#"{"version": 1, "name": "x", "entry": {"long": "high >= highest(high, 3)"}}"#,
        &bars,
    );
    assert_eq!(flat_bits(&p, RuleKind::EntryLong), b("0001 00"));
}

#[test]
fn identical_expressions_are_computed_once() {
    let bars = Bars::flat(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0]);
    let fields = r#""parameters": {"n": {"int": [1, 10], "default": 3}},
        "indicators": {"a": "sma(close, 3)", "b": "SMA( close , 3 )", "c": "sma(close, $n)",
                       "d": "sma(close, 4)", "e": "a"}"#;
    let sma3 = [NAN, NAN, 7.0 / 3.0, 14.0 / 3.0, 28.0 / 3.0, 56.0 / 3.0];
    for name in ["a", "b", "c", "e"] {
        assert_expr(fields, name, &bars, &sma3);
    }
    assert_expr(
        fields,
        "a - sma(close, 3)",
        &bars,
        &[NAN, NAN, 0.0, 0.0, 0.0, 0.0],
    );
    // The compiled program keeps the columns its per-bar rules read. Every spelling of
    // sma(close, 3) (a parameter, another named indicator, case and spacing) is one column,
    // stored once; sma(close, 4) is another. 7/3 appears only in the SMA(3) column.
    let count = |rule: &str| {
        let p = program(
            &format!(r#"{{"version": 1, "name": "x", {fields}, "entry": {{"long": "{rule}"}}}}"#),
            &bars,
        );
        format!("{p:?}")
            .matches(&format!("{:?}", 7.0_f64 / 3.0))
            .count()
    };
    assert_eq!(count("a == equity"), 1);
    assert_eq!(
        count("a == equity or b == equity or c < equity or e > equity or sma(close,3) != equity"),
        1
    );
    assert_eq!(count("a == equity or d == equity"), 1);
    assert_eq!(count("a == equity or a * 1 == equity"), 2);
}

#[test]
fn multi_output_indicators_select_an_output() {
    let close: Vec<f64> = (0..40)
        .map(|i| 100.0 + (f64::from(i) * 0.7).sin() * 5.0 + f64::from(i) * 0.1)
        .collect();
    let bars = Bars::flat(&close);
    let d = bars.data();
    let cols = skeet_ta::Columns {
        ts: d.ts,
        open: d.open,
        high: d.high,
        low: d.low,
        close: d.close,
        volume: d.volume,
    };
    let reference = |call: &str| {
        skeet_ta::registry::parse(call)
            .unwrap()
            .compute(&cols)
            .unwrap()
    };
    let macd = reference("macd(close,3,5,2)");
    assert_expr("", "macd(close, 3, 5, 2).macd", &bars, &macd[0]);
    assert_expr("", "macd(close, 3, 5, 2).signal", &bars, &macd[1]);
    assert_expr("", "macd(close, 3, 5, 2).hist", &bars, &macd[2]);
    // Without an output, the first one.
    assert_expr("", "macd(close, 3, 5, 2)", &bars, &macd[0]);
    assert_expr(
        r#""indicators": {"sig": "macd(close, 3, 5, 2).signal"}"#,
        "sig[1]",
        &bars,
        &std::iter::once(NAN)
            .chain(macd[1][..39].iter().copied())
            .collect::<Vec<_>>(),
    );
    let bb = reference("bbands(close,5,2,2)");
    assert_expr("", "bbands(close, 5, 2, 2).upper", &bars, &bb[0]);
    assert_expr("", "bbands(close, 5, 2, 2).lower", &bars, &bb[2]);
    // donchian(3).upper is the highest high of 3 bars; [1] the previous bar's.
    let mut want = vec![NAN; 40];
    for t in 3..40 {
        want[t] = close[t - 3..t].iter().copied().fold(f64::MIN, f64::max);
    }
    assert_expr("", "donchian(3).upper[1]", &bars, &want);
    let p = program(
        r#"{"version": 1, "name": "x",
            "entry": {"long": "crossover(macd(close,3,5,2).macd, macd(close,3,5,2).signal)"}}"#,
        &bars,
    );
    let signal: Vec<bool> = (0..40)
        .map(|t| t > 0 && macd[0][t - 1] < macd[1][t - 1] && macd[0][t] > macd[1][t])
        .collect();
    assert!(signal.iter().any(|&s| s));
    assert_eq!(flat_bits(&p, RuleKind::EntryLong), signal);
}

#[test]
fn parameters_reach_indicator_arguments_and_execution_numbers() {
    let bars = Bars::flat(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let json = r#"{
      "version": 1, "name": "x",
      "parameters": {
        "n": {"int": [1, 10], "default": 2}, "sl": {"float": [0.5, 10], "default": 2.5},
        "rr": {"choice": [1, 2, 3], "default": 2}, "pct": {"float": [1, 100], "default": 25},
        "off": {"float": [0, 5], "default": 0.5}, "bars": {"int": [1, 100], "default": 7},
        "k": {"int": [1, 5], "default": 3}
      },
      "entry": {"long": "sma(close, $n) == equity", "short": "close >= $n * 2"},
      "execution": {
        "order": {"type": "limit", "offset_pct": "$off", "valid_bars": "$k"},
        "sizing": {"type": "pct_equity", "pct": "$pct"},
        "stop_loss": {"pct": "$sl"},
        "take_profit": {"rr": "$rr"},
        "trailing_stop": {"atr_period": "$bars", "atr_mult": "$sl"},
        "time_stop": {"bars": "$bars"},
        "max_entries": "$k",
        "protections": {"cooldown": {"losses": "$k", "bars": "$bars"},
                        "drawdown_pause": {"pct": "$pct", "bars": 3}}
      }
    }"#;
    let p = try_program(json, &[("n", 3.0), ("rr", 3.0), ("k", 2.0)], &bars).unwrap();
    let at = |t: usize, equity: f64| {
        p.rule(
            RuleKind::EntryLong,
            t,
            &PositionState {
                equity,
                ..PositionState::default()
            },
        )
    };
    assert!(!at(1, 1.5) && at(2, 2.0) && at(5, 5.0));
    assert_eq!(flat_bits(&p, RuleKind::EntryShort), b("0000 01"));
    assert_eq!(
        p.execution(),
        &ExecSettings {
            entry_order: EntryOrder::Limit {
                offset_pct: 0.5,
                valid_bars: 2
            },
            sizing: SizingRule::PctEquity { pct: 25.0 },
            allow_short: false,
            stop_loss: Some(DistanceRule::Pct { pct: 2.5 }),
            take_profit: Some(DistanceRule::RewardRisk { rr: 3.0 }),
            trailing_stop: Some(DistanceRule::Atr {
                period: 7,
                mult: 2.5
            }),
            time_stop: Some(7),
            max_entries: 2,
            cooldown: Some((2, 7)),
            drawdown_pause: Some((25.0, 3)),
        }
    );
    // The defaults.
    let p = try_program(json, &[], &bars).unwrap();
    assert_eq!(flat_bits(&p, RuleKind::EntryShort), b("0001 11"));
    assert_eq!(p.execution().max_entries, 3);
    // No execution section at all.
    let p = program(
        r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}}"#,
        &bars,
    );
    assert_eq!(p.execution(), &ExecSettings::default());
}

#[test]
fn position_rules_are_evaluated_with_the_position_of_the_bar() {
    let mut bars = Bars::flat(&[10.0, 12.0, 11.0]);
    bars.open = vec![11.0, 11.0, 11.0];
    let p = program(
        r#"{"version": 1, "name": "x",
            "entry": {"long": "close > open and position.size == 0",
                      "short": "position.side == -1 and close > position.entry_price * 1.05"},
            "exit": {"long": "position.pnl_pct > 5 or bars_in_trade >= 3",
                     "short": "equity < 9000 or (sma(close, 2) > 100 or position.size < -5)"}}"#,
        &bars,
    );
    let flat = PositionState {
        equity: 10_000.0,
        ..PositionState::default()
    };
    let long = PositionState {
        size: 3.0,
        entry_price: 10.0,
        pnl_pct: 5.0,
        bars_in_trade: 2,
        equity: 10_000.0,
    };
    let short = PositionState {
        size: -2.0,
        entry_price: 10.0,
        pnl_pct: -10.0,
        bars_in_trade: 1,
        equity: 8_500.0,
    };
    assert_eq!(bits(&p, RuleKind::EntryLong, &flat), b("010"));
    assert_eq!(bits(&p, RuleKind::EntryLong, &long), b("000"));
    assert_eq!(bits(&p, RuleKind::EntryShort, &flat), b("000"));
    assert_eq!(bits(&p, RuleKind::EntryShort, &short), b("011"));
    // pnl_pct 5 is not above 5; two bars is not three.
    assert_eq!(bits(&p, RuleKind::ExitLong, &long), b("000"));
    let later = PositionState {
        bars_in_trade: 3,
        ..long
    };
    assert_eq!(bits(&p, RuleKind::ExitLong, &later), b("111"));
    let up = PositionState {
        pnl_pct: 5.01,
        ..long
    };
    assert_eq!(bits(&p, RuleKind::ExitLong, &up), b("111"));
    assert_eq!(bits(&p, RuleKind::ExitShort, &short), b("111"));
    let small = PositionState {
        equity: 9_000.0,
        ..short
    };
    assert_eq!(bits(&p, RuleKind::ExitShort, &small), b("000"));
    let big = PositionState {
        size: -6.0,
        ..small
    };
    assert_eq!(bits(&p, RuleKind::ExitShort, &big), b("111"));
    // Position state in a named indicator makes it per-bar too.
    let p = program(
        r#"{"version": 1, "name": "x", "indicators": {"held": "abs(position.size) * close"},
            "exit": {"long": "held > 25"}}"#,
        &bars,
    );
    assert_eq!(bits(&p, RuleKind::ExitLong, &long), b("111"));
    let one = PositionState { size: 2.0, ..long };
    assert_eq!(bits(&p, RuleKind::ExitLong, &one), b("000"));
}

const TF4: &str = r#""universe": {"extra_timeframes": ["4h"]}"#;

#[test]
fn higher_timeframes_use_the_last_completed_bar() {
    // Hourly bars from a 4-hour boundary; bar i closes at 100 + i, with a spike in bar 1's
    // high. The 4h bar [00:00, 04:00) is complete at the close of the 03:00 bar (index 3).
    let close: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i)).collect();
    let mut bars = Bars::flat(&close);
    bars.high[1] = 200.0;
    assert_expr(
        TF4,
        "close@4h",
        &bars,
        &[
            NAN, NAN, NAN, 103.0, 103.0, 103.0, 103.0, 107.0, 107.0, 107.0,
        ],
    );
    assert_expr(
        TF4,
        "high@4h",
        &bars,
        &[
            NAN, NAN, NAN, 200.0, 200.0, 200.0, 200.0, 107.0, 107.0, 107.0,
        ],
    );
    assert_expr(
        TF4,
        "open@4h",
        &bars,
        &[
            NAN, NAN, NAN, 100.0, 100.0, 100.0, 100.0, 104.0, 104.0, 104.0,
        ],
    );
    assert_expr(
        TF4,
        "volume@4h",
        &bars,
        &[NAN, NAN, NAN, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0],
    );
    // An SMA over the 4h closes (103, 107): its first value exists once the second 4h bar
    // is done.
    assert_expr(
        TF4,
        "sma(close, 2)@4h",
        &bars,
        &[NAN, NAN, NAN, NAN, NAN, NAN, NAN, 105.0, 105.0, 105.0],
    );
    // x[1]@4h is the 4h bar before the last completed one; x@4h[1] is the last completed 4h
    // bar as of one hourly bar ago.
    assert_expr(
        TF4,
        "close[1]@4h",
        &bars,
        &[NAN, NAN, NAN, NAN, NAN, NAN, NAN, 103.0, 103.0, 103.0],
    );
    assert_expr(
        TF4,
        "close@4h[1]",
        &bars,
        &[NAN, NAN, NAN, NAN, 103.0, 103.0, 103.0, 103.0, 107.0, 107.0],
    );
    // A named indicator used @4h is computed on 4h bars.
    assert_expr(
        &format!(r#"{TF4}, "indicators": {{"m": "sma(close, 2)"}}"#),
        "m@4h - m",
        &bars,
        &[NAN, NAN, NAN, NAN, NAN, NAN, NAN, -1.5, -2.5, -3.5],
    );
    let p = program(
        &format!(
            r#"{{"version": 1, "name": "x", {TF4}, "entry": {{"long": "close > close@4h"}}}}"#
        ),
        &bars,
    );
    assert_eq!(flat_bits(&p, RuleKind::EntryLong), b("0000 111 011"));
}

#[test]
fn a_higher_bar_with_a_missing_last_hour_completes_when_time_passes_its_end() {
    // The 03:00 bar is missing: the 4h bar [00:00, 04:00) holds 00:00-02:00 and is known
    // complete only at the close of the 04:00 bar (05:00), not at 02:00's close (03:00).
    let bars = Bars::at_hours(
        &[0, 1, 2, 4, 5, 6, 7, 8],
        &[100.0, 101.0, 102.0, 104.0, 105.0, 106.0, 107.0, 108.0],
    );
    assert_expr(
        TF4,
        "close@4h",
        &bars,
        &[NAN, NAN, NAN, 102.0, 102.0, 102.0, 107.0, 107.0],
    );
    // Data starting inside a 4h bar: the partial bar (02:00-03:00) completes at 04:00.
    let bars = Bars::at_hours(
        &[2, 3, 4, 5, 6, 7],
        &[102.0, 103.0, 104.0, 105.0, 106.0, 107.0],
    );
    assert_expr(
        TF4,
        "close@4h",
        &bars,
        &[NAN, 103.0, 103.0, 103.0, 103.0, 107.0],
    );
    assert_expr(
        TF4,
        "open@4h",
        &bars,
        &[NAN, 102.0, 102.0, 102.0, 102.0, 104.0],
    );
}

#[test]
fn warming_up_inputs_make_comparisons_false() {
    let bars = Bars::flat(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let rule = |r: &str| {
        let p = program(
            &format!(r#"{{"version": 1, "name": "x", "entry": {{"long": "{r}"}}}}"#),
            &bars,
        );
        flat_bits(&p, RuleKind::EntryLong)
    };
    for r in [
        "sma(close, 3) > 0",
        "sma(close, 3) >= 0",
        "sma(close, 3) < 1e9",
        "sma(close, 3) <= 1e9",
        "sma(close, 3) != 0",
        "sma(close, 3) == sma(close, 3)",
        "sma(close, 3)",
        "sma(close, 3) > 0 and close > 0",
        "close[2] > 0",
    ] {
        assert_eq!(rule(r), b("00111"), "{r}");
    }
    // `not` turns a false comparison into true, warm-up included (as Python's `not` does in
    // a backtesting.py strategy): guard such rules explicitly.
    assert_eq!(rule("not (sma(close, 3) > 100)"), b("11111"));
    assert_eq!(rule("close > 0 or sma(close, 3) > 0"), b("11111"));
}

fn err(json: &str) -> String {
    err_with(json, &[])
}

fn err_with(json: &str, overrides: &[(&str, f64)]) -> String {
    let bars = Bars::flat(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    match try_program(json, overrides, &bars) {
        Ok(_) => panic!("compiled: {json}"),
        Err(e) => e,
    }
}

/// A spec with `fast`/`slow` parameters, one named indicator and `rule` as the long entry.
fn with_rule(rule: &str) -> String {
    format!(
        r#"{{"version": 1, "name": "cross",
            "parameters": {{"fast": {{"int": [5, 50], "default": 10}},
                            "slow": {{"int": [10, 100], "default": 20}}}},
            "constraints": ["$fast < $slow"],
            "indicators": {{"fast_ma": "sma(close, $fast)"}},
            "entry": {{"long": "{rule}"}}}}"#
    )
}

#[test]
fn bad_rules_say_where_and_how_to_fix_them() {
    let cases = [
        (
            "close > 1 and smaa(close, 10) > 1",
            "entry.long: unknown indicator 'smaa' at 1:15; did you mean 'sma'?",
        ),
        (
            "foo(close) > 1",
            "entry.long: unknown indicator 'foo' at 1:1; did you mean 'roc'?",
        ),
        (
            "zzzzzz(close) > 1",
            "entry.long: unknown indicator 'zzzzzz' at 1:1; see skeet indicators --list",
        ),
        (
            "close > clsoe",
            "entry.long: unknown name 'clsoe' at 1:9; did you mean 'close'?",
        ),
        (
            "close > fast_mb",
            "entry.long: unknown name 'fast_mb' at 1:9; did you mean 'fast_ma'?",
        ),
        (
            "position.foo > 1",
            "entry.long: unknown name 'position.foo' at 1:1; did you mean 'position.size'?",
        ),
        (
            "close > qqqqqqqq",
            "entry.long: unknown name 'qqqqqqqq' at 1:9; use a price field (open, high, low, close, volume, hl2, hlc3, ohlc4), an indicator declared under \"indicators\", or position.pnl_pct / bars_in_trade",
        ),
        (
            "close > $fst",
            "entry.long: unknown parameter '$fst' at 1:9; did you mean '$fast'?",
        ),
        (
            "close > $qqqqqq",
            "entry.long: unknown parameter '$qqqqqq' at 1:9; declare it under \"parameters\"",
        ),
        (
            "close@4h > 1",
            "entry.long: timeframe 4h is not declared at 1:1; add \"extra_timeframes\": [\"4h\"] to \"universe\"",
        ),
        (
            "close@4x > 1",
            "entry.long: invalid timeframe '4x': use a whole number and a unit s, m, h, d or w, e.g. 1m, 15m, 1h, 4h, 1d, 1w at 1:1",
        ),
        (
            "sma(close) > 1",
            "entry.long: sma needs its 'period' parameter, e.g. sma(close,14) at 1:1; signature: sma(source, period)",
        ),
        (
            "sma(close, 10, 3) > 1",
            "entry.long: sma takes at most 1 parameter(s) at 1:16; signature: sma(source, period)",
        ),
        (
            "sma() > 1",
            "entry.long: sma needs a price series first at 1:1; signature: sma(source, period)",
        ),
        (
            "sma(close, 0) > 1",
            "entry.long: sma: parameter 'period' = 0 is invalid: must be a whole number from 1 to 100000 at 1:1",
        ),
        (
            "atr(close, 14) > 1",
            "entry.long: parameters of atr must be numbers or $parameters at 1:5; signature: atr(period=14)",
        ),
        (
            "sma(close, close) > 1",
            "entry.long: parameters of sma must be numbers or $parameters at 1:12; signature: sma(source, period)",
        ),
        (
            "macd(close, 12, 26, 9).sig > 1",
            "entry.long: macd has no output 'sig' at 1:1; outputs: macd, signal, hist",
        ),
        (
            "sma(close, 10).foo > 1",
            "entry.long: sma has no output 'foo' at 1:1; sma has a single output; drop '.foo'",
        ),
        (
            "(close + 1).foo > 1",
            "entry.long: '.foo' can only follow an indicator call at 1:2; e.g. macd(close,12,26,9).signal",
        ),
        (
            "crossover(close) > 0",
            "entry.long: crossover takes two series at 1:1; e.g. crossover(sma(close,10), sma(close,20))",
        ),
        (
            "abs(close, 1) > 1",
            "entry.long: abs takes one value at 1:1",
        ),
        ("max(close) > 1", "entry.long: max takes two values at 1:1"),
        (
            "highest(close) > 1",
            "entry.long: highest takes a series and a number of bars at 1:1; e.g. highest(high, 20)",
        ),
        (
            "highest(close, 0) > 1",
            "entry.long: highest needs a whole number of bars >= 1, got 0 at 1:16",
        ),
        (
            "lowest(close, close) > 1",
            "entry.long: the length of lowest must be a number or $parameter at 1:15",
        ),
        (
            "close > sma",
            "entry.long: 'sma' is a function and needs arguments at 1:9; e.g. sma(close, 14)",
        ),
        (
            "position.pnl_pct[1] > 1",
            "entry.long: a lookback cannot use position state at 1:1; position.* and bars_in_trade are only known bar by bar; use them outside indicators, lookbacks and crossovers",
        ),
        (
            "crossover(close, position.entry_price)",
            "entry.long: crossover cannot use position state at 1:18; position.* and bars_in_trade are only known bar by bar; use them outside indicators, lookbacks and crossovers",
        ),
        (
            "sma(bars_in_trade, 3) > 1",
            "entry.long: an indicator's input cannot use position state at 1:5; position.* and bars_in_trade are only known bar by bar; use them outside indicators, lookbacks and crossovers",
        ),
        (
            "close >",
            "entry.long: expected a value but found end of rule at 1:8; a rule compares values, e.g. rsi(close,14) < 30",
        ),
        (
            "",
            "entry.long: expected a value but found end of rule at 1:1; a rule compares values, e.g. rsi(close,14) < 30",
        ),
        (
            "(close > 1",
            "entry.long: expected ')' but found end of rule at 1:11; close the parenthesis",
        ),
        (
            "close = open",
            "entry.long: single '=' is not an operator at 1:7; compare with '=='",
        ),
        (
            "1 < close < 2",
            "entry.long: comparisons cannot be chained at 1:11; write 'a < b and b < c'",
        ),
        (
            "close > open close",
            "entry.long: unexpected 'close' after the expression at 1:14; combine conditions with 'and' / 'or'",
        ),
        (
            "close[-1] > 1",
            "entry.long: close[-1] reads a future bar at 1:1; negative lookbacks are for research labels only: set \"allow_lookahead\": true at the top of the spec, and check the strategy with --check-bias",
        ),
        (
            "and close > 1",
            "entry.long: 'and' needs a condition on its left at 1:1",
        ),
        ("close # 1", "entry.long: unexpected character '#' at 1:7"),
        (
            "close > $",
            "entry.long: '$' must be followed by a parameter name at 1:9; e.g. $fast",
        ),
        (
            "close > 1\\n  and smaa(close, 2) > 1",
            "entry.long: unknown indicator 'smaa' at 2:7; did you mean 'sma'?",
        ),
    ];
    for (rule, want) in cases {
        assert_eq!(err(&with_rule(rule)), want, "{rule}");
    }
}

#[test]
fn bad_specs_say_which_field_and_why() {
    let cases = [
        (
            r#"{"version": 1, "name": "x", "indicators": {"a": "b + 1", "b": "a * 2"}, "entry": {"long": "a > 1"}}"#,
            "indicators.b: indicator 'a' refers to itself at 1:1; cycle: a -> b -> a",
        ),
        (
            r#"{"version": 1, "name": "x", "indicators": {"a": "sma(a, 2)"}, "entry": {"long": "close > 1"}}"#,
            "indicators.a: indicator 'a' refers to itself at 1:5; cycle: a -> a",
        ),
        (
            r#"{"version": 1, "name": "x", "indicators": {"a": "smaa(close, 3)"}, "entry": {"long": "close > 1"}}"#,
            "indicators.a: unknown indicator 'smaa' at 1:1; did you mean 'sma'?",
        ),
        (
            r#"{"version": 1, "name": "x", "universe": {"extra_timeframes": ["4h"]}, "entry": {"long": "close@1d > 1"}}"#,
            "entry.long: timeframe 1d is not declared at 1:1; declared: 4h; add 1d to universe.extra_timeframes",
        ),
        (
            r#"{"version": 1, "name": "x", "universe": {"extra_timeframes": ["90m"]}, "entry": {"long": "close > 1"}}"#,
            "universe.extra_timeframes: 90m cannot be built from 1h bars; extra timeframes must be whole multiples of the data's timeframe",
        ),
        (
            r#"{"version": 1, "name": "x", "universe": {"extra_timeframes": ["1h"]}, "entry": {"long": "close > 1"}}"#,
            "universe.extra_timeframes: 1h cannot be built from 1h bars; extra timeframes must be whole multiples of the data's timeframe",
        ),
        (
            r#"{"version": 1, "name": "x", "universe": {"extra_timeframes": ["4h"]}, "entry": {"long": "position.size@4h > 1"}}"#,
            "entry.long: position.size cannot be used on another timeframe at 1:1",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"sizing": {"type": "risk", "risk_pct": 1}}}"#,
            "execution.sizing: risk sizing needs a stop loss to measure the risk; add \"stop_loss\"",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"take_profit": {"rr": 2}}}"#,
            "execution.take_profit.rr: a reward:risk target needs a stop loss; add \"stop_loss\"",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"stop_loss": {"rr": 2}}}"#,
            "execution.stop_loss: give exactly one of {\"pct\": N} or {\"atr_period\": N, \"atr_mult\": M}",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"take_profit": {"pct": 1, "rr": 2}}}"#,
            "execution.take_profit: give exactly one of {\"pct\": N}, {\"atr_period\": N, \"atr_mult\": M} or {\"rr\": R}",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"stop_loss": {"pct": "$sl"}}}"#,
            "execution.stop_loss.pct: unknown parameter '$sl'; declare it under \"parameters\"",
        ),
        (
            r#"{"version": 1, "name": "x", "parameters": {"sl": {"float": [1, 5]}}, "entry": {"long": "close > 1"}, "execution": {"stop_loss": {"pct": "$sll"}}}"#,
            "execution.stop_loss.pct: unknown parameter '$sll'; did you mean \"$sl\"?",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"sizing": {"type": "pct_equity", "pct": 150}}}"#,
            "execution.sizing.pct: 150 is out of range; use a number above 0 and at most 100",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"stop_loss": {"pct": 0}}}"#,
            "execution.stop_loss.pct: 0 is out of range; use a number above 0 and at most 1000",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"order": {"type": "limit", "offset_pct": 100}}}"#,
            "execution.order.offset_pct: 100 is out of range; use a percentage from 0 to below 100",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"time_stop": {"bars": 0}}}"#,
            "execution.time_stop.bars: 0 must be a whole number of at least 1",
        ),
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close > 1"}, "execution": {"max_entries": 2.5}}"#,
            "execution.max_entries: 2.5 must be a whole number of at least 1",
        ),
        (
            r#"{"version": 1, "name": "x", "constraints": ["close > 1"]}"#,
            "constraints[0]: constraint 'close > 1' must use only parameters and numbers",
        ),
        (
            r#"{"version": 1, "name": "x", "constraints": ["$a <"]}"#,
            "constraints[0]: expected a value but found end of rule at 1:5; a rule compares values, e.g. rsi(close,14) < 30",
        ),
        (
            r#"{"version": 1, "name": "x", "indicators": {"fastMA": "sma(close, 3)"}}"#,
            "indicators.fastMA: name 'fastMA' must be lowercase letters, digits and '_' (rules read names in lowercase); rename it 'fastma'",
        ),
        (
            r#"{"version": 1, "name": "x", "parameters": {"2fast": {"int": [1, 5]}}}"#,
            "parameters.2fast: name '2fast' must be lowercase letters, digits and '_' (rules read names in lowercase); rename it '_2fast'",
        ),
        (
            r#"{"version": 1, "name": "x", "indicators": {"close": "sma(close, 3)"}}"#,
            "indicators.close: 'close' is a built-in name; rules would read the built-in, not this indicator; rename it, e.g. 'close_1'",
        ),
        (
            r#"{"version": 1, "name": "x", "universe": {"timeframe": "hourly"}}"#,
            "universe.timeframe: invalid timeframe 'hourly': use a whole number and a unit s, m, h, d or w, e.g. 1m, 15m, 1h, 4h, 1d, 1w",
        ),
        (
            r#"{"version": 1, "name": "x", "universe": {"extra_timeframes": ["4h", "1mo"]}}"#,
            "universe.extra_timeframes: invalid timeframe '1mo': months have no fixed length and are not supported; use a whole number and a unit s, m, h, d or w, e.g. 1m, 15m, 1h, 4h, 1d, 1w",
        ),
        (
            r#"{"version": 2, "name": "x", "a_field_of_version_2": true}"#,
            "version: version 2 is not supported; this build reads version 1",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(err(json), want, "{json}");
    }
}

#[test]
fn malformed_json_gives_line_and_column() {
    let cases = [
        (
            "{\"version\": 1,\n \"name\": \"x\",\n \"entry\": {\"long\": close > 1}}",
            (3, 20),
            "invalid strategy JSON at line 3, column 20: expected value",
        ),
        (
            r#"{"version": 1, "name": "x", "entyr": {"long": "close > 1"}}"#,
            (1, 35),
            "invalid strategy JSON at line 1, column 35: unknown field 'entyr'; did you mean 'entry'?",
        ),
        (
            r#"{"version": 1, "name": "x", "colour": "red"}"#,
            (1, 36),
            "invalid strategy JSON at line 1, column 36: unknown field `colour`, expected one of `version`, `name`, `description`, `universe`, `parameters`, `constraints`, `indicators`, `entry`, `exit`, `execution`, `allow_lookahead`",
        ),
        (
            r#"{"version": 1, "name": "x", "execution": {"sizing": {"type": "all-in"}}}"#,
            (1, 69),
            "invalid strategy JSON at line 1, column 69: unknown variant 'all-in'; did you mean 'all_in'?",
        ),
        (
            r#"{"version": 1, "name": "x", "execution": {"sizing": {"type": "kelly"}}}"#,
            (1, 68),
            "invalid strategy JSON at line 1, column 68: unknown variant `kelly`, expected one of `all_in`, `pct_equity`, `quote`, `units`, `risk`",
        ),
        (
            r#"{"version": 1, "name": "x", "execution": {"stop_loss": {"pct": "five"}}}"#,
            (1, 69),
            "invalid strategy JSON at line 1, column 69: expected a number or a parameter reference such as \"$fast\", found \"five\"",
        ),
        (
            r#"{"version": 1, "name": "x", "execution": {"order": {"type": "limit"}}}"#,
            (1, 69),
            "invalid strategy JSON at line 1, column 69: missing field `offset_pct`",
        ),
        (
            r#"{"version": 1}"#,
            (1, 14),
            "invalid strategy JSON at line 1, column 14: missing field `name`",
        ),
        (
            r#"{"version": 1, "name": "x", "parameters": {"fast": {"int": [5, 50], "default": 100}}}"#,
            (1, 84),
            "invalid strategy JSON at line 1, column 84: default 100 is outside [5, 50]",
        ),
        (
            r#"{"version": 1, "name": "x", "parameters": {"fast": {"int": [5, 50], "step": 5, "default": 12}}}"#,
            (1, 94),
            "invalid strategy JSON at line 1, column 94: default 12 is not on the grid 5, 10, ... (step 5)",
        ),
        (
            r#"{"version": 1, "name": "x", "parameters": {"w": {"float": [1, 3], "step": 0.5, "default": 2.2}}}"#,
            (1, 95),
            "invalid strategy JSON at line 1, column 95: default 2.2 is not on the grid 1, 1.5, ... (step 0.5)",
        ),
        (
            r#"{"version": 1, "name": "x", "parameters": {"fast": {"int": [5, 50], "stepp": 5}}}"#,
            (1, 75),
            "invalid strategy JSON at line 1, column 75: unknown field 'stepp'; did you mean 'step'?",
        ),
        (
            r#"{"version": 1, "name": "x", "parameters": {"fast": {"int": [5.5, 50]}}}"#,
            (1, 70),
            "invalid strategy JSON at line 1, column 70: an int parameter needs whole-number bounds and step",
        ),
    ];
    for (json, (line, column), want) in cases {
        let e = StrategySpec::from_json(json).unwrap_err();
        assert_eq!(e.to_string(), want, "{json}");
        assert!(
            matches!(e, SpecError::Json { line: l, column: c, .. } if (l, c) == (line, column)),
            "{json}: {e:?}"
        );
    }
}

#[test]
fn bad_parameter_values_name_the_parameter() {
    let spec = StrategySpec::from_json(&with_rule("close > fast_ma")).unwrap();
    let resolve = |overrides: &[(&str, f64)]| {
        let overrides: Vec<(String, f64)> = overrides
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect();
        spec.resolve_params(&overrides).unwrap_err().to_string()
    };
    assert_eq!(
        resolve(&[("fast", 60.0)]),
        "parameters.fast: 60 is outside its range 5..50"
    );
    assert_eq!(
        resolve(&[("fast", 10.5)]),
        "parameters.fast: 10.5 is not a whole number"
    );
    assert_eq!(
        resolve(&[("fast", f64::NAN)]),
        "parameters.fast: NaN is not a whole number"
    );
    assert_eq!(
        resolve(&[("fst", 10.0)]),
        "parameters.fst: unknown parameter 'fst'; did you mean 'fast'?"
    );
    assert_eq!(
        resolve(&[("speed", 10.0)]),
        "parameters.speed: unknown parameter 'speed'; parameters of 'cross': fast, slow"
    );
    // Names are read like rule names: case and a leading '$' do not matter.
    let ok = spec.resolve_params(&[("$FAST".to_string(), 12.0)]).unwrap();
    assert_eq!(ok.to_string(), "fast=12, slow=20");

    let choice = StrategySpec::from_json(
        r#"{"version": 1, "name": "c", "parameters": {"k": {"choice": [1, 2.5]}, "f": {"float": [0.5, 1]}}}"#,
    )
    .unwrap();
    let e = choice
        .resolve_params(&[("k".to_string(), 2.0)])
        .unwrap_err();
    assert_eq!(e.to_string(), "parameters.k: 2 is not one of 1, 2.5");
    let e = choice
        .resolve_params(&[("f".to_string(), f64::INFINITY)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameters.f: inf is outside its range 0.5..1"
    );
    let none = StrategySpec::from_json(r#"{"version": 1, "name": "bare"}"#).unwrap();
    let e = none
        .resolve_params(&[("fast".to_string(), 3.0)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameters.fast: unknown parameter 'fast'; 'bare' declares no parameters"
    );

    // A value inside every range can still break a constraint.
    assert_eq!(
        err_with(&with_rule("close > fast_ma"), &[("fast", 30.0)]),
        "constraints[0]: constraint '$fast < $slow' does not hold for fast=30, slow=20"
    );
}

#[test]
fn the_specs_in_the_strategy_guide_compile() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/strategies.md"),
    )
    .unwrap();
    let close: Vec<f64> = (0..300)
        .map(|i| 100.0 + (f64::from(i) * 0.1).sin() * 3.0)
        .collect();
    let bars = Bars::flat(&close);
    let mut checked = 0;
    for block in guide.split("```json\n").skip(1) {
        let json = &block[..block.find("```").unwrap()];
        if !json.trim_start().starts_with('{') || !json.contains("\"version\"") {
            continue;
        }
        try_program(json, &[], &bars).unwrap_or_else(|e| panic!("{e}\n{json}"));
        checked += 1;
    }
    assert_eq!(checked, 3);
    let file = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../test_data/strategies/sma_cross_10_20.json"),
    )
    .unwrap();
    let shown = guide.split("```json\n").nth(1).unwrap();
    let shown = &shown[..shown.find("```").unwrap()];
    assert_eq!(
        StrategySpec::from_json(shown).unwrap().execution,
        StrategySpec::from_json(&file).unwrap().execution
    );
    assert_eq!(
        StrategySpec::from_json(shown).unwrap().indicators,
        StrategySpec::from_json(&file).unwrap().indicators
    );
}

//! The one way a spec can read the future — a negative lookback `x[-k]`, refused unless the
//! spec sets `"allow_lookahead": true` — and the traced columns that let a check compare every
//! value a spec computes ([`compile_traced`]).

use skeet_core::Timeframe;
use skeet_strategy::{
    ParamValues, RuleKind, SeriesData, StrategySpec, TracedColumn, compile, compile_traced,
};

const HOUR: i64 = 3_600_000_000_000;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000_000_000;

struct Bars {
    ts: Vec<i64>,
    close: Vec<f64>,
    ones: Vec<f64>,
}

impl Bars {
    fn new(close: &[f64]) -> Self {
        Self {
            ts: (0..close.len() as i64).map(|h| T0 + h * HOUR).collect(),
            close: close.to_vec(),
            ones: vec![1.0; close.len()],
        }
    }

    fn data(&self) -> SeriesData<'_> {
        SeriesData {
            ts: &self.ts,
            open: &self.close,
            high: &self.close,
            low: &self.close,
            close: &self.close,
            volume: &self.ones,
            timeframe: Timeframe::H1,
        }
    }
}

fn traced(json: &str, bars: &Bars) -> Vec<TracedColumn> {
    let spec = StrategySpec::from_json(json).unwrap_or_else(|e| panic!("{e}"));
    let params = spec.resolve_params(&[]).unwrap_or_else(|e| panic!("{e}"));
    compile_traced(&spec, &params, &bars.data())
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

#[test]
fn a_negative_lookback_is_refused_without_allow_lookahead() {
    let bars = Bars::new(&[1.0, 2.0, 3.0]);
    let cases = [
        (
            r#"{"version": 1, "name": "x", "entry": {"long": "close[-1] > close"}}"#,
            "entry.long: close[-1] reads a future bar at 1:1; negative lookbacks are for research labels only: set \"allow_lookahead\": true at the top of the spec, and check the strategy with --check-bias",
        ),
        (
            r#"{"version": 1, "name": "x", "indicators": {"label": "sma(close, 2)[-3] / close - 1"}}"#,
            "indicators.label: sma(close, 2)[-3] reads a future bar at 1:1; negative lookbacks are for research labels only: set \"allow_lookahead\": true at the top of the spec, and check the strategy with --check-bias",
        ),
        (
            r#"{"version": 1, "name": "x", "allow_lookahead": false, "exit": {"short": "close > 0 and (close + 1)[-2] > 0"}}"#,
            "exit.short: (close + 1)[-2] reads a future bar at 1:16; negative lookbacks are for research labels only: set \"allow_lookahead\": true at the top of the spec, and check the strategy with --check-bias",
        ),
    ];
    for (json, want) in cases {
        let spec = StrategySpec::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        let err = compile(&spec, &ParamValues::default(), &bars.data()).unwrap_err();
        assert_eq!(err.to_string(), want, "{json}");
    }
}

#[test]
fn with_allow_lookahead_a_negative_lookback_reads_the_bar_k_ahead() {
    let bars = Bars::new(&[1.0, 3.0, 2.0, 5.0, 4.0]);
    let cols = traced(
        r#"{"version": 1, "name": "x", "allow_lookahead": true,
            "indicators": {"next": "close[-1]", "later": "close[-2]", "far": "close[-9]", "past": "close[1]"},
            "entry": {"long": "next > close"}}"#,
        &bars,
    );
    let get = |name: &str| {
        cols.iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("{name} not traced"))
            .values
            .clone()
    };
    let nan = f64::NAN;
    assert!(same(
        &get("indicators.next: close[-1]"),
        &[3.0, 2.0, 5.0, 4.0, nan]
    ));
    assert!(same(
        &get("indicators.later: close[-2]"),
        &[2.0, 5.0, 4.0, nan, nan]
    ));
    assert!(same(&get("indicators.far: close[-9]"), &[nan; 5]));
    assert!(same(
        &get("indicators.past: close[1]"),
        &[nan, 1.0, 3.0, 2.0, 5.0]
    ));
    assert!(same(
        &get("entry.long: next > close"),
        &[1.0, 0.0, 1.0, 0.0, 0.0]
    ));

    let spec = StrategySpec::from_json(
        r#"{"version": 1, "name": "x", "allow_lookahead": true, "entry": {"long": "close[-1] > close"}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = compile(&spec, &ParamValues::default(), &bars.data()).unwrap_or_else(|e| panic!("{e}"));
    let fired: Vec<bool> = (0..5)
        .map(|t| p.rule(RuleKind::EntryLong, t, &Default::default()))
        .collect();
    assert_eq!(fired, [true, false, true, false, false]);
}

#[test]
fn allow_lookahead_is_serialized_only_when_set_so_existing_hashes_stay() {
    let plain =
        StrategySpec::from_json(r#"{"version": 1, "name": "x"}"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plain.canonical_json(),
        r#"{"entry":{},"execution":{"order":{"type":"market"},"protections":{},"sizing":{"type":"all_in"}},"exit":{},"name":"x","universe":{},"version":1}"#
    );
    let on = StrategySpec::from_json(r#"{"version": 1, "name": "x", "allow_lookahead": true}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(on.allow_lookahead);
    assert!(
        on.canonical_json()
            .starts_with(r#"{"allow_lookahead":true,"#)
    );
    assert_ne!(on.hash(), plain.hash());
}

#[test]
fn tracing_keeps_every_computed_base_column_once_in_order() {
    let close: Vec<f64> = (0..40)
        .map(|i| 100.0 + (f64::from(i) * 0.7).sin() * 5.0)
        .collect();
    let bars = Bars::new(&close);
    let json = r#"{"version": 1, "name": "x",
        "universe": {"extra_timeframes": ["4h"]},
        "parameters": {"fast": {"int": [2, 10], "default": 3}},
        "indicators": {"fast_ma": "sma(close, $fast)", "slow_ma": "sma(close, 6)"},
        "entry": {"long": "crossover(fast_ma, slow_ma) and close > sma(close, 3)", "short": "close@4h < open"},
        "exit": {"long": "position.pnl_pct > 2 or close < slow_ma[1]"}}"#;
    let names: Vec<String> = traced(json, &bars).iter().map(TracedColumn::name).collect();
    assert_eq!(
        names,
        [
            "indicators.fast_ma: sma(close, $fast)",
            "indicators.slow_ma: sma(close, 6)",
            "entry.long: crossover(fast_ma, slow_ma)",
            "entry.long: close > sma(close, 3)",
            "entry.long: crossover(fast_ma, slow_ma) and close > sma(close, 3)",
            "entry.short: close@4h",
            "entry.short: close@4h < open",
            "exit.long: slow_ma[1]",
            "exit.long: close < slow_ma[1]",
        ]
    );
    // Tracing changes nothing in the program.
    let spec = StrategySpec::from_json(json).unwrap_or_else(|e| panic!("{e}"));
    let params = spec.resolve_params(&[]).unwrap_or_else(|e| panic!("{e}"));
    let plain = compile(&spec, &params, &bars.data()).unwrap_or_else(|e| panic!("{e}"));
    let (with, cols) =
        compile_traced(&spec, &params, &bars.data()).unwrap_or_else(|e| panic!("{e}"));
    for kind in [
        RuleKind::EntryLong,
        RuleKind::EntryShort,
        RuleKind::ExitLong,
    ] {
        for t in 0..close.len() {
            let st = Default::default();
            assert_eq!(plain.rule(kind, t, &st), with.rule(kind, t, &st));
        }
    }
    assert!(cols.iter().all(|c| c.values.len() == close.len()));
    assert!(
        cols.iter()
            .filter(|c| c.boolean)
            .all(|c| c.values.iter().all(|v| *v == 0.0 || *v == 1.0))
    );
    assert_eq!(cols.iter().filter(|c| c.boolean).count(), 5);
}

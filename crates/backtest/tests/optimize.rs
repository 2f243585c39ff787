//! Parameter search and walk-forward analysis.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use rust_decimal::Decimal;
use skeet_backtest::optimize::{Method, Objective, OptimizeConfig, optimize, parse_range, space};
use skeet_backtest::walkforward::{WalkForwardConfig, layout, walk_forward};
use skeet_backtest::{Market, RunConfig, run_spec};
use skeet_core::{Instrument, Timeframe};
use skeet_data::NoProgress;
use skeet_data::generate::{GenerateParams, Model, generate};
use skeet_strategy::{StrategySpec, templates};

fn market(bars: usize, seed: u64, drift: f64) -> Market {
    market_with_volatility(bars, seed, drift, 0.6)
}

fn market_with_volatility(bars: usize, seed: u64, drift: f64, volatility: f64) -> Market {
    let mut p = GenerateParams::new(Timeframe::H1, bars, seed);
    p.model = Model::Gbm;
    p.drift = drift;
    p.volatility = volatility;
    let mut instrument = Instrument::unrestricted("synthetic:TEST/USD".parse().unwrap());
    instrument.taker_fee = Decimal::new(5, 4);
    instrument.maker_fee = Decimal::new(5, 4);
    Market {
        instrument,
        timeframe: Timeframe::H1,
        bars: generate(&p, &NoProgress).unwrap(),
        data_hash: String::new(),
    }
}

fn cfg(method: Method, trials: usize, jobs: usize) -> OptimizeConfig {
    OptimizeConfig {
        method,
        objective: Objective::parse("sharpe").unwrap(),
        trials,
        jobs,
        seed: 7,
        min_trades: 1,
    }
}

#[test]
fn every_method_finds_the_exhaustive_best_on_a_small_space() {
    let m = market(3_000, 3, 0.05);
    let spec = templates::get("sma_cross").unwrap();
    let ranges = vec![
        ("fast".to_string(), parse_range("5..25:5").unwrap()),
        ("slow".to_string(), parse_range("20..60:10").unwrap()),
    ];
    let dims = space(&spec, &ranges, &[]).unwrap();
    let run = RunConfig::default();
    let grid = optimize(
        &spec,
        &[],
        &dims,
        &m,
        &run,
        &cfg(Method::Grid, 0, 2),
        &|_, _| {},
    )
    .unwrap();
    // 5 × 5 points, minus the ones with fast >= slow (fast=20 or 25 with slow=20).
    assert_eq!(grid.trials.len() + grid.skipped_by_constraints, 25);
    assert_eq!(grid.skipped_by_constraints, 2);
    let best = &grid.trials[grid.best.unwrap()];
    for method in [Method::Random, Method::Bayes] {
        let r = optimize(
            &spec,
            &[],
            &dims,
            &m,
            &run,
            &cfg(method, 100, 2),
            &|_, _| {},
        )
        .unwrap();
        assert_eq!(
            r.trials.len(),
            grid.trials.len(),
            "{method:?} visits every feasible point once"
        );
        let b = &r.trials[r.best.unwrap()];
        assert_eq!(b.params, best.params, "{method:?}");
        assert_eq!(b.objective, best.objective, "{method:?}");
    }
    // Every trial equals a standalone backtest with the same parameters.
    for t in grid.trials.iter().step_by(5) {
        let p: Vec<(String, f64)> = t.params.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let solo = run_spec(&spec, &spec.resolve_params(&p).unwrap(), &m, &run)
            .unwrap()
            .report;
        assert_eq!(t.metrics.sharpe, solo.metrics.sharpe);
        assert_eq!(t.metrics.trades, solo.metrics.trades);
        assert_eq!(t.metrics.final_equity, solo.metrics.final_equity);
    }
    // Heat map over fast × slow, with the constraint's holes empty.
    let h = grid.heatmap.as_ref().unwrap();
    assert_eq!((h.x.len(), h.y.len()), (5, 5));
    assert_eq!(h.z[0][3], None, "fast=20, slow=20 violates fast < slow");
    assert!(
        h.z.iter()
            .flatten()
            .flatten()
            .any(|v| Some(*v) == best.objective)
    );
}

#[test]
fn results_do_not_depend_on_the_number_of_jobs_and_searches_are_seeded() {
    let m = market(2_000, 4, 0.0);
    let spec = templates::get("ema_cross").unwrap();
    let ranges = vec![
        ("fast".to_string(), parse_range("4..12:2").unwrap()),
        ("slow".to_string(), parse_range("14..40:4").unwrap()),
    ];
    let dims = space(&spec, &ranges, &[]).unwrap();
    let run = RunConfig::default();
    let one = optimize(
        &spec,
        &[],
        &dims,
        &m,
        &run,
        &cfg(Method::Grid, 0, 1),
        &|_, _| {},
    )
    .unwrap();
    let two = optimize(
        &spec,
        &[],
        &dims,
        &m,
        &run,
        &cfg(Method::Grid, 0, 2),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(one.trials, two.trials);
    let a = optimize(
        &spec,
        &[],
        &dims,
        &m,
        &run,
        &cfg(Method::Bayes, 12, 2),
        &|_, _| {},
    )
    .unwrap();
    let b = optimize(
        &spec,
        &[],
        &dims,
        &m,
        &run,
        &cfg(Method::Bayes, 12, 1),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(a.trials.len(), 12);
    let keys = |r: &skeet_backtest::optimize::OptimizeResult| {
        r.trials
            .iter()
            .map(|t| t.params.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(&a),
        keys(&b),
        "same seed, same points, whatever the parallelism"
    );
    // Guards are reported.
    assert_eq!(one.guards.trials, one.trials.len());
    assert!(one.guards.neighbours >= 2);
    assert!(
        one.guards
            .deflated_sharpe
            .is_some_and(|d| (0.0..=1.0).contains(&d))
    );
}

#[test]
fn minimum_trades_and_bad_inputs() {
    let m = market(600, 5, 0.0);
    let spec = templates::get("sma_cross").unwrap();
    let dims = space(
        &spec,
        &[("fast".into(), vec![10.0]), ("slow".into(), vec![30.0])],
        &[],
    )
    .unwrap();
    let mut c = cfg(Method::Grid, 0, 1);
    c.min_trades = 10_000;
    let r = optimize(&spec, &[], &dims, &m, &RunConfig::default(), &c, &|_, _| {}).unwrap();
    assert_eq!(r.best, None);
    assert!(
        r.trials[0]
            .infeasible
            .as_deref()
            .unwrap()
            .contains("fewer than the minimum 10000")
    );
    assert_eq!(
        Objective::parse("sharp").unwrap_err(),
        "unknown objective 'sharp'; use one of sharpe, sortino, return, calmar, profit_factor, max_drawdown, win_rate, sqn, or a weighted mix such as sharpe=0.7,calmar=0.3"
    );
    assert_eq!(
        Objective::parse("sharpe=0.7,calmar=0.3")
            .unwrap()
            .terms
            .len(),
        2
    );
    assert_eq!(parse_range("5..20:5").unwrap(), vec![5.0, 10.0, 15.0, 20.0]);
    assert_eq!(parse_range("0.1..0.3:0.1").unwrap(), vec![0.1, 0.2, 0.3]);
    assert_eq!(parse_range("50,10,20,10").unwrap(), vec![10.0, 20.0, 50.0]);
    assert_eq!(
        parse_range("5..1:1").unwrap_err(),
        "'5..1:1': the low end 5 is above the high end 1; write 1..5:1"
    );
    assert!(parse_range("5..x").unwrap_err().contains("LOW..HIGH:STEP"));
    let err = space(&spec, &[("fats".into(), vec![1.0])], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameters.fats: unknown parameter 'fats'; sma_cross declares fast, slow"
    );
}

#[test]
fn walk_forward_windows_roll_or_anchor() {
    let cfg = |anchored| WalkForwardConfig {
        windows: 4,
        in_sample: None,
        out_of_sample: None,
        anchored,
    };
    assert_eq!(
        layout(700, &cfg(false)).unwrap(),
        vec![
            ((0, 300), (300, 400)),
            ((100, 400), (400, 500)),
            ((200, 500), (500, 600)),
            ((300, 600), (600, 700))
        ]
    );
    assert_eq!(layout(700, &cfg(true)).unwrap()[3], ((0, 600), (600, 700)));
    let err = layout(
        100,
        &WalkForwardConfig {
            windows: 5,
            in_sample: Some(80),
            out_of_sample: Some(10),
            anchored: false,
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "5 windows of 80 training + 10 test bars need 130 bars, the data has 100; use fewer windows or shorter windows (--windows, --in-sample, --out-of-sample)"
    );
}

#[test]
fn an_edge_found_only_in_sample_does_not_survive_out_of_sample() {
    // A driftless random walk: any in-sample optimum is luck, so by construction the
    // out-of-sample result must be poor.
    let m = market(6_000, 11, 0.0);
    let spec = templates::get("sma_cross").unwrap();
    let ranges = vec![
        ("fast".to_string(), parse_range("5..40:5").unwrap()),
        ("slow".to_string(), parse_range("20..160:20").unwrap()),
    ];
    let dims = space(&spec, &ranges, &[]).unwrap();
    let wf = WalkForwardConfig {
        windows: 5,
        in_sample: None,
        out_of_sample: None,
        anchored: false,
    };
    let r = walk_forward(
        &spec,
        &[],
        &dims,
        &m,
        &RunConfig::default(),
        &cfg(Method::Grid, 0, 2),
        &wf,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(r.windows.len(), 5);
    let is = r.mean_in_sample_objective.unwrap();
    let oos = r.mean_out_of_sample_objective.unwrap();
    assert!(is > 1.0, "the in-sample optimum looks good: Sharpe {is}");
    assert!(oos < is - 1.0, "out of sample it does not: {oos} vs {is}");
    assert!(r.efficiency.is_none_or(|e| e < 0.5), "{:?}", r.efficiency);
    // The stitched equity covers exactly the test windows and compounds them.
    assert_eq!(r.equity.len(), 5 * (6_000 / 8));
    let last_window = r.windows.last().unwrap();
    assert_eq!(r.out_of_sample.final_equity, r.equity.last().unwrap().1);
    assert!(last_window.out_of_sample_metrics.trades > 0);
}

#[test]
fn a_real_edge_survives_out_of_sample() {
    // A strong, steady uptrend: a long-only trend follower earns in every test window. The
    // rule is a level (fast above slow), not a crossover: a crossover that happened before a
    // test window starts is, correctly, no signal inside it.
    let m = market_with_volatility(4_000, 12, 3.0, 0.15);
    let spec = StrategySpec::from_json(
        r#"{
  "version": 1,
  "name": "ema_trend",
  "parameters": {
    "fast": { "int": [3, 50], "step": 1, "default": 12 },
    "slow": { "int": [10, 200], "step": 2, "default": 26 }
  },
  "constraints": ["$fast < $slow"],
  "indicators": { "fast_ma": "ema(close, $fast)", "slow_ma": "ema(close, $slow)" },
  "entry": { "long": "fast_ma > slow_ma" },
  "exit": { "long": "fast_ma < slow_ma" }
}"#,
    )
    .unwrap();
    let ranges = vec![
        ("fast".to_string(), parse_range("5..15:5").unwrap()),
        ("slow".to_string(), parse_range("30..90:30").unwrap()),
    ];
    let dims = space(&spec, &ranges, &[]).unwrap();
    let wf = WalkForwardConfig {
        windows: 4,
        in_sample: None,
        out_of_sample: None,
        anchored: true,
    };
    let mut c = cfg(Method::Grid, 0, 2);
    c.objective = Objective::parse("return").unwrap();
    let r = walk_forward(
        &spec,
        &[],
        &dims,
        &m,
        &RunConfig::default(),
        &c,
        &wf,
        &|_, _| {},
    )
    .unwrap();
    assert!(
        r.out_of_sample.total_return_pct.unwrap() > 0.0,
        "{:?}",
        r.out_of_sample.total_return_pct
    );
    for w in &r.windows {
        assert!(
            w.out_of_sample_metrics.total_return_pct.unwrap() > 0.0,
            "{:?}",
            w.out_of_sample
        );
    }
}

//! Engine throughput on 1,000,000 one-minute bars (the issue's benchmark): SMA(10/30)
//! long-only cross, all-in, 0.1 % commission, next-open fills, as a JSON spec and as a Rust
//! [`Strategy`]; plus the same spec with rules that never fire (the bare loop). The bars are
//! `skeet data generate --symbol BENCH/USD --timeframe 1m --bars 1000000 --seed 1` (GBM).
//!
//! `cargo bench -p skeet-backtest --bench engine`; results in docs/benchmarks.md.

#![allow(clippy::unwrap_used, missing_docs, reason = "benchmark harness")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use skeet_backtest::{Market, RunConfig, run_spec, run_strategy};
use skeet_core::{Instrument, Timeframe};
use skeet_data::NoProgress;
use skeet_data::generate::{GenerateParams, generate};
use skeet_strategy::{BarContext, ExecSettings, Signals, Strategy, StrategySpec, templates};
use skeet_ta::Indicator;
use skeet_ta::ma::Sma;

const N: usize = 1_000_000;

fn market() -> Market {
    let bars = generate(&GenerateParams::new(Timeframe::M1, N, 1), &NoProgress).unwrap();
    let mut instrument = Instrument::unrestricted("synthetic:BENCH/USD".parse().unwrap());
    instrument.taker_fee = Decimal::new(1, 3);
    instrument.maker_fee = Decimal::new(1, 3);
    Market {
        instrument,
        timeframe: Timeframe::M1,
        bars,
        data_hash: String::new(),
    }
}

/// The same SMA cross as the template, written as Rust with streaming SMAs.
struct SmaCross {
    fast: Sma,
    slow: Sma,
    prev: Option<(f64, f64)>,
    exec: ExecSettings,
}

impl Strategy for SmaCross {
    fn execution(&self) -> &ExecSettings {
        &self.exec
    }

    #[inline]
    fn on_bar(&mut self, ctx: &BarContext<'_>) -> Signals {
        let close = ctx.bars.close()[ctx.index];
        let f = self.fast.update(close);
        let s = self.slow.update(close);
        let (Some(f), Some(s)) = (f, s) else {
            return Signals::default();
        };
        let mut out = Signals::default();
        if let Some((pf, ps)) = self.prev {
            out.enter_long = pf < ps && f > s;
            out.exit_long = pf > ps && f < s;
        }
        self.prev = Some((f, s));
        out
    }
}

fn engine(c: &mut Criterion) {
    let m = market();
    let cfg = RunConfig::default();
    let spec = templates::get("sma_cross").unwrap();
    let params = spec
        .resolve_params(&[("fast".into(), 10.0), ("slow".into(), 30.0)])
        .unwrap();
    let never = StrategySpec::from_json(
        r#"{"version":1,"name":"never","indicators":{"f":"sma(close,10)","s":"sma(close,30)"},
            "entry":{"long":"crossover(f, s) and close < 0"},"exit":{"long":"crossunder(f, s)"}}"#,
    )
    .unwrap();
    let none = never.resolve_params(&[]).unwrap();
    let mut g = c.benchmark_group("engine_1m_bars");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    // Timed by the report's `engine_seconds` (compilation + simulation, as the issue's goal
    // defines it); building the report (metrics, curves) is excluded.
    let engine_time = |iters: u64, run: &dyn Fn() -> f64| {
        let mut total = 0.0;
        for _ in 0..iters {
            total += run();
        }
        Duration::from_secs_f64(total)
    };
    g.bench_function("spec_sma_cross_10_30", |b| {
        b.iter_custom(|iters| {
            engine_time(iters, &|| {
                run_spec(&spec, &params, &m, &cfg)
                    .unwrap()
                    .report
                    .engine_seconds
            })
        });
    });
    g.bench_function("rust_sma_cross_10_30", |b| {
        b.iter_custom(|iters| {
            engine_time(iters, &|| {
                let mut s = SmaCross {
                    fast: Sma::new(10).unwrap(),
                    slow: Sma::new(30).unwrap(),
                    prev: None,
                    exec: ExecSettings::default(),
                };
                run_strategy(&mut s, "rust_sma_cross", &m, &cfg)
                    .unwrap()
                    .report
                    .engine_seconds
            })
        });
    });
    g.bench_function("spec_no_trades", |b| {
        b.iter_custom(|iters| {
            engine_time(iters, &|| {
                run_spec(&never, &none, &m, &cfg)
                    .unwrap()
                    .report
                    .engine_seconds
            })
        });
    });
    g.bench_function("spec_sma_cross_with_report", |b| {
        b.iter(|| {
            black_box(
                run_spec(&spec, &params, &m, &cfg)
                    .unwrap()
                    .report
                    .trades
                    .len(),
            )
        });
    });
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);

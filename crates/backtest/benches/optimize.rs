//! Parameter sweep throughput (the optimisation issue's benchmark): the 174-combination grid
//! of the SMA cross template (fast 5..50 step 5, slow 20..200 step 10, fast < slow) on
//! 100,000 one-minute bars, 0.1 % commission, on every core; and the same sweep on one
//! thread. The bars are `skeet data generate --symbol BENCH/USD --timeframe 1m --bars 100000
//! --seed 1` (GBM). Throughput is in trials (combinations) per second.
//!
//! `cargo bench -p skeet-backtest --bench optimize`; results in docs/benchmarks.md.

#![allow(clippy::unwrap_used, missing_docs, reason = "benchmark harness")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use skeet_backtest::optimize::{Method, Objective, OptimizeConfig, optimize, parse_range, space};
use skeet_backtest::{Market, RunConfig};
use skeet_core::{Instrument, Timeframe};
use skeet_data::NoProgress;
use skeet_data::generate::{GenerateParams, generate};
use skeet_strategy::templates;

fn market() -> Market {
    let bars = generate(&GenerateParams::new(Timeframe::M1, 100_000, 1), &NoProgress).unwrap();
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

fn sweep(c: &mut Criterion) {
    let m = market();
    let spec = templates::get("sma_cross").unwrap();
    let ranges = vec![
        ("fast".to_string(), parse_range("5..50:5").unwrap()),
        ("slow".to_string(), parse_range("20..200:10").unwrap()),
    ];
    let dims = space(&spec, &ranges, &[]).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("optimize");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(174));
    for (name, jobs) in [("grid_174_all_cores", cores), ("grid_174_one_thread", 1)] {
        let cfg = OptimizeConfig {
            method: Method::Grid,
            objective: Objective::parse("sharpe").unwrap(),
            trials: 0,
            jobs,
            seed: 1,
            min_trades: 1,
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = optimize(
                    &spec,
                    &[],
                    &dims,
                    &m,
                    &RunConfig::default(),
                    &cfg,
                    &|_, _| {},
                )
                .unwrap();
                assert_eq!(r.trials.len(), 174);
                black_box(r.best)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);

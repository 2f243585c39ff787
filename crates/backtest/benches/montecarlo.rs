//! Monte Carlo resampling throughput: 1000 simulated paths of 1000 closed trades, by
//! bootstrap and by shuffle (the target is well under 50 ms each in release). The trades are
//! synthetic: returns of -3 % to +4 % on equity, fixed by a seed.
//!
//! `cargo bench -p skeet-backtest --bench montecarlo`.

#![allow(clippy::unwrap_used, missing_docs, reason = "benchmark harness")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use skeet_backtest::metrics::TradeRecord;
use skeet_backtest::montecarlo::{Method, MonteCarloConfig, simulate};
use skeet_core::{Side, UnixNanos};

const TRADES: usize = 1000;
const SIMULATIONS: usize = 1000;
const INITIAL: f64 = 100_000.0;

/// `TRADES` trades with returns spread over -3 %..+4 % of the equity before each.
fn trades() -> Vec<TradeRecord> {
    let mut equity = INITIAL;
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    (0..TRADES)
        .map(|i| {
            // xorshift64: any fixed spread of returns will do.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let fraction = (state % 7_001) as f64 / 100_000.0 - 0.03;
            let pnl = Decimal::try_from(equity * fraction).unwrap().round_dp(2);
            equity += f64::try_from(pnl).unwrap();
            TradeRecord {
                instrument: "synthetic:BENCH/USD".to_owned(),
                side: Side::Buy,
                quantity: Decimal::ONE,
                entry_bar: i * 10,
                exit_bar: i * 10 + 5,
                entry_ts: UnixNanos::new(0),
                exit_ts: UnixNanos::new(0),
                entry_price: Decimal::ONE_HUNDRED,
                exit_price: Decimal::ONE_HUNDRED,
                fees: Decimal::ZERO,
                pnl,
                exit_reason: "signal".to_owned(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let trades = trades();
    let mut group = c.benchmark_group("montecarlo_1000x1000");
    group.throughput(Throughput::Elements((TRADES * SIMULATIONS) as u64));
    for method in [Method::Bootstrap, Method::Shuffle] {
        let cfg = MonteCarloConfig {
            simulations: SIMULATIONS,
            seed: 1,
            method,
        };
        group.bench_function(method.as_str(), |b| {
            b.iter(|| simulate(black_box(&trades), black_box(INITIAL), black_box(&cfg)).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

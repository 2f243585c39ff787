//! Indicator throughput on 1,000,000 points, batch and streaming.
//!
//! The input is the same pseudo-random walk `scripts/bench_talib.py` feeds TA-Lib (xorshift64*
//! with seed 42), so the two are compared on identical arrays. Run with
//! `cargo bench -p skeet-ta --bench indicators`; results are recorded in docs/benchmarks.md.

#![allow(clippy::unwrap_used, missing_docs, reason = "benchmark harness")]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use skeet_ta::ma::{Ema, Sma};
use skeet_ta::momentum::Rsi;
use skeet_ta::{Columns, Indicator, parse};

const N: usize = 1_000_000;

struct Walk {
    ts: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

/// xorshift64* uniform in [0, 1), identical to the Python script's.
fn walk(n: usize) -> Walk {
    let mut state: u64 = 42;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut w = Walk {
        ts: Vec::with_capacity(n),
        open: Vec::with_capacity(n),
        high: Vec::with_capacity(n),
        low: Vec::with_capacity(n),
        close: Vec::with_capacity(n),
        volume: Vec::with_capacity(n),
    };
    let mut price = 100.0;
    for i in 0..n {
        let open = price;
        let close = open + (next() - 0.5) * 0.5 + (100.0 - open) * 0.001;
        let high = open.max(close) * (1.0 + next() * 0.005);
        let low = open.min(close) * (1.0 - next() * 0.005);
        let volume = 1000.0 + next() * 1000.0;
        w.ts.push(i as i64 * 60_000_000_000);
        w.open.push(open);
        w.high.push(high);
        w.low.push(low);
        w.close.push(close);
        w.volume.push(volume);
        price = close;
    }
    w
}

fn batch(c: &mut Criterion) {
    let w = walk(N);
    let cols = Columns {
        ts: &w.ts,
        open: &w.open,
        high: &w.high,
        low: &w.low,
        close: &w.close,
        volume: &w.volume,
    };
    let mut g = c.benchmark_group("batch_1m");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    for call in [
        "sma(close,10)",
        "ema(close,10)",
        "rsi(close,14)",
        "macd(close,12,26,9)",
        "bbands(close,20,2,2)",
        "atr(14)",
        "stoch(14,3,3)",
        "adx(14)",
        "cci(20)",
        "mfi(14)",
        "wma(close,10)",
        "willr(14)",
        "obv()",
        "sar()",
        "linreg_slope(close,14)",
        "supertrend(7,3)",
    ] {
        let spec = parse(call).unwrap();
        // Output buffers are reused across iterations, as an optimiser reuses them across
        // trials; TA-Lib's timing (numpy reusing freed memory) likewise excludes first-touch
        // page faults. `spec.compute` (allocating) costs about 2-3 ms more per output column.
        let mut out = Vec::new();
        spec.compute_into(&cols, &mut out).unwrap();
        g.bench_function(call, |b| {
            b.iter(|| {
                spec.compute_into(black_box(&cols), &mut out).unwrap();
                black_box(&out);
            });
        });
    }
    g.finish();
}

fn streaming(c: &mut Criterion) {
    let w = walk(N);
    assert_eq!(
        w.close[N - 1],
        103.835_865_590_688_26,
        "walk must match scripts/bench_talib.py"
    );
    let mut g = c.benchmark_group("stream_update");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    macro_rules! stream {
        ($name:literal, $make:expr) => {
            g.bench_function($name, |b| {
                b.iter_batched_ref(
                    || $make,
                    |ind| {
                        let mut acc = 0.0;
                        for &x in &w.close {
                            if let Some(v) = ind.update(black_box(x)) {
                                acc += v;
                            }
                        }
                        black_box(acc)
                    },
                    BatchSize::LargeInput,
                )
            });
        };
    }
    stream!("sma(10)", Sma::new(10).unwrap());
    stream!("ema(10)", Ema::new(10).unwrap());
    stream!("rsi(14)", Rsi::new(14).unwrap());
    g.finish();
}

criterion_group!(benches, batch, streaming);
criterion_main!(benches);

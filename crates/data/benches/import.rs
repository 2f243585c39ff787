//! Market data import speed: a 1,000,000-row CSV (generated 1-minute bars in the export
//! format) parsed and validated, written to the Parquet store, and both together as
//! `skeet data import` does. Results are recorded in docs/benchmarks.md.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark fails loudly on any unexpected error"
)]

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skeet_core::Timeframe;
use skeet_data::generate::{GenerateParams, Model, generate};
use skeet_data::import::{ImportOptions, check_timeframe, read_csv};
use skeet_data::{MarketStore, NoProgress, SeriesKey, WriteMode, export};

const ROWS: usize = 1_000_000;

fn write_fixture(dir: &Path) -> std::path::PathBuf {
    let params = GenerateParams {
        model: Model::Regime,
        ..GenerateParams::new(Timeframe::M1, ROWS, 1)
    };
    let bars = generate(&params, &NoProgress).unwrap();
    let path = dir.join("bars_1m.csv");
    export::write_csv(&bars, BufWriter::new(File::create(&path).unwrap())).unwrap();
    path
}

fn bench_import(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_fixture(dir.path());
    let options = ImportOptions::default();
    let key = SeriesKey::parse("local", "BENCH", "1m").unwrap();
    let store = MarketStore::open(dir.path().join("market")).unwrap();

    let mut group = c.benchmark_group("market_data_import_1m_rows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("parse_and_validate_csv", |b| {
        b.iter(|| read_csv(&csv, &options, &NoProgress).unwrap());
    });
    let bars = read_csv(&csv, &options, &NoProgress).unwrap().bars;
    group.bench_function("write_parquet", |b| {
        b.iter(|| store.write(&key, &bars, WriteMode::Replace).unwrap());
    });
    group.bench_function("read_parquet", |b| {
        b.iter(|| store.read(&key, None, None).unwrap());
    });
    group.bench_function("import_csv_into_store", |b| {
        b.iter(|| {
            let imported = read_csv(&csv, &options, &NoProgress).unwrap();
            check_timeframe(&imported.bars, key.timeframe).unwrap();
            store
                .write(&key, &imported.bars, WriteMode::Replace)
                .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench_import);
criterion_main!(benches);

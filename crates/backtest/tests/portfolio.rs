//! Portfolio runs: several instruments sharing one account.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use rust_decimal::Decimal;
use skeet_backtest::{Market, RunConfig, run_spec, run_spec_portfolio};
use skeet_core::{Instrument, Timeframe};
use skeet_data::NoProgress;
use skeet_data::generate::{GenerateParams, Model, generate};
use skeet_strategy::templates;

fn market(symbol: &str, seed: u64, bars: usize) -> Market {
    let mut p = GenerateParams::new(Timeframe::H1, bars, seed);
    p.model = Model::Regime;
    let mut instrument = Instrument::unrestricted(format!("synthetic:{symbol}").parse().unwrap());
    instrument.taker_fee = Decimal::new(1, 3);
    instrument.maker_fee = Decimal::new(1, 3);
    Market {
        instrument,
        timeframe: Timeframe::H1,
        bars: generate(&p, &NoProgress).unwrap(),
        data_hash: format!("seed{seed}"),
    }
}

#[test]
fn two_instruments_share_one_account_exactly() {
    let mut spec = templates::get("ema_cross").unwrap();
    spec.execution.sizing = skeet_strategy::spec::Sizing::PctEquity {
        pct: skeet_strategy::spec::Num::Value(45.0),
    };
    let params = spec.resolve_params(&[]).unwrap();
    // The second series starts 100 hours later, so the timelines only partly overlap.
    let a = market("AAA/USD", 1, 2_000);
    let mut b = market("BBB/USD", 2, 2_000);
    b.bars = b.bars.slice(100, 2_000);
    let out = run_spec_portfolio(&spec, &params, &[a.clone(), b], &RunConfig::default()).unwrap();
    let r = &out.report;
    assert_eq!(r.instruments.len(), 2);
    let traded: std::collections::BTreeSet<&str> =
        r.trades.iter().map(|t| t.instrument.as_str()).collect();
    assert_eq!(traded.len(), 2, "both instruments trade");
    // One equity point per distinct time: the union of both series.
    assert_eq!(out.equity.len(), 2_000);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // Exact ledger: final equity is the cash plus what is held, and the realised trade PnL
    // explains the cash once nothing is held (fees included in trade PnL).
    let flat = r.open_position.is_zero();
    let pnl: Decimal = r.trades.iter().map(|t| t.pnl).sum();
    if flat {
        assert_eq!(r.final_cash, RunConfig::default().cash + pnl);
    }
    assert!(r.final_equity > Decimal::ZERO);

    // Each instrument alone, with the same rules, trades at the same bars when sizing does
    // not interact (sizes differ: the portfolio shares the equity).
    let alone = run_spec(&spec, &params, &a, &RunConfig::default())
        .unwrap()
        .report;
    let in_portfolio: Vec<(usize, usize)> = r
        .trades
        .iter()
        .filter(|t| t.instrument == "synthetic:AAA/USD")
        .map(|t| (t.entry_bar, t.exit_bar))
        .collect();
    let solo: Vec<(usize, usize)> = alone
        .trades
        .iter()
        .map(|t| (t.entry_bar, t.exit_bar))
        .collect();
    assert_eq!(in_portfolio, solo);
}

#[test]
fn mixed_timeframes_are_refused() {
    let spec = templates::get("sma_cross").unwrap();
    let params = spec.resolve_params(&[]).unwrap();
    let a = market("AAA/USD", 1, 300);
    let mut b = market("BBB/USD", 2, 300);
    b.timeframe = Timeframe::D1;
    let err = run_spec_portfolio(&spec, &params, &[a, b], &RunConfig::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "synthetic:BBB/USD has 1d bars and synthetic:AAA/USD has 1h bars; a portfolio runs on one timeframe"
    );
}

//! A paper bot's engine, stepped bar by bar, is its backtest.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use rust_decimal::Decimal;
use skeet_backtest::stepper::Stepper;
use skeet_backtest::{Market, RunConfig, run_spec};
use skeet_core::{Instrument, Timeframe};
use skeet_data::NoProgress;
use skeet_data::generate::{GenerateParams, Model, generate};
use skeet_strategy::templates;

fn market(bars: usize, seed: u64) -> Market {
    let mut p = GenerateParams::new(Timeframe::H1, bars, seed);
    p.model = Model::Regime;
    let mut instrument = Instrument::unrestricted("synthetic:TEST/USD".parse().unwrap());
    instrument.taker_fee = Decimal::new(1, 3);
    instrument.maker_fee = Decimal::new(5, 4);
    Market {
        instrument,
        timeframe: Timeframe::H1,
        bars: generate(&p, &NoProgress).unwrap(),
        data_hash: String::new(),
    }
}

#[test]
fn stepping_every_bar_reproduces_the_backtest_for_every_template() {
    for (name, _) in templates::TEMPLATES {
        let spec = templates::get(name).unwrap();
        let m = market(1_500, 11);
        let params = spec.resolve_params(&[]).unwrap();
        // The backtest's quiet-bar shortcut marks to market in a batch; stepping marks every
        // bar itself, so compare with the shortcut off (the same numbers bar for bar).
        let cfg = RunConfig {
            skip_quiet_bars: false,
            ..RunConfig::default()
        };
        let run = run_spec(&spec, &params, &m, &cfg).unwrap();
        let mut s = Stepper::new(&spec, &params, m, &cfg).unwrap();
        let mut events = Vec::new();
        let mut equity = Vec::new();
        let mut last = None;
        while let Some(step) = s.step() {
            events.extend(step.events);
            equity.push(step.equity);
            last = Some((step.cash, step.position));
        }
        assert!(!run.events.is_empty(), "{name}: the template never traded");
        assert_eq!(
            events,
            run.events[..events.len()],
            "{name}: the stepped events differ from the backtest's"
        );
        // The backtest's end (`finish`) may close what is still working at the last bar; a
        // bot keeps it working instead.
        assert!(
            run.events[events.len()..]
                .iter()
                .all(|e| e.bar == s.len() - 1),
            "{name}: the backtest has events the steps missed: {:?}",
            &run.events[events.len()..]
        );
        assert_eq!(equity.len(), run.equity.len(), "{name}");
        if let Some(i) = (0..equity.len()).find(|&i| equity[i] != run.equity[i]) {
            panic!(
                "{name}: equity differs first at bar {i}: {} vs {}",
                equity[i], run.equity[i]
            );
        }
        let (cash, position) = last.unwrap();
        assert_eq!(cash, run.report.final_cash, "{name}");
        assert_eq!(position, run.report.open_position, "{name}");
        assert!(s.step().is_none());
    }
}

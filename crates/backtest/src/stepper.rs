//! A backtest one bar at a time: the paper bot's engine. [`Stepper`] runs exactly the loop of
//! [`crate::run_spec`] (match the bar, mark to market, decide at its close), but bar by bar, so
//! a bot can pace it (a replay at a chosen speed) and publish what happened after each bar.
//!
//! Invariants:
//! - Stepping through every bar produces the same orders, fills, trades and equity as
//!   [`crate::run_spec`] on the same data and settings (tested): a paper bot on the replay
//!   venue *is* its backtest, so the divergence between them is zero by construction.
//! - The strategy sees bars `0..=t` only when deciding at bar `t` (the engine's rule); the
//!   program is compiled over the series once, which is look-ahead free because every rule
//!   at `t` reads only bars up to `t` (checked by the look-ahead test over all templates).

use rust_decimal::Decimal;
use skeet_core::Bar;
use skeet_engine::engine::Engine;
use skeet_engine::events::Event;
use skeet_strategy::api::BarsView;
use skeet_strategy::{ParamValues, SpecStrategy, Strategy, StrategySpec, compile};

use crate::runner::{
    BacktestError, Market, RunConfig, bar_ref, configure, new_engine, series_data,
};

/// What one bar did.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Bar index.
    pub index: usize,
    /// The bar.
    pub bar: Bar,
    /// Engine events of this bar (orders submitted, fills, closes, pauses), in order.
    pub events: Vec<Event>,
    /// Equity at the bar's close (for charts).
    pub equity: f64,
    /// Exact cash after the bar.
    pub cash: Decimal,
    /// Signed position after the bar.
    pub position: Decimal,
    /// Fees paid so far.
    pub fees: Decimal,
}

/// A spec strategy on one market, advanced one bar per [`Stepper::step`].
#[derive(Debug)]
pub struct Stepper {
    engine: Engine,
    strategy: SpecStrategy,
    market: Market,
    tf: i64,
    t: usize,
    events_seen: usize,
}

impl Stepper {
    /// Compiles `spec` with `params` over `market` and sets the engine up as
    /// [`crate::run_spec`] does.
    ///
    /// # Errors
    /// A spec that does not compile against this data, or no bars.
    pub fn new(
        spec: &StrategySpec,
        params: &ParamValues,
        market: Market,
        cfg: &RunConfig,
    ) -> Result<Self, BacktestError> {
        if market.bars.is_empty() {
            return Err(BacktestError::Data("no bars to trade on".into()));
        }
        let program = compile(spec, params, &series_data(&market))?;
        let strategy = SpecStrategy::new(program, cfg.allow_short);
        let mut engine = new_engine(cfg, vec![market.instrument.clone()]);
        configure(&mut engine, 0, &strategy, cfg);
        Ok(Self {
            engine,
            strategy,
            tf: market.timeframe.as_nanos(),
            market,
            t: 0,
            events_seen: 0,
        })
    }

    /// Bars in the market.
    pub fn len(&self) -> usize {
        self.market.bars.len()
    }

    /// True when there are no bars (never, after [`Stepper::new`]).
    pub fn is_empty(&self) -> bool {
        self.market.bars.is_empty()
    }

    /// Index of the next bar to process.
    pub fn position(&self) -> usize {
        self.t
    }

    /// Bars the strategy needs before it can signal (indicator warm-up).
    pub fn warmup(&self) -> usize {
        self.strategy.warmup()
    }

    /// The market being traded.
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// The engine (account, working orders, events so far).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Replaces the risk limits from the next bar on (see [`Engine::set_risk_limits`]).
    pub fn set_risk(&mut self, limits: skeet_engine::RiskLimits) {
        self.engine.set_risk_limits(limits);
    }

    /// Cancels working orders and closes the position at the close of the last processed bar
    /// (a market order: taker fee and slippage), as the drawdown kill switch does; returns
    /// the events that caused. Nothing happens before the first bar.
    pub fn flatten(&mut self) -> Vec<Event> {
        let Some(t) = self.t.checked_sub(1) else {
            return Vec::new();
        };
        let bar = bar_ref(&self.market.bars, t, self.tf);
        self.engine.close_out(0, t, &bar);
        self.engine.mark(0, bar.close);
        self.new_events()
    }

    /// The engine events since the last call.
    fn new_events(&mut self) -> Vec<Event> {
        let all = self.engine.events();
        let events = all[self.events_seen..].to_vec();
        self.events_seen = all.len();
        events
    }

    /// Processes the next bar; `None` after the last.
    pub fn step(&mut self) -> Option<Step> {
        let b = &self.market.bars;
        let t = self.t;
        if t >= b.len() {
            return None;
        }
        let bar = bar_ref(b, t, self.tf);
        self.engine.match_bar(0, t, &bar);
        self.engine.mark(0, bar.close);
        let equity = self.engine.equity_f();
        let view = BarsView::new(
            t,
            b.ts(),
            b.open(),
            b.high(),
            b.low(),
            b.close(),
            b.volume(),
        );
        self.engine.decide(0, t, &bar, view, &mut self.strategy);
        let bar = b.get(t)?;
        self.t += 1;
        let events = self.new_events();
        let account = self.engine.account();
        Some(Step {
            index: t,
            bar,
            events,
            equity,
            cash: account.cash(),
            position: account.position(0).quantity,
            fees: account.fees(),
        })
    }
}

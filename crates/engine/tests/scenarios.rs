//! Engine scenarios on hand-built bars whose outcome is known exactly: fill prices, quantities,
//! fees, order states and the reasons written to the event log.
//!
//! Every scenario drives [`Engine`] the way the backtest runner does (per bar: `match_bar`,
//! `mark`, `decide`) with a scripted strategy whose signals are fixed per bar. Unless a test
//! says otherwise: 9,950 USD cash, whole-unit lots, no fees, no slippage, next-open fills,
//! all-in sizing. Bar `t` opens at day `t`. (9,950 rather than 10,000 so that no all-in size
//! sits exactly on a whole number of units; that edge has tests of its own.)

#![expect(
    clippy::unwrap_used,
    reason = "hand-built scenarios: a malformed fixture should fail the test loudly"
)]

use rust_decimal::Decimal;
use skeet_core::{Currency, Instrument, OrderStatus, Side, TimeInForce};
use skeet_engine::{
    BarRef, Engine, EngineConfig, Event, EventKind, FillModel, OrderIntent, Purpose, RiskLimits,
    Size, Slippage, Trigger,
};
use skeet_strategy::{
    BarContext, BarsView, DistanceRule, EntryOrder, ExecSettings, Signals, SizingRule, Strategy,
};

const DAY: i64 = 86_400_000_000_000;

const LONG: Signals = Signals {
    enter_long: true,
    enter_short: false,
    exit_long: false,
    exit_short: false,
};
const SHORT: Signals = Signals {
    enter_long: false,
    enter_short: true,
    exit_long: false,
    exit_short: false,
};
const EXIT_LONG: Signals = Signals {
    enter_long: false,
    enter_short: false,
    exit_long: true,
    exit_short: false,
};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A strategy that answers each bar with a fixed signal.
struct Script {
    exec: ExecSettings,
    signals: Vec<Signals>,
}

impl Strategy for Script {
    fn execution(&self) -> &ExecSettings {
        &self.exec
    }

    fn on_bar(&mut self, ctx: &BarContext<'_>) -> Signals {
        self.signals.get(ctx.index).copied().unwrap_or_default()
    }
}

/// One instrument, its bars as columns, a scripted strategy and the engine.
struct Sim {
    engine: Engine,
    script: Script,
    ts: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    /// Next bar to process.
    t: usize,
}

fn instrument() -> Instrument {
    let mut inst = Instrument::unrestricted("local:TEST/USD".parse().unwrap());
    inst.lot_size = Decimal::ONE;
    inst
}

fn config() -> EngineConfig {
    EngineConfig {
        initial_cash: d("9950"),
        currency: Currency::new("USD").unwrap(),
        fill: FillModel::NextOpen,
        slippage: Slippage::default(),
        leverage: 1.0,
        risk: RiskLimits::default(),
    }
}

impl Sim {
    /// Bars as `[open, high, low, close, volume]`.
    fn new(cfg: EngineConfig, inst: Instrument, exec: ExecSettings, bars: &[[f64; 5]]) -> Self {
        let mut engine = Engine::new(cfg, vec![inst]);
        engine.configure(0, &exec);
        let col = |k: usize| bars.iter().map(|b| b[k]).collect::<Vec<_>>();
        Self {
            engine,
            script: Script {
                exec,
                signals: vec![Signals::default(); bars.len()],
            },
            ts: (0..bars.len()).map(|t| t as i64 * DAY).collect(),
            open: col(0),
            high: col(1),
            low: col(2),
            close: col(3),
            volume: col(4),
            t: 0,
        }
    }

    fn signal(mut self, t: usize, s: Signals) -> Self {
        self.script.signals[t] = s;
        self
    }

    fn bar(&self, t: usize) -> BarRef {
        BarRef {
            ts: self.ts[t],
            close_ts: self.ts[t] + DAY,
            open: self.open[t],
            high: self.high[t],
            low: self.low[t],
            close: self.close[t],
            volume: self.volume[t],
        }
    }

    /// Processes the next bar.
    fn step(&mut self) {
        let t = self.t;
        let bar = self.bar(t);
        self.engine.match_bar(0, t, &bar);
        self.engine.mark(0, bar.close);
        let view = BarsView::new(
            t,
            &self.ts,
            &self.open,
            &self.high,
            &self.low,
            &self.close,
            &self.volume,
        );
        self.engine.decide(0, t, &bar, view, &mut self.script);
        self.t += 1;
    }

    fn run(&mut self) {
        while self.t < self.ts.len() {
            self.step();
        }
    }

    fn events(&self) -> &[Event] {
        self.engine.events()
    }

    /// Submits an order of the test's own (as a code strategy or a bot would) at the close of
    /// the last processed bar.
    fn submit(&mut self, intent: OrderIntent) -> u64 {
        let t = self.t - 1;
        let ts = self.ts[t] + DAY;
        self.engine.submit(intent, t, ts).unwrap()
    }

    /// The price of the one working order with `purpose`.
    fn working_price(&self, purpose: Purpose) -> f64 {
        let prices: Vec<f64> = self
            .engine
            .working_orders()
            .iter()
            .filter(|o| o.intent.purpose == purpose)
            .map(|o| match o.intent.trigger {
                Trigger::Limit { price } | Trigger::Stop { price } => price,
                other => panic!("unexpected trigger {other:?}"),
            })
            .collect();
        assert_eq!(prices.len(), 1, "{purpose:?} orders: {prices:?}");
        prices[0]
    }
}

/// A fill as logged: `(bar, order, side, quantity, price, fee, status after the fill)`.
type FillRow = (usize, u64, Side, Decimal, Decimal, Decimal, OrderStatus);

fn fills(events: &[Event]) -> Vec<FillRow> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Filled {
                order,
                side,
                quantity,
                price,
                fee,
                status,
            } => Some((e.bar, *order, *side, *quantity, *price, *fee, *status)),
            _ => None,
        })
        .collect()
}

fn fill(
    bar: usize,
    order: u64,
    side: Side,
    qty: &str,
    price: &str,
    fee: &str,
    status: OrderStatus,
) -> FillRow {
    (bar, order, side, d(qty), d(price), d(fee), status)
}

/// `(bar, order, status, reason)` of every order that ended without (fully) filling.
fn closed(events: &[Event]) -> Vec<(usize, u64, OrderStatus, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Closed {
                order,
                status,
                reason,
            } => Some((e.bar, *order, *status, reason.clone())),
            _ => None,
        })
        .collect()
}

/// `(bar, order, side, trigger, purpose)` of every submission.
fn submitted(events: &[Event]) -> Vec<(usize, u64, Side, Trigger, Purpose)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Submitted {
                order,
                side,
                trigger,
                purpose,
                ..
            } => Some((e.bar, *order, *side, *trigger, *purpose)),
            _ => None,
        })
        .collect()
}

fn flat_bar(price: f64) -> [f64; 5] {
    [price, price, price, price, 1_000.0]
}

fn manual(side: Side, trigger: Trigger, units: f64, tif: TimeInForce) -> OrderIntent {
    OrderIntent {
        instrument: 0,
        side,
        trigger,
        size: Size::Units(units),
        tif,
        expires_bar: None,
        purpose: Purpose::Manual,
        oco: None,
    }
}

#[test]
fn market_entry_fills_at_the_next_open() {
    let bars = [
        [99.0, 101.0, 98.0, 100.0, 1_000.0],
        [101.0, 103.0, 100.0, 102.0, 1_000.0],
        flat_bar(102.0),
    ];
    let mut sim = Sim::new(config(), instrument(), ExecSettings::default(), &bars).signal(0, LONG);
    sim.run();
    assert_eq!(
        submitted(sim.events()),
        vec![(0, 1, Side::Buy, Trigger::Market, Purpose::Entry)]
    );
    // All-in: floor(9950 / 101) = 98 units at bar 1's open, not at bar 0's close.
    assert_eq!(
        fills(sim.events()),
        vec![fill(1, 1, Side::Buy, "98", "101", "0", OrderStatus::Filled)]
    );
    assert_eq!(sim.engine.account().cash(), d("52"));
    assert_eq!(sim.engine.account().position(0).quantity, d("98"));
}

#[test]
fn close_fill_model_fills_at_the_signal_close_booked_on_the_signal_bar() {
    let bars = [
        [99.0, 101.0, 98.0, 100.0, 1_000.0],
        [105.0, 106.0, 104.0, 105.0, 1_000.0],
        flat_bar(105.0),
    ];
    let cfg = EngineConfig {
        fill: FillModel::Close,
        ..config()
    };
    let mut sim = Sim::new(cfg, instrument(), ExecSettings::default(), &bars).signal(0, LONG);
    sim.step();
    assert!(
        fills(sim.events()).is_empty(),
        "nothing fills on the bar that decided it"
    );
    sim.step();
    // floor(9950 / 100) = 99.
    assert_eq!(
        fills(sim.events()),
        vec![fill(0, 1, Side::Buy, "99", "100", "0", OrderStatus::Filled)]
    );
    // The fill is processed after bar 0's decision, at bar 1's match step.
    assert_eq!(sim.events()[1].ts, DAY);
}

#[test]
fn stop_loss_hit_by_a_gap_fills_at_the_open_not_at_the_stop() {
    let exec = ExecSettings {
        stop_loss: Some(DistanceRule::Pct { pct: 5.0 }),
        ..ExecSettings::default()
    };
    let bars = [
        flat_bar(100.0),
        [100.0, 102.0, 98.0, 101.0, 1_000.0],
        [90.0, 91.0, 88.0, 89.0, 1_000.0],
        flat_bar(89.0),
    ];
    let mut sim = Sim::new(config(), instrument(), exec, &bars).signal(0, LONG);
    sim.step();
    sim.step();
    assert_eq!(sim.working_price(Purpose::StopLoss), 95.0);
    sim.run();
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "99", "100", "0", OrderStatus::Filled),
            fill(2, 2, Side::Sell, "99", "90", "0", OrderStatus::Filled),
        ]
    );
    let trades = sim.engine.trades();
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].exit_reason, Purpose::StopLoss);
    assert_eq!(trades[0].exit_price, d("90"));
    assert_eq!(trades[0].pnl, d("-990"));
}

fn bracket_exec() -> ExecSettings {
    ExecSettings {
        stop_loss: Some(DistanceRule::Pct { pct: 5.0 }),
        take_profit: Some(DistanceRule::Pct { pct: 5.0 }),
        ..ExecSettings::default()
    }
}

fn fee_instrument() -> Instrument {
    let mut inst = instrument();
    inst.maker_fee = d("0.001");
    inst.taker_fee = d("0.002");
    inst
}

#[test]
fn stop_and_target_in_one_bar_next_open_assumes_the_stop_first() {
    // Entry at 100: stop 95, target 105. Bar 2 opens at 104 and reaches both.
    let bars = [
        flat_bar(100.0),
        [100.0, 101.0, 99.0, 100.0, 1_000.0],
        [104.0, 106.0, 94.0, 100.0, 1_000.0],
        flat_bar(100.0),
    ];
    let mut sim = Sim::new(config(), fee_instrument(), bracket_exec(), &bars).signal(0, LONG);
    sim.run();
    // All-in with a 0.2 % taker fee: floor(9950 / 100.2) = 99 units, fee 19.8. The stop pays
    // the taker fee (95 * 99 * 0.002 = 18.81).
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "99", "100", "19.8", OrderStatus::Filled),
            fill(2, 2, Side::Sell, "99", "95", "18.81", OrderStatus::Filled),
        ]
    );
    assert_eq!(
        closed(sim.events()),
        vec![(2, 3, OrderStatus::Cancelled, "one-cancels-other".into())]
    );
    assert_eq!(sim.engine.trades()[0].exit_reason, Purpose::StopLoss);
}

#[test]
fn stop_and_target_in_one_bar_intrabar_follows_the_path() {
    // Bar 2 opens at 104, 2 below its high and 10 above its low: the path goes to the high
    // first and meets the target (105) before the stop (95).
    let bars = [
        flat_bar(100.0),
        [100.0, 101.0, 99.0, 100.0, 1_000.0],
        [104.0, 106.0, 94.0, 100.0, 1_000.0],
        flat_bar(100.0),
    ];
    let cfg = EngineConfig {
        fill: FillModel::Intrabar,
        ..config()
    };
    let mut sim = Sim::new(cfg, fee_instrument(), bracket_exec(), &bars).signal(0, LONG);
    sim.run();
    // The target is a limit order: it fills at its price with the maker fee (105 * 99 * 0.001).
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "99", "100", "19.8", OrderStatus::Filled),
            fill(2, 3, Side::Sell, "99", "105", "10.395", OrderStatus::Filled),
        ]
    );
    assert_eq!(
        closed(sim.events()),
        vec![(2, 2, OrderStatus::Cancelled, "one-cancels-other".into())]
    );
    let trade = &sim.engine.trades()[0];
    assert_eq!(trade.exit_reason, Purpose::TakeProfit);
    assert_eq!(trade.fees, d("30.195"));
    assert_eq!(trade.pnl, d("495") - d("30.195"));
}

#[test]
fn trailing_stop_ratchets_with_the_high_and_only_tightens() {
    let exec = ExecSettings {
        trailing_stop: Some(DistanceRule::Pct { pct: 10.0 }),
        ..ExecSettings::default()
    };
    let bars = [
        flat_bar(100.0),
        [100.0, 105.0, 99.0, 104.0, 1_000.0],
        [104.0, 120.0, 103.0, 118.0, 1_000.0],
        [118.0, 119.0, 110.0, 112.0, 1_000.0],
        [111.0, 112.0, 105.0, 106.0, 1_000.0],
        flat_bar(106.0),
    ];
    let mut sim = Sim::new(config(), instrument(), exec, &bars).signal(0, LONG);
    sim.step();
    let mut levels = Vec::new();
    for _ in 1..=3 {
        sim.step();
        levels.push(sim.working_price(Purpose::TrailingStop));
    }
    // Placed at 10 % under the entry (90) on the fill, then 10 % under the highest high seen:
    // 105 -> 94.5, 120 -> 108, and it stays at 108 while the price falls back.
    assert_eq!(levels, vec![94.5, 108.0, 108.0]);
    sim.run();
    assert_eq!(
        fills(sim.events())[1],
        fill(4, 2, Side::Sell, "99", "108", "0", OrderStatus::Filled)
    );
    assert_eq!(sim.engine.trades()[0].exit_reason, Purpose::TrailingStop);
}

#[test]
fn time_stop_exits_once_the_trade_is_n_bars_old() {
    let exec = ExecSettings {
        time_stop: Some(3),
        ..ExecSettings::default()
    };
    let bars: Vec<[f64; 5]> = (0..8).map(|t| flat_bar(100.0 + f64::from(t))).collect();
    let mut sim = Sim::new(config(), instrument(), exec, &bars).signal(0, LONG);
    sim.run();
    // Entry filled at bar 1 (bars_in_trade 0 there); at bar 4 the trade is 3 bars old, the
    // exit is decided and fills at bar 5's open.
    assert_eq!(
        submitted(sim.events()),
        vec![
            (0, 1, Side::Buy, Trigger::Market, Purpose::Entry),
            (4, 2, Side::Sell, Trigger::Market, Purpose::TimeStop),
        ]
    );
    assert_eq!(
        fills(sim.events())[1],
        fill(5, 2, Side::Sell, "98", "105", "0", OrderStatus::Filled)
    );
    let trade = &sim.engine.trades()[0];
    assert_eq!(
        (trade.entry_bar, trade.exit_bar, trade.exit_reason),
        (1, 5, Purpose::TimeStop)
    );
}

fn limit_entry_exec() -> ExecSettings {
    ExecSettings {
        entry_order: EntryOrder::Limit {
            offset_pct: 5.0,
            valid_bars: 2,
        },
        ..ExecSettings::default()
    }
}

#[test]
fn limit_entry_expires_unfilled_after_valid_bars() {
    // Limit 5 % under the signal close (95), valid for bars 1 and 2; bar 3 would fill it.
    let bars = [
        flat_bar(100.0),
        [100.0, 101.0, 96.0, 97.0, 1_000.0],
        [97.0, 98.0, 95.5, 96.0, 1_000.0],
        [96.0, 96.0, 90.0, 91.0, 1_000.0],
    ];
    let mut sim = Sim::new(config(), instrument(), limit_entry_exec(), &bars).signal(0, LONG);
    sim.run();
    assert_eq!(
        submitted(sim.events()),
        vec![(
            0,
            1,
            Side::Buy,
            Trigger::Limit { price: 95.0 },
            Purpose::Entry
        )]
    );
    assert!(fills(sim.events()).is_empty());
    assert_eq!(
        closed(sim.events()),
        vec![(3, 1, OrderStatus::Expired, "not filled in time".into())]
    );
    assert_eq!(sim.engine.order_records()[0].status, OrderStatus::Expired);
}

#[test]
fn limit_entry_fills_at_its_price_on_its_last_valid_bar() {
    let bars = [
        flat_bar(100.0),
        [100.0, 101.0, 96.0, 97.0, 1_000.0],
        [97.0, 98.0, 94.0, 96.0, 1_000.0],
        flat_bar(96.0),
    ];
    let mut sim = Sim::new(config(), instrument(), limit_entry_exec(), &bars).signal(0, LONG);
    sim.run();
    // floor(9950 / 95) = 104.
    assert_eq!(
        fills(sim.events()),
        vec![fill(2, 1, Side::Buy, "104", "95", "0", OrderStatus::Filled)]
    );
}

#[test]
fn volume_share_fills_an_order_across_bars() {
    let cfg = EngineConfig {
        slippage: Slippage {
            bps: 0.0,
            volume_share: Some(0.1),
        },
        ..config()
    };
    let exec = ExecSettings {
        sizing: SizingRule::Units { quantity: 25.0 },
        ..ExecSettings::default()
    };
    // 10 % of 100 units per bar: 10, 10, then the last 5.
    let bars = [
        [100.0, 100.0, 100.0, 100.0, 100.0],
        [100.0, 100.0, 100.0, 100.0, 100.0],
        [101.0, 101.0, 101.0, 101.0, 100.0],
        [102.0, 102.0, 102.0, 102.0, 100.0],
        [102.0, 102.0, 102.0, 102.0, 100.0],
    ];
    let mut sim = Sim::new(cfg, instrument(), exec, &bars).signal(0, LONG);
    sim.run();
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(
                1,
                1,
                Side::Buy,
                "10",
                "100",
                "0",
                OrderStatus::PartiallyFilled
            ),
            fill(
                2,
                1,
                Side::Buy,
                "10",
                "101",
                "0",
                OrderStatus::PartiallyFilled
            ),
            fill(3, 1, Side::Buy, "5", "102", "0", OrderStatus::Filled),
        ]
    );
    let record = &sim.engine.order_records()[0];
    assert_eq!(
        (record.status, record.filled, record.avg_price),
        (OrderStatus::Filled, d("25"), d("100.8"))
    );
    let pos = sim.engine.account().position(0);
    assert_eq!((pos.quantity, pos.avg_price), (d("25"), d("100.8")));
}

#[test]
fn partial_fills_of_one_entry_count_as_one_entry() {
    let cfg = EngineConfig {
        slippage: Slippage {
            bps: 0.0,
            volume_share: Some(0.1),
        },
        ..config()
    };
    let exec = ExecSettings {
        sizing: SizingRule::Units { quantity: 25.0 },
        max_entries: 2,
        ..ExecSettings::default()
    };
    // The first entry fills 10 + 10 + 5 over bars 1-3; the scale-in decided at bar 4 fills
    // at bar 5, where the volume is large; the exit decided at bar 5 fills at bar 6.
    let mut bars = vec![[100.0, 100.0, 100.0, 100.0, 100.0]; 5];
    bars.extend([[100.0, 100.0, 100.0, 100.0, 10_000.0]; 3]);
    let mut sim = Sim::new(cfg, instrument(), exec, &bars)
        .signal(0, LONG)
        .signal(4, LONG)
        .signal(5, EXIT_LONG);
    sim.run();
    let entries: Vec<usize> = submitted(sim.events())
        .into_iter()
        .filter(|s| s.4 == Purpose::Entry)
        .map(|s| s.0)
        .collect();
    // `max_entries: 2` allows one scale-in: an entry order filled in three parts is one
    // entry, not three.
    assert_eq!(entries, vec![0, 4]);
    let trades = sim.engine.trades();
    assert_eq!(trades.len(), 1);
    assert_eq!(
        (trades[0].quantity, trades[0].entries),
        (d("50"), 2),
        "{:?}",
        trades[0]
    );
}

#[test]
fn all_in_size_is_floored_like_backtesting_py_when_equity_divides_by_the_price() {
    let cfg = EngineConfig {
        initial_cash: d("10000"),
        ..config()
    };
    let bars = [flat_bar(100.0); 3];
    let mut sim = Sim::new(cfg, instrument(), ExecSettings::default(), &bars).signal(0, LONG);
    sim.run();
    // backtesting.py: int(10000 * (1 - 2^-52) // 100) = 99; the (1 - 2^-52) factor exists
    // precisely to leave this case one unit short of all the cash.
    assert_eq!(
        fills(sim.events()),
        vec![fill(1, 1, Side::Buy, "99", "100", "0", OrderStatus::Filled)]
    );
}

#[test]
fn all_in_with_fractional_lots_is_always_affordable() {
    let mut inst = instrument();
    inst.lot_size = Decimal::ZERO;
    let cfg = EngineConfig {
        initial_cash: d("10000"),
        ..config()
    };
    let bars = [flat_bar(15_000.0); 3];
    let mut sim = Sim::new(cfg, inst, ExecSettings::default(), &bars).signal(0, LONG);
    sim.run();
    // 10000 / 15000 = 0.666..: the size must be rounded down, never up to something the cash
    // cannot pay for.
    assert_eq!(
        closed(sim.events()),
        vec![],
        "the all-in entry was rejected"
    );
    let f = fills(sim.events());
    assert_eq!(f.len(), 1);
    assert!(f[0].3 * d("15000") <= d("10000"), "{f:?}");
    assert!(sim.engine.account().cash() >= Decimal::ZERO);
}

fn rejection_reason(inst: Instrument, cfg: EngineConfig, sizing: SizingRule) -> (usize, String) {
    let exec = ExecSettings {
        sizing,
        ..ExecSettings::default()
    };
    let bars = [flat_bar(100.0), flat_bar(100.0), flat_bar(100.0)];
    let mut sim = Sim::new(cfg, inst, exec, &bars).signal(0, LONG);
    sim.run();
    assert!(fills(sim.events()).is_empty());
    let closed = closed(sim.events());
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].2, OrderStatus::Rejected);
    (closed[0].0, closed[0].3.clone())
}

#[test]
fn orders_below_the_venue_minimums_are_rejected_with_the_reason() {
    let mut inst = instrument();
    inst.min_notional = d("1000");
    assert_eq!(
        rejection_reason(inst, config(), SizingRule::Units { quantity: 5.0 }),
        (
            1,
            "invalid notional '500': below the minimum order value 1000 for local:TEST/USD".into()
        )
    );
    let mut inst = instrument();
    inst.min_quantity = d("3");
    assert_eq!(
        rejection_reason(inst, config(), SizingRule::Units { quantity: 2.0 }),
        (
            1,
            "invalid quantity '2': below the minimum 3 for local:TEST/USD".into()
        )
    );
    assert_eq!(
        rejection_reason(instrument(), config(), SizingRule::Units { quantity: 0.5 }),
        (1, "quantity 0.5 is less than one lot of 1".into())
    );
    let poor = EngineConfig {
        initial_cash: d("50"),
        ..config()
    };
    assert_eq!(
        rejection_reason(instrument(), poor, SizingRule::AllIn),
        (1, "not enough equity for one lot at 100".into())
    );
}

#[test]
fn cooldown_after_consecutive_losses_blocks_entries() {
    let exec = ExecSettings {
        cooldown: Some((2, 3)),
        ..ExecSettings::default()
    };
    // Two losing round trips (100 -> 90, 90 -> 80), the second closing at bar 4.
    let prices = [100.0, 100.0, 90.0, 90.0, 80.0, 80.0, 80.0, 80.0, 80.0, 80.0];
    let bars: Vec<[f64; 5]> = prices.iter().map(|&p| flat_bar(p)).collect();
    let mut sim = Sim::new(config(), instrument(), exec, &bars)
        .signal(0, LONG)
        .signal(1, EXIT_LONG)
        .signal(2, LONG)
        .signal(3, EXIT_LONG);
    for t in 4..=8 {
        sim.script.signals[t] = LONG;
    }
    sim.run();
    let paused: Vec<_> = sim
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Paused {
                protection,
                until_bar,
                ..
            } => Some((e.bar, protection.clone(), *until_bar)),
            _ => None,
        })
        .collect();
    assert_eq!(paused, vec![(4, "cooldown after 2 losses".into(), 7)]);
    let entries: Vec<usize> = submitted(sim.events())
        .into_iter()
        .filter(|s| s.4 == Purpose::Entry)
        .map(|s| s.0)
        .collect();
    // Long signals at bars 4..=7 are ignored; the one at bar 8 is taken.
    assert_eq!(entries, vec![0, 2, 8]);
    assert!(sim.engine.trades().iter().all(|t| t.pnl < Decimal::ZERO));
}

#[test]
fn drawdown_pause_blocks_entries_for_the_configured_bars() {
    let exec = ExecSettings {
        drawdown_pause: Some((10.0, 3)),
        ..ExecSettings::default()
    };
    // Long 99 units at 100 (cash 50); the close of 85 at bar 2 is a 15.35 % drawdown.
    let prices = [100.0, 100.0, 85.0, 85.0, 85.0, 85.0, 85.0, 85.0, 85.0];
    let bars: Vec<[f64; 5]> = prices.iter().map(|&p| flat_bar(p)).collect();
    let mut sim = Sim::new(config(), instrument(), exec, &bars)
        .signal(0, LONG)
        .signal(2, EXIT_LONG);
    for t in 3..=6 {
        sim.script.signals[t] = LONG;
    }
    sim.run();
    let paused: Vec<_> = sim
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Paused {
                protection,
                until_bar,
                ..
            } => Some((e.bar, protection.clone(), *until_bar)),
            _ => None,
        })
        .collect();
    assert_eq!(paused, vec![(2, "drawdown 10%".into(), 5)]);
    // The exit on the pause bar still goes out; entries wait until bar 6.
    assert_eq!(
        submitted(sim.events())
            .into_iter()
            .map(|s| (s.0, s.4))
            .collect::<Vec<_>>(),
        vec![(0, Purpose::Entry), (2, Purpose::Exit), (6, Purpose::Entry)]
    );
}

#[test]
fn risk_manager_refuses_beyond_max_open_orders() {
    let cfg = EngineConfig {
        risk: RiskLimits {
            max_open_orders: 1,
            ..RiskLimits::default()
        },
        ..config()
    };
    let exec = ExecSettings {
        allow_short: true,
        ..ExecSettings::default()
    };
    let bars = [flat_bar(100.0); 5];
    let mut sim = Sim::new(cfg, instrument(), exec, &bars)
        .signal(0, LONG)
        .signal(2, SHORT);
    sim.run();
    // The reversal's exit takes the one slot; its entry is refused.
    let refused: Vec<_> = sim
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Refused {
                purpose, reason, ..
            } => Some((e.bar, purpose.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        vec![(
            2,
            "entry".into(),
            "1 orders are already working (limit 1)".into()
        )]
    );
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "99", "100", "0", OrderStatus::Filled),
            fill(3, 2, Side::Sell, "99", "100", "0", OrderStatus::Filled),
        ]
    );
    assert!(sim.engine.account().position(0).is_flat());
}

#[test]
fn post_only_order_that_would_take_is_rejected() {
    let bars = [
        flat_bar(100.0),
        [100.0, 101.0, 94.0, 100.0, 1_000.0],
        flat_bar(100.0),
    ];
    let mut sim = Sim::new(config(), instrument(), ExecSettings::default(), &bars);
    sim.step();
    let taker = sim.submit(manual(
        Side::Buy,
        Trigger::Limit { price: 105.0 },
        1.0,
        TimeInForce::PostOnly,
    ));
    let maker = sim.submit(manual(
        Side::Buy,
        Trigger::Limit { price: 95.0 },
        2.0,
        TimeInForce::PostOnly,
    ));
    sim.run();
    assert_eq!(
        closed(sim.events()),
        vec![(
            1,
            taker,
            OrderStatus::Rejected,
            "post-only order would have taken liquidity".into()
        )]
    );
    // A post-only bid under the open rests and fills at its price as maker.
    assert_eq!(
        fills(sim.events()),
        vec![fill(
            1,
            maker,
            Side::Buy,
            "2",
            "95",
            "0",
            OrderStatus::Filled
        )]
    );
}

#[test]
fn immediate_or_cancel_remainder_is_cancelled() {
    let cfg = EngineConfig {
        slippage: Slippage {
            bps: 0.0,
            volume_share: Some(0.1),
        },
        ..config()
    };
    let bars = [
        [100.0, 100.0, 100.0, 100.0, 40.0],
        [100.0, 100.0, 100.0, 100.0, 40.0],
        [100.0, 100.0, 100.0, 100.0, 40.0],
    ];
    let mut sim = Sim::new(cfg, instrument(), ExecSettings::default(), &bars);
    sim.step();
    let ioc = sim.submit(manual(
        Side::Buy,
        Trigger::Limit { price: 101.0 },
        10.0,
        TimeInForce::Ioc,
    ));
    sim.run();
    // 10 % of 40 = 4 units fill; the other 6 are cancelled at the end of the bar.
    assert_eq!(
        fills(sim.events()),
        vec![fill(
            1,
            ioc,
            Side::Buy,
            "4",
            "100",
            "0",
            OrderStatus::PartiallyFilled
        )]
    );
    assert_eq!(
        closed(sim.events()),
        vec![(
            1,
            ioc,
            OrderStatus::Cancelled,
            "immediate-or-cancel remainder".into()
        )]
    );
    let record = &sim.engine.order_records()[0];
    assert_eq!(
        (record.status, record.filled),
        (OrderStatus::Cancelled, d("4"))
    );
}

#[test]
fn fill_or_kill_without_enough_volume_fills_nothing() {
    let cfg = EngineConfig {
        slippage: Slippage {
            bps: 0.0,
            volume_share: Some(0.1),
        },
        ..config()
    };
    let bars = [[100.0, 100.0, 100.0, 100.0, 40.0]; 3];
    let mut sim = Sim::new(cfg, instrument(), ExecSettings::default(), &bars);
    sim.step();
    let fok = sim.submit(manual(
        Side::Buy,
        Trigger::Limit { price: 101.0 },
        10.0,
        TimeInForce::Fok,
    ));
    sim.run();
    assert!(fills(sim.events()).is_empty());
    assert_eq!(
        closed(sim.events()),
        vec![(
            1,
            fok,
            OrderStatus::Cancelled,
            "fill-or-kill: not enough volume".into()
        )]
    );
}

#[test]
fn reversal_sizes_the_short_with_the_equity_the_closed_long_left() {
    let mut inst = instrument();
    inst.taker_fee = d("0.002");
    let exec = ExecSettings {
        allow_short: true,
        ..ExecSettings::default()
    };
    let cfg = EngineConfig {
        initial_cash: d("10000"),
        ..config()
    };
    let bars = [
        flat_bar(100.0),
        flat_bar(100.0),
        flat_bar(50.0),
        flat_bar(50.0),
    ];
    let mut sim = Sim::new(cfg, inst, exec, &bars)
        .signal(0, LONG)
        .signal(1, SHORT);
    sim.run();
    // Long: floor(10000 / 100.2) = 99 units, fee 19.8, cash left 80.2. At bar 2's open (50)
    // the exit sells 99 (fee 9.9), leaving 5020.3; the short is then sized on that:
    // floor(5020.3 / 50.1) = 100 units (fee 10).
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "99", "100", "19.8", OrderStatus::Filled),
            fill(2, 2, Side::Sell, "99", "50", "9.9", OrderStatus::Filled),
            fill(2, 3, Side::Sell, "100", "50", "10", OrderStatus::Filled),
        ]
    );
    assert_eq!(
        submitted(sim.events())
            .into_iter()
            .map(|s| (s.0, s.1, s.4))
            .collect::<Vec<_>>(),
        vec![
            (0, 1, Purpose::Entry),
            (1, 2, Purpose::Exit),
            (1, 3, Purpose::Entry)
        ]
    );
    let account = sim.engine.account();
    assert_eq!(account.cash(), d("10010.3"));
    assert_eq!(account.position(0).quantity, d("-100"));
    let trade = &sim.engine.trades()[0];
    assert_eq!(
        (trade.side, trade.fees, trade.pnl),
        (Side::Buy, d("29.7"), d("-4979.7"))
    );
}

#[test]
fn limit_fill_rounded_to_the_tick_is_never_worse_than_the_limit() {
    let mut inst = instrument();
    inst.tick_size = d("0.05");
    let bars = [
        flat_bar(100.0),
        [96.0, 96.0, 94.0, 95.0, 1_000.0],
        flat_bar(95.0),
    ];
    let mut sim = Sim::new(config(), inst, ExecSettings::default(), &bars);
    sim.step();
    let buy = sim.submit(manual(
        Side::Buy,
        Trigger::Limit { price: 95.03 },
        1.0,
        TimeInForce::Gtc,
    ));
    sim.run();
    // The bar trades down through 95.03, so the bid fills at its price on the tick grid: 95.00
    // (the nearest tick, 95.05, would pay more than the limit allows).
    assert_eq!(
        fills(sim.events()),
        vec![fill(1, buy, Side::Buy, "1", "95", "0", OrderStatus::Filled)]
    );
}

#[test]
fn all_in_entry_is_sized_at_the_price_it_fills_at() {
    // Cash 9,500: a limit bid at 95.03 sized at that price buys floor(9500 / 95.03) = 99 units
    // (9,407.97); at the tick-rounded 95.05 those 99 units cost 9,409.95. Either way the entry
    // must fill, and never cost more than the cash.
    let mut inst = instrument();
    inst.tick_size = d("0.05");
    inst.lot_size = d("0.001");
    let cfg = EngineConfig {
        initial_cash: d("9500"),
        ..config()
    };
    let exec = ExecSettings {
        entry_order: EntryOrder::Limit {
            offset_pct: 4.97,
            valid_bars: 1,
        },
        ..ExecSettings::default()
    };
    let bars = [
        flat_bar(100.0),
        [96.0, 96.0, 94.0, 95.0, 1_000.0],
        flat_bar(95.0),
    ];
    let mut sim = Sim::new(cfg, inst, exec, &bars).signal(0, LONG);
    sim.run();
    assert_eq!(
        closed(sim.events()),
        vec![],
        "the all-in entry was rejected"
    );
    let f = fills(sim.events());
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].4 <= d("95.03"), "{f:?}");
    assert!(sim.engine.account().cash() >= Decimal::ZERO);
}

#[test]
fn short_remainder_is_checked_against_equity_at_its_fill_price() {
    let cfg = EngineConfig {
        slippage: Slippage {
            bps: 0.0,
            volume_share: Some(0.1),
        },
        ..config()
    };
    let exec = ExecSettings {
        allow_short: true,
        ..ExecSettings::default()
    };
    // All-in short of floor(9950 / 100) = 99 units: 50 fill at bar 1 (10 % of 500), the other
    // 49 at bar 2's open of 100.4 (no volume data: uncapped). After 50 short at 100, equity at
    // 100.4 is 14950 - 50 * 100.4 = 9930; 99 units at 100.4 would be worth 9939.6, more than
    // the account has without leverage.
    let bars = [
        [100.0, 100.0, 100.0, 100.0, 500.0],
        [100.0, 100.0, 100.0, 100.0, 500.0],
        [100.4, 100.4, 100.4, 100.4, 0.0],
        [100.4, 100.4, 100.4, 100.4, 0.0],
    ];
    let mut sim = Sim::new(cfg, instrument(), exec, &bars).signal(0, SHORT);
    sim.run();
    let mut cash = d("9950");
    let mut held = Decimal::ZERO;
    for (bar, _, side, qty, price, fee, _) in fills(sim.events()) {
        let equity_before = cash + held * price;
        let sign = if side == Side::Buy {
            Decimal::ONE
        } else {
            -Decimal::ONE
        };
        held += sign * qty;
        cash -= sign * qty * price + fee;
        assert!(
            (held * price).abs() <= equity_before,
            "bar {bar}: short {held} at {price} against equity {equity_before}"
        );
    }
    assert_eq!(held, d("-50"), "the remainder should not have filled");
}

#[test]
fn brackets_of_a_mid_bar_stop_entry_wait_for_the_next_bar() {
    let exec = ExecSettings {
        entry_order: EntryOrder::Stop {
            offset_pct: 2.0,
            valid_bars: 1,
        },
        stop_loss: Some(DistanceRule::Pct { pct: 5.0 }),
        ..ExecSettings::default()
    };
    // The breakout stop at 102 triggers inside bar 1, which then trades down to 95, under the
    // stop loss (96.9): the path after a mid-bar fill is unknown, so the stop loss only works
    // from bar 2 on.
    let bars = [
        flat_bar(100.0),
        [100.0, 105.0, 95.0, 101.0, 1_000.0],
        [100.0, 101.0, 96.0, 97.0, 1_000.0],
        flat_bar(97.0),
    ];
    let mut sim = Sim::new(config(), instrument(), exec, &bars).signal(0, LONG);
    sim.run();
    assert_eq!(
        submitted(sim.events())[0],
        (
            0,
            1,
            Side::Buy,
            Trigger::Stop { price: 102.0 },
            Purpose::Entry
        )
    );
    // floor(9950 / 102) = 97.
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "97", "102", "0", OrderStatus::Filled),
            fill(2, 2, Side::Sell, "97", "96.9", "0", OrderStatus::Filled),
        ]
    );
}

#[test]
fn signal_exit_at_the_open_beats_the_stop_and_cancels_it() {
    let exec = ExecSettings {
        stop_loss: Some(DistanceRule::Pct { pct: 5.0 }),
        ..ExecSettings::default()
    };
    let bars = [
        flat_bar(100.0),
        flat_bar(100.0),
        [94.0, 95.0, 93.0, 94.0, 1_000.0],
        flat_bar(94.0),
    ];
    let mut sim = Sim::new(config(), instrument(), exec, &bars)
        .signal(0, LONG)
        .signal(1, EXIT_LONG);
    sim.run();
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "99", "100", "0", OrderStatus::Filled),
            fill(2, 3, Side::Sell, "99", "94", "0", OrderStatus::Filled),
        ]
    );
    assert_eq!(
        closed(sim.events()),
        vec![(2, 2, OrderStatus::Cancelled, "position closed".into())]
    );
    assert_eq!(sim.engine.trades()[0].exit_reason, Purpose::Exit);
}

#[test]
fn risk_sizing_risks_the_percentage_between_entry_and_stop() {
    let exec = ExecSettings {
        sizing: SizingRule::Risk { risk_pct: 1.0 },
        stop_loss: Some(DistanceRule::Pct { pct: 5.0 }),
        ..ExecSettings::default()
    };
    let bars = [flat_bar(100.0), flat_bar(101.0), flat_bar(101.0)];
    let mut sim = Sim::new(config(), instrument(), exec, &bars).signal(0, LONG);
    sim.step();
    sim.step();
    // 1 % of 9950 over the 5-point stop distance known at the signal: 19.9 -> 19 units. The
    // stop itself is placed 5 % under the actual entry price (101 - 5.05).
    assert_eq!(
        fills(sim.events()),
        vec![fill(1, 1, Side::Buy, "19", "101", "0", OrderStatus::Filled)]
    );
    assert_eq!(sim.working_price(Purpose::StopLoss), 95.95);
}

#[test]
fn quote_and_percent_of_equity_sizes() {
    let bars = [flat_bar(100.0), flat_bar(101.0), flat_bar(101.0)];
    let units = |sizing: SizingRule| {
        let exec = ExecSettings {
            sizing,
            ..ExecSettings::default()
        };
        let mut sim = Sim::new(config(), instrument(), exec, &bars).signal(0, LONG);
        sim.run();
        fills(sim.events())[0].3
    };
    // 1000 / 101 = 9.9; 50 % of 9950 / 101 = 49.3: whole units, rounded down.
    assert_eq!(units(SizingRule::Quote { amount: 1_000.0 }), d("9"));
    assert_eq!(units(SizingRule::PctEquity { pct: 50.0 }), d("49"));
    assert_eq!(units(SizingRule::Units { quantity: 7.9 }), d("7"));
}

#[test]
fn scaling_in_replaces_the_brackets_at_the_new_average_price() {
    let exec = ExecSettings {
        sizing: SizingRule::Units { quantity: 10.0 },
        max_entries: 2,
        stop_loss: Some(DistanceRule::Pct { pct: 5.0 }),
        ..ExecSettings::default()
    };
    let bars = [
        flat_bar(100.0),
        flat_bar(100.0),
        flat_bar(110.0),
        flat_bar(110.0),
    ];
    let mut sim = Sim::new(config(), instrument(), exec, &bars)
        .signal(0, LONG)
        .signal(1, LONG)
        .signal(2, LONG);
    sim.run();
    // Entries at 100 and 110 (average 105); the third signal is over max_entries.
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Buy, "10", "100", "0", OrderStatus::Filled),
            fill(2, 3, Side::Buy, "10", "110", "0", OrderStatus::Filled),
        ]
    );
    assert_eq!(
        closed(sim.events()),
        vec![(2, 2, OrderStatus::Cancelled, "replaced".into())]
    );
    assert_eq!(sim.working_price(Purpose::StopLoss), 99.75);
    assert_eq!(sim.engine.account().position(0).avg_price, d("105"));
}

#[test]
fn drawdown_kill_switch_stops_entries_for_good() {
    let cfg = EngineConfig {
        risk: RiskLimits {
            max_drawdown_pct: Some(10.0),
            ..RiskLimits::default()
        },
        ..config()
    };
    let prices = [100.0, 100.0, 85.0, 85.0, 120.0, 120.0, 120.0];
    let bars: Vec<[f64; 5]> = prices.iter().map(|&p| flat_bar(p)).collect();
    let mut sim = Sim::new(cfg, instrument(), ExecSettings::default(), &bars)
        .signal(0, LONG)
        .signal(2, EXIT_LONG)
        .signal(4, LONG)
        .signal(5, LONG);
    sim.run();
    let paused: Vec<_> = sim
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Paused {
                protection,
                until_bar,
                ..
            } => Some((e.bar, protection.clone(), *until_bar)),
            _ => None,
        })
        .collect();
    assert_eq!(
        paused,
        vec![(2, "max_drawdown kill switch".into(), usize::MAX)]
    );
    assert_eq!(
        submitted(sim.events())
            .into_iter()
            .map(|s| (s.0, s.4))
            .collect::<Vec<_>>(),
        vec![(0, Purpose::Entry), (2, Purpose::Exit)]
    );
}

#[test]
fn order_value_limit_caps_the_size() {
    let cfg = EngineConfig {
        risk: RiskLimits {
            max_order_notional: Some(1_000.0),
            ..RiskLimits::default()
        },
        ..config()
    };
    let bars = [flat_bar(100.0), flat_bar(100.0), flat_bar(100.0)];
    let mut sim = Sim::new(cfg, instrument(), ExecSettings::default(), &bars).signal(0, LONG);
    sim.run();
    assert_eq!(
        fills(sim.events()),
        vec![fill(1, 1, Side::Buy, "10", "100", "0", OrderStatus::Filled)]
    );
}

#[test]
fn short_trailing_stop_follows_the_lows() {
    let exec = ExecSettings {
        allow_short: true,
        trailing_stop: Some(DistanceRule::Pct { pct: 10.0 }),
        ..ExecSettings::default()
    };
    let bars = [
        flat_bar(100.0),
        [100.0, 101.0, 95.0, 96.0, 1_000.0],
        [96.0, 97.0, 80.0, 82.0, 1_000.0],
        [83.0, 85.0, 82.0, 84.0, 1_000.0],
        [86.0, 90.0, 85.0, 89.0, 1_000.0],
        flat_bar(89.0),
    ];
    let mut sim = Sim::new(config(), instrument(), exec, &bars).signal(0, SHORT);
    sim.step();
    let mut levels = Vec::new();
    for _ in 1..=3 {
        sim.step();
        levels.push(sim.working_price(Purpose::TrailingStop));
    }
    // 10 % above the lowest low: 95 -> 104.5, 80 -> 88, and 88 while the price bounces.
    assert_eq!(levels, vec![104.5, 88.0, 88.0]);
    sim.run();
    assert_eq!(
        fills(sim.events()),
        vec![
            fill(1, 1, Side::Sell, "99", "100", "0", OrderStatus::Filled),
            fill(4, 2, Side::Buy, "99", "88", "0", OrderStatus::Filled),
        ]
    );
    assert_eq!(sim.engine.trades()[0].pnl, d("1188"));
}

//! Property tests of the engine's accounting and order handling over random markets, venues
//! and strategies.
//!
//! Each case generates one or two instruments (lot, tick, minimum notional, maker and taker
//! fees), valid OHLCV bars in whole cents, a strategy's execution settings (entry order type,
//! sizing, shorts, stop loss, take profit, trailing stop, time stop, scaling in, cooldown,
//! drawdown pause) and one signal per bar, plus the run settings (cash, fill model, slippage,
//! volume share, leverage, a cap on working orders). It drives [`Engine`] as the backtest
//! runner does and checks, exactly (decimal equality, no tolerance):
//!
//! - cash is the initial cash plus the signed notional of every logged fill minus every logged
//!   fee, and each position is the signed sum of its fills;
//! - equity minus initial cash equals realised plus unrealised PnL minus fees, and when every
//!   position is flat, the sum of the closed trades' PnL;
//! - every order replays through a fresh `skeet_core::Order` in the logged order with the
//!   logged statuses (only legal transitions, nothing after a terminal state), never fills
//!   beyond its quantity, and ends with one record that agrees with its fills;
//! - the same inputs give the same event log, trades, orders and (bit-identical) equity curve;
//! - spot long-only cash never goes negative; an all-in entry never buys more than the
//!   equity at its fill price pays for.

#![expect(
    clippy::unwrap_used,
    reason = "generated inputs are valid by construction; a failure must be loud"
)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use rust_decimal::Decimal;
use skeet_core::{
    ClientOrderId, Currency, Fill, Instrument, Money, Order, OrderEvent, OrderKind, OrderRequest,
    OrderStatus, Price, Quantity, Side, TimeInForce, UnixNanos,
};
use skeet_engine::{
    BarRef, Engine, EngineConfig, EngineResult, Event, EventKind, FillModel, OrderRecord, Purpose,
    RiskLimits, Slippage, Trade, Trigger,
};
use skeet_strategy::{
    BarContext, BarsView, DistanceRule, EntryOrder, ExecSettings, Signals, SizingRule,
    Strategy as TradingStrategy,
};

const HOUR: i64 = 3_600_000_000_000;

/// One instrument of a case: its venue rules, bars, strategy settings and signals.
#[derive(Clone, Debug)]
struct Leg {
    instrument: Instrument,
    exec: ExecSettings,
    /// `[open, high, low, close, volume]`, prices in whole cents.
    bars: Vec<[f64; 5]>,
    signals: Vec<Signals>,
}

#[derive(Clone, Debug)]
struct Case {
    cfg: EngineConfig,
    legs: Vec<Leg>,
}

impl Case {
    fn bars(&self) -> usize {
        self.legs[0].bars.len()
    }

    fn spot_long_only(&self) -> bool {
        self.cfg.leverage <= 1.0 && self.legs.iter().all(|l| !l.exec.allow_short)
    }
}

struct Script {
    exec: ExecSettings,
    signals: Vec<Signals>,
}

impl TradingStrategy for Script {
    fn execution(&self) -> &ExecSettings {
        &self.exec
    }

    fn on_bar(&mut self, ctx: &BarContext<'_>) -> Signals {
        self.signals[ctx.index]
    }
}

struct Columns {
    ts: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl Columns {
    fn new(bars: &[[f64; 5]]) -> Self {
        let col = |k: usize| bars.iter().map(|b| b[k]).collect::<Vec<_>>();
        Self {
            ts: (0..bars.len()).map(|t| t as i64 * HOUR).collect(),
            open: col(0),
            high: col(1),
            low: col(2),
            close: col(3),
            volume: col(4),
        }
    }

    fn bar(&self, t: usize) -> BarRef {
        BarRef {
            ts: self.ts[t],
            close_ts: self.ts[t] + HOUR,
            open: self.open[t],
            high: self.high[t],
            low: self.low[t],
            close: self.close[t],
            volume: self.volume[t],
        }
    }

    fn view(&self, t: usize) -> BarsView<'_> {
        BarsView::new(
            t,
            &self.ts,
            &self.open,
            &self.high,
            &self.low,
            &self.close,
            &self.volume,
        )
    }
}

/// What a run produced, plus what was observed along the way.
#[derive(Debug)]
struct Outcome {
    result: EngineResult,
    equity: Vec<f64>,
    /// Resolved quantity of every order seen working after a partial fill.
    quantities: BTreeMap<u64, Decimal>,
}

fn run(case: &Case) -> Outcome {
    let mut engine = Engine::new(
        case.cfg.clone(),
        case.legs.iter().map(|l| l.instrument.clone()).collect(),
    );
    let cols: Vec<Columns> = case.legs.iter().map(|l| Columns::new(&l.bars)).collect();
    let mut scripts: Vec<Script> = case
        .legs
        .iter()
        .map(|l| Script {
            exec: l.exec.clone(),
            signals: l.signals.clone(),
        })
        .collect();
    for (i, s) in scripts.iter().enumerate() {
        engine.configure(i, &s.exec);
    }
    let n = case.bars();
    let mut equity = Vec::with_capacity(n);
    let mut quantities = BTreeMap::new();
    for t in 0..n {
        for (i, c) in cols.iter().enumerate() {
            let bar = c.bar(t);
            engine.match_bar(i, t, &bar);
            for wo in engine.working_orders() {
                let o = &wo.order;
                assert!(
                    o.status.is_open(),
                    "working order {} is {:?}",
                    wo.id,
                    o.status
                );
                assert!(o.filled <= o.request.quantity, "{o:?}");
                if !o.filled.is_zero() {
                    quantities.insert(wo.id, o.request.quantity.as_decimal());
                }
            }
            engine.mark(i, bar.close);
            engine.decide(i, t, &bar, c.view(t), &mut scripts[i]);
        }
        equity.push(engine.equity_f());
    }
    let result = engine.finish(n - 1, cols[0].ts[n - 1] + HOUR);
    Outcome {
        result,
        equity,
        quantities,
    }
}

fn client_id(id: u64) -> ClientOrderId {
    ClientOrderId::new(&format!("skeet-{id}")).unwrap()
}

fn last_prices(case: &Case) -> Vec<Decimal> {
    case.legs
        .iter()
        .map(|l| {
            Price::try_from_f64(l.bars.last().unwrap()[3])
                .unwrap()
                .as_decimal()
        })
        .collect()
}

/// What the log says about one order.
#[derive(Debug, Default)]
struct OrderLog {
    instrument: usize,
    side: Option<Side>,
    purpose: Option<Purpose>,
    trigger: Option<Trigger>,
    /// `(quantity, price, fee, status after)`.
    fills: Vec<(Decimal, Decimal, Decimal, OrderStatus)>,
    /// Final status and reason if it ended without filling completely.
    closed: Option<(OrderStatus, String)>,
    /// Events after the order reached a terminal status.
    after_terminal: usize,
}

fn order_logs(events: &[Event]) -> BTreeMap<u64, OrderLog> {
    let mut logs: BTreeMap<u64, OrderLog> = BTreeMap::new();
    for e in events {
        match &e.kind {
            EventKind::Submitted {
                order,
                instrument,
                side,
                purpose,
                trigger,
            } => {
                let log = logs.entry(*order).or_default();
                assert!(log.side.is_none(), "order {order} submitted twice");
                log.instrument = *instrument;
                log.side = Some(*side);
                log.purpose = Some(*purpose);
                log.trigger = Some(*trigger);
            }
            EventKind::Filled {
                order,
                quantity,
                price,
                fee,
                status,
                ..
            } => {
                let log = logs.get_mut(order).unwrap();
                if log.closed.is_some() || log.fills.last().is_some_and(|f| f.3.is_terminal()) {
                    log.after_terminal += 1;
                }
                log.fills.push((*quantity, *price, *fee, *status));
            }
            EventKind::Closed {
                order,
                status,
                reason,
            } => {
                let log = logs.get_mut(order).unwrap();
                if log.closed.is_some() || log.fills.last().is_some_and(|f| f.3.is_terminal()) {
                    log.after_terminal += 1;
                }
                log.closed = Some((*status, reason.clone()));
            }
            EventKind::Refused { .. } | EventKind::Paused { .. } => {}
        }
    }
    logs
}

/// Invariants (a), (e) and (f): the ledger reconstructed from the log.
fn check_ledger(case: &Case, out: &Outcome) -> Result<(), TestCaseError> {
    let r = &out.result;
    let logs = order_logs(&r.events);
    let initial = case.cfg.initial_cash;
    let mut cash = initial;
    let mut fees = Decimal::ZERO;
    let mut qty = vec![Decimal::ZERO; case.legs.len()];
    for e in &r.events {
        let EventKind::Filled {
            order,
            side,
            quantity,
            price,
            fee,
            ..
        } = &e.kind
        else {
            continue;
        };
        let log = &logs[order];
        let i = log.instrument;
        prop_assert_eq!(Some(*side), log.side);
        prop_assert!(*quantity > Decimal::ZERO && *price > Decimal::ZERO && *fee >= Decimal::ZERO);
        let (cash_before, held_before) = (cash, qty[i]);
        let notional = *price * *quantity;
        match side {
            Side::Buy => {
                cash -= notional;
                qty[i] += *quantity;
            }
            Side::Sell => {
                cash += notional;
                qty[i] -= *quantity;
            }
        }
        cash -= *fee;
        fees += *fee;
        if case.spot_long_only() {
            prop_assert!(
                cash >= Decimal::ZERO,
                "spot long-only cash went negative ({}) at bar {}",
                cash,
                e.bar
            );
            prop_assert!(
                qty[i] >= Decimal::ZERO,
                "spot long-only position went short"
            );
        }
        let others_flat = qty.iter().enumerate().all(|(j, q)| j == i || q.is_zero());
        if case.cfg.leverage > 1.0 || !others_flat {
            continue;
        }
        let exposure = (qty[i] * *price).abs();
        if log.purpose == Some(Purpose::Entry)
            && case.legs[i].exec.sizing == SizingRule::AllIn
            && log.fills.len() == 1
        {
            // All-in spends at most the equity at the fill price, fees included.
            let equity_after = cash + qty[i] * *price;
            prop_assert!(
                exposure <= equity_after,
                "all-in entry at bar {}: {} units at {} are worth {}, equity {}",
                e.bar,
                qty[i],
                price,
                exposure,
                equity_after
            );
        }
        if *side == Side::Sell && held_before <= Decimal::ZERO {
            // Without leverage, a short is at most worth the equity it was opened with.
            let equity_before = cash_before + held_before * *price;
            prop_assert!(
                exposure <= equity_before,
                "short at bar {}: {} units at {} are worth {}, equity before the fill {}",
                e.bar,
                qty[i],
                price,
                exposure,
                equity_before
            );
        }
    }
    prop_assert_eq!(cash, r.cash, "cash is not initial - sum of fills - fees");
    prop_assert_eq!(fees, r.fees);
    for (i, p) in r.open_positions.iter().enumerate() {
        prop_assert_eq!(
            qty[i],
            p.quantity,
            "position {} is not the sum of its fills",
            i
        );
    }

    Ok(())
}

/// True when every fill price has at most 4 decimals, so that every product and sum of the
/// accounting fits a decimal's 28 significant digits and PnL can be exact however it is
/// computed. Slipped prices on an instrument without a tick size have up to 17 significant
/// digits; their products with 10-decimal quantities and fee rates exceed 28 digits, and two
/// correct formulas may then round differently in the last digit.
fn prices_on_a_grid(events: &[Event]) -> bool {
    events.iter().all(|e| match &e.kind {
        EventKind::Filled { price, .. } => price.scale() <= 4,
        _ => true,
    })
}

/// Invariant (a), second half: PnL as the positions and trades report it.
fn check_pnl(case: &Case, out: &Outcome) -> Result<(), TestCaseError> {
    let r = &out.result;
    if !prices_on_a_grid(&r.events) {
        return Ok(());
    }
    let initial = case.cfg.initial_cash;
    let last = last_prices(case);
    let equity = r.cash
        + r.open_positions
            .iter()
            .zip(&last)
            .map(|(p, px)| p.quantity * px)
            .sum::<Decimal>();
    let pnl: Decimal = r
        .open_positions
        .iter()
        .zip(&last)
        .map(|(p, px)| p.realized_pnl - p.fees + p.unrealized_pnl(Price::new(*px)))
        .sum();
    prop_assert_eq!(
        equity - initial,
        pnl,
        "equity - initial cash != realised + unrealised - fees"
    );
    if r.open_positions.iter().all(|p| p.is_flat()) {
        let trades: Decimal = r.trades.iter().map(|t| t.pnl).sum();
        prop_assert_eq!(
            r.cash - initial,
            trades,
            "flat at the end, yet the trades' PnL is not the cash gained"
        );
    }
    Ok(())
}

/// Invariants (b) and (c): every order replays legally and never overfills.
fn check_orders(case: &Case, out: &Outcome) -> Result<(), TestCaseError> {
    let r = &out.result;
    for e in &r.events {
        if let EventKind::Refused { reason, .. } = &e.kind {
            prop_assert!(
                !reason.contains("cannot apply"),
                "the engine swallowed an illegal transition: {}",
                reason
            );
        }
    }
    let logs = order_logs(&r.events);
    let records: BTreeMap<u64, &OrderRecord> = r.orders.iter().map(|o| (o.id, o)).collect();
    prop_assert_eq!(records.len(), r.orders.len(), "an order was recorded twice");
    prop_assert_eq!(
        logs.len(),
        records.len(),
        "after finish, every submitted order has a record"
    );
    for (&id, log) in &logs {
        prop_assert_eq!(
            log.after_terminal,
            0,
            "order {} changed after a terminal state",
            id
        );
        let filled: Decimal = log.fills.iter().map(|f| f.0).sum();
        let completed_at = log.fills.iter().position(|f| f.3 == OrderStatus::Filled);
        if let Some(k) = completed_at {
            prop_assert_eq!(k + 1, log.fills.len(), "order {} filled after Filled", id);
        }
        // The quantity the order had: known from its completion, from observation while it
        // was working, or (ended without fills) irrelevant.
        let quantity = match (completed_at, out.quantities.get(&id)) {
            (Some(_), Some(&q)) => {
                prop_assert_eq!(filled, q, "order {} completed off its quantity", id);
                q
            }
            (Some(_), None) => filled,
            (None, Some(&q)) => q,
            (None, None) => filled + Decimal::ONE,
        };
        prop_assert!(filled <= quantity, "order {} overfilled", id);
        // No fill is worse than the order's limit (limits and triggered stop-limits).
        let limit = match log.trigger {
            Some(Trigger::Limit { price } | Trigger::StopLimit { limit: price, .. }) => {
                Some(Price::try_from_f64(price).unwrap().as_decimal())
            }
            _ => None,
        };
        if let Some(limit) = limit {
            for &(_, price, _, _) in &log.fills {
                let worse = match log.side.unwrap() {
                    Side::Buy => price > limit,
                    Side::Sell => price < limit,
                };
                prop_assert!(
                    !worse,
                    "order {} ({:?} {:?}) filled at {}, through its limit {}",
                    id,
                    log.side,
                    log.trigger,
                    price,
                    limit
                );
            }
        }

        let side = log.side.unwrap();
        let instrument = case.legs[log.instrument].instrument.id;
        let request = OrderRequest {
            client_order_id: client_id(id),
            instrument,
            side,
            quantity: Quantity::new(quantity).unwrap(),
            kind: OrderKind::Market,
            time_in_force: TimeInForce::Gtc,
            reduce_only: false,
        };
        let ts = UnixNanos::new(0);
        let mut order = Order::new(request, ts);
        order.apply(&OrderEvent::Submitted { ts }).unwrap();
        order.apply(&OrderEvent::Accepted { ts }).unwrap();
        for &(q, price, fee, status) in &log.fills {
            let fill = Fill {
                client_order_id: client_id(id),
                instrument,
                side,
                quantity: Quantity::new(q).unwrap(),
                price: Price::new(price),
                fee: Money::new(fee, case.cfg.currency),
                maker: false,
                ts,
            };
            let applied = order.apply(&OrderEvent::Filled(fill));
            prop_assert!(applied.is_ok(), "order {}: {:?}", id, applied);
            prop_assert_eq!(order.status, status, "order {} status after a fill", id);
        }
        if let Some((status, reason)) = &log.closed {
            let event = match status {
                OrderStatus::Cancelled => OrderEvent::Cancelled { ts },
                OrderStatus::Expired => OrderEvent::Expired { ts },
                OrderStatus::Rejected => OrderEvent::Rejected {
                    ts,
                    reason: reason.clone(),
                },
                other => return Err(TestCaseError::fail(format!("closed as {other:?}"))),
            };
            let applied = order.apply(&event);
            prop_assert!(applied.is_ok(), "order {}: {:?}", id, applied);
        }
        prop_assert!(order.status.is_terminal(), "order {} never ended", id);
        let record = records[&id];
        prop_assert_eq!(record.status, order.status);
        prop_assert_eq!(record.filled, filled);
        prop_assert_eq!(record.side, side);
        prop_assert_eq!(Some(record.purpose), log.purpose);
        let avg = order
            .avg_fill_price()
            .map_or(Decimal::ZERO, Price::as_decimal);
        prop_assert_eq!(record.avg_price, avg, "order {} average price", id);
    }
    Ok(())
}

/// The round trips the fills make, rebuilt independently of the engine: a trade runs from the
/// fill that leaves flat to the fill that returns to flat (or crosses zero, which also opens
/// the next trade with the remainder). PnL is the cash the trade's fills moved, fees included.
fn rebuild_trades(case: &Case, events: &[Event]) -> Vec<Trade> {
    struct Open {
        trade: Trade,
        entry_qty: Decimal,
        entry_notional: Decimal,
        exit_qty: Decimal,
        exit_notional: Decimal,
        cash: Decimal,
        entry_orders: Vec<u64>,
    }
    let logs = order_logs(events);
    let mut held = vec![Decimal::ZERO; case.legs.len()];
    let mut open: Vec<Option<Open>> = case.legs.iter().map(|_| None).collect();
    let mut trades = Vec::new();
    let start = |i: usize, e: &Event, side: Side| Open {
        trade: Trade {
            instrument: i,
            side,
            quantity: Decimal::ZERO,
            entry_bar: e.bar,
            exit_bar: 0,
            entry_ts: e.ts,
            exit_ts: 0,
            entry_price: Decimal::ZERO,
            exit_price: Decimal::ZERO,
            fees: Decimal::ZERO,
            pnl: Decimal::ZERO,
            exit_reason: Purpose::Manual,
            entries: 0,
        },
        entry_qty: Decimal::ZERO,
        entry_notional: Decimal::ZERO,
        exit_qty: Decimal::ZERO,
        exit_notional: Decimal::ZERO,
        cash: Decimal::ZERO,
        entry_orders: Vec::new(),
    };
    for e in events {
        let EventKind::Filled {
            order,
            side,
            quantity,
            price,
            fee,
            ..
        } = &e.kind
        else {
            continue;
        };
        let log = &logs[order];
        let i = log.instrument;
        let before = held[i];
        let signed = side.sign() * *quantity;
        held[i] += signed;
        let after = held[i];
        let slot = open[i].get_or_insert_with(|| start(i, e, *side));
        let opening = before.is_zero() || before.is_sign_positive() == signed.is_sign_positive();
        if opening {
            slot.entry_qty += *quantity;
            slot.entry_notional += *quantity * *price;
            slot.trade.fees += *fee;
            slot.cash -= signed * *price + *fee;
            slot.trade.quantity = slot.trade.quantity.max(after.abs());
            if !slot.entry_orders.contains(order) {
                slot.entry_orders.push(*order);
            }
            continue;
        }
        let closing = (*quantity).min(before.abs());
        let share = if closing == *quantity {
            *fee
        } else {
            *fee * (closing / *quantity)
        };
        slot.exit_qty += closing;
        slot.exit_notional += closing * *price;
        slot.trade.fees += share;
        slot.cash -= side.sign() * closing * *price + share;
        if after.is_zero() || after.is_sign_positive() != before.is_sign_positive() {
            let mut done = open[i].take().unwrap();
            done.trade.exit_bar = e.bar;
            done.trade.exit_ts = e.ts;
            done.trade.entry_price = (done.entry_notional / done.entry_qty).normalize();
            done.trade.exit_price = (done.exit_notional / done.exit_qty).normalize();
            done.trade.fees = done.trade.fees.normalize();
            done.trade.pnl = done.cash.normalize();
            done.trade.exit_reason = log.purpose.unwrap();
            done.trade.entries = done.entry_orders.len();
            trades.push(done.trade);
            if !after.is_zero() {
                let rest = *quantity - closing;
                let mut next = start(i, e, *side);
                next.entry_qty = rest;
                next.entry_notional = rest * *price;
                next.trade.fees = *fee - share;
                next.cash = -side.sign() * rest * *price - (*fee - share);
                next.trade.quantity = rest;
                next.entry_orders.push(*order);
                open[i] = Some(next);
            }
        }
    }
    trades
}

/// The engine's trades are the round trips of its fills.
fn check_trades(case: &Case, out: &Outcome) -> Result<(), TestCaseError> {
    let expected = rebuild_trades(case, &out.result.events);
    let actual = &out.result.trades;
    prop_assert_eq!(actual.len(), expected.len(), "number of trades");
    for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
        let fields = |t: &Trade| {
            (
                t.instrument,
                t.side,
                t.entry_bar,
                t.exit_bar,
                t.entry_ts,
                t.exit_ts,
                t.quantity,
            )
        };
        prop_assert_eq!(
            fields(a),
            fields(e),
            "trade {}: when, which way, how much",
            k
        );
        prop_assert_eq!(
            (a.entry_price, a.exit_price, a.fees),
            (e.entry_price, e.exit_price, e.fees),
            "trade {}: prices and fees",
            k
        );
        prop_assert_eq!(a.exit_reason, e.exit_reason, "trade {}: exit reason", k);
        prop_assert_eq!(a.entries, e.entries, "trade {}: entry orders", k);
        if prices_on_a_grid(&out.result.events) {
            prop_assert_eq!(a.pnl, e.pnl, "trade {}: PnL is the cash its fills moved", k);
        }
    }
    Ok(())
}

fn same_run(a: &Outcome, b: &Outcome) -> Result<(), TestCaseError> {
    prop_assert_eq!(&a.result.events, &b.result.events);
    prop_assert_eq!(&a.result.trades, &b.result.trades);
    prop_assert_eq!(&a.result.orders, &b.result.orders);
    prop_assert_eq!(a.result.cash, b.result.cash);
    let bits = |o: &Outcome| o.equity.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    prop_assert_eq!(bits(a), bits(b));
    Ok(())
}

fn dec(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn arb_instrument(k: usize) -> impl Strategy<Value = Instrument> {
    let fee = prop_oneof![
        Just(Decimal::ZERO),
        Just(dec(1, 3)),
        Just(dec(2, 3)),
        (0..1_000i64).prop_map(|k| dec(k, 5)),
    ];
    (
        prop_oneof![
            Just(Decimal::ZERO),
            Just(Decimal::ONE),
            Just(dec(1, 2)),
            Just(dec(5, 1))
        ],
        prop_oneof![Just(Decimal::ZERO), Just(dec(1, 2)), Just(dec(5, 2))],
        prop_oneof![3 => Just(Decimal::ZERO), 1 => Just(Decimal::from(25))],
        fee.clone(),
        fee,
    )
        .prop_map(move |(lot, tick, min_notional, maker, taker)| {
            let mut inst = Instrument::unrestricted(format!("local:T{k}/USD").parse().unwrap());
            inst.lot_size = lot;
            inst.tick_size = tick;
            inst.min_notional = min_notional;
            inst.maker_fee = maker;
            inst.taker_fee = taker;
            inst
        })
}

/// Valid bars in whole cents: a random walk with gaps, wicks and sometimes no volume.
fn arb_bars(n: usize) -> impl Strategy<Value = Vec<[f64; 5]>> {
    (
        5_000i64..20_000,
        prop::collection::vec(
            (
                -800i64..800,
                -800i64..800,
                0i64..400,
                0i64..400,
                prop_oneof![1 => Just(0u32), 4 => 1u32..2_000],
            ),
            n,
        ),
    )
        .prop_map(|(start, steps)| {
            let mut prev = start;
            steps
                .into_iter()
                .map(|(gap, ret, up, down, volume)| {
                    let open = (prev + prev * gap / 10_000).max(10);
                    let close = (open + open * ret / 10_000).max(10);
                    let high = open.max(close) + open.max(close) * up / 10_000;
                    let low = (open.min(close) - open.min(close) * down / 10_000).max(1);
                    prev = close;
                    let px = |c: i64| c as f64 / 100.0;
                    [px(open), px(high), px(low), px(close), f64::from(volume)]
                })
                .collect()
        })
}

fn arb_signals(n: usize) -> impl Strategy<Value = Vec<Signals>> {
    prop::collection::vec(
        (
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(enter_long, enter_short, exit_long, exit_short)| Signals {
                enter_long,
                enter_short,
                exit_long,
                exit_short,
            }),
        n,
    )
}

fn half(k: u32) -> f64 {
    f64::from(k) * 0.5
}

fn arb_distance(targets: bool) -> impl Strategy<Value = Option<DistanceRule>> {
    let rr = if targets { 1 } else { 0 };
    prop_oneof![
        2 => Just(None),
        2 => (1u32..20).prop_map(|k| Some(DistanceRule::Pct { pct: half(k) })),
        1 => (2usize..6, 1u32..7).prop_map(|(period, k)| Some(DistanceRule::Atr {
            period,
            mult: half(k),
        })),
        rr => (1u32..7).prop_map(|k| Some(DistanceRule::RewardRisk { rr: half(k) })),
    ]
}

fn arb_exec() -> impl Strategy<Value = ExecSettings> {
    let entry_order = prop_oneof![
        3 => Just(EntryOrder::Market),
        1 => (0u32..6, 1usize..5).prop_map(|(k, valid_bars)| EntryOrder::Limit {
            offset_pct: half(k),
            valid_bars,
        }),
        1 => (0u32..6, 1usize..5).prop_map(|(k, valid_bars)| EntryOrder::Stop {
            offset_pct: half(k),
            valid_bars,
        }),
    ];
    let sizing = prop_oneof![
        3 => Just(SizingRule::AllIn),
        1 => (1u32..200).prop_map(|k| SizingRule::PctEquity { pct: half(k) }),
        1 => (1u32..50).prop_map(|k| SizingRule::Quote { amount: f64::from(k) * 100.0 }),
        1 => (1u32..40).prop_map(|k| SizingRule::Units { quantity: half(k) }),
        1 => (1u32..10).prop_map(|k| SizingRule::Risk { risk_pct: half(k) }),
    ];
    (
        (entry_order, sizing, any::<bool>()),
        (arb_distance(false), arb_distance(true), arb_distance(false)),
        (
            prop::option::weighted(0.3, 1usize..10),
            1usize..4,
            prop::option::weighted(0.3, (1usize..4, 1usize..6)),
            prop::option::weighted(0.3, (5u32..30, 1usize..6)),
        ),
    )
        .prop_map(
            |(
                (entry_order, sizing, allow_short),
                (stop_loss, take_profit, trailing_stop),
                (time_stop, max_entries, cooldown, drawdown),
            )| ExecSettings {
                entry_order,
                sizing,
                allow_short,
                stop_loss,
                take_profit,
                trailing_stop,
                time_stop,
                max_entries,
                cooldown,
                drawdown_pause: drawdown.map(|(pct, bars)| (f64::from(pct), bars)),
            },
        )
}

fn arb_leg(k: usize, n: usize) -> impl Strategy<Value = Leg> {
    (arb_instrument(k), arb_exec(), arb_bars(n), arb_signals(n)).prop_map(
        |(instrument, exec, bars, signals)| Leg {
            instrument,
            exec,
            bars,
            signals,
        },
    )
}

fn arb_config() -> impl Strategy<Value = EngineConfig> {
    (
        (1_000i64..100_000, 0i64..100),
        prop_oneof![
            Just(FillModel::NextOpen),
            Just(FillModel::Close),
            Just(FillModel::Intrabar)
        ],
        prop_oneof![2 => Just(0.0), 1 => (0u32..50).prop_map(f64::from)],
        prop::option::weighted(0.3, (1u32..=20).prop_map(|k| f64::from(k) * 0.05)),
        prop_oneof![4 => Just(1.0), 1 => Just(2.0)],
        prop_oneof![4 => Just(1_000usize), 1 => 1usize..4],
    )
        .prop_map(
            |((cash, cents), fill, bps, volume_share, leverage, max_open_orders)| EngineConfig {
                initial_cash: Decimal::from(cash) + dec(cents, 2),
                currency: Currency::new("USD").unwrap(),
                fill,
                slippage: Slippage { bps, volume_share },
                leverage,
                risk: RiskLimits {
                    max_open_orders,
                    ..RiskLimits::default()
                },
            },
        )
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        arb_config(),
        prop_oneof![3 => Just(1usize), 1 => Just(2)],
        2usize..60,
    )
        .prop_flat_map(|(cfg, legs, n)| {
            let legs: Vec<_> = (0..legs).map(|k| arb_leg(k, n)).collect();
            (Just(cfg), legs)
        })
        .prop_map(|(cfg, legs)| Case { cfg, legs })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn prop_cash_and_positions_are_the_sum_of_the_logged_fills(case in arb_case()) {
        check_ledger(&case, &run(&case))?;
    }

    #[test]
    fn prop_realised_and_unrealised_pnl_reconcile_with_equity(case in arb_case()) {
        check_pnl(&case, &run(&case))?;
    }

    #[test]
    fn prop_orders_replay_legally_and_never_overfill(case in arb_case()) {
        check_orders(&case, &run(&case))?;
    }

    #[test]
    fn prop_trades_are_the_round_trips_of_the_fills(case in arb_case()) {
        check_trades(&case, &run(&case))?;
    }

    #[test]
    fn prop_same_inputs_give_identical_runs(case in arb_case()) {
        same_run(&run(&case), &run(&case))?;
    }
}

//! The engine: one loop for backtests, paper and live. It holds the account, the working
//! orders and each instrument's trade state; turns a strategy's [`Signals`] into orders with
//! the strategy's [`ExecSettings`]; and applies fills exactly.
//!
//! Per bar and instrument, a driver calls, in this order:
//! 1. [`Engine::match_bar`]: the simulated venue fills working orders against the new bar
//!    (orders submitted at earlier bars only: nothing fills on the bar that created it);
//! 2. [`Engine::mark`]: mark to market at the bar's close;
//! 3. [`Engine::decide`]: the strategy sees bars up to this one and its position; the
//!    resulting intents pass the risk manager and become working orders.
//!
//! Invariants: an order fills at the earliest on the bar after the one it was decided on
//! (with the `close` fill model, at that earlier bar's close price — the price the signal saw
//! — but still processed after the decision); quantities, prices, cash and fees are exact
//! decimals; order states change only through `skeet_core::Order::apply`; the same inputs give
//! the same event log.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_core::{
    ClientOrderId, Currency, Fill, Instrument, Money, Order, OrderEvent, OrderKind, OrderRequest,
    OrderStatus, Price, Quantity, Side, TimeInForce, UnixNanos,
};
use skeet_strategy::{
    BarContext, BarsView, DistanceRule, EntryOrder, ExecSettings, PositionState, SizingRule,
    Strategy,
};
use skeet_ta::Indicator;
use skeet_ta::volatility::Atr;

use crate::account::{Account, to_f64};
use crate::events::{Event, EventKind};
use crate::order::{OrderIntent, Purpose, RiskApproved, Size, Trigger, WorkingOrder};
use crate::risk::{RiskLimits, RiskManager};

/// Which price market orders get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FillModel {
    /// The next bar's open (default).
    #[default]
    NextOpen,
    /// The signal bar's close.
    Close,
    /// The next bar's open; resting orders touched in the same bar fill in the order the bar's
    /// path reaches them (open, nearer extreme, farther extreme, close).
    Intrabar,
}

/// Slippage applied to market and stop fills (never to limit fills).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Slippage {
    /// Fixed adverse price move in basis points.
    pub bps: f64,
    /// If set, a fill takes at most this share of the bar's volume (the rest keeps working)
    /// and moves the price by `bps` more per full share taken.
    pub volume_share: Option<f64>,
}

/// Run settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Starting cash, quote currency.
    pub initial_cash: Decimal,
    /// Quote currency.
    pub currency: Currency,
    /// Market-order fill price.
    pub fill: FillModel,
    /// Slippage.
    pub slippage: Slippage,
    /// Buying power as a multiple of equity (1 = spot, no leverage).
    pub leverage: f64,
    /// Pre-trade limits.
    pub risk: RiskLimits,
}

/// One bar as the engine sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarRef {
    /// Open time, ns.
    pub ts: i64,
    /// Close time, ns (open time + timeframe).
    pub close_ts: i64,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Volume.
    pub volume: f64,
}

/// A closed round trip: from flat to flat (or to the opposite side).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Instrument index.
    pub instrument: usize,
    /// `Buy` for a long trade, `Sell` for a short one.
    pub side: Side,
    /// Largest position size reached.
    pub quantity: Decimal,
    /// Bar of the first entry fill.
    pub entry_bar: usize,
    /// Bar of the last exit fill.
    pub exit_bar: usize,
    /// Time of the first entry fill.
    pub entry_ts: i64,
    /// Time of the last exit fill.
    pub exit_ts: i64,
    /// Volume-weighted entry price.
    pub entry_price: Decimal,
    /// Volume-weighted exit price.
    pub exit_price: Decimal,
    /// Entry and exit fees.
    pub fees: Decimal,
    /// Realised PnL after fees.
    pub pnl: Decimal,
    /// What closed it.
    pub exit_reason: Purpose,
    /// Entries (more than 1 when scaling in).
    pub entries: usize,
}

/// A finished order, for reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Engine id.
    pub id: u64,
    /// Instrument index.
    pub instrument: usize,
    /// Direction.
    pub side: Side,
    /// Type and prices.
    pub trigger: Trigger,
    /// Why.
    pub purpose: Purpose,
    /// Final state.
    pub status: OrderStatus,
    /// Units filled.
    pub filled: Decimal,
    /// Average fill price (0 if none).
    pub avg_price: Decimal,
    /// Bar it was decided on.
    pub submitted_bar: usize,
    /// Bar of its last change.
    pub closed_bar: usize,
}

#[derive(Clone, Debug, Default)]
struct OpenTrade {
    side: Option<Side>,
    entry_bar: usize,
    entry_ts: i64,
    max_qty: Decimal,
    entry_qty: Decimal,
    entry_notional: Decimal,
    exit_qty: Decimal,
    exit_notional: Decimal,
    fees: Decimal,
    realised: Decimal,
    entries: usize,
    entry_orders: Vec<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) exec: ExecSettings,
    trade: OpenTrade,
    pub(crate) working: usize,
    pub(crate) extreme: f64,
    consecutive_losses: usize,
    paused_until: usize,
    atrs: Vec<(usize, Atr, f64)>,
    entry_atr: f64,
}

/// The engine.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) instruments: Vec<Instrument>,
    pub(crate) account: Account,
    pub(crate) orders: Vec<WorkingOrder>,
    pub(crate) slots: Vec<Slot>,
    pub(crate) last_close: Vec<f64>,
    /// Close time of each instrument's last decided bar (books close-model fills).
    pub(crate) last_close_ts: Vec<i64>,
    /// `last_close` with 0 for instruments without a bar yet (they hold no position).
    marks: Vec<f64>,
    /// Whether any drawdown protection needs the equity checked every bar.
    watch_drawdown: bool,
    risk: RiskManager,
    pub(crate) next_id: u64,
    events: Vec<Event>,
    trades: Vec<Trade>,
    records: Vec<OrderRecord>,
    peak_equity: f64,
    equity: f64,
}

impl Engine {
    /// An engine trading `instruments` with `cfg`.
    pub fn new(cfg: EngineConfig, instruments: Vec<Instrument>) -> Self {
        let ids: Vec<_> = instruments.iter().map(|i| i.id).collect();
        let account = Account::new(cfg.initial_cash, &ids);
        let n = instruments.len();
        let equity = to_f64(cfg.initial_cash);
        Self {
            risk: RiskManager::new(cfg.risk.clone()),
            cfg,
            instruments,
            account,
            orders: Vec::new(),
            slots: vec![
                Slot {
                    exec: ExecSettings::default(),
                    trade: OpenTrade::default(),
                    working: 0,
                    extreme: f64::NAN,
                    consecutive_losses: 0,
                    paused_until: 0,
                    atrs: Vec::new(),
                    entry_atr: f64::NAN,
                };
                n
            ],
            last_close: vec![f64::NAN; n],
            last_close_ts: vec![0; n],
            marks: vec![0.0; n],
            watch_drawdown: false,
            next_id: 1,
            events: Vec::new(),
            trades: Vec::new(),
            records: Vec::new(),
            peak_equity: equity,
            equity,
        }
    }

    /// Replaces the risk limits from the next bar on (a running bot's limits were edited).
    pub fn set_risk_limits(&mut self, limits: RiskLimits) {
        self.cfg.risk = limits.clone();
        self.risk.set_limits(limits);
        self.watch_drawdown = self.cfg.risk.max_drawdown_pct.is_some()
            || self.slots.iter().any(|s| s.exec.drawdown_pause.is_some());
    }

    /// Installs the strategy's execution settings for instrument `i` (and the ATR streams its
    /// stops need). Call before the first bar.
    pub fn configure(&mut self, i: usize, exec: &ExecSettings) {
        self.slots[i].exec = exec.clone();
        self.watch_drawdown = self.cfg.risk.max_drawdown_pct.is_some()
            || self.slots.iter().any(|s| s.exec.drawdown_pause.is_some());
        let slot = &mut self.slots[i];
        slot.atrs.clear();
        for rule in [exec.stop_loss, exec.take_profit, exec.trailing_stop]
            .into_iter()
            .flatten()
        {
            if let DistanceRule::Atr { period, .. } = rule
                && !slot.atrs.iter().any(|(p, _, _)| *p == period)
                && let Ok(atr) = Atr::new(period)
            {
                slot.atrs.push((period, atr, f64::NAN));
            }
        }
    }

    /// The account.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Equity at the last mark, as a double.
    pub fn equity_f(&self) -> f64 {
        self.equity
    }

    /// The event log so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Closed round trips so far.
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// Finished orders so far.
    pub fn order_records(&self) -> &[OrderRecord] {
        &self.records
    }

    /// Orders still working.
    pub fn working_orders(&self) -> &[WorkingOrder] {
        &self.orders
    }

    /// Instruments traded.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Marks instrument `i` at `close`, recomputes equity and the drawdown protections.
    #[inline]
    pub fn mark(&mut self, i: usize, close: f64) {
        self.last_close[i] = close;
        self.marks[i] = close;
        self.equity = self.account.equity_f(&self.marks);
        if self.equity > self.peak_equity {
            self.peak_equity = self.equity;
        }
    }

    /// True when bars can pass for instrument `i` without anything but marking to market: no
    /// working orders, no stop that follows the price or counts bars, no ATR to update, no
    /// drawdown protection to evaluate. A driver may then skip to the strategy's next
    /// possible decision (see `Strategy::next_decision`).
    #[inline]
    pub fn is_quiet(&self, i: usize) -> bool {
        let s = &self.slots[i];
        s.working == 0
            && s.atrs.is_empty()
            && !self.watch_drawdown
            && (self.account.qty_f(i) == 0.0
                || (s.exec.trailing_stop.is_none() && s.exec.time_stop.is_none()))
    }

    /// Marks instrument `i` at each of `closes` (consecutive quiet bars), appending the equity
    /// after each to `out`. Equivalent to calling [`Engine::mark`] per bar when
    /// [`Engine::is_quiet`] holds.
    pub fn mark_quiet_run(&mut self, i: usize, closes: &[f64], out: &mut Vec<f64>) {
        let Some(&last) = closes.last() else { return };
        let others = self.account.equity_f(&self.marks) - self.account.qty_f(i) * self.marks[i];
        let q = self.account.qty_f(i);
        out.extend(closes.iter().map(|&c| others + q * c));
        self.mark(i, last);
    }

    /// Current drawdown from the equity peak, as a fraction (<= 0).
    pub fn drawdown(&self) -> f64 {
        if self.peak_equity > 0.0 {
            (self.equity / self.peak_equity - 1.0).min(0.0)
        } else {
            0.0
        }
    }

    /// The strategy decides at the close of bar `t` of instrument `i`.
    pub fn decide<S: Strategy + ?Sized>(
        &mut self,
        i: usize,
        t: usize,
        bar: &BarRef,
        view: BarsView<'_>,
        strategy: &mut S,
    ) {
        let qty = self.account.qty_f(i);
        self.last_close_ts[i] = bar.close_ts;
        let slot = &mut self.slots[i];
        for (_, atr, value) in &mut slot.atrs {
            *value = atr
                .update(skeet_ta::Candle {
                    ts: bar.ts,
                    open: bar.open,
                    high: bar.high,
                    low: bar.low,
                    close: bar.close,
                    volume: bar.volume,
                })
                .unwrap_or(f64::NAN);
        }
        if qty != 0.0 {
            self.track_open_position(i, t, bar);
        }
        if self.watch_drawdown {
            if self.risk.observe_drawdown(self.drawdown()) {
                self.events.push(Event {
                    bar: t,
                    ts: bar.close_ts,
                    kind: EventKind::Paused {
                        instrument: i,
                        protection: "max_drawdown kill switch".into(),
                        until_bar: usize::MAX,
                    },
                });
            }
            self.check_drawdown_pause(i, t, bar);
        }

        let slot = &self.slots[i];
        let entry_price = self.account.avg_price_f(i);
        let bars_in_trade = if qty != 0.0 {
            t.saturating_sub(slot.trade.entry_bar)
        } else {
            0
        };
        let state = PositionState {
            size: qty,
            entry_price,
            pnl_pct: if qty != 0.0 && entry_price != 0.0 {
                (bar.close / entry_price - 1.0) * 100.0 * qty.signum()
            } else {
                0.0
            },
            bars_in_trade,
            equity: self.equity,
        };
        let signals = strategy.on_bar(&BarContext {
            index: t,
            bars: view,
            position: state,
        });

        let exec = &self.slots[i].exec;
        let allow_short = exec.allow_short;
        let max_entries = exec.max_entries;
        let time_stop = exec.time_stop;
        if !(signals.enter_long || signals.enter_short || signals.exit_long || signals.exit_short)
            && (qty == 0.0 || time_stop.is_none())
        {
            // Nothing asked and nothing due: the common bar.
            return;
        }
        let entries = self.slots[i].trade.entries;
        let paused = t < self.slots[i].paused_until || self.risk.killed();
        let has_pending_exit = self.has_pending(i, true);
        let has_pending_entry = self.has_pending(i, false);

        if qty != 0.0
            && let Some(n) = time_stop
            && bars_in_trade >= n
            && !has_pending_exit
        {
            self.submit_exit(i, t, bar, Purpose::TimeStop);
            return;
        }

        let long = qty > 0.0;
        let short = qty < 0.0;
        let exit_now = (long && (signals.exit_long || (signals.enter_short && allow_short)))
            || (short && (signals.exit_short || signals.enter_long));
        if exit_now && !has_pending_exit {
            self.submit_exit(i, t, bar, Purpose::Exit);
        }
        if paused || has_pending_entry {
            return;
        }
        let want = if signals.enter_long && !(signals.enter_short && allow_short) {
            Some(Side::Buy)
        } else if signals.enter_short && allow_short && !signals.enter_long {
            Some(Side::Sell)
        } else {
            None
        };
        let Some(side) = want else { return };
        let same_side = (long && side == Side::Buy) || (short && side == Side::Sell);
        if same_side && (entries >= max_entries || has_pending_exit) {
            return;
        }
        self.submit_entry(i, t, bar, side);
    }

    fn has_pending(&self, i: usize, exit: bool) -> bool {
        self.slots[i].working > 0
            && self.orders.iter().any(|o| {
                o.intent.instrument == i
                    && (if exit {
                        matches!(o.intent.purpose, Purpose::Exit | Purpose::TimeStop)
                    } else {
                        o.intent.purpose == Purpose::Entry
                    })
            })
    }

    fn check_drawdown_pause(&mut self, i: usize, t: usize, bar: &BarRef) {
        let Some((pct, bars)) = self.slots[i].exec.drawdown_pause else {
            return;
        };
        if t >= self.slots[i].paused_until && -self.drawdown() * 100.0 >= pct {
            self.slots[i].paused_until = t + bars + 1;
            // Restart the drawdown measurement after the pause, so one deep drawdown does not
            // pause the strategy forever.
            self.peak_equity = self.equity;
            self.events.push(Event {
                bar: t,
                ts: bar.close_ts,
                kind: EventKind::Paused {
                    instrument: i,
                    protection: format!("drawdown {pct}%"),
                    until_bar: t + bars,
                },
            });
        }
    }

    /// Trailing stop levels follow the price at each bar close (used from the next bar on).
    fn track_open_position(&mut self, i: usize, _t: usize, bar: &BarRef) {
        let long = self.account.qty_f(i) > 0.0;
        let slot = &mut self.slots[i];
        if slot.exec.trailing_stop.is_none() {
            // The extreme only serves trailing stops.
            return;
        }
        slot.extreme = if slot.extreme.is_nan() {
            if long { bar.high } else { bar.low }
        } else if long {
            slot.extreme.max(bar.high)
        } else {
            slot.extreme.min(bar.low)
        };
        let Some(rule) = slot.exec.trailing_stop else {
            return;
        };
        let dist = distance(rule, slot.extreme, slot.entry_atr_or(&rule), None);
        let Some(dist) = dist else { return };
        let level = if long {
            slot.extreme - dist
        } else {
            slot.extreme + dist
        };
        for o in &mut self.orders {
            if o.intent.instrument == i
                && o.intent.purpose == Purpose::TrailingStop
                && let Trigger::Stop { price } = &mut o.intent.trigger
            {
                // A trailing stop only ever tightens.
                *price = if long {
                    price.max(level)
                } else {
                    price.min(level)
                };
            }
        }
    }

    fn submit_exit(&mut self, i: usize, t: usize, bar: &BarRef, purpose: Purpose) {
        let side = if self.account.qty_f(i) > 0.0 {
            Side::Sell
        } else {
            Side::Buy
        };
        self.submit(
            OrderIntent {
                instrument: i,
                side,
                trigger: Trigger::Market,
                size: Size::ClosePosition,
                tif: TimeInForce::Gtc,
                expires_bar: None,
                purpose,
                oco: None,
            },
            t,
            bar.close_ts,
        );
    }

    fn submit_entry(&mut self, i: usize, t: usize, bar: &BarRef, side: Side) {
        let exec = self.slots[i].exec.clone();
        let sign = if side == Side::Buy { 1.0 } else { -1.0 };
        let (trigger, expires) = match exec.entry_order {
            EntryOrder::Market => (Trigger::Market, None),
            EntryOrder::Limit {
                offset_pct,
                valid_bars,
            } => (
                Trigger::Limit {
                    price: bar.close * (1.0 - sign * offset_pct / 100.0),
                },
                Some(t + valid_bars),
            ),
            EntryOrder::Stop {
                offset_pct,
                valid_bars,
            } => (
                Trigger::Stop {
                    price: bar.close * (1.0 + sign * offset_pct / 100.0),
                },
                Some(t + valid_bars),
            ),
        };
        let size = match exec.sizing {
            SizingRule::AllIn => Size::AllIn,
            SizingRule::PctEquity { pct } => Size::PctEquity(pct),
            SizingRule::Quote { amount } => Size::Quote(amount),
            SizingRule::Units { quantity } => Size::Units(quantity),
            SizingRule::Risk { risk_pct } => {
                let atr = self.slots[i].atr_now(exec.stop_loss);
                let Some(d) = exec
                    .stop_loss
                    .and_then(|r| distance(r, bar.close, atr, None))
                else {
                    self.refuse(
                        i,
                        t,
                        bar.close_ts,
                        Purpose::Entry,
                        "risk sizing needs a stop distance, and the ATR is not warmed up yet"
                            .into(),
                    );
                    return;
                };
                Size::Risk {
                    pct: risk_pct,
                    distance: d,
                }
            }
        };
        // The ATR known at decision time sizes the brackets later placed on the fill.
        self.slots[i].entry_atr =
            self.slots[i].atr_now(exec.stop_loss.or(exec.take_profit).or(exec.trailing_stop));
        self.submit(
            OrderIntent {
                instrument: i,
                side,
                trigger,
                size,
                tif: TimeInForce::Gtc,
                expires_bar: expires,
                purpose: Purpose::Entry,
                oco: None,
            },
            t,
            bar.close_ts,
        );
    }

    fn refuse(&mut self, i: usize, t: usize, ts: i64, purpose: Purpose, reason: String) {
        self.events.push(Event {
            bar: t,
            ts,
            kind: EventKind::Refused {
                instrument: i,
                purpose: purpose.as_str().into(),
                reason,
            },
        });
    }

    /// Checks an intent with the risk manager and, if approved, makes it a working order.
    /// Code strategies and bots use this for orders of their own.
    pub fn submit(&mut self, intent: OrderIntent, t: usize, ts: i64) -> Option<u64> {
        match self.risk.check(intent, self.orders.len()) {
            Ok(approved) => Some(self.place(approved, t, ts)),
            Err(refusal) => {
                self.refuse(intent.instrument, t, ts, intent.purpose, refusal.0);
                None
            }
        }
    }

    fn place(&mut self, approved: RiskApproved<OrderIntent>, t: usize, ts: i64) -> u64 {
        let mut intent = approved.into_inner();
        // Order prices live on the tick grid: limits round in the trader's favour, stops
        // (triggers) away from the market, so neither fills worse than asked.
        {
            use crate::sim::{Round, on_tick};
            let inst = &self.instruments[intent.instrument];
            let buy = intent.side == Side::Buy;
            let limit_dir = if buy { Round::Down } else { Round::Up };
            let stop_dir = if buy { Round::Up } else { Round::Down };
            match &mut intent.trigger {
                Trigger::Market => {}
                Trigger::Limit { price } => *price = on_tick(inst, *price, limit_dir).0,
                Trigger::Stop { price } => *price = on_tick(inst, *price, stop_dir).0,
                Trigger::StopLimit { stop, limit } => {
                    *stop = on_tick(inst, *stop, stop_dir).0;
                    *limit = on_tick(inst, *limit, limit_dir).0;
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let request = OrderRequest {
            client_order_id: client_id(id),
            instrument: self.instruments[intent.instrument].id,
            side: intent.side,
            // The quantity of a sized intent is only known at fill time; the request carries
            // a placeholder of one unit that the first fill's resolved size replaces.
            quantity: match intent.size {
                Size::Units(q) => Quantity::try_from_f64(q).unwrap_or(Quantity::ZERO),
                _ => Quantity::new(Decimal::ONE).unwrap_or(Quantity::ZERO),
            },
            kind: match intent.trigger {
                Trigger::Market => OrderKind::Market,
                Trigger::Limit { price } => OrderKind::Limit {
                    price: price_of(price),
                },
                Trigger::Stop { price } => OrderKind::Stop {
                    trigger: price_of(price),
                },
                Trigger::StopLimit { stop, limit } => OrderKind::StopLimit {
                    trigger: price_of(stop),
                    price: price_of(limit),
                },
            },
            time_in_force: intent.tif,
            reduce_only: intent.purpose.is_exit(),
        };
        let mut order = Order::new(request, UnixNanos::new(ts));
        // The simulated venue acknowledges at once; transitions are still checked.
        let _ = order.apply(&OrderEvent::Submitted {
            ts: UnixNanos::new(ts),
        });
        let _ = order.apply(&OrderEvent::Accepted {
            ts: UnixNanos::new(ts),
        });
        self.events.push(Event {
            bar: t,
            ts,
            kind: EventKind::Submitted {
                order: id,
                instrument: intent.instrument,
                side: intent.side,
                trigger: intent.trigger,
                purpose: intent.purpose,
            },
        });
        self.slots[intent.instrument].working += 1;
        self.orders.push(WorkingOrder {
            id,
            intent,
            submitted_bar: t,
            quantity: match intent.size {
                Size::Units(q) => Some(q),
                _ => None,
            },
            order,
            extreme: f64::NAN,
        });
        id
    }

    /// Ends order `idx` (cancelled / expired / rejected) and records it.
    pub(crate) fn close_order(
        &mut self,
        idx: usize,
        t: usize,
        ts: i64,
        status: OrderStatus,
        reason: &str,
    ) {
        let mut wo = self.orders.remove(idx);
        let event = match status {
            OrderStatus::Expired => OrderEvent::Expired {
                ts: UnixNanos::new(ts),
            },
            OrderStatus::Rejected => OrderEvent::Rejected {
                ts: UnixNanos::new(ts),
                reason: reason.into(),
            },
            _ => OrderEvent::Cancelled {
                ts: UnixNanos::new(ts),
            },
        };
        // A rejection after acceptance is recorded as a cancellation (the venue accepted it).
        if wo.order.apply(&event).is_err() {
            let _ = wo.order.apply(&OrderEvent::Cancelled {
                ts: UnixNanos::new(ts),
            });
        }
        self.slots[wo.intent.instrument].working -= 1;
        self.events.push(Event {
            bar: t,
            ts,
            kind: EventKind::Closed {
                order: wo.id,
                status: wo.order.status,
                reason: reason.into(),
            },
        });
        self.record(&wo, t);
    }

    fn record(&mut self, wo: &WorkingOrder, t: usize) {
        self.records.push(OrderRecord {
            id: wo.id,
            instrument: wo.intent.instrument,
            side: wo.intent.side,
            trigger: wo.intent.trigger,
            purpose: wo.intent.purpose,
            status: wo.order.status,
            filled: wo.order.filled.as_decimal(),
            avg_price: wo
                .order
                .avg_fill_price()
                .map_or(Decimal::ZERO, Price::as_decimal),
            submitted_bar: wo.submitted_bar,
            closed_bar: t,
        });
    }

    /// Resolves how many units an order should fill at `price`, before volume caps.
    pub(crate) fn resolve_size(&self, wo: &WorkingOrder, price: f64, fee_rate: f64) -> f64 {
        let i = wo.intent.instrument;
        if let Some(q) = wo.quantity {
            return q - wo.order.filled.to_f64();
        }
        let equity = self.equity_at(i, price);
        let held = self.account.qty_f(i);
        // backtesting.py's margin: equity less the value of every open position over the
        // leverage (with leverage 1 and a long book, exactly the cash).
        let margin_used: f64 = (0..self.instruments.len())
            .map(|j| (self.account.qty_f(j) * if j == i { price } else { self.marks[j] }).abs())
            .sum::<f64>()
            / self.cfg.leverage;
        let available = (equity - margin_used).max(0.0);
        let affordable = |value: f64| -> f64 {
            // backtesting.py's all-in arithmetic: a fraction of 1 - 2^-52 of the available
            // equity, over the price plus the per-unit commission.
            let f = 1.0 - f64::EPSILON;
            let per_unit = price + (f * price * fee_rate) / f;
            (value * self.cfg.leverage * f) / per_unit
        };
        match wo.intent.size {
            Size::ClosePosition => held.abs(),
            Size::Units(q) => q,
            Size::AllIn => affordable(available),
            // Percentages and quote amounts are capped at what the margin can pay, fees
            // included (all-in's formula), so 100 % of equity still leaves room for the fee.
            Size::PctEquity(pct) => ((equity * pct / 100.0) / price).min(affordable(available)),
            Size::Quote(amount) => (amount / price).min(affordable(available)),
            Size::Risk { pct, distance } => {
                ((equity * pct / 100.0) / distance).min(affordable(available))
            }
        }
    }

    fn equity_at(&self, i: usize, price: f64) -> f64 {
        self.account.equity_f(&self.marks) + self.account.qty_f(i) * (price - self.marks[i])
    }

    /// Applies a fill of `qty` units of working order `idx` at `price` (exact) with `fee`;
    /// handles the trade bookkeeping, brackets and OCO cancellations. Returns whether the
    /// order is now complete (and removed).
    #[expect(
        clippy::too_many_arguments,
        reason = "the fill context is passed flat to keep the hot path free of temporary structs"
    )]
    pub(crate) fn apply_fill(
        &mut self,
        idx: usize,
        t: usize,
        ts: i64,
        qty: Quantity,
        price: Price,
        fee: Decimal,
        maker: bool,
    ) -> bool {
        let (i, side, purpose, id) = {
            let wo = &self.orders[idx];
            (
                wo.intent.instrument,
                wo.intent.side,
                wo.intent.purpose,
                wo.id,
            )
        };
        let fill = Fill {
            client_order_id: client_id(id),
            instrument: self.instruments[i].id,
            side,
            quantity: qty,
            price,
            fee: Money::new(fee, self.cfg.currency),
            maker,
            ts: UnixNanos::new(ts),
        };
        let before = self.account.position(i).quantity;
        let realised = self.account.apply(i, &fill);
        let after = self.account.position(i).quantity;
        let status = {
            let wo = &mut self.orders[idx];
            if let Err(e) = wo.order.apply(&OrderEvent::Filled(fill)) {
                // Not reachable by construction (the venue never overfills); keep the run
                // consistent and visible rather than panicking.
                self.events.push(Event {
                    bar: t,
                    ts,
                    kind: EventKind::Refused {
                        instrument: i,
                        purpose: purpose.as_str().into(),
                        reason: e.to_string(),
                    },
                });
            }
            wo.order.status
        };
        self.events.push(Event {
            bar: t,
            ts,
            kind: EventKind::Filled {
                order: id,
                side,
                quantity: qty.as_decimal(),
                price: price.as_decimal(),
                fee,
                status,
            },
        });
        self.book_trade(
            i,
            t,
            ts,
            side,
            qty.as_decimal(),
            price.as_decimal(),
            fee,
            realised,
            before,
            after,
            (purpose, id),
        );
        let done = status == OrderStatus::Filled;
        if done {
            let wo = self.orders.remove(idx);
            self.slots[i].working -= 1;
            self.record(&wo, t);
            if let Some(group) = wo.intent.oco {
                self.cancel_where(t, ts, |o| o.intent.oco == Some(group), "one-cancels-other");
            }
        }
        if after.is_zero() && !before.is_zero() {
            // Flat: protective orders have nothing left to protect.
            self.cancel_where(
                t,
                ts,
                |o| o.intent.instrument == i && o.intent.purpose.is_exit(),
                "position closed",
            );
            self.slots[i].extreme = f64::NAN;
        }
        let opened_or_added = !after.is_zero()
            && (before.is_zero() || before.is_sign_positive() == after.is_sign_positive())
            && purpose == Purpose::Entry;
        let flipped = !before.is_zero()
            && !after.is_zero()
            && before.is_sign_positive() != after.is_sign_positive();
        if opened_or_added || flipped {
            self.place_brackets(i, t, ts);
        }
        done
    }

    /// Cancels working orders matching `pred`.
    pub(crate) fn cancel_where(
        &mut self,
        t: usize,
        ts: i64,
        pred: impl Fn(&WorkingOrder) -> bool,
        reason: &str,
    ) {
        let mut k = 0;
        while k < self.orders.len() {
            if pred(&self.orders[k]) {
                self.close_order(k, t, ts, OrderStatus::Cancelled, reason);
            } else {
                k += 1;
            }
        }
    }

    fn place_brackets(&mut self, i: usize, t: usize, ts: i64) {
        let exec = self.slots[i].exec.clone();
        if exec.stop_loss.is_none() && exec.take_profit.is_none() && exec.trailing_stop.is_none() {
            return;
        }
        // Replace existing brackets: after scaling in, they protect the new average price.
        self.cancel_where(
            t,
            ts,
            |o| {
                o.intent.instrument == i
                    && matches!(
                        o.intent.purpose,
                        Purpose::StopLoss | Purpose::TakeProfit | Purpose::TrailingStop
                    )
            },
            "replaced",
        );
        let pos = *self.account.position(i);
        let long = pos.quantity.is_sign_positive();
        let entry = to_f64(pos.avg_price);
        let atr = self.slots[i].entry_atr;
        let exit_side = if long { Side::Sell } else { Side::Buy };
        let sign = if long { 1.0 } else { -1.0 };
        let group = self.next_id;
        let sl_dist = exec.stop_loss.and_then(|r| distance(r, entry, atr, None));
        let bracket = |engine: &mut Self, trigger: Trigger, purpose: Purpose| {
            engine.submit(
                OrderIntent {
                    instrument: i,
                    side: exit_side,
                    trigger,
                    size: Size::ClosePosition,
                    tif: TimeInForce::Gtc,
                    expires_bar: None,
                    purpose,
                    oco: Some(group),
                },
                t,
                ts,
            );
        };
        if let Some(d) = sl_dist {
            bracket(
                self,
                Trigger::Stop {
                    price: entry - sign * d,
                },
                Purpose::StopLoss,
            );
        }
        if let Some(d) = exec
            .take_profit
            .and_then(|r| distance(r, entry, atr, sl_dist))
        {
            bracket(
                self,
                Trigger::Limit {
                    price: entry + sign * d,
                },
                Purpose::TakeProfit,
            );
        }
        if let Some(d) = exec
            .trailing_stop
            .and_then(|r| distance(r, entry, atr, None))
        {
            let extreme = self.slots[i].extreme;
            let base = if extreme.is_nan() {
                entry
            } else if long {
                extreme.max(entry)
            } else {
                extreme.min(entry)
            };
            bracket(
                self,
                Trigger::Stop {
                    price: base - sign * d,
                },
                Purpose::TrailingStop,
            );
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the fill context is passed flat to keep the hot path free of temporary structs"
    )]
    fn book_trade(
        &mut self,
        i: usize,
        t: usize,
        ts: i64,
        side: Side,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        realised: Decimal,
        before: Decimal,
        after: Decimal,
        (purpose, order_id): (Purpose, u64),
    ) {
        let slot = &mut self.slots[i];
        let tr = &mut slot.trade;
        let opening_side = if side == Side::Buy { 1 } else { -1 };
        let reduces = !before.is_zero() && (before.is_sign_positive() != (opening_side > 0));
        if before.is_zero() {
            *tr = OpenTrade {
                side: Some(side),
                entry_bar: t,
                entry_ts: ts,
                ..OpenTrade::default()
            };
        }
        if reduces {
            let closing = qty.min(before.abs());
            tr.exit_qty += closing;
            tr.exit_notional += closing * price;
            tr.realised += realised;
            // Fees of the closing part belong to this trade.
            let share = if qty.is_zero() {
                Decimal::ONE
            } else {
                closing / qty
            };
            tr.fees += fee * share;
            let remainder = qty - closing;
            if after.is_zero() || after.is_sign_positive() != before.is_sign_positive() {
                let entry_price = if tr.entry_qty.is_zero() {
                    Decimal::ZERO
                } else {
                    tr.entry_notional / tr.entry_qty
                };
                let exit_price = if tr.exit_qty.is_zero() {
                    Decimal::ZERO
                } else {
                    tr.exit_notional / tr.exit_qty
                };
                let pnl = tr.realised - tr.fees;
                let trade = Trade {
                    instrument: i,
                    side: tr.side.unwrap_or(Side::Buy),
                    quantity: tr.max_qty,
                    entry_bar: tr.entry_bar,
                    exit_bar: t,
                    entry_ts: tr.entry_ts,
                    exit_ts: ts,
                    entry_price: entry_price.normalize(),
                    exit_price: exit_price.normalize(),
                    fees: tr.fees.normalize(),
                    pnl: pnl.normalize(),
                    exit_reason: purpose,
                    entries: tr.entries,
                };
                if pnl.is_sign_negative() && !pnl.is_zero() {
                    slot.consecutive_losses += 1;
                } else {
                    slot.consecutive_losses = 0;
                }
                if let Some((losses, bars)) = slot.exec.cooldown
                    && slot.consecutive_losses >= losses
                {
                    slot.paused_until = t + bars + 1;
                    slot.consecutive_losses = 0;
                    self.events.push(Event {
                        bar: t,
                        ts,
                        kind: EventKind::Paused {
                            instrument: i,
                            protection: format!("cooldown after {losses} losses"),
                            until_bar: t + bars,
                        },
                    });
                }
                self.trades.push(trade);
                let slot = &mut self.slots[i];
                slot.trade = OpenTrade::default();
                if !remainder.is_zero() && !after.is_zero() {
                    // Flipped through zero: the remainder opens a new trade.
                    slot.trade = OpenTrade {
                        side: Some(side),
                        entry_bar: t,
                        entry_ts: ts,
                        max_qty: remainder,
                        entry_qty: remainder,
                        entry_notional: remainder * price,
                        fees: fee - fee * share,
                        entries: 1,
                        entry_orders: vec![order_id],
                        ..OpenTrade::default()
                    };
                }
            }
        } else {
            tr.entry_qty += qty;
            tr.entry_notional += qty * price;
            tr.fees += fee;
            // An entry order filled in several parts is still one entry.
            if !tr.entry_orders.contains(&order_id) {
                tr.entry_orders.push(order_id);
                tr.entries += 1;
            }
            tr.max_qty = tr.max_qty.max(after.abs());
        }
    }

    /// Ends the run: cancels working orders and returns the results. Positions stay open and
    /// are valued at the last close (as backtesting.py does without `finalize_trades`).
    pub fn finish(mut self, t: usize, ts: i64) -> EngineResult {
        self.cancel_where(t, ts, |_| true, "end of data");
        let open_positions = (0..self.instruments.len())
            .map(|i| *self.account.position(i))
            .collect();
        EngineResult {
            trades: self.trades,
            orders: self.records,
            events: self.events,
            cash: self.account.cash(),
            fees: self.account.fees(),
            open_positions,
        }
    }
}

impl Slot {
    fn atr_now(&self, rule: Option<DistanceRule>) -> f64 {
        match rule {
            Some(DistanceRule::Atr { period, .. }) => self
                .atrs
                .iter()
                .find(|(p, _, _)| *p == period)
                .map_or(f64::NAN, |(_, _, v)| *v),
            _ => f64::NAN,
        }
    }

    fn entry_atr_or(&self, _rule: &DistanceRule) -> f64 {
        self.entry_atr
    }
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct EngineResult {
    /// Closed round trips.
    pub trades: Vec<Trade>,
    /// Every order that ended.
    pub orders: Vec<OrderRecord>,
    /// The event log.
    pub events: Vec<Event>,
    /// Final cash.
    pub cash: Decimal,
    /// Fees paid.
    pub fees: Decimal,
    /// Positions still open at the end.
    pub open_positions: Vec<skeet_core::Position>,
}

/// Price distance of a rule at `reference` (percent rules) or from the ATR.
fn distance(
    rule: DistanceRule,
    reference: f64,
    atr: f64,
    stop_distance: Option<f64>,
) -> Option<f64> {
    let d = match rule {
        DistanceRule::Pct { pct } => reference * pct / 100.0,
        DistanceRule::Atr { mult, .. } => atr * mult,
        DistanceRule::RewardRisk { rr } => stop_distance? * rr,
    };
    (d.is_finite() && d > 0.0).then_some(d)
}

pub(crate) fn price_of(x: f64) -> Price {
    Price::try_from_f64(x).unwrap_or(Price::ZERO)
}

/// `skeet-<id>`, formatted on the stack (one per order, on the fill path).
fn client_id(id: u64) -> ClientOrderId {
    let mut buf = [0u8; 32];
    buf[..6].copy_from_slice(b"skeet-");
    let mut digits = [0u8; 20];
    let mut n = id;
    let mut k = 0;
    loop {
        digits[k] = b'0' + (n % 10) as u8;
        k += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for j in 0..k {
        buf[6 + j] = digits[k - 1 - j];
    }
    let text = std::str::from_utf8(&buf[..6 + k]).unwrap_or("skeet");
    ClientOrderId::new(text).unwrap_or_else(|_| {
        ClientOrderId::new("skeet").expect("invariant: 'skeet' is a valid client order id")
    })
}

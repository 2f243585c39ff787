//! The paper venue: the engine's simulated venue behind the [`Exchange`] trait, fed by live or
//! replayed bars through [`Paper::on_bar`], with in-memory balances, orders and fills.
//!
//! Paper results must be comparable to backtests, so orders fill by the rules of the backtest
//! engine's simulated venue (`skeet_engine::sim`, module docs), ported here rule for rule
//! (a test puts the same orders through both and compares every fill price and fee):
//! - Nothing fills on the bar it was placed in: an order works from the next bar fed.
//! - Within a bar, **market orders** fill first, oldest first: at the bar's open
//!   ([`PaperFill::NextOpen`]) or at the previous bar's close ([`PaperFill::Close`], the price
//!   the signal saw; at this bar's open when there was no previous bar).
//! - Then **resting orders** (limit, stop, stop-limit) fill when the bar's range reaches them:
//!   at their price, or at the open when the bar opens beyond it (a gap). Several reached in
//!   one bar fill stops first (the outcome worse for the trader), then by age.
//! - Slippage (bps, adverse) applies to market and stop fills, never to limit fills. Limit
//!   fills pay the maker fee, the others the taker fee: `price × quantity × rate`, in the
//!   quote asset.
//! - Fill prices go on the tick grid exactly as the engine puts them (`sim::on_tick`): the
//!   same double arithmetic, then a whole number of ticks as a decimal; taker fills round
//!   against the trader, maker fills in the trader's favour.
//! - An order below the minimum notional at its fill price, or a buy its locked funds plus the
//!   free balance cannot pay (price × quantity + fee) at fill time, is rejected, as the engine
//!   rejects it. Post-only orders marketable at their first bar's open are rejected;
//!   IOC/FOK orders not filled on their first bar expire.
//!
//! Differences from the engine, by design of a spot venue: no volume cap (orders fill
//! whole), no intrabar path model, no shorting (a sell needs the base asset), and funds are
//! checked and locked when the order is placed (quote plus fee for buys, base for sells), as
//! a venue does; a market buy locks an estimate at the last price plus slippage.
//!
//! Market data: with a source venue, `markets`, `ticker`, `order_book`, `candles` and
//! `market_stream` are the source's. Without one, the bars fed are the market: the ticker is
//! the last close (bid = ask = last), the book is empty, `candles` returns the bars fed as
//! they are (not resampled to the asked timeframe), and `market_stream` delivers them as
//! closed candles and a best bid/ask at the close.
//!
//! Invariants: all money is exact `Decimal`; for every asset, `free + locked` changes only by
//! fills; an order's lock is released exactly once (fill, cancel, rejection or expiry); a
//! client order id is accepted once. The venue's clock is market time: the open time of the
//! last bar fed (wall time before the first bar).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rust_decimal::Decimal;
use skeet_core::{Bar, OrderKind, Price, Side, TimeInForce, Timeframe};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use crate::api::{BoxFut, Exchange};
use crate::error::{ErrorKind, ExchangeError};
use crate::stream::EventStream;
use crate::types::{
    Balance, Fill, Market, NewOrder, OrderBook, OrderInfo, OrderRef, OrderState, Permissions,
    StreamEvent, Subscription, Ticker,
};

const VENUE: &str = "paper";

/// Bars kept per symbol for `candles` without a market-data source.
const BAR_HISTORY: usize = 10_000;

/// Which price market orders get (the engine's `FillModel`, less its intrabar variant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PaperFill {
    /// The next bar's open (the engine's default).
    #[default]
    NextOpen,
    /// The signal bar's close: the close of the last bar fed before the order, booked when
    /// the next bar arrives, at its open time (the signal bar's close time for contiguous
    /// bars), as the engine books it.
    Close,
}

/// What a paper venue trades with.
#[derive(Clone, Default)]
pub struct PaperConfig {
    /// Markets and their rules (tick, step, minimums). Symbols not listed are looked up in the
    /// source's markets, when there is a source.
    pub markets: Vec<Market>,
    /// Starting balances, asset → amount.
    pub balances: BTreeMap<String, Decimal>,
    /// Fee rate of limit fills (0.001 = 0.1 %).
    pub maker_fee: Decimal,
    /// Fee rate of market and stop fills.
    pub taker_fee: Decimal,
    /// Adverse price move of market and stop fills, in basis points.
    pub slippage_bps: Decimal,
    /// Market-order fill price.
    pub fill: PaperFill,
    /// A live venue for market data: `markets`, `ticker`, `order_book`, `candles` and
    /// `market_stream` are its answers when present.
    pub source: Option<Arc<dyn Exchange>>,
}

impl fmt::Debug for PaperConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaperConfig")
            .field("markets", &self.markets.len())
            .field("balances", &self.balances)
            .field("maker_fee", &self.maker_fee)
            .field("taker_fee", &self.taker_fee)
            .field("slippage_bps", &self.slippage_bps)
            .field("fill", &self.fill)
            .field("source", &self.source.as_ref().map(|s| s.venue()))
            .finish()
    }
}

/// An order with what the venue needs to work it.
#[derive(Clone, Debug)]
struct Working {
    info: OrderInfo,
    kind: OrderKind,
    tif: TimeInForce,
    /// Placement order (ties between orders reached in the same bar go to the older one).
    seq: u64,
    /// The asset held for it and how much (0 once released).
    lock_asset: String,
    locked: Decimal,
    /// Bars matched against so far (post-only and IOC/FOK rules look at the first).
    bars: u32,
}

#[derive(Default)]
struct State {
    /// Asset → (free, locked).
    balances: BTreeMap<String, (Decimal, Decimal)>,
    /// Known markets: the configured ones, then any loaded from the source.
    markets: HashMap<String, Market>,
    orders: Vec<Working>,
    fills: Vec<Fill>,
    next_seq: u64,
    bars: HashMap<String, VecDeque<Bar>>,
    clock_ms: Option<i64>,
    /// Events to publish once the lock is released.
    outbox: Vec<StreamEvent>,
}

impl State {
    fn bal(&mut self, asset: &str) -> &mut (Decimal, Decimal) {
        self.balances.entry(asset.to_string()).or_default()
    }

    fn now(&self) -> i64 {
        self.clock_ms.unwrap_or_else(crate::now_ms)
    }

    fn find(&self, symbol: &str, r: &OrderRef) -> Option<usize> {
        self.orders.iter().position(|o| {
            o.info.symbol == symbol
                && match r {
                    OrderRef::Venue(id) => &o.info.venue_order_id == id,
                    OrderRef::Client(id) => o.info.client_order_id.as_deref() == Some(id),
                }
        })
    }

    /// Ends order `idx` in `state`, giving its lock back.
    fn close(&mut self, idx: usize, state: OrderState, why: &str) {
        let now = self.now();
        let (asset, locked) = (self.orders[idx].lock_asset.clone(), self.orders[idx].locked);
        let b = self.bal(&asset);
        b.1 -= locked;
        b.0 += locked;
        let o = &mut self.orders[idx];
        o.locked = Decimal::ZERO;
        o.info.state = state;
        o.info.ts_ms = now;
        tracing::debug!(order = %o.info.venue_order_id, ?state, why, "paper order closed");
        let info = o.info.clone();
        self.outbox.push(StreamEvent::Order(info));
    }
}

/// The paper venue. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Paper {
    source: Option<Arc<dyn Exchange>>,
    fill: PaperFill,
    maker_fee: Decimal,
    taker_fee: Decimal,
    slippage_bps: Decimal,
    state: Mutex<State>,
    user_tx: broadcast::Sender<StreamEvent>,
    market_tx: broadcast::Sender<(String, Bar)>,
}

impl fmt::Debug for Paper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paper")
            .field("fill", &self.fill)
            .field("source", &self.source.as_ref().map(|s| s.venue()))
            .finish_non_exhaustive()
    }
}

impl Paper {
    /// A paper venue with `cfg`'s markets and starting balances.
    pub fn new(cfg: PaperConfig) -> Self {
        let state = State {
            balances: cfg
                .balances
                .iter()
                .map(|(a, v)| (a.clone(), (*v, Decimal::ZERO)))
                .collect(),
            markets: cfg
                .markets
                .iter()
                .map(|m| (m.symbol.clone(), m.clone()))
                .collect(),
            ..State::default()
        };
        Self {
            source: cfg.source,
            fill: cfg.fill,
            maker_fee: cfg.maker_fee,
            taker_fee: cfg.taker_fee,
            slippage_bps: cfg.slippage_bps,
            state: Mutex::new(state),
            user_tx: broadcast::channel(4096).0,
            market_tx: broadcast::channel(4096).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state half-updated in a way later calls would
        // misread more than losing the venue would; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds one closed bar of `symbol` (replayed or live) and fills what it reaches, by the
    /// rules in the module docs; order and fill events go to `user_stream` subscribers.
    pub fn on_bar(&self, symbol: &str, bar: Bar) {
        let events = {
            let mut st = self.lock();
            let ts = bar.ts.as_millis();
            st.clock_ms = Some(st.clock_ms.map_or(ts, |c| c.max(ts)));
            let prev_close = st
                .bars
                .get(symbol)
                .and_then(VecDeque::back)
                .map(|b| b.close);
            if let Some(m) = st.markets.get(symbol).cloned() {
                self.match_bar(&mut st, &m, &bar, prev_close);
            }
            let hist = st.bars.entry(symbol.to_string()).or_default();
            hist.push_back(bar);
            if hist.len() > BAR_HISTORY {
                hist.pop_front();
            }
            std::mem::take(&mut st.outbox)
        };
        for e in events {
            // No subscriber is not an error: the state is the record.
            let _ = self.user_tx.send(e);
        }
        let _ = self.market_tx.send((symbol.to_string(), bar));
    }

    /// `sim.rs` `match_working`, for one bar of one market.
    fn match_bar(&self, st: &mut State, m: &Market, bar: &Bar, prev_close: Option<f64>) {
        let live = |o: &Working| !o.info.state.is_terminal() && o.info.symbol == m.symbol;
        // 1. Market orders, oldest first.
        let raw = match (self.fill, prev_close) {
            (PaperFill::Close, Some(c)) => c,
            _ => bar.open,
        };
        let market: Vec<u64> = st
            .orders
            .iter()
            .filter(|o| live(o) && o.kind == OrderKind::Market)
            .map(|o| o.seq)
            .collect();
        for seq in market {
            self.fill_order(st, m, seq, raw, false);
        }
        // 2. Resting orders reached by the range: by time along the bar (0 = at the open),
        // stops before limits, then age.
        let mut touches: Vec<(f64, u8, u64, f64, bool)> = Vec::new();
        for o in st.orders.iter().filter(|o| live(o)) {
            let Some((time, price, maker, is_stop)) = touch(o.info.side, o.kind, bar) else {
                continue;
            };
            if o.tif == TimeInForce::PostOnly && o.bars == 0 && time == 0.0 {
                // Marketable on arrival: a post-only order is refused rather than taking.
                touches.push((-1.0, 0, o.seq, f64::NAN, maker));
                continue;
            }
            touches.push((time, u8::from(!is_stop), o.seq, price, maker));
        }
        touches.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        for (time, _, seq, price, maker) in touches {
            if time < 0.0 {
                if let Some(idx) = st.orders.iter().position(|o| o.seq == seq) {
                    st.close(
                        idx,
                        OrderState::Rejected,
                        "post-only order would have taken liquidity",
                    );
                }
                continue;
            }
            self.fill_order(st, m, seq, price, maker);
        }
        // 3. IOC/FOK orders do not outlive their first bar; everything else has now seen one.
        for idx in 0..st.orders.len() {
            let o = &st.orders[idx];
            if !live(o) {
                continue;
            }
            if o.bars == 0 && matches!(o.tif, TimeInForce::Ioc | TimeInForce::Fok) {
                st.close(idx, OrderState::Expired, "immediate-or-cancel remainder");
            } else {
                st.orders[idx].bars += 1;
            }
        }
    }

    /// `sim.rs` `fill_by_id` for a whole, exact quantity: slippage, tick rounding, fee, the
    /// fill-time notional and funds checks, then the balances.
    fn fill_order(&self, st: &mut State, m: &Market, seq: u64, raw: f64, maker: bool) {
        let Some(idx) = st.orders.iter().position(|o| o.seq == seq) else {
            return;
        };
        if st.orders[idx].info.state.is_terminal() {
            return;
        }
        let side = st.orders[idx].info.side;
        let qty = st.orders[idx].info.quantity - st.orders[idx].info.filled;
        let slip = if maker {
            0.0
        } else {
            to_f64(self.slippage_bps) / 10_000.0
        };
        let dir = if side == Side::Buy { 1.0 } else { -1.0 };
        // Taker fills round against the trader, maker fills in the trader's favour.
        let up = matches!((maker, side), (false, Side::Buy) | (true, Side::Sell));
        let price = on_tick(m.tick_size, raw * (1.0 + dir * slip), up);
        let rate = if maker {
            self.maker_fee
        } else {
            self.taker_fee
        };
        let value = price * qty;
        if value.abs() < m.min_notional {
            let why = format!(
                "order value {} at the fill price {price} is below the minimum notional {}",
                value.normalize(),
                m.min_notional.normalize()
            );
            st.close(idx, OrderState::Rejected, &why);
            return;
        }
        let fee = price * qty * rate;
        let locked = st.orders[idx].locked;
        match side {
            Side::Buy => {
                let cost = value + fee;
                let free = st.bal(&m.quote).0;
                if cost > locked + free {
                    let why = format!("insufficient funds for {qty} at {price}");
                    st.close(idx, OrderState::Rejected, &why);
                    return;
                }
                let q = st.bal(&m.quote);
                q.1 -= locked;
                q.0 += locked - cost;
                st.bal(&m.base).0 += qty;
            }
            Side::Sell => {
                let b = st.bal(&m.base);
                b.1 -= locked;
                b.0 += locked - qty;
                st.bal(&m.quote).0 += value - fee;
            }
        }
        let now = st.now();
        let trade_id = format!("T{}", st.fills.len() + 1);
        let o = &mut st.orders[idx];
        o.locked = Decimal::ZERO;
        o.info.filled += qty;
        o.info.avg_price = Some(price);
        o.info.state = OrderState::Filled;
        o.info.ts_ms = now;
        let info = o.info.clone();
        let fill = Fill {
            trade_id,
            venue_order_id: info.venue_order_id.clone(),
            client_order_id: info.client_order_id.clone(),
            symbol: info.symbol.clone(),
            side,
            price,
            quantity: qty,
            fee,
            fee_asset: m.quote.clone(),
            maker,
            ts_ms: now,
        };
        st.fills.push(fill.clone());
        // The fill first, so a consumer has booked it before it sees the order complete.
        st.outbox.push(StreamEvent::Fill(fill));
        st.outbox.push(StreamEvent::Order(info));
    }

    /// The rules of `symbol`: configured, or the source's (loaded once and kept).
    async fn market(&self, symbol: &str) -> Result<Market, ExchangeError> {
        if let Some(m) = self.lock().markets.get(symbol) {
            return Ok(m.clone());
        }
        if let Some(src) = &self.source {
            let all = src.markets().await?;
            let mut st = self.lock();
            for m in all {
                st.markets.entry(m.symbol.clone()).or_insert(m);
            }
            if let Some(m) = st.markets.get(symbol) {
                return Ok(m.clone());
            }
        }
        Err(ExchangeError::invalid(
            VENUE,
            &format!("unknown symbol {symbol}: not among the paper venue's markets"),
        ))
    }

    /// The last price of `symbol`: the last bar's close, else the source's last trade.
    async fn reference(&self, symbol: &str, tick: Decimal) -> Option<Decimal> {
        let close = self
            .lock()
            .bars
            .get(symbol)
            .and_then(VecDeque::back)
            .map(|b| b.close);
        if let Some(c) = close {
            return Some(on_tick(tick, c, false));
        }
        let t = self.source.as_ref()?.ticker(symbol).await.ok()?;
        t.last.or(t.ask)
    }

    async fn create(&self, order: &NewOrder) -> Result<OrderInfo, ExchangeError> {
        let m = self.market(&order.symbol).await?;
        let reference = match order.kind {
            OrderKind::Market => Some(
                self.reference(&order.symbol, m.tick_size)
                    .await
                    .ok_or_else(|| {
                        ExchangeError::invalid(
                            VENUE,
                            &format!(
                                "no price for {} yet: a market order needs a bar first",
                                order.symbol
                            ),
                        )
                    })?,
            ),
            _ => None,
        };
        m.check(VENUE, order, reference)?;
        let cid = order.client_order_id.as_str().to_string();
        let mut st = self.lock();
        if st
            .orders
            .iter()
            .any(|o| o.info.client_order_id.as_deref() == Some(cid.as_str()))
        {
            return Err(fail(
                ErrorKind::DuplicateOrder,
                &format!("an order with client id {cid} exists already"),
            ));
        }
        let q = order.quantity;
        let (asset, lock) = match order.side {
            Side::Sell => (m.base.clone(), q),
            Side::Buy => {
                let slipped = |p: Decimal| p + p * self.slippage_bps / Decimal::from(10_000);
                let (px, rate) = match order.kind {
                    OrderKind::Limit { price } => (price.as_decimal(), self.maker_fee),
                    OrderKind::Market => {
                        (slipped(reference.unwrap_or(Decimal::ZERO)), self.taker_fee)
                    }
                    OrderKind::Stop { trigger } => (slipped(trigger.as_decimal()), self.taker_fee),
                    OrderKind::StopLimit { price, .. } => (
                        slipped(price.as_decimal()),
                        self.maker_fee.max(self.taker_fee),
                    ),
                };
                // The cost of a fill at `px`, computed as the fill computes it.
                (m.quote.clone(), px * q + px * q * rate)
            }
        };
        let free = st.bal(&asset).0;
        if free < lock {
            return Err(fail(
                ErrorKind::InsufficientFunds,
                &format!(
                    "insufficient balance: {} {asset} needed, {} free",
                    lock.normalize(),
                    free.normalize()
                ),
            ));
        }
        let b = st.bal(&asset);
        b.0 -= lock;
        b.1 += lock;
        st.next_seq += 1;
        let seq = st.next_seq;
        let info = OrderInfo {
            venue_order_id: format!("P{seq}"),
            client_order_id: Some(cid),
            symbol: order.symbol.clone(),
            side: order.side,
            price: order.limit_price(),
            quantity: q,
            filled: Decimal::ZERO,
            avg_price: None,
            state: OrderState::Open,
            ts_ms: st.now(),
        };
        st.orders.push(Working {
            info: info.clone(),
            kind: order.kind,
            tif: order.time_in_force,
            seq,
            lock_asset: asset,
            locked: lock,
            bars: 0,
        });
        drop(st);
        let _ = self.user_tx.send(StreamEvent::Order(info.clone()));
        Ok(info)
    }

    fn publish(&self) {
        let events = std::mem::take(&mut self.lock().outbox);
        for e in events {
            let _ = self.user_tx.send(e);
        }
    }
}

fn fail(kind: ErrorKind, message: &str) -> ExchangeError {
    ExchangeError {
        kind,
        venue: VENUE,
        code: None,
        message: message.to_string(),
        retry_after: None,
    }
}

fn unknown(r: &OrderRef) -> ExchangeError {
    fail(ErrorKind::UnknownOrder, &format!("no such order: {r:?}"))
}

/// Forwards a broadcast into an [`EventStream`], keeping what `keep` maps to events.
fn bridge<T: Clone + Send + 'static>(
    mut rx: broadcast::Receiver<T>,
    keep: impl Fn(T) -> Vec<StreamEvent> + Send + 'static,
) -> EventStream {
    let (tx, out) = mpsc::channel(1024);
    let task = tokio::spawn(async move {
        loop {
            let batch = match rx.recv().await {
                Ok(v) => keep(v).into_iter().map(Ok).collect(),
                Err(RecvError::Lagged(n)) => vec![Err(ExchangeError::protocol(
                    VENUE,
                    &format!("the consumer fell {n} events behind; re-read orders and trades"),
                ))],
                Err(RecvError::Closed) => break,
            };
            for item in batch {
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        }
    });
    EventStream::from_channel(out, task)
}

impl Exchange for Paper {
    fn venue(&self) -> &'static str {
        VENUE
    }

    fn markets(&self) -> BoxFut<'_, Vec<Market>> {
        Box::pin(async move {
            if let Some(src) = &self.source {
                return src.markets().await;
            }
            let mut all: Vec<Market> = self.lock().markets.values().cloned().collect();
            all.sort_by(|a, b| a.symbol.cmp(&b.symbol));
            Ok(all)
        })
    }

    fn ticker<'a>(&'a self, symbol: &'a str) -> BoxFut<'a, Ticker> {
        Box::pin(async move {
            if let Some(src) = &self.source {
                return src.ticker(symbol).await;
            }
            let st = self.lock();
            let last = st
                .bars
                .get(symbol)
                .and_then(VecDeque::back)
                .ok_or_else(|| {
                    ExchangeError::protocol(VENUE, &format!("no bar of {symbol} fed yet"))
                })?;
            let tick = st
                .markets
                .get(symbol)
                .map_or(Decimal::ZERO, |m| m.tick_size);
            let p = Some(on_tick(tick, last.close, false));
            Ok(Ticker {
                symbol: symbol.to_string(),
                bid: p,
                ask: p,
                last: p,
                volume_24h: None,
                ts_ms: last.ts.as_millis(),
            })
        })
    }

    fn order_book<'a>(&'a self, symbol: &'a str, depth: u32) -> BoxFut<'a, OrderBook> {
        Box::pin(async move {
            if let Some(src) = &self.source {
                return src.order_book(symbol, depth).await;
            }
            // Bars carry no depth: without a source the book is empty.
            Ok(OrderBook {
                symbol: symbol.to_string(),
                bids: vec![],
                asks: vec![],
                ts_ms: self.lock().now(),
            })
        })
    }

    fn candles<'a>(
        &'a self,
        symbol: &'a str,
        timeframe: Timeframe,
        since_ms: i64,
        limit: u32,
    ) -> BoxFut<'a, Vec<Bar>> {
        Box::pin(async move {
            if let Some(src) = &self.source {
                return src.candles(symbol, timeframe, since_ms, limit).await;
            }
            // The bars fed, in their own timeframe (nothing is resampled).
            Ok(self.lock().bars.get(symbol).map_or_else(Vec::new, |h| {
                h.iter()
                    .filter(|b| b.ts.as_millis() >= since_ms)
                    .take(limit as usize)
                    .copied()
                    .collect()
            }))
        })
    }

    fn balances(&self) -> BoxFut<'_, Vec<Balance>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .balances
                .iter()
                .filter(|(_, (f, l))| !f.is_zero() || !l.is_zero())
                .map(|(a, (f, l))| Balance {
                    asset: a.clone(),
                    free: *f,
                    locked: *l,
                })
                .collect())
        })
    }

    fn create_order<'a>(&'a self, order: &'a NewOrder) -> BoxFut<'a, OrderInfo> {
        Box::pin(self.create(order))
    }

    fn cancel_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            let info = {
                let mut st = self.lock();
                let idx = st.find(symbol, order).ok_or_else(|| unknown(order))?;
                if st.orders[idx].info.state.is_terminal() {
                    return Err(fail(
                        ErrorKind::UnknownOrder,
                        &format!("order {order:?} is no longer open"),
                    ));
                }
                st.close(idx, OrderState::Cancelled, "cancelled");
                st.orders[idx].info.clone()
            };
            self.publish();
            Ok(info)
        })
    }

    fn fetch_order<'a>(&'a self, symbol: &'a str, order: &'a OrderRef) -> BoxFut<'a, OrderInfo> {
        Box::pin(async move {
            let st = self.lock();
            let idx = st.find(symbol, order).ok_or_else(|| unknown(order))?;
            Ok(st.orders[idx].info.clone())
        })
    }

    fn open_orders<'a>(&'a self, symbol: Option<&'a str>) -> BoxFut<'a, Vec<OrderInfo>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .orders
                .iter()
                .filter(|o| !o.info.state.is_terminal())
                .filter(|o| symbol.is_none_or(|s| o.info.symbol == s))
                .map(|o| o.info.clone())
                .collect())
        })
    }

    fn my_trades<'a>(&'a self, symbol: &'a str, since_ms: i64) -> BoxFut<'a, Vec<Fill>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .fills
                .iter()
                .filter(|f| f.symbol == symbol && f.ts_ms >= since_ms)
                .cloned()
                .collect())
        })
    }

    fn permissions(&self) -> BoxFut<'_, Permissions> {
        Box::pin(async move {
            Ok(Permissions {
                read: true,
                trade: true,
                withdraw: false,
                ip_restricted: None,
            })
        })
    }

    fn market_stream(&self, subs: Vec<Subscription>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            if let Some(src) = &self.source {
                return src.market_stream(subs).await;
            }
            // Without a source, the bars fed are the market: closed candles and a best
            // bid/ask at the close (bars carry no trades).
            Ok(bridge(self.market_tx.subscribe(), move |(symbol, bar)| {
                subs.iter()
                    .filter_map(|s| match s {
                        Subscription::Candles {
                            symbol: s,
                            timeframe,
                        } if *s == symbol => Some(StreamEvent::Candle {
                            symbol: symbol.clone(),
                            timeframe: timeframe.clone(),
                            bar,
                            closed: true,
                        }),
                        Subscription::BestBidAsk { symbol: s } if *s == symbol => {
                            let p = Price::try_from_f64(bar.close).ok()?.as_decimal();
                            Some(StreamEvent::BestBidAsk {
                                symbol: symbol.clone(),
                                bid: p,
                                ask: p,
                                ts_ms: bar.ts.as_millis(),
                            })
                        }
                        _ => None,
                    })
                    .collect()
            }))
        })
    }

    fn user_stream(&self, symbols: Vec<String>) -> BoxFut<'_, EventStream> {
        Box::pin(async move {
            Ok(bridge(self.user_tx.subscribe(), move |ev| {
                let symbol = match &ev {
                    StreamEvent::Order(o) => Some(&o.symbol),
                    StreamEvent::Fill(f) => Some(&f.symbol),
                    _ => None,
                };
                let wanted =
                    symbols.is_empty() || symbol.is_some_and(|s| symbols.iter().any(|w| w == s));
                if wanted { vec![ev] } else { vec![] }
            }))
        })
    }
}

/// Where a resting order is reached in `bar`: `(time, raw price, maker, is_stop)`, time 0 at
/// the open and 1 inside the bar (`sim.rs` `touch` with the next-open/close models).
fn touch(side: Side, kind: OrderKind, bar: &Bar) -> Option<(f64, f64, bool, bool)> {
    let up = |x: f64| {
        if bar.open >= x {
            Some(0.0)
        } else if bar.high >= x {
            Some(1.0)
        } else {
            None
        }
    };
    let down = |x: f64| {
        if bar.open <= x {
            Some(0.0)
        } else if bar.low <= x {
            Some(1.0)
        } else {
            None
        }
    };
    // At its price, or at the open when the bar opened beyond it.
    let at = |t: f64, x: f64| if t == 0.0 { bar.open } else { x };
    let f = |p: Price| to_f64(p.as_decimal());
    match (kind, side) {
        (OrderKind::Market, _) => None,
        (OrderKind::Limit { price }, Side::Buy) => {
            down(f(price)).map(|t| (t, at(t, f(price)), true, false))
        }
        (OrderKind::Limit { price }, Side::Sell) => {
            up(f(price)).map(|t| (t, at(t, f(price)), true, false))
        }
        (OrderKind::Stop { trigger }, Side::Buy) => {
            up(f(trigger)).map(|t| (t, at(t, f(trigger)), false, true))
        }
        (OrderKind::Stop { trigger }, Side::Sell) => {
            down(f(trigger)).map(|t| (t, at(t, f(trigger)), false, true))
        }
        (OrderKind::StopLimit { trigger, price }, Side::Buy) => {
            let (stop, limit) = (f(trigger), f(price));
            let t = up(stop)?;
            let p = at(t, stop);
            if p <= limit {
                Some((t, p, false, true))
            } else if bar.low <= limit {
                Some((1.0, limit, true, false))
            } else {
                None
            }
        }
        (OrderKind::StopLimit { trigger, price }, Side::Sell) => {
            let (stop, limit) = (f(trigger), f(price));
            let t = down(stop)?;
            let p = at(t, stop);
            if p >= limit {
                Some((t, p, false, true))
            } else if bar.high >= limit {
                Some((1.0, limit, true, false))
            } else {
                None
            }
        }
    }
}

/// `x` on the tick grid as a whole number of ticks, rounded up or down; values within 1e-9 of
/// a tick count as on it. Without a tick, the shortest decimal equal to `x`. The same double
/// arithmetic as `sim.rs` `on_tick`, so paper and backtest fills are the same decimals.
fn on_tick(tick: Decimal, x: f64, up: bool) -> Decimal {
    if tick.is_zero() || !x.is_finite() {
        return Price::try_from_f64(x).map_or(Decimal::ZERO, Price::as_decimal);
    }
    let ticks = x / to_f64(tick);
    let nearest = ticks.round();
    let n = if (ticks - nearest).abs() < 1e-9 {
        nearest
    } else if up {
        ticks.ceil()
    } else {
        ticks.floor()
    };
    (Decimal::from_i128_with_scale(n as i128, 0) * tick).normalize()
}

/// A double for `d`, as the engine computes it (`skeet_engine::account::to_f64`): correctly
/// rounded for mantissas below 2^53 and scales up to 22.
fn to_f64(d: Decimal) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m.unsigned_abs() < (1u128 << 53) && scale < POW10.len() {
        return m as f64 / POW10[scale];
    }
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn prices_go_on_the_tick_grid_like_the_engine() {
        let tick = d("0.01");
        // Float noise within 1e-9 ticks of a tick counts as on it, whatever the direction.
        assert_eq!(on_tick(tick, 100.0 * 1.001, true), d("100.1"));
        assert_eq!(on_tick(tick, 100.0 * 1.001, false), d("100.1"));
        // Off the grid: up against a taker buyer, down for a maker buyer.
        assert_eq!(on_tick(tick, 30_010.5 * 1.0007, true), d("30031.51"));
        assert_eq!(on_tick(tick, 30_010.5 * 1.0007, false), d("30031.50"));
        // No tick: the shortest decimal of the double.
        assert_eq!(
            on_tick(Decimal::ZERO, 0.1 + 0.2, true),
            d("0.30000000000000004")
        );
        assert_eq!(to_f64(d("29800.5")), 29_800.5);
    }

    fn bar(o: f64, h: f64, l: f64, c: f64) -> Bar {
        Bar::new(skeet_core::UnixNanos::new(0), o, h, l, c, 1.0).unwrap()
    }

    #[test]
    fn touches_follow_the_engine_rules() {
        let p = |x: &str| Price::new(d(x));
        let b = bar(100.0, 110.0, 90.0, 105.0);
        let lim = |x| OrderKind::Limit { price: p(x) };
        let stop = |x| OrderKind::Stop { trigger: p(x) };
        assert_eq!(
            touch(Side::Buy, lim("95"), &b),
            Some((1.0, 95.0, true, false))
        );
        assert_eq!(
            touch(Side::Buy, lim("101"), &b),
            Some((0.0, 100.0, true, false))
        );
        assert_eq!(touch(Side::Buy, lim("89"), &b), None);
        assert_eq!(
            touch(Side::Sell, lim("108"), &b),
            Some((1.0, 108.0, true, false))
        );
        assert_eq!(
            touch(Side::Sell, stop("92"), &b),
            Some((1.0, 92.0, false, true))
        );
        assert_eq!(
            touch(Side::Sell, stop("120"), &b),
            Some((0.0, 100.0, false, true))
        );
        assert_eq!(touch(Side::Buy, stop("111"), &b), None);
        // A stop-limit buy triggered at the open above its limit waits for the low.
        let sl = OrderKind::StopLimit {
            trigger: p("99"),
            price: p("95"),
        };
        assert_eq!(touch(Side::Buy, sl, &b), Some((1.0, 95.0, true, false)));
        assert_eq!(touch(Side::Buy, OrderKind::Market, &b), None);
    }
}

//! One simulated matching venue behind every protocol server: markets, balances, orders,
//! trades, a settable last price, an event feed for user streams, and fault injection.
//!
//! Matching: a market order fills at once at the last price (taker); a limit order that
//! crosses the last price fills at once at the last price (taker), otherwise it rests and
//! fills at its own price (maker) when [`SimVenue::set_price`] moves the price through it.
//! Fees are charged in the quote asset. Funds are locked while an order rests.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::broadcast;

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Buy the base asset.
    Buy,
    /// Sell the base asset.
    Sell,
}

/// Order type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Fill now at the last price.
    Market,
    /// Fill at this price or better.
    Limit(Decimal),
    /// A sell that rests until the last price falls to this trigger, then fills at the last
    /// price (a stop-loss; the simulated venue takes sell stops only).
    Stop(Decimal),
}

/// Order state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Resting, nothing filled.
    Open,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Done.
    Filled,
    /// Cancelled.
    Cancelled,
}

/// A market of the simulated venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimMarket {
    /// Base asset (`BTC`).
    pub base: String,
    /// Quote asset (`USDT`).
    pub quote: String,
}

impl SimMarket {
    /// `BASE/QUOTE`.
    pub fn symbol(&self) -> String {
        format!("{}/{}", self.base, self.quote)
    }
}

/// An order.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOrder {
    /// Venue id (increasing from 1).
    pub id: u64,
    /// Client order id.
    pub client_id: String,
    /// Unified symbol.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// Type.
    pub kind: Kind,
    /// Ordered quantity.
    pub qty: Decimal,
    /// Filled quantity.
    pub filled: Decimal,
    /// Quote spent or received by fills.
    pub cost: Decimal,
    /// State.
    pub status: Status,
    /// Creation time, ms.
    pub created_ms: i64,
    /// Last change, ms.
    pub updated_ms: i64,
}

impl SimOrder {
    /// Average fill price.
    pub fn avg_price(&self) -> Option<Decimal> {
        (!self.filled.is_zero()).then(|| self.cost / self.filled)
    }

    /// The limit price, when there is one.
    pub fn price(&self) -> Option<Decimal> {
        match self.kind {
            Kind::Market | Kind::Stop(_) => None,
            Kind::Limit(p) => Some(p),
        }
    }
}

/// A fill.
#[derive(Clone, Debug, PartialEq)]
pub struct SimTrade {
    /// Trade id (increasing from 1).
    pub id: u64,
    /// Order id.
    pub order_id: u64,
    /// Client order id of the order.
    pub client_id: String,
    /// Unified symbol.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub qty: Decimal,
    /// Fee, in the quote asset.
    pub fee: Decimal,
    /// Fee asset.
    pub fee_asset: String,
    /// Resting order filled (maker).
    pub maker: bool,
    /// Time, ms.
    pub ts_ms: i64,
}

/// What user streams deliver.
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    /// An order changed (the order's new state).
    Order(SimOrder),
    /// A fill, with the order's state after it.
    Trade(SimTrade, SimOrder),
}

/// Why the venue refused an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown symbol.
    UnknownSymbol,
    /// Not enough free balance.
    InsufficientFunds,
    /// The client order id was used before.
    DuplicateClientId,
    /// No such order (or it is no longer open, for cancels).
    UnknownOrder,
    /// Quantity or price not positive.
    BadOrder,
}

/// A fault to inject into the next REST request of a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer 429 with `Retry-After: secs` (Binance answers 429; other venues their own way).
    RateLimit {
        /// Seconds.
        secs: u64,
    },
    /// Answer 503.
    Unavailable,
    /// Process the request, then hold the answer for this long (longer than the client's
    /// timeout: the order exists but the client never hears so).
    SlowAnswer(Duration),
}

/// How to look an order up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Venue id.
    Id(u64),
    /// Client order id.
    Client(String),
}

#[derive(Debug)]
struct State {
    markets: Vec<SimMarket>,
    balances: BTreeMap<String, (Decimal, Decimal)>,
    orders: Vec<SimOrder>,
    trades: Vec<SimTrade>,
    prices: BTreeMap<String, Decimal>,
    next_order: u64,
    next_trade: u64,
    fee_rate: Decimal,
    now_ms: i64,
}

/// The shared simulated venue; clones share state.
#[derive(Clone, Debug)]
pub struct SimVenue {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<SimEvent>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    /// Requests that reached an order-placing endpoint (including refused duplicates).
    pub placements: Arc<AtomicU64>,
    /// Orders actually created.
    pub created: Arc<AtomicU64>,
    /// Requests whose signature did not verify.
    pub bad_signatures: Arc<AtomicU64>,
    /// Every REST request seen.
    pub requests: Arc<AtomicU64>,
    kill_streams: broadcast::Sender<()>,
    refuse_streams: Arc<AtomicBool>,
}

impl SimVenue {
    /// A venue listing `markets` (`BASE/QUOTE`), with the balances given, last prices given,
    /// and a 0.1 % fee. The clock starts at 2024-01-02 00:00 UTC and advances 1 ms per event
    /// unless set.
    pub fn new(markets: &[&str], balances: &[(&str, &str)], prices: &[(&str, &str)]) -> Self {
        let parse = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        let markets = markets
            .iter()
            .filter_map(|m| m.split_once('/'))
            .map(|(b, q)| SimMarket {
                base: b.to_string(),
                quote: q.to_string(),
            })
            .collect();
        let state = State {
            markets,
            balances: balances
                .iter()
                .map(|(a, v)| ((*a).to_string(), (parse(v), Decimal::ZERO)))
                .collect(),
            orders: Vec::new(),
            trades: Vec::new(),
            prices: prices
                .iter()
                .map(|(s, p)| ((*s).to_string(), parse(p)))
                .collect(),
            next_order: 1,
            next_trade: 1,
            fee_rate: Decimal::new(1, 3),
            now_ms: 1_704_153_600_000,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            events: broadcast::channel(4096).0,
            faults: Arc::default(),
            placements: Arc::default(),
            created: Arc::default(),
            bad_signatures: Arc::default(),
            requests: Arc::default(),
            kill_streams: broadcast::channel(16).0,
            refuse_streams: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Markets listed.
    pub fn markets(&self) -> Vec<SimMarket> {
        self.lock().markets.clone()
    }

    /// The venue clock, ms.
    pub fn now_ms(&self) -> i64 {
        self.lock().now_ms
    }

    /// Sets the venue clock.
    pub fn set_now_ms(&self, ms: i64) {
        self.lock().now_ms = ms;
    }

    /// The last price of `symbol`.
    pub fn price(&self, symbol: &str) -> Option<Decimal> {
        self.lock().prices.get(symbol).copied()
    }

    /// Free and locked balance of every asset.
    pub fn balances(&self) -> Vec<(String, Decimal, Decimal)> {
        self.lock()
            .balances
            .iter()
            .map(|(a, (f, l))| (a.clone(), *f, *l))
            .collect()
    }

    /// Free balance of `asset`.
    pub fn free(&self, asset: &str) -> Decimal {
        self.lock()
            .balances
            .get(asset)
            .map_or(Decimal::ZERO, |b| b.0)
    }

    /// Subscribes to order and trade events.
    pub fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.events.subscribe()
    }

    /// Queues a fault for the next REST request.
    pub fn inject(&self, fault: Fault) {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(fault);
    }

    /// Takes the next queued fault (servers call this per request).
    pub fn take_fault(&self) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }

    /// Counts a REST request.
    pub fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Closes every open websocket connection now.
    pub fn drop_streams(&self) {
        let _ = self.kill_streams.send(());
    }

    /// A receiver that fires when [`SimVenue::drop_streams`] is called (servers select on it).
    pub fn stream_killer(&self) -> broadcast::Receiver<()> {
        self.kill_streams.subscribe()
    }

    /// While true, websocket upgrades are refused with 503 (an outage).
    pub fn refuse_streams(&self, refuse: bool) {
        self.refuse_streams.store(refuse, Ordering::SeqCst);
    }

    /// True while websocket upgrades are refused.
    pub fn streams_refused(&self) -> bool {
        self.refuse_streams.load(Ordering::SeqCst)
    }

    fn tick(st: &mut State) -> i64 {
        st.now_ms += 1;
        st.now_ms
    }

    /// Places an order.
    ///
    /// # Errors
    /// Why the venue refused it.
    pub fn place(
        &self,
        symbol: &str,
        side: Side,
        kind: Kind,
        qty: Decimal,
        client_id: &str,
    ) -> Result<SimOrder, Refusal> {
        self.placements.fetch_add(1, Ordering::SeqCst);
        let mut events = Vec::new();
        let result = {
            let mut st = self.lock();
            Self::place_locked(&mut st, symbol, side, kind, qty, client_id, &mut events)
        };
        if result.is_ok() {
            self.created.fetch_add(1, Ordering::SeqCst);
        }
        for e in events {
            let _ = self.events.send(e);
        }
        result
    }

    fn place_locked(
        st: &mut State,
        symbol: &str,
        side: Side,
        kind: Kind,
        qty: Decimal,
        client_id: &str,
        events: &mut Vec<SimEvent>,
    ) -> Result<SimOrder, Refusal> {
        let market = st
            .markets
            .iter()
            .find(|m| m.symbol() == symbol)
            .cloned()
            .ok_or(Refusal::UnknownSymbol)?;
        if qty <= Decimal::ZERO
            || matches!(kind, Kind::Limit(p) | Kind::Stop(p) if p <= Decimal::ZERO)
            || (matches!(kind, Kind::Stop(_)) && side == Side::Buy)
        {
            return Err(Refusal::BadOrder);
        }
        if !client_id.is_empty() && st.orders.iter().any(|o| o.client_id == client_id) {
            return Err(Refusal::DuplicateClientId);
        }
        let last = st
            .prices
            .get(symbol)
            .copied()
            .ok_or(Refusal::UnknownSymbol)?;
        let crosses = match (kind, side) {
            (Kind::Market, _) => true,
            (Kind::Limit(p), Side::Buy) => p >= last,
            (Kind::Limit(p), Side::Sell) => p <= last,
            // A stop the price has already passed would trigger at once: refused, as venues do.
            (Kind::Stop(t), _) if last <= t => return Err(Refusal::BadOrder),
            (Kind::Stop(_), _) => false,
        };
        let reserve_price = match kind {
            Kind::Limit(p) if !crosses => p,
            _ => last,
        };
        // Funds check (with the fee for buys).
        let (asset, need) = match side {
            Side::Buy => (
                market.quote,
                reserve_price * qty * (Decimal::ONE + st.fee_rate),
            ),
            Side::Sell => (market.base, qty),
        };
        if st.balances.get(&asset).map_or(Decimal::ZERO, |b| b.0) < need {
            return Err(Refusal::InsufficientFunds);
        }
        let now = Self::tick(st);
        let id = st.next_order;
        st.next_order += 1;
        let client_id = if client_id.is_empty() {
            format!("sim-{id}")
        } else {
            client_id.to_string()
        };
        let order = SimOrder {
            id,
            client_id,
            symbol: symbol.to_string(),
            side,
            kind,
            qty,
            filled: Decimal::ZERO,
            cost: Decimal::ZERO,
            status: Status::Open,
            created_ms: now,
            updated_ms: now,
        };
        st.orders.push(order);
        let idx = st.orders.len() - 1;
        if crosses {
            Self::fill_locked(st, idx, last, qty, false, events);
        } else {
            let b = st.balances.entry(asset).or_default();
            b.0 -= need;
            b.1 += need;
            events.push(SimEvent::Order(st.orders[idx].clone()));
        }
        Ok(st.orders[idx].clone())
    }

    fn fill_locked(
        st: &mut State,
        idx: usize,
        price: Decimal,
        qty: Decimal,
        maker: bool,
        events: &mut Vec<SimEvent>,
    ) {
        let now = Self::tick(st);
        let (symbol, side) = (st.orders[idx].symbol.clone(), st.orders[idx].side);
        let Some(market) = st.markets.iter().find(|m| m.symbol() == symbol).cloned() else {
            return;
        };
        let value = price * qty;
        let fee = (value * st.fee_rate).round_dp(8);
        match side {
            Side::Buy => {
                if maker {
                    // Release what was locked for this part at the limit price.
                    let lock = price * qty * (Decimal::ONE + st.fee_rate);
                    let b = st.balances.entry(market.quote.clone()).or_default();
                    b.1 -= lock;
                    b.0 += lock;
                }
                st.balances.entry(market.quote.clone()).or_default().0 -= value + fee;
                st.balances.entry(market.base.clone()).or_default().0 += qty;
            }
            Side::Sell => {
                if maker {
                    let b = st.balances.entry(market.base.clone()).or_default();
                    b.1 -= qty;
                    b.0 += qty;
                }
                st.balances.entry(market.base.clone()).or_default().0 -= qty;
                st.balances.entry(market.quote.clone()).or_default().0 += value - fee;
            }
        }
        let o = &mut st.orders[idx];
        o.filled += qty;
        o.cost += value;
        o.updated_ms = now;
        o.status = if o.filled >= o.qty {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        let order = o.clone();
        let trade = SimTrade {
            id: st.next_trade,
            order_id: order.id,
            client_id: order.client_id.clone(),
            symbol,
            side,
            price,
            qty,
            fee,
            fee_asset: market.quote,
            maker,
            ts_ms: now,
        };
        st.next_trade += 1;
        st.trades.push(trade.clone());
        events.push(SimEvent::Trade(trade, order));
    }

    /// Moves the last price; resting limit orders it reaches fill at their price (maker).
    pub fn set_price(&self, symbol: &str, price: Decimal) {
        let mut events = Vec::new();
        {
            let mut st = self.lock();
            st.prices.insert(symbol.to_string(), price);
            let hits: Vec<usize> = st
                .orders
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    o.symbol == symbol
                        && matches!(o.status, Status::Open | Status::PartiallyFilled)
                        && match (o.kind, o.side) {
                            (Kind::Limit(p), Side::Buy) => price <= p,
                            (Kind::Limit(p), Side::Sell) => price >= p,
                            (Kind::Stop(t), _) => price <= t,
                            (Kind::Market, _) => false,
                        }
                })
                .map(|(i, _)| i)
                .collect();
            for i in hits {
                let (p, rest) = (
                    st.orders[i].price().unwrap_or(price),
                    st.orders[i].qty - st.orders[i].filled,
                );
                // A triggered stop takes liquidity; a resting limit gives it.
                let maker = !matches!(st.orders[i].kind, Kind::Stop(_));
                Self::fill_locked(&mut st, i, p, rest, maker, &mut events);
            }
        }
        for e in events {
            let _ = self.events.send(e);
        }
    }

    /// Finds an order.
    pub fn get(&self, by: &Lookup) -> Option<SimOrder> {
        self.lock()
            .orders
            .iter()
            .find(|o| match by {
                Lookup::Id(id) => o.id == *id,
                Lookup::Client(c) => &o.client_id == c,
            })
            .cloned()
    }

    /// Cancels a resting order, releasing its locked funds.
    ///
    /// # Errors
    /// [`Refusal::UnknownOrder`] when there is no such open order.
    pub fn cancel(&self, by: &Lookup) -> Result<SimOrder, Refusal> {
        let order = {
            let mut st = self.lock();
            let fee_rate = st.fee_rate;
            let now = Self::tick(&mut st);
            let idx = st
                .orders
                .iter()
                .position(|o| match by {
                    Lookup::Id(id) => o.id == *id,
                    Lookup::Client(c) => &o.client_id == c,
                })
                .ok_or(Refusal::UnknownOrder)?;
            if !matches!(
                st.orders[idx].status,
                Status::Open | Status::PartiallyFilled
            ) {
                return Err(Refusal::UnknownOrder);
            }
            let o = st.orders[idx].clone();
            let market = st
                .markets
                .iter()
                .find(|m| m.symbol() == o.symbol)
                .cloned()
                .ok_or(Refusal::UnknownSymbol)?;
            let rest = o.qty - o.filled;
            let (asset, amount) = match (o.side, o.kind) {
                (Side::Buy, Kind::Limit(p)) => (market.quote, p * rest * (Decimal::ONE + fee_rate)),
                (Side::Sell, _) => (market.base, rest),
                (Side::Buy, Kind::Market | Kind::Stop(_)) => (market.quote, Decimal::ZERO),
            };
            let b = st.balances.entry(asset).or_default();
            b.1 -= amount;
            b.0 += amount;
            let o = &mut st.orders[idx];
            o.status = Status::Cancelled;
            o.updated_ms = now;
            o.clone()
        };
        let _ = self.events.send(SimEvent::Order(order.clone()));
        Ok(order)
    }

    /// Open orders, of one symbol or all.
    pub fn open_orders(&self, symbol: Option<&str>) -> Vec<SimOrder> {
        self.lock()
            .orders
            .iter()
            .filter(|o| matches!(o.status, Status::Open | Status::PartiallyFilled))
            .filter(|o| symbol.is_none_or(|s| o.symbol == s))
            .cloned()
            .collect()
    }

    /// Every order ever placed.
    pub fn orders(&self) -> Vec<SimOrder> {
        self.lock().orders.clone()
    }

    /// Fills on `symbol` at or after `since_ms`, oldest first.
    pub fn trades(&self, symbol: &str, since_ms: i64) -> Vec<SimTrade> {
        self.lock()
            .trades
            .iter()
            .filter(|t| t.symbol == symbol && t.ts_ms >= since_ms)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn limit_orders_rest_lock_funds_and_fill_as_maker() {
        let v = SimVenue::new(
            &["BTC/USDT"],
            &[("USDT", "10000")],
            &[("BTC/USDT", "30000")],
        );
        let o = v
            .place(
                "BTC/USDT",
                Side::Buy,
                Kind::Limit(d("29000")),
                d("0.1"),
                "a",
            )
            .unwrap();
        assert_eq!(o.status, Status::Open);
        assert_eq!(v.free("USDT"), d("10000") - d("2900") * d("1.001"));
        assert_eq!(
            v.place("BTC/USDT", Side::Buy, Kind::Market, d("0.01"), "a"),
            Err(Refusal::DuplicateClientId)
        );
        v.set_price("BTC/USDT", d("28900"));
        let o = v.get(&Lookup::Client("a".into())).unwrap();
        assert_eq!(o.status, Status::Filled);
        assert_eq!(o.avg_price(), Some(d("29000")));
        assert_eq!(v.free("BTC"), d("0.1"));
        // 2900 spent plus a 2.9 fee; nothing stays locked.
        assert_eq!(v.free("USDT"), d("7097.1"));
        assert!(v.balances().iter().all(|b| b.2.is_zero()));
        let t = v.trades("BTC/USDT", 0);
        assert_eq!(t.len(), 1);
        assert!(t[0].maker);
    }

    #[test]
    fn market_orders_fill_at_once_and_cancels_release_funds() {
        let v = SimVenue::new(
            &["BTC/USDT"],
            &[("USDT", "100"), ("BTC", "1")],
            &[("BTC/USDT", "30000")],
        );
        assert_eq!(
            v.place("BTC/USDT", Side::Buy, Kind::Market, d("1"), "x"),
            Err(Refusal::InsufficientFunds)
        );
        let s = v
            .place(
                "BTC/USDT",
                Side::Sell,
                Kind::Limit(d("31000")),
                d("0.5"),
                "s",
            )
            .unwrap();
        assert_eq!(v.free("BTC"), d("0.5"));
        v.cancel(&Lookup::Id(s.id)).unwrap();
        assert_eq!(v.free("BTC"), d("1"));
        assert_eq!(v.cancel(&Lookup::Id(s.id)), Err(Refusal::UnknownOrder));
        let m = v
            .place("BTC/USDT", Side::Sell, Kind::Market, d("0.5"), "m")
            .unwrap();
        assert_eq!(m.status, Status::Filled);
        assert_eq!(v.free("USDT"), d("100") + d("15000") - d("15"));
    }
}

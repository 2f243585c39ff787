//! The simulated venue: fills working orders against a bar, for backtests and paper trading.
//!
//! Order of processing within bar `t` of an instrument:
//! 1. Orders past their expiry bar expire.
//! 2. **Market orders** decided before bar `t` fill, in submission order (so an exit fills
//!    before the entry that follows it, and the entry is sized with the equity the exit left):
//!    at bar `t`'s open, or with the `close` fill model at bar `t − 1`'s close (the price the
//!    signal saw; the fill is booked on bar `t − 1`).
//! 3. **Resting orders** (limit, stop, stop-limit; protective stops and targets included, also
//!    those just placed on a step-2 fill) fill when the bar's range reaches them: at their
//!    price, or at the open if the bar opens beyond it (a gap). When several are reached in
//!    the same bar, the `next-open` and `close` models assume stops come first (the outcome
//!    worse for the trader); `intrabar` orders them along the bar's likely path: open, the
//!    nearer extreme, the farther extreme, close (ties: stops first). Brackets placed on a
//!    step-3 fill wait for the next bar (the path after a mid-bar fill is unknown).
//!
//! Prices are rounded to the instrument's tick, quantities down to its lot; an order below the
//! minimum quantity or value is rejected with the reason. Limit fills pay the maker fee,
//! others the taker fee plus slippage. With a volume share set, a bar fills at most that share
//! of its volume (bars with no volume data are not capped); the rest keeps working.

use rust_decimal::Decimal;
use skeet_core::{OrderStatus, Price, Quantity, Side, TimeInForce};

use crate::engine::{BarRef, Engine, FillModel};
use crate::order::{OrderIntent, Purpose, Size, Trigger};

#[derive(Clone, Copy, Debug)]
struct Touch {
    id: u64,
    time: f64,
    rank: u8,
    price: f64,
    maker: bool,
}

impl Engine {
    /// Fills instrument `i`'s working orders against bar `t`.
    #[inline]
    pub fn match_bar(&mut self, i: usize, t: usize, bar: &BarRef) {
        if self.slots[i].working != 0 {
            self.match_working(i, t, bar);
        }
    }

    fn match_working(&mut self, i: usize, t: usize, bar: &BarRef) {
        let mut volume_left = match self.cfg.slippage.volume_share {
            Some(share) if bar.volume > 0.0 => share * bar.volume,
            _ => f64::INFINITY,
        };
        let mut k = 0;
        while k < self.orders.len() {
            let o = &self.orders[k];
            if o.intent.instrument == i && o.intent.expires_bar.is_some_and(|e| e < t) {
                self.close_order(k, t, bar.ts, OrderStatus::Expired, "not filled in time");
            } else {
                k += 1;
            }
        }
        let phase_a_ids = self.next_id_peek();
        // With the close model, market orders fill at the signal bar's close and are booked
        // on that bar, at its close time.
        let (price_a, bar_a, ts_a) = match self.cfg.fill {
            FillModel::Close if !self.last_close[i].is_nan() && t > 0 => {
                (self.last_close[i], t - 1, self.last_close_ts[i])
            }
            _ => (bar.open, t, bar.ts),
        };
        let market: Vec<u64> = self
            .orders
            .iter()
            .filter(|o| {
                o.intent.instrument == i
                    && o.submitted_bar < t
                    && o.intent.trigger == Trigger::Market
            })
            .map(|o| o.id)
            .collect();
        for id in market {
            self.fill_by_id(
                id,
                t,
                bar_a,
                ts_a,
                price_a,
                false,
                true,
                &mut volume_left,
                bar,
            );
        }

        let phase_b_ids = self.next_id_peek();
        let mut touches: Vec<Touch> = Vec::new();
        for o in &self.orders {
            if o.intent.instrument != i || o.intent.trigger == Trigger::Market {
                continue;
            }
            let eligible = o.submitted_bar < t || (o.id >= phase_a_ids && o.id < phase_b_ids);
            if !eligible {
                continue;
            }
            if let Some((time, price, maker, is_stop)) =
                touch(o.intent.side, o.intent.trigger, bar, self.cfg.fill)
            {
                let first_bar = o.submitted_bar + 1 == t || o.id >= phase_a_ids;
                if o.intent.tif == TimeInForce::PostOnly && first_bar && time == 0.0 {
                    // Marketable on arrival: a post-only order is refused rather than taking.
                    touches.push(Touch {
                        id: o.id,
                        time: -1.0,
                        rank: 0,
                        price: f64::NAN,
                        maker,
                    });
                    continue;
                }
                touches.push(Touch {
                    id: o.id,
                    time,
                    rank: u8::from(!is_stop),
                    price,
                    maker,
                });
            }
        }
        touches.sort_by(|a, b| {
            a.time
                .total_cmp(&b.time)
                .then(a.rank.cmp(&b.rank))
                .then(a.id.cmp(&b.id))
        });
        for tch in touches {
            if tch.time < 0.0 {
                if let Some(k) = self.orders.iter().position(|o| o.id == tch.id) {
                    self.close_order(
                        k,
                        t,
                        bar.ts,
                        OrderStatus::Rejected,
                        "post-only order would have taken liquidity",
                    );
                }
                continue;
            }
            self.fill_by_id(
                tch.id,
                t,
                t,
                bar.ts,
                tch.price,
                tch.maker,
                false,
                &mut volume_left,
                bar,
            );
        }

        // Immediate-or-cancel / fill-or-kill orders do not outlive their first bar.
        let mut k = 0;
        while k < self.orders.len() {
            let o = &self.orders[k];
            let first = o.submitted_bar + 1 == t;
            if o.intent.instrument == i
                && first
                && matches!(o.intent.tif, TimeInForce::Ioc | TimeInForce::Fok)
            {
                self.close_order(
                    k,
                    t,
                    bar.ts,
                    OrderStatus::Cancelled,
                    "immediate-or-cancel remainder",
                );
            } else {
                k += 1;
            }
        }
    }

    /// Cancels instrument `i`'s working orders and closes its position at `bar`'s close as
    /// a market order would fill: taker fee, slippage, tick rounding. Ends a walk-forward
    /// test window with its result realised, as backtesting.py's `finalize_trades` does at
    /// the end of data.
    pub fn close_out(&mut self, i: usize, t: usize, bar: &BarRef) {
        let ts = bar.close_ts;
        self.cancel_where(t, ts, |o| o.intent.instrument == i, "end of test window");
        let held = self.account.qty_f(i);
        if held != 0.0 && bar.close.is_finite() {
            let intent = OrderIntent {
                instrument: i,
                side: if held > 0.0 { Side::Sell } else { Side::Buy },
                trigger: Trigger::Market,
                size: Size::ClosePosition,
                tif: TimeInForce::Gtc,
                expires_bar: None,
                purpose: Purpose::EndOfTest,
                oco: None,
            };
            if let Some(id) = self.submit(intent, t, ts) {
                let mut unlimited = f64::INFINITY;
                self.fill_by_id(id, t, t, ts, bar.close, false, true, &mut unlimited, bar);
            }
        }
    }

    /// The id the next order will get: orders with ids at or above a value read at some point
    /// were placed after it.
    fn next_id_peek(&self) -> u64 {
        self.next_id
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the fill context is passed flat to keep the hot path free of temporary structs"
    )]
    fn fill_by_id(
        &mut self,
        id: u64,
        t: usize,
        book_bar: usize,
        ts: i64,
        raw_price: f64,
        maker: bool,
        market: bool,
        volume_left: &mut f64,
        bar: &BarRef,
    ) {
        let Some(idx) = self.orders.iter().position(|o| o.id == id) else {
            return;
        };
        let (i, side, purpose, size, tif) = {
            let o = &self.orders[idx];
            (
                o.intent.instrument,
                o.intent.side,
                o.intent.purpose,
                o.intent.size,
                o.intent.tif,
            )
        };
        let inst = self.instruments[i].clone();
        let held = self.account.qty_f(i);
        if size == Size::ClosePosition {
            let wrong_side =
                (side == Side::Sell && held <= 0.0) || (side == Side::Buy && held >= 0.0);
            if wrong_side {
                self.close_order(idx, t, ts, OrderStatus::Cancelled, "no position to close");
                return;
            }
        }
        let fee_rate = if maker {
            inst.maker_fee
        } else {
            inst.taker_fee
        };
        let fee_rate_f = crate::account::to_f64(fee_rate);
        let slip = if maker {
            0.0
        } else {
            self.cfg.slippage.bps / 10_000.0
        };
        let dir = if side == Side::Buy { 1.0 } else { -1.0 };
        // On the tick grid before sizing, so the size is computed at the price actually paid:
        // taker fills round against the trader, maker (limit) fills in the trader's favour
        // (never worse than the limit, which is itself on the grid).
        let rounding = match (maker, side) {
            (false, Side::Buy) | (true, Side::Sell) => Round::Up,
            _ => Round::Down,
        };
        let (mut price_f, mut price_d) = on_tick(&inst, raw_price * (1.0 + dir * slip), rounding);

        // Quantity: resolved on the first fill, then fixed.
        let remaining =
            if self.orders[idx].quantity.is_some() && !self.orders[idx].order.filled.is_zero() {
                (self.orders[idx].order.request.quantity.as_decimal()
                    - self.orders[idx].order.filled.as_decimal())
                .max(Decimal::ZERO)
            } else {
                let units = self.resolve_size(&self.orders[idx], price_f, fee_rate_f);
                let _ = price_d;
                let units = if size == Size::ClosePosition {
                    self.account.position(i).quantity.abs()
                } else {
                    let (capped, _why) =
                        self.risk_cap(units, price_f, held * price_f, purpose.is_exit());
                    lot_down(&inst, capped)
                };
                if units.is_zero() {
                    let reason = match size {
                        Size::Quote(amount) => {
                            format!("quote amount {amount} buys less than one lot at {price_f}")
                        }
                        Size::Units(q) => {
                            format!("quantity {q} is less than one lot of {}", inst.lot_size)
                        }
                        _ => format!("not enough equity for one lot at {price_f}"),
                    };
                    self.close_order(idx, t, ts, OrderStatus::Rejected, &reason);
                    return;
                }
                if let Err(e) = inst.check_order(
                    Quantity::new(units).unwrap_or(Quantity::ZERO),
                    Price::new(price_d),
                ) {
                    self.close_order(idx, t, ts, OrderStatus::Rejected, &e.to_string());
                    return;
                }
                let o = &mut self.orders[idx];
                o.quantity = Some(crate::account::to_f64(units));
                o.order.request.quantity = Quantity::new(units).unwrap_or(Quantity::ZERO);
                units
            };
        let mut qty = remaining;
        if size == Size::ClosePosition {
            // Several exits may work at once (a stop, a target, a trailing stop) and fill in
            // parts; none may sell more than is still held, or a long would turn short.
            qty = qty.min(self.account.position(i).quantity.abs());
        }
        if volume_left.is_finite() {
            let cap = lot_down(&inst, volume_left.max(0.0));
            if tif == TimeInForce::Fok && cap < qty {
                self.close_order(
                    idx,
                    t,
                    ts,
                    OrderStatus::Cancelled,
                    "fill-or-kill: not enough volume",
                );
                return;
            }
            qty = qty.min(cap);
            if let Some(share) = self.cfg.slippage.volume_share
                && !maker
                && bar.volume > 0.0
            {
                let taken = crate::account::to_f64(qty) / (share * bar.volume);
                (price_f, price_d) = on_tick(
                    &inst,
                    price_f * (1.0 + dir * self.cfg.slippage.bps / 10_000.0 * taken),
                    rounding,
                );
            }
        }
        if qty.is_zero() {
            return;
        }
        // Spot (leverage 1): a buy that opens or adds to a long position must be paid for.
        let opening = (side == Side::Buy && held >= 0.0) || (side == Side::Sell && held <= 0.0);
        if opening {
            let affordable = if side == Side::Buy && self.cfg.leverage <= 1.0 {
                // Exact: spot cash must cover the cost and the fee.
                let fee_d = price_d * qty * fee_rate;
                self.account.cash() >= price_d * qty + fee_d
            } else {
                // Margin (shorts, leverage): the positions after the fill, valued at the fill
                // price for this instrument and the last close for the others, must be worth
                // at most equity × leverage, equity taken before the fill at those prices.
                // Exact decimal arithmetic, so the check is as strict as the ledger.
                let mut equity = self.account.cash();
                let mut exposure = Decimal::ZERO;
                for j in 0..self.instruments.len() {
                    let q = self.account.position(j).quantity;
                    let px = if j == i {
                        price_d
                    } else {
                        Price::try_from_f64(self.last_close_or(j, price_f))
                            .map_or(Decimal::ZERO, Price::as_decimal)
                    };
                    equity += q * px;
                    let after = if j == i { q + side.sign() * qty } else { q };
                    exposure += (after * px).abs();
                }
                let leverage = Decimal::try_from(self.cfg.leverage).unwrap_or(Decimal::ONE);
                exposure <= equity * leverage
            };
            if !affordable {
                self.close_order(
                    idx,
                    t,
                    ts,
                    OrderStatus::Rejected,
                    &format!(
                        "insufficient funds for {qty} at {price_d} (cash {})",
                        self.account.cash().round_dp(2)
                    ),
                );
                return;
            }
        }
        let price = Price::new(price_d);
        let q = Quantity::new(qty).unwrap_or(Quantity::ZERO);
        let fee = price.as_decimal() * qty * fee_rate;
        if volume_left.is_finite() {
            *volume_left -= crate::account::to_f64(qty);
        }
        let _ = market;
        self.apply_fill(idx, book_bar, ts, q, price, fee, maker);
    }

    fn last_close_or(&self, j: usize, price: f64) -> f64 {
        let c = self.last_close[j];
        if c.is_nan() { price } else { c }
    }

    fn risk_cap(
        &self,
        qty: f64,
        price: f64,
        position_value: f64,
        is_exit: bool,
    ) -> (f64, Option<String>) {
        crate::risk::RiskManager::new(self.cfg.risk.clone()).cap_quantity(
            qty,
            price,
            position_value,
            is_exit,
        )
    }
}

/// Direction of tick rounding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    Up,
    Down,
}

/// `x` on the instrument's tick grid (exactly, as a whole number of ticks), rounded in the
/// given direction; values within 1e-9 of a tick count as on it. Without a tick size, the
/// shortest decimal equal to `x`.
pub(crate) fn on_tick(inst: &skeet_core::Instrument, x: f64, dir: Round) -> (f64, Decimal) {
    if inst.tick_size.is_zero() || !x.is_finite() {
        let d = Price::try_from_f64(x).map_or(Decimal::ZERO, Price::as_decimal);
        return (x, d);
    }
    let tick = crate::account::to_f64(inst.tick_size);
    let ticks = x / tick;
    let nearest = ticks.round();
    let n = if (ticks - nearest).abs() < 1e-9 {
        nearest
    } else if dir == Round::Up {
        ticks.ceil()
    } else {
        ticks.floor()
    };
    let d = (Decimal::from_i128_with_scale(n as i128, 0) * inst.tick_size).normalize();
    (crate::account::to_f64(d), d)
}

/// Decimal places kept for quantities of an instrument without a lot size.
const FREE_LOT_DECIMALS: u32 = 10;

/// `units` rounded down to whole lots (to 10 decimal places when the instrument has no lot
/// size), exactly: the lot count is an integer and lot × count is a decimal product.
fn lot_down(inst: &skeet_core::Instrument, units: f64) -> Decimal {
    if !(units.is_finite() && units > 0.0) {
        return Decimal::ZERO;
    }
    if inst.lot_size.is_zero() {
        let scaled = (units * 1e10).floor();
        if scaled < 7.9e28 {
            return Decimal::from_i128_with_scale(scaled as i128, FREE_LOT_DECIMALS).normalize();
        }
        return Decimal::ZERO;
    }
    let lot = crate::account::to_f64(inst.lot_size);
    let lots = (units / lot).floor();
    // The float division can land one below an exact multiple (0.3 / 0.1 = 2.9999…); check the
    // next lot exactly.
    let mut count = Decimal::from_i128_with_scale(lots.max(0.0) as i128, 0);
    let next = (count + Decimal::ONE) * inst.lot_size;
    if crate::account::to_f64(next) <= units {
        count += Decimal::ONE;
    }
    (count * inst.lot_size).normalize()
}

/// When and where a resting order is reached in `bar`: `(time along the bar, price, maker,
/// is_stop)`, or `None`.
fn touch(
    side: Side,
    trigger: Trigger,
    bar: &BarRef,
    model: FillModel,
) -> Option<(f64, f64, bool, bool)> {
    let up = |x: f64| {
        if bar.open >= x {
            Some(0.0)
        } else if bar.high >= x {
            Some(time_at(bar, x, true, model))
        } else {
            None
        }
    };
    let down = |x: f64| {
        if bar.open <= x {
            Some(0.0)
        } else if bar.low <= x {
            Some(time_at(bar, x, false, model))
        } else {
            None
        }
    };
    match (trigger, side) {
        (Trigger::Limit { price }, Side::Buy) => {
            down(price).map(|t| (t, if t == 0.0 { bar.open } else { price }, true, false))
        }
        (Trigger::Limit { price }, Side::Sell) => {
            up(price).map(|t| (t, if t == 0.0 { bar.open } else { price }, true, false))
        }
        (Trigger::Stop { price }, Side::Buy) => {
            up(price).map(|t| (t, if t == 0.0 { bar.open } else { price }, false, true))
        }
        (Trigger::Stop { price }, Side::Sell) => {
            down(price).map(|t| (t, if t == 0.0 { bar.open } else { price }, false, true))
        }
        (Trigger::StopLimit { stop, limit }, Side::Buy) => {
            let t = up(stop)?;
            let p = if t == 0.0 { bar.open } else { stop };
            if p <= limit {
                Some((t, p, false, true))
            } else if bar.low <= limit {
                Some((t.max(time_at(bar, limit, false, model)), limit, true, false))
            } else {
                None
            }
        }
        (Trigger::StopLimit { stop, limit }, Side::Sell) => {
            let t = down(stop)?;
            let p = if t == 0.0 { bar.open } else { stop };
            if p >= limit {
                Some((t, p, false, true))
            } else if bar.high >= limit {
                Some((t.max(time_at(bar, limit, true, model)), limit, true, false))
            } else {
                None
            }
        }
        (Trigger::Market, _) => None,
    }
}

/// Position along the bar's path (0 at the open) where the price first reaches `x` on the high
/// side (`high_side`) or the low side. Conservative models give every intrabar touch time 1
/// (so the rank, stops first, decides).
fn time_at(bar: &BarRef, x: f64, high_side: bool, model: FillModel) -> f64 {
    if model != FillModel::Intrabar {
        return 1.0;
    }
    let up_first = (bar.high - bar.open) < (bar.open - bar.low);
    let range = (bar.high - bar.low).max(f64::MIN_POSITIVE);
    match (up_first, high_side) {
        (true, true) => (x - bar.open) / (bar.high - bar.open).max(f64::MIN_POSITIVE),
        (true, false) => 1.0 + (bar.high - x) / range,
        (false, false) => (bar.open - x) / (bar.open - bar.low).max(f64::MIN_POSITIVE),
        (false, true) => 1.0 + (x - bar.low) / range,
    }
}

#[allow(dead_code)]
fn purpose_is_bracket(p: Purpose) -> bool {
    matches!(
        p,
        Purpose::StopLoss | Purpose::TakeProfit | Purpose::TrailingStop
    )
}

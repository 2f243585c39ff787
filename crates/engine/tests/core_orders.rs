//! Property tests of the trading vocabulary the engine builds on (`skeet_core`): the order
//! state machine and exact position accounting.
//!
//! - [`Order::apply`] accepts exactly the transitions of the diagram in `skeet_core::order`
//!   (checked against an independent table here), leaves the order untouched when it refuses,
//!   never lets the filled quantity exceed the order's, and never leaves a terminal state.
//! - [`Position::apply_fill`] keeps realised plus unrealised PnL minus fees equal to the cash
//!   the fills moved plus the position's value, exactly.

#![expect(
    clippy::unwrap_used,
    reason = "generated inputs are valid by construction; a failure must be loud"
)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use skeet_core::{
    ClientOrderId, Currency, Fill, InstrumentId, Money, Order, OrderEvent, OrderKind, OrderRequest,
    OrderStatus, Position, Price, Quantity, Side, TimeInForce, UnixNanos,
};

#[derive(Clone, Copy, Debug)]
enum Op {
    Submit,
    Accept,
    Reject,
    Cancel,
    Expire,
    Fill {
        /// Units in thousandths.
        qty: i64,
        /// Cents.
        price: i64,
        wrong_side: bool,
        wrong_id: bool,
    },
}

fn instrument() -> InstrumentId {
    "binance:BTC/USDT".parse().unwrap()
}

fn usdt(amount: Decimal) -> Money {
    Money::new(amount, Currency::new("USDT").unwrap())
}

fn milli(k: i64) -> Decimal {
    Decimal::new(k, 3)
}

/// The status an event leads to from `from`, per the module diagram; `None` if illegal.
/// Fills are decided by the caller (they also depend on quantities).
fn table(from: OrderStatus, op: &Op) -> Option<OrderStatus> {
    use OrderStatus as S;
    match (op, from) {
        (Op::Submit, S::New) => Some(S::Submitted),
        (Op::Accept, S::Submitted) => Some(S::Accepted),
        (Op::Reject, S::New | S::Submitted | S::Accepted) => Some(S::Rejected),
        (Op::Cancel, S::New | S::Submitted | S::Accepted | S::PartiallyFilled) => {
            Some(S::Cancelled)
        }
        (Op::Expire, S::Submitted | S::Accepted | S::PartiallyFilled) => Some(S::Expired),
        _ => None,
    }
}

fn arb_op(max_qty: i64) -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Submit),
        2 => Just(Op::Accept),
        1 => Just(Op::Reject),
        1 => Just(Op::Cancel),
        1 => Just(Op::Expire),
        6 => (
            0..=max_qty + 2,
            1i64..100_000,
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(qty, price, wrong_side, wrong_id)| Op::Fill {
                qty,
                price,
                wrong_side,
                wrong_id,
            }),
    ]
}

fn arb_script() -> impl Strategy<Value = (i64, Side, Vec<Op>)> {
    (1i64..20_000, any::<bool>()).prop_flat_map(|(qty, buy)| {
        let side = if buy { Side::Buy } else { Side::Sell };
        (
            Just(qty),
            Just(side),
            prop::collection::vec(arb_op(qty), 0..40),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn prop_order_accepts_exactly_the_legal_transitions((qty, side, ops) in arb_script()) {
        let id = ClientOrderId::new("bot1-000001").unwrap();
        let other_id = ClientOrderId::new("bot1-000002").unwrap();
        let quantity = milli(qty);
        let request = OrderRequest {
            client_order_id: id,
            instrument: instrument(),
            side,
            quantity: Quantity::new(quantity).unwrap(),
            kind: OrderKind::Market,
            time_in_force: TimeInForce::Gtc,
            reduce_only: false,
        };
        let mut order = Order::new(request, UnixNanos::new(0));
        let mut filled = Decimal::ZERO;
        let mut notional = Decimal::ZERO;
        let mut fill_prices: Vec<Decimal> = Vec::new();
        for (k, op) in ops.iter().enumerate() {
            let ts = UnixNanos::new(k as i64 + 1);
            let before = order.clone();
            let (event, expected) = match *op {
                Op::Submit => (OrderEvent::Submitted { ts }, table(before.status, op)),
                Op::Accept => (OrderEvent::Accepted { ts }, table(before.status, op)),
                Op::Reject => (
                    OrderEvent::Rejected { ts, reason: "risk".into() },
                    table(before.status, op),
                ),
                Op::Cancel => (OrderEvent::Cancelled { ts }, table(before.status, op)),
                Op::Expire => (OrderEvent::Expired { ts }, table(before.status, op)),
                Op::Fill { qty: q, price, wrong_side, wrong_id } => {
                    let fill = Fill {
                        client_order_id: if wrong_id { other_id } else { id },
                        instrument: instrument(),
                        side: if wrong_side { side.opposite() } else { side },
                        quantity: Quantity::new(milli(q)).unwrap(),
                        price: Price::new(Decimal::new(price, 2)),
                        fee: usdt(Decimal::ZERO),
                        maker: false,
                        ts,
                    };
                    let after = filled + milli(q);
                    let legal = before.status.is_open()
                        && q > 0
                        && after <= quantity
                        && !wrong_side
                        && !wrong_id;
                    let to = if after == quantity {
                        OrderStatus::Filled
                    } else {
                        OrderStatus::PartiallyFilled
                    };
                    (OrderEvent::Filled(fill), legal.then_some(to))
                }
            };
            let result = order.apply(&event);
            match expected {
                Some(to) => {
                    prop_assert!(result.is_ok(), "step {}: {:?} from {:?}: {:?}", k, op, before.status, result);
                    prop_assert_eq!(order.status, to);
                    prop_assert_eq!(order.ts_last, ts);
                    if let OrderEvent::Filled(f) = &event {
                        filled += f.quantity.as_decimal();
                        notional += f.price.as_decimal() * f.quantity.as_decimal();
                        fill_prices.push(f.price.as_decimal());
                    }
                }
                None => {
                    let err = result.unwrap_err();
                    prop_assert_eq!(err.from, before.status);
                    prop_assert_eq!(err.client_order_id, id);
                    prop_assert_eq!(&order, &before, "a refused event changed the order");
                }
            }
            if before.status.is_terminal() {
                prop_assert_eq!(&order, &before, "a terminal order changed");
            }
            prop_assert_eq!(order.filled.as_decimal(), filled);
            prop_assert_eq!(order.filled_notional, notional);
            prop_assert!(order.filled <= order.request.quantity);
            prop_assert_eq!(order.remaining().as_decimal(), quantity - filled);
            prop_assert_eq!(order.status == OrderStatus::Filled, filled == quantity);
            if order.status == OrderStatus::PartiallyFilled {
                prop_assert!(filled > Decimal::ZERO && filled < quantity);
            }
            if let Some(avg) = order.avg_fill_price() {
                let lo = fill_prices.iter().min().unwrap();
                let hi = fill_prices.iter().max().unwrap();
                prop_assert!(*lo <= avg.as_decimal() && avg.as_decimal() <= *hi);
            }
        }
    }

    #[test]
    fn prop_position_pnl_is_exactly_the_cash_the_fills_moved(
        fills in prop::collection::vec(
            (any::<bool>(), 1i64..5_000, 1i64..100_000, 0i64..500),
            1..30,
        ),
        mark in 1i64..100_000,
    ) {
        let id = ClientOrderId::new("bot1-000001").unwrap();
        let mut position = Position::flat(instrument());
        let mut cash = Decimal::ZERO;
        let mut held = Decimal::ZERO;
        let mark = Price::new(Decimal::new(mark, 2));
        for (buy, qty, price, fee) in fills {
            let side = if buy { Side::Buy } else { Side::Sell };
            let (qty, price, fee) = (milli(qty), Decimal::new(price, 2), Decimal::new(fee, 2));
            position.apply_fill(&Fill {
                client_order_id: id,
                instrument: instrument(),
                side,
                quantity: Quantity::new(qty).unwrap(),
                price: Price::new(price),
                fee: usdt(fee),
                maker: false,
                ts: UnixNanos::new(1),
            });
            cash -= side.sign() * price * qty + fee;
            held += side.sign() * qty;
            prop_assert_eq!(position.quantity, held);
            prop_assert_eq!(
                position.realized_pnl + position.unrealized_pnl(mark) - position.fees,
                cash + held * mark.as_decimal(),
                "realised + unrealised - fees drifted from the cash flows ({:?})",
                position
            );
        }
    }
}

/// The smallest case of the property above: an average entry price that does not terminate
/// in decimal (300.5 / 3) must not leak rounding into realised PnL.
#[test]
fn realised_pnl_after_scaling_in_is_exact() {
    let id = ClientOrderId::new("bot1-000001").unwrap();
    let fill = |side: Side, qty: i64, price: &str| Fill {
        client_order_id: id,
        instrument: instrument(),
        side,
        quantity: Quantity::new(Decimal::from(qty)).unwrap(),
        price: price.parse().unwrap(),
        fee: usdt(Decimal::ZERO),
        maker: false,
        ts: UnixNanos::new(1),
    };
    let mut p = Position::flat(instrument());
    p.apply_fill(&fill(Side::Buy, 1, "100.1"));
    p.apply_fill(&fill(Side::Buy, 2, "100.2"));
    let pnl = p.apply_fill(&fill(Side::Sell, 3, "101"));
    // Bought for 300.5, sold for 303.
    assert_eq!(pnl, "2.5".parse::<Decimal>().unwrap());
    assert!(p.is_flat());
}

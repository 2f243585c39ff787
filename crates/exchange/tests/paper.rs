//! The paper venue: fills by the backtest engine's rules (checked against the engine itself),
//! exact balances, refusals before resting, idempotent placement and the user stream.

#![allow(clippy::unwrap_used, reason = "test")]

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use skeet_core::{
    Bar, ClientOrderId, Currency, Instrument, InstrumentId, OrderKind, Price, Side, Symbol,
    TimeInForce, UnixNanos, Venue,
};
use skeet_engine::{
    BarRef, Engine, EngineConfig, EventKind, FillModel, OrderIntent, Purpose, RiskLimits, Size,
    Slippage, Trigger,
};
use skeet_exchange::venues::paper::{Paper, PaperConfig, PaperFill};
use skeet_exchange::{
    ErrorKind, EventStream, Exchange, Market, MarketStatus, NewOrder, OrderRef, OrderState,
    StreamEvent, submit,
};

const HOUR_NS: i64 = 3_600_000_000_000;
const T0_NS: i64 = 1_700_000_000_000_000_000;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn market() -> Market {
    Market {
        symbol: "BTC/USDT".into(),
        venue_symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        status: MarketStatus::Trading,
        tick_size: d("0.01"),
        step_size: d("0.001"),
        min_qty: d("0.001"),
        min_notional: d("10"),
    }
}

/// A venue with 10 000 USDT (and `btc` BTC), maker 0.05 %, taker 0.1 %, 10 bps slippage.
fn venue(btc: &str, fill: PaperFill) -> Paper {
    Paper::new(PaperConfig {
        markets: vec![market()],
        balances: [("USDT".into(), d("10000")), ("BTC".into(), d(btc))].into(),
        maker_fee: d("0.0005"),
        taker_fee: d("0.001"),
        slippage_bps: d("10"),
        fill,
        source: None,
    })
}

fn bar(t: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
    Bar::new(UnixNanos::new(T0_NS + t * HOUR_NS), o, h, l, c, 10.0).unwrap()
}

fn order(cid: &str, side: Side, kind: OrderKind, qty: &str) -> NewOrder {
    NewOrder {
        symbol: "BTC/USDT".into(),
        side,
        kind,
        quantity: d(qty),
        time_in_force: TimeInForce::Gtc,
        client_order_id: ClientOrderId::new(cid).unwrap(),
    }
}

fn limit(p: &str) -> OrderKind {
    OrderKind::Limit {
        price: Price::new(d(p)),
    }
}

fn stop(p: &str) -> OrderKind {
    OrderKind::Stop {
        trigger: Price::new(d(p)),
    }
}

/// (free, locked) of `asset`; zero when the venue lists nothing.
async fn bal(ex: &Paper, asset: &str) -> (Decimal, Decimal) {
    ex.balances()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.asset == asset)
        .map_or((Decimal::ZERO, Decimal::ZERO), |b| (b.free, b.locked))
}

async fn next(s: &mut EventStream) -> StreamEvent {
    tokio::time::timeout(Duration::from_secs(2), s.next())
        .await
        .expect("an event in time")
        .expect("stream open")
        .expect("no stream error")
}

#[tokio::test]
async fn market_order_fills_at_the_next_open_with_slippage_and_the_taker_fee() {
    let ex = venue("0", PaperFill::NextOpen);
    ex.on_bar("BTC/USDT", bar(0, 29_900.0, 30_100.0, 29_800.0, 30_000.0));
    let placed = ex
        .create_order(&order("m-1", Side::Buy, OrderKind::Market, "0.1"))
        .await
        .unwrap();
    assert_eq!(placed.state, OrderState::Open);
    // Locked: the last close plus slippage, plus the taker fee: 3003 + 3.003.
    assert_eq!(bal(&ex, "USDT").await, (d("6993.997"), d("3006.003")));

    ex.on_bar("BTC/USDT", bar(1, 30_100.5, 30_300.0, 30_050.0, 30_200.0));
    let o = ex
        .fetch_order("BTC/USDT", &OrderRef::Venue(placed.venue_order_id.clone()))
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Filled);
    // 30100.5 × 1.001 = 30130.6005, up to the tick against the buyer.
    assert_eq!(o.avg_price, Some(d("30130.61")));
    let fills = ex.my_trades("BTC/USDT", 0).await.unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert!(!f.maker);
    assert_eq!((f.fee, f.fee_asset.as_str()), (d("3.013061"), "USDT"));
    assert_eq!(f.ts_ms, (T0_NS + HOUR_NS) / 1_000_000);
    // 10000 − 3013.061 − 3.013061, the unused lock returned.
    assert_eq!(bal(&ex, "USDT").await, (d("6983.925939"), Decimal::ZERO));
    assert_eq!(bal(&ex, "BTC").await, (d("0.1"), Decimal::ZERO));
}

#[tokio::test]
async fn a_limit_buy_rests_locked_and_fills_as_maker_at_its_price_or_the_open_on_a_gap() {
    let ex = venue("0", PaperFill::NextOpen);
    ex.create_order(&order("l-1", Side::Buy, limit("29000"), "0.1"))
        .await
        .unwrap();
    // 2900 + 1.45 maker fee held.
    assert_eq!(bal(&ex, "USDT").await, (d("7098.55"), d("2901.45")));
    ex.on_bar("BTC/USDT", bar(0, 29_500.0, 29_600.0, 29_400.0, 29_450.0));
    assert_eq!(ex.open_orders(Some("BTC/USDT")).await.unwrap().len(), 1);
    ex.on_bar("BTC/USDT", bar(1, 29_300.0, 29_400.0, 28_950.0, 29_100.0));
    let f = &ex.my_trades("BTC/USDT", 0).await.unwrap()[0];
    assert!(f.maker);
    assert_eq!((f.price, f.fee), (d("29000"), d("1.45")));
    assert_eq!(bal(&ex, "USDT").await, (d("7098.55"), Decimal::ZERO));

    // Gap down through the limit: the open, no slippage, maker fee.
    ex.create_order(&order("l-2", Side::Buy, limit("28500"), "0.1"))
        .await
        .unwrap();
    ex.on_bar("BTC/USDT", bar(2, 28_000.25, 28_100.0, 27_900.0, 28_050.0));
    let f = &ex.my_trades("BTC/USDT", 0).await.unwrap()[1];
    assert!(f.maker);
    assert_eq!((f.price, f.fee), (d("28000.25"), d("1.4000125")));
    // 7098.55 − 2800.025 − 1.4000125: the lock at 28500 is released in full.
    assert_eq!(bal(&ex, "USDT").await, (d("4297.1249875"), Decimal::ZERO));
    assert_eq!(bal(&ex, "BTC").await, (d("0.2"), Decimal::ZERO));
}

#[tokio::test]
async fn stops_trigger_with_slippage_at_their_price_or_the_gap_open() {
    let ex = venue("1", PaperFill::NextOpen);
    ex.create_order(&order("s-1", Side::Sell, stop("29000"), "0.5"))
        .await
        .unwrap();
    ex.create_order(&order("s-2", Side::Sell, stop("30000"), "0.2"))
        .await
        .unwrap();
    assert_eq!(bal(&ex, "BTC").await, (d("0.3"), d("0.7")));
    // Opens below 30000 (gap through s-2), trades down through 29000 (s-1).
    ex.on_bar("BTC/USDT", bar(0, 29_500.0, 29_600.0, 28_800.0, 29_100.0));
    let fills = ex.my_trades("BTC/USDT", 0).await.unwrap();
    let got: Vec<_> = fills
        .iter()
        .map(|f| (f.client_order_id.clone().unwrap(), f.price, f.fee, f.maker))
        .collect();
    // s-2 is reached at the open, so it fills first: 29500 × 0.999; then s-1: 29000 × 0.999.
    assert_eq!(
        got,
        vec![
            ("s-2".to_string(), d("29470.5"), d("5.8941"), false),
            ("s-1".to_string(), d("28971"), d("14.4855"), false),
        ]
    );
    // 10000 + 5894.1 − 5.8941 + 14485.5 − 14.4855
    assert_eq!(bal(&ex, "USDT").await, (d("30359.2204"), Decimal::ZERO));
    assert_eq!(bal(&ex, "BTC").await, (d("0.3"), Decimal::ZERO));
}

#[tokio::test]
async fn cancel_releases_the_lock_and_the_order_no_longer_fills() {
    let ex = venue("0", PaperFill::NextOpen);
    ex.create_order(&order("c-1", Side::Buy, limit("29000"), "0.1"))
        .await
        .unwrap();
    let r = OrderRef::Client("c-1".into());
    let c = ex.cancel_order("BTC/USDT", &r).await.unwrap();
    assert_eq!(c.state, OrderState::Cancelled);
    assert_eq!(bal(&ex, "USDT").await, (d("10000"), Decimal::ZERO));
    assert!(ex.open_orders(None).await.unwrap().is_empty());
    assert_eq!(
        ex.cancel_order("BTC/USDT", &r).await.unwrap_err().kind,
        ErrorKind::UnknownOrder
    );
    ex.on_bar("BTC/USDT", bar(0, 28_000.0, 28_100.0, 27_900.0, 28_050.0));
    assert!(ex.my_trades("BTC/USDT", 0).await.unwrap().is_empty());
    assert_eq!(bal(&ex, "USDT").await, (d("10000"), Decimal::ZERO));
}

#[tokio::test]
async fn bad_orders_are_refused_before_resting() {
    let ex = venue("0.01", PaperFill::NextOpen);
    let cases = [
        // A market order needs a price to be checked and funded.
        (
            order("r-0", Side::Buy, OrderKind::Market, "0.1"),
            ErrorKind::InvalidOrder,
        ),
        (
            order("r-1", Side::Buy, limit("30000"), "1"),
            ErrorKind::InsufficientFunds,
        ),
        (
            order("r-2", Side::Sell, limit("30000"), "0.02"),
            ErrorKind::InsufficientFunds,
        ),
        (
            order("r-3", Side::Buy, limit("30000"), "0.0015"),
            ErrorKind::InvalidOrder,
        ),
        (
            order("r-4", Side::Buy, limit("30000.005"), "0.1"),
            ErrorKind::InvalidOrder,
        ),
        (
            order("r-5", Side::Buy, limit("3000"), "0.001"),
            ErrorKind::InvalidOrder,
        ),
        (
            NewOrder {
                symbol: "ETH/USDT".into(),
                ..order("r-6", Side::Buy, limit("3000"), "0.1")
            },
            ErrorKind::InvalidOrder,
        ),
    ];
    for (o, kind) in &cases {
        let e = ex.create_order(o).await.unwrap_err();
        assert_eq!(e.kind, *kind, "{}: {e}", o.client_order_id.as_str());
    }
    assert!(ex.open_orders(None).await.unwrap().is_empty());
    assert_eq!(bal(&ex, "USDT").await, (d("10000"), Decimal::ZERO));
    assert_eq!(bal(&ex, "BTC").await, (d("0.01"), Decimal::ZERO));
}

#[tokio::test]
async fn a_repeated_client_id_is_refused_and_submit_returns_the_existing_order() {
    let ex = venue("0", PaperFill::NextOpen);
    let o = order("dup-1", Side::Buy, limit("29000"), "0.1");
    let first = ex.create_order(&o).await.unwrap();
    let e = ex.create_order(&o).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateOrder);
    let again = submit(&ex, &o, 3).await.unwrap();
    assert_eq!(again.venue_order_id, first.venue_order_id);
    assert_eq!(ex.open_orders(None).await.unwrap().len(), 1);
    // Only one order's funds are held.
    assert_eq!(bal(&ex, "USDT").await, (d("7098.55"), d("2901.45")));
}

#[tokio::test]
async fn the_user_stream_delivers_the_order_then_its_fill() {
    let ex = venue("0", PaperFill::NextOpen);
    let mut s = ex.user_stream(vec!["BTC/USDT".into()]).await.unwrap();
    let placed = ex
        .create_order(&order("u-1", Side::Buy, limit("29000"), "0.1"))
        .await
        .unwrap();
    match next(&mut s).await {
        StreamEvent::Order(o) => assert_eq!(
            (o.state, o.venue_order_id),
            (OrderState::Open, placed.venue_order_id.clone())
        ),
        other => panic!("expected the order, got {other:?}"),
    }
    ex.on_bar("BTC/USDT", bar(0, 29_100.0, 29_200.0, 28_900.0, 29_000.0));
    match next(&mut s).await {
        StreamEvent::Fill(f) => {
            assert_eq!(f.client_order_id.as_deref(), Some("u-1"));
            assert_eq!((f.price, f.quantity), (d("29000"), d("0.1")));
        }
        other => panic!("expected the fill, got {other:?}"),
    }
    match next(&mut s).await {
        StreamEvent::Order(o) => assert_eq!(o.state, OrderState::Filled),
        other => panic!("expected the filled order, got {other:?}"),
    }
}

#[tokio::test]
async fn a_round_trip_leaves_the_hand_computed_balances() {
    let ex = venue("0", PaperFill::NextOpen);
    ex.on_bar("BTC/USDT", bar(0, 29_900.0, 30_100.0, 29_800.0, 30_000.0));
    ex.create_order(&order("rt-1", Side::Buy, OrderKind::Market, "0.2"))
        .await
        .unwrap();
    // Buy at 30000 × 1.001 = 30030: 6006 + 6.006 fee.
    ex.on_bar("BTC/USDT", bar(1, 30_000.0, 30_500.0, 29_900.0, 30_400.0));
    assert_eq!(bal(&ex, "USDT").await, (d("3987.994"), Decimal::ZERO));
    ex.create_order(&order("rt-2", Side::Sell, OrderKind::Market, "0.2"))
        .await
        .unwrap();
    assert_eq!(bal(&ex, "BTC").await, (Decimal::ZERO, d("0.2")));
    // Sell at 31000 × 0.999 = 30969: 6193.8 − 6.1938 fee.
    ex.on_bar("BTC/USDT", bar(2, 31_000.0, 31_100.0, 30_900.0, 31_050.0));
    let all = ex.balances().await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (all[0].asset.as_str(), all[0].free, all[0].locked),
        ("USDT", d("10175.6002"), Decimal::ZERO)
    );
}

#[tokio::test]
async fn post_only_and_ioc_follow_the_engine() {
    let ex = venue("0", PaperFill::NextOpen);
    let post = NewOrder {
        time_in_force: TimeInForce::PostOnly,
        ..order("po-1", Side::Buy, limit("29500"), "0.1")
    };
    let ioc = NewOrder {
        time_in_force: TimeInForce::Ioc,
        ..order("ioc-1", Side::Buy, limit("28000"), "0.1")
    };
    ex.create_order(&post).await.unwrap();
    ex.create_order(&ioc).await.unwrap();
    // Opens below the post-only limit: it would take, so it is rejected; the IOC is not
    // reached and expires.
    ex.on_bar("BTC/USDT", bar(0, 29_400.0, 29_600.0, 29_300.0, 29_500.0));
    let state = |cid: &str| {
        let ex = &ex;
        let r = OrderRef::Client(cid.into());
        async move { ex.fetch_order("BTC/USDT", &r).await.unwrap().state }
    };
    assert_eq!(state("po-1").await, OrderState::Rejected);
    assert_eq!(state("ioc-1").await, OrderState::Expired);
    assert!(ex.my_trades("BTC/USDT", 0).await.unwrap().is_empty());
    assert_eq!(bal(&ex, "USDT").await, (d("10000"), Decimal::ZERO));
}

#[tokio::test]
async fn reads_work_in_memory_and_market_data_comes_from_the_source() {
    let feed = Arc::new(venue("0", PaperFill::NextOpen));
    feed.on_bar("BTC/USDT", bar(0, 29_900.0, 30_100.0, 29_800.0, 30_000.0));
    feed.on_bar("BTC/USDT", bar(1, 30_000.0, 30_200.0, 29_950.0, 30_123.45));
    let t = feed.ticker("BTC/USDT").await.unwrap();
    assert_eq!(
        (t.bid, t.ask, t.last),
        (
            Some(d("30123.45")),
            Some(d("30123.45")),
            Some(d("30123.45"))
        )
    );
    let bars = feed
        .candles(
            "BTC/USDT",
            skeet_core::Timeframe::H1,
            (T0_NS + HOUR_NS) / 1_000_000,
            10,
        )
        .await
        .unwrap();
    assert_eq!(bars.len(), 1);
    let p = feed.permissions().await.unwrap();
    assert!(p.read && p.trade && !p.withdraw);

    // No markets of its own: rules and prices come from the source.
    let ex = Paper::new(PaperConfig {
        balances: [("USDT".into(), d("10000"))].into(),
        source: Some(feed.clone()),
        ..PaperConfig::default()
    });
    assert_eq!(ex.markets().await.unwrap(), vec![market()]);
    assert_eq!(
        ex.ticker("BTC/USDT").await.unwrap().last,
        Some(d("30123.45"))
    );
    // A market order is checked and funded at the source's last price.
    let placed = ex
        .create_order(&order("src-1", Side::Buy, OrderKind::Market, "0.1"))
        .await
        .unwrap();
    let by_client = ex
        .fetch_order("BTC/USDT", &OrderRef::Client("src-1".into()))
        .await
        .unwrap();
    assert_eq!(by_client, placed);
    assert_eq!(
        ex.fetch_order("BTC/USDT", &OrderRef::Venue("nope".into()))
            .await
            .unwrap_err()
            .kind,
        ErrorKind::UnknownOrder
    );
    assert!(ex.open_orders(Some("ETH/USDT")).await.unwrap().is_empty());
    ex.on_bar("BTC/USDT", bar(2, 30_100.0, 30_200.0, 30_000.0, 30_150.0));
    let fills = ex
        .my_trades("BTC/USDT", (T0_NS + 2 * HOUR_NS) / 1_000_000)
        .await
        .unwrap();
    assert_eq!(fills.len(), 1);
    assert!(
        ex.my_trades("BTC/USDT", (T0_NS + 3 * HOUR_NS) / 1_000_000)
            .await
            .unwrap()
            .is_empty()
    );
}

/// One scripted session: bars, and the orders decided after each bar.
struct Script {
    bars: Vec<(f64, f64, f64, f64)>,
    /// (after bar, side, trigger, quantity)
    orders: Vec<(usize, Side, Trigger, f64)>,
}

fn script() -> Script {
    use Side::{Buy, Sell};
    Script {
        bars: vec![
            (30_000.0, 30_100.0, 29_900.0, 30_050.0),
            (30_010.5, 30_500.0, 29_700.0, 30_200.0),
            (30_700.0, 30_800.0, 30_650.0, 30_750.33),
            (29_000.0, 29_200.0, 28_900.0, 29_100.0),
        ],
        orders: vec![
            (0, Buy, Trigger::Market, 0.5),
            (0, Buy, Trigger::Limit { price: 29_800.5 }, 0.2),
            (0, Buy, Trigger::Stop { price: 30_400.0 }, 0.1),
            (0, Sell, Trigger::Limit { price: 30_600.0 }, 0.1),
            (1, Sell, Trigger::Stop { price: 29_500.37 }, 0.3),
            (2, Buy, Trigger::Limit { price: 29_100.0 }, 0.25),
            (2, Sell, Trigger::Market, 0.2),
            (
                2,
                Buy,
                Trigger::StopLimit {
                    stop: 29_050.0,
                    limit: 29_060.0,
                },
                0.05,
            ),
        ],
    }
}

fn kind_of(t: Trigger) -> OrderKind {
    let p = |x: f64| Price::try_from_f64(x).unwrap();
    match t {
        Trigger::Market => OrderKind::Market,
        Trigger::Limit { price } => OrderKind::Limit { price: p(price) },
        Trigger::Stop { price } => OrderKind::Stop { trigger: p(price) },
        Trigger::StopLimit { stop, limit } => OrderKind::StopLimit {
            trigger: p(stop),
            price: p(limit),
        },
    }
}

/// (side, quantity, price, fee) of every fill, in order, from the backtest engine.
fn engine_fills(s: &Script, fill: FillModel) -> Vec<(Side, Decimal, Decimal, Decimal)> {
    let inst = Instrument {
        id: InstrumentId::new(
            Venue::new("paper").unwrap(),
            Symbol::new("BTC/USDT").unwrap(),
        ),
        base: Currency::new("BTC").unwrap(),
        quote: Currency::new("USDT").unwrap(),
        tick_size: d("0.01"),
        lot_size: d("0.001"),
        min_quantity: d("0.001"),
        min_notional: d("10"),
        maker_fee: d("0.0002"),
        taker_fee: d("0.0004"),
    };
    let cfg = EngineConfig {
        initial_cash: d("100000"),
        currency: Currency::new("USDT").unwrap(),
        fill,
        slippage: Slippage {
            bps: 7.0,
            volume_share: None,
        },
        leverage: 1.0,
        risk: RiskLimits::default(),
    };
    let mut e = Engine::new(cfg, vec![inst]);
    for (t, &(o, h, l, c)) in s.bars.iter().enumerate() {
        let ts = T0_NS + t as i64 * HOUR_NS;
        let b = BarRef {
            ts,
            close_ts: ts + HOUR_NS,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: 10.0,
        };
        e.match_bar(0, t, &b);
        e.mark(0, c);
        for &(_, side, trigger, q) in s.orders.iter().filter(|x| x.0 == t) {
            let intent = OrderIntent {
                instrument: 0,
                side,
                trigger,
                size: Size::Units(q),
                tif: TimeInForce::Gtc,
                expires_bar: None,
                purpose: Purpose::Manual,
                oco: None,
            };
            assert!(e.submit(intent, t, b.close_ts).is_some());
        }
    }
    e.events()
        .iter()
        .filter_map(|ev| match ev.kind {
            EventKind::Filled {
                side,
                quantity,
                price,
                fee,
                ..
            } => Some((side, quantity, price, fee)),
            _ => None,
        })
        .collect()
}

async fn paper_fills(s: &Script, fill: PaperFill) -> Vec<(Side, Decimal, Decimal, Decimal)> {
    let ex = Paper::new(PaperConfig {
        markets: vec![market()],
        balances: [("USDT".into(), d("100000")), ("BTC".into(), d("1"))].into(),
        maker_fee: d("0.0002"),
        taker_fee: d("0.0004"),
        slippage_bps: d("7"),
        fill,
        source: None,
    });
    for (t, &(o, h, l, c)) in s.bars.iter().enumerate() {
        ex.on_bar("BTC/USDT", bar(t as i64, o, h, l, c));
        for (k, &(_, side, trigger, q)) in s.orders.iter().enumerate().filter(|x| x.1.0 == t) {
            let qty = Decimal::try_from(q).unwrap().to_string();
            ex.create_order(&order(&format!("eq-{k}"), side, kind_of(trigger), &qty))
                .await
                .unwrap();
        }
    }
    ex.my_trades("BTC/USDT", 0)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.side, f.quantity, f.price, f.fee))
        .collect()
}

#[tokio::test]
async fn the_same_orders_fill_at_the_same_prices_and_fees_as_in_a_backtest() {
    let s = script();
    for (engine_model, paper_model) in [
        (FillModel::NextOpen, PaperFill::NextOpen),
        (FillModel::Close, PaperFill::Close),
    ] {
        let want = engine_fills(&s, engine_model);
        let got = paper_fills(&s, paper_model).await;
        // Every order fills once in this script (so the comparison cannot pass empty).
        assert_eq!(want.len(), s.orders.len(), "{engine_model:?}: {want:?}");
        let norm = |v: Vec<(Side, Decimal, Decimal, Decimal)>| {
            v.into_iter()
                .map(|(s, q, p, f)| (s, q.normalize(), p.normalize(), f.normalize()))
                .collect::<Vec<_>>()
        };
        assert_eq!(norm(got), norm(want), "{engine_model:?}");
    }
}

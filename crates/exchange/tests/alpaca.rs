//! The Alpaca adapter against the local Alpaca server (`skeet_testkit::alpaca`): every trait
//! method, market hours, authentication failures, rate limits, 5xx bursts, a lost order
//! answer, a websocket outage with a fill in the gap, and rule checks before sending.

#![allow(clippy::unwrap_used, reason = "test")]

use std::sync::atomic::Ordering;
use std::time::Duration;

use rust_decimal::Decimal;
use skeet_core::{ClientOrderId, OrderKind, Price, Side, TimeInForce, Timeframe};
use skeet_exchange::http::retry_read;
use skeet_exchange::{
    Credentials, ErrorKind, EventStream, Exchange, MarketStatus, NewOrder, OrderRef, OrderState,
    RateLimiter, StreamEvent, StreamOptions, Subscription, VenueConfig, connect, submit,
};
use skeet_testkit::Running;
use skeet_testkit::alpaca::{API_KEY, API_SECRET, ServerConfig, sim, spawn};
use skeet_testkit::sim::{Fault, SimVenue};
use tokio::time::{Instant, timeout};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn config(url: &str, secret: &str) -> VenueConfig {
    let mut cfg = VenueConfig::at(url, Some(Credentials::new(API_KEY, secret)));
    // Each test has its own buckets, so one test's back-off cannot slow another.
    cfg.limiter = RateLimiter::new();
    cfg.stream = StreamOptions {
        ping_every: Duration::from_secs(1),
        stale_after: Duration::from_secs(2),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        ..StreamOptions::default()
    };
    cfg
}

struct Env {
    sim: SimVenue,
    server: ServerConfig,
    running: Running,
    ex: Box<dyn Exchange>,
}

async fn env() -> Env {
    let sim = sim();
    let server = ServerConfig::default();
    let running = spawn(sim.clone(), server.clone()).await;
    let ex = connect("alpaca", config(&running.base_url, API_SECRET)).unwrap();
    Env {
        sim,
        server,
        running,
        ex,
    }
}

fn order(symbol: &str, side: Side, kind: OrderKind, qty: &str, id: &str) -> NewOrder {
    NewOrder {
        symbol: symbol.into(),
        side,
        kind,
        quantity: d(qty),
        time_in_force: TimeInForce::Gtc,
        client_order_id: ClientOrderId::new(id).unwrap(),
    }
}

fn limit(p: &str) -> OrderKind {
    OrderKind::Limit {
        price: Price::new(d(p)),
    }
}

/// The next event, failing the test after 5 s.
async fn next(s: &mut EventStream) -> StreamEvent {
    timeout(Duration::from_secs(5), s.next())
        .await
        .expect("no stream event within 5 s")
        .expect("stream ended")
        .expect("stream error")
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn markets_carry_the_asset_rules_and_the_market_hours() {
    let e = env().await;
    let markets = e.ex.markets().await.unwrap();
    let m = |s: &str| markets.iter().find(|m| m.symbol == s).cloned();
    let aapl = m("AAPL/USD").unwrap();
    assert_eq!(aapl.venue_symbol, "AAPL");
    assert_eq!(aapl.status, MarketStatus::Trading);
    assert_eq!(aapl.tick_size, d("0.01"));
    assert_eq!(aapl.step_size, d("0.000000001"));
    assert_eq!(aapl.min_notional, d("1"));
    let brk = m("BRK.A/USD").unwrap();
    assert_eq!((brk.step_size, brk.min_qty), (d("1"), d("1")));
    assert_eq!(brk.min_notional, Decimal::ZERO);
    assert_eq!(m("HALT/USD").unwrap().status, MarketStatus::Halted);
    assert!(m("GONE/USD").is_none(), "inactive assets are not listed");
    let btc = m("BTC/USD").unwrap();
    assert_eq!(btc.venue_symbol, "BTC/USD");
    assert_eq!(
        (btc.tick_size, btc.step_size, btc.min_qty),
        (d("1"), d("0.000000001"), d("0.0001"))
    );
    assert_eq!((btc.base.as_str(), btc.quote.as_str()), ("BTC", "USD"));

    // After the close stocks are closed; crypto trades on.
    e.server.set_market_open(false);
    let markets = e.ex.markets().await.unwrap();
    let status = |s: &str| markets.iter().find(|m| m.symbol == s).unwrap().status;
    assert_eq!(status("AAPL/USD"), MarketStatus::Closed);
    assert_eq!(status("BTC/USD"), MarketStatus::Trading);
    assert_eq!(status("HALT/USD"), MarketStatus::Halted);
}

#[tokio::test]
async fn tickers_books_and_candles_come_from_the_market_data_api() {
    let e = env().await;
    let t = e.ex.ticker("AAPL/USD").await.unwrap();
    assert_eq!((t.bid, t.ask), (Some(d("189.93")), Some(d("189.96"))));
    assert_eq!(t.last, Some(d("190")));
    assert!(t.ts_ms > 1_704_000_000_000);
    e.sim.set_price("BTC/USD", d("30010"));
    let t = e.ex.ticker("BTC/USD").await.unwrap();
    assert_eq!(t.last, Some(d("30010")));
    assert!(t.bid.unwrap() < t.ask.unwrap());

    let b = e.ex.order_book("BTC/USD", 2).await.unwrap();
    assert_eq!(
        b.bids,
        vec![(d("29998"), d("0.395")), (d("29997"), d("0.2465"))]
    );
    assert_eq!(b.asks.len(), 2);
    assert_eq!(b.asks[0], (d("30004"), d("0.0051")));
    // A stock's book is its latest quote.
    let b = e.ex.order_book("AAPL/USD", 10).await.unwrap();
    assert_eq!(b.bids, vec![(d("189.93"), d("3"))]);
    assert_eq!(b.asks, vec![(d("189.96"), d("2"))]);

    let m1 = Timeframe::M1;
    let since = 1_704_205_860_000; // 2024-01-02T14:31:00Z
    let bars = e.ex.candles("AAPL/USD", m1, since, 2).await.unwrap();
    assert_eq!(bars.len(), 2);
    assert_eq!(bars[0].ts.as_millis(), since);
    assert_eq!(bars[1].ts.as_millis(), since + 60_000);
    assert_eq!(bars[0].close, 188.88);
    // Paging on from the last bar.
    let more =
        e.ex.candles("AAPL/USD", m1, since + 120_000, 10)
            .await
            .unwrap();
    assert_eq!(more.len(), 2);
    assert_eq!(more[0].ts.as_millis(), since + 120_000);
    // The minute still forming is not a candle.
    let forming = skeet_exchange::now_ms() / 60_000 * 60_000;
    e.server.set_forming_bar(forming);
    let with_forming =
        e.ex.candles("AAPL/USD", m1, since + 120_000, 10)
            .await
            .unwrap();
    assert_eq!(with_forming, more);
    let crypto = e.ex.candles("BTC/USD", m1, 0, 10).await.unwrap();
    assert_eq!(crypto.len(), 4);
    assert!(crypto.windows(2).all(|w| w[0].ts < w[1].ts));
    assert_eq!(crypto[0].open, 29990.0);
    assert!(
        e.ex.candles("BTC/USD", "30s".parse().unwrap(), 0, 10)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn orders_balances_fills_and_permissions() {
    let e = env().await;
    let bal = e.ex.balances().await.unwrap();
    let b = |a: &str| bal.iter().find(|b| b.asset == a).cloned().unwrap();
    assert_eq!(
        (b("USD").free, b("USD").locked),
        (d("100000"), Decimal::ZERO)
    );
    assert_eq!(b("AAPL").free, d("10"));
    assert_eq!(b("BTC").free, d("1"), "positions name crypto BTCUSD");
    let p = e.ex.permissions().await.unwrap();
    assert!(p.read && p.trade && !p.withdraw);
    assert_eq!(p.ip_restricted, None);

    // A resting limit order: open, listed, found both ways, cancelled.
    let o = order("AAPL/USD", Side::Buy, limit("180"), "2", "aapl-1");
    let placed = e.ex.create_order(&o).await.unwrap();
    assert_eq!(placed.state, OrderState::Open);
    assert_eq!(placed.price, Some(d("180")));
    assert_eq!(placed.client_order_id.as_deref(), Some("aapl-1"));
    assert_eq!(placed.symbol, "AAPL/USD");
    let open = e.ex.open_orders(Some("AAPL/USD")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(e.ex.open_orders(Some("BTC/USD")).await.unwrap().is_empty());
    let by_id = OrderRef::Venue(placed.venue_order_id.clone());
    let by_client = OrderRef::Client("aapl-1".into());
    assert_eq!(e.ex.fetch_order("AAPL/USD", &by_id).await.unwrap(), placed);
    assert_eq!(
        e.ex.fetch_order("AAPL/USD", &by_client).await.unwrap(),
        placed
    );
    let held = e.ex.balances().await.unwrap();
    let usd = held.iter().find(|b| b.asset == "USD").unwrap();
    assert!(usd.locked > d("360"), "the order holds its cash: {usd:?}");
    // The same client id again is a duplicate, and submit() returns the existing order.
    let dup = e.ex.create_order(&o).await.unwrap_err();
    assert_eq!(dup.kind, ErrorKind::DuplicateOrder);
    assert_eq!(
        submit(&*e.ex, &o, 3).await.unwrap().venue_order_id,
        placed.venue_order_id
    );
    let cancelled = e.ex.cancel_order("AAPL/USD", &by_client).await.unwrap();
    assert_eq!(cancelled.state, OrderState::Cancelled);
    let again = e.ex.cancel_order("AAPL/USD", &by_id).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::UnknownOrder);
    let unknown =
        e.ex.fetch_order("AAPL/USD", &OrderRef::Client("nope".into()))
            .await
            .unwrap_err();
    assert_eq!(unknown.kind, ErrorKind::UnknownOrder);

    // Market orders fill at once: crypto, and a fractional stock order (sent as a day order).
    let btc =
        e.ex.create_order(&order(
            "BTC/USD",
            Side::Buy,
            OrderKind::Market,
            "0.01",
            "btc-1",
        ))
        .await
        .unwrap();
    assert_eq!(btc.state, OrderState::Filled);
    assert_eq!((btc.filled, btc.avg_price), (d("0.01"), Some(d("30000"))));
    let frac =
        e.ex.create_order(&order(
            "AAPL/USD",
            Side::Sell,
            OrderKind::Market,
            "0.5",
            "aapl-2",
        ))
        .await
        .unwrap();
    assert_eq!(frac.state, OrderState::Filled);

    let fills = e.ex.my_trades("BTC/USD", 0).await.unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(
        (f.price, f.quantity, f.side),
        (d("30000"), d("0.01"), Side::Buy)
    );
    assert_eq!(f.venue_order_id, btc.venue_order_id);
    assert_eq!(f.fee, Decimal::ZERO);
    let aapl = e.ex.my_trades("AAPL/USD", 0).await.unwrap();
    assert_eq!(aapl.len(), 1);
    assert_eq!(aapl[0].quantity, d("0.5"));
    assert!(
        e.ex.my_trades("BTC/USD", f.ts_ms + 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(e.ex.my_trades("BTC/USD", f.ts_ms).await.unwrap().len(), 1);

    // Refusals of the venue keep their meaning.
    let broke =
        e.ex.create_order(&order(
            "BTC/USD",
            Side::Buy,
            OrderKind::Market,
            "100",
            "btc-2",
        ))
        .await
        .unwrap_err();
    assert_eq!(broke.kind, ErrorKind::InsufficientFunds, "{broke}");
    assert_eq!(broke.code.as_deref(), Some("40310000"));
}

#[tokio::test]
async fn stock_market_orders_wait_for_the_open() {
    let e = env().await;
    e.ex.markets().await.unwrap();
    e.server.set_market_open(false);
    let placements = e.sim.placements.load(Ordering::SeqCst);
    let mkt = order("AAPL/USD", Side::Buy, OrderKind::Market, "1", "closed-1");
    let err = e.ex.create_order(&mkt).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidOrder);
    assert!(
        err.message.contains("closed")
            && err.message.contains("opens at 2024-01-02T09:30:00-05:00"),
        "{err}"
    );
    assert_eq!(
        e.sim.placements.load(Ordering::SeqCst),
        placements,
        "nothing was sent"
    );
    // Crypto trades around the clock; a GTC limit order on a stock is queued.
    e.ex.create_order(&order(
        "BTC/USD",
        Side::Buy,
        OrderKind::Market,
        "0.001",
        "closed-2",
    ))
    .await
    .unwrap();
    let queued =
        e.ex.create_order(&order("AAPL/USD", Side::Buy, limit("150"), "1", "closed-3"))
            .await
            .unwrap();
    assert_eq!(queued.state, OrderState::Open);
    // Open again: the same market order goes through.
    e.server.set_market_open(true);
    let filled = e.ex.create_order(&mkt).await.unwrap();
    assert_eq!(filled.state, OrderState::Filled);
}

#[tokio::test]
async fn a_wrong_secret_is_an_auth_error_and_counted() {
    let e = env().await;
    let bad = connect("alpaca", config(&e.running.base_url, "wrong")).unwrap();
    let err = bad.balances().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(err.code.as_deref(), Some("40110000"));
    assert_eq!(e.sim.bad_signatures.load(Ordering::SeqCst), 1);
    // The streams refuse it too, and end instead of retrying.
    let mut s = bad.user_stream(vec![]).await.unwrap();
    let end = timeout(Duration::from_secs(5), s.next()).await.unwrap();
    assert_eq!(end.unwrap().unwrap_err().kind, ErrorKind::Auth);
    assert_eq!(e.sim.bad_signatures.load(Ordering::SeqCst), 2);
    // No key at all: refused before sending.
    let requests = e.sim.requests.load(Ordering::SeqCst);
    let anon = connect("alpaca", VenueConfig::at(&e.running.base_url, None)).unwrap();
    assert_eq!(anon.balances().await.unwrap_err().kind, ErrorKind::Auth);
    assert_eq!(e.sim.requests.load(Ordering::SeqCst), requests);
    // Crypto market data needs no key.
    assert!(anon.ticker("BTC/USD").await.is_ok());
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_backs_off_the_bucket() {
    let e = env().await;
    e.sim.inject(Fault::RateLimit { secs: 1 });
    let t = Instant::now();
    let bal = retry_read(3, || e.ex.balances()).await.unwrap();
    assert!(!bal.is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );

    e.sim.inject(Fault::RateLimit { secs: 1 });
    let err = e.ex.permissions().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
    // Everyone on the key's bucket now waits, not just the caller that was refused.
    let t = Instant::now();
    e.ex.permissions().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_burst_of_5xx_still_places_exactly_one_order() {
    let e = env().await;
    e.ex.markets().await.unwrap();
    for _ in 0..3 {
        e.sim.inject(Fault::Unavailable);
    }
    let o = order("BTC/USD", Side::Buy, limit("29000"), "0.01", "burst-1");
    let placed = submit(&*e.ex, &o, 6).await.unwrap();
    assert_eq!(placed.client_order_id.as_deref(), Some("burst-1"));
    assert_eq!(e.sim.created.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_client_id_without_a_duplicate() {
    let sim = sim();
    let running = spawn(sim.clone(), ServerConfig::default()).await;
    let mut cfg = config(&running.base_url, API_SECRET);
    cfg.timeout = Duration::from_millis(300);
    let ex = connect("alpaca", cfg).unwrap();
    ex.markets().await.unwrap();
    sim.inject(Fault::SlowAnswer(Duration::from_secs(1)));
    let o = order("BTC/USD", Side::Sell, limit("31000"), "0.5", "slow-1");
    let placed = submit(&*ex, &o, 3).await.unwrap();
    assert_eq!(placed.client_order_id.as_deref(), Some("slow-1"));
    assert_eq!(placed.state, OrderState::Open);
    assert_eq!(sim.created.load(Ordering::SeqCst), 1);
    assert_eq!(sim.placements.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn orders_breaking_the_rules_are_refused_before_sending() {
    let e = env().await;
    e.ex.markets().await.unwrap();
    let requests = e.sim.requests.load(Ordering::SeqCst);
    let refuse = |o: NewOrder| {
        let ex = &e.ex;
        async move {
            let err = ex.create_order(&o).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidOrder, "{err}");
            err.message
        }
    };
    let m = refuse(order("BTC/USD", Side::Buy, limit("30000.5"), "0.01", "r-1")).await;
    assert!(m.contains("tick size 1"), "{m}");
    let m = refuse(order(
        "BTC/USD",
        Side::Buy,
        limit("30000"),
        "0.00005",
        "r-2",
    ))
    .await;
    assert!(m.contains("minimum 0.0001"), "{m}");
    let m = refuse(order(
        "BTC/USD",
        Side::Buy,
        limit("30000"),
        "0.0000000001",
        "r-3",
    ))
    .await;
    assert!(m.contains("step size"), "{m}");
    let m = refuse(order("AAPL/USD", Side::Buy, limit("190"), "0.001", "r-4")).await;
    assert!(m.contains("minimum notional 1 USD"), "{m}");
    let m = refuse(order("AAPL/USD", Side::Buy, limit("190.001"), "1", "r-5")).await;
    assert!(m.contains("tick size 0.01"), "{m}");
    let m = refuse(order("BRK.A/USD", Side::Buy, limit("500000"), "0.5", "r-6")).await;
    assert!(m.contains("not fractionable"), "{m}");
    let m = refuse(order("AAPL/USD", Side::Buy, limit("190"), "1.5", "r-7")).await;
    assert!(m.contains("day orders"), "{m}");
    let m = refuse(order("HALT/USD", Side::Buy, limit("10"), "1", "r-8")).await;
    assert!(m.contains("not trading"), "{m}");
    let m = refuse(order("XYZ/USD", Side::Buy, limit("10"), "1", "r-9")).await;
    assert!(m.contains("not listed"), "{m}");
    let mut fok = order("BTC/USD", Side::Buy, limit("30000"), "0.01", "r-10");
    fok.time_in_force = TimeInForce::Fok;
    assert!(refuse(fok).await.contains("IOC"));
    // Below $1 a stock may be priced in 0.0001 steps.
    let penny = order("AAPL/USD", Side::Buy, limit("0.5001"), "2", "ok-1");
    assert_eq!(
        e.ex.create_order(&penny).await.unwrap().state,
        OrderState::Open
    );
    assert_eq!(
        e.sim.requests.load(Ordering::SeqCst),
        requests + 1,
        "only the valid order reached the server"
    );
}

#[tokio::test]
async fn market_streams_deliver_trades_quotes_and_bars_of_both_classes() {
    let e = env().await;
    let subs = vec![
        Subscription::Trades {
            symbol: "AAPL/USD".into(),
        },
        Subscription::BestBidAsk {
            symbol: "AAPL/USD".into(),
        },
        Subscription::Candles {
            symbol: "AAPL/USD".into(),
            timeframe: "1m".into(),
        },
        Subscription::Trades {
            symbol: "BTC/USD".into(),
        },
    ];
    let mut s = e.ex.market_stream(subs).await.unwrap();
    let (mut trade, mut quote, mut bar, mut btc) = (false, false, false, false);
    while !(trade && quote && bar && btc) {
        match next(&mut s).await {
            StreamEvent::Trade {
                symbol,
                price,
                quantity,
                ts_ms,
            } if symbol == "AAPL/USD" => {
                assert_eq!((price, quantity), (d("189.95"), d("1")));
                assert!(ts_ms > 0);
                trade = true;
            }
            StreamEvent::Trade { symbol, price, .. } => {
                assert_eq!((symbol.as_str(), price), ("BTC/USD", d("30003")));
                btc = true;
            }
            StreamEvent::BestBidAsk {
                symbol, bid, ask, ..
            } => {
                assert_eq!(
                    (symbol.as_str(), bid, ask),
                    ("AAPL/USD", d("189.93"), d("189.97"))
                );
                quote = true;
            }
            StreamEvent::Candle {
                symbol,
                timeframe,
                bar: b,
                closed,
            } => {
                assert_eq!(
                    (symbol.as_str(), timeframe.as_str(), closed),
                    ("AAPL/USD", "1m", true)
                );
                assert_eq!(b.close, 189.94);
                bar = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Only minute bars are streamed.
    let five = vec![Subscription::Candles {
        symbol: "AAPL/USD".into(),
        timeframe: "5m".into(),
    }];
    assert!(e.ex.market_stream(five).await.is_err());
}

#[tokio::test]
async fn user_streams_report_orders_and_fills() {
    let e = env().await;
    let mut s = e.ex.user_stream(vec!["BTC/USD".into()]).await.unwrap();
    wait_until("trade updates connected", || e.server.trade_streams() >= 1).await;
    // Another symbol's order is not ours to report here.
    e.ex.create_order(&order("AAPL/USD", Side::Buy, limit("100"), "1", "other"))
        .await
        .unwrap();
    let placed =
        e.ex.create_order(&order(
            "BTC/USD",
            Side::Buy,
            limit("29000"),
            "0.01",
            "live-1",
        ))
        .await
        .unwrap();
    let StreamEvent::Order(o) = next(&mut s).await else {
        panic!("expected the new order first");
    };
    assert_eq!(
        (o.venue_order_id.as_str(), o.state),
        (placed.venue_order_id.as_str(), OrderState::Open)
    );
    e.sim.set_price("BTC/USD", d("28900"));
    let StreamEvent::Fill(f) = next(&mut s).await else {
        panic!("expected a fill");
    };
    assert_eq!(
        (f.price, f.quantity, f.side),
        (d("29000"), d("0.01"), Side::Buy)
    );
    assert_eq!(f.client_order_id.as_deref(), Some("live-1"));
    let StreamEvent::Order(o) = next(&mut s).await else {
        panic!("expected the filled order");
    };
    assert_eq!((o.state, o.filled), (OrderState::Filled, d("0.01")));
    // The stream's trade id is the one REST reports, so a resync recognises it.
    let rest = e.ex.my_trades("BTC/USD", 0).await.unwrap();
    assert_eq!(rest[0].trade_id, f.trade_id);
}

#[tokio::test]
async fn a_fill_during_an_outage_arrives_once_after_the_reconnect() {
    let e = env().await;
    let mut s = e.ex.user_stream(vec!["BTC/USD".into()]).await.unwrap();
    wait_until("trade updates connected", || e.server.trade_streams() >= 1).await;
    e.ex.create_order(&order(
        "BTC/USD",
        Side::Buy,
        limit("29000"),
        "0.02",
        "gap-1",
    ))
    .await
    .unwrap();
    assert!(matches!(next(&mut s).await, StreamEvent::Order(_)));

    e.sim.refuse_streams(true);
    e.sim.drop_streams();
    // The venue clock runs with ours, so the resync's time window covers the fill.
    e.sim.set_now_ms(skeet_exchange::now_ms());
    e.sim.set_price("BTC/USD", d("28000"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    e.sim.refuse_streams(false);

    assert!(matches!(
        next(&mut s).await,
        StreamEvent::Reconnected { .. }
    ));
    let StreamEvent::Fill(f) = next(&mut s).await else {
        panic!("expected the missed fill");
    };
    assert_eq!((f.price, f.quantity), (d("29000"), d("0.02")));
    // Nothing else: not the same fill again (live and resync de-duplicated).
    let more = timeout(Duration::from_millis(700), s.next()).await;
    assert!(
        !matches!(more, Ok(Some(Ok(StreamEvent::Fill(_))))),
        "the fill came twice: {more:?}"
    );
    assert_eq!(e.server.trade_streams(), 2);
}

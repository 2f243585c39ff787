//! The Kraken adapter against the local Kraken server (testkit), in-process on 127.0.0.1.

#![allow(clippy::unwrap_used, reason = "test")]

use std::sync::atomic::Ordering;
use std::time::Duration;

use rust_decimal::Decimal;
use skeet_core::{ClientOrderId, OrderKind, Price, Side, TimeInForce, Timeframe};
use skeet_exchange::http::retry_read;
use skeet_exchange::{
    Credentials, ErrorKind, EventStream, Exchange, MarketStatus, NewOrder, OrderRef, OrderState,
    RateLimiter, StreamEvent, StreamOptions, Subscription, VenueConfig, submit,
};
use skeet_testkit::kraken::{API_KEY, API_SECRET, ServerConfig, spawn, spawn_default};
use skeet_testkit::sim::{Fault, SimVenue};
use tokio::time::{Instant, timeout};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A configuration of its own (own limiter, quick streams) pointing at `url`.
fn config(url: &str, secret: &str) -> VenueConfig {
    VenueConfig {
        limiter: RateLimiter::new(),
        stream: StreamOptions {
            ping_every: Duration::from_secs(1),
            stale_after: Duration::from_secs(2),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            resync_margin: Duration::from_secs(5),
        },
        ..VenueConfig::at(url, Some(Credentials::new(API_KEY, secret)))
    }
}

fn client(url: &str) -> Box<dyn Exchange> {
    skeet_exchange::connect("kraken", config(url, API_SECRET)).unwrap()
}

fn limit(side: Side, qty: &str, price: &str, id: &str) -> NewOrder {
    NewOrder {
        symbol: "BTC/USD".into(),
        side,
        kind: OrderKind::Limit {
            price: Price::new(d(price)),
        },
        quantity: d(qty),
        time_in_force: TimeInForce::Gtc,
        client_order_id: ClientOrderId::new(id).unwrap(),
    }
}

fn market(side: Side, qty: &str, id: &str) -> NewOrder {
    NewOrder {
        kind: OrderKind::Market,
        ..limit(side, qty, "1", id)
    }
}

/// The next event matching `want`, within `secs`.
async fn next_where(
    s: &mut EventStream,
    secs: u64,
    mut want: impl FnMut(&StreamEvent) -> bool,
) -> (StreamEvent, Vec<StreamEvent>) {
    let mut skipped = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = timeout(deadline - Instant::now(), s.next())
            .await
            .unwrap_or_else(|_| panic!("no matching event in {secs} s; saw {skipped:?}"))
            .expect("stream ended")
            .expect("stream error");
        if want(&ev) {
            return (ev, skipped);
        }
        skipped.push(ev);
    }
}

#[tokio::test]
async fn market_data_is_parsed_with_the_rules_and_without_the_open_bar() {
    let (_sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    let markets = ex.markets().await.unwrap();
    let btc = markets.iter().find(|m| m.symbol == "BTC/USD").unwrap();
    assert_eq!(btc.venue_symbol, "XBTUSD");
    assert_eq!((btc.base.as_str(), btc.quote.as_str()), ("BTC", "USD"));
    assert_eq!(btc.tick_size, d("0.1"));
    assert_eq!(btc.step_size, d("0.00000001"));
    assert_eq!(btc.min_qty, d("0.0001"));
    assert_eq!(btc.min_notional, d("0.5"));
    assert_eq!(btc.status, MarketStatus::Trading);
    let eth = markets.iter().find(|m| m.symbol == "ETH/USD").unwrap();
    assert_eq!(eth.status, MarketStatus::Halted, "cancel_only");
    assert_eq!(eth.tick_size, d("0.01"));

    let t = ex.ticker("BTC/USD").await.unwrap();
    assert_eq!(t.bid, Some(d("29999.9")));
    assert_eq!(t.ask, Some(d("30000.1")));
    assert_eq!(t.last, Some(d("30000.0")));
    assert_eq!(t.volume_24h, Some(d("4412.73601799")));

    let book = ex.order_book("BTC/USD", 2).await.unwrap();
    assert_eq!(
        book.bids,
        vec![(d("29999.9"), d("0.75")), (d("29999.5"), d("0.1"))]
    );
    assert_eq!(
        book.asks,
        vec![(d("30000.1"), d("0.5")), (d("30000.5"), d("1.25"))]
    );
    assert_eq!(book.ts_ms, 1_688_671_662_000);

    // Paging: from the second bar, three bars, oldest first.
    let bars = ex
        .candles("BTC/USD", Timeframe::M1, 1_688_671_260_000, 3)
        .await
        .unwrap();
    let opens: Vec<i64> = bars.iter().map(|b| b.ts.as_secs()).collect();
    assert_eq!(opens, vec![1_688_671_260, 1_688_671_320, 1_688_671_380]);
    assert!((bars[0].high - 30_020.5).abs() < 1e-9);
    assert!((bars[0].volume - 1.2).abs() < 1e-9);
    // The next page ends at the last committed bar: the open one (…560) is not returned.
    let bars = ex
        .candles("BTC/USD", Timeframe::M1, 1_688_671_440_000, 100)
        .await
        .unwrap();
    let opens: Vec<i64> = bars.iter().map(|b| b.ts.as_secs()).collect();
    assert_eq!(opens, vec![1_688_671_440, 1_688_671_500]);

    let two_hours = Timeframe::from_secs(7200).unwrap();
    let e = ex.candles("BTC/USD", two_hours, 0, 10).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOrder);
    assert!(e.message.contains("no 2h candles"), "{e}");
    assert_eq!(
        ex.ticker("BTC/XYZ").await.unwrap_err().kind,
        ErrorKind::InvalidOrder
    );
}

#[tokio::test]
async fn orders_are_placed_looked_up_listed_and_cancelled() {
    let (sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    let b = ex.balances().await.unwrap();
    let usd = b.iter().find(|b| b.asset == "USD").unwrap();
    assert_eq!((usd.free, usd.locked), (d("100000"), Decimal::ZERO));
    assert_eq!(b.iter().find(|b| b.asset == "BTC").unwrap().free, d("2"));

    let rest = ex
        .create_order(&limit(Side::Buy, "0.01", "29000", "k-rest-1"))
        .await
        .unwrap();
    assert_eq!(rest.state, OrderState::Open);
    assert_eq!(rest.client_order_id.as_deref(), Some("k-rest-1"));
    assert_eq!(rest.price, Some(d("29000")));
    assert_eq!(rest.symbol, "BTC/USD");
    assert!(rest.venue_order_id.starts_with('O'));

    let mkt = ex
        .create_order(&market(Side::Buy, "0.001", "k-mkt-1"))
        .await
        .unwrap();
    assert_eq!(mkt.state, OrderState::Filled);
    assert_eq!(mkt.filled, d("0.001"));
    assert_eq!(mkt.avg_price, Some(d("30000")));

    let by_id = ex
        .fetch_order("BTC/USD", &OrderRef::Venue(rest.venue_order_id.clone()))
        .await
        .unwrap();
    let by_client = ex
        .fetch_order("BTC/USD", &OrderRef::Client("k-rest-1".into()))
        .await
        .unwrap();
    assert_eq!(by_id, by_client);
    // A closed order is found by client id too (ClosedOrders).
    let closed = ex
        .fetch_order("BTC/USD", &OrderRef::Client("k-mkt-1".into()))
        .await
        .unwrap();
    assert_eq!(closed.venue_order_id, mkt.venue_order_id);
    assert_eq!(closed.state, OrderState::Filled);

    let open = ex.open_orders(Some("BTC/USD")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].venue_order_id, rest.venue_order_id);

    let cancelled = ex
        .cancel_order("BTC/USD", &OrderRef::Client("k-rest-1".into()))
        .await
        .unwrap();
    assert_eq!(cancelled.state, OrderState::Cancelled);
    assert!(ex.open_orders(None).await.unwrap().is_empty());
    let e = ex
        .cancel_order("BTC/USD", &OrderRef::Venue(rest.venue_order_id.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOrder);
    assert_eq!(
        ex.fetch_order("BTC/USD", &OrderRef::Venue("O99999-SIMKR-099999".into()))
            .await
            .unwrap_err()
            .kind,
        ErrorKind::UnknownOrder
    );
    assert_eq!(sim.created.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn fills_permissions_and_refusals() {
    let (sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    let since = sim.now_ms();
    let placed = ex
        .create_order(&market(Side::Buy, "0.001", "k-fill-1"))
        .await
        .unwrap();
    let fills = ex.my_trades("BTC/USD", since).await.unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(f.venue_order_id, placed.venue_order_id);
    assert_eq!(f.client_order_id.as_deref(), Some("k-fill-1"));
    assert_eq!((f.price, f.quantity), (d("30000"), d("0.001")));
    assert_eq!((f.fee, f.fee_asset.as_str()), (d("0.03"), "USD"));
    assert!(!f.maker);
    assert!(f.trade_id.starts_with('T'));
    assert!(
        ex.my_trades("BTC/USD", f.ts_ms + 1)
            .await
            .unwrap()
            .is_empty()
    );

    // Insufficient funds and a duplicate client id come back classified.
    let e = ex
        .create_order(&market(Side::Buy, "10", "k-big"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InsufficientFunds);
    let e = ex
        .create_order(&market(Side::Buy, "0.001", "k-fill-1"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateOrder);

    let p = ex.permissions().await.unwrap();
    assert!(p.read && p.trade && !p.withdraw, "{p:?}");
    assert_eq!(
        sim.created.load(Ordering::SeqCst),
        1,
        "validate places nothing"
    );

    let sim2 = SimVenue::new(&["BTC/USD"], &[("USD", "10")], &[("BTC/USD", "30000")]);
    let srv2 = spawn(
        sim2,
        ServerConfig {
            can_trade: false,
            can_withdraw: true,
            ..ServerConfig::default()
        },
    )
    .await;
    let p = client(&srv2.base_url).permissions().await.unwrap();
    assert!(p.read && !p.trade && p.withdraw, "{p:?}");

    // Without a key, private calls fail before sending.
    let anon = skeet_exchange::connect("kraken", VenueConfig::at(&srv.base_url, None)).unwrap();
    assert_eq!(anon.balances().await.unwrap_err().kind, ErrorKind::Auth);
}

#[tokio::test]
async fn a_wrong_secret_is_an_auth_error_counted_by_the_server() {
    let (sim, srv) = spawn_default().await;
    // Valid base64, wrong key.
    let other = "c2tlZXQtd3Jvbmctc2VjcmV0LXNrZWV0LXdyb25nLXNlY3JldC1za2VldC13cm9uZw==";
    let ex = skeet_exchange::connect("kraken", config(&srv.base_url, other)).unwrap();
    let e = ex.balances().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.message, "Invalid signature");
    assert_eq!(sim.bad_signatures.load(Ordering::SeqCst), 1);
    // Concurrent private calls whose nonces cross on the way are resent, not failed.
    let ok = client(&srv.base_url);
    let all = futures_util::future::join_all((0..6).map(|_| ok.balances())).await;
    assert!(all.iter().all(Result::is_ok), "{all:?}");
    assert_eq!(sim.bad_signatures.load(Ordering::SeqCst), 1);
    // A secret that is not base64 is refused before anything is sent.
    let before = sim.requests.load(Ordering::SeqCst);
    let ex = skeet_exchange::connect("kraken", config(&srv.base_url, "not base64!")).unwrap();
    assert_eq!(ex.balances().await.unwrap_err().kind, ErrorKind::Auth);
    assert_eq!(sim.requests.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn rate_limits_back_off_the_bucket_and_outages_never_double_an_order() {
    let (sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    ex.markets().await.unwrap();

    sim.inject(Fault::RateLimit { secs: 1 });
    let e = ex.ticker("BTC/USD").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
    // The whole public bucket waits, not only the refused call.
    let t0 = Instant::now();
    ex.order_book("BTC/USD", 1).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );

    sim.inject(Fault::RateLimit { secs: 1 });
    let t0 = Instant::now();
    let t = retry_read(3, || ex.ticker("BTC/USD")).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(t.last, Some(d("30000.0")));

    // 503 bursts on the placement and on the look-up before the retry.
    sim.inject(Fault::Unavailable);
    sim.inject(Fault::Unavailable);
    sim.inject(Fault::Unavailable);
    let o = submit(&*ex, &limit(Side::Buy, "0.01", "29000", "k-503"), 6)
        .await
        .unwrap();
    assert_eq!(o.client_order_id.as_deref(), Some("k-503"));
    assert_eq!(sim.created.load(Ordering::SeqCst), 1);
    assert_eq!(sim.orders().len(), 1);
}

#[tokio::test]
async fn an_order_whose_answer_is_lost_is_found_not_placed_again() {
    let (sim, srv) = spawn_default().await;
    let mut cfg = config(&srv.base_url, API_SECRET);
    cfg.timeout = Duration::from_millis(300);
    let ex = skeet_exchange::connect("kraken", cfg).unwrap();
    ex.markets().await.unwrap();
    sim.inject(Fault::SlowAnswer(Duration::from_secs(1)));
    let o = submit(&*ex, &limit(Side::Buy, "0.01", "29000", "k-slow"), 3)
        .await
        .unwrap();
    assert_eq!(o.client_order_id.as_deref(), Some("k-slow"));
    assert_eq!(o.state, OrderState::Open);
    assert_eq!(sim.created.load(Ordering::SeqCst), 1);
    assert_eq!(sim.placements.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn orders_breaking_the_rules_are_refused_before_sending() {
    let (sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    ex.markets().await.unwrap();
    let before = sim.requests.load(Ordering::SeqCst);
    for (order, why) in [
        (
            limit(Side::Buy, "0.000000001", "30000", "k-step"),
            "step size",
        ),
        (limit(Side::Buy, "0.01", "30000.05", "k-tick"), "tick size"),
        (
            limit(Side::Buy, "0.0001", "1000", "k-notional"),
            "minimum notional",
        ),
        (
            limit(Side::Buy, "0.00005", "30000", "k-min"),
            "below the minimum",
        ),
    ] {
        let e = ex.create_order(&order).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidOrder, "{why}");
        assert!(e.message.contains(why), "{e}");
    }
    let mut fok = limit(Side::Buy, "0.01", "30000", "k-fok");
    fok.time_in_force = TimeInForce::Fok;
    assert_eq!(
        ex.create_order(&fok).await.unwrap_err().kind,
        ErrorKind::InvalidOrder
    );
    assert_eq!(sim.requests.load(Ordering::SeqCst), before);
    assert_eq!(sim.placements.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_market_stream_delivers_trades_quotes_and_candles() {
    let (sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    let mut s = ex
        .market_stream(vec![
            Subscription::Trades {
                symbol: "BTC/USD".into(),
            },
            Subscription::BestBidAsk {
                symbol: "BTC/USD".into(),
            },
            Subscription::Candles {
                symbol: "BTC/USD".into(),
                timeframe: "1m".into(),
            },
        ])
        .await
        .unwrap();
    let (trade, _) = next_where(&mut s, 5, |e| matches!(e, StreamEvent::Trade { .. })).await;
    assert_eq!(
        trade,
        StreamEvent::Trade {
            symbol: "BTC/USD".into(),
            price: d("30000.1"),
            quantity: d("0.00125"),
            ts_ms: 1_695_628_116_925,
        }
    );
    let (bbo, _) = next_where(&mut s, 5, |e| matches!(e, StreamEvent::BestBidAsk { .. })).await;
    let StreamEvent::BestBidAsk { bid, ask, .. } = bbo else {
        unreachable!()
    };
    assert_eq!((bid, ask), (d("29999.9"), d("30000.1")));
    let (candle, _) = next_where(&mut s, 5, |e| matches!(e, StreamEvent::Candle { .. })).await;
    let StreamEvent::Candle {
        symbol,
        timeframe,
        bar,
        closed,
    } = candle
    else {
        unreachable!()
    };
    assert_eq!(
        (symbol.as_str(), timeframe.as_str(), closed),
        ("BTC/USD", "1m", false)
    );
    assert!((bar.close - 30_000.0).abs() < 1e-9);
    // A live trade (one of our fills is a public trade too).
    sim.place(
        "BTC/USD",
        skeet_testkit::sim::Side::Buy,
        skeet_testkit::sim::Kind::Market,
        d("0.002"),
        "x",
    )
    .unwrap();
    let (live, _) = next_where(
        &mut s,
        5,
        |e| matches!(e, StreamEvent::Trade { quantity, .. } if *quantity == d("0.002")),
    )
    .await;
    assert!(matches!(live, StreamEvent::Trade { price, .. } if price == d("30000")));
}

#[tokio::test]
async fn the_user_stream_reports_orders_and_fills() {
    let (sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    let first = ex
        .create_order(&limit(Side::Buy, "0.01", "29000", "k-u-1"))
        .await
        .unwrap();
    let mut s = ex.user_stream(vec!["BTC/USD".into()]).await.unwrap();
    // The snapshot of open orders tells us the subscription is live.
    next_where(
        &mut s,
        5,
        |e| matches!(e, StreamEvent::Order(o) if o.venue_order_id == first.venue_order_id),
    )
    .await;

    let placed = ex
        .create_order(&limit(Side::Buy, "0.01", "29500", "k-u-2"))
        .await
        .unwrap();
    let (ev, _) = next_where(
        &mut s,
        5,
        |e| matches!(e, StreamEvent::Order(o) if o.venue_order_id == placed.venue_order_id),
    )
    .await;
    let StreamEvent::Order(o) = ev else {
        unreachable!()
    };
    assert_eq!(o.state, OrderState::Open);
    assert_eq!(o.client_order_id.as_deref(), Some("k-u-2"));
    assert_eq!((o.quantity, o.price), (d("0.01"), Some(d("29500"))));

    sim.set_price("BTC/USD", d("29400"));
    let (ev, _) = next_where(&mut s, 5, |e| matches!(e, StreamEvent::Fill(_))).await;
    let StreamEvent::Fill(f) = ev else {
        unreachable!()
    };
    assert_eq!(f.venue_order_id, placed.venue_order_id);
    assert_eq!(f.client_order_id.as_deref(), Some("k-u-2"));
    assert_eq!((f.price, f.quantity), (d("29500"), d("0.01")));
    assert_eq!((f.fee, f.fee_asset.as_str()), (d("0.295"), "USD"));
    assert!(f.maker);
    let (ev, _) = next_where(
        &mut s,
        5,
        |e| matches!(e, StreamEvent::Order(o) if o.state == OrderState::Filled),
    )
    .await;
    let StreamEvent::Order(o) = ev else {
        unreachable!()
    };
    assert_eq!(o.venue_order_id, placed.venue_order_id);
    assert_eq!((o.filled, o.avg_price), (d("0.01"), Some(d("29500"))));

    ex.cancel_order("BTC/USD", &OrderRef::Venue(first.venue_order_id.clone()))
        .await
        .unwrap();
    next_where(&mut s, 5, |e| {
        matches!(e, StreamEvent::Order(o) if o.venue_order_id == first.venue_order_id && o.state == OrderState::Cancelled)
    })
    .await;
}

#[tokio::test]
async fn a_fill_during_a_websocket_outage_is_recovered_once() {
    let (sim, srv) = spawn_default().await;
    let ex = client(&srv.base_url);
    let resting = ex
        .create_order(&limit(Side::Buy, "0.01", "29000", "k-gap"))
        .await
        .unwrap();
    let mut s = ex.user_stream(vec!["BTC/USD".into()]).await.unwrap();
    next_where(
        &mut s,
        5,
        |e| matches!(e, StreamEvent::Order(o) if o.venue_order_id == resting.venue_order_id),
    )
    .await;

    sim.refuse_streams(true);
    sim.drop_streams();
    sim.set_price("BTC/USD", d("28900"));
    let trade_id = format!("T{:05}-SIMKR-{:06}", 1, 1);
    assert_eq!(sim.trades("BTC/USD", 0).len(), 1);
    // Let a few reconnects be refused.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.refuse_streams(false);

    let (reconnected, before) =
        next_where(&mut s, 8, |e| matches!(e, StreamEvent::Reconnected { .. })).await;
    assert!(
        !before.iter().any(|e| matches!(e, StreamEvent::Fill(_))),
        "no fill before the reconnect: {before:?}"
    );
    assert!(matches!(reconnected, StreamEvent::Reconnected { gap_ms } if gap_ms >= 250));
    let (fill, _) = next_where(&mut s, 5, |e| matches!(e, StreamEvent::Fill(_))).await;
    let StreamEvent::Fill(f) = fill else {
        unreachable!()
    };
    assert_eq!(f.trade_id, trade_id);
    assert_eq!(f.client_order_id.as_deref(), Some("k-gap"));
    assert_eq!((f.price, f.quantity), (d("29000"), d("0.01")));

    // Exactly once: a later event arrives with no second copy of the fill before it.
    let marker = ex
        .create_order(&limit(Side::Buy, "0.01", "28000", "k-after"))
        .await
        .unwrap();
    let (_, between) = next_where(
        &mut s,
        5,
        |e| matches!(e, StreamEvent::Order(o) if o.venue_order_id == marker.venue_order_id),
    )
    .await;
    assert!(
        !between.iter().any(|e| matches!(e, StreamEvent::Fill(_))),
        "the fill came twice: {between:?}"
    );
}

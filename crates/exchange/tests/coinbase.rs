//! The Coinbase adapter against the local Coinbase server (testkit), over 127.0.0.1 only.
#![allow(clippy::unwrap_used, reason = "test")]

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use skeet_core::{ClientOrderId, OrderKind, Price, Side, TimeInForce, Timeframe};
use skeet_exchange::http::retry_read;
use skeet_exchange::{
    Credentials, ErrorKind, EventStream, Exchange, MarketStatus, NewOrder, OrderRef, OrderState,
    RateLimiter, StreamEvent, StreamOptions, Subscription, VenueConfig, connect, submit,
};
use skeet_testkit::coinbase::{
    ServerConfig, TEST_KEY_NAME, spawn, spawn_default, test_key_pem, wrong_key_pem,
};
use skeet_testkit::sim::{Fault, Kind, SimVenue};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn config(base_url: &str, credentials: Option<Credentials>) -> VenueConfig {
    let mut cfg = VenueConfig::at(base_url, credentials);
    // A limiter per test: tests run in parallel and must not share back-offs.
    cfg.limiter = RateLimiter::new();
    cfg.stream = StreamOptions {
        ping_every: Duration::from_secs(1),
        stale_after: Duration::from_secs(2),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        resync_margin: Duration::from_secs(5),
    };
    cfg
}

fn adapter(base_url: &str) -> Box<dyn Exchange> {
    let creds = Credentials::new(TEST_KEY_NAME, &test_key_pem());
    connect("coinbase", config(base_url, Some(creds))).unwrap()
}

fn order(cid: &str, side: Side, qty: &str, price: Option<&str>, tif: TimeInForce) -> NewOrder {
    NewOrder {
        symbol: "BTC/USD".into(),
        side,
        kind: price.map_or(OrderKind::Market, |p| OrderKind::Limit {
            price: Price::new(d(p)),
        }),
        quantity: d(qty),
        time_in_force: tif,
        client_order_id: ClientOrderId::new(cid).unwrap(),
    }
}

fn limit(cid: &str, side: Side, qty: &str, price: &str) -> NewOrder {
    order(cid, side, qty, Some(price), TimeInForce::Gtc)
}

/// The next event within `secs`, skipping nothing.
async fn next_event(s: &mut EventStream, secs: u64) -> StreamEvent {
    tokio::time::timeout(Duration::from_secs(secs), s.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
        .expect("not an error")
}

fn created(sim: &SimVenue) -> u64 {
    sim.created.load(std::sync::atomic::Ordering::SeqCst)
}

fn requests(sim: &SimVenue) -> u64 {
    sim.requests.load(std::sync::atomic::Ordering::SeqCst)
}

fn bad_signatures(sim: &SimVenue) -> u64 {
    sim.bad_signatures.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn market_data_and_rules_are_parsed() {
    let (_sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);
    let markets = ex.markets().await.unwrap();
    let btc = markets.iter().find(|m| m.symbol == "BTC/USD").unwrap();
    assert_eq!(btc.venue_symbol, "BTC-USD");
    assert_eq!((btc.base.as_str(), btc.quote.as_str()), ("BTC", "USD"));
    assert_eq!(btc.status, MarketStatus::Trading);
    assert_eq!(btc.tick_size, d("0.01"));
    assert_eq!(btc.step_size, d("0.00000001"));
    assert_eq!(btc.min_qty, d("0.00000001"));
    assert_eq!(btc.min_notional, d("1"));
    let eth = markets.iter().find(|m| m.symbol == "ETH/USD").unwrap();
    assert_eq!(
        eth.status,
        MarketStatus::Halted,
        "cancel-only accepts no orders"
    );

    let t = ex.ticker("BTC/USD").await.unwrap();
    assert_eq!(
        (t.bid, t.ask, t.last),
        (Some(d("29999.99")), Some(d("30000.01")), Some(d("30000")))
    );
    assert!(t.ts_ms > 0);

    let book = ex.order_book("BTC/USD", 2).await.unwrap();
    assert_eq!(
        book.bids,
        vec![(d("29999.99"), d("0.5")), (d("29999.50"), d("1.25"))]
    );
    assert_eq!(book.asks.len(), 2);
    assert_eq!(book.asks[0], (d("30000.01"), d("0.4")));

    // Paging: since + limit, oldest first; the next page starts one bar later.
    let t0 = 1_704_153_600_000;
    let page1 = ex.candles("BTC/USD", Timeframe::M1, t0, 5).await.unwrap();
    let starts: Vec<i64> = page1.iter().map(|b| b.ts.as_millis()).collect();
    assert_eq!(starts, (0..5).map(|i| t0 + i * 60_000).collect::<Vec<_>>());
    assert_eq!(page1[0].open, 30000.0);
    let after = page1[4].ts.as_millis() + 60_000;
    let page2 = ex
        .candles("BTC/USD", Timeframe::M1, after, 5)
        .await
        .unwrap();
    assert_eq!(page2.len(), 5);
    assert_eq!(page2[0].ts.as_millis(), after);
    assert_eq!(page2[0].open, page1[4].close, "the bars follow on");
    // The server includes the minute still forming; it is not a bar yet.
    let now = skeet_exchange::now_ms();
    let live = ex
        .candles("BTC/USD", Timeframe::M1, now - 120_000, 10)
        .await
        .unwrap();
    assert!(live.is_empty(), "unclosed bar returned: {live:?}");
    let e = ex
        .candles("BTC/USD", Timeframe::from_secs(240).unwrap(), t0, 5)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOrder);

    // Without a key: the public endpoints serve market data; private calls fail before sending.
    let public = connect("coinbase", config(&srv.base_url, None)).unwrap();
    assert_eq!(public.markets().await.unwrap().len(), 2);
    assert_eq!(
        public.ticker("BTC/USD").await.unwrap().last,
        Some(d("30000"))
    );
    assert_eq!(public.balances().await.unwrap_err().kind, ErrorKind::Auth);
}

#[tokio::test]
async fn account_orders_and_fills_round_trip() {
    let (sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);

    let bal = ex.balances().await.unwrap();
    let usd = bal.iter().find(|b| b.asset == "USD").unwrap();
    assert_eq!((usd.free, usd.locked), (d("100000"), d("0")));
    assert_eq!(bal.iter().find(|b| b.asset == "BTC").unwrap().free, d("2"));

    let p = ex.permissions().await.unwrap();
    assert!(p.read && p.trade && !p.withdraw);

    let resting = ex
        .create_order(&limit("cb-limit-1", Side::Buy, "0.01", "29000"))
        .await
        .unwrap();
    assert_eq!(resting.state, OrderState::Open);
    assert_eq!(resting.price, Some(d("29000")));
    assert_eq!(resting.quantity, d("0.01"));
    assert_eq!(resting.client_order_id.as_deref(), Some("cb-limit-1"));
    let usd = ex.balances().await.unwrap();
    assert!(
        usd.iter()
            .any(|b| b.asset == "USD" && b.locked > Decimal::ZERO)
    );

    let by_id = ex
        .fetch_order("BTC/USD", &OrderRef::Venue(resting.venue_order_id.clone()))
        .await
        .unwrap();
    let by_client = ex
        .fetch_order("BTC/USD", &OrderRef::Client("cb-limit-1".into()))
        .await
        .unwrap();
    assert_eq!(by_id, by_client);
    assert_eq!(by_id.venue_order_id, resting.venue_order_id);

    let open = ex.open_orders(Some("BTC/USD")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].venue_order_id, resting.venue_order_id);
    assert_eq!(ex.open_orders(None).await.unwrap().len(), 1);

    let mkt = ex
        .create_order(&order(
            "cb-mkt-1",
            Side::Sell,
            "0.005",
            None,
            TimeInForce::Gtc,
        ))
        .await
        .unwrap();
    assert_eq!(mkt.state, OrderState::Filled);
    assert_eq!((mkt.filled, mkt.avg_price), (d("0.005"), Some(d("30000"))));

    let fills = ex.my_trades("BTC/USD", 0).await.unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(f.venue_order_id, mkt.venue_order_id);
    assert_eq!(
        (f.price, f.quantity, f.side),
        (d("30000"), d("0.005"), Side::Sell)
    );
    assert_eq!(
        (f.fee, f.fee_asset.as_str(), f.maker),
        (d("0.15"), "USD", false)
    );
    assert!(
        ex.my_trades("BTC/USD", f.ts_ms + 1)
            .await
            .unwrap()
            .is_empty()
    );

    // A repeated client order id answers with the order Coinbase already has.
    let before = created(&sim);
    let again = ex
        .create_order(&limit("cb-mkt-1", Side::Buy, "0.02", "29500"))
        .await
        .unwrap();
    assert_eq!(again.venue_order_id, mkt.venue_order_id);
    assert_eq!(again.state, OrderState::Filled);
    assert_eq!(created(&sim), before);

    let cancelled = ex
        .cancel_order("BTC/USD", &OrderRef::Client("cb-limit-1".into()))
        .await
        .unwrap();
    assert_eq!(cancelled.state, OrderState::Cancelled);
    assert!(ex.open_orders(None).await.unwrap().is_empty());
    let e = ex
        .cancel_order("BTC/USD", &OrderRef::Venue(resting.venue_order_id.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOrder, "{e}");
    let e = ex
        .fetch_order(
            "BTC/USD",
            &OrderRef::Venue("0b7e0000-0000-4000-8000-00000000ffff".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOrder);
    let e = ex
        .fetch_order("BTC/USD", &OrderRef::Client("never-placed".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOrder);

    // The venue's refusals keep their code and are classified.
    let e = ex
        .create_order(&order("cb-big", Side::Buy, "100", None, TimeInForce::Gtc))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InsufficientFunds);
    assert_eq!(e.code.as_deref(), Some("INSUFFICIENT_FUND"));
    let e = ex
        .create_order(&order(
            "cb-po",
            Side::Buy,
            "0.01",
            Some("31000"),
            TimeInForce::PostOnly,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOrder);
    assert_eq!(e.code.as_deref(), Some("INVALID_LIMIT_PRICE_POST_ONLY"));
    assert_eq!(bad_signatures(&sim), 0);
}

#[tokio::test]
async fn cursors_are_followed() {
    let sim = SimVenue::new(
        &["BTC/USD"],
        &[("USD", "100000"), ("BTC", "2"), ("ETH", "3")],
        &[("BTC/USD", "30000")],
    );
    let cfg = ServerConfig {
        max_page: 1,
        ..ServerConfig::default()
    };
    let srv = spawn(sim.clone(), cfg).await;
    let ex = adapter(&srv.base_url);
    assert_eq!(ex.balances().await.unwrap().len(), 3);
    for (i, p) in ["29000", "28000", "27000"].iter().enumerate() {
        ex.create_order(&limit(&format!("page-{i}"), Side::Buy, "0.01", p))
            .await
            .unwrap();
    }
    assert_eq!(ex.open_orders(Some("BTC/USD")).await.unwrap().len(), 3);
    // The oldest order is on the last page (newest first).
    let found = ex
        .fetch_order("BTC/USD", &OrderRef::Client("page-0".into()))
        .await
        .unwrap();
    assert_eq!(found.price, Some(d("29000")));
    sim.set_price("BTC/USD", d("26000"));
    assert_eq!(ex.my_trades("BTC/USD", 0).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_and_the_server_counts_it() {
    let (sim, srv) = spawn_default().await;
    let wrong = Credentials::new(TEST_KEY_NAME, &wrong_key_pem());
    let ex = connect("coinbase", config(&srv.base_url, Some(wrong))).unwrap();
    let e = ex.balances().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(bad_signatures(&sim), 1);

    let other_name = Credentials::new("organizations/x/apiKeys/y", &test_key_pem());
    let ex = connect("coinbase", config(&srv.base_url, Some(other_name))).unwrap();
    assert_eq!(ex.permissions().await.unwrap_err().kind, ErrorKind::Auth);
    assert_eq!(bad_signatures(&sim), 2);
    let e = ex.user_stream(vec!["BTC/USD".into()]).await;
    assert!(
        e.is_ok(),
        "the stream starts; the server refuses the subscription"
    );
    let mut s = e.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);

    // A secret that is not a PEM key: refused before anything is sent.
    let before = requests(&sim);
    let junk = Credentials::new(TEST_KEY_NAME, "my-api-secret");
    let ex = connect("coinbase", config(&srv.base_url, Some(junk))).unwrap();
    let e = ex.balances().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert!(
        e.message
            .contains("the Coinbase secret must be the EC private key PEM from the CDP portal")
    );
    assert_eq!(requests(&sim), before);
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_shared() {
    let (sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);
    ex.markets().await.unwrap();

    sim.inject(Fault::RateLimit { secs: 1 });
    let t0 = Instant::now();
    let bal = retry_read(3, || ex.balances()).await.unwrap();
    assert!(!bal.is_empty());
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t0.elapsed()
    );

    sim.inject(Fault::RateLimit { secs: 1 });
    let e = ex.balances().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.code.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
    // The key's bucket is blocked for every caller until Retry-After has passed.
    let t1 = Instant::now();
    ex.permissions().await.unwrap();
    assert!(
        t1.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t1.elapsed()
    );
}

#[tokio::test]
async fn unavailable_bursts_place_exactly_one_order() {
    let (sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);
    ex.markets().await.unwrap();
    for _ in 0..3 {
        sim.inject(Fault::Unavailable);
    }
    let placed = submit(&*ex, &limit("burst-1", Side::Buy, "0.01", "29000"), 6)
        .await
        .unwrap();
    assert_eq!(placed.client_order_id.as_deref(), Some("burst-1"));
    assert_eq!(created(&sim), 1);
    assert_eq!(sim.orders().len(), 1);
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_client_id_without_a_duplicate() {
    let (sim, srv) = spawn_default().await;
    let creds = Credentials::new(TEST_KEY_NAME, &test_key_pem());
    let mut cfg = config(&srv.base_url, Some(creds));
    cfg.timeout = Duration::from_millis(300);
    let ex = connect("coinbase", cfg).unwrap();
    ex.markets().await.unwrap();
    sim.inject(Fault::SlowAnswer(Duration::from_secs(1)));
    let placed = submit(&*ex, &limit("slow-1", Side::Buy, "0.01", "29000"), 3)
        .await
        .unwrap();
    assert_eq!(placed.client_order_id.as_deref(), Some("slow-1"));
    assert_eq!(placed.state, OrderState::Open);
    assert_eq!(created(&sim), 1);
}

#[tokio::test]
async fn rule_breaking_orders_are_refused_before_sending() {
    let (sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);
    ex.markets().await.unwrap();
    let before = requests(&sim);
    let bad = [
        limit("r-step", Side::Buy, "0.000000001", "29000"),
        limit("r-tick", Side::Buy, "0.01", "29000.001"),
        limit("r-notional", Side::Buy, "0.00001", "29000"),
        NewOrder {
            kind: OrderKind::Stop {
                trigger: Price::new(d("31000")),
            },
            ..limit("r-stop", Side::Buy, "0.01", "1")
        },
    ];
    for o in &bad {
        let e = ex.create_order(o).await.unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::InvalidOrder,
            "{}",
            o.client_order_id.as_str()
        );
    }
    let e = ex
        .create_order(&limit("r-notional", Side::Buy, "0.00001", "29000"))
        .await
        .unwrap_err();
    assert!(e.message.contains("minimum notional 1 USD"), "{e}");
    assert_eq!(
        requests(&sim),
        before,
        "the markets were cached, nothing was sent"
    );
    assert_eq!(sim.placements.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn market_stream_delivers_quotes_candles_and_trades() {
    let (sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);
    let bad = ex
        .market_stream(vec![Subscription::Candles {
            symbol: "BTC/USD".into(),
            timeframe: "1m".into(),
        }])
        .await;
    assert_eq!(bad.unwrap_err().kind, ErrorKind::InvalidOrder);
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
                timeframe: "5m".into(),
            },
        ])
        .await
        .unwrap();
    let (mut quote, mut candle) = (None, None);
    while quote.is_none() || candle.is_none() {
        match next_event(&mut s, 5).await {
            StreamEvent::BestBidAsk { bid, ask, .. } => quote = Some((bid, ask)),
            StreamEvent::Candle {
                bar,
                closed,
                timeframe,
                ..
            } => {
                assert_eq!(timeframe, "5m");
                assert!(!closed);
                candle = Some(bar);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(quote, Some((d("29999.99"), d("30000.01"))));
    assert_eq!(candle.unwrap().close, 30000.0);
    // Subscriptions are in place once their snapshots arrived: a trade now is streamed.
    sim.place(
        "BTC/USD",
        skeet_testkit::sim::Side::Buy,
        Kind::Market,
        d("0.25"),
        "someone",
    )
    .unwrap();
    loop {
        if let StreamEvent::Trade {
            symbol,
            price,
            quantity,
            ..
        } = next_event(&mut s, 5).await
        {
            assert_eq!(
                (symbol.as_str(), price, quantity),
                ("BTC/USD", d("30000"), d("0.25"))
            );
            break;
        }
    }
}

#[tokio::test]
async fn user_stream_delivers_orders_and_fills() {
    let (sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);
    let first = ex
        .create_order(&limit("u-1", Side::Buy, "0.01", "29500"))
        .await
        .unwrap();
    let mut s = ex.user_stream(vec!["BTC/USD".into()]).await.unwrap();
    // The snapshot lists the working order: the subscription is live.
    match next_event(&mut s, 5).await {
        StreamEvent::Order(o) => assert_eq!(o.venue_order_id, first.venue_order_id),
        other => panic!("expected the snapshot order, got {other:?}"),
    }
    let second = ex
        .create_order(&limit("u-2", Side::Buy, "0.02", "29000"))
        .await
        .unwrap();
    match next_event(&mut s, 5).await {
        StreamEvent::Order(o) => {
            assert_eq!(o.venue_order_id, second.venue_order_id);
            assert_eq!(o.client_order_id.as_deref(), Some("u-2"));
            assert_eq!((o.state, o.quantity), (OrderState::Open, d("0.02")));
        }
        other => panic!("expected u-2 open, got {other:?}"),
    }
    // The price falls through u-1 only: it fills as maker.
    sim.set_price("BTC/USD", d("29400"));
    let (mut order_done, mut fill) = (None, None);
    while order_done.is_none() || fill.is_none() {
        match next_event(&mut s, 5).await {
            StreamEvent::Order(o) => {
                assert_eq!(o.venue_order_id, first.venue_order_id);
                order_done = Some(o);
            }
            StreamEvent::Fill(f) => fill = Some(f),
            other => panic!("unexpected {other:?}"),
        }
    }
    let o = order_done.unwrap();
    assert_eq!(
        (o.state, o.filled, o.avg_price),
        (OrderState::Filled, d("0.01"), Some(d("29500")))
    );
    let f = fill.unwrap();
    assert_eq!(f.venue_order_id, first.venue_order_id);
    assert_eq!(f.client_order_id.as_deref(), Some("u-1"));
    assert_eq!(
        (f.price, f.quantity, f.maker),
        (d("29500"), d("0.01"), true)
    );
    // The stream's fill is the venue's fill, with the venue's trade id.
    let rest = ex.my_trades("BTC/USD", 0).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].trade_id, f.trade_id);
}

#[tokio::test]
async fn a_fill_during_a_disconnect_arrives_once_after_reconnecting() {
    let (sim, srv) = spawn_default().await;
    let ex = adapter(&srv.base_url);
    let resting = ex
        .create_order(&limit("gap-1", Side::Buy, "0.01", "29000"))
        .await
        .unwrap();
    let mut s = ex.user_stream(vec!["BTC/USD".into()]).await.unwrap();
    match next_event(&mut s, 5).await {
        StreamEvent::Order(o) => assert_eq!(o.venue_order_id, resting.venue_order_id),
        other => panic!("expected the snapshot order, got {other:?}"),
    }
    sim.refuse_streams(true);
    sim.drop_streams();
    // Let the server close the socket before the fill, so only the resync can tell.
    tokio::time::sleep(Duration::from_millis(150)).await;
    sim.set_price("BTC/USD", d("28900"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.refuse_streams(false);

    match next_event(&mut s, 10).await {
        StreamEvent::Reconnected { gap_ms } => assert!(gap_ms > 0),
        other => panic!("expected Reconnected first, got {other:?}"),
    }
    let fill = match next_event(&mut s, 5).await {
        StreamEvent::Fill(f) => f,
        other => panic!("expected the missed fill, got {other:?}"),
    };
    assert_eq!(fill.venue_order_id, resting.venue_order_id);
    assert_eq!(
        (fill.price, fill.quantity, fill.maker),
        (d("29000"), d("0.01"), true)
    );
    // Nothing delivers it a second time (resync, snapshot and order updates included).
    let until = Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(ev)) = tokio::time::timeout_at(until.into(), s.next()).await {
        if let Ok(StreamEvent::Fill(f)) = ev {
            panic!("fill delivered twice: {f:?}");
        }
    }
}

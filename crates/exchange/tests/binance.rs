//! The Binance adapter against the local Binance server (testkit), over a simulated venue:
//! every trait method, signing, rate limits, outages, lost answers, websocket drops with a
//! REST resync, and rule checks before sending.

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
use skeet_testkit::binance::{API_KEY, API_SECRET, spawn_default};
use skeet_testkit::sim::{Fault, SimVenue};
use tokio::time::{Instant, timeout};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A config for the local server with its own limiter (tests must not share back-offs).
fn config(base_url: &str, secret: &str) -> VenueConfig {
    VenueConfig {
        limiter: RateLimiter::new(),
        timeout: Duration::from_secs(5),
        stream: StreamOptions {
            ping_every: Duration::from_secs(1),
            stale_after: Duration::from_secs(2),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(300),
            resync_margin: Duration::from_secs(5),
        },
        ..VenueConfig::at(base_url, Some(Credentials::new(API_KEY, secret)))
    }
}

async fn setup() -> (SimVenue, Running, Box<dyn Exchange>) {
    let (sim, server) = spawn_default().await;
    let ex = connect("binance", config(&server.base_url, API_SECRET)).unwrap();
    (sim, server, ex)
}

fn limit(side: Side, qty: &str, price: &str, id: &str) -> NewOrder {
    NewOrder {
        symbol: "BTC/USDT".into(),
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

/// The next event, failing the test after 5 s.
async fn next(s: &mut EventStream) -> StreamEvent {
    timeout(Duration::from_secs(5), s.next())
        .await
        .expect("no stream event within 5 s")
        .expect("stream ended")
        .expect("stream error")
}

#[tokio::test]
async fn market_data_calls_parse_the_documented_payloads() {
    let (_sim, _server, ex) = setup().await;
    let markets = ex.markets().await.unwrap();
    let btc = markets.iter().find(|m| m.symbol == "BTC/USDT").unwrap();
    assert_eq!(btc.venue_symbol, "BTCUSDT");
    assert_eq!((btc.base.as_str(), btc.quote.as_str()), ("BTC", "USDT"));
    assert_eq!(btc.status, MarketStatus::Trading);
    assert_eq!(btc.tick_size, d("0.01"));
    assert_eq!(btc.step_size, d("0.00001"));
    assert_eq!(btc.min_qty, d("0.00001"));
    assert_eq!(btc.min_notional, d("5"));
    let bnb = markets.iter().find(|m| m.symbol == "BNB/BTC").unwrap();
    assert_eq!(bnb.status, MarketStatus::Halted);
    assert_eq!(bnb.min_notional, d("0.0001"));

    let t = ex.ticker("BTC/USDT").await.unwrap();
    assert_eq!(t.last, Some(d("30000")));
    assert_eq!((t.bid, t.ask), (Some(d("29999.99")), Some(d("30000"))));
    assert_eq!(t.volume_24h, Some(d("18722.41508")));
    assert!(t.ts_ms > 0);
    let e = ex.ticker("DOGE/XYZ").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOrder);
    assert_eq!(e.code.as_deref(), Some("-1121"));

    let book = ex.order_book("BTC/USDT", 5).await.unwrap();
    assert_eq!((book.bids.len(), book.asks.len()), (5, 5));
    assert_eq!(book.bids[0], (d("29999.99"), d("0.05")));
    assert!(book.bids.windows(2).all(|w| w[0].0 > w[1].0));
    assert!(book.asks.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(book.bids[0].0 < book.asks[0].0);
}

#[tokio::test]
async fn candles_page_oldest_first_without_the_bar_in_progress() {
    let (_sim, _server, ex) = setup().await;
    let start = 1_704_153_600_000_i64;
    let page1 = ex
        .candles("BTC/USDT", Timeframe::M1, start, 10)
        .await
        .unwrap();
    assert_eq!(page1.len(), 10);
    assert_eq!(page1[0].ts.as_millis(), start);
    assert!((page1[0].open - 30000.0).abs() < 1e-9);
    assert!(
        page1
            .windows(2)
            .all(|w| w[1].ts.as_millis() - w[0].ts.as_millis() == 60_000)
    );
    // The next page starts one timeframe after the last bar.
    let from = page1[9].ts.as_millis() + 60_000;
    let page2 = ex
        .candles("BTC/USDT", Timeframe::M1, from, 10)
        .await
        .unwrap();
    assert_eq!(page2[0].ts.as_millis(), from);
    // Everything: the 40 recorded bars; the server's bar in progress is left out.
    let all = ex
        .candles("BTC/USDT", Timeframe::M1, start, 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 40);
    assert_eq!(all[39].ts.as_millis(), start + 39 * 60_000);
    let now = skeet_exchange::now_ms();
    assert!(all.iter().all(|b| b.ts.as_millis() + 60_000 <= now));
    let e = ex
        .candles("BTC/USDT", "2m".parse().unwrap(), start, 10)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOrder);
    assert!(e.message.contains("1m, 3m, 5m, 15m"), "{e}");
}

#[tokio::test]
async fn account_orders_and_fills_round_trip() {
    let (sim, _server, ex) = setup().await;
    let balances = ex.balances().await.unwrap();
    let usdt = balances.iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!((usdt.free, usdt.locked), (d("100000"), d("0")));
    assert_eq!(balances.len(), 3);

    let p = ex.permissions().await.unwrap();
    assert!(p.read && p.trade && !p.withdraw);
    assert_eq!(p.ip_restricted, Some(false));

    // A resting limit order.
    let o = ex
        .create_order(&limit(Side::Buy, "0.01", "29000", "t-limit-1"))
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Open);
    assert_eq!(o.client_order_id.as_deref(), Some("t-limit-1"));
    assert_eq!((o.price, o.quantity), (Some(d("29000")), d("0.01")));
    let by_id = ex
        .fetch_order("BTC/USDT", &OrderRef::Venue(o.venue_order_id.clone()))
        .await
        .unwrap();
    let by_client = ex
        .fetch_order("BTC/USDT", &OrderRef::Client("t-limit-1".into()))
        .await
        .unwrap();
    assert_eq!(by_id, by_client);
    assert_eq!(by_id.venue_order_id, o.venue_order_id);
    let locked = ex.balances().await.unwrap();
    assert!(
        locked
            .iter()
            .any(|b| b.asset == "USDT" && b.locked > Decimal::ZERO)
    );

    let open = ex.open_orders(Some("BTC/USDT")).await.unwrap();
    assert_eq!(open.len(), 1);
    let all = ex.open_orders(None).await.unwrap();
    assert_eq!(all[0].symbol, "BTC/USDT");

    let c = ex
        .cancel_order("BTC/USDT", &OrderRef::Client("t-limit-1".into()))
        .await
        .unwrap();
    assert_eq!(c.state, OrderState::Cancelled);
    assert_eq!(c.client_order_id.as_deref(), Some("t-limit-1"));
    assert!(ex.open_orders(None).await.unwrap().is_empty());
    let e = ex
        .cancel_order("BTC/USDT", &OrderRef::Venue(o.venue_order_id.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOrder);
    let e = ex
        .fetch_order("BTC/USDT", &OrderRef::Client("never-placed".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOrder);
    assert_eq!(e.code.as_deref(), Some("-2013"));

    // A market order fills at once.
    let since = skeet_exchange::now_ms() - 1_000;
    let m = ex
        .create_order(&market(Side::Buy, "0.01", "t-market-1"))
        .await
        .unwrap();
    assert_eq!(m.state, OrderState::Filled);
    assert_eq!((m.filled, m.avg_price), (d("0.01"), Some(d("30000"))));
    let fills = ex.my_trades("BTC/USDT", since).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].venue_order_id, m.venue_order_id);
    assert_eq!((fills[0].price, fills[0].quantity), (d("30000"), d("0.01")));
    assert_eq!(
        (fills[0].fee, fills[0].fee_asset.as_str()),
        (d("0.3"), "USDT")
    );
    assert_eq!(fills[0].side, Side::Buy);
    assert!(!fills[0].maker);

    // The venue's own refusals keep their code and map to what the caller can do.
    let e = ex
        .create_order(&market(Side::Buy, "0.01", "t-market-1"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateOrder);
    let e = ex
        .create_order(&market(Side::Buy, "10", "t-too-big"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InsufficientFunds);
    assert_eq!(sim.created.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn market_stream_delivers_trades_quotes_and_candles() {
    let (_sim, _server, ex) = setup().await;
    let mut s = ex
        .market_stream(vec![
            Subscription::Trades {
                symbol: "BTC/USDT".into(),
            },
            Subscription::BestBidAsk {
                symbol: "BTC/USDT".into(),
            },
            Subscription::Candles {
                symbol: "BTC/USDT".into(),
                timeframe: "1m".into(),
            },
        ])
        .await
        .unwrap();
    let (mut trade, mut quote, mut candle) = (false, false, false);
    while !(trade && quote && candle) {
        match next(&mut s).await {
            StreamEvent::Trade {
                symbol,
                price,
                quantity,
                ..
            } => {
                assert_eq!((symbol.as_str(), price), ("BTC/USDT", d("30000")));
                assert!(quantity > Decimal::ZERO);
                trade = true;
            }
            StreamEvent::BestBidAsk { bid, ask, .. } => {
                assert_eq!((bid, ask), (d("29999.99"), d("30000")));
                quote = true;
            }
            StreamEvent::Candle {
                timeframe,
                bar,
                closed,
                ..
            } => {
                assert_eq!(timeframe, "1m");
                assert!(!closed);
                assert!((bar.close - 30000.0).abs() < 1e-9);
                candle = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let e = ex
        .market_stream(vec![Subscription::Candles {
            symbol: "BTC/USDT".into(),
            timeframe: "7m".into(),
        }])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOrder);
}

#[tokio::test]
async fn user_stream_reports_orders_and_fills() {
    let (sim, _server, ex) = setup().await;
    let mut s = ex.user_stream(vec!["BTC/USDT".into()]).await.unwrap();
    // The stream is up once the listen key exists and the socket opened; give it a moment
    // by placing through the adapter and waiting for the order's event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let o = ex
        .create_order(&limit(Side::Buy, "0.01", "29000", "t-stream-1"))
        .await
        .unwrap();
    let StreamEvent::Order(open) = next(&mut s).await else {
        panic!("expected the order")
    };
    assert_eq!(open.venue_order_id, o.venue_order_id);
    assert_eq!(open.client_order_id.as_deref(), Some("t-stream-1"));
    assert_eq!(open.state, OrderState::Open);
    sim.set_price("BTC/USDT", d("28900"));
    let StreamEvent::Fill(f) = next(&mut s).await else {
        panic!("expected the fill")
    };
    assert_eq!(f.client_order_id.as_deref(), Some("t-stream-1"));
    assert_eq!(
        (f.price, f.quantity, f.maker),
        (d("29000"), d("0.01"), true)
    );
    assert_eq!((f.fee, f.fee_asset.as_str()), (d("0.29"), "USDT"));
    let StreamEvent::Order(done) = next(&mut s).await else {
        panic!("expected the order's new state")
    };
    assert_eq!(done.state, OrderState::Filled);
    assert_eq!(done.avg_price, Some(d("29000")));
}

#[tokio::test]
async fn a_wrong_secret_is_an_auth_error_counted_by_the_venue() {
    let (sim, server, _ex) = setup().await;
    let bad = connect("binance", config(&server.base_url, "not-the-secret")).unwrap();
    let e = bad.balances().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("-1022"));
    assert_eq!(sim.bad_signatures.load(Ordering::SeqCst), 1);
    // Without a key a private call fails before sending anything.
    let before = sim.requests.load(Ordering::SeqCst);
    let anon = connect("binance", VenueConfig::at(&server.base_url, None)).unwrap();
    assert_eq!(anon.balances().await.unwrap_err().kind, ErrorKind::Auth);
    assert_eq!(sim.requests.load(Ordering::SeqCst), before);
    // A wrong key is refused as such.
    let wrong_key = connect(
        "binance",
        VenueConfig {
            credentials: Some(Credentials::new("someone-else", API_SECRET)),
            ..config(&server.base_url, API_SECRET)
        },
    )
    .unwrap();
    let e = wrong_key.permissions().await.unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::Auth, Some("-2015"))
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_by_everyone() {
    let (sim, _server, ex) = setup().await;
    sim.inject(Fault::RateLimit { secs: 1 });
    let t0 = Instant::now();
    let t = retry_read(3, || ex.ticker("BTC/USDT")).await.unwrap();
    assert_eq!(t.last, Some(d("30000")));
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t0.elapsed()
    );

    // The 429 blocks the shared bucket: the next call waits although it was not refused.
    sim.inject(Fault::RateLimit { secs: 1 });
    let e = ex.ticker("BTC/USDT").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
    let t1 = Instant::now();
    ex.order_book("BTC/USDT", 5).await.unwrap();
    assert!(
        t1.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t1.elapsed()
    );
}

#[tokio::test]
async fn outages_during_placement_end_with_one_order() {
    let (sim, _server, ex) = setup().await;
    ex.markets().await.unwrap();
    for _ in 0..3 {
        sim.inject(Fault::Unavailable);
    }
    let o = submit(&*ex, &limit(Side::Buy, "0.01", "29500", "t-burst-1"), 6)
        .await
        .unwrap();
    assert_eq!(o.client_order_id.as_deref(), Some("t-burst-1"));
    assert_eq!(sim.created.load(Ordering::SeqCst), 1);
    assert_eq!(sim.placements.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_client_id_without_a_duplicate() {
    let (sim, server, _ex) = setup().await;
    let ex = connect(
        "binance",
        VenueConfig {
            timeout: Duration::from_millis(300),
            ..config(&server.base_url, API_SECRET)
        },
    )
    .unwrap();
    ex.markets().await.unwrap();
    sim.inject(Fault::SlowAnswer(Duration::from_secs(1)));
    let o = submit(&*ex, &limit(Side::Buy, "0.01", "29500", "t-slow-1"), 3)
        .await
        .unwrap();
    assert_eq!(o.client_order_id.as_deref(), Some("t-slow-1"));
    assert_eq!(o.state, OrderState::Open);
    assert_eq!(sim.created.load(Ordering::SeqCst), 1);
    assert_eq!(sim.placements.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn orders_breaking_the_rules_are_refused_before_sending() {
    let (sim, _server, ex) = setup().await;
    ex.markets().await.unwrap();
    let before = sim.requests.load(Ordering::SeqCst);
    for (order, rule) in [
        (
            limit(Side::Buy, "0.000015", "30000", "t-bad-1"),
            "step size",
        ),
        (
            limit(Side::Buy, "0.001", "30000.005", "t-bad-2"),
            "tick size",
        ),
        (
            limit(Side::Buy, "0.0001", "30000", "t-bad-3"),
            "minimum notional",
        ),
        (
            NewOrder {
                symbol: "BNB/BTC".into(),
                ..limit(Side::Buy, "1", "0.01", "t-bad-4")
            },
            "not trading",
        ),
    ] {
        let e = ex.create_order(&order).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidOrder);
        assert!(e.message.contains(rule), "{e}");
    }
    assert_eq!(sim.requests.load(Ordering::SeqCst), before);
    assert_eq!(sim.placements.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_fill_during_a_websocket_outage_arrives_once_after_reconnecting() {
    let (sim, _server, ex) = setup().await;
    let mut s = ex.user_stream(vec!["BTC/USDT".into()]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    ex.create_order(&limit(Side::Buy, "0.01", "29000", "t-gap-1"))
        .await
        .unwrap();
    let StreamEvent::Order(open) = next(&mut s).await else {
        panic!("expected the order")
    };
    assert_eq!(open.state, OrderState::Open);

    sim.refuse_streams(true);
    sim.drop_streams();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.set_now_ms(skeet_exchange::now_ms());
    sim.set_price("BTC/USDT", d("28900"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.refuse_streams(false);

    let first = next(&mut s).await;
    assert!(
        matches!(first, StreamEvent::Reconnected { gap_ms } if gap_ms > 0),
        "{first:?}"
    );
    let mut fills = Vec::new();
    // Collect until the stream has been quiet for a while: the fill must come exactly once.
    while let Ok(Some(ev)) = timeout(Duration::from_millis(700), s.next()).await {
        if let StreamEvent::Fill(f) = ev.unwrap() {
            fills.push(f);
        }
    }
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(fills[0].client_order_id.as_deref(), Some("t-gap-1"));
    assert_eq!((fills[0].price, fills[0].quantity), (d("29000"), d("0.01")));
    assert!(fills[0].maker);
}

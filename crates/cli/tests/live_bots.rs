//! A live bot against the local Binance test server, crashed (the process aborts, as kill -9
//! would leave it) right after journaling an order and again right after sending one, and
//! restarted each time: no order is lost, none is placed twice, and the bot's position matches
//! the venue's balance; then the venue fails in bursts (5xx, a rate limit) and the bot trades
//! on without duplicating anything. The crash points are the workers' `SKEET_FAILPOINTS`
//! hooks.

#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    reason = "test: request bodies are built inline and handed over"
)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use skeet_testkit::binance;
use skeet_testkit::sim::Fault;

mod common;
use common::request;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `skeet serve` on the test's data directory, pointed at the venue, with the crash points
/// armed; returns the process and its address.
fn serve(dir: &std::path::Path, venue_url: &str) -> (Proc, String) {
    serve_with(dir, venue_url, "bot-after-intent,bot-after-send")
}

fn serve_with(dir: &std::path::Path, venue_url: &str, failpoints: &str) -> (Proc, String) {
    let mut p = Proc(
        Command::new(env!("CARGO_BIN_EXE_skeet"))
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--lease-ms", "900"])
            .args(["--venue-url", &format!("binance={venue_url}")])
            .env_remove("DATABASE_URL")
            .env("SKEET_FAILPOINTS", failpoints)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = common::wait_ready(&mut p.0).0;
    (p, addr)
}

fn call(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> common::Response {
    let auth = format!("Bearer {token}");
    request(
        addr,
        method,
        path,
        &[("Authorization", auth.as_str())],
        body.as_ref(),
    )
}

/// The local Binance test server with 300 bars of history at every interval.
fn test_venue(
    rt: &tokio::runtime::Runtime,
) -> (skeet_testkit::sim::SimVenue, skeet_testkit::Running) {
    let sim = binance::default_sim();
    let venue = rt.block_on(binance::spawn(
        sim.clone(),
        binance::ServerConfig {
            history_bars: 300,
            ..binance::ServerConfig::default()
        },
    ));
    (sim, venue)
}

/// Signs `email` up; its workspace id and session token.
fn sign_up(addr: &str, email: &str) -> (String, String) {
    let creds = json!({"email": email, "password": "a long test password"});
    let up = request(addr, "POST", "/api/auth/signup", &[], Some(&creds));
    assert_eq!(up.status, 201, "{}", up.body);
    let login = request(addr, "POST", "/api/auth/login", &[], Some(&creds));
    (
        up.body["workspace_id"].as_str().unwrap().to_string(),
        login.body["token"].as_str().unwrap().to_string(),
    )
}

/// Stores the test server's key pair as the workspace's Binance credential; its id.
fn binance_credential(addr: &str, token: &str, ws: &str) -> String {
    let cred = call(
        addr,
        token,
        "POST",
        &format!("/api/workspaces/{ws}/credentials"),
        Some(
            json!({"venue": "binance", "label": "main", "api_key": binance::API_KEY, "api_secret": binance::API_SECRET}),
        ),
    );
    assert_eq!(cred.status, 201, "{}", cred.body);
    cred.body["id"].as_str().unwrap().to_string()
}

/// Creates a bot from `body` in workspace `ws` and starts it; its id.
fn start_bot(addr: &str, token: &str, ws: &str, body: &Value) -> String {
    let b = call(
        addr,
        token,
        "POST",
        &format!("/api/workspaces/{ws}/bots"),
        Some(body.clone()),
    );
    assert_eq!(b.status, 201, "{}", b.body);
    let id = b.body["id"].as_str().unwrap().to_string();
    let s = call(
        addr,
        token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/start"),
        None,
    );
    assert_eq!(s.status, 200, "{}", s.body);
    id
}

/// Every venue fill recorded once among `events`, and the stopped bot's position (`done`)
/// equal to what the venue holds beyond the 1 BTC the account started with.
#[track_caller]
fn fills_match_the_venue(events: &[Value], done: &Value, sim: &skeet_testkit::sim::SimVenue) {
    let mut trade_ids: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "fill")
        .map(|e| e["data"]["trade_id"].as_str().unwrap())
        .collect();
    let n = trade_ids.len();
    trade_ids.sort_unstable();
    trade_ids.dedup();
    assert_eq!(n, trade_ids.len(), "a fill recorded twice");
    assert_eq!(
        n,
        sim.trades("BTC/USDT", 0).len(),
        "every venue fill recorded"
    );
    let position: Decimal = done["summary"]["position"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(position, sim.free("BTC") - Decimal::ONE, "{done}");
}

/// Waits for the server process to die at a crash point.
fn wait_crash(p: &mut Proc, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            assert!(!status.success(), "{what}: the process ended normally");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the crash point was never reached"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A crossover of 2- and 3-bar averages: on the test server's 1 s bars it trades every few
/// seconds.
fn fast_cross() -> Value {
    json!({
        "version": 1,
        "name": "fast cross",
        "indicators": {"fast_ma": "sma(close, 2)", "slow_ma": "sma(close, 3)"},
        "entry": {"long": "crossover(fast_ma, slow_ma)"},
        "exit": {"long": "crossunder(fast_ma, slow_ma)"},
        "execution": {"order": {"type": "market"}, "sizing": {"type": "all_in"}}
    })
}

#[test]
fn a_live_bot_crashed_between_journal_send_and_ack_loses_and_duplicates_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();

    // First life: set up, start, and crash right after the first order is journaled.
    let (mut p1, addr) = serve(dir.path(), &venue.base_url);
    let (ws, token) = sign_up(&addr, "live@example.com");
    let cred_id = binance_credential(&addr, &token, &ws);
    let id = start_bot(
        &addr,
        &token,
        &ws,
        &json!({
            "name": "live sma", "mode": "live", "venue": "binance",
            "run": {"spec": fast_cross(), "symbol": "BTC/USDT", "timeframe": "1s"},
            "live": {"credential_id": cred_id, "quote_per_trade": "300", "warmup_bars": 60}
        }),
    );
    wait_crash(&mut p1, "after the intent");
    assert_eq!(
        sim.created.load(Ordering::SeqCst),
        0,
        "the crash came before sending"
    );

    // Second life: reconcile (the intent never reached the venue), trade on, and crash right
    // after the next order was sent, before its answer is recorded.
    let (mut p2, _) = serve(dir.path(), &venue.base_url);
    wait_crash(&mut p2, "after sending");
    assert_eq!(
        sim.created.load(Ordering::SeqCst),
        1,
        "the order reached the venue"
    );

    // Third life: the sent order is found by its client id, its fill recovered; trading goes
    // on until a round trip more has filled.
    let (_p3, addr) = serve(dir.path(), &venue.base_url);
    let deadline = Instant::now() + Duration::from_secs(90);
    let b = loop {
        let b = call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body;
        if b["summary"]["fills"].as_u64().unwrap_or(0) >= 3 {
            break b;
        }
        assert!(Instant::now() < deadline, "the bot stopped trading: {b}");
        assert_ne!(b["state"], "error", "{b}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // The venue fails in bursts (5xx, then a rate limit): the bot backs off and trades on.
    let before = b["summary"]["fills"].as_u64().unwrap();
    for _ in 0..4 {
        sim.inject(Fault::Unavailable);
    }
    sim.inject(Fault::RateLimit { secs: 1 });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let now = call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body;
        if now["summary"]["fills"].as_u64().unwrap_or(0) >= before + 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no trading after the outage: {now}"
        );
        assert_ne!(now["state"], "error", "{now}");
        std::thread::sleep(Duration::from_millis(200));
    }
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/stop"),
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let b = loop {
        let now = call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body;
        if now["state"] == "stopped" {
            break now;
        }
        assert!(Instant::now() < deadline, "{b}");
        std::thread::sleep(Duration::from_millis(100));
    };

    // Nothing placed twice: every placement created an order, and the venue holds each
    // client order id once.
    let placements = sim.placements.load(Ordering::SeqCst);
    let created = sim.created.load(Ordering::SeqCst);
    assert_eq!(
        placements, created,
        "a placement was refused as a duplicate"
    );
    let venue_orders = sim.orders();
    let mut ids: Vec<&str> = venue_orders.iter().map(|o| o.client_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        venue_orders.len(),
        "a client order id was used twice"
    );

    // The journal holds every order: the never-sent intent, and all the venue has.
    let journal = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{id}/orders"),
        None,
    )
    .body;
    let journal = journal.as_array().unwrap();
    assert_eq!(journal[0]["state"], "not_sent", "{journal:?}");
    let sent: Vec<&str> = journal
        .iter()
        .filter(|e| e["state"] != "not_sent")
        .map(|e| e["client_order_id"].as_str().unwrap())
        .collect();
    let mut at_venue: Vec<&str> = venue_orders.iter().map(|o| o.client_id.as_str()).collect();
    at_venue.sort_unstable();
    let mut sent_sorted = sent.clone();
    sent_sorted.sort_unstable();
    assert_eq!(
        sent_sorted, at_venue,
        "journal and venue hold the same orders"
    );
    assert!(
        journal
            .iter()
            .all(|e| e["state"] != "intent" && e["state"] != "sent"),
        "{journal:?}"
    );

    // The events tell what reconciliation found; every fill once.
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{id}/events?limit=5000"),
        None,
    )
    .body;
    let events = events.as_array().unwrap();
    let mismatches: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "mismatch")
        .map(|e| e["data"]["kind"].as_str().unwrap())
        .collect();
    assert!(mismatches.contains(&"intent_not_sent"), "{mismatches:?}");
    assert!(mismatches.contains(&"fill_recovered"), "{mismatches:?}");
    assert!(!mismatches.contains(&"balance_drift"), "{mismatches:?}");
    fills_match_the_venue(events, &b, &sim);
    drop(venue);
}

#[test]
fn a_paper_bot_on_live_data_fills_by_the_backtest_rules_and_never_touches_the_venue() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "paper@example.com");
    let id = start_bot(
        &addr,
        &token,
        &ws,
        &json!({
            "name": "paper live", "mode": "paper", "venue": "binance",
            "run": {"spec": fast_cross(), "symbol": "BTC/USDT", "timeframe": "1s", "cash": "5000"},
            "live": {"quote_per_trade": "300", "warmup_bars": 60}
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let b = call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body;
        if b["summary"]["fills"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no paper fills: {b}");
        assert_ne!(b["state"], "error", "{b}");
        std::thread::sleep(Duration::from_millis(200));
    }
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/stop"),
        None,
    );
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{id}/events?limit=5000"),
        None,
    )
    .body;
    let events = events.as_array().unwrap();
    let opens: Vec<Decimal> = events
        .iter()
        .filter(|e| e["kind"] == "bar")
        .map(|e| {
            format!("{}", e["data"]["o"].as_f64().unwrap())
                .parse()
                .unwrap()
        })
        .collect();
    let fills: Vec<&Value> = events.iter().filter(|e| e["kind"] == "fill").collect();
    assert!(fills.len() >= 3);
    for f in &fills {
        // The next bar's open, as in backtests (no slippage configured).
        let price: Decimal = f["data"]["price"].as_str().unwrap().parse().unwrap();
        assert!(opens.contains(&price), "fill at {price} is no bar's open");
        let q: Decimal = f["data"]["quantity"].as_str().unwrap().parse().unwrap();
        let fee: Decimal = f["data"]["fee"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            fee,
            (q * price * Decimal::new(1, 3)).normalize(),
            "taker fee 0.1 %"
        );
    }
    // The real venue saw market data requests only.
    assert_eq!(sim.placements.load(Ordering::SeqCst), 0);
    drop(venue);
}

#[test]
fn the_price_band_holds_entries_back_and_a_daily_loss_limit_is_accepted() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "risk@example.com");
    let create = |name: &str, risk: Value| {
        start_bot(
            &addr,
            &token,
            &ws,
            &json!({
                "name": name, "mode": "paper", "venue": "binance",
                "run": {"spec": fast_cross(), "symbol": "BTC/USDT", "timeframe": "1s"},
                "live": {"quote_per_trade": "300", "warmup_bars": 60},
                "risk": risk
            }),
        )
    };
    // The test server's last trade stays at 30,000 while its candles wave around it by up to
    // a few hundred: a 0.0001 % band refuses every entry.
    let banded = create("banded", json!({"price_band_pct": 0.0001}));
    // A daily loss limit is accepted and the bot runs with it (whether the synthetic waves
    // make a loss in a given minute is chance, so the limit's arithmetic is unit-tested in
    // skeet-worker's live module); a negative limit is refused.
    let careful = create("careful", json!({"max_daily_loss": 25}));
    let risk_of = |id: &str, what: &str| -> Vec<Value> {
        let ev = call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}/events?limit=5000"),
            None,
        )
        .body;
        ev.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "risk" && e.to_string().contains(what))
            .cloned()
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while risk_of(&banded, "price band").is_empty() {
        assert!(Instant::now() < deadline, "the price band never acted");
        std::thread::sleep(Duration::from_millis(250));
    }
    let b = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{banded}"),
        None,
    )
    .body;
    assert_eq!(b["summary"]["fills"], 0, "no entry passed the band: {b}");
    let metrics = call(&addr, &token, "GET", "/metrics", None).body;
    assert!(
        metrics
            .as_str()
            .unwrap_or_default()
            .contains("skeet_bot_risk_refusals_total{check=\"price_band\"}"),
        "refusals counted by check: {metrics}"
    );
    let c = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{careful}"),
        None,
    )
    .body;
    assert_eq!(c["state"], "running", "{c}");
    let bad = call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots"),
        Some(json!({
            "name": "negative", "mode": "paper", "venue": "binance",
            "run": {"spec": fast_cross(), "symbol": "BTC/USDT", "timeframe": "1s"},
            "live": {"quote_per_trade": "300"},
            "risk": {"max_daily_loss": -5}
        })),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .contains("max_daily_loss"),
        "{}",
        bad.body
    );
    drop(venue);
}

#[test]
fn on_postgres_a_killed_worker_hands_its_live_bot_to_the_other_which_reconciles() {
    let Some(pg) = common::PgDatabase::create() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let skeet = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_skeet"));
        c.arg("--data-dir")
            .arg(dir.path())
            .env("DATABASE_URL", &pg.url)
            .env_remove("SKEET_FAILPOINTS");
        c
    };
    let mut api = Proc(
        skeet()
            .args(["serve", "--listen", "127.0.0.1:0", "--no-workers"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = common::wait_ready(&mut api.0).0;
    let (ws, token) = sign_up(&addr, "pg@example.com");
    let cred_id = binance_credential(&addr, &token, &ws);
    let bot = call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots"),
        Some(json!({
            "name": "pg live", "mode": "live", "venue": "binance",
            "run": {"spec": fast_cross(), "symbol": "BTC/USDT", "timeframe": "1s"},
            "live": {"credential_id": cred_id, "quote_per_trade": "300", "warmup_bars": 60}
        })),
    );
    let id = bot.body["id"].as_str().unwrap().to_string();
    let worker = || {
        Proc(
            skeet()
                .args(["worker", "--workers", "1", "--lease-ms", "1500"])
                .args(["--venue-url", &format!("binance={}", venue.base_url)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut workers = [worker(), worker()];
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/start"),
        None,
    );
    let get = || {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let running = loop {
        let b = get();
        if b["state"] == "running" && b["summary"]["fills"].as_u64().unwrap_or(0) >= 1 {
            break b;
        }
        assert!(Instant::now() < deadline, "{b}");
        assert_ne!(b["state"], "error", "{b}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let owner = running["lease_owner"].as_str().unwrap().to_string();
    let pid: u32 = owner.rsplit('-').next().unwrap().parse().unwrap();
    let victim = workers.iter().position(|w| w.0.id() == pid).unwrap();
    workers[victim].0.kill().unwrap();
    workers[victim].0.wait().unwrap();
    let killed_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    let taken = loop {
        let b = get();
        if b["fence"].as_i64().unwrap() >= 2 && b["state"] == "running" {
            break b;
        }
        assert!(Instant::now() < deadline, "{b}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_ne!(taken["lease_owner"].as_str().unwrap(), owner);
    assert!(
        killed_at.elapsed() < Duration::from_secs(15),
        "{:?}",
        killed_at.elapsed()
    );
    let before = taken["summary"]["fills"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let b = get();
        if b["summary"]["fills"].as_u64().unwrap_or(0) >= before + 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no trading after the takeover: {b}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/stop"),
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let b = get();
        if b["state"] == "stopped" {
            break b;
        }
        assert!(Instant::now() < deadline, "{b}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        sim.placements.load(Ordering::SeqCst),
        sim.created.load(Ordering::SeqCst),
        "nothing placed twice"
    );
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{id}/events?limit=5000"),
        None,
    )
    .body;
    fills_match_the_venue(events.as_array().unwrap(), &done, &sim);
    drop(venue);
}

#[test]
fn fills_during_a_user_stream_outage_are_all_recorded_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "ws@example.com");
    let cred_id = binance_credential(&addr, &token, &ws);
    let bot = call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots"),
        Some(json!({
            "name": "streamed", "mode": "live", "venue": "binance",
            "run": {"spec": fast_cross(), "symbol": "BTC/USDT", "timeframe": "1s"},
            "live": {"credential_id": cred_id, "quote_per_trade": "300", "warmup_bars": 60}
        })),
    );
    let id = bot.body["id"].as_str().unwrap().to_string();
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/start"),
        None,
    );
    let get = || {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body
    };
    let wait = |what: &str, ok: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let b = get();
            if ok(&b) {
                return b;
            }
            assert!(Instant::now() < deadline, "{what}: {b}");
            assert_ne!(b["state"], "error", "{b}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait("a first fill", &|b| {
        b["summary"]["fills"].as_u64().unwrap_or(0) >= 1
    });
    // The user stream goes down (and reconnects are refused) while the bot keeps trading.
    let venue_fills_before = sim.trades("BTC/USDT", 0).len();
    sim.refuse_streams(true);
    sim.drop_streams();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.trades("BTC/USDT", 0).len() < venue_fills_before + 2 {
        assert!(Instant::now() < deadline, "no fills during the outage");
        std::thread::sleep(Duration::from_millis(100));
    }
    sim.refuse_streams(false);
    let events_of = || {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}/events?limit=5000"),
            None,
        )
        .body
        .as_array()
        .unwrap()
        .clone()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !events_of()
        .iter()
        .any(|e| e["kind"] == "stream" && e["data"]["event"] == "reconnected")
    {
        assert!(Instant::now() < deadline, "the user stream never came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/stop"),
        None,
    );
    let done = wait("the stop", &|b| b["state"] == "stopped");
    let events = events_of();
    fills_match_the_venue(&events, &done, &sim);
    drop(venue);
}

#[test]
fn a_live_bot_flattens_with_a_market_sell_and_stops() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "flat@example.com");
    let cred_id = binance_credential(&addr, &token, &ws);
    // Enters and never exits: flatten is the only way out.
    let hold = json!({
        "version": 1, "name": "hold",
        "indicators": {"fast_ma": "sma(close, 2)", "slow_ma": "sma(close, 3)"},
        "entry": {"long": "crossover(fast_ma, slow_ma)"},
        "exit": {"long": "close < 0"},
        "execution": {"order": {"type": "market"}, "sizing": {"type": "all_in"}}
    });
    let id = start_bot(
        &addr,
        &token,
        &ws,
        &json!({
            "name": "holder", "mode": "live", "venue": "binance",
            "run": {"spec": hold, "symbol": "BTC/USDT", "timeframe": "1s"},
            "live": {"credential_id": cred_id, "quote_per_trade": "300", "warmup_bars": 60}
        }),
    );
    let get = || {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.free("BTC") <= Decimal::ONE {
        assert!(Instant::now() < deadline, "never bought: {}", get());
        std::thread::sleep(Duration::from_millis(200));
    }
    let flat = call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{id}/flatten"),
        None,
    );
    assert_eq!(flat.status, 200, "{}", flat.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let b = get();
        if b["state"] == "stopped" {
            break b;
        }
        assert!(Instant::now() < deadline, "{b}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["desired"], "stopped");
    assert_eq!(done["summary"]["position"], "0", "{done}");
    assert_eq!(
        sim.free("BTC"),
        Decimal::ONE,
        "the venue holds what it held before the bot"
    );
    drop(venue);
}

#[test]
fn a_bot_on_live_data_closes_positions_by_the_specs_time_stop_as_the_engine_does() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "stops@example.com");
    // Always wants in, never exits by rule: only the time stop (2 bars) closes positions.
    let spec = json!({
        "version": 1, "name": "held two bars",
        "entry": {"long": "close > 0"}, "exit": {"long": "close < 0"},
        "execution": {"order": {"type": "market"}, "sizing": {"type": "all_in"}, "time_stop": {"bars": 2}}
    });
    let bot = call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots"),
        Some(json!({
            "name": "time stop", "mode": "paper", "venue": "binance",
            "run": {"spec": spec, "symbol": "BTC/USDT", "timeframe": "1s", "cash": "5000"},
            "live": {"quote_per_trade": "300", "warmup_bars": 30}
        })),
    );
    assert_eq!(bot.status, 201, "{}", bot.body);
    let id = bot.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/workspaces/{ws}/bots/{id}");
    call(&addr, &token, "POST", &format!("{path}/start"), None);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let b = call(&addr, &token, "GET", &path, None).body;
        if b["summary"]["fills"].as_u64().unwrap_or(0) >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no round trips: {b}");
        assert_ne!(b["state"], "error", "{b}");
        std::thread::sleep(Duration::from_millis(200));
    }
    call(&addr, &token, "POST", &format!("{path}/stop"), None);
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("{path}/events?limit=5000"),
        None,
    )
    .body;
    let events = events.as_array().unwrap();
    let sells: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "order" && e["data"]["side"] == "sell")
        .collect();
    assert!(!sells.is_empty());
    assert!(
        sells.iter().all(|e| e["data"]["reason"] == "time_stop"),
        "{sells:?}"
    );
    // The engine's timing: filled at a bar's open, decided two bars later at that bar's
    // close, filled at the next open: three bars from entry fill to exit fill.
    let fills: Vec<(String, i64)> = events
        .iter()
        .filter(|e| e["kind"] == "fill")
        .map(|e| {
            (
                e["data"]["side"].as_str().unwrap().to_string(),
                e["ts"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut pairs = 0;
    for w in fills.windows(2) {
        if w[0].0 == "buy" && w[1].0 == "sell" {
            assert_eq!(w[1].1 - w[0].1, 3_000, "{fills:?}");
            pairs += 1;
        }
    }
    assert!(pairs >= 1, "{fills:?}");
    let metrics = call(&addr, &token, "GET", "/metrics", None).body;
    assert!(
        metrics
            .as_str()
            .unwrap_or_default()
            .contains("skeet_bot_order_round_trip_seconds_count{venue=\"paper\"}"),
        "order round trips measured: {metrics}"
    );
    assert!(
        metrics
            .as_str()
            .unwrap_or_default()
            .contains("skeet_bot_bar_delay_seconds_count{venue=\"binance\"}"),
        "bar staleness measured: {metrics}"
    );
    drop(venue);
}

#[test]
fn the_total_exposure_limit_counts_the_other_bots_of_the_workspace() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "exposure@example.com");
    let hold = json!({
        "version": 1, "name": "hold",
        "entry": {"long": "close > 0"}, "exit": {"long": "close < 0"},
        "execution": {"order": {"type": "market"}, "sizing": {"type": "all_in"}}
    });
    let create = |name: &str, risk: Value| {
        start_bot(
            &addr,
            &token,
            &ws,
            &json!({
                "name": name, "mode": "paper", "venue": "binance",
                "run": {"spec": hold, "symbol": "BTC/USDT", "timeframe": "1s", "cash": "5000"},
                "live": {"quote_per_trade": "300", "warmup_bars": 30},
                "risk": risk
            }),
        )
    };
    let bot = |id: &str| {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}"),
            None,
        )
        .body
    };
    // The first bot buys about 300 USDT and holds it.
    let first = create("first", json!({}));
    let deadline = Instant::now() + Duration::from_secs(60);
    while bot(&first)["summary"]["fills"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the first bot never bought");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The second may add at most 400 in all: 300 more would make about 600.
    let second = create("second", json!({"max_total_exposure": 400}));
    let deadline = Instant::now() + Duration::from_secs(60);
    let refusal = loop {
        let ev = call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{second}/events?limit=5000"),
            None,
        )
        .body;
        let found = ev
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "risk" && e["data"]["check"] == "max_total_exposure")
            .cloned();
        if let Some(r) = found {
            break r;
        }
        assert!(Instant::now() < deadline, "no exposure refusal: {ev}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let reason = refusal["data"]["reason"].as_str().unwrap();
    assert!(reason.contains("the limit is 400"), "{reason}");
    assert_eq!(bot(&second)["summary"]["fills"], 0, "nothing bought");
    assert!(bot(&first)["summary"]["fills"].as_u64().unwrap() >= 1);
    drop(venue);
}

/// Waits until `f` holds, polling.
fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn limit_entries_expire_like_the_engines_and_a_stop_cancels_or_leaves_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "limits@example.com");
    let cred_id = binance_credential(&addr, &token, &ws);
    // Always wants in, with a limit 5 % under the close: it never fills on this market.
    let limit = |valid_bars: u32| {
        json!({
            "version": 1, "name": "patient",
            "entry": {"long": "close > 0"}, "exit": {"long": "close < 0"},
            "execution": {"order": {"type": "limit", "offset_pct": 5, "valid_bars": valid_bars}, "sizing": {"type": "all_in"}}
        })
    };
    let create = |name: &str, spec: Value| {
        start_bot(
            &addr,
            &token,
            &ws,
            &json!({
                "name": name, "mode": "live", "venue": "binance",
                "run": {"spec": spec, "symbol": "BTC/USDT", "timeframe": "1s"},
                "live": {"credential_id": cred_id, "quote_per_trade": "300", "warmup_bars": 30},
                // The band compares the venue's price with the close decided on, not with
                // the limit 5 % under it (which would refuse every limit entry).
                "risk": {"price_band_pct": 3}
            }),
        )
    };
    let path = |id: &str| format!("/api/workspaces/{ws}/bots/{id}");
    let journal = |id: &str| -> Vec<Value> {
        call(&addr, &token, "GET", &format!("{}/orders", path(id)), None)
            .body
            .as_array()
            .unwrap()
            .clone()
    };
    let state = |id: &str| call(&addr, &token, "GET", &path(id), None).body["state"].clone();
    let at_venue = |cid: &str| {
        sim.open_orders(Some("BTC/USDT"))
            .iter()
            .any(|o| o.client_id == cid)
    };

    // Valid for 2 bars: cancelled at the second bar's close, then placed again.
    let brief = create("brief", limit(2));
    wait_for("two expired entries", || {
        journal(&brief)
            .iter()
            .filter(|e| e["state"] == "cancelled")
            .count()
            >= 2
    });
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("{}/events?limit=5000", path(&brief)),
        None,
    )
    .body;
    let events = events.as_array().unwrap();
    let bars: Vec<i64> = events
        .iter()
        .filter(|e| e["kind"] == "bar")
        .map(|e| e["ts"].as_i64().unwrap())
        .collect();
    for e in journal(&brief).iter().filter(|e| e["state"] == "cancelled") {
        assert_eq!(e["intent"]["kind"]["type"], "limit", "{e}");
        // 5 % under the close it was decided on, on the 0.01 tick.
        let decided = e["intent"]["bar_ts"].as_i64().unwrap();
        let close = events
            .iter()
            .find(|b| b["kind"] == "bar" && b["ts"] == decided)
            .map(|b| b["data"]["c"].as_f64().unwrap())
            .unwrap();
        let price: f64 = e["intent"]["kind"]["price"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (price - (close * 0.95 * 100.0).floor() / 100.0).abs() < 0.011,
            "{price} vs {close}"
        );
        let cancelled = events
            .iter()
            .find(|x| {
                x["kind"] == "order"
                    && x["data"]["client_order_id"] == e["client_order_id"]
                    && x["data"]["state"] == "cancelled"
            })
            .unwrap_or_else(|| panic!("no cancel event for {e}"));
        assert_eq!(cancelled["data"]["reason"], "expired");
        // Working for exactly two bars after the one it was decided on.
        let lived = bars
            .iter()
            .filter(|t| **t > decided && **t <= cancelled["ts"].as_i64().unwrap_or(i64::MAX))
            .count();
        assert!(lived <= 3, "lived {lived} bars");
        assert!(!at_venue(e["client_order_id"].as_str().unwrap()));
    }
    call(
        &addr,
        &token,
        "POST",
        &format!("{}/stop", path(&brief)),
        None,
    );

    // Valid for long: one order works; a stop that leaves orders leaves it at the venue...
    let patient = create("patient", limit(10_000));
    wait_for("a working entry", || {
        journal(&patient).iter().any(|e| e["state"] == "open")
    });
    let cid = journal(&patient)[0]["client_order_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(at_venue(&cid));
    let left = call(
        &addr,
        &token,
        "POST",
        &format!("{}/stop?cancel_orders=false", path(&patient)),
        None,
    );
    assert_eq!(left.status, 200, "{}", left.body);
    wait_for("the stop", || state(&patient) == "stopped");
    assert!(at_venue(&cid), "left working at the venue");
    assert_eq!(journal(&patient)[0]["state"], "open");
    // ...a restart adopts it (reconciled, no second entry)...
    call(
        &addr,
        &token,
        "POST",
        &format!("{}/start", path(&patient)),
        None,
    );
    wait_for("running again", || state(&patient) == "running");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        journal(&patient).len(),
        1,
        "no second entry while one works"
    );
    // ...and a plain stop cancels it.
    call(
        &addr,
        &token,
        "POST",
        &format!("{}/stop", path(&patient)),
        None,
    );
    wait_for("the stop", || state(&patient) == "stopped");
    assert!(!at_venue(&cid), "cancelled at the venue");
    assert_eq!(journal(&patient)[0]["state"], "cancelled");
    // Flatten with an entry working and nothing held: the entry is cancelled, the bot stops.
    call(
        &addr,
        &token,
        "POST",
        &format!("{}/start", path(&patient)),
        None,
    );
    wait_for("a new working entry", || {
        journal(&patient).iter().any(|e| e["state"] == "open")
    });
    let again = journal(&patient)
        .iter()
        .find(|e| e["state"] == "open")
        .unwrap()["client_order_id"]
        .as_str()
        .unwrap()
        .to_string();
    let flat = call(
        &addr,
        &token,
        "POST",
        &format!("{}/flatten", path(&patient)),
        None,
    );
    assert_eq!(flat.status, 200, "{}", flat.body);
    wait_for("the flatten", || state(&patient) == "stopped");
    assert!(!at_venue(&again), "cancelled at the venue");
    assert!(
        journal(&patient).iter().all(|e| e["state"] == "cancelled"),
        "{:?}",
        journal(&patient)
    );
    drop(venue);
}

#[test]
fn the_drawdown_kill_switch_flattens_and_stops_a_bot_on_live_data() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "kill@example.com");
    // Always in; the order and position limits size the entry down to 100 USDT, and a
    // drawdown of 0.001 % of the 5,000 paper cash (5 cents) trips at the first dip or fee.
    let hold = json!({
        "version": 1, "name": "hold",
        "entry": {"long": "close > 0"}, "exit": {"long": "close < 0"},
        "execution": {"order": {"type": "market"}, "sizing": {"type": "all_in"}}
    });
    let id = start_bot(
        &addr,
        &token,
        &ws,
        &json!({
            "name": "fragile", "mode": "paper", "venue": "binance",
            "run": {"spec": hold, "symbol": "BTC/USDT", "timeframe": "1s", "cash": "5000"},
            "live": {"quote_per_trade": "300", "warmup_bars": 30},
            "risk": {"max_drawdown_pct": 0.001, "max_order_notional": 150, "max_position_notional": 100}
        }),
    );
    let path = format!("/api/workspaces/{ws}/bots/{id}");
    let bot = || call(&addr, &token, "GET", &path, None).body;
    wait_for("the kill switch", || bot()["state"] == "killed");
    let b = bot();
    assert_eq!(b["desired"], "stopped", "{b}");
    assert!(b["error"].as_str().unwrap().contains("0.001% limit"), "{b}");
    assert_eq!(
        b["summary"]["position"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        0.0,
        "flattened: {b}"
    );
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("{path}/events?limit=5000"),
        None,
    )
    .body;
    let events = events.as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "risk" && e["data"]["event"] == "killed")
    );
    let buys: Vec<f64> = events
        .iter()
        .filter(|e| e["kind"] == "fill" && e["data"]["side"] == "buy")
        .map(|e| {
            let q: f64 = e["data"]["quantity"].as_str().unwrap().parse().unwrap();
            let p: f64 = e["data"]["price"].as_str().unwrap().parse().unwrap();
            q * p
        })
        .collect();
    assert!(!buys.is_empty(), "an entry was made");
    assert!(
        buys.iter().all(|v| *v <= 100.0 * 1.02),
        "sized to the position limit (filled at the next open): {buys:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "fill" && e["data"]["side"] == "sell"),
        "the position was sold"
    );
    assert_eq!(
        sim.placements.load(Ordering::SeqCst),
        0,
        "paper: nothing sent"
    );
    drop(venue);
}

#[test]
fn the_stop_loss_rests_at_the_venue_and_protects_the_position_while_no_worker_runs() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, venue) = test_venue(&rt);
    let dir = tempfile::tempdir().unwrap();
    let (_p, addr) = serve_with(dir.path(), &venue.base_url, "");
    let (ws, token) = sign_up(&addr, "stops-rest@example.com");
    let hold_with_stop = |pct: f64| {
        json!({
            "version": 1, "name": "held with a stop",
            "entry": {"long": "close > 0"}, "exit": {"long": "close < 0"},
            "execution": {"order": {"type": "market"}, "sizing": {"type": "all_in"}, "stop_loss": {"pct": pct}}
        })
    };
    let orders = |id: &str| -> Vec<Value> {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{id}/orders"),
            None,
        )
        .body
        .as_array()
        .unwrap()
        .clone()
    };

    // On the paper venue (live data): once the entry fills, the stop rests as a stop order at
    // the spec's level (0.05 % under the fill, rounded down to the 0.01 tick). How the paper
    // venue fills a stop (at its level inside the bar, or at the open past it, as the engine)
    // is tested in skeet-exchange's paper tests; whether this synthetic market falls that far
    // soon is chance.
    let paper = start_bot(
        &addr,
        &token,
        &ws,
        &json!({
            "name": "paper stop", "mode": "paper", "venue": "binance",
            "run": {"spec": hold_with_stop(0.05), "symbol": "BTC/USDT", "timeframe": "1s", "cash": "5000"},
            "live": {"quote_per_trade": "300", "warmup_bars": 30}
        }),
    );
    wait_for("a resting paper stop", || {
        orders(&paper)
            .iter()
            .any(|e| e["intent"]["reason"] == "stop_loss_order")
    });
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{paper}/stop"),
        None,
    );
    let journal = orders(&paper);
    let stop = journal
        .iter()
        .find(|e| e["intent"]["reason"] == "stop_loss_order")
        .unwrap();
    assert_eq!(stop["intent"]["kind"]["type"], "stop", "{stop}");
    assert_eq!(stop["intent"]["side"], "sell", "{stop}");
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{paper}/events?limit=5000"),
        None,
    )
    .body;
    // The entry it protects: the journal's order before it (an earlier entry may have been
    // stopped out at a bar's close, inside its fill bar, before any stop could rest).
    let entry_order = journal
        .iter()
        .find(|e| e["seq"].as_i64() == stop["seq"].as_i64().map(|s| s - 1))
        .unwrap();
    assert_eq!(entry_order["intent"]["side"], "buy", "{entry_order}");
    let entry: f64 = events
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["kind"] == "fill" && f["data"]["client_order_id"] == entry_order["client_order_id"]
        })
        .unwrap()["data"]["price"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let trigger: f64 = stop["intent"]["kind"]["trigger"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (trigger - (entry * 0.9995 * 100.0).floor() / 100.0).abs() < 0.011,
        "stop {trigger} for an entry at {entry}"
    );
    assert_eq!(
        stop["intent"]["quantity"], entry_order["intent"]["quantity"],
        "the whole position"
    );

    // On a live venue: the stop order rests at the venue while the bot holds, and flatten
    // cancels it before selling.
    let cred_id = binance_credential(&addr, &token, &ws);
    let live = start_bot(
        &addr,
        &token,
        &ws,
        &json!({
            "name": "live stop", "mode": "live", "venue": "binance",
            "run": {"spec": hold_with_stop(5.0), "symbol": "BTC/USDT", "timeframe": "1s"},
            "live": {"credential_id": cred_id, "quote_per_trade": "300", "warmup_bars": 30}
        }),
    );
    wait_for("a resting stop", || {
        orders(&live)
            .iter()
            .any(|e| e["intent"]["reason"] == "stop_loss_order" && e["state"] == "open")
    });
    let stop = orders(&live)
        .into_iter()
        .find(|e| e["intent"]["reason"] == "stop_loss_order")
        .unwrap();
    let cid = stop["client_order_id"].as_str().unwrap().to_string();
    let resting = sim.open_orders(Some("BTC/USDT"));
    assert!(
        resting.iter().any(|o| o.client_id == cid),
        "at the venue: {resting:?}"
    );
    let trigger: f64 = stop["intent"]["kind"]["trigger"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let price: f64 = sim.price("BTC/USDT").unwrap().to_string().parse().unwrap();
    assert!(
        trigger < price * 0.96 && trigger > price * 0.93,
        "5 % under the entry: {trigger} vs {price}"
    );
    // Stopped with its orders left working, the bot no longer runs; the market falls through
    // the stop, which fills at the venue; started again, the bot finds the fill.
    let bot_state = || {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{live}"),
            None,
        )
        .body
    };
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{live}/stop?cancel_orders=false"),
        None,
    );
    wait_for("the stop", || bot_state()["state"] == "stopped");
    let held = bot_state()["summary"]["position"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(held > 0.0);
    let below = Decimal::try_from(trigger * 0.99).unwrap().round_dp(2);
    sim.set_price("BTC/USDT", below);
    assert!(
        sim.orders()
            .iter()
            .any(|o| o.client_id == cid && o.status == skeet_testkit::sim::Status::Filled),
        "the stop filled at the venue while no worker ran"
    );
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{live}/start"),
        None,
    );
    wait_for("the stop's fill recovered", || {
        orders(&live)
            .iter()
            .any(|e| e["client_order_id"] == cid.as_str() && e["state"] == "filled")
    });
    let events = call(
        &addr,
        &token,
        "GET",
        &format!("/api/workspaces/{ws}/bots/{live}/events?limit=5000"),
        None,
    )
    .body;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "fill"
                && e["data"]["client_order_id"] == cid.as_str()
                && e["data"]["side"] == "sell"),
        "the stop's fill is recorded"
    );
    // It trades on: a new entry gets a new resting stop, which flatten cancels.
    wait_for("a new resting stop", || {
        orders(&live).iter().any(|e| {
            e["intent"]["reason"] == "stop_loss_order"
                && e["state"] == "open"
                && e["client_order_id"] != cid.as_str()
        })
    });
    let cid = orders(&live)
        .into_iter()
        .find(|e| e["intent"]["reason"] == "stop_loss_order" && e["state"] == "open")
        .unwrap()["client_order_id"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        &addr,
        &token,
        "POST",
        &format!("/api/workspaces/{ws}/bots/{live}/flatten"),
        None,
    );
    wait_for("the flatten", || {
        call(
            &addr,
            &token,
            "GET",
            &format!("/api/workspaces/{ws}/bots/{live}"),
            None,
        )
        .body["state"]
            == "stopped"
    });
    assert!(
        !sim.open_orders(Some("BTC/USDT"))
            .iter()
            .any(|o| o.client_id == cid),
        "the stop was cancelled"
    );
    drop(venue);
}

//! Paper bots through the real binaries: a bot on the replay venue trades exactly like its
//! backtest, pushes its events on the websocket, pauses and resumes; and on PostgreSQL with
//! two `skeet worker` processes, killing the one that runs a bot (kill -9) hands the bot to
//! the other within the lease, with no bar skipped or published twice.

#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    reason = "test: request bodies are built inline and handed over"
)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{PgDatabase, request};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn skeet(dir: &std::path::Path, db: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skeet"));
    c.arg("--data-dir").arg(dir).env_remove("DATABASE_URL");
    if let Some(url) = db {
        c.env("DATABASE_URL", url);
    }
    c
}

/// Starts `skeet serve` with `extra` arguments; returns the process and its address.
fn serve(dir: &std::path::Path, db: Option<&str>, extra: &[&str]) -> (Proc, String) {
    let mut p = Proc(
        skeet(dir, db)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let addr = common::wait_ready(&mut p.0).0;
    (p, addr)
}

struct Api {
    addr: String,
    token: String,
    ws: String,
}

impl Api {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> common::Response {
        let auth = format!("Bearer {}", self.token);
        request(
            &self.addr,
            method,
            &format!("/api/workspaces/{}{path}", self.ws),
            &[("Authorization", auth.as_str())],
            body.as_ref(),
        )
    }

    fn sign_up(addr: &str) -> Self {
        let creds = json!({"email": "bots@example.com", "password": "bot password 123"});
        let up = request(addr, "POST", "/api/auth/signup", &[], Some(&creds));
        assert_eq!(up.status, 201, "{}", up.body);
        let login = request(addr, "POST", "/api/auth/login", &[], Some(&creds));
        Self {
            addr: addr.to_string(),
            token: login.body["token"].as_str().unwrap().to_string(),
            ws: up.body["workspace_id"].as_str().unwrap().to_string(),
        }
    }

    fn dataset(&self, bars: u32) -> String {
        let d = self.call(
            "POST",
            "/datasets/generate",
            Some(json!({"symbol": "BTC/USDT", "timeframe": "1h", "bars": bars, "seed": 7, "model": "regime"})),
        );
        assert_eq!(d.status, 201, "{}", d.body);
        d.body["id"].as_str().unwrap().to_string()
    }

    fn wait_bot(&self, id: &str, what: &str, until: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let b = self.call("GET", &format!("/bots/{id}"), None).body;
            if until(&b) {
                return b;
            }
            assert!(Instant::now() < deadline, "{what} never happened: {b}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn events(&self, id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .call(
                    "GET",
                    &format!("/bots/{id}/events?after={after}&limit=5000"),
                    None,
                )
                .body;
            let page = page.as_array().unwrap().clone();
            if page.is_empty() {
                return all;
            }
            after = page.last().unwrap()["seq"].as_i64().unwrap();
            all.extend(page);
        }
    }
}

type Ws = tungstenite::WebSocket<TcpStream>;

fn ws_connect(addr: &str, token: &str) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/api/ws"))
            .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tungstenite::client(req, stream).unwrap().0
}

fn ws_next(ws: &mut Ws) -> Value {
    loop {
        if let tungstenite::Message::Text(t) = ws.read().unwrap() {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Bars of the paced part come one per step, each exactly one timeframe after the last.
#[track_caller]
fn bars_are_contiguous(events: &[Value]) -> usize {
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "event numbers increase"
    );
    let bars: Vec<i64> = events
        .iter()
        .filter(|e| e["kind"] == "bar")
        .map(|e| e["data"]["t"].as_i64().unwrap())
        .collect();
    assert!(
        bars.windows(2).all(|w| w[1] - w[0] == 3_600_000),
        "a bar was skipped or published twice: {bars:?}"
    );
    bars.len()
}

#[test]
fn a_paper_bot_on_the_replay_venue_trades_like_its_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = serve(dir.path(), None, &[]);
    let api = Api::sign_up(&addr);
    let ds = api.dataset(700);

    // Bad settings are refused before the bot exists.
    let bad = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "x", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 500}}})),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let live = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "x", "mode": "live", "run": {"strategy": "sma_cross", "dataset": ds}})),
    );
    assert_eq!(live.status, 400, "{}", live.body);

    let bot = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "paper sma", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}}, "speed": 100, "paced_bars": 400})),
    );
    assert_eq!(bot.status, 201, "{}", bot.body);
    let id = bot.body["id"].as_str().unwrap().to_string();
    assert_eq!(bot.body["state"], "stopped");

    let mut ws = ws_connect(&addr, &api.token);
    ws.send(tungstenite::Message::text(
        json!({"op": "subscribe", "channel": format!("bot:{id}")}).to_string(),
    ))
    .unwrap();
    while ws_next(&mut ws)["type"] != "subscribed" {}
    ws.send(tungstenite::Message::text(
        json!({"op": "subscribe", "channel": format!("workspace:{}", api.ws)}).to_string(),
    ))
    .unwrap();
    while ws_next(&mut ws)["type"] != "subscribed" {}
    let started = api.call("POST", &format!("/bots/{id}/start"), None);
    assert_eq!(started.body["desired"], "running");

    // Live events arrive on the websocket: the state, bars, and (soon) a fill; the
    // workspace channel carries the bot itself as it changes (state and numbers).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut kinds = std::collections::BTreeSet::new();
    let mut in_workspace = std::collections::BTreeSet::new();
    while !(kinds.contains("bar")
        && kinds.contains("fill")
        && kinds.contains("equity")
        && in_workspace.contains("running"))
    {
        let m = ws_next(&mut ws);
        if m["event"] == "bot" && m["channel"] == format!("bot:{id}") {
            kinds.insert(m["data"]["kind"].as_str().unwrap().to_string());
        } else if m["event"] == "bot" {
            assert_eq!(m["channel"], format!("workspace:{}", api.ws));
            assert_eq!(m["data"]["id"], id.as_str());
            // The start command itself is a change (desired running, nothing run yet); a
            // running bot carries its numbers.
            if m["data"]["state"] == "running" {
                assert!(m["data"]["summary"]["bar"].is_u64(), "{m}");
            }
            in_workspace.insert(m["data"]["state"].as_str().unwrap().to_string());
        }
        assert!(
            Instant::now() < deadline,
            "no fill pushed: {kinds:?} {in_workspace:?}"
        );
    }

    // Pause holds it; start resumes it.
    api.call("POST", &format!("/bots/{id}/pause"), None);
    let paused = api.wait_bot(&id, "pause", |b| b["state"] == "paused");
    let at = paused["summary"]["bar"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let still = api.call("GET", &format!("/bots/{id}"), None).body;
    assert_eq!(
        still["summary"]["bar"].as_u64().unwrap(),
        at,
        "a paused bot does not step"
    );
    api.call("POST", &format!("/bots/{id}/start"), None);
    let done = api.wait_bot(&id, "the end of the replay", |b| b["state"] == "finished");
    assert_eq!(done["desired"], "stopped");
    assert_eq!(done["summary"]["bar"], 700);
    assert_eq!(done["summary"]["bars"], 700);

    let events = api.events(&id);
    assert_eq!(
        bars_are_contiguous(&events),
        400,
        "the paced part is every bar once"
    );
    let fills = events.iter().filter(|e| e["kind"] == "fill").count();
    assert!(fills >= 2, "{fills}");
    assert_eq!(done["summary"]["fills"].as_u64().unwrap(), fills as u64);

    // The same strategy, data and settings as a backtest: the same money to the cent.
    let bt = api.call(
        "POST",
        "/backtests",
        Some(json!({"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}})),
    );
    assert_eq!(bt.status, 202, "{}", bt.body);
    let bt_id = bt.body["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let j = api.call("GET", &format!("/backtests/{bt_id}"), None).body;
        if j["state"] == "succeeded" {
            break j["result"].clone();
        }
        assert!(Instant::now() < deadline, "{j}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        done["summary"]["cash"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap(),
        report["final_cash"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap(),
        "paper cash == backtest cash"
    );
    assert_eq!(
        done["summary"]["position"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap(),
        report["open_position"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap(),
    );

    // The divergence report reruns the backtest over the bot's bars: nothing differs.
    let job = api.call("POST", &format!("/bots/{id}/divergence"), None);
    assert_eq!(job.status, 202, "{}", job.body);
    let job_id = job.body["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let j = api.call("GET", &format!("/jobs/{job_id}"), None).body;
        if j["state"] == "succeeded" {
            break j["result"].clone();
        }
        assert!(j["state"] != "failed" && Instant::now() < deadline, "{j}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        report["bot_fills"].as_u64().unwrap(),
        fills as u64,
        "{report}"
    );
    assert_eq!(report["backtest_fills"], report["bot_fills"]);
    assert_eq!(report["differences"], json!([]));
    assert!(report["verdict"].as_str().unwrap().starts_with("identical"));

    // /metrics counts bots by mode and state.
    let m = request(&addr, "GET", "/metrics", &[], None).body;
    let text = m.as_str().unwrap();
    assert!(
        text.contains("skeet_bots{mode=\"paper\",state=\"finished\"} 1"),
        "{text}"
    );
    assert!(text.contains("skeet_bots{mode=\"paper\",state=\"running\"} 0"));

    // Finished bots can be deleted; running ones cannot.
    assert_eq!(api.call("DELETE", &format!("/bots/{id}"), None).status, 204);
    assert_eq!(api.call("GET", &format!("/bots/{id}"), None).status, 404);
}

#[test]
fn risk_limits_cap_orders_and_the_drawdown_kill_switch_flattens_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = serve(dir.path(), None, &[]);
    let api = Api::sign_up(&addr);
    let ds = api.dataset(600);
    let bad = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "b", "run": {"strategy": "sma_cross", "dataset": ds}, "risk": {"max_drawdown_pct": 150}})),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .contains("max_drawdown_pct")
    );

    // Entries are all-in (about 10,000 USDT): the order-value limit caps each to 10 USDT (the
    // engine's rule, the same in backtests).
    let small = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "small", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}}, "speed": 500, "paced_bars": 300, "risk": {"max_order_notional": 10}})),
    );
    assert_eq!(small.status, 201, "{}", small.body);
    let small_id = small.body["id"].as_str().unwrap().to_string();
    api.call("POST", &format!("/bots/{small_id}/start"), None);
    api.wait_bot(&small_id, "the end", |b| b["state"] == "finished");
    let events = api.events(&small_id);
    let values: Vec<f64> = events
        .iter()
        .filter(|e| e["kind"] == "fill")
        .map(|e| {
            let q: f64 = e["data"]["quantity"].as_str().unwrap().parse().unwrap();
            let p: f64 = e["data"]["price"].as_str().unwrap().parse().unwrap();
            q * p
        })
        .collect();
    assert!(!values.is_empty());
    // Exits sell what the capped entry bought, at a price that moved a little since.
    assert!(values.iter().all(|v| *v <= 12.0), "{values:?}");

    // A tiny drawdown limit trips on the first losing stretch: flattened, stopped, killed.
    let kill = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "kill", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}}, "speed": 500, "paced_bars": 300, "risk": {"max_drawdown_pct": 0.5}})),
    );
    let kill_id = kill.body["id"].as_str().unwrap().to_string();
    api.call("POST", &format!("/bots/{kill_id}/start"), None);
    let killed = api.wait_bot(&kill_id, "the kill switch", |b| {
        b["state"] == "killed" || b["state"] == "finished"
    });
    assert_eq!(killed["state"], "killed", "{killed}");
    assert_eq!(killed["desired"], "stopped");
    assert!(
        killed["error"].as_str().unwrap().contains("0.5% limit"),
        "{killed}"
    );
    assert_eq!(
        killed["summary"]["position"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        0.0,
        "flattened: {killed}"
    );
    assert!(
        killed["summary"]["bar"].as_u64().unwrap() < 600,
        "stopped early"
    );
    let events = api.events(&kill_id);
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "risk" && e["data"]["event"] == "killed")
    );
}

/// A minimal HTTP receiver on 127.0.0.1: records (path, headers, body) of every request and
/// answers 200.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

fn receiver() -> (String, Seen) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if rest.len() >= len {
                        break (head.to_string(), rest[..len].to_string());
                    }
                }
            };
            let path = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            log.lock()
                .unwrap()
                .push((path, head.to_ascii_lowercase(), body));
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
        }
    });
    (addr, seen)
}

#[test]
fn notifications_go_to_a_signed_webhook_and_telegram() {
    let (hook, seen) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let mut server = skeet(dir.path(), None);
    server.env("SKEET_TELEGRAM_API_URL", format!("http://{hook}"));
    let mut p = Proc(
        server
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let addr = common::wait_ready(&mut p.0).0;
    let api = Api::sign_up(&addr);
    let ds = api.dataset(400);
    let secret = "whsec-test-0123456789";
    let wh = api.call(
        "POST",
        "/credentials",
        Some(json!({"venue": "webhook", "label": "hook", "api_key": "hook-0000000000", "api_secret": secret})),
    );
    let tg = api.call(
        "POST",
        "/credentials",
        Some(json!({"venue": "telegram", "label": "tg", "api_key": "skeet-bot-000000", "api_secret": "123456:TOKEN"})),
    );
    let notify = json!({
        "webhook_url": format!("http://{hook}/hook"),
        "webhook_credential_id": wh.body["id"],
        "telegram_credential_id": tg.body["id"],
        "telegram_chat_id": "42",
        "events": ["fill", "state", "summary"],
    });
    let wrong = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "n", "run": {"strategy": "sma_cross", "dataset": ds}, "notify": {"webhook_url": format!("http://{hook}/hook"), "webhook_credential_id": tg.body["id"]}})),
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(
        wrong.body["message"]
            .as_str()
            .unwrap()
            .contains("'webhook' credential")
    );
    let bot = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "noisy", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}}, "speed": 200, "paced_bars": 300, "notify": notify})),
    );
    assert_eq!(bot.status, 201, "{}", bot.body);
    let id = bot.body["id"].as_str().unwrap().to_string();
    api.call("POST", &format!("/bots/{id}/start"), None);
    api.wait_bot(&id, "the end", |b| b["state"] == "finished");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = seen.lock().unwrap().clone();
        let hooks: Vec<_> = got.iter().filter(|(p, _, _)| p == "/hook").collect();
        let finished = hooks.iter().any(|(_, _, b)| b.contains("\"finished\""));
        if finished {
            // Every webhook body is signed with the credential's secret.
            for (_, head, body) in &hooks {
                let ts: i64 = head
                    .lines()
                    .find_map(|l| l.strip_prefix("x-skeet-timestamp:"))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                let sig = head
                    .lines()
                    .find_map(|l| l.strip_prefix("x-skeet-signature:"))
                    .unwrap()
                    .trim()
                    .to_string();
                assert_eq!(sig, skeet_worker::notify::sign(secret.as_bytes(), ts, body));
                let v: Value = serde_json::from_str(body).unwrap();
                assert_eq!(v["bot_id"], id.as_str());
                assert!(
                    v["kind"] == "fill" || v["kind"] == "state" || v["kind"] == "summary",
                    "{v}"
                );
            }
            assert!(
                hooks
                    .iter()
                    .any(|(_, _, b)| b.contains("\"kind\":\"summary\"")),
                "daily summaries notified"
            );
            assert!(
                hooks
                    .iter()
                    .any(|(_, _, b)| b.contains("\"kind\":\"fill\"")),
                "fills notified"
            );
            let tele: Vec<_> = got
                .iter()
                .filter(|(p, _, _)| p == "/bot123456:TOKEN/sendMessage")
                .collect();
            assert!(!tele.is_empty(), "telegram got nothing: {got:?}");
            assert!(
                tele.iter()
                    .all(|(_, _, b)| b.contains("\"chat_id\":\"42\""))
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no finished notification: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // One summary per UTC day of the 400 hourly bars (16 days end), chained: each day's PnL
    // is the change of equity from the previous summary's.
    let events = api.events(&id);
    let summaries: Vec<&Value> = events.iter().filter(|e| e["kind"] == "summary").collect();
    assert_eq!(summaries.len(), 16, "{summaries:?}");
    for w in summaries.windows(2) {
        let (a, b) = (&w[0]["data"], &w[1]["data"]);
        assert_eq!(
            w[1]["ts"].as_i64().unwrap() - w[0]["ts"].as_i64().unwrap(),
            86_400_000
        );
        let pnl = b["equity"].as_f64().unwrap() - a["equity"].as_f64().unwrap();
        assert!((b["pnl"].as_f64().unwrap() - pnl).abs() < 1e-6, "{a} {b}");
    }
    let fills = events.iter().filter(|e| e["kind"] == "fill").count() as u64;
    let summarised: u64 = summaries
        .iter()
        .map(|s| s["data"]["fills"].as_u64().unwrap())
        .sum();
    assert!(
        summarised <= fills && summarised > 0,
        "{summarised} of {fills}"
    );
}

#[test]
fn a_killed_worker_hands_its_bot_over_without_gaps_or_duplicates() {
    let Some(pg) = PgDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_api, addr) = serve(dir.path(), Some(&pg.url), &["--no-workers"]);
    let api = Api::sign_up(&addr);
    let ds = api.dataset(500);
    let worker = || {
        Proc(
            skeet(dir.path(), Some(&pg.url))
                .args(["worker", "--workers", "1", "--lease-ms", "1500"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut workers = [worker(), worker()];
    let bot = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "survivor", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}}, "speed": 40, "paced_bars": 240})),
    );
    let id = bot.body["id"].as_str().unwrap().to_string();
    api.call("POST", &format!("/bots/{id}/start"), None);
    let running = api.wait_bot(&id, "a worker taking the bot", |b| {
        b["state"] == "running" && b["summary"]["bar"].as_u64().unwrap_or(0) > 280
    });
    let owner = running["lease_owner"].as_str().unwrap().to_string();
    let pid: u32 = owner.rsplit('-').next().unwrap().parse().unwrap();
    let victim = workers.iter().position(|w| w.0.id() == pid).unwrap();
    let killed_at = Instant::now();
    // kill -9: no goodbye, the lease just stops being renewed.
    workers[victim].0.kill().unwrap();
    workers[victim].0.wait().unwrap();
    let taken = api.wait_bot(&id, "the takeover", |b| {
        b["fence"].as_i64().unwrap() >= 2 && b["state"] == "running"
    });
    assert_ne!(taken["lease_owner"].as_str().unwrap(), owner);
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "taken over within the lease (1.5 s) plus a poll: {:?}",
        killed_at.elapsed()
    );
    let done = api.wait_bot(&id, "the end of the replay", |b| b["state"] == "finished");
    assert_eq!(done["summary"]["bar"], 500);
    let events = api.events(&id);
    assert_eq!(bars_are_contiguous(&events), 240);
    let fills = events.iter().filter(|e| e["kind"] == "fill").count() as u64;
    assert_eq!(
        done["summary"]["fills"].as_u64().unwrap(),
        fills,
        "no fill lost or doubled"
    );
}

#[test]
fn flatten_closes_the_position_and_stops_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = serve(dir.path(), None, &[]);
    let api = Api::sign_up(&addr);
    let ds = api.dataset(700);
    let bot = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "flat", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}}, "speed": 40, "paced_bars": 400})),
    );
    let id = bot.body["id"].as_str().unwrap().to_string();
    let refused = api.call("POST", &format!("/bots/{id}/flatten"), None);
    assert_eq!(
        refused.status, 409,
        "a stopped bot has nothing to flatten: {}",
        refused.body
    );
    api.call("POST", &format!("/bots/{id}/start"), None);
    let holding = api.wait_bot(&id, "a position", |b| {
        b["state"] == "running"
            && b["summary"]["position"]
                .as_str()
                .is_some_and(|p| p.parse::<f64>().unwrap() != 0.0)
    });
    let fills_before = holding["summary"]["fills"].as_u64().unwrap();
    api.call("POST", &format!("/bots/{id}/flatten"), None);
    let done = api.wait_bot(&id, "the flatten", |b| b["state"] == "stopped");
    assert_eq!(done["desired"], "stopped");
    assert_eq!(
        done["summary"]["position"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        0.0,
        "{done}"
    );
    assert!(
        done["summary"]["fills"].as_u64().unwrap() > fills_before,
        "{done}"
    );
    assert!(
        done["summary"]["bar"].as_u64().unwrap() < 700,
        "stopped early: {done}"
    );
}

/// Cash left by the fills in `events`, from `cash0`.
fn cash_after_fills(cash0: f64, events: &[Value]) -> f64 {
    let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    events
        .iter()
        .filter(|e| e["kind"] == "fill")
        .fold(cash0, |cash, e| {
            let d = &e["data"];
            let value = num(&d["quantity"]) * num(&d["price"]);
            let signed = if d["side"] == "buy" { -value } else { value };
            cash + signed - num(&d["fee"])
        })
}

#[test]
fn risk_limits_edited_while_running_apply_from_the_next_bar_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = serve(dir.path(), None, &[]);
    let api = Api::sign_up(&addr);
    let ds = api.dataset(900);
    let bot = api.call(
        "POST",
        "/bots",
        Some(json!({"name": "edit", "run": {"strategy": "sma_cross", "dataset": ds, "params": {"fast": 5, "slow": 20}}, "speed": 60, "paced_bars": 600})),
    );
    assert_eq!(bot.status, 201, "{}", bot.body);
    let id = bot.body["id"].as_str().unwrap().to_string();
    let path = format!("/bots/{id}");

    // Bad edits are refused with what is wrong, and change nothing.
    for (body, says) in [
        (json!({}), "nothing to change"),
        (
            json!({"risk": {"max_drawdown_pct": 150}}),
            "max_drawdown_pct",
        ),
        (
            json!({"risk": {"max_order_notional": -1}}),
            "max_order_notional",
        ),
        (json!({"risk": {"max_orders": 1}}), "max_orders"),
        (
            json!({"risk": {"price_band_pct": 1}}),
            "price_band_pct applies to bots on a venue's live data",
        ),
        (
            json!({"notify": {"telegram_chat_id": "1", "telegram_credential_id": "nope"}}),
            "telegram_credential_id",
        ),
    ] {
        let r = api.call("PATCH", &path, Some(body.clone()));
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(
            r.body["message"].as_str().unwrap().contains(says),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(api.call("GET", &path, None).body["settings_rev"], 0);

    api.call("POST", &format!("{path}/start"), None);
    // Trading uncapped (entries are all-in, about 10,000 USDT) for a while...
    api.wait_bot(&id, "paced trading", |b| {
        b["state"] == "running" && b["summary"]["bar"].as_u64().unwrap() > 420
    });
    // ...then capped at 10 USDT per order, without stopping the bot.
    let edited = api.call(
        "PATCH",
        &path,
        Some(json!({"risk": {"max_order_notional": 10}})),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["settings_rev"], 1);
    assert_eq!(edited.body["config"]["risk"]["max_order_notional"], 10);
    let applied = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = api
                .events(&id)
                .into_iter()
                .find(|e| e["kind"] == "settings" && e["data"]["rev"] == 1);
            if let Some(e) = found {
                break e;
            }
            assert!(Instant::now() < deadline, "the edit was never applied");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(applied["data"]["risk"]["max_order_notional"], 10.0);
    let applied_seq = applied["seq"].as_i64().unwrap();

    // Stop and start again part-way: the new runner replays the history under the limits in
    // force at each bar (uncapped before the edit, capped after).
    api.wait_bot(&id, "more bars", |b| {
        b["summary"]["bar"].as_u64().unwrap() > applied["data"]["bar"].as_u64().unwrap() + 100
    });
    api.call("POST", &format!("{path}/stop"), None);
    api.wait_bot(&id, "the stop", |b| b["state"] == "stopped");
    api.call("POST", &format!("{path}/start"), None);
    let done = api.wait_bot(&id, "the end", |b| b["state"] == "finished");

    let events = api.events(&id);
    let entry_values = |after: bool| -> Vec<f64> {
        events
            .iter()
            .filter(|e| {
                e["kind"] == "fill"
                    && e["data"]["side"] == "buy"
                    && (e["seq"].as_i64().unwrap() > applied_seq) == after
            })
            .map(|e| {
                let q: f64 = e["data"]["quantity"].as_str().unwrap().parse().unwrap();
                let p: f64 = e["data"]["price"].as_str().unwrap().parse().unwrap();
                q * p
            })
            .collect()
    };
    let (before, after) = (entry_values(false), entry_values(true));
    assert!(
        before.iter().any(|v| *v > 1_000.0),
        "all-in entries before the edit: {before:?}"
    );
    assert!(!after.is_empty(), "entries after the edit");
    assert!(
        after.iter().all(|v| *v <= 10.0 + 1e-9),
        "capped after the edit: {after:?}"
    );
    // The engine the restarted runner rebuilt holds exactly the cash the published fills
    // left: had it replayed the history under the new limits, they would differ.
    let cash0: f64 = done["summary"]["initial_cash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let cash: f64 = done["summary"]["cash"].as_str().unwrap().parse().unwrap();
    let expected = cash_after_fills(cash0, &events);
    assert!(
        (cash - expected).abs() < 1e-6,
        "engine cash {cash} != cash from the published fills {expected}"
    );
    let fills = events.iter().filter(|e| e["kind"] == "fill").count();
    assert_eq!(done["summary"]["fills"].as_u64().unwrap() as usize, fills);
}

#[test]
fn the_plan_limits_how_many_bots_a_workspace_runs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = serve(dir.path(), None, &["--max-paper-bots", "1"]);
    let api = Api::sign_up(&addr);
    let ds = api.dataset(600);
    let create = |name: &str| {
        let b = api.call(
            "POST",
            "/bots",
            Some(json!({"name": name, "run": {"strategy": "sma_cross", "dataset": ds}, "speed": 5, "paced_bars": 500})),
        );
        assert_eq!(b.status, 201, "{}", b.body);
        b.body["id"].as_str().unwrap().to_string()
    };
    let (first, second) = (create("first"), create("second"));
    assert_eq!(
        api.call("POST", &format!("/bots/{first}/start"), None)
            .status,
        200
    );
    let refused = api.call("POST", &format!("/bots/{second}/start"), None);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["code"], "plan_limit");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("1 paper bot at once"),
        "{}",
        refused.body
    );
    assert_eq!(
        api.call("GET", &format!("/bots/{second}"), None).body["desired"],
        "stopped",
        "nothing changed"
    );
    // Starting the running one again is not a second bot; stopping it frees the place.
    assert_eq!(
        api.call("POST", &format!("/bots/{first}/start"), None)
            .status,
        200
    );
    api.call("POST", &format!("/bots/{first}/stop"), None);
    let started = api.call("POST", &format!("/bots/{second}/start"), None);
    assert_eq!(started.status, 200, "{}", started.body);
}

/// The API document describes a bot's risk and notification settings field for field as
/// the worker reads them (the server keeps schema-only mirrors: it does not depend on the
/// worker).
#[test]
fn the_api_schema_of_bot_settings_matches_the_workers_settings() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let props = |schema: &str| -> std::collections::BTreeSet<String> {
        doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .cloned()
            .collect()
    };
    let fields = |v: Value| -> std::collections::BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        props("RiskSettingsDoc"),
        fields(serde_json::to_value(skeet_worker::bots::RiskSettings::default()).unwrap())
    );
    assert_eq!(
        props("NotifySettingsDoc"),
        fields(serde_json::to_value(skeet_worker::notify::NotifySettings::default()).unwrap())
    );
}

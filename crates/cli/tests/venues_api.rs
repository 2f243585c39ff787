//! Venues through the real `skeet serve`, pointed at the local Binance test server by the
//! operator (`--venue-url`): the market browser, the live ticker on the websocket, "test
//! connection" for a stored credential (permissions, refused keys, who may test), and candle
//! downloads as jobs that register a dataset the backtest API can use.

#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    reason = "test: request bodies are built inline and handed over"
)]

use std::net::TcpStream;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use skeet_testkit::binance;

mod common;
use common::{error_is, request, start_args};

struct User {
    bearer: String,
    ws: String,
}

fn sign_up(addr: &str, email: &str) -> User {
    let creds = json!({"email": email, "password": "a long password"});
    let up = request(addr, "POST", "/api/auth/signup", &[], Some(&creds));
    assert_eq!(up.status, 201, "{}", up.body);
    let login = request(addr, "POST", "/api/auth/login", &[], Some(&creds));
    User {
        bearer: format!("Bearer {}", login.body["token"].as_str().unwrap()),
        ws: up.body["workspace_id"].as_str().unwrap().to_string(),
    }
}

fn call(addr: &str, u: &User, method: &str, path: &str, body: Option<Value>) -> common::Response {
    request(
        addr,
        method,
        path,
        &[("Authorization", u.bearer.as_str())],
        body.as_ref(),
    )
}

type Ws = tungstenite::WebSocket<TcpStream>;

fn ws_connect(addr: &str, bearer: &str) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/api/ws"))
            .unwrap();
    req.headers_mut()
        .insert("Authorization", bearer.parse().unwrap());
    tungstenite::client(req, stream).unwrap().0
}

fn ws_next(ws: &mut Ws) -> Value {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            tungstenite::Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

#[test]
fn venues_from_the_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = binance::default_sim();
    let venue = rt.block_on(binance::spawn(
        sim.clone(),
        binance::ServerConfig {
            history_bars: 1500,
            ..binance::ServerConfig::default()
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("binance={}", venue.base_url);
    let server = start_args(dir.path(), &["--venue-url", &url]);
    let addr = server.addr.as_str();
    let alice = sign_up(addr, "alice@example.com");
    let a = alice.ws.as_str();

    // The venue list says which venues the operator redirected.
    let venues = call(addr, &alice, "GET", "/api/venues", None);
    assert_eq!(venues.status, 200);
    let list = venues.body.as_array().unwrap();
    assert_eq!(list.len(), 4, "{}", venues.body);
    assert!(
        list.iter()
            .any(|v| v["name"] == "binance" && v["custom_endpoint"] == true)
    );
    assert!(
        list.iter()
            .any(|v| v["name"] == "kraken" && v["custom_endpoint"] == false)
    );
    assert_eq!(request(addr, "GET", "/api/venues", &[], None).status, 401);

    // The market browser: rules as exact decimal strings.
    let markets = call(addr, &alice, "GET", "/api/venues/binance/markets", None);
    assert_eq!(markets.status, 200, "{}", markets.body);
    let btc = markets
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["symbol"] == "BTC/USDT")
        .unwrap()
        .clone();
    assert_eq!(btc["tick_size"], "0.01");
    assert_eq!(btc["min_notional"], "5");
    assert_eq!(btc["status"], "trading");
    error_is(
        &call(addr, &alice, "GET", "/api/venues/ftx/markets", None),
        404,
        "not_found",
        "venues are binance",
    );
    let t = call(
        addr,
        &alice,
        "GET",
        "/api/venues/binance/ticker?symbol=BTC/USDT",
        None,
    );
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.body["symbol"], "BTC/USDT");
    assert!(t.body["bid"].as_str().is_some() && t.body["ask"].as_str().is_some());
    error_is(
        &call(
            addr,
            &alice,
            "GET",
            "/api/venues/binance/ticker?symbol=NOPE/USDT",
            None,
        ),
        400,
        "venue_rejected",
        "Invalid symbol",
    );

    // The live ticker: any signed-in user may watch; ticks follow the venue's price.
    let mut ws = ws_connect(addr, &alice.bearer);
    ws.send(tungstenite::Message::text(
        json!({"op": "subscribe", "channel": "ticker:binance:BTC/USDT"}).to_string(),
    ))
    .unwrap();
    while ws_next(&mut ws)["type"] != "subscribed" {}
    let first = ws_next(&mut ws);
    assert_eq!(first["event"], "ticker", "{first}");
    assert_eq!(first["data"]["symbol"], "BTC/USDT");
    sim.set_price("BTC/USDT", "31234.5".parse::<Decimal>().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = ws_next(&mut ws);
        if e["data"]["last"] == "31234.5" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new price never arrived: {e}"
        );
    }
    drop(ws);

    // Test connection: a working key reports its rights; a wrong secret is a clear failure.
    let good = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/credentials"),
        Some(
            json!({"venue": "binance", "label": "main", "api_key": binance::API_KEY, "api_secret": binance::API_SECRET}),
        ),
    );
    assert_eq!(good.status, 201, "{}", good.body);
    let good_id = good.body["id"].as_str().unwrap();
    let tested = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/credentials/{good_id}/test"),
        None,
    );
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert_eq!(tested.body["ok"], true, "{}", tested.body);
    assert_eq!(tested.body["permissions"]["read"], true);
    assert_eq!(tested.body["permissions"]["trade"], true);
    assert!(!tested.body.to_string().contains(binance::API_SECRET));
    let bad = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/credentials"),
        Some(
            json!({"venue": "binance", "label": "typo", "api_key": binance::API_KEY, "api_secret": "not-the-secret"}),
        ),
    );
    let bad_id = bad.body["id"].as_str().unwrap();
    let tested = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/credentials/{bad_id}/test"),
        None,
    );
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert_eq!(tested.body["ok"], false);
    assert!(
        tested.body["error"].as_str().unwrap().contains("-1022"),
        "{}",
        tested.body
    );
    assert!(sim.bad_signatures.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // The CLI with a vault credential: reads go through the server; the secret stays there.
    let cli = |token: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_skeet"))
            .args(["exchange"])
            .args(args)
            .args([
                "--venue",
                "binance",
                "--credential",
                good_id,
                "--workspace",
                a,
            ])
            .args(["--server", &format!("http://{addr}")])
            .env("SKEET_TOKEN", token)
            .env_remove("SKEET_BINANCE_API_KEY")
            .env_remove("SKEET_BINANCE_API_SECRET")
            .output()
            .unwrap()
    };
    let token = alice.bearer.trim_start_matches("Bearer ").to_string();
    let out = cli(&token, &["balance"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("USDT") && text.contains("100000"), "{text}");
    let out = cli(&token, &["permissions"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("trade: true"));
    let out = cli(&token, &["orders", "--symbol", "BTC/USDT"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 open orders"));
    let out = cli(
        &token,
        &[
            "order",
            "--symbol",
            "BTC/USDT",
            "--side",
            "buy",
            "--quantity",
            "0.001",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("orders are placed by bots"));
    let out = cli("not-a-token", &["balance"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("401") && err.trim().lines().count() == 1,
        "{err}"
    );
    // Outsiders cannot see the credential; analysts cannot use it.
    let bob = sign_up(addr, "bob@example.com");
    error_is(
        &call(
            addr,
            &bob,
            "POST",
            &format!("/api/workspaces/{a}/credentials/{good_id}/test"),
            None,
        ),
        404,
        "not_found",
        "workspace",
    );
    let inv = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/invitations"),
        Some(json!({"role": "analyst"})),
    );
    assert_eq!(inv.status, 201, "{}", inv.body);
    let token = inv.body["token"].as_str().unwrap();
    let joined = call(
        addr,
        &bob,
        "POST",
        &format!("/api/invitations/{token}/accept"),
        None,
    );
    assert_eq!(joined.status, 200, "{}", joined.body);
    error_is(
        &call(
            addr,
            &bob,
            "POST",
            &format!("/api/workspaces/{a}/credentials/{good_id}/test"),
            None,
        ),
        403,
        "forbidden",
        "owners and traders",
    );
    error_is(
        &call(
            addr,
            &bob,
            "GET",
            &format!("/api/workspaces/{a}/credentials/{good_id}/balances"),
            None,
        ),
        403,
        "forbidden",
        "owners and traders",
    );

    // A download job: bars land in the workspace's store and appear as a dataset that a
    // backtest runs on.
    error_is(
        &call(
            addr,
            &alice,
            "POST",
            &format!("/api/workspaces/{a}/downloads"),
            Some(
                json!({"venue": "binance", "symbol": "BTC/USDT", "timeframe": "1m", "since": "2020-01-01", "base_url": "http://10.0.0.1"}),
            ),
        ),
        400,
        "bad_request",
        "base_url",
    );
    error_is(
        &call(
            addr,
            &alice,
            "POST",
            &format!("/api/workspaces/{a}/downloads"),
            Some(
                json!({"venue": "ftx", "symbol": "BTC/USDT", "timeframe": "1m", "since": "2020-01-01"}),
            ),
        ),
        400,
        "bad_request",
        "unknown venue",
    );
    let job = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/downloads"),
        Some(
            json!({"venue": "binance", "symbol": "BTC/USDT", "timeframe": "1m", "since": "2020-01-01"}),
        ),
    );
    assert_eq!(job.status, 202, "{}", job.body);
    let id = job.body["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let j = call(
            addr,
            &alice,
            "GET",
            &format!("/api/workspaces/{a}/jobs/{id}"),
            None,
        )
        .body;
        if j["state"] == "succeeded" || j["state"] == "failed" || Instant::now() > deadline {
            break j;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    let datasets = call(
        addr,
        &alice,
        "GET",
        &format!("/api/workspaces/{a}/datasets?symbol=BTC/USDT"),
        None,
    );
    let ds = datasets.body["items"]
        .as_array()
        .or_else(|| datasets.body.as_array())
        .unwrap()
        .iter()
        .find(|d| d["venue"] == "binance")
        .unwrap_or_else(|| panic!("no dataset: {}", datasets.body))
        .clone();
    assert_eq!(ds["bars"], 1500, "{ds}");
    let bt = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/backtests"),
        Some(json!({"strategy": "sma_cross", "dataset": ds["id"]})),
    );
    assert_eq!(bt.status, 202, "{}", bt.body);
    let bt_id = bt.body["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let j = call(
            addr,
            &alice,
            "GET",
            &format!("/api/workspaces/{a}/jobs/{bt_id}"),
            None,
        )
        .body;
        if j["state"] == "succeeded" || j["state"] == "failed" || Instant::now() > deadline {
            break j;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    drop(server);
    drop(venue);
}

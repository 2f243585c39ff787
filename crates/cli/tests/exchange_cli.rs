//! `skeet exchange` and `skeet data download` against each venue's local test server (the
//! real binary, over HTTP and the venue's documented protocol; no internet): every command,
//! errors as one readable line, and a downloaded dataset that `skeet backtest` uses unchanged.

#![allow(clippy::unwrap_used, reason = "test")]

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use skeet_testkit::{Running, alpaca, binance, coinbase, kraken};

/// Runs the `skeet` binary with `env` set (and venue key variables cleared otherwise).
async fn skeet(data_dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_skeet"));
    cmd.arg("--data-dir").arg(data_dir).args(args);
    for v in ["BINANCE", "KRAKEN", "COINBASE", "ALPACA"] {
        cmd.env_remove(format!("SKEET_{v}_API_KEY"));
        cmd.env_remove(format!("SKEET_{v}_API_SECRET"));
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[track_caller]
fn ok_json(o: &Output) -> Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn with<'a>(mut a: Vec<&'a str>, more: &[&'a str]) -> Vec<&'a str> {
    a.extend_from_slice(more);
    a
}

struct Case {
    venue: &'static str,
    server: Running,
    env: Vec<(String, String)>,
    symbol: &'static str,
    quantity: &'static str,
    low_price: &'static str,
    /// The venue's market data needs the key too (Alpaca).
    public_needs_key: bool,
    /// A time at or before the venue's recorded candles.
    candles_since: &'static str,
}

/// Every `skeet exchange` command against one venue's test server.
async fn exercise(case: &Case) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v = case.venue;
    let base = case.server.base_url.as_str();
    let common = |cmd| vec!["exchange", cmd, "--venue", v, "--base-url", base];
    let env = &case.env;
    let public: &[(String, String)] = if case.public_needs_key { env } else { &[] };

    let markets = ok_json(&skeet(d, public, &with(common("markets"), &["--json"])).await);
    let m = markets
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["symbol"] == case.symbol)
        .unwrap_or_else(|| panic!("{v}: {} not in {markets}", case.symbol));
    assert_eq!(m["status"], "trading", "{v}: {m}");
    assert!(
        m["tick_size"].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
        "{v}: {m}"
    );

    let t = skeet(
        d,
        public,
        &with(common("ticker"), &["--symbol", case.symbol]),
    )
    .await;
    assert!(t.status.success(), "{v}: {}", stderr(&t));
    assert!(
        stdout(&t).starts_with(case.symbol) && stdout(&t).contains(" bid "),
        "{v}: {}",
        stdout(&t)
    );

    let book = ok_json(
        &skeet(
            d,
            public,
            &with(
                common("book"),
                &["--symbol", case.symbol, "--depth", "5", "--json"],
            ),
        )
        .await,
    );
    assert!(!book["bids"].as_array().unwrap().is_empty(), "{v}: {book}");
    assert!(book["bids"].as_array().unwrap().len() <= 5, "{v}: {book}");

    let bars = ok_json(
        &skeet(
            d,
            public,
            &with(
                common("candles"),
                &[
                    "--symbol",
                    case.symbol,
                    "--timeframe",
                    "1m",
                    "--since",
                    case.candles_since,
                    "--limit",
                    "5",
                    "--json",
                ],
            ),
        )
        .await,
    );
    let bars = bars.as_array().unwrap();
    assert!(!bars.is_empty() && bars.len() <= 5, "{v}: {bars:?}");
    let ts: Vec<i64> = bars.iter().map(|b| b["ts"].as_i64().unwrap()).collect();
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "{v}: candles oldest first"
    );

    // Private commands without a key: one readable line, non-zero exit, nothing sent.
    let no_key = skeet(d, &[], &common("balance")).await;
    assert!(!no_key.status.success());
    let err = stderr(&no_key);
    assert_eq!(err.trim().lines().count(), 1, "{v}: {err}");
    assert!(
        err.contains("needs an API key")
            && err.contains(&format!("SKEET_{}_API_KEY", v.to_uppercase())),
        "{v}: {err}"
    );

    let balances = ok_json(&skeet(d, env, &with(common("balance"), &["--json"])).await);
    assert!(!balances.as_array().unwrap().is_empty(), "{v}: {balances}");

    let placed = ok_json(
        &skeet(
            d,
            env,
            &with(
                common("order"),
                &[
                    "--symbol",
                    case.symbol,
                    "--side",
                    "buy",
                    "--quantity",
                    case.quantity,
                    "--price",
                    case.low_price,
                    "--client-id",
                    "cli-limit-1",
                    "--json",
                ],
            ),
        )
        .await,
    );
    assert_eq!(placed["state"], "open", "{v}: {placed}");
    let venue_id = placed["venue_order_id"].as_str().unwrap().to_string();

    let open = ok_json(
        &skeet(
            d,
            env,
            &with(common("orders"), &["--symbol", case.symbol, "--json"]),
        )
        .await,
    );
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|o| o["venue_order_id"] == venue_id.as_str()),
        "{v}: {open}"
    );
    let found = ok_json(
        &skeet(
            d,
            env,
            &with(
                common("order"),
                &[
                    "--symbol",
                    case.symbol,
                    "--client-id",
                    "cli-limit-1",
                    "--json",
                ],
            ),
        )
        .await,
    );
    assert_eq!(found["venue_order_id"], venue_id.as_str(), "{v}: {found}");

    let id_arg = venue_id.as_str();
    let cancelled = ok_json(
        &skeet(
            d,
            env,
            &with(
                common("cancel"),
                &["--symbol", case.symbol, "--id", id_arg, "--json"],
            ),
        )
        .await,
    );
    assert_eq!(cancelled["state"], "cancelled", "{v}: {cancelled}");
    let again = skeet(
        d,
        env,
        &with(common("cancel"), &["--symbol", case.symbol, "--id", id_arg]),
    )
    .await;
    assert!(!again.status.success(), "{v}: a second cancel must fail");
    assert_eq!(
        stderr(&again).trim().lines().count(),
        1,
        "{v}: {}",
        stderr(&again)
    );

    let market = ok_json(
        &skeet(
            d,
            env,
            &with(
                common("order"),
                &[
                    "--symbol",
                    case.symbol,
                    "--side",
                    "buy",
                    "--quantity",
                    case.quantity,
                    "--client-id",
                    "cli-mkt-1",
                    "--json",
                ],
            ),
        )
        .await,
    );
    let market_id = market["venue_order_id"].as_str().unwrap().to_string();
    // The venue fills a market order at once; its fill is in our trades.
    let mut fills = Value::Null;
    for _ in 0..20 {
        fills = ok_json(
            &skeet(
                d,
                env,
                &with(
                    common("trades"),
                    &["--symbol", case.symbol, "--since", "2020-01-01", "--json"],
                ),
            )
            .await,
        );
        if fills
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["venue_order_id"] == market_id.as_str())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fill = fills
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["venue_order_id"] == market_id.as_str())
        .unwrap_or_else(|| panic!("{v}: no fill of {market_id} in {fills}"));
    assert_eq!(
        fill["quantity"].as_str().unwrap().parse::<f64>().unwrap(),
        case.quantity.parse::<f64>().unwrap(),
        "{v}: {fill}"
    );

    let perms = skeet(d, env, &common("permissions")).await;
    assert!(perms.status.success(), "{v}: {}", stderr(&perms));
    assert!(
        stdout(&perms).contains("read: true") && stdout(&perms).contains("trade: true"),
        "{v}: {}",
        stdout(&perms)
    );
}

fn env(venue: &str, key: &str, secret: &str) -> Vec<(String, String)> {
    let up = venue.to_uppercase();
    vec![
        (format!("SKEET_{up}_API_KEY"), key.to_string()),
        (format!("SKEET_{up}_API_SECRET"), secret.to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_commands_work_against_its_test_server() {
    let (_sim, server) = binance::spawn_default().await;
    exercise(&Case {
        venue: "binance",
        server,
        env: env("binance", binance::API_KEY, binance::API_SECRET),
        symbol: "BTC/USDT",
        quantity: "0.001",
        low_price: "25000",
        public_needs_key: false,
        candles_since: "2020-01-01",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_commands_work_against_its_test_server() {
    let (_sim, server) = coinbase::spawn_default().await;
    exercise(&Case {
        venue: "coinbase",
        server,
        env: env(
            "coinbase",
            coinbase::TEST_KEY_NAME,
            &coinbase::test_key_pem(),
        ),
        symbol: "BTC/USD",
        quantity: "0.001",
        low_price: "25000",
        public_needs_key: false,
        candles_since: "2024-01-02",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpaca_commands_work_against_its_test_server() {
    let (_sim, server) = alpaca::spawn_default().await;
    exercise(&Case {
        venue: "alpaca",
        server,
        env: env("alpaca", alpaca::API_KEY, alpaca::API_SECRET),
        symbol: "BTC/USD",
        quantity: "0.001",
        low_price: "25000",
        public_needs_key: true,
        candles_since: "2020-01-01",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_commands_work_against_its_test_server() {
    let (_sim, server) = kraken::spawn_default().await;
    exercise(&Case {
        venue: "kraken",
        server,
        env: env("kraken", kraken::API_KEY, kraken::API_SECRET),
        symbol: "BTC/USD",
        quantity: "0.001",
        low_price: "25000",
        public_needs_key: false,
        candles_since: "2020-01-01",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_dataset_resumes_and_backtests_unchanged() {
    let sim = binance::default_sim();
    let server = binance::spawn(
        sim,
        binance::ServerConfig {
            history_bars: 2500,
            ..binance::ServerConfig::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = server.base_url.as_str();
    let download = |until: Option<&'static str>| {
        let mut a = vec![
            "data",
            "download",
            "--venue",
            "binance",
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "1m",
            "--since",
            "2020-01-01",
            "--base-url",
            base,
        ];
        if let Some(u) = until {
            a.extend_from_slice(&["--until", u]);
        }
        a
    };
    let first = skeet(d, &[], &download(None)).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(
        out.contains("downloaded 2500 new bars into binance:BTC/USDT 1m"),
        "{out}"
    );
    // 1,000 bars a page, and a last request that finds nothing newer.
    assert!(out.contains("(4 pages"), "{out}");

    // Running it again resumes after the stored bars: nothing new, nothing duplicated.
    let again = skeet(d, &[], &download(None)).await;
    let out = stdout(&again);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        out.contains("downloaded 0 new bars")
            && out.contains("resumed")
            && out.contains("series has 2500 bars"),
        "{out}"
    );

    let inspect = skeet(
        d,
        &[],
        &["data", "inspect", "BTC/USDT", "1m", "--venue", "binance"],
    )
    .await;
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    assert!(
        stdout(&inspect).contains("2,500") || stdout(&inspect).contains("2500"),
        "{}",
        stdout(&inspect)
    );

    let report = ok_json(
        &skeet(
            d,
            &[],
            &[
                "backtest",
                "--symbol",
                "BTC/USDT",
                "--venue",
                "binance",
                "--timeframe",
                "1m",
                "--strategy",
                "sma_cross",
                "--fees",
                "binance",
                "-o",
                "-",
            ],
        )
        .await,
    );
    let text = report.to_string();
    assert!(
        text.contains("2500"),
        "the backtest saw every downloaded bar: {text:.400}"
    );

    // A bad request: one line, non-zero exit.
    let bad = skeet(
        d,
        &[],
        &[
            "data",
            "download",
            "--venue",
            "binance",
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "7m",
            "--since",
            "2020-01-01",
            "--base-url",
            base,
        ],
    )
    .await;
    assert!(!bad.status.success());
    assert_eq!(stderr(&bad).trim().lines().count(), 1, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("7m"), "{}", stderr(&bad));
}

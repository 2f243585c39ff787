//! `skeet-venue-sim`: the local Binance test server as a program, for the dashboard's
//! end-to-end tests and for trying SKEET's exchange features without an account:
//!
//! ```text
//! skeet-venue-sim [--listen 127.0.0.1:9100] [--history-bars 3000] [--walk-ms 500]
//! skeet exchange ticker --venue binance --base-url http://127.0.0.1:9100 --symbol BTC/USDT
//! skeet serve --venue-url binance=http://127.0.0.1:9100
//! ```
//!
//! It trades BTC/USDT and ETH/USDT on a simulated matching venue; the BTC/USDT price takes a
//! deterministic random walk (every `--walk-ms`, 0 to keep it still) so live tickers move.
//! Keys: the example key pair of Binance's signing documentation (printed at start).

#![allow(clippy::print_stdout, reason = "a command-line program")]

use rust_decimal::Decimal;
use skeet_testkit::binance;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "skeet-venue-sim [--listen ADDR] [--history-bars N] [--walk-ms MS]: a local Binance spot test server"
        );
        return Ok(());
    }
    let listen = arg(&args, "--listen").unwrap_or_else(|| "127.0.0.1:9100".to_string());
    let num = |name: &str, default: u64| -> Result<u64, String> {
        arg(&args, name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{name} '{v}' is not a whole number"))
        })
    };
    let history = usize::try_from(num("--history-bars", 3000)?).unwrap_or(3000);
    let walk_ms = num("--walk-ms", 500)?;
    let sim = binance::default_sim();
    let app = binance::router(
        sim.clone(),
        binance::ServerConfig {
            history_bars: history,
            ..binance::ServerConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("Binance test server at http://{listen}");
    println!("API key:    {}", binance::API_KEY);
    println!("API secret: {}", binance::API_SECRET);
    if walk_ms > 0 {
        let sim = sim.clone();
        tokio::spawn(async move {
            let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(walk_ms));
            loop {
                tick.tick().await;
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let step = Decimal::from(state % 201) - Decimal::from(100);
                let now = sim.price("BTC/USDT").unwrap_or(Decimal::from(30_000));
                let next = (now + step / Decimal::from(10)).max(Decimal::from(1_000));
                sim.set_price("BTC/USDT", next.round_dp(2));
            }
        });
    }
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("server stopped: {e}"))
}

//! # skeet-testkit
//!
//! Test helpers (dev-only): local servers that speak each venue's documented REST and
//! websocket protocol ([`binance`], [`kraken`], [`coinbase`], [`alpaca`]), check request
//! signatures with a known secret (re-implemented here independently of the adapters, so a
//! signing bug cannot hide behind a matching bug), serve recorded payloads from `test_data/`,
//! and trade against one simulated matching venue ([`sim::SimVenue`]) with fault injection
//! ([`sim::Fault`]): rate-limit and 5xx bursts, orders that succeed but whose answer never
//! arrives, websocket drops and refused reconnects.
//!
//! Invariants:
//! - Servers bind 127.0.0.1 on a free port only; nothing here reaches the network.
//! - The simulated venue's balances are exact decimals and never go negative; a client order
//!   id is unique per venue, so a duplicate placement is refused, and counted.

pub mod alpaca;
pub mod binance;
pub mod coinbase;
pub mod kraken;
pub mod sim;

use std::net::SocketAddr;
use std::path::PathBuf;

/// A running local server.
#[derive(Debug)]
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on 127.0.0.1 at a free port.
///
/// # Panics
/// When no loopback port can be bound (the test cannot run at all).
pub async fn serve(router: axum::Router) -> Running {
    #[allow(clippy::unwrap_used, reason = "test helper: no port means no test")]
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    #[allow(clippy::unwrap_used, reason = "a bound listener has an address")]
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Running {
        base_url: format!("http://{addr}"),
        addr,
        task,
    }
}

/// The repository's `test_data/` folder.
pub fn test_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test_data")
}

/// A recorded payload, `test_data/<rel>`, as JSON.
///
/// # Panics
/// When the file is missing or not JSON: a broken fixture, to be fixed in the repository.
pub fn recorded(rel: &str) -> serde_json::Value {
    let path = test_data_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

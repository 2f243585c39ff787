//! A worker process killed in the middle of a backtest does not lose the job: its lease
//! expires and a second `skeet worker` process runs it to the end. Uses real processes on a
//! shared SQLite database: `skeet serve --no-workers` for the API and two `skeet worker`s.

#![allow(clippy::unwrap_used, reason = "test")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::request;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn skeet(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skeet"));
    c.arg("--data-dir").arg(dir).env_remove("DATABASE_URL");
    c
}

fn call(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Value {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request(addr, method, path, &headers, body).body
}

#[test]
fn a_killed_worker_loses_its_lease_and_another_finishes_the_job() {
    let dir = tempfile::tempdir().unwrap();

    let mut api = Proc(
        skeet(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--no-workers"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(api.0.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("SKEET is running at http://")
        .unwrap()
        .to_string();

    call(
        &addr,
        "POST",
        "/api/auth/signup",
        None,
        Some(&json!({"email": "w@example.com", "password": "worker password"})),
    );
    let login = call(
        &addr,
        "POST",
        "/api/auth/login",
        None,
        Some(&json!({"email": "w@example.com", "password": "worker password"})),
    );
    let token = login["token"].as_str().unwrap().to_string();
    let me = call(&addr, "GET", "/api/me", Some(&token), None);
    let ws = me["workspaces"][0]["workspace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let generated = call(
        &addr,
        "POST",
        &format!("/api/workspaces/{ws}/datasets/generate"),
        Some(&token),
        Some(&json!({"symbol": "BIG/USD", "timeframe": "1m", "bars": 1_000_000, "seed": 1})),
    );
    assert_eq!(generated["bars"], 1_000_000, "{generated}");
    let job = call(
        &addr,
        "POST",
        &format!("/api/workspaces/{ws}/backtests"),
        Some(&token),
        Some(&json!({"strategy": "sma_cross", "symbol": "BIG/USD", "timeframe": "1m"})),
    );
    let id = job["id"].as_str().unwrap().to_string();
    let get = || {
        call(
            &addr,
            "GET",
            &format!("/api/workspaces/{ws}/backtests/{id}"),
            Some(&token),
            None,
        )
    };

    let worker = || {
        Proc(
            skeet(dir.path())
                .args(["worker", "--workers", "1", "--lease-ms", "1500"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut first_worker = worker();
    let deadline = Instant::now() + Duration::from_secs(30);
    let running = loop {
        let j = get();
        if j["state"] == "running" {
            break j;
        }
        assert!(Instant::now() < deadline, "never started: {j}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let first_holder = running["locked_by"].as_str().unwrap().to_string();
    first_worker.0.kill().unwrap();
    first_worker.0.wait().unwrap();
    assert_eq!(
        get()["state"],
        "running",
        "the job is still leased to the dead worker"
    );

    // The second worker also serves its own metrics.
    let mut second = Proc(
        skeet(dir.path())
            .args([
                "worker",
                "--workers",
                "1",
                "--lease-ms",
                "1500",
                "--metrics-listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut second_out = BufReader::new(second.0.stdout.take().unwrap());
    let mut metrics_line = String::new();
    second_out.read_line(&mut metrics_line).unwrap();
    let metrics_addr = metrics_line
        .trim()
        .strip_prefix("metrics at http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{metrics_line}"))
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let j = get();
        if j["state"] == "succeeded" || j["state"] == "failed" {
            break j;
        }
        assert!(Instant::now() < deadline, "never finished: {j}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["attempts"], 2,
        "the second worker ran it again: {done}"
    );
    assert_eq!(done["result"]["metrics"]["bars"], 1_000_000);
    assert!(!first_holder.is_empty());
    let scraped = request(&metrics_addr, "GET", "/metrics", &[], None);
    let text = scraped.body.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains("skeet_job_duration_seconds_count{kind=\"backtest\"} 1"),
        "{text}"
    );
}

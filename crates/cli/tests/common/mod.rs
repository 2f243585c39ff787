//! Support for tests of the real `skeet serve` binary: starting it (on SQLite or a fresh
//! PostgreSQL database), and a minimal HTTP/1.1 client (one request per connection, JSON
//! bodies, chunked responses decoded).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "test support"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A response: status, lower-cased headers, and the body as JSON (a string if it is not).
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// One HTTP/1.1 request on its own connection.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    let body_text = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!(
        "Content-Length: {}\r\n\r\n{body_text}",
        body_text.len()
    ));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// A running `skeet serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stdout: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> Server {
    start_with(data_dir, database_url, None, &[])
}

/// [`start`] on SQLite with extra `skeet serve` arguments.
pub fn start_args(data_dir: &std::path::Path, args: &[&str]) -> Server {
    start_with(data_dir, None, None, args)
}

/// [`start`], with the server's logs (JSON, every request at debug level) written to `log`.
pub fn start_logged(data_dir: &std::path::Path, log: &std::path::Path) -> Server {
    start_with(data_dir, None, Some(log), &[])
}

fn start_with(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    log: Option<&std::path::Path>,
    extra: &[&str],
) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skeet"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(path) = log {
        cmd.args(["--log-format", "json"])
            .env("RUST_LOG", "debug")
            .stderr(std::fs::File::create(path).unwrap());
    }
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().unwrap();
    let (addr, stdout) = wait_ready(&mut child);
    Server {
        child,
        addr,
        stdout,
    }
}

/// Reads a starting `skeet serve`'s standard output (piped) up to its `database:` line: the
/// address it listens on, and the lines read.
pub fn wait_ready(child: &mut Child) -> (String, Vec<String>) {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut stdout = Vec::new();
    let mut addr = None;
    while addr.is_none()
        || !stdout
            .last()
            .is_some_and(|l: &String| l.starts_with("database:"))
    {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "server exited: {stdout:?}"
        );
        if let Some(a) = line.trim().strip_prefix("SKEET is running at http://") {
            addr = Some(a.to_string());
        }
        stdout.push(line.trim().to_string());
    }
    (addr.unwrap(), stdout)
}

#[track_caller]
pub fn error_is(r: &Response, status: u16, code: &str, message_part: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["code"], code, "{}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains(message_part),
        "{}",
        r.body
    );
}

/// A fresh PostgreSQL database for one test, dropped with it. `None` (with a note) when the
/// server is unreachable, unless `SKEET_REQUIRE_SERVICES=1`, where that fails the test.
pub struct PgDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDatabase {
    pub fn create() -> Option<Self> {
        let admin = std::env::var("SKEET_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let required = std::env::var("SKEET_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
        let name = format!("skeet_t_{}", uuid::Uuid::new_v4().simple());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let created = rt.block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await?;
            Ok::<_, sqlx::Error>(())
        });
        if let Err(e) = created {
            assert!(
                !required,
                "PostgreSQL at {admin} is required (SKEET_REQUIRE_SERVICES=1): {e}"
            );
            eprintln!("skipping: PostgreSQL at {admin} unreachable ({e})");
            return None;
        }
        let base = admin.rsplit_once('/').unwrap().0;
        Some(Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            if let Ok(pool) = sqlx::AnyPool::connect(&self.admin).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .execute(&pool)
                .await;
            }
        });
    }
}

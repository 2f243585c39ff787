//! `skeet bench ...`: measure a running `skeet serve` from outside, over its public API.
//!
//! `skeet bench ws` measures websocket fan-out. N clients connect to `/api/ws` (a bounded
//! number at a time) and subscribe to the account's first workspace. Then, once per round, a
//! backtest job is submitted over HTTP and every client notes when it reads the first event
//! of that job. The latency of one delivery is **submit-to-delivery**: from just before the
//! submit request is written to the moment that client's task reads the event frame. It is
//! not a pure fan-out time; it includes
//! - the HTTP submit: parsing, authentication, validation and the database commit;
//! - the server's job watcher reading the change: woken at once for a job changed by the
//!   serving process itself (as here), within one poll (50 ms) for jobs changed by
//!   `skeet worker` processes;
//! - the fan-out itself: the hub's queues, the server's socket writes, the network;
//! - the clients' own scheduling: thousands of client tasks on the server's machine share
//!   its CPU.
//!
//! The submit's own round trip and the spread between the first and the last client of each
//! event are reported beside it, to tell those parts apart. All times are offsets from one
//! `Instant` taken at start, so the submitting task and the client tasks read the same clock.
//! A client that has not read an event when its round times out counts one miss, so
//! deliveries + misses = clients × events; a later arrival is counted as late, not delivered.
//! The jobs are cancelled at the end (with `skeet serve --no-workers` they would otherwise
//! stay queued, and each submit then makes exactly one event).
//!
//! Known limitation: plain `http://` only. There is no TLS client here, so bench the server's
//! own address, not a TLS proxy in front of it. The setup and submit calls use a minimal
//! HTTP/1.1 client, one connection per request (`Connection: close`); the submit's clock
//! starts after that connection is open.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

use crate::output::{data, line, progress, text_to_stderr};

/// The `skeet bench` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Websocket fan-out: N subscribed clients, submit-to-delivery latency of job events.
    Ws(WsBenchArgs),
    /// Paper bots in one process: memory per bot and bar-to-decision latency.
    Bots(BotsBenchArgs),
    /// A running server: a bot's event to websocket clients, latency.
    BotEvents(BotEventsBenchArgs),
}

/// Arguments of `skeet bench ws`.
#[derive(Debug, Args)]
pub(crate) struct WsBenchArgs {
    /// Base URL of a running `skeet serve` (http:// only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Account to sign in with; the jobs go to its first workspace.
    #[arg(long)]
    email: String,
    /// Its password.
    #[arg(long, env = "SKEET_PASSWORD", hide_env_values = true)]
    password: String,
    /// Websocket clients, all subscribed to the workspace.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Events to measure: one submitted backtest job each.
    #[arg(long, default_value_t = 20)]
    events: usize,
    /// Clients connecting at the same time.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Pause between events, in milliseconds.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// How long an event may take to reach every client, in milliseconds (from its submit);
    /// a client still waiting then counts one miss.
    #[arg(long, default_value_t = 10_000)]
    round_timeout_ms: u64,
    /// Print the summary as one JSON object on stdout (the progress lines go to stderr).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: &BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ws(args) => run_ws(args),
        BenchCommand::Bots(args) => run_bots(args),
        BenchCommand::BotEvents(args) => run_bot_events(args),
    }
}

/// What the latency includes, printed with every result.
const MEASURED: &str = "submit-to-delivery: from just before the submit request is written \
    until a client reads the job's first event; it includes the HTTP submit (auth, validation, \
    database commit), the server's job watcher reading the change (woken at once for jobs \
    changed by the serving process, otherwise within one 50 ms poll), the fan-out to every \
    client, and the client tasks' own scheduling on this machine";

/// Limit on one HTTP exchange and on one client's connect-and-subscribe.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

fn run_ws(args: &WsBenchArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.events == 0 || args.connect_concurrency == 0 {
        bail!("--clients, --events and --connect-concurrency must be at least 1");
    }
    if args.json {
        text_to_stderr();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = runtime.block_on(bench_ws(args))?;
    if args.json {
        data(serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

/// The result of `skeet bench ws`.
#[derive(Debug, Serialize)]
struct Summary {
    url: String,
    clients: usize,
    events: usize,
    /// Events read by a client in time (at most clients × events).
    deliveries: usize,
    /// clients × events − deliveries.
    misses: usize,
    /// Events read after their round had timed out (already counted as misses).
    late: usize,
    /// Clients whose connection ended during the measurement.
    disconnects: usize,
    /// Why the first of them ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_disconnect: Option<String>,
    /// Time to connect and subscribe every client.
    connect_ms: f64,
    connect_concurrency: usize,
    /// Submit-to-delivery latency over all deliveries.
    latency_ms: Stats,
    /// Round trip of the submit request alone (sent to answer read).
    submit_ms: Stats,
    /// Per event: last delivery minus first delivery.
    spread_ms: Stats,
    /// Bars of the dataset the jobs use (the submit's validation reads them).
    dataset_bars: i64,
    /// What `latency_ms` includes.
    measured: &'static str,
}

/// Percentiles (nearest rank) in milliseconds; `None` when nothing was measured.
#[derive(Debug, Serialize)]
struct Stats {
    p50: Option<f64>,
    p90: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
}

fn stats(mut values: Vec<Duration>) -> Stats {
    values.sort_unstable();
    let rank = |p: f64| -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        // Nearest rank: the smallest value with at least p of the values at or below it.
        let k = (p * values.len() as f64).ceil() as usize;
        values.get(k.clamp(1, values.len()) - 1).map(|d| ms(*d))
    };
    Stats {
        p50: rank(0.50),
        p90: rank(0.90),
        p99: rank(0.99),
        max: rank(1.0),
    }
}

/// Milliseconds, to the microsecond.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn print_summary(s: &Summary) {
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
    let row = |name: &str, st: &Stats| {
        line(format!(
            "{name:<22} p50 {:>8}  p90 {:>8}  p99 {:>8}  max {:>8}",
            show(st.p50),
            show(st.p90),
            show(st.p99),
            show(st.max)
        ));
    };
    line("");
    line(format!(
        "clients      {} (connected in {:.2} s, {} at a time)",
        s.clients,
        s.connect_ms / 1e3,
        s.connect_concurrency
    ));
    line(format!("events       {}", s.events));
    line(format!("deliveries   {}", s.deliveries));
    line(format!(
        "misses       {} ({} of them late)",
        s.misses, s.late
    ));
    match &s.first_disconnect {
        Some(why) => line(format!("disconnects  {} (first: {why})", s.disconnects)),
        None => line(format!("disconnects  {}", s.disconnects)),
    }
    line("");
    row("latency (ms)", &s.latency_ms);
    row("submit answer (ms)", &s.submit_ms);
    row("spread per event (ms)", &s.spread_ms);
    line("");
    line(format!("latency is {MEASURED}."));
    line(
        "submit answer is the submit's HTTP round trip alone; spread is the last minus the \
         first client's delivery of one event.",
    );
}

/// Where the server is: the address to connect to and the `host[:port]` that names it.
struct Target {
    addr: SocketAddr,
    authority: String,
}

async fn resolve(url: &str) -> anyhow::Result<Target> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!(
            "--url {url}: only http:// is supported (no TLS client); give the server's own address"
        );
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() || !path.is_empty() {
        bail!("--url {url}: give the server's base URL, like http://127.0.0.1:8080");
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && !port.contains(']'));
    let with_port = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = tokio::net::lookup_host(&with_port)
        .await
        .with_context(|| format!("cannot resolve {with_port}"))?
        .next()
        .with_context(|| format!("{with_port} has no address"))?;
    Ok(Target {
        addr,
        authority: authority.to_string(),
    })
}

/// A minimal HTTP/1.1 client for a few JSON calls: one connection per request.
struct Http {
    addr: SocketAddr,
    authority: String,
    token: Option<String>,
}

/// Status and body of an HTTP answer.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// The server's error body.
#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

impl Reply {
    /// The body as `T` when the status is 2xx; the server's message otherwise.
    fn json<T: DeserializeOwned>(&self, what: &str) -> anyhow::Result<T> {
        if !(200..300).contains(&self.status) {
            let why = serde_json::from_slice::<ErrorBody>(&self.body).map_or_else(
                |_| {
                    String::from_utf8_lossy(&self.body)
                        .chars()
                        .take(300)
                        .collect()
                },
                |e| e.message,
            );
            bail!("{what}: HTTP {}: {why}", self.status);
        }
        serde_json::from_slice(&self.body).with_context(|| format!("{what}: unexpected answer"))
    }
}

impl Http {
    fn encode(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Vec<u8> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\nUser-Agent: skeet-bench\r\n",
            self.authority
        );
        if let Some(token) = &self.token {
            let _ = write!(head, "Authorization: Bearer {token}\r\n");
        }
        let body = body.map(ToString::to_string).unwrap_or_default();
        if method != "GET" {
            let _ = write!(
                head,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    async fn connect(&self) -> anyhow::Result<TcpStream> {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(self.addr))
            .await
            .map_err(|_| anyhow!("cannot connect to {}: timed out", self.authority))?
            .with_context(|| format!("cannot connect to {}", self.authority))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Writes `request` and reads the whole answer (the server closes the connection).
    async fn exchange(stream: &mut TcpStream, request: &[u8]) -> anyhow::Result<Reply> {
        let raw = tokio::time::timeout(IO_TIMEOUT, async {
            stream.write_all(request).await?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await?;
            Ok::<_, std::io::Error>(raw)
        })
        .await
        .map_err(|_| anyhow!("no HTTP answer within {} s", IO_TIMEOUT.as_secs()))?
        .context("HTTP request failed")?;
        parse_reply(&raw)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Reply> {
        let mut stream = self.connect().await?;
        Self::exchange(&mut stream, &self.encode(method, path, body)).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<T> {
        self.call(method, path, body)
            .await?
            .json(&format!("{method} {path}"))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_reply(raw: &[u8]) -> anyhow::Result<Reply> {
    let end = find(raw, b"\r\n\r\n").context("the server's answer is not HTTP")?;
    let head = std::str::from_utf8(raw.get(..end).unwrap_or_default())
        .context("the server's answer headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP status line: {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            }
        }
    }
    let rest = raw.get(end + 4..).unwrap_or_default();
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .context("the server's answer is shorter than its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Reply { status, body })
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").context("bad chunked body")?;
        let size_line = std::str::from_utf8(rest.get(..eol).unwrap_or_default())?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("bad chunk size {size_hex:?}"))?;
        rest = rest.get(eol + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).context("truncated chunked body")?);
        rest = rest
            .get(size..)
            .and_then(|r| r.strip_prefix(b"\r\n"))
            .context("bad chunked body")?;
    }
}

#[derive(Deserialize)]
struct Session {
    token: String,
}

#[derive(Deserialize)]
struct Me {
    workspaces: Vec<Membership>,
}

#[derive(Deserialize)]
struct Membership {
    workspace_id: String,
}

#[derive(Deserialize)]
struct DatasetPage {
    items: Vec<Dataset>,
}

#[derive(Deserialize)]
struct Dataset {
    id: String,
    name: String,
    bars: i64,
}

#[derive(Deserialize)]
struct JobRow {
    id: String,
}

/// The workspace's smallest dataset (the submit's validation reads all its bars), or a new
/// 500-bar one when it has none.
async fn ensure_dataset(http: &Http, ws: &str) -> anyhow::Result<Dataset> {
    let page: DatasetPage = http
        .json(
            "GET",
            &format!("/api/workspaces/{ws}/datasets?limit=500"),
            None,
        )
        .await?;
    if let Some(smallest) = page.items.into_iter().min_by_key(|d| d.bars) {
        return Ok(smallest);
    }
    let body = serde_json::json!({"symbol": "BTC/USDT", "timeframe": "1h", "bars": 500});
    http.json(
        "POST",
        &format!("/api/workspaces/{ws}/datasets/generate"),
        Some(&body),
    )
    .await
    .context("the workspace has no dataset and generating one failed")
}

type Socket = WebSocketStream<TcpStream>;

/// What client tasks tell the coordinator.
enum Report {
    /// Connected and subscribed.
    Ready,
    /// Could not connect or subscribe.
    Failed(String),
    /// Read the first event of a job.
    Delivered {
        client: usize,
        job: String,
        at: Duration,
    },
    /// The connection ended before the benchmark did.
    Gone { client: usize, why: String },
}

/// What every client needs.
struct ClientSetup {
    /// The clock all times are read from.
    base: Instant,
    addr: SocketAddr,
    ws_url: String,
    auth: HeaderValue,
    channel: String,
}

/// A server frame, as far as the benchmark reads it.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<EventData>,
}

#[derive(Deserialize)]
struct EventData {
    id: String,
}

/// The job id of a job event frame.
fn job_id(text: &str) -> Option<String> {
    let frame: Frame = serde_json::from_str(text).ok()?;
    if frame.kind == "event" && frame.event.as_deref() == Some("job") {
        frame.data.map(|d| d.id)
    } else {
        None
    }
}

fn describe_close(frame: Option<&CloseFrame>) -> String {
    frame.map_or_else(
        || "no close code".to_string(),
        |f| format!("code {} {}", u16::from(f.code), f.reason.as_str()),
    )
}

/// Reads frames until one of type `want`; an `error` frame or the end of the socket fails.
async fn expect(ws: &mut Socket, want: &str) -> anyhow::Result<()> {
    loop {
        let msg = ws
            .next()
            .await
            .with_context(|| format!("the server ended the websocket before '{want}'"))?
            .with_context(|| format!("websocket error while waiting for '{want}'"))?;
        match msg {
            Message::Text(text) => {
                let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                    continue;
                };
                if frame.kind == want {
                    return Ok(());
                }
                if frame.kind == "error" {
                    bail!("the server refused: {}", frame.message.unwrap_or_default());
                }
            }
            Message::Close(frame) => bail!(
                "the server closed the websocket before '{want}': {}",
                describe_close(frame.as_ref())
            ),
            _ => {}
        }
    }
}

/// Connects, waits for `hello`, subscribes and waits for `subscribed`.
async fn open(setup: &ClientSetup) -> anyhow::Result<Socket> {
    let tcp = TcpStream::connect(setup.addr)
        .await
        .with_context(|| format!("cannot connect to {}", setup.addr))?;
    tcp.set_nodelay(true)?;
    let mut request = setup
        .ws_url
        .as_str()
        .into_client_request()
        .context("bad websocket URL")?;
    request
        .headers_mut()
        .insert(header::AUTHORIZATION, setup.auth.clone());
    // Small buffers: thousands of clients, and frames of a few hundred bytes.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
        .await
        .context("websocket handshake failed")?;
    expect(&mut ws, "hello").await?;
    let subscribe = serde_json::json!({"op": "subscribe", "channel": setup.channel}).to_string();
    ws.send(Message::text(subscribe))
        .await
        .context("cannot send subscribe")?;
    expect(&mut ws, "subscribed").await?;
    Ok(ws)
}

/// One client: connect (holding a `gate` permit), then report the first event of each job
/// until `stop`.
async fn client(
    idx: usize,
    setup: Arc<ClientSetup>,
    gate: Arc<Semaphore>,
    reports: mpsc::UnboundedSender<Report>,
    mut stop: watch::Receiver<bool>,
) {
    let opened = {
        let Ok(_permit) = gate.acquire().await else {
            return;
        };
        match tokio::time::timeout(IO_TIMEOUT, open(&setup)).await {
            Ok(result) => result,
            Err(_) => Err(anyhow!("no connection within {} s", IO_TIMEOUT.as_secs())),
        }
    };
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            let _ = reports.send(Report::Failed(format!("{e:#}")));
            return;
        }
    };
    if reports.send(Report::Ready).is_err() {
        return;
    }
    let mut seen = HashSet::new();
    loop {
        tokio::select! {
            msg = ws.next() => {
                // Read the clock first: parsing is the client's cost, not the server's.
                let at = setup.base.elapsed();
                let why = match msg {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(job) = job_id(text.as_str())
                            && seen.insert(job.clone())
                        {
                            let _ = reports.send(Report::Delivered { client: idx, job, at });
                        }
                        continue;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        format!("closed by the server: {}", describe_close(frame.as_ref()))
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => format!("websocket error: {e}"),
                    None => "the connection ended".to_string(),
                };
                let _ = reports.send(Report::Gone { client: idx, why });
                return;
            }
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return;
            }
        }
    }
}

/// Deliveries of one event.
struct Round {
    t0: Duration,
    got: Vec<bool>,
    /// Live clients that have not got it yet.
    pending: usize,
    latencies: Vec<Duration>,
}

impl Round {
    fn new(t0: Duration, alive: &[bool]) -> Self {
        Self {
            t0,
            got: vec![false; alive.len()],
            pending: alive.iter().filter(|a| **a).count(),
            latencies: Vec::with_capacity(alive.len()),
        }
    }

    fn deliver(&mut self, client: usize, at: Duration, alive: &[bool]) {
        if let Some(got) = self.got.get_mut(client)
            && !*got
        {
            *got = true;
            self.latencies.push(at.saturating_sub(self.t0));
            if alive.get(client).copied().unwrap_or(false) {
                self.pending -= 1;
            }
        }
    }

    /// `client` (alive until now) is gone: it will not get the event.
    fn lost(&mut self, client: usize) {
        if !self.got.get(client).copied().unwrap_or(true) {
            self.pending -= 1;
        }
    }
}

/// A benchmark's session with a running server: where it is, an HTTP client with the
/// session token, the same token as a header for websocket upgrades, the first workspace.
struct SignedIn {
    target: Target,
    http: Http,
    auth: HeaderValue,
    ws: String,
}

async fn sign_in(url: &str, email: &str, password: &str) -> anyhow::Result<SignedIn> {
    let target = resolve(url).await?;
    let mut http = Http {
        addr: target.addr,
        authority: target.authority.clone(),
        token: None,
    };
    let credentials = serde_json::json!({"email": email, "password": password});
    let session: Session = http
        .json("POST", "/api/auth/login", Some(&credentials))
        .await
        .context("cannot sign in")?;
    let auth = HeaderValue::from_str(&format!("Bearer {}", session.token))
        .context("the session token is not a valid header value")?;
    http.token = Some(session.token);
    let me: Me = http.json("GET", "/api/me", None).await?;
    let ws = me
        .workspaces
        .into_iter()
        .next()
        .map(|m| m.workspace_id)
        .context("the account belongs to no workspace")?;
    Ok(SignedIn {
        target,
        http,
        auth,
        ws,
    })
}

async fn bench_ws(args: &WsBenchArgs) -> anyhow::Result<Summary> {
    let n = args.clients;
    let SignedIn {
        target,
        http,
        auth,
        ws,
    } = sign_in(&args.url, &args.email, &args.password).await?;
    let dataset = ensure_dataset(&http, &ws).await?;
    line(format!(
        "websocket fan-out benchmark against {} ({}), workspace {ws}",
        args.url, target.addr
    ));
    line(format!(
        "events: sma_cross backtests on dataset '{}' ({} bars)",
        dataset.name, dataset.bars
    ));

    let base = Instant::now();
    let setup = Arc::new(ClientSetup {
        base,
        addr: target.addr,
        ws_url: format!("ws://{}/api/ws", target.authority),
        auth,
        channel: format!("workspace:{ws}"),
    });
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let mut tasks = JoinSet::new();
    let bar = progress(n as u64, "connect");
    for idx in 0..n {
        tasks.spawn(client(
            idx,
            setup.clone(),
            gate.clone(),
            report_tx.clone(),
            stop_rx.clone(),
        ));
    }
    drop(report_tx);
    let mut alive = vec![true; n];
    let mut disconnects = 0;
    let mut first_disconnect = None;
    let (mut ready, mut failed, mut first_error) = (0, 0, None);
    while ready + failed < n {
        let report = reports
            .recv()
            .await
            .context("the client tasks ended while connecting")?;
        match report {
            Report::Ready => {
                ready += 1;
                bar.inc(1);
            }
            Report::Failed(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Report::Gone { client, why } => {
                if alive.get(client).copied().unwrap_or(false) {
                    alive[client] = false;
                    disconnects += 1;
                    first_disconnect.get_or_insert(why);
                }
            }
            Report::Delivered { .. } => {}
        }
    }
    bar.finish_and_clear();
    let connect = base.elapsed();
    if failed > 0 {
        bail!(
            "{failed} of {n} websocket clients could not connect and subscribe (first error: {}); \
             each client holds one socket, so with many clients raise the open-file limit \
             (`ulimit -n`) of this shell and of the server, or lower --clients or \
             --connect-concurrency",
            first_error.unwrap_or_default()
        );
    }
    line(format!(
        "{n} clients connected and subscribed in {:.2} s",
        connect.as_secs_f64()
    ));

    let body = serde_json::json!({"strategy": "sma_cross", "dataset": dataset.id});
    let submit_path = format!("/api/workspaces/{ws}/backtests");
    let round_timeout = Duration::from_millis(args.round_timeout_ms);
    let mut latencies = Vec::with_capacity(n.saturating_mul(args.events));
    let (mut submits, mut spreads, mut jobs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut misses, mut late) = (0, 0);
    // Deliveries of a job whose id the submit had not returned yet.
    let mut early: HashMap<String, Vec<(usize, Duration)>> = HashMap::new();
    let mut past = HashSet::new();
    for event in 1..=args.events {
        let mut stream = http.connect().await?;
        let request = http.encode("POST", &submit_path, Some(&body));
        let t0 = base.elapsed();
        let reply = Http::exchange(&mut stream, &request).await?;
        let answered = base.elapsed();
        let job: JobRow = reply.json("submitting a backtest")?;
        submits.push(answered.saturating_sub(t0));
        let deadline = tokio::time::Instant::from_std(base + t0 + round_timeout);
        let mut round = Round::new(t0, &alive);
        for (client, at) in early.remove(&job.id).unwrap_or_default() {
            round.deliver(client, at, &alive);
        }
        while round.pending > 0 {
            let Ok(Some(report)) = tokio::time::timeout_at(deadline, reports.recv()).await else {
                break;
            };
            match report {
                Report::Delivered {
                    client,
                    job: id,
                    at,
                } => {
                    if id == job.id {
                        round.deliver(client, at, &alive);
                    } else if past.contains(&id) {
                        late += 1;
                    } else {
                        early.entry(id).or_default().push((client, at));
                    }
                }
                Report::Gone { client, why } => {
                    if alive.get(client).copied().unwrap_or(false) {
                        alive[client] = false;
                        disconnects += 1;
                        first_disconnect.get_or_insert(why);
                        round.lost(client);
                    }
                }
                Report::Ready | Report::Failed(_) => {}
            }
        }
        let delivered = round.latencies.len();
        misses += n - delivered;
        let first = round.latencies.iter().min().copied();
        let last = round.latencies.iter().max().copied();
        if let (Some(first), Some(last)) = (first, last) {
            spreads.push(last.saturating_sub(first));
        }
        line(format!(
            "event {event}/{}: {delivered}/{n} clients, submit answered in {:.1} ms, first delivery {}, last {}",
            args.events,
            ms(answered.saturating_sub(t0)),
            first.map_or_else(|| "-".to_string(), |d| format!("{:.1} ms", ms(d))),
            last.map_or_else(|| "-".to_string(), |d| format!("{:.1} ms", ms(d))),
        ));
        latencies.extend(round.latencies);
        past.insert(job.id.clone());
        jobs.push(job.id);
        if event < args.events {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    }

    // Close the clients first, so that the cancellations below are not fanned out to them.
    let _ = stop_tx.send(true);
    let closing = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), closing)
        .await
        .is_err()
    {
        tasks.abort_all();
    }
    let mut cancelled = 0;
    for id in &jobs {
        let path = format!("/api/workspaces/{ws}/jobs/{id}/cancel");
        if let Ok(reply) = http.call("POST", &path, None).await
            && (200..300).contains(&reply.status)
        {
            cancelled += 1;
        }
    }
    line(format!(
        "cancelled {cancelled} of the {} benchmark jobs",
        jobs.len()
    ));

    Ok(Summary {
        url: args.url.clone(),
        clients: n,
        events: args.events,
        deliveries: latencies.len(),
        misses,
        late,
        disconnects,
        first_disconnect,
        connect_ms: ms(connect),
        connect_concurrency: args.connect_concurrency,
        latency_ms: stats(latencies),
        submit_ms: stats(submits),
        spread_ms: stats(spreads),
        dataset_bars: dataset.bars,
        measured: MEASURED,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn replies_with_a_length_or_chunks_parse_to_the_same_body() {
        let plain = b"HTTP/1.1 202 Accepted\r\ncontent-length: 11\r\n\r\n{\"id\":\"j\"}\n";
        let r = parse_reply(plain).unwrap();
        assert_eq!(r.status, 202);
        assert_eq!(r.body, b"{\"id\":\"j\"}\n");
        let chunked =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"id\r\n7\r\n\":\"j\"}\n\r\n0\r\n\r\n";
        let r = parse_reply(chunked).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"{\"id\":\"j\"}\n");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = (1..=100).map(Duration::from_millis).collect();
        let s = stats(v);
        assert_eq!(s.p50, Some(50.0));
        assert_eq!(s.p90, Some(90.0));
        assert_eq!(s.p99, Some(99.0));
        assert_eq!(s.max, Some(100.0));
        assert_eq!(stats(Vec::new()).p50, None);
    }

    #[test]
    fn only_job_events_carry_a_job_id() {
        let event = r#"{"type":"event","channel":"workspace:w","event":"job","data":{"id":"j1","state":"queued"}}"#;
        assert_eq!(job_id(event).as_deref(), Some("j1"));
        assert_eq!(
            job_id(r#"{"type":"subscribed","channel":"workspace:w"}"#),
            None
        );
        assert_eq!(job_id("not json"), None);
    }
}

/// Arguments of `skeet bench bots`.
#[derive(Debug, Args)]
pub(crate) struct BotsBenchArgs {
    /// Paper bots stepped in this process.
    #[arg(long, default_value_t = 1000)]
    bots: usize,
    /// 1-minute bars replayed per bot.
    #[arg(long, default_value_t = 1440)]
    bars: usize,
}

/// Resident memory of this process in bytes (Linux; 0 elsewhere).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `skeet bench bots`: N paper bots (the replay runtime's engine, [`Stepper`]) in one
/// process, each on its own SMA-crossover parameters over 1-minute bars: memory per bot and
/// the bar-to-decision latency (one bar matched, marked and decided, orders included).
fn run_bots(args: &BotsBenchArgs) -> anyhow::Result<()> {
    use skeet_backtest::stepper::Stepper;
    use skeet_backtest::{Market, RunConfig};
    use skeet_core::{Instrument, Timeframe};
    use skeet_data::NoProgress;
    use skeet_data::generate::{GenerateParams, Model, generate};
    anyhow::ensure!(
        args.bots > 0 && args.bars > 50,
        "--bots must be at least 1 and --bars above 50"
    );
    let mut p = GenerateParams::new(Timeframe::M1, args.bars, 7);
    p.model = Model::Regime;
    let bars = generate(&p, &NoProgress)?;
    let mut instrument = Instrument::unrestricted("synthetic:BTC/USDT".parse()?);
    instrument.taker_fee = rust_decimal::Decimal::new(1, 3);
    instrument.maker_fee = rust_decimal::Decimal::new(1, 3);
    let market = Market {
        instrument,
        timeframe: Timeframe::M1,
        bars,
        data_hash: String::new(),
    };
    let spec = skeet_strategy::templates::get("sma_cross")?;
    let cfg = RunConfig {
        skip_quiet_bars: false,
        ..RunConfig::default()
    };
    let before = rss_bytes();
    let started = Instant::now();
    let mut bots = Vec::with_capacity(args.bots);
    for k in 0..args.bots {
        let fast = 5.0 + 5.0 * (k % 5) as f64;
        let slow = 30.0 + 10.0 * (k % 7) as f64;
        let params = spec.resolve_params(&[("fast".into(), fast), ("slow".into(), slow)])?;
        bots.push(Stepper::new(&spec, &params, market.clone(), &cfg)?);
    }
    let built = started.elapsed();
    let after = rss_bytes();
    let mut lat = Vec::with_capacity(args.bots * args.bars);
    let mut fills = 0usize;
    let run = Instant::now();
    for _ in 0..args.bars {
        for b in &mut bots {
            let t0 = Instant::now();
            let step = b.step();
            lat.push(t0.elapsed());
            fills += step.map_or(0, |s| {
                s.events
                    .iter()
                    .filter(|e| matches!(e.kind, skeet_engine::EventKind::Filled { .. }))
                    .count()
            });
        }
    }
    let ran = run.elapsed();
    lat.sort_unstable();
    let pct = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    let per_bot = after.saturating_sub(before) as f64 / args.bots as f64 / 1e6;
    line(format!(
        "{} paper bots × {} 1-minute bars ({} steps, {fills} fills) in one process",
        args.bots,
        args.bars,
        lat.len()
    ));
    line(format!(
        "memory: {:.2} MB per bot ({:.0} MB for all, built in {:.2} s)",
        per_bot,
        after.saturating_sub(before) as f64 / 1e6,
        built.as_secs_f64()
    ));
    line(format!(
        "bar-to-decision: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({:.0} bot-bars/s on one core)",
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e6),
        lat.len() as f64 / ran.as_secs_f64()
    ));
    // A bot on live data decides differently: at each closed bar it compiles the strategy
    // over the bars it keeps (twice the warm-up, at least 1,000).
    let all: Vec<skeet_core::Bar> = market.bars.iter().collect();
    let params = spec.resolve_params(&[("fast".into(), 10.0), ("slow".into(), 30.0)])?;
    for window in [1_000usize, 2_000] {
        if all.len() < window + 200 {
            continue;
        }
        let mut lat = Vec::with_capacity(200);
        for end in all.len() - 200..all.len() {
            let t0 = Instant::now();
            skeet_worker::live::decide_flat(&spec, &params, Timeframe::M1, &all[end - window..end])
                .map_err(|e| anyhow::anyhow!(e))?;
            lat.push(t0.elapsed());
        }
        lat.sort_unstable();
        let pct = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
        line(format!(
            "live bot decision over {window} bars kept: p50 {:.0} µs, p99 {:.0} µs",
            pct(0.5).as_secs_f64() * 1e6,
            pct(0.99).as_secs_f64() * 1e6,
        ));
    }
    Ok(())
}

/// Arguments of `skeet bench bot-events`.
#[derive(Debug, Args)]
pub(crate) struct BotEventsBenchArgs {
    /// Base URL of a running `skeet serve` with in-process workers (http:// only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Account to sign in with; the bot runs in its first workspace.
    #[arg(long)]
    email: String,
    /// Its password.
    #[arg(long, env = "SKEET_PASSWORD", hide_env_values = true)]
    password: String,
    /// Websocket clients watching the bot.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Replay speed, bars per second.
    #[arg(long, default_value_t = 20.0)]
    speed: f64,
    /// Bars paced at that speed.
    #[arg(long, default_value_t = 200)]
    bars: usize,
}

/// `skeet bench bot-events`: a paper bot on the replay venue publishes its events while
/// `clients` websocket clients watch `bot:{id}`; the latency of each event is from its
/// creation in the bot runtime (`at`, wall clock) to a client reading it — through the event
/// log, the server's bot-event watcher, the fan-out and the client's own scheduling.
fn run_bot_events(args: &BotEventsBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.clients > 0 && args.bars > 0,
        "--clients and --bars must be at least 1"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(bench_bot_events(args))
}

async fn bench_bot_events(args: &BotEventsBenchArgs) -> anyhow::Result<()> {
    let SignedIn {
        target,
        http,
        auth,
        ws,
    } = sign_in(&args.url, &args.email, &args.password).await?;
    let dataset = ensure_dataset(&http, &ws).await?;
    let body = serde_json::json!({
        "name": format!("bench {}", skeet_exchange::now_ms()),
        "run": {"strategy": "sma_cross", "dataset": dataset.id, "params": {"fast": 5, "slow": 20}},
        "speed": args.speed,
        "paced_bars": args.bars,
    });
    #[derive(Deserialize)]
    struct Created {
        id: String,
    }
    let bot: Created = http
        .json("POST", &format!("/api/workspaces/{ws}/bots"), Some(&body))
        .await?;
    let setup = Arc::new(ClientSetup {
        base: Instant::now(),
        addr: target.addr,
        ws_url: format!("ws://{}/api/ws", target.authority),
        auth,
        channel: format!("bot:{}", bot.id),
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, i64, i64)>();
    let mut tasks = JoinSet::new();
    for _ in 0..args.clients {
        let mut sock = open(&setup).await?;
        let tx = tx.clone();
        tasks.spawn(async move {
            while let Some(Ok(msg)) = sock.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
                    continue;
                };
                let read_at = skeet_exchange::now_ms();
                let d = &v["data"];
                if let Some(at) = d["data"]["at"].as_i64() {
                    let kind = d["kind"].as_str().unwrap_or_default().to_string();
                    let done = kind == "state" && d["data"]["state"] == "finished";
                    let _ = tx.send((kind, at, read_at - at));
                    if done {
                        break;
                    }
                }
            }
        });
    }
    drop(tx);
    line(format!(
        "bot-event benchmark against {}: {} clients watch a paper bot ({} bars at {} bars/s on '{}')",
        args.url, args.clients, args.bars, args.speed, dataset.name
    ));
    let _: serde_json::Value = http
        .json(
            "POST",
            &format!("/api/workspaces/{ws}/bots/{}/start", bot.id),
            None,
        )
        .await?;
    let limit = Duration::from_secs_f64(args.bars as f64 / args.speed + 60.0);
    let mut all = Vec::new();
    let mut trades = Vec::new();
    let mut history = Vec::new();
    // Events created before the first paced bar are the replayed history, published in one
    // batch: reported apart, they are not live events.
    let mut first_bar_at = i64::MAX;
    let mut seen = Vec::new();
    let collected = tokio::time::timeout(limit, async {
        while let Some((kind, at, ms)) = rx.recv().await {
            if kind == "bar" {
                first_bar_at = first_bar_at.min(at);
            }
            seen.push((kind, at, ms));
        }
    })
    .await;
    for (kind, at, ms) in seen {
        let d = Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0));
        if at < first_bar_at {
            history.push(d);
            continue;
        }
        if kind == "order" || kind == "fill" {
            trades.push(d);
        }
        all.push(d);
    }
    if collected.is_err() {
        line("note: the bot did not finish in time; reporting what arrived");
    }
    let show = |name: &str, v: Vec<Duration>| {
        let n = v.len();
        let s = stats(v);
        let f = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.1} ms"));
        line(format!(
            "{name:<16} {n:>7} deliveries  p50 {}  p90 {}  p99 {}  max {}",
            f(s.p50),
            f(s.p90),
            f(s.p99),
            f(s.max)
        ));
    };
    show("orders + fills", trades);
    show("all live events", all);
    show("history batch", history);
    line(
        "latency: from the event's creation in the bot runtime to a client reading it (event log, bot-event watcher, fan-out, client scheduling; all on this machine)",
    );
    let _ = http
        .call(
            "DELETE",
            &format!("/api/workspaces/{ws}/bots/{}", bot.id),
            None,
        )
        .await;
    Ok(())
}

//! Websocket streams that survive the network: one driver for every venue that reconnects with
//! jittered exponential backoff, sends heartbeats, treats a silent connection as dead after
//! [`StreamOptions::stale_after`], resubscribes, and after every gap asks the venue (REST) for
//! what it missed before delivering anything new.
//!
//! Invariants:
//! - A fill is delivered at most once per stream: fills are keyed by venue trade id, so one
//!   seen live and again in a resync is passed on once.
//! - After a reconnect, [`StreamEvent::Reconnected`] comes first, then the resync's events,
//!   then live events: a consumer never sees a new event before the missed ones.
//! - Dropping the [`EventStream`] stops the connection task.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::api::BoxFut;
use crate::error::{ErrorKind, ExchangeError};
use crate::types::StreamEvent;

/// Heartbeat, staleness and reconnect settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamOptions {
    /// Send a websocket ping this often.
    pub ping_every: Duration,
    /// Reconnect when nothing at all arrived for this long.
    pub stale_after: Duration,
    /// First reconnect delay; doubles per failed attempt (±50 % jitter).
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// How far before the disconnect a resync looks back (clock skew, in-flight fills).
    pub resync_margin: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            ping_every: Duration::from_secs(20),
            stale_after: Duration::from_secs(60),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            resync_margin: Duration::from_secs(5),
        }
    }
}

/// A running stream: events in order, or the error that ended it.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<Result<StreamEvent, ExchangeError>>,
    task: JoinHandle<()>,
}

impl EventStream {
    /// The next event; `None` once the stream has ended (after its final error).
    pub async fn next(&mut self) -> Option<Result<StreamEvent, ExchangeError>> {
        self.rx.recv().await
    }

    /// A stream fed by `rx` (for venues that produce events without a websocket, e.g. paper).
    pub fn from_channel(
        rx: mpsc::Receiver<Result<StreamEvent, ExchangeError>>,
        task: JoinHandle<()>,
    ) -> Self {
        Self { rx, task }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a venue supplies to the driver for one stream.
pub trait WsSession: Send + 'static {
    /// The venue's name.
    fn venue(&self) -> &'static str;

    /// The URL to connect to now (may first call REST: a listen key, a token).
    fn connect_url(&mut self) -> BoxFut<'_, String>;

    /// Messages to send once connected: subscriptions, authentication.
    fn on_open(&mut self) -> BoxFut<'_, Vec<String>>;

    /// Decodes one text message into events (none for acks and heartbeats). An error of kind
    /// [`ErrorKind::Auth`] ends the stream; any other drops the connection and reconnects.
    fn parse(&mut self, text: &str) -> Result<Vec<StreamEvent>, ExchangeError>;

    /// After a gap: the events missed since `since_ms` (REST). Fills already delivered are
    /// filtered out by the driver, so returning a superset is fine.
    fn resync(&mut self, since_ms: i64) -> BoxFut<'_, Vec<StreamEvent>>;

    /// A periodic keep-alive (e.g. Binance's listen-key refresh every 30 minutes), with an
    /// optional text message to send on the socket.
    fn keepalive(&mut self) -> Option<(Duration, BoxFut<'_, Option<String>>)> {
        None
    }
}

/// Starts the driver for `session`.
pub fn spawn(session: impl WsSession, opts: StreamOptions) -> EventStream {
    let (tx, rx) = mpsc::channel(1024);
    let task = tokio::spawn(run(session, opts, tx));
    EventStream { rx, task }
}

/// Remembers the last fills delivered (bounded).
struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    const CAP: usize = 10_000;

    fn first_time(&mut self, ev: &StreamEvent) -> bool {
        let StreamEvent::Fill(f) = ev else {
            return true;
        };
        let key = format!("{}:{}", f.symbol, f.trade_id);
        if !self.set.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > Self::CAP
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

type Tx = mpsc::Sender<Result<StreamEvent, ExchangeError>>;

async fn deliver(tx: &Tx, seen: &mut Seen, events: Vec<StreamEvent>) -> bool {
    for ev in events {
        if seen.first_time(&ev) && tx.send(Ok(ev)).await.is_err() {
            return false;
        }
    }
    true
}

/// The text of a text or binary frame (binary frames decoded as UTF-8, lossily).
fn frame_text(msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> String {
    match msg {
        Some(Ok(Message::Text(t))) => t.as_str().to_string(),
        Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    }
}

fn jittered(base: Duration) -> Duration {
    let mut b = [0u8; 2];
    let r = if getrandom::fill(&mut b).is_ok() {
        f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
    } else {
        0.5
    };
    base.mul_f64(0.5 + r)
}

async fn run(mut session: impl WsSession, opts: StreamOptions, tx: Tx) {
    let mut seen = Seen {
        set: HashSet::new(),
        order: VecDeque::new(),
    };
    let mut failures: u32 = 0;
    let mut down_since: Option<(Instant, i64)> = None;
    let venue = session.venue();
    loop {
        if failures > 0 {
            let base = opts
                .backoff_min
                .saturating_mul(1u32 << failures.min(16))
                .min(opts.backoff_max);
            tokio::time::sleep(jittered(base)).await;
        }
        if tx.is_closed() {
            return;
        }
        let url = match session.connect_url().await {
            Ok(u) => u,
            Err(e) if e.kind == ErrorKind::Auth => {
                let _ = tx.send(Err(e)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(venue, error = %e, "stream: cannot prepare the connection");
                failures += 1;
                continue;
            }
        };
        let ws = tokio::time::timeout(
            opts.stale_after,
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await;
        let mut ws = match ws {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                tracing::warn!(venue, error = %e, "stream: connect failed");
                failures += 1;
                continue;
            }
            Err(_) => {
                tracing::warn!(venue, "stream: connect timed out");
                failures += 1;
                continue;
            }
        };
        let opening = match session.on_open().await {
            Ok(m) => m,
            Err(e) if e.kind == ErrorKind::Auth => {
                let _ = tx.send(Err(e)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(venue, error = %e, "stream: cannot subscribe");
                failures += 1;
                continue;
            }
        };
        let mut opened = true;
        for m in opening {
            if ws.send(Message::text(m)).await.is_err() {
                opened = false;
                break;
            }
        }
        if !opened {
            failures += 1;
            continue;
        }
        failures = 0;
        if let Some((at, wall_ms)) = down_since.take() {
            let gap_ms = i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX);
            metrics::counter!("skeet_stream_reconnects_total", "venue" => venue).increment(1);
            if tx
                .send(Ok(StreamEvent::Reconnected { gap_ms }))
                .await
                .is_err()
            {
                return;
            }
            let margin = i64::try_from(opts.resync_margin.as_millis()).unwrap_or(0);
            match session.resync(wall_ms - margin).await {
                Ok(events) => {
                    if !deliver(&tx, &mut seen, events).await {
                        return;
                    }
                }
                Err(e) => {
                    // Without the resync a fill could be missed: try the whole cycle again.
                    tracing::warn!(venue, error = %e, "stream: resync failed; reconnecting");
                    down_since = Some((at, wall_ms));
                    failures += 1;
                    continue;
                }
            }
        }
        let mut ping = tokio::time::interval(opts.ping_every);
        ping.tick().await;
        let mut keep = session.keepalive().map(|(every, _)| every).map(|every| {
            let mut i = tokio::time::interval(every);
            i.reset();
            i
        });
        let mut last_seen = Instant::now();
        let ended = loop {
            let stale_at = last_seen + opts.stale_after;
            tokio::select! {
                msg = ws.next() => {
                    last_seen = Instant::now();
                    match msg {
                        // Some venues (Alpaca's paper trade updates) send JSON in binary
                        // frames: read them as text too, or their events would be lost.
                        Some(Ok(Message::Text(_) | Message::Binary(_))) => match session.parse(&frame_text(msg)) {
                            Ok(events) => {
                                if !deliver(&tx, &mut seen, events).await {
                                    return;
                                }
                            }
                            Err(e) if e.kind == ErrorKind::Auth => {
                                let _ = tx.send(Err(e)).await;
                                return;
                            }
                            Err(e) => {
                                tracing::warn!(venue, error = %e, "stream: bad message; reconnecting");
                                break false;
                            }
                        },
                        Some(Ok(Message::Ping(p))) => {
                            if ws.send(Message::Pong(p)).await.is_err() {
                                break false;
                            }
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break false,
                        Some(Ok(_)) => {}
                    }
                }
                _ = tokio::time::sleep_until(stale_at) => {
                    metrics::counter!("skeet_stream_stale_total", "venue" => venue).increment(1);
                    tracing::warn!(venue, "stream: no data for {:?}; reconnecting", opts.stale_after);
                    break false;
                }
                _ = ping.tick() => {
                    if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break false;
                    }
                }
                _ = async { match keep.as_mut() { Some(i) => { i.tick().await; } None => std::future::pending().await } } => {
                    if let Some((_, fut)) = session.keepalive() {
                        match fut.await {
                            Ok(Some(text)) => {
                                if ws.send(Message::text(text)).await.is_err() {
                                    break false;
                                }
                            }
                            Ok(None) => {}
                            Err(e) => tracing::warn!(venue, error = %e, "stream: keep-alive failed"),
                        }
                    }
                }
                () = tx.closed() => break true,
            }
        };
        if ended {
            return;
        }
        let _ = ws.close(None).await;
        down_since = Some((Instant::now(), crate::now_ms()));
        failures = 1;
    }
}

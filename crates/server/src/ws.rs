//! `/api/ws`: the realtime channel. Clients subscribe to `workspace:{id}` (every job of a
//! workspace, and its bots as their state and numbers change: `"event":"bot"` with the
//! bot), `job:{id}` (one job), `bot:{id}` (one bot's events) or `ticker:{venue}:{symbol}`,
//! and receive events as they happen.
//!
//! Protocol (JSON text frames):
//! - client → server: `{"op":"subscribe","channel":"workspace:ID"}`, `{"op":"unsubscribe",
//!   "channel":...}`, `{"op":"ping"}`.
//! - server → client: `{"type":"hello","user_id":...}` on connect; `{"type":"subscribed",
//!   "channel":...}`; `{"type":"event","channel":...,"event":"job","data":{...}}`;
//!   `{"type":"pong"}`; `{"type":"error","code":...,"message":...}` (the connection stays).
//!
//! Invariants:
//! - The upgrade is authenticated like any request (bearer token, or the session cookie
//!   from a page of the same origin: a cookie-authenticated upgrade from another origin is
//!   refused, so other sites cannot ride a user's session). Every subscription is checked
//!   against the caller's memberships; another workspace's channel answers `not_found`
//!   exactly like one that does not exist.
//! - Each client has a bounded queue ([`QUEUE`]). Publishing never waits: a client whose
//!   queue is full is dropped (closed with code 4000, "too slow") and nobody else is
//!   delayed. Clients reconnect and re-read state over HTTP.
//! - Events come from the jobs table itself ([`watch_jobs`] polls it by `updated_at`), so
//!   jobs run by `skeet worker` processes on other machines are pushed like local ones.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use skeet_store::jobs::{JobChange, Jobs};
use tokio::sync::mpsc;

use crate::{ApiError, AppState, Caller};

/// Messages a client may have waiting before it is dropped as too slow.
pub const QUEUE: usize = 256;

/// How long one frame may take to write before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code for a client dropped for not keeping up.
const CLOSE_TOO_SLOW: u16 = 4000;

struct Client {
    tx: mpsc::Sender<Utf8Bytes>,
    channels: HashSet<String>,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Client>,
    /// channel → subscribed client ids.
    index: HashMap<String, HashSet<u64>>,
}

/// Who is connected and what they subscribed to.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("clients", &self.clients())
            .finish()
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind: still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connected clients.
    pub fn clients(&self) -> usize {
        self.lock().clients.len()
    }

    fn join(&self, tx: mpsc::Sender<Utf8Bytes>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().clients.insert(
            id,
            Client {
                tx,
                channels: HashSet::new(),
            },
        );
        id
    }

    fn leave(&self, id: u64) {
        let mut g = self.lock();
        if let Some(c) = g.clients.remove(&id) {
            for ch in c.channels {
                if let Some(set) = g.index.get_mut(&ch) {
                    set.remove(&id);
                    if set.is_empty() {
                        g.index.remove(&ch);
                    }
                }
            }
        }
    }

    fn subscribe(&self, id: u64, channel: &str) {
        let mut g = self.lock();
        if let Some(c) = g.clients.get_mut(&id) {
            c.channels.insert(channel.to_string());
            g.index.entry(channel.to_string()).or_default().insert(id);
        }
    }

    fn unsubscribe(&self, id: u64, channel: &str) {
        let mut g = self.lock();
        if let Some(c) = g.clients.get_mut(&id) {
            c.channels.remove(channel);
        }
        if let Some(set) = g.index.get_mut(channel) {
            set.remove(&id);
            if set.is_empty() {
                g.index.remove(channel);
            }
        }
    }

    /// The channels someone subscribes to whose name starts with `prefix`.
    pub fn channels_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.lock()
            .index
            .keys()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// How many clients are subscribed to `channel`.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.lock().index.get(channel).map_or(0, HashSet::len)
    }

    /// Sends `text` to every subscriber of `channel` without waiting; subscribers whose
    /// queue is full are dropped. Returns how many got it.
    pub fn publish(&self, channel: &str, text: &Utf8Bytes) -> usize {
        let mut slow = Vec::new();
        let mut sent = 0;
        {
            let g = self.lock();
            let Some(ids) = g.index.get(channel) else {
                return 0;
            };
            for id in ids {
                if let Some(c) = g.clients.get(id) {
                    match c.tx.try_send(text.clone()) {
                        Ok(()) => sent += 1,
                        Err(_) => slow.push(*id),
                    }
                }
            }
        }
        for id in slow {
            // Dropping the sender ends the client's queue; its task then closes the socket.
            self.leave(id);
            metrics::counter!("skeet_ws_dropped_total").increment(1);
        }
        sent
    }
}

fn event_text(channel: &str, change: &JobChange) -> Utf8Bytes {
    serde_json::json!({"type": "event", "channel": channel, "event": "job", "data": change})
        .to_string()
        .into()
}

/// True (and remembered) when `change` was not published yet: it is newer than the last
/// change of its job, or stamped in the same millisecond but different.
fn fresh(seen: &mut HashMap<String, JobChange>, change: &JobChange) -> bool {
    let repeat = seen
        .get(&change.id)
        .is_some_and(|old| old.updated_at > change.updated_at || old == change);
    if !repeat {
        seen.insert(change.id.clone(), change.clone());
    }
    !repeat
}

/// Rows read per query by the job watcher.
const WATCH_PAGE: i64 = 2_000;

/// Polls the jobs table every `every` (and at once when `wake` is notified: a change made
/// by this process) and publishes each change on `workspace:{ws}` and `job:{id}`, until
/// `stop` turns true.
pub async fn watch_jobs(
    hub: Arc<Hub>,
    jobs: Jobs,
    every: Duration,
    wake: Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Writers stamp `updated_at` before they commit, so a change can become visible a little
    // after a later-stamped one. Each poll therefore looks back LOOKBACK_MS before the
    // newest change seen; `seen` (job id → the last change published) keeps repeats out,
    // while a different change stamped in the same millisecond still goes out.
    const LOOKBACK_MS: i64 = 2_000;
    let mut cursor = skeet_store::now_ms();
    let mut seen: HashMap<String, JobChange> = HashMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = wake.notified() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let mut since = cursor - LOOKBACK_MS;
        // Page through everything changed since `since`; a burst of more than a page cannot
        // stall the watcher on its oldest rows.
        loop {
            let changed = match jobs.changes_since(since, WATCH_PAGE).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "job watcher: poll failed");
                    break;
                }
            };
            for change in &changed {
                if !fresh(&mut seen, change) {
                    continue;
                }
                for channel in [
                    format!("workspace:{}", change.workspace_id),
                    format!("job:{}", change.id),
                ] {
                    hub.publish(&channel, &event_text(&channel, change));
                }
            }
            let Some(last) = changed.last().map(|c| c.updated_at) else {
                break;
            };
            cursor = cursor.max(last);
            if i64::try_from(changed.len()).unwrap_or(i64::MAX) < WATCH_PAGE {
                break;
            }
            // A full page: go on after it (one more millisecond if the whole page shared
            // one, which `seen` then cannot hold back).
            since = if last > since { last } else { since + 1 };
        }
        seen.retain(|_, c| c.updated_at >= cursor - LOOKBACK_MS);
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum ClientMessage {
    Subscribe { channel: String },
    Unsubscribe { channel: String },
    Ping,
}

fn error_text(code: &str, message: &str, channel: Option<&str>) -> String {
    serde_json::json!({"type": "error", "code": code, "message": message, "channel": channel})
        .to_string()
}

/// Same-origin check for cookie-authenticated upgrades: the Origin's host must be the Host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Non-browser clients send no Origin; browsers always do.
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

#[utoipa::path(get, path = "/api/ws", tag = "realtime",
    responses((status = 101, description = "Switching to the websocket protocol described in docs/server.md"), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn upgrade(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| {
        ApiError::bad_request(format!(
            "/api/ws speaks the websocket protocol only ({})",
            e.body_text()
        ))
    })?;
    let bearer = headers.contains_key(header::AUTHORIZATION);
    if !bearer && !same_origin(&headers) {
        return Err(ApiError::forbidden(
            "a websocket opened with the session cookie must come from this site's own pages",
        ));
    }
    // Clients send only small control messages: small buffers keep thousands of
    // connections cheap (the default read buffer is 128 KiB each).
    Ok(ws
        .max_message_size(64 * 1024)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| serve_client(s, caller, socket))
        .into_response())
}

/// Checks that `user` may see `channel`.
async fn allowed(s: &AppState, user_id: &str, channel: &str) -> Result<(), ApiError> {
    if crate::venues::ticker_channel(channel).is_some() {
        // Public market data: any signed-in user may watch it.
        return Ok(());
    }
    let workspace = if let Some(ws) = channel.strip_prefix("workspace:") {
        ws.to_string()
    } else if let Some(bot) = channel.strip_prefix("bot:") {
        s.bots
            .get_any(bot)
            .await
            .map_err(|_| ApiError::not_found("no such channel"))?
            .workspace_id
    } else if let Some(job) = channel.strip_prefix("job:") {
        s.jobs
            .get_any(job)
            .await
            .map_err(|_| ApiError::not_found("no such channel"))?
            .workspace_id
    } else {
        return Err(ApiError::bad_request(
            "channels are workspace:{id}, job:{id}, bot:{id} and ticker:{venue}:{BASE/QUOTE}",
        ));
    };
    match s.accounts.role(user_id, &workspace).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("no such channel")),
    }
}

/// Messages written with one flush at most.
const BATCH: usize = 64;

/// Writes `first` and what else is already queued (up to [`BATCH`]) with one flush: under a
/// burst (a bot's bar publishes several events; a thousand watchers get each), one write
/// and one wake-up per client instead of one per message. Messages stay separate frames.
async fn send_queued(
    socket: &mut WebSocket,
    first: Utf8Bytes,
    rx: &mut mpsc::Receiver<Utf8Bytes>,
) -> bool {
    use futures_util::SinkExt;
    let write = async {
        socket.feed(Message::Text(first)).await?;
        for _ in 1..BATCH {
            match rx.try_recv() {
                Ok(text) => socket.feed(Message::Text(text)).await?,
                Err(_) => break,
            }
        }
        socket.flush().await
    };
    matches!(tokio::time::timeout(SEND_TIMEOUT, write).await, Ok(Ok(())))
}

async fn send(socket: &mut WebSocket, text: Utf8Bytes) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text))).await,
        Ok(Ok(()))
    )
}

async fn serve_client(s: Arc<AppState>, caller: Caller, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    let id = s.hub.join(tx);
    let hello = serde_json::json!({"type": "hello", "user_id": caller.user.id}).to_string();
    if send(&mut socket, hello.into()).await {
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(text) => {
                        if !send_queued(&mut socket, text, &mut rx).await {
                            break;
                        }
                    }
                    None => {
                        // The hub dropped us: we fell too far behind.
                        let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(Some(CloseFrame {
                            code: CLOSE_TOO_SLOW,
                            reason: "too slow: events were dropped; reconnect and reload".into(),
                        })))).await;
                        return;
                    }
                },
                incoming = socket.recv() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                        Some(Ok(_)) => continue,
                    };
                    let reply = match serde_json::from_str::<ClientMessage>(&text) {
                        Ok(ClientMessage::Ping) => serde_json::json!({"type": "pong"}).to_string(),
                        Ok(ClientMessage::Subscribe { channel }) => {
                            match allowed(&s, &caller.user.id, &channel).await {
                                Ok(()) => {
                                    s.hub.subscribe(id, &channel);
                                    crate::venues::watch_ticker(&s, &channel);
                                    serde_json::json!({"type": "subscribed", "channel": channel}).to_string()
                                }
                                Err(e) => error_text(e.code, &e.message, Some(&channel)),
                            }
                        }
                        Ok(ClientMessage::Unsubscribe { channel }) => {
                            s.hub.unsubscribe(id, &channel);
                            serde_json::json!({"type": "unsubscribed", "channel": channel}).to_string()
                        }
                        Err(e) => error_text(
                            "bad_request",
                            &format!("{e}; send {{\"op\":\"subscribe\",\"channel\":\"workspace:ID\"}}, unsubscribe or ping"),
                            None,
                        ),
                    };
                    if !send(&mut socket, reply.into()).await {
                        break;
                    }
                }
            }
        }
    }
    s.hub.leave(id);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn a_client_that_falls_behind_is_dropped_and_the_others_get_everything() {
        let hub = Hub::default();
        let (fast_tx, mut fast_rx) = mpsc::channel(QUEUE);
        let (slow_tx, mut slow_rx) = mpsc::channel(QUEUE);
        let fast = hub.join(fast_tx);
        let slow = hub.join(slow_tx);
        hub.subscribe(fast, "workspace:a");
        hub.subscribe(slow, "workspace:a");
        let mut received = 0;
        for k in 0..QUEUE * 3 {
            let text: Utf8Bytes = format!("event {k}").into();
            let sent = hub.publish("workspace:a", &text);
            // The fast client reads as it goes; the slow one never does.
            while let Ok(m) = fast_rx.try_recv() {
                assert_eq!(m.as_str(), format!("event {received}"));
                received += 1;
            }
            if k < QUEUE {
                assert_eq!(sent, 2, "both queued event {k}");
            } else {
                assert_eq!(sent, 1, "only the fast client is left at event {k}");
            }
        }
        assert_eq!(received, QUEUE * 3, "the fast client lost nothing");
        assert_eq!(hub.clients(), 1, "the slow client was dropped");
        // The slow client's queue holds what it had, then ends: its task closes the socket.
        let mut backlog = 0;
        while slow_rx.try_recv().is_ok() {
            backlog += 1;
        }
        assert_eq!(backlog, QUEUE);
        assert!(matches!(
            slow_rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn the_watcher_publishes_each_change_once_even_within_one_millisecond() {
        let mut seen = HashMap::new();
        let mut c = JobChange {
            id: "j".into(),
            workspace_id: "w".into(),
            kind: "backtest".into(),
            state: skeet_store::jobs::JobState::Running,
            progress: 0.9,
            message: None,
            error: None,
            attempts: 1,
            created_at: 1,
            started_at: Some(2),
            finished_at: None,
            updated_at: 10,
        };
        assert!(fresh(&mut seen, &c));
        assert!(
            !fresh(&mut seen, &c),
            "the same row read again by the next poll"
        );
        // Finished in the same millisecond as the last heartbeat: still news.
        c.state = skeet_store::jobs::JobState::Succeeded;
        c.progress = 1.0;
        assert!(fresh(&mut seen, &c));
        assert!(!fresh(&mut seen, &c));
        let mut older = c.clone();
        older.updated_at = 9;
        older.state = skeet_store::jobs::JobState::Running;
        assert!(
            !fresh(&mut seen, &older),
            "an older row seen late is not replayed"
        );
    }

    #[test]
    fn events_reach_only_the_channels_subscribed() {
        let hub = Hub::default();
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let id = hub.join(tx);
        hub.subscribe(id, "workspace:a");
        assert_eq!(hub.publish("workspace:b", &"b".into()), 0);
        assert_eq!(hub.publish("workspace:a", &"a".into()), 1);
        assert_eq!(rx.try_recv().unwrap().as_str(), "a");
        hub.unsubscribe(id, "workspace:a");
        assert_eq!(hub.publish("workspace:a", &"a".into()), 0);
        hub.leave(id);
        assert_eq!(hub.clients(), 0);
    }

    #[test]
    fn cookie_upgrades_must_come_from_the_same_origin() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h), "no Origin: not a browser");
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(
            header::ORIGIN,
            "http://127.0.0.1:8080.evil.example".parse().unwrap(),
        );
        assert!(!same_origin(&h));
    }
}

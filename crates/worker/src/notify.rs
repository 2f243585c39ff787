//! Bot notifications: a signed JSON webhook and Telegram messages for the events a user picks
//! (fills, risk stops and refusals, errors, state changes, reconciliation mismatches).
//!
//! Invariants:
//! - Sending never holds up trading: events go into a bounded queue drained by their own
//!   task; when the queue is full, notifications are dropped (and counted), never the bot.
//! - Secrets (the webhook's signing key, the Telegram bot token) live in the vault as
//!   workspace credentials; the bot's settings only name them.
//! - Every webhook body is signed: `X-Skeet-Signature: sha256=<hex HMAC-SHA256 of
//!   "{timestamp}.{body}">` with `X-Skeet-Timestamp`, so receivers can check origin and
//!   freshness (the scheme Stripe's webhooks use).

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use skeet_store::bots::BotEvent;
use tokio::sync::mpsc;

/// Where and what to notify (a bot's `notify` setting).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// A URL that receives a signed JSON POST per event.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The credential whose secret signs webhook bodies (venue `webhook`).
    #[serde(default)]
    pub webhook_credential_id: Option<String>,
    /// The credential holding the Telegram bot token as its secret (venue `telegram`).
    #[serde(default)]
    pub telegram_credential_id: Option<String>,
    /// The Telegram chat to write to.
    #[serde(default)]
    pub telegram_chat_id: Option<String>,
    /// Event kinds to send (default: `fill`, `risk`, `mismatch`, and errors).
    #[serde(default)]
    pub events: Vec<String>,
}

impl NotifySettings {
    /// Checks the settings.
    ///
    /// # Errors
    /// What is wrong, in one sentence.
    pub fn check(&self) -> Result<(), String> {
        if let Some(u) = &self.webhook_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err("notify.webhook_url must be an http(s) URL".into());
        }
        if self.webhook_url.is_some() != self.webhook_credential_id.is_some() {
            return Err(
                "notify: give webhook_url and webhook_credential_id (the signing secret) together"
                    .into(),
            );
        }
        if self.telegram_chat_id.is_some() != self.telegram_credential_id.is_some() {
            return Err(
                "notify: give telegram_credential_id (the bot token) and telegram_chat_id together"
                    .into(),
            );
        }
        const KINDS: [&str; 9] = [
            "fill", "order", "risk", "mismatch", "state", "error", "equity", "summary", "settings",
        ];
        if let Some(k) = self.events.iter().find(|k| !KINDS.contains(&k.as_str())) {
            return Err(format!(
                "notify.events: '{k}' is not an event kind; use {}",
                KINDS.join(", ")
            ));
        }
        Ok(())
    }

    fn wants(&self, kind: &str) -> bool {
        if self.events.is_empty() {
            matches!(kind, "fill" | "risk" | "mismatch" | "error" | "summary")
        } else {
            self.events.iter().any(|k| k == kind)
        }
    }
}

/// The daily summary: at the first bar of each UTC day (market time), what the previous
/// day did. A runner feeds it every bar, also bars it replays silently after a takeover, so
/// a summary is neither lost nor sent twice across one.
#[derive(Debug, Default)]
pub(crate) struct Daily {
    day: Option<i64>,
    equity: f64,
    fills: u64,
    orders: u64,
}

impl Daily {
    /// Observes a bar at `ts_ms` with the bot's equity and counters after it; the summary
    /// of the day that just ended on the first bar of a new day.
    pub(crate) fn observe(
        &mut self,
        ts_ms: i64,
        equity: f64,
        fills: u64,
        orders: u64,
    ) -> Option<serde_json::Value> {
        const DAY_MS: i64 = 86_400_000;
        let today = ts_ms.div_euclid(DAY_MS);
        let ended = match self.day {
            Some(d) if d == today => return None,
            Some(d) => Some(d),
            None => None,
        };
        let start = std::mem::replace(
            self,
            Self {
                day: Some(today),
                equity,
                fills,
                orders,
            },
        );
        let d = ended?;
        let date = skeet_core::UnixNanos::from_millis(d * DAY_MS)
            .map(skeet_core::UnixNanos::to_rfc3339)
            .unwrap_or_default();
        let pnl = equity - start.equity;
        Some(serde_json::json!({
            "day": date.get(..10).unwrap_or(&date),
            "pnl": pnl,
            "pnl_pct": if start.equity > 0.0 { pnl / start.equity * 100.0 } else { 0.0 },
            "equity": equity,
            "fills": fills.saturating_sub(start.fills),
            "orders": orders.saturating_sub(start.orders),
        }))
    }
}

/// The signature header value for `body` sent at `ts` (seconds).
pub fn sign(secret: &[u8], ts: i64, body: &str) -> String {
    // HMAC takes keys of any length.
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(format!("{ts}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn unreachable_hmac() -> ! {
    panic!("invariant: HMAC accepts keys of any length")
}

/// A running notifier for one bot.
#[derive(Debug)]
pub struct Notifier {
    settings: NotifySettings,
    tx: mpsc::Sender<(String, BotEvent)>,
}

/// Where a notifier sends, with its secrets opened from the vault.
#[derive(Clone)]
pub struct Targets {
    /// Webhook URL and signing secret.
    pub webhook: Option<(String, zeroize::Zeroizing<String>)>,
    /// Telegram API root (`https://api.telegram.org`), bot token and chat id.
    pub telegram: Option<(String, zeroize::Zeroizing<String>, String)>,
}

impl Notifier {
    /// Starts the sending task for the bot `bot_name` (`bot_id`).
    pub fn start(
        settings: NotifySettings,
        targets: Targets,
        bot_id: String,
        bot_name: String,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(String, BotEvent)>(256);
        skeet_exchange::http::install_tls_provider();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            while let Some((kind, event)) = rx.recv().await {
                let body = serde_json::json!({
                    "bot_id": bot_id, "bot": bot_name, "kind": kind,
                    "seq": event.seq, "ts": event.ts, "data": event.data,
                })
                .to_string();
                if let Some((url, secret)) = &targets.webhook {
                    let ts = skeet_store::now_ms() / 1000;
                    let sig = sign(secret.as_bytes(), ts, &body);
                    send("webhook", || {
                        client
                            .post(url)
                            .header("content-type", "application/json")
                            .header("x-skeet-timestamp", ts.to_string())
                            .header("x-skeet-signature", sig.clone())
                            .body(body.clone())
                    })
                    .await;
                }
                if let Some((root, token, chat)) = &targets.telegram {
                    let text = format!("SKEET · {bot_name}: {kind} {}", event.data);
                    let url = format!(
                        "{}/bot{}/sendMessage",
                        root.trim_end_matches('/'),
                        token.as_str()
                    );
                    send("telegram", || {
                        client
                            .post(&url)
                            .json(&serde_json::json!({"chat_id": chat, "text": text}))
                    })
                    .await;
                }
            }
        });
        Self { settings, tx }
    }

    /// Queues the events the settings ask for (never waits).
    pub fn notify(&self, events: &[BotEvent]) {
        for e in events {
            let kind = if e.kind == "risk" && e.data["event"] == "killed" {
                "risk"
            } else {
                e.kind.as_str()
            };
            if self.settings.wants(kind) && self.tx.try_send((kind.to_string(), e.clone())).is_err()
            {
                metrics::counter!("skeet_bot_notifications_dropped_total").increment(1);
            }
        }
    }
}

async fn send(channel: &'static str, req: impl Fn() -> reqwest::RequestBuilder) {
    for attempt in 0..3u32 {
        match req().send().await {
            Ok(r) if r.status().is_success() => {
                metrics::counter!("skeet_bot_notifications_total", "channel" => channel, "outcome" => "sent").increment(1);
                return;
            }
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => break,
            _ => tokio::time::sleep(Duration::from_millis(500 << attempt)).await,
        }
    }
    metrics::counter!("skeet_bot_notifications_total", "channel" => channel, "outcome" => "failed")
        .increment(1);
    tracing::warn!(channel, "a bot notification could not be delivered");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_and_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec
        assert_eq!(
            sign(b"whsec", 1_700_000_000, r#"{"a":1}"#),
            "sha256=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032"
        );
    }

    #[test]
    fn a_daily_summary_comes_at_the_first_bar_of_each_new_day() {
        let day = 86_400_000;
        let t0 = 19_700 * day; // 2023-12-09
        let mut d = Daily::default();
        assert_eq!(
            d.observe(t0 + 3_600_000, 1000.0, 0, 0),
            None,
            "the first bar"
        );
        assert_eq!(d.observe(t0 + 7_200_000, 1010.0, 2, 1), None, "same day");
        let s = d
            .observe(t0 + day, 1050.0, 4, 2)
            .expect("a new day closes the previous one");
        assert_eq!(s["day"], "2023-12-09");
        assert_eq!(s["pnl"], 50.0);
        assert_eq!(s["pnl_pct"], 5.0);
        assert_eq!(
            (s["fills"].as_u64(), s["orders"].as_u64()),
            (Some(4), Some(2))
        );
        assert_eq!(d.observe(t0 + day + 60_000, 1040.0, 4, 2), None);
        // Skipping a day (a weekend) summarises from the last day seen.
        let s = d.observe(t0 + 3 * day, 1000.0, 5, 3).expect("summary");
        assert_eq!(s["day"], "2023-12-10");
        assert_eq!(s["pnl"], -50.0);
    }

    #[test]
    fn settings_are_checked_and_default_to_the_important_events() {
        let s = NotifySettings::default();
        assert!(s.wants("fill") && s.wants("risk") && !s.wants("equity"));
        let bad = NotifySettings {
            webhook_url: Some("ftp://x".into()),
            webhook_credential_id: Some("c".into()),
            ..NotifySettings::default()
        };
        assert!(bad.check().unwrap_err().contains("http"));
        let half = NotifySettings {
            telegram_chat_id: Some("1".into()),
            ..NotifySettings::default()
        };
        assert!(half.check().is_err());
        let kinds = NotifySettings {
            events: vec!["fills".into()],
            ..NotifySettings::default()
        };
        assert!(kinds.check().unwrap_err().contains("'fills'"));
    }
}

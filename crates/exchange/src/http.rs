//! The REST plumbing every adapter shares: one `reqwest` client per venue instance (rustls
//! with ring, no OpenSSL), every request drawn from the shared [`RateLimiter`] before it is
//! sent, transport failures classified as [`ErrorKind::Network`], and a venue's "back off"
//! applied to everyone sharing the bucket.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::error::{ErrorKind, ExchangeError};
use crate::limiter::RateLimiter;

/// A response as read: status, headers and the body text (venues put error codes in bodies).
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers (rate-limit counters, `Retry-After`).
    pub headers: HeaderMap,
    /// Body text.
    pub body: String,
}

impl Response {
    /// True for 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds, when present.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    }

    /// The body as JSON of type `T`.
    ///
    /// # Errors
    /// A protocol error quoting the start of the body.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        venue: &'static str,
    ) -> Result<T, ExchangeError> {
        serde_json::from_str(&self.body).map_err(|e| {
            let head: String = self.body.chars().take(200).collect();
            ExchangeError::protocol(
                venue,
                &format!("unexpected response ({e}); the body starts with: {head}"),
            )
        })
    }
}

/// A venue's REST client.
#[derive(Clone, Debug)]
pub struct Rest {
    venue: &'static str,
    client: reqwest::Client,
    /// Root URL without a trailing slash.
    pub base: String,
    limiter: RateLimiter,
}

/// Installs ring as rustls's process-wide crypto provider (once; harmless if another part of
/// the process already did).
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Rest {
    /// A client for `base` with a per-request `timeout`.
    ///
    /// # Errors
    /// When the TLS stack cannot start (no usable root certificates).
    pub fn new(
        venue: &'static str,
        base: &str,
        timeout: Duration,
        limiter: RateLimiter,
    ) -> Result<Self, ExchangeError> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("skeet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ExchangeError::network(venue, &format!("cannot start HTTP: {e}")))?;
        Ok(Self {
            venue,
            client,
            base: base.trim_end_matches('/').to_string(),
            limiter,
        })
    }

    /// The limiter this client draws from.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// A request builder for `method` on `path` (appended to the base URL).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
    }

    /// Waits for `weight` in every bucket of `buckets`, sends, and reads the whole body.
    ///
    /// # Errors
    /// [`ErrorKind::Network`] when the request failed in transit (it may have reached the
    /// venue). HTTP error statuses are returned as responses for the adapter to classify.
    pub async fn send(
        &self,
        req: reqwest::RequestBuilder,
        buckets: &[&str],
        weight: u32,
    ) -> Result<Response, ExchangeError> {
        self.limiter.acquire(buckets, weight).await;
        let started = tokio::time::Instant::now();
        let resp = req.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.map_err(|e| self.transport(&e))?;
        metrics::histogram!("skeet_exchange_request_seconds", "venue" => self.venue)
            .record(started.elapsed().as_secs_f64());
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn transport(&self, e: &reqwest::Error) -> ExchangeError {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "failed in transit"
        };
        // The URL is safe to show: secrets never travel in it (signatures do, but they are
        // single-use and bound to a timestamp).
        ExchangeError::network(self.venue, &format!("request {what}: {e}"))
    }

    /// Applies a classified error to the shared limiter: a rate-limit refusal blocks `bucket`
    /// for everyone until the venue's `Retry-After` (1 s when it gave none).
    pub fn note(&self, bucket: &str, e: &ExchangeError) {
        if e.kind == ErrorKind::RateLimited {
            self.limiter
                .back_off(bucket, e.retry_after.unwrap_or(Duration::from_secs(1)));
        }
    }
}

/// Calls `f` until it succeeds, a non-retryable error occurs, or `attempts` are used; waits
/// `retry_after` (or an exponential backoff) between attempts. Only for reads: orders go
/// through [`crate::api::submit`], which looks an order up before sending it again.
///
/// # Errors
/// The last error.
pub async fn retry_read<T, F, Fut>(attempts: u32, mut f: F) -> Result<T, ExchangeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ExchangeError>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.retryable() && attempt + 1 < attempts => {
                let backoff = Duration::from_millis(200u64 << attempt.min(6));
                tokio::time::sleep(
                    e.retry_after
                        .unwrap_or(backoff)
                        .min(Duration::from_secs(60)),
                )
                .await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

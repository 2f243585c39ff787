//! Operations: request ids, access logs, and Prometheus metrics.
//!
//! Every request gets an id (the caller's `X-Request-Id` when it is a sane token, otherwise
//! a fresh one), echoed in the response and attached to every log line written while the
//! request is handled. Latency is recorded per matched route (the route template, never the
//! raw path, so ids do not explode the label set).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls reuse it). Returns
/// `None` when another recorder was installed first.
pub fn install_recorder() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 300.0,
                ])
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map_or_else(|| crate::random_token()[..16].to_string(), str::to_string)
}

/// Request id, access log and HTTP metrics for every request.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut resp = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = resp.status();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    metrics::histogram!("skeet_http_request_duration_seconds", "method" => method.to_string(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    metrics::counter!("skeet_http_requests_total", "method" => method.to_string(), "route" => route, "status" => status.as_u16().to_string())
        .increment(1);
    let _enter = span.enter();
    let ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), ms, "request failed");
    } else if status.is_client_error() {
        tracing::info!(status = status.as_u16(), ms, "request refused");
    } else {
        tracing::debug!(status = status.as_u16(), ms, "request");
    }
    resp
}

/// `/metrics`: Prometheus text format. Gauges that mirror the database (jobs by kind and
/// state, pool use) and the websocket hub are read at scrape time.
pub(crate) async fn render(State(s): State<Arc<AppState>>) -> Response {
    let Some(handle) = install_recorder() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not available: another metrics recorder is installed",
        )
            .into_response();
    };
    if let Ok(counts) = s.jobs.counts().await {
        // Every known state is written (zero included) so a state that empties drops to 0
        // instead of keeping its last value.
        let kinds: std::collections::BTreeSet<String> =
            counts.iter().map(|(k, _, _)| k.clone()).collect();
        for kind in kinds {
            for state in skeet_store::jobs::JobState::ALL {
                let n = counts
                    .iter()
                    .find(|(k, st, _)| *k == kind && *st == state)
                    .map_or(0, |c| c.2);
                metrics::gauge!("skeet_jobs", "kind" => kind.clone(), "state" => state.as_str())
                    .set(n as f64);
            }
        }
    }
    if let Ok(counts) = s.bots.counts().await {
        // Every state for both modes, zero included (a state that empties drops to 0).
        for mode in ["paper", "live"] {
            for state in [
                "stopped", "starting", "running", "paused", "finished", "killed", "error",
            ] {
                let n = counts
                    .iter()
                    .find(|(st, m, _)| st == state && m == mode)
                    .map_or(0, |c| c.2);
                metrics::gauge!("skeet_bots", "mode" => mode, "state" => state).set(n as f64);
            }
        }
    }
    let (size, idle) = s.db.pool_usage();
    metrics::gauge!("skeet_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("skeet_db_pool_connections", "state" => "busy")
        .set(f64::from(size).max(idle as f64) - idle as f64);
    metrics::gauge!("skeet_ws_clients").set(s.hub.clients() as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

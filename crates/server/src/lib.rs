//! # skeet-server
//!
//! SKEET's HTTP API on the shared store: sign-up, sign-in and sessions, the caller's
//! workspaces, jobs, health and readiness. `skeet serve` mounts [`router`].
//!
//! Invariants:
//! - Every error is JSON `{code, message}` with a status that says what the caller can do
//!   ([`ApiError`]); nothing answers with a bare status or an HTML page.
//! - A resource of a workspace the caller is not a member of answers 404, exactly like one
//!   that does not exist, so workspace ids do not leak.
//! - Browser sessions ride in an HttpOnly, SameSite=Lax cookie (Secure behind TLS); any
//!   state-changing request authenticated by that cookie must echo the session's CSRF token
//!   in `X-CSRF-Token`. Bearer tokens (sessions or API tokens) need no CSRF token.
//! - Tokens and passwords never reach a log or a stored row in clear.

mod auth;
mod error;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use skeet_store::Db;
use skeet_store::accounts::Accounts;
use skeet_store::jobs::{JobState, Jobs};

pub use auth::{Caller, hash_password, random_token};
pub use error::{ApiError, ApiJson, ApiQuery};

/// Checks a job payload before it is queued; the error says what is wrong. The binary
/// injects the workers' own validation (the server does not depend on the workers).
pub type Validator = Arc<dyn Fn(&serde_json::Value) -> Result<(), String> + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Accounts repository.
    pub accounts: Accounts,
    /// Jobs repository.
    pub jobs: Jobs,
    /// Mark cookies `Secure` (serving behind TLS).
    pub secure_cookies: bool,
    /// Validation of backtest requests.
    pub validate_backtest: Validator,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `db`.
    pub fn new(db: Db, secure_cookies: bool, validate_backtest: Validator) -> Arc<Self> {
        Arc::new(Self {
            accounts: Accounts::new(db.clone()),
            jobs: Jobs::new(db.clone()),
            db,
            secure_cookies,
            validate_backtest,
        })
    }
}

/// The whole HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/auth/signup", post(auth::signup))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/workspaces/{ws}/jobs", get(list_jobs))
        .route("/api/workspaces/{ws}/jobs/{id}", get(get_job))
        .route("/api/workspaces/{ws}/jobs/{id}/cancel", post(cancel_job))
        .route("/api/workspaces/{ws}/backtests", post(submit_backtest))
        .route("/api/workspaces/{ws}/backtests/{id}", get(get_backtest))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .with_state(state)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            16 * 1024 * 1024,
        ))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(security_header("x-frame-options", "DENY"))
        .layer(security_header("referrer-policy", "no-referrer"))
        .layer(security_header(
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'; object-src 'none'",
        ))
}

/// Sets a security header on every response (unless a handler set it). No CORS layer is
/// installed: browsers refuse cross-origin API calls by default, which is what we want.
fn security_header(
    name: &'static str,
    value: &'static str,
) -> tower_http::set_header::SetResponseHeaderLayer<axum::http::HeaderValue> {
    tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        axum::http::HeaderName::from_static(name),
        axum::http::HeaderValue::from_static(value),
    )
}

async fn healthz() -> impl IntoResponse {
    "ok"
}

async fn readyz(State(s): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    match s.db.migrations_applied().await {
        Ok(true) => Ok(axum::Json(
            serde_json::json!({"database": "ok", "migrations": "applied"}),
        )),
        Ok(false) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "database migrations are not applied; run `skeet migrate`",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("database unreachable: {e}"),
        )),
    }
}

/// Pagination and filters of job lists.
#[derive(Debug, Deserialize)]
struct ListJobs {
    state: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list_jobs(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<ListJobs>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(name) => Some(
            JobState::ALL
                .into_iter()
                .find(|st| st.as_str() == name)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "state '{name}' is not a job state; use queued, running, succeeded, failed or cancelled"
                    ))
                })?,
        ),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be from 1 to 500"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request("offset must not be negative"));
    }
    let jobs = s.jobs.list(&ws, state, limit, offset).await?;
    Ok(axum::Json(
        serde_json::json!({ "items": jobs, "limit": limit, "offset": offset }),
    ))
}

async fn get_job(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.jobs.get(&ws, &id).await?))
}

async fn cancel_job(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let role = caller.role_in(&s, &ws).await?;
    if !role.can_write() {
        return Err(ApiError::forbidden("viewers cannot cancel jobs"));
    }
    Ok(axum::Json(s.jobs.cancel(&ws, &id).await?))
}

async fn submit_backtest(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<impl IntoResponse, ApiError> {
    let role = caller.role_in(&s, &ws).await?;
    if !role.can_write() {
        return Err(ApiError::forbidden(
            "viewers cannot run backtests; ask an owner for the analyst role",
        ));
    }
    let validate = s.validate_backtest.clone();
    let checked = body.clone();
    // Validation reads the stored bars: off the async threads.
    tokio::task::spawn_blocking(move || validate(&checked))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ApiError::bad_request)?;
    let job = s
        .jobs
        .enqueue(&ws, "backtest", &body, 3, Some(&caller.user.id))
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

async fn get_backtest(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    let job = s.jobs.get(&ws, &id).await?;
    if job.kind != "backtest" {
        return Err(ApiError::not_found("no such backtest"));
    }
    Ok(axum::Json(job))
}

//! # skeet-server
//!
//! SKEET's HTTP API and websocket on the shared store: accounts, sessions and API tokens;
//! workspaces, members and invitations; datasets, strategies, backtests and optimisations
//! (as jobs); the realtime channel; OpenAPI; health, readiness and Prometheus metrics.
//! `skeet serve` mounts [`router`].
//!
//! Invariants:
//! - Every error is JSON `{code, message}` with a status that says what the caller can do
//!   ([`ApiError`]); nothing answers with a bare status or an HTML page.
//! - A resource of a workspace the caller is not a member of answers 404, exactly like one
//!   that does not exist, so workspace ids do not leak. Viewers cannot write; only owners
//!   manage members; API tokens are limited to their scopes (checked in [`Caller`]).
//! - Browser sessions ride in an HttpOnly, SameSite=Lax cookie (Secure behind TLS); any
//!   state-changing request authenticated by that cookie must echo the session's CSRF token
//!   in `X-CSRF-Token`. Bearer tokens (sessions or API tokens) need no CSRF token.
//! - Tokens and passwords never reach a log or a stored row in clear.
//! - The OpenAPI document is generated from the handlers ([`openapi`]); the committed copy
//!   in `docs/openapi.json` is compared with it by a test.

// utoipa's path macro writes the IntoParams types of `params(...)` with full paths.
#![allow(unused_qualifications)]

mod auth;
pub mod bots;
mod credentials;
mod datasets;
mod error;
mod jobs;
mod metrics_layer;
mod strategies;
mod totp;
mod ui;
pub mod venues;
mod workspaces;
mod ws;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use skeet_store::Db;
use skeet_store::accounts::Accounts;
use skeet_store::datasets::Datasets;
use skeet_store::jobs::Jobs;
use skeet_store::strategies::Strategies;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{Caller, SCOPES, hash_password, random_token};
pub use error::{ApiError, ApiJson, ApiQuery, ErrorBody};
pub use metrics_layer::install_recorder;
pub use ws::{Hub, watch_jobs};

/// Checks a job payload of a kind (`backtest`, `optimize`) against the workspace's data
/// directory before it is queued; the error says what is wrong. The binary injects the
/// workers' own validation (the server does not depend on the workers).
pub type Validator =
    Arc<dyn Fn(&str, &std::path::Path, &serde_json::Value) -> Result<(), String> + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Accounts repository.
    pub accounts: Accounts,
    /// Jobs repository.
    pub jobs: Jobs,
    /// Datasets repository.
    pub datasets: Datasets,
    /// Strategies repository.
    pub strategies: Strategies,
    /// Exchange credentials, sealed.
    pub vault: skeet_store::vault::Vault,
    /// Bots repository.
    pub bots: skeet_store::bots::Bots,
    /// Where venues are reached (operator overrides) and the live tickers running.
    pub venues: venues::VenueSettings,
    /// Websocket clients and their subscriptions.
    pub hub: Arc<Hub>,
    /// The data directory (workspace market stores under `workspaces/`).
    pub data_dir: PathBuf,
    /// Mark cookies `Secure` (serving behind TLS).
    pub secure_cookies: bool,
    /// The built dashboard (`frontend/dist`), served for every non-API GET; `None` serves
    /// the API only.
    pub ui_dir: Option<PathBuf>,
    /// Validation of job payloads.
    pub validate: Validator,
    /// Notified after every job this process queues, so idle in-process workers start it
    /// at once instead of at their next poll.
    pub job_queued: Arc<tokio::sync::Notify>,
    /// Notified after this process changes a job (queued, cancelled, or by its in-process
    /// workers), so the websocket's job watcher reads the change at once instead of at its
    /// next poll.
    pub job_changed: Arc<tokio::sync::Notify>,
    /// Notified after this process's bots publish events, so the bot-event watcher pushes
    /// them at once instead of at its next poll.
    pub bot_changed: Arc<tokio::sync::Notify>,
    /// The operator's limits per workspace (the plan every workspace is on until billing
    /// assigns plans).
    pub plan: PlanLimits,
}

/// The operator's choices for a server.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The built dashboard to serve (`None`: the API only).
    pub ui_dir: Option<PathBuf>,
    /// Mark cookies `Secure`.
    pub secure_cookies: bool,
    /// Venue endpoint overrides.
    pub venues: venues::VenueSettings,
    /// Plan limits.
    pub plan: PlanLimits,
}

/// Limits per workspace set by the operator; `None` = unlimited (self-hosting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanLimits {
    /// Live bots running (or asked to run) at once.
    pub live_bots: Option<usize>,
    /// Paper bots running (or asked to run) at once.
    pub paper_bots: Option<usize>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `db` with files under `data_dir`, set up as `options` say.
    pub fn new(
        db: Db,
        data_dir: PathBuf,
        validate: Validator,
        master_keys: skeet_store::vault::MasterKeys,
        options: Options,
    ) -> Arc<Self> {
        let Options {
            ui_dir,
            secure_cookies,
            venues,
            plan,
        } = options;
        Arc::new(Self {
            accounts: Accounts::new(db.clone()),
            jobs: Jobs::new(db.clone()),
            datasets: Datasets::new(db.clone()),
            strategies: Strategies::new(db.clone()),
            vault: skeet_store::vault::Vault::new(db.clone(), master_keys),
            bots: skeet_store::bots::Bots::new(db.clone()),
            venues,
            hub: Arc::new(Hub::default()),
            db,
            data_dir,
            secure_cookies,
            ui_dir,
            validate,
            job_queued: Arc::new(tokio::sync::Notify::new()),
            job_changed: Arc::new(tokio::sync::Notify::new()),
            bot_changed: Arc::new(tokio::sync::Notify::new()),
            plan,
        })
    }

    /// Generates a dataset into a workspace (the demo workspace on first start).
    ///
    /// # Errors
    /// Bad settings or a failed write.
    pub async fn generate_dataset(
        &self,
        workspace_id: &str,
        settings: serde_json::Value,
    ) -> Result<skeet_store::datasets::Dataset, ApiError> {
        let body = serde_json::from_value(settings)
            .map_err(|e| ApiError::bad_request(format!("dataset settings: {e}")))?;
        let dir = datasets::workspace_dir(self, workspace_id)?;
        datasets::generate_into(self, workspace_id, dir, body).await
    }
}

/// The current 6-digit TOTP code of a base32 secret at `unix_seconds` (what an
/// authenticator app shows), for API clients and tests; `None` for a malformed secret.
pub fn totp_code(secret_base32: &str, unix_seconds: i64) -> Option<String> {
    let key = totp::unbase32(secret_base32)?;
    Some(format!("{:06}", totp::code_at(&key, unix_seconds)))
}

/// Runs `f` on the blocking pool (file and CPU work), turning a panic into a 500.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        ApiError::internal()
    })?
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SKEET API",
        description = "Accounts, workspaces, datasets, strategies, backtests and optimisations of the SKEET trading platform. Errors are always `{code, message}`. Authenticate with `Authorization: Bearer <session or API token>`, or the `skeet_session` cookie plus `X-CSRF-Token` on writes.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecurityAddon),
    security(("bearer" = []), ("cookie" = [])),
    tags(
        (name = "auth", description = "Sign-up, sign-in, sessions, passwords and API tokens"),
        (name = "workspaces", description = "Workspaces, members and invitations"),
        (name = "datasets", description = "Market data of a workspace"),
        (name = "credentials", description = "Exchange credentials (sealed; never returned)"),
        (name = "strategies", description = "Strategy specs with versions, validation, templates"),
        (name = "backtests", description = "Backtests (jobs) and their reports"),
        (name = "optimizations", description = "Parameter searches (jobs)"),
        (name = "jobs", description = "Every job of a workspace"),
        (name = "realtime", description = "The websocket"),
        (name = "operations", description = "Health, readiness"),
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

fn api() -> OpenApiRouter<Arc<AppState>> {
    let main = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::totp_setup))
        .routes(routes!(auth::totp_enable))
        .routes(routes!(auth::totp_disable))
        .routes(routes!(auth::create_token, auth::list_tokens))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(workspaces::create))
        .routes(routes!(workspaces::members))
        .routes(routes!(workspaces::set_role, workspaces::remove_member))
        .routes(routes!(workspaces::invite, workspaces::invitations))
        .routes(routes!(workspaces::revoke_invitation))
        .routes(routes!(workspaces::accept))
        .routes(routes!(credentials::list, credentials::create))
        .routes(routes!(credentials::delete))
        .routes(routes!(venues::test_credential))
        .routes(routes!(venues::balances))
        .routes(routes!(venues::open_orders))
        .routes(routes!(venues::list))
        .routes(routes!(venues::markets))
        .routes(routes!(venues::ticker))
        .routes(routes!(venues::download))
        .routes(routes!(bots::create, bots::list))
        .routes(routes!(bots::get, bots::delete, bots::update))
        .routes(routes!(bots::start))
        .routes(routes!(bots::pause))
        .routes(routes!(bots::stop))
        .routes(routes!(bots::flatten))
        .routes(routes!(bots::stop_all))
        .routes(routes!(bots::events))
        .routes(routes!(bots::divergence))
        .routes(routes!(bots::journal))
        .routes(routes!(datasets::list))
        .routes(routes!(datasets::get, datasets::delete))
        .routes(routes!(datasets::generate_dataset))
        .routes(routes!(datasets::candles))
        .routes(routes!(strategies::validate))
        .routes(routes!(strategies::list_templates))
        .routes(routes!(strategies::list, strategies::create))
        .routes(routes!(
            strategies::get,
            strategies::save,
            strategies::delete
        ))
        .routes(routes!(strategies::versions))
        .routes(routes!(strategies::version))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::submit_backtest, jobs::list_backtests))
        .routes(routes!(jobs::get_backtest))
        .routes(routes!(jobs::backtest_trades))
        .routes(routes!(jobs::backtest_equity))
        .routes(routes!(jobs::backtest_metrics))
        .routes(routes!(jobs::submit_optimization, jobs::list_optimizations))
        .routes(routes!(jobs::get_optimization))
        .routes(routes!(jobs::submit_walkforward, jobs::list_walkforwards))
        .routes(routes!(jobs::get_walkforward))
        .routes(routes!(ws::upgrade))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT));
    // CSV uploads may be much larger than any JSON body.
    let upload = OpenApiRouter::new()
        .routes(routes!(datasets::upload))
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT));
    main.merge(upload)
}

/// The OpenAPI 3.1 document of the API, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// Largest request body, except CSV uploads.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Largest CSV upload.
const UPLOAD_LIMIT: usize = 256 * 1024 * 1024;

/// The whole HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    let (api_router, doc) = api().split_for_parts();
    let swagger = utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/openapi.json", doc);
    let metrics_route = Router::new().route("/metrics", axum::routing::get(metrics_layer::render));
    Router::new()
        .merge(api_router)
        .merge(metrics_route)
        .fallback(
            |State(s): State<Arc<AppState>>, method: axum::http::Method, uri: axum::http::Uri| async move {
                ui::serve(s.ui_dir.clone(), method, uri).await
            },
        )
        .with_state(state)
        .merge(swagger)
        .layer(axum::middleware::from_fn(metrics_layer::track))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(security_header("x-frame-options", "DENY"))
        .layer(security_header("referrer-policy", "no-referrer"))
        .layer(security_header(
            "content-security-policy",
            // Swagger UI (served from this origin) needs inline styles and scripts.
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; object-src 'none'",
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

/// Liveness.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Health {
    status: String,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, body = Health, description = "The process is up")))]
async fn healthz() -> impl IntoResponse {
    axum::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Ready {
    database: String,
    migrations: String,
}

#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, body = Ready), (status = 503, body = ErrorBody)))]
async fn readyz(State(s): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    match s.db.migrations_applied().await {
        Ok(true) => Ok(axum::Json(Ready {
            database: "ok".into(),
            migrations: "applied".into(),
        })),
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

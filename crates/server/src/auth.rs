//! Sign-up, sign-in, sessions and the [`Caller`] extractor.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use skeet_store::StoreError;
use skeet_store::accounts::{Role, User};

use crate::error::ApiJson;
use crate::{ApiError, AppState};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "skeet_session";

/// Session lifetime: 14 days.
const SESSION_TTL_MS: i64 = 14 * 24 * 3600 * 1000;

/// A fresh random token: 256 bits from the OS, hex.
///
/// # Panics
/// Never in practice: only if the operating system has no random source at all, where no
/// secure token can be made.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("invariant: the OS random source is available");
    hex::encode(bytes)
}

/// Argon2id hash (PHC string) of a password, with a random salt.
///
/// # Errors
/// Only if hashing itself fails (never for ordinary input).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("hashing failed: {e}"),
            )
        })
}

fn password_matches(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// The authenticated user of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who.
    pub user: User,
    /// The bearer or cookie token that authenticated the request.
    token: String,
}

impl Caller {
    /// The caller's role in `workspace_id`; a workspace they are not in is 404.
    ///
    /// # Errors
    /// 404 for a non-member; storage errors.
    pub async fn role_in(&self, s: &AppState, workspace_id: &str) -> Result<Role, ApiError> {
        s.accounts
            .role(&self.user.id, workspace_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such workspace"))
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        if let Some(token) = bearer {
            if let Ok((user, _)) = s.accounts.session(&token).await {
                return Ok(Self { user, token });
            }
            return match s.accounts.api_token(&token).await {
                Ok((user, _scopes)) => Ok(Self { user, token }),
                Err(StoreError::NotFound) => Err(ApiError::unauthorized(
                    "the bearer token is unknown, expired or revoked; sign in again",
                )),
                Err(e) => Err(e.into()),
            };
        }
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "sign in first: send the session cookie or an Authorization: Bearer token",
            ));
        };
        let (user, csrf) = match s.accounts.session(&token).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => {
                return Err(ApiError::unauthorized(
                    "the session has expired; sign in again",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        // Cookies are sent by the browser on its own, so a state change must prove it comes
        // from our page: the CSRF token is readable only by it.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if sent != Some(csrf.as_str()) {
                return Err(ApiError::forbidden(
                    "missing or wrong X-CSRF-Token header (cookie sessions must send the csrf_token from sign-in)",
                ));
            }
        }
        Ok(Self { user, token })
    }
}

/// Sign-up and sign-in body.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    email: String,
    password: String,
}

fn check_credentials(c: &Credentials) -> Result<(), ApiError> {
    let email = c.email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(ApiError::bad_request(format!(
            "email '{email}' is not an email address (name@example.com)"
        )));
    }
    if c.password.chars().count() < 10 {
        return Err(ApiError::bad_request(
            "password must be at least 10 characters",
        ));
    }
    if c.password.len() > 1024 {
        return Err(ApiError::bad_request("password must be at most 1024 bytes"));
    }
    Ok(())
}

pub(crate) async fn signup(
    State(s): State<Arc<AppState>>,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    check_credentials(&c)?;
    let hash = hash_password(&c.password)?;
    let (user, workspace) = s.accounts.create_user(&c.email, &hash, false).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "user": user, "workspace_id": workspace })),
    ))
}

/// Failed sign-ins allowed per account, and per client address, within [`THROTTLE_WINDOW_MS`].
const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
const MAX_FAILURES_PER_IP: i64 = 50;
/// The window in which failures count, and how long a lock-out lasts: 15 minutes.
const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

pub(crate) async fn login(
    State(s): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let wrong = || ApiError::unauthorized("wrong email or password");
    let account_key = format!("email:{}", skeet_store::accounts::normalise_email(&c.email));
    let ip_key = format!("ip:{}", peer.ip());
    for key in [&account_key, &ip_key] {
        if let Some(ms) = s.accounts.throttled(key).await? {
            // Checked before the password, so a locked account gives nothing away.
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!(
                    "too many failed sign-ins; try again in {} minute(s)",
                    (ms + 59_999) / 60_000
                ),
            ));
        }
    }
    let failed = |s: Arc<AppState>| async move {
        s.accounts
            .record_failure(
                &account_key,
                MAX_FAILURES_PER_ACCOUNT,
                THROTTLE_WINDOW_MS,
                THROTTLE_WINDOW_MS,
            )
            .await?;
        s.accounts
            .record_failure(
                &ip_key,
                MAX_FAILURES_PER_IP,
                THROTTLE_WINDOW_MS,
                THROTTLE_WINDOW_MS,
            )
            .await?;
        Ok::<_, ApiError>(())
    };
    let (user, hash) = match s.accounts.find_by_email(&c.email).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => {
            // Spend the same time as a real check so response times do not reveal which
            // emails have accounts.
            let _ = password_matches(&c.password, &DUMMY_HASH);
            failed(s.clone()).await?;
            return Err(wrong());
        }
        Err(e) => return Err(e.into()),
    };
    if !password_matches(&c.password, &hash) {
        failed(s.clone()).await?;
        return Err(wrong());
    }
    s.accounts
        .clear_failures(&format!("email:{}", user.email))
        .await?;
    let token = random_token();
    let csrf = random_token();
    s.accounts
        .create_session(&user.id, &token, &csrf, SESSION_TTL_MS)
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_TTL_MS / 1000,
        if s.secure_cookies { "; Secure" } else { "" }
    );
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((
        headers,
        Json(serde_json::json!({ "token": token, "csrf_token": csrf, "user": user })),
    ))
}

/// A hash of a random password with the real parameters, checked when the email is
/// unknown.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&random_token()).unwrap_or_default());

pub(crate) async fn logout(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    s.accounts.delete_session(&caller.token).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_static("skeet_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok((StatusCode::NO_CONTENT, headers))
}

pub(crate) async fn me(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let workspaces = s.accounts.memberships(&caller.user.id).await?;
    Ok(Json(
        serde_json::json!({ "user": caller.user, "workspaces": workspaces }),
    ))
}

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

/// Scopes an API token may carry.
pub const SCOPES: [&str; 3] = ["read", "write", "trade"];

/// The authenticated user of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who.
    pub user: User,
    /// The bearer or cookie token that authenticated the request.
    token: String,
    /// The API token's scopes; `None` for a signed-in session (everything the roles allow).
    scopes: Option<Vec<String>>,
    /// The role in the workspace named by the request path, read with the session (saves a
    /// query on every workspace request): `(workspace id, role or None for a non-member)`.
    path_role: Option<(String, Option<Role>)>,
}

impl Caller {
    /// The caller's role in `workspace_id`; a workspace they are not in is 404.
    ///
    /// # Errors
    /// 404 for a non-member; storage errors.
    pub async fn role_in(&self, s: &AppState, workspace_id: &str) -> Result<Role, ApiError> {
        let role = match &self.path_role {
            Some((ws, role)) if ws == workspace_id => *role,
            _ => s.accounts.role(&self.user.id, workspace_id).await?,
        };
        role.ok_or_else(|| ApiError::not_found("no such workspace"))
    }

    /// The caller's role, which must allow writing research resources (not a viewer);
    /// `what` completes "viewers cannot ...".
    ///
    /// # Errors
    /// 404 for a non-member; 403 for a viewer.
    pub async fn writer_in(
        &self,
        s: &AppState,
        workspace_id: &str,
        what: &str,
    ) -> Result<Role, ApiError> {
        let role = self.role_in(s, workspace_id).await?;
        if !role.can_write() {
            return Err(ApiError::forbidden(format!(
                "viewers cannot {what}; ask an owner of the workspace for the analyst role"
            )));
        }
        Ok(role)
    }

    /// The caller must own the workspace; `what` completes "only owners can ...".
    ///
    /// # Errors
    /// 404 for a non-member; 403 for anyone but an owner.
    pub async fn owner_in(
        &self,
        s: &AppState,
        workspace_id: &str,
        what: &str,
    ) -> Result<Role, ApiError> {
        let role = self.role_in(s, workspace_id).await?;
        if !role.can_manage() {
            return Err(ApiError::forbidden(format!("only owners can {what}")));
        }
        Ok(role)
    }

    /// Refuses API tokens: managing tokens and passwords needs a signed-in session.
    ///
    /// # Errors
    /// 403 for an API token.
    pub fn require_session(&self) -> Result<(), ApiError> {
        if self.scopes.is_some() {
            return Err(ApiError::forbidden(
                "API tokens cannot manage tokens, passwords or two-factor settings; sign in",
            ));
        }
        Ok(())
    }
}

/// API tokens: GET needs `read` (or `write`), anything else `write`. Checked for every
/// request in the extractor, so no handler can forget it.
fn scope_allows(scopes: &[String], method: &Method) -> Result<(), ApiError> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe && (has("read") || has("write")) || !safe && has("write") {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "this API token lacks the '{}' scope; create a token with it",
        if safe { "read" } else { "write" }
    )))
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

/// The workspace id of a `/api/workspaces/{ws}/...` path.
fn path_workspace(parts: &Parts) -> Option<String> {
    let rest = parts.uri.path().strip_prefix("/api/workspaces/")?;
    let ws = rest.split('/').next()?;
    (!ws.is_empty()).then(|| ws.to_string())
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Self, ApiError> {
        let ws = path_workspace(parts);
        let with_role = |role: Option<Role>| ws.clone().map(|w| (w, role));
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        if let Some(token) = bearer {
            if let Ok((user, _, role)) = s.accounts.session_in(&token, ws.as_deref()).await {
                return Ok(Self {
                    user,
                    token,
                    scopes: None,
                    path_role: with_role(role),
                });
            }
            return match s.accounts.api_token_in(&token, ws.as_deref()).await {
                Ok((user, scopes, role)) => {
                    scope_allows(&scopes, &parts.method)?;
                    Ok(Self {
                        user,
                        token,
                        scopes: Some(scopes),
                        path_role: with_role(role),
                    })
                }
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
        let (user, csrf, role) = match s.accounts.session_in(&token, ws.as_deref()).await {
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
        Ok(Self {
            user,
            token,
            scopes: None,
            path_role: with_role(role),
        })
    }
}

/// Sign-up and sign-in body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Credentials {
    /// Email address.
    email: String,
    /// Password, at least 10 characters.
    password: String,
    /// The 6-digit code of the user's authenticator app, when two-factor sign-in is on.
    #[serde(default)]
    totp: Option<String>,
}

/// A signed-up user and their personal workspace.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct SignedUp {
    user: User,
    workspace_id: String,
}

/// A new session.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Session {
    /// Bearer token (also set as the HttpOnly `skeet_session` cookie).
    token: String,
    /// Send in `X-CSRF-Token` with every state-changing request that uses the cookie.
    csrf_token: String,
    user: User,
}

/// Who is signed in, and their workspaces.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Me {
    user: User,
    workspaces: Vec<skeet_store::accounts::Membership>,
    /// Two-factor sign-in is on.
    totp_enabled: bool,
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

#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = Credentials, security(()),
    responses((status = 201, body = SignedUp), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn signup(
    State(s): State<Arc<AppState>>,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    check_credentials(&c)?;
    let hash = hash_password(&c.password)?;
    let (user, workspace) = s.accounts.create_user(&c.email, &hash, false).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignedUp {
            user,
            workspace_id: workspace,
        }),
    ))
}

/// Failed sign-ins allowed per account, and per client address, within [`THROTTLE_WINDOW_MS`].
const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
const MAX_FAILURES_PER_IP: i64 = 50;
/// The window in which failures count, and how long a lock-out lasts: 15 minutes.
const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Credentials, security(()),
    responses((status = 200, body = Session), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
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
    if let Some(secret) = s.accounts.totp_secret(&user.id).await?
        && !secret.starts_with(PENDING)
    {
        let Some(code) = c.totp.as_deref() else {
            // Not a failure: the password was right and the app must now ask for the code.
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp_required",
                "two-factor sign-in is on: send the 6-digit code of your authenticator app as totp",
            ));
        };
        let key = crate::totp::unbase32(&secret).unwrap_or_default();
        if !crate::totp::verify(&key, code, unix_seconds()) {
            failed(s.clone()).await?;
            return Err(ApiError::unauthorized("wrong two-factor code"));
        }
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
        Json(Session {
            token,
            csrf_token: csrf,
            user,
        }),
    ))
}

/// A hash of a random password with the real parameters, checked when the email is
/// unknown.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&random_token()).unwrap_or_default());

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out; the session token no longer works"), (status = 401, body = crate::error::ErrorBody)))]
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

#[utoipa::path(get, path = "/api/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn me(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let workspaces = s.accounts.memberships(&caller.user.id).await?;
    let totp_enabled = s
        .accounts
        .totp_secret(&caller.user.id)
        .await?
        .is_some_and(|t| !t.starts_with(PENDING));
    Ok(Json(Me {
        user: caller.user,
        workspaces,
        totp_enabled,
    }))
}

/// Marks a TOTP secret that was shown but not confirmed yet.
const PENDING: &str = "pending:";

fn unix_seconds() -> i64 {
    skeet_store::now_ms() / 1000
}

/// A new TOTP secret to put into an authenticator app.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TotpSetup {
    /// Base32 secret (type it in, or use the URI).
    secret: String,
    /// `otpauth://` URI (render as a QR code).
    otpauth_uri: String,
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotpCode {
    /// The 6-digit code.
    code: String,
}

#[utoipa::path(post, path = "/api/auth/totp/setup", tag = "auth",
    responses((status = 200, body = TotpSetup, description = "A new secret; confirm it with /api/auth/totp/enable"), (status = 401, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn totp_setup(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    if s.accounts
        .totp_secret(&caller.user.id)
        .await?
        .is_some_and(|t| !t.starts_with(PENDING))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "two-factor sign-in is already on; turn it off first to change the secret",
        ));
    }
    let mut key = [0u8; 20];
    getrandom::fill(&mut key).map_err(|_| ApiError::internal())?;
    let secret = crate::totp::base32(&key);
    s.accounts
        .set_totp_secret(&caller.user.id, Some(&format!("{PENDING}{secret}")))
        .await?;
    Ok(Json(TotpSetup {
        otpauth_uri: format!(
            "otpauth://totp/SKEET:{}?secret={secret}&issuer=SKEET&algorithm=SHA1&digits=6&period=30",
            caller.user.email
        ),
        secret,
    }))
}

#[utoipa::path(post, path = "/api/auth/totp/enable", tag = "auth", request_body = TotpCode,
    responses((status = 204, description = "On: sign-in now asks for a code"), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn totp_enable(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<TotpCode>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    let Some(secret) = s
        .accounts
        .totp_secret(&caller.user.id)
        .await?
        .and_then(|t| t.strip_prefix(PENDING).map(str::to_string))
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "no secret is waiting for confirmation; call /api/auth/totp/setup first",
        ));
    };
    let key = crate::totp::unbase32(&secret).unwrap_or_default();
    if !crate::totp::verify(&key, &b.code, unix_seconds()) {
        return Err(ApiError::bad_request(
            "wrong code; check the authenticator app's clock and enter the current code",
        ));
    }
    s.accounts
        .set_totp_secret(&caller.user.id, Some(&secret))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/auth/totp/disable", tag = "auth", request_body = TotpCode,
    responses((status = 204, description = "Off"), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn totp_disable(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<TotpCode>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    let Some(secret) = s
        .accounts
        .totp_secret(&caller.user.id)
        .await?
        .filter(|t| !t.starts_with(PENDING))
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "two-factor sign-in is not on",
        ));
    };
    let key = crate::totp::unbase32(&secret).unwrap_or_default();
    if !crate::totp::verify(&key, &b.code, unix_seconds()) {
        return Err(ApiError::bad_request("wrong code"));
    }
    s.accounts.set_totp_secret(&caller.user.id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    /// The current password.
    current_password: String,
    /// The new one, at least 10 characters.
    new_password: String,
}

#[utoipa::path(post, path = "/api/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204, description = "Changed; every session of the user ends, sign in again"), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn change_password(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<PasswordChange>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    check_credentials(&Credentials {
        email: caller.user.email.clone(),
        password: b.new_password.clone(),
        totp: None,
    })?;
    let (_, hash) = s.accounts.find_by_email(&caller.user.email).await?;
    if !password_matches(&b.current_password, &hash) {
        return Err(ApiError::unauthorized("the current password is wrong"));
    }
    s.accounts
        .set_password(&caller.user.id, &hash_password(&b.new_password)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new API token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    /// A name to recognise it by (1 to 100 characters).
    name: String,
    /// Scopes: `read` (GET requests), `write` (everything a session may do except managing
    /// tokens and passwords), `trade` (live trading, with a role that allows it).
    scopes: Vec<String>,
}

/// A token, shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedToken {
    /// Id (for revoking).
    id: String,
    /// The token: send as `Authorization: Bearer ...`. It is not stored and cannot be shown
    /// again.
    token: String,
    name: String,
    scopes: Vec<String>,
}

#[utoipa::path(post, path = "/api/tokens", tag = "auth", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn create_token(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<NewToken>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    if b.scopes.is_empty() {
        return Err(ApiError::bad_request(
            "give at least one scope: read, write or trade",
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for sc in &b.scopes {
        if !SCOPES.contains(&sc.as_str()) {
            return Err(ApiError::bad_request(format!(
                "scope '{sc}' is not known; use read, write or trade"
            )));
        }
        if !scopes.contains(sc) {
            scopes.push(sc.clone());
        }
    }
    let token = format!("skt_{}", random_token());
    let refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let id = s
        .accounts
        .create_api_token(&caller.user.id, &name, &token, &refs)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            token,
            name,
            scopes,
        }),
    ))
}

#[utoipa::path(get, path = "/api/tokens", tag = "auth",
    responses((status = 200, body = [skeet_store::accounts::ApiTokenInfo]), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn list_tokens(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    Ok(Json(s.accounts.api_tokens(&caller.user.id).await?))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "auth",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn revoke_token(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    s.accounts.revoke_api_token(&caller.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

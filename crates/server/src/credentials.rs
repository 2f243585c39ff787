//! Exchange credentials of a workspace: added by owners, used (by the workers) for trading,
//! never shown again. The API accepts a secret once and answers with the masked API key
//! only; the secret is sealed in the vault ([`skeet_store::vault`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use skeet_store::vault::{Credential, CredentialSecret};
use utoipa::ToSchema;
use zeroize::Zeroize;

use crate::error::{ApiJson, ErrorBody};
use crate::{ApiError, AppState, Caller};

/// A credential to store. The secret fields are write-only.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCredential {
    /// Venue: `binance`, `kraken`, `coinbase`, `alpaca` (lowercase letters, digits, `-`, `_`).
    venue: String,
    /// A name, unique in the workspace (1 to 100 characters).
    label: String,
    /// API key.
    api_key: String,
    /// API secret (or private key).
    api_secret: String,
    /// Passphrase, for venues that use one.
    #[serde(default)]
    passphrase: Option<String>,
}

impl Drop for NewCredential {
    fn drop(&mut self) {
        self.api_key.zeroize();
        self.api_secret.zeroize();
        if let Some(p) = &mut self.passphrase {
            p.zeroize();
        }
    }
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("venue", &self.venue)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/credentials", tag = "credentials",
    params(("ws" = String, Path, description = "Workspace id")),
    responses((status = 200, body = [Credential], description = "Masked: secrets are never returned"), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.vault.list(&ws).await?))
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/credentials", tag = "credentials",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = NewCredential,
    responses((status = 201, body = Credential, description = "Stored; the answer shows the masked API key only"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(b): ApiJson<NewCredential>,
) -> Result<impl IntoResponse, ApiError> {
    caller.owner_in(&s, &ws, "add exchange credentials").await?;
    let venue_ok = !b.venue.is_empty()
        && b.venue.len() <= 32
        && b.venue
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !venue_ok {
        return Err(ApiError::bad_request(
            "venue must be a venue name in lowercase (binance, kraken, coinbase, alpaca)",
        ));
    }
    let label = b.label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ApiError::bad_request("label must be 1 to 100 characters"));
    }
    for (field, v) in [("api_key", &b.api_key), ("api_secret", &b.api_secret)] {
        if v.trim().is_empty() || v.len() > 8192 {
            return Err(ApiError::bad_request(format!(
                "{field} must be 1 to 8192 characters"
            )));
        }
    }
    let secret = CredentialSecret {
        api_key: b.api_key.clone(),
        api_secret: b.api_secret.clone(),
        passphrase: b.passphrase.clone(),
    };
    let stored = s
        .vault
        .put(&ws, &b.venue, label, &secret, &caller.user.id)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(stored)))
}

#[utoipa::path(delete, path = "/api/workspaces/{ws}/credentials/{id}", tag = "credentials",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Credential id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller
        .owner_in(&s, &ws, "remove exchange credentials")
        .await?;
    s.vault.delete(&ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Workspaces, members and invitations.
//!
//! Invariants:
//! - Only owners manage members and invitations; any member may list members (to see who
//!   they work with). Every workspace keeps at least one owner (the store refuses the last
//!   owner's demotion or removal).
//! - An invitation is a one-use token link; only its hash is stored, the token is shown to
//!   the owner once. Accepting needs a signed-in account.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use skeet_store::accounts::{Invitation, Member, Role};
use utoipa::ToSchema;

use crate::error::{ApiJson, ErrorBody};
use crate::{ApiError, AppState, Caller, random_token};

/// Longest an invitation may stay valid: 30 days.
const MAX_INVITE_HOURS: i64 = 30 * 24;

/// A new shared workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWorkspace {
    /// Name (1 to 100 characters).
    name: String,
}

/// A created workspace.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedWorkspace {
    workspace_id: String,
    name: String,
    role: Role,
}

#[utoipa::path(post, path = "/api/workspaces", tag = "workspaces", request_body = NewWorkspace,
    responses((status = 201, body = CreatedWorkspace), (status = 400, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<NewWorkspace>,
) -> Result<impl IntoResponse, ApiError> {
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    let id = s.accounts.create_workspace(&caller.user.id, &name).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedWorkspace {
            workspace_id: id,
            name,
            role: Role::Owner,
        }),
    ))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/members", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace id")),
    responses((status = 200, body = [Member]), (status = 404, body = ErrorBody)))]
pub(crate) async fn members(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.accounts.members(&ws).await?))
}

/// A role to give.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    /// owner, trader, analyst or viewer.
    role: String,
}

fn parse_role(name: &str) -> Result<Role, ApiError> {
    Role::parse(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role '{name}' is not known; use owner, trader, analyst or viewer"
        ))
    })
}

#[utoipa::path(put, path = "/api/workspaces/{ws}/members/{user_id}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace id"), ("user_id" = String, Path, description = "Member's user id")),
    request_body = RoleBody,
    responses((status = 200, body = [Member], description = "The members after the change"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn set_role(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, user_id)): Path<(String, String)>,
    ApiJson(b): ApiJson<RoleBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.owner_in(&s, &ws, "change roles").await?;
    let role = parse_role(&b.role)?;
    // Only existing members: adding people goes through invitations, which they accept.
    if s.accounts.role(&user_id, &ws).await?.is_none() {
        return Err(ApiError::not_found(
            "no such member; invite them with /invitations",
        ));
    }
    s.accounts.set_role(&ws, &user_id, role).await?;
    Ok(axum::Json(s.accounts.members(&ws).await?))
}

#[utoipa::path(delete, path = "/api/workspaces/{ws}/members/{user_id}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace id"), ("user_id" = String, Path, description = "Member's user id")),
    responses((status = 204, description = "Removed (members may remove themselves)"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn remove_member(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, user_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    if user_id == caller.user.id {
        caller.role_in(&s, &ws).await?;
    } else {
        caller.owner_in(&s, &ws, "remove members").await?;
    }
    s.accounts.remove_member(&ws, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvitation {
    /// Role the invitee gets: owner, trader, analyst or viewer.
    role: String,
    /// Hours the link stays valid (default 168 = 7 days, at most 720).
    #[serde(default)]
    expires_in_hours: Option<i64>,
}

/// A new invitation: the token and link are shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedInvitation {
    invitation: Invitation,
    /// The one-use token.
    token: String,
    /// Path to give the invitee (the dashboard accepts it after sign-in).
    link: String,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/invitations", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = NewInvitation,
    responses((status = 201, body = CreatedInvitation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn invite(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(b): ApiJson<NewInvitation>,
) -> Result<impl IntoResponse, ApiError> {
    caller.owner_in(&s, &ws, "invite members").await?;
    let role = parse_role(&b.role)?;
    let hours = b.expires_in_hours.unwrap_or(7 * 24);
    if !(1..=MAX_INVITE_HOURS).contains(&hours) {
        return Err(ApiError::bad_request(format!(
            "expires_in_hours must be from 1 to {MAX_INVITE_HOURS}"
        )));
    }
    let token = random_token();
    let invitation = s
        .accounts
        .create_invitation(&ws, role, &token, &caller.user.id, hours * 3_600_000)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedInvitation {
            invitation,
            link: format!("/invite/{token}"),
            token,
        }),
    ))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/invitations", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace id")),
    responses((status = 200, body = [Invitation]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn invitations(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.owner_in(&s, &ws, "see invitations").await?;
    Ok(axum::Json(s.accounts.invitations(&ws).await?))
}

#[utoipa::path(delete, path = "/api/workspaces/{ws}/invitations/{id}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Invitation id")),
    responses((status = 204, description = "Withdrawn"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_invitation(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.owner_in(&s, &ws, "withdraw invitations").await?;
    s.accounts.revoke_invitation(&ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace joined.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Joined {
    workspace_id: String,
    role: Role,
}

#[utoipa::path(post, path = "/api/invitations/{token}/accept", tag = "workspaces",
    params(("token" = String, Path, description = "The invitation token")),
    responses((status = 200, body = Joined), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn accept(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(token): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let inv = s
        .accounts
        .accept_invitation(&token, &caller.user.id)
        .await
        .map_err(|e| match e {
            skeet_store::StoreError::NotFound => {
                ApiError::not_found("no such invitation; check the link")
            }
            other => other.into(),
        })?;
    let role = s
        .accounts
        .role(&caller.user.id, &inv.workspace_id)
        .await?
        .unwrap_or(inv.role);
    Ok(axum::Json(Joined {
        workspace_id: inv.workspace_id,
        role,
    }))
}

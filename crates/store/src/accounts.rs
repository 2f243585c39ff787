//! Users, workspaces, memberships with roles, browser sessions and API tokens.
//!
//! Invariants:
//! - Emails are stored trimmed and lower-cased, so sign-in is case-insensitive and one
//!   address is one account.
//! - Secrets are never stored: session and API tokens are random 256-bit values handed to
//!   the caller once; the database keeps their SHA-256 ([`token_hash`]). Password hashes
//!   come in already hashed (argon2id, by the server).
//! - Every workspace has at least one owner: creating one makes its creator the owner.
//! - A lookup by workspace returns nothing for a user who is not a member: callers turn
//!   that into 404, never 403, so other workspaces' existence does not leak.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, StoreError, new_id, now_ms};

/// A role in a workspace, from most to least powerful.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including members, billing and exchange credentials.
    Owner,
    /// An analyst who may also run live bots.
    Trader,
    /// Strategies, datasets, backtests, optimisations, models, paper bots.
    Analyst,
    /// Read-only.
    Viewer,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Trader => "trader",
            Self::Analyst => "analyst",
            Self::Viewer => "viewer",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => Self::Owner,
            "trader" => Self::Trader,
            "analyst" => Self::Analyst,
            "viewer" => Self::Viewer,
            _ => return None,
        })
    }

    /// May create and change research resources (strategies, datasets, backtests).
    pub fn can_write(self) -> bool {
        self != Self::Viewer
    }

    /// May run live bots.
    pub fn can_trade_live(self) -> bool {
        matches!(self, Self::Owner | Self::Trader)
    }

    /// May manage members, invitations and credentials.
    pub fn can_manage(self) -> bool {
        self == Self::Owner
    }

    /// Power, for comparisons: owner 3, trader 2, analyst 1, viewer 0.
    pub fn rank(self) -> u8 {
        match self {
            Self::Owner => 3,
            Self::Trader => 2,
            Self::Analyst => 1,
            Self::Viewer => 0,
        }
    }
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: String,
    /// Email, lower case.
    pub email: String,
    /// Platform operator.
    pub is_admin: bool,
    /// Created (ms).
    pub created_at: i64,
}

/// A workspace as one of its members sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Membership {
    /// Workspace id.
    pub workspace_id: String,
    /// Workspace name.
    pub name: String,
    /// The member's role.
    pub role: Role,
    /// The member's personal workspace.
    pub personal: bool,
}

/// A member of a workspace, as its members see them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    /// User id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Joined (ms).
    pub joined_at: i64,
}

/// An invitation link's record (the token is only shown once, when it is made).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Id: the SHA-256 of the token.
    pub id: String,
    /// Workspace joined.
    pub workspace_id: String,
    /// Role given.
    pub role: Role,
    /// Who made it.
    pub created_by: String,
    /// Made (ms).
    pub created_at: i64,
    /// Usable until (ms).
    pub expires_at: i64,
    /// Who used it.
    pub accepted_by: Option<String>,
    /// When (ms).
    pub accepted_at: Option<i64>,
}

/// An API token as its owner sees it (never the token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiTokenInfo {
    /// Id.
    pub id: String,
    /// Name given.
    pub name: String,
    /// Scopes: `read`, `write`, `trade`.
    pub scopes: Vec<String>,
    /// Made (ms).
    pub created_at: i64,
    /// Last used (ms, to the minute).
    pub last_used_at: Option<i64>,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
}

fn invitation_of(row: &AnyRow) -> Result<Invitation, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Invitation {
        id: row.try_get("token_hash")?,
        workspace_id: row.try_get("workspace_id")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        accepted_by: row.try_get("accepted_by")?,
        accepted_at: row.try_get("accepted_at")?,
    })
}

/// SHA-256 of a token, hex: what the database stores instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Normalises an email for storage and lookup.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn flag(row: &AnyRow, name: &str) -> Result<bool, StoreError> {
    Ok(crate::int_column(row, name)? != 0)
}

fn user_of(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        is_admin: flag(row, "is_admin")?,
        created_at: row.try_get("created_at")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The accounts repository.
#[derive(Clone, Debug)]
pub struct Accounts {
    db: Db,
}

impl Accounts {
    /// On `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a user with a personal workspace (named after the email) that they own.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the email is taken; a database error.
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<(User, String), StoreError> {
        let email = normalise_email(email);
        let id = new_id();
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&email)
        .bind(password_hash)
        .bind(i32::from(is_admin))
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(if is_unique_violation(&e) {
                StoreError::Conflict(format!("an account with the email {email} already exists"))
            } else {
                e.into()
            });
        }
        let ws = new_id();
        sqlx::query(
            "INSERT INTO workspaces (id, name, personal, created_at) VALUES ($1, $2, 1, $3)",
        )
        .bind(&ws)
        .bind(&email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
        )
        .bind(&ws)
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            User {
                id,
                email,
                is_admin,
                created_at: now,
            },
            ws,
        ))
    }

    /// A user and their password hash, by email.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn find_by_email(&self, email: &str) -> Result<(User, String), StoreError> {
        let row = sqlx::query(
            "SELECT id, email, is_admin, created_at, password_hash FROM users WHERE email = $1",
        )
        .bind(normalise_email(email))
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok((user_of(&row)?, row.try_get("password_hash")?))
    }

    /// Number of user accounts (0 on a fresh database).
    ///
    /// # Errors
    /// A database error.
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.db.pool())
            .await?)
    }

    /// A user by id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn user(&self, id: &str) -> Result<User, StoreError> {
        let row = sqlx::query("SELECT id, email, is_admin, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        user_of(&row)
    }

    /// Replaces a user's password hash and ends all their sessions.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a shared workspace owned by `owner`.
    ///
    /// # Errors
    /// A database error.
    pub async fn create_workspace(&self, owner: &str, name: &str) -> Result<String, StoreError> {
        let id = new_id();
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO workspaces (id, name, personal, created_at) VALUES ($1, $2, 0, $3)",
        )
        .bind(&id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
        )
        .bind(&id)
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The workspaces a user belongs to, personal first.
    ///
    /// # Errors
    /// A database error.
    pub async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, w.personal, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
             WHERE m.user_id = $1 ORDER BY w.personal DESC, w.created_at, w.id",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Membership {
                    workspace_id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                    personal: flag(r, "personal")?,
                })
            })
            .collect()
    }

    /// The user's role in a workspace; `None` for a non-member (answer 404).
    ///
    /// # Errors
    /// A database error.
    pub async fn role(
        &self,
        user_id: &str,
        workspace_id: &str,
    ) -> Result<Option<Role>, StoreError> {
        let row =
            sqlx::query("SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2")
                .bind(user_id)
                .bind(workspace_id)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(match row {
            Some(r) => Role::parse(&r.try_get::<String, _>("role")?),
            None => None,
        })
    }

    /// Adds a member or changes their role. Demoting the last owner is refused.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for the last owner; a database error.
    pub async fn set_role(
        &self,
        workspace_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if current.as_deref() == Some("owner") && role != Role::Owner {
            let owners: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
            )
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
            if owners <= 1 {
                return Err(StoreError::Conflict(
                    "a workspace needs an owner: make another member owner first".into(),
                ));
            }
        }
        if current.is_some() {
            sqlx::query(
                "UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3",
            )
            .bind(role.as_str())
            .bind(workspace_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(workspace_id)
            .bind(user_id)
            .bind(role.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Milliseconds until `key` may try to sign in again, when it is locked out.
    ///
    /// # Errors
    /// A database error.
    pub async fn throttled(&self, key: &str) -> Result<Option<i64>, StoreError> {
        let until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until FROM login_attempts WHERE throttle_key = $1")
                .bind(key)
                .fetch_optional(self.db.pool())
                .await?;
        let now = now_ms();
        Ok(until.filter(|&u| u > now).map(|u| u - now))
    }

    /// Counts a failed sign-in for `key`; the `max_failures`-th within `window_ms` locks the
    /// key out for `lock_ms`. One statement, so concurrent failures are all counted.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_failure(
        &self,
        key: &str,
        max_failures: i64,
        window_ms: i64,
        lock_ms: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO login_attempts (throttle_key, failures, window_start, locked_until)
             VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $5 ELSE 0 END)
             ON CONFLICT (throttle_key) DO UPDATE SET
               failures = CASE WHEN login_attempts.window_start < $3 THEN 1 ELSE login_attempts.failures + 1 END,
               window_start = CASE WHEN login_attempts.window_start < $3 THEN $2 ELSE login_attempts.window_start END,
               locked_until = CASE
                 WHEN (CASE WHEN login_attempts.window_start < $3 THEN 1 ELSE login_attempts.failures + 1 END) >= $4 THEN $5
                 ELSE login_attempts.locked_until END",
        )
        .bind(key)
        .bind(now)
        .bind(now - window_ms)
        .bind(max_failures)
        .bind(now + lock_ms)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Forgets the failures of `key` (after a successful sign-in).
    ///
    /// # Errors
    /// A database error.
    pub async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_attempts WHERE throttle_key = $1")
            .bind(key)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Stores a session for `token` (the caller made it and keeps it); returns its CSRF token.
    ///
    /// # Errors
    /// A database error.
    pub async fn create_session(
        &self,
        user_id: &str,
        token: &str,
        csrf: &str,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(token))
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The user and CSRF token of a live session.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or expired session; a database error.
    pub async fn session(&self, token: &str) -> Result<(User, String), StoreError> {
        self.session_in(token, None)
            .await
            .map(|(user, csrf, _)| (user, csrf))
    }

    /// [`Accounts::session`], also reading the user's role in `workspace_id` in the same
    /// query (one round trip for the common case of a request on a workspace's resource).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or expired session; a database error.
    pub async fn session_in(
        &self,
        token: &str,
        workspace_id: Option<&str>,
    ) -> Result<(User, String, Option<Role>), StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.is_admin, u.created_at, s.csrf_token, m.role
             FROM sessions s JOIN users u ON u.id = s.user_id
             LEFT JOIN memberships m ON m.user_id = u.id AND m.workspace_id = $3
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .bind(workspace_id.unwrap_or(""))
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        let role: Option<String> = row.try_get("role")?;
        Ok((
            user_of(&row)?,
            row.try_get("csrf_token")?,
            role.as_deref().and_then(Role::parse),
        ))
    }

    /// Ends a session.
    ///
    /// # Errors
    /// A database error.
    pub async fn delete_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Stores an API token with scopes; returns its id.
    ///
    /// # Errors
    /// A database error.
    pub async fn create_api_token(
        &self,
        user_id: &str,
        name: &str,
        token: &str,
        scopes: &[&str],
    ) -> Result<String, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, user_id, name, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(token_hash(token))
        .bind(user_id)
        .bind(name)
        .bind(scopes.join(" "))
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(id)
    }

    /// The user and scopes of a live (not revoked) API token.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn api_token(&self, token: &str) -> Result<(User, Vec<String>), StoreError> {
        self.api_token_in(token, None)
            .await
            .map(|(user, scopes, _)| (user, scopes))
    }

    /// [`Accounts::api_token`], also reading the user's role in `workspace_id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn api_token_in(
        &self,
        token: &str,
        workspace_id: Option<&str>,
    ) -> Result<(User, Vec<String>, Option<Role>), StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.is_admin, u.created_at, t.scopes, t.last_used_at, m.role
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             LEFT JOIN memberships m ON m.user_id = u.id AND m.workspace_id = $2
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(token_hash(token))
        .bind(workspace_id.unwrap_or(""))
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        let scopes: String = row.try_get("scopes")?;
        let role: Option<String> = row.try_get("role")?;
        // "Last used" is kept to the minute, so the write happens once a minute per token,
        // not on every authenticated read.
        let last_used: Option<i64> = row.try_get("last_used_at")?;
        if last_used.is_none_or(|t| t < now_ms() - 60_000) {
            self.touch_api_token(token).await?;
        }
        Ok((
            user_of(&row)?,
            scopes.split_whitespace().map(String::from).collect(),
            role.as_deref().and_then(Role::parse),
        ))
    }

    /// Revokes one of the user's API tokens.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the user has no such live token; a database error.
    pub async fn revoke_api_token(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .bind(user_id)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The user's API tokens (live and revoked), newest first; the tokens themselves are
    /// not stored and cannot be listed.
    ///
    /// # Errors
    /// A database error.
    pub async fn api_tokens(&self, user_id: &str) -> Result<Vec<ApiTokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, scopes, created_at, last_used_at, revoked_at FROM api_tokens
             WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let scopes: String = r.try_get("scopes")?;
                Ok(ApiTokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    scopes: scopes.split_whitespace().map(String::from).collect(),
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Members of a workspace with their roles, owners first.
    ///
    /// # Errors
    /// A database error.
    pub async fn members(&self, workspace_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.workspace_id = $1 ORDER BY m.created_at, u.email",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?;
        let mut members: Vec<Member> = rows
            .iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Member {
                    user_id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                    joined_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        members.sort_by_key(|m| m.role != Role::Owner);
        Ok(members)
    }

    /// Removes a member. Removing the last owner is refused.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a non-member; [`StoreError::Conflict`] for the last
    /// owner; a database error.
    pub async fn remove_member(&self, workspace_id: &str, user_id: &str) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            return Err(StoreError::NotFound);
        };
        if current == "owner" {
            let owners: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
            )
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
            if owners <= 1 {
                return Err(StoreError::Conflict(
                    "a workspace needs an owner: make another member owner first".into(),
                ));
            }
        }
        sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores an invitation to `workspace_id` with `role`, valid for `ttl_ms`; the token
    /// itself is only hashed. Returns the invitation (its id is the token's hash).
    ///
    /// # Errors
    /// A database error.
    pub async fn create_invitation(
        &self,
        workspace_id: &str,
        role: Role,
        token: &str,
        created_by: &str,
        ttl_ms: i64,
    ) -> Result<Invitation, StoreError> {
        let now = now_ms();
        let id = token_hash(token);
        sqlx::query(
            "INSERT INTO invitations (token_hash, workspace_id, role, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(role.as_str())
        .bind(created_by)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(self.db.pool())
        .await?;
        Ok(Invitation {
            id,
            workspace_id: workspace_id.to_string(),
            role,
            created_by: created_by.to_string(),
            created_at: now,
            expires_at: now + ttl_ms,
            accepted_by: None,
            accepted_at: None,
        })
    }

    /// Invitations of a workspace, newest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn invitations(&self, workspace_id: &str) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query(
            "SELECT token_hash, workspace_id, role, created_by, created_at, expires_at, accepted_by, accepted_at
             FROM invitations WHERE workspace_id = $1 ORDER BY created_at DESC",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(invitation_of).collect()
    }

    /// Withdraws an invitation that was not accepted yet.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn revoke_invitation(&self, workspace_id: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "DELETE FROM invitations WHERE token_hash = $1 AND workspace_id = $2 AND accepted_by IS NULL",
        )
        .bind(id)
        .bind(workspace_id)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Accepts an invitation for `user_id`: they join with the invited role (a member
    /// already in the workspace keeps the higher of the two roles). One use only.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown token; [`StoreError::Conflict`] for a used or
    /// expired one; a database error.
    pub async fn accept_invitation(
        &self,
        token: &str,
        user_id: &str,
    ) -> Result<Invitation, StoreError> {
        let now = now_ms();
        let hash = token_hash(token);
        let mut tx = self.db.pool().begin().await?;
        // Claim the invitation first (conditional UPDATE): two concurrent accepts cannot both
        // succeed.
        let claimed = sqlx::query(
            "UPDATE invitations SET accepted_by = $1, accepted_at = $2
             WHERE token_hash = $3 AND accepted_by IS NULL AND expires_at > $2
             RETURNING token_hash, workspace_id, role, created_by, created_at, expires_at, accepted_by, accepted_at",
        )
        .bind(user_id)
        .bind(now)
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = claimed else {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT token_hash FROM invitations WHERE token_hash = $1")
                    .bind(&hash)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match exists {
                None => StoreError::NotFound,
                Some(_) => StoreError::Conflict(
                    "this invitation was already used or has expired; ask the owner for a new link"
                        .into(),
                ),
            });
        };
        let inv = invitation_of(&row)?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(&inv.workspace_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        match current.as_deref().and_then(Role::parse) {
            None => {
                sqlx::query(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&inv.workspace_id)
                .bind(user_id)
                .bind(inv.role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            Some(existing) if existing.rank() < inv.role.rank() => {
                sqlx::query(
                    "UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3",
                )
                .bind(inv.role.as_str())
                .bind(&inv.workspace_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
            Some(_) => {}
        }
        tx.commit().await?;
        Ok(inv)
    }

    /// Records that an API token was used ([`Accounts::api_token_in`] calls it when the
    /// recorded time is more than a minute old).
    ///
    /// # Errors
    /// A database error.
    pub async fn touch_api_token(&self, token: &str) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2
             AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(token_hash(token))
        .bind(now - 60_000)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The user's TOTP secret as stored (`pending:` + secret while being set up).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn totp_secret(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT totp_secret FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(row.try_get("totp_secret")?)
    }

    /// Sets or clears the user's TOTP secret.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_totp_secret(
        &self,
        user_id: &str,
        secret: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2")
            .bind(secret)
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

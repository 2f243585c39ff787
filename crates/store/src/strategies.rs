//! Strategies: named specs of a workspace, with every saved version kept.
//!
//! Invariants:
//! - Versions are immutable and numbered 1, 2, 3, ... per strategy; saving a spec adds a
//!   version and moves `latest_version`, in one transaction, so a backtest that names a
//!   version always reruns the same document.
//! - Names are unique within a workspace (a clash is [`StoreError::Conflict`]).
//! - Every read takes the workspace id; another workspace's strategy is
//!   [`StoreError::NotFound`].
//! - The store keeps documents as given; checking them is the caller's job (the server
//!   validates a spec before saving it).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, StoreError, int_column, new_id, now_ms};

/// A strategy with its latest spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Strategy {
    /// Id (UUIDv7).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Name, unique in the workspace.
    pub name: String,
    /// Newest version number.
    pub latest_version: i64,
    /// Created (ms).
    pub created_at: i64,
    /// Last saved (ms).
    pub updated_at: i64,
    /// The newest version's spec document.
    pub spec: serde_json::Value,
}

/// One saved version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StrategyVersion {
    /// Strategy id.
    pub strategy_id: String,
    /// Version number, from 1.
    pub version: i64,
    /// The spec document.
    pub spec: serde_json::Value,
    /// Hash of the canonical spec (as backtest reports print it).
    pub spec_hash: String,
    /// Who saved it.
    pub created_by: String,
    /// Saved (ms).
    pub created_at: i64,
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn json_column(row: &AnyRow, name: &str) -> Result<serde_json::Value, StoreError> {
    let text: String = row.try_get(name)?;
    Ok(serde_json::from_str(&text)?)
}

fn strategy_of(row: &AnyRow) -> Result<Strategy, StoreError> {
    Ok(Strategy {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        name: row.try_get("name")?,
        latest_version: int_column(row, "latest_version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        spec: json_column(row, "spec")?,
    })
}

fn version_of(row: &AnyRow) -> Result<StrategyVersion, StoreError> {
    Ok(StrategyVersion {
        strategy_id: row.try_get("strategy_id")?,
        version: int_column(row, "version")?,
        spec: json_column(row, "spec")?,
        spec_hash: row.try_get("spec_hash")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

const STRATEGY_SELECT: &str = "SELECT s.id, s.workspace_id, s.name, s.latest_version, s.created_at, s.updated_at, v.spec
     FROM strategies s JOIN strategy_versions v ON v.strategy_id = s.id AND v.version = s.latest_version";

/// The strategies repository.
#[derive(Clone, Debug)]
pub struct Strategies {
    db: Db,
}

impl Strategies {
    /// On `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a strategy with `spec` as version 1.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name is taken in the workspace; a database error.
    pub async fn create(
        &self,
        workspace_id: &str,
        name: &str,
        spec: &serde_json::Value,
        spec_hash: &str,
        created_by: &str,
    ) -> Result<Strategy, StoreError> {
        let id = new_id();
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO strategies (id, workspace_id, name, latest_version, created_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $4)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(if is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "a strategy named '{name}' already exists in this workspace; pick another name or save a new version of it"
                ))
            } else {
                e.into()
            });
        }
        sqlx::query(
            "INSERT INTO strategy_versions (strategy_id, version, spec, spec_hash, created_by, created_at)
             VALUES ($1, 1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(serde_json::to_string(spec)?)
        .bind(spec_hash)
        .bind(created_by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get(workspace_id, &id).await
    }

    /// Saves `spec` as the next version.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn add_version(
        &self,
        workspace_id: &str,
        id: &str,
        spec: &serde_json::Value,
        spec_hash: &str,
        created_by: &str,
    ) -> Result<Strategy, StoreError> {
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        // The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) first, so two
        // concurrent saves get consecutive numbers instead of the same one.
        let row = sqlx::query(
            "UPDATE strategies SET latest_version = latest_version + 1, updated_at = $1
             WHERE id = $2 AND workspace_id = $3 RETURNING latest_version",
        )
        .bind(now)
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let version = int_column(&row, "latest_version")?;
        sqlx::query(
            "INSERT INTO strategy_versions (strategy_id, version, spec, spec_hash, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i32::try_from(version).unwrap_or(i32::MAX))
        .bind(serde_json::to_string(spec)?)
        .bind(spec_hash)
        .bind(created_by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get(workspace_id, id).await
    }

    /// A strategy of `workspace_id` with its latest spec.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn get(&self, workspace_id: &str, id: &str) -> Result<Strategy, StoreError> {
        let sql = format!("{STRATEGY_SELECT} WHERE s.id = $1 AND s.workspace_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        strategy_of(&row)
    }

    /// Strategies of a workspace, most recently saved first; `name` filters by substring.
    ///
    /// # Errors
    /// A database error.
    pub async fn list(
        &self,
        workspace_id: &str,
        name: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Strategy>, StoreError> {
        let sql = format!(
            "{STRATEGY_SELECT} WHERE s.workspace_id = $1 AND ($2 = '' OR LOWER(s.name) LIKE $3)
             ORDER BY s.updated_at DESC, s.id DESC LIMIT $4 OFFSET $5"
        );
        let filter = name.unwrap_or("").to_lowercase();
        // LIKE wildcards in the filter are taken literally by escaping nothing: a name
        // filter is a convenience, not a query language, and % or _ in it just match more.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(&filter)
            .bind(format!("%{filter}%"))
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(strategy_of).collect()
    }

    /// One version of a strategy.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown strategy or version; a database error.
    pub async fn version(
        &self,
        workspace_id: &str,
        id: &str,
        version: i64,
    ) -> Result<StrategyVersion, StoreError> {
        let row = sqlx::query(
            "SELECT v.strategy_id, v.version, v.spec, v.spec_hash, v.created_by, v.created_at
             FROM strategy_versions v JOIN strategies s ON s.id = v.strategy_id
             WHERE v.strategy_id = $1 AND s.workspace_id = $2 AND v.version = $3",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(i32::try_from(version).map_err(|_| StoreError::NotFound)?)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        version_of(&row)
    }

    /// Every version of a strategy, newest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn versions(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Vec<StrategyVersion>, StoreError> {
        self.get(workspace_id, id).await?;
        let rows = sqlx::query(
            "SELECT strategy_id, version, spec, spec_hash, created_by, created_at
             FROM strategy_versions WHERE strategy_id = $1 ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(version_of).collect()
    }

    /// Deletes a strategy and its versions.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn delete(&self, workspace_id: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM strategies WHERE id = $1 AND workspace_id = $2")
            .bind(id)
            .bind(workspace_id)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

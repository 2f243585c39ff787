//! Datasets: the rows that make a workspace's stored market series visible in the API.
//!
//! The bars themselves live in the workspace's Parquet market store (`skeet-data`); a row
//! records which series (venue, symbol, timeframe) it is, how many bars, their range and
//! content hash, so lists and permission checks never open a Parquet file.
//!
//! Invariants:
//! - One row per (workspace, venue, symbol, timeframe): storing the same series again updates
//!   the row in place ([`Datasets::upsert`]), so a row never points at a series twice.
//! - Every read takes the workspace id; another workspace's dataset is
//!   [`StoreError::NotFound`].

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, StoreError, new_id, now_ms};

/// A dataset as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dataset {
    /// Id (UUIDv7).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Display name.
    pub name: String,
    /// Venue of the series (`binance`, `synthetic`, ...).
    pub venue: String,
    /// Symbol, `BASE/QUOTE`.
    pub symbol: String,
    /// Timeframe (`1m`, `1h`, `1d`, ...).
    pub timeframe: String,
    /// Number of bars.
    pub bars: i64,
    /// Open time of the first bar (ms since the epoch).
    pub first_ts: i64,
    /// Open time of the last bar (ms).
    pub last_ts: i64,
    /// SHA-256 of the bars (as `skeet data inspect` prints it).
    pub data_hash: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

/// What a stored series looks like, to record it.
#[derive(Clone, Debug)]
pub struct NewDataset<'a> {
    /// Display name.
    pub name: &'a str,
    /// Venue.
    pub venue: &'a str,
    /// Symbol.
    pub symbol: &'a str,
    /// Timeframe.
    pub timeframe: &'a str,
    /// Bars now stored.
    pub bars: i64,
    /// First open time (ms).
    pub first_ts: i64,
    /// Last open time (ms).
    pub last_ts: i64,
    /// Content hash.
    pub data_hash: &'a str,
}

const COLUMNS: &str = "id, workspace_id, name, venue, symbol, timeframe, bars, first_ts, last_ts, data_hash, created_at, updated_at";

fn dataset_of(row: &AnyRow) -> Result<Dataset, StoreError> {
    Ok(Dataset {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        name: row.try_get("name")?,
        venue: row.try_get("venue")?,
        symbol: row.try_get("symbol")?,
        timeframe: row.try_get("timeframe")?,
        bars: row.try_get("bars")?,
        first_ts: row.try_get("first_ts")?,
        last_ts: row.try_get("last_ts")?,
        data_hash: row.try_get("data_hash")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The datasets repository.
#[derive(Clone, Debug)]
pub struct Datasets {
    db: Db,
}

impl Datasets {
    /// On `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records a stored series: inserts a row, or updates the row of the same series (its
    /// id and creation time stay).
    ///
    /// # Errors
    /// A database error.
    pub async fn upsert(
        &self,
        workspace_id: &str,
        d: &NewDataset<'_>,
    ) -> Result<Dataset, StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO datasets (id, workspace_id, name, venue, symbol, timeframe, bars, first_ts, last_ts, data_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             ON CONFLICT (workspace_id, venue, symbol, timeframe) DO UPDATE SET
                name = excluded.name, bars = excluded.bars, first_ts = excluded.first_ts,
                last_ts = excluded.last_ts, data_hash = excluded.data_hash, updated_at = excluded.updated_at",
        )
        .bind(new_id())
        .bind(workspace_id)
        .bind(d.name)
        .bind(d.venue)
        .bind(d.symbol)
        .bind(d.timeframe)
        .bind(d.bars)
        .bind(d.first_ts)
        .bind(d.last_ts)
        .bind(d.data_hash)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM datasets WHERE workspace_id = $1 AND venue = $2 AND symbol = $3 AND timeframe = $4"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(d.venue)
            .bind(d.symbol)
            .bind(d.timeframe)
            .fetch_one(self.db.pool())
            .await?;
        dataset_of(&row)
    }

    /// A dataset of `workspace_id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (also for another workspace's); a database error.
    pub async fn get(&self, workspace_id: &str, id: &str) -> Result<Dataset, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM datasets WHERE id = $1 AND workspace_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        dataset_of(&row)
    }

    /// Datasets of a workspace, newest first; `symbol` and `timeframe` filter when given.
    ///
    /// # Errors
    /// A database error.
    pub async fn list(
        &self,
        workspace_id: &str,
        symbol: Option<&str>,
        timeframe: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Dataset>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM datasets WHERE workspace_id = $1
               AND ($2 = '' OR symbol = $2) AND ($3 = '' OR timeframe = $3)
             ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(symbol.unwrap_or(""))
            .bind(timeframe.unwrap_or(""))
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(dataset_of).collect()
    }

    /// Deletes a dataset row (the caller removes the bars).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn delete(&self, workspace_id: &str, id: &str) -> Result<Dataset, StoreError> {
        let d = self.get(workspace_id, id).await?;
        sqlx::query("DELETE FROM datasets WHERE id = $1 AND workspace_id = $2")
            .bind(id)
            .bind(workspace_id)
            .execute(self.db.pool())
            .await?;
        Ok(d)
    }
}

//! # skeet-store
//!
//! SKEET's storage: one portable schema and one migration set for SQLite (the embedded
//! default) and PostgreSQL (scaled out), reached through sqlx's `Any` driver, plus the
//! repositories built on it, starting with the jobs queue ([`jobs`]).
//!
//! Invariants:
//! - The same SQL runs on both engines. Columns use only types the `Any` driver decodes on
//!   both: `TEXT` ids (UUIDv7), `BIGINT` epoch milliseconds, `INTEGER` 0/1 flags, `TEXT` decimals
//!   and JSON, `DOUBLE PRECISION` ratios. Placeholders are `$1..$N` (SQLite accepts them).
//!   Where the engines must differ (row locks), [`Db::engine`] says which one is in use.
//! - Migrations run before a [`Db`] is handed out, so every caller sees the current schema.
//! - Every test of this crate runs on both engines (tests/ create their own database).

pub mod accounts;
pub mod bots;
pub mod datasets;
pub mod jobs;
pub mod strategies;
pub mod vault;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file (embedded default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Storage errors, by what the caller can do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one SKEET understands.
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The row does not exist (or belongs to another workspace).
    #[error("not found")]
    NotFound,
    /// The operation does not fit the row's current state.
    #[error("{0}")]
    Conflict(String),
    /// A stored JSON document could not be read or written.
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A vault key or sealed value could not be used (says which and why, never a secret).
    #[error("vault: {0}")]
    Vault(String),
}

/// Connections to a SQLite file. sqlx runs each SQLite connection on a thread of its own and
/// hands every statement over through a channel, so more connections mean more thread
/// switches, not more throughput, on a small machine: measured on 2 cores
/// (docs/benchmarks.md), 4 connections served 5,476 authenticated reads/s, 8 served 4,902
/// and 2 served 4,767.
const SQLITE_POOL: u32 = 4;

/// The migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A connection pool with the schema migrated.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
}

impl Db {
    /// Connects to `url` (`sqlite://path/to/file.db` or `postgres://...`), creating the SQLite
    /// file if needed, and runs the migrations.
    ///
    /// # Errors
    /// A URL of another kind, an unreachable database, or a failed migration.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = Self::connect_unmigrated(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Connects without migrating (for `/readyz` to report an outdated schema).
    ///
    /// # Errors
    /// A URL of another kind or an unreachable database.
    pub async fn connect_unmigrated(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let (engine, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
            // rwc: create the file on first start.
            (Engine::Sqlite, format!("sqlite://{path}?mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Engine::Postgres, url.to_string())
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let options = sqlx::any::AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite {
                SQLITE_POOL
            } else {
                16
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers run beside the one writer and several processes
                        // (serve + worker) share the file; the busy timeout makes a writer
                        // wait for the lock instead of failing at once.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, engine })
    }

    /// Applies pending migrations (idempotent).
    ///
    /// # Errors
    /// A failed migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// True when every embedded migration is applied.
    ///
    /// # Errors
    /// The database could not be asked.
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let applied: Vec<(i64,)> =
            // `WHERE success` reads the flag on both engines without decoding a boolean
            // (which the Any driver cannot do for SQLite).
            match sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
            {
                Ok(rows) => rows,
                Err(sqlx::Error::Database(_)) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
        Ok(MIGRATOR
            .iter()
            .all(|m| applied.iter().any(|(v,)| *v == m.version)))
    }

    /// The pool, for repositories.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine behind the pool.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Connections in use and idle (for `/metrics`).
    pub fn pool_usage(&self) -> (u32, usize) {
        let size = self.pool.size();
        let idle = self.pool.num_idle();
        (size, idle)
    }
}

/// Reads an `INTEGER` column: 4 bytes on PostgreSQL, 8 on SQLite through the Any driver.
pub(crate) fn int_column(row: &sqlx::any::AnyRow, name: &str) -> Result<i64, StoreError> {
    use sqlx::Row;
    match row.try_get::<i64, _>(name) {
        Ok(v) => Ok(v),
        Err(_) => Ok(i64::from(row.try_get::<i32, _>(name)?)),
    }
}

/// Milliseconds since the Unix epoch, now (wall clock: leases are compared across
/// processes and machines, so every holder must use the same notion of time).
pub fn now_ms() -> i64 {
    use skeet_core::Clock;
    skeet_core::SystemClock.now().as_nanos() / 1_000_000
}

/// The directory holding a workspace's files (its market store under `market/`) inside the
/// platform's data directory. Workspaces never share bars: a backtest of one workspace can
/// only read what was uploaded or generated in it.
///
/// # Errors
/// An id that is not a stored id (letters, digits and `-` only), so that no path from a
/// request can leave the data directory.
pub fn workspace_dir(
    data_dir: &std::path::Path,
    workspace_id: &str,
) -> Result<std::path::PathBuf, StoreError> {
    let ok = !workspace_id.is_empty()
        && workspace_id.len() <= 64
        && workspace_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        return Err(StoreError::NotFound);
    }
    Ok(data_dir.join("workspaces").join(workspace_id))
}

/// A new time-ordered id (UUIDv7), as stored.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

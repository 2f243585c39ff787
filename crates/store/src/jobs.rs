//! The jobs queue: a table on the platform's own database, shared by in-process workers and
//! `skeet worker` processes.
//!
//! Life of a job: `queued` → (claimed) `running` → `succeeded` | `failed` | `cancelled`; a
//! failure with attempts left goes back to `queued` with a later `run_at` (exponential
//! backoff).
//!
//! Invariants:
//! - A running job is held by one worker at a time, under a lease (`locked_until`) that the
//!   worker extends with [`Jobs::heartbeat`]. A claim takes a queued job that is due, or a
//!   running job whose lease expired (its worker died): a killed worker never loses a job.
//! - Claims are atomic: one `UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING` statement;
//!   on PostgreSQL the inner select takes `FOR UPDATE SKIP LOCKED` so concurrent workers
//!   never block each other or claim the same row; SQLite serialises writers.
//! - Every state change by a worker is conditional on still holding the lease
//!   (`locked_by = me`): a worker whose lease was taken over cannot overwrite the new
//!   holder's result.
//! - A job whose attempts are used up by expired leases fails instead of running forever.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, Engine, StoreError, new_id, now_ms};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (possibly until `run_at`, after a failed attempt).
    Queued,
    /// Held by a worker under a lease.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error, no attempts left.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl JobState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => Self::Queued,
        }
    }

    /// True once the job can change no more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// Every state, for metrics.
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];
}

/// A job's state as pushed to websocket clients (no payload, no result).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobChange {
    /// Id.
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Kind.
    pub kind: String,
    /// State.
    pub state: JobState,
    /// Progress, 0 to 1.
    pub progress: f64,
    /// Latest progress message.
    pub message: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Attempts started.
    pub attempts: i64,
    /// Created (ms).
    pub created_at: i64,
    /// First start (ms).
    pub started_at: Option<i64>,
    /// End (ms).
    pub finished_at: Option<i64>,
    /// Last change (ms).
    pub updated_at: i64,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    /// Id (UUIDv7).
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// What to run (`backtest`, `optimize`, ...).
    pub kind: String,
    /// The job's input, JSON.
    pub payload: serde_json::Value,
    /// State.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Not claimed before this time (ms).
    pub run_at: i64,
    /// Worker holding the lease.
    pub locked_by: Option<String>,
    /// Lease end (ms).
    pub locked_until: Option<i64>,
    /// Progress, 0 to 1.
    pub progress: f64,
    /// Latest progress message.
    pub message: Option<String>,
    /// Result JSON, when succeeded (left out of lists: read the job itself).
    pub result: Option<serde_json::Value>,
    /// A few headline numbers of the result, when succeeded (also in lists).
    pub summary: Option<serde_json::Value>,
    /// Last error.
    pub error: Option<String>,
    /// A cancel was asked for while running.
    pub cancel_requested: bool,
    /// User who submitted it.
    pub created_by: Option<String>,
    /// Times (ms).
    pub created_at: i64,
    /// First start (ms).
    pub started_at: Option<i64>,
    /// End (ms).
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, locked_by, locked_until, progress, message, result, summary, error, cancel_requested, created_by, created_at, started_at, finished_at";

/// [`COLUMNS`] without the result document (lists: the summary is enough there).
const LIST_COLUMNS: &str = "id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, locked_by, locked_until, progress, message, CAST(NULL AS TEXT) AS result, summary, error, cancel_requested, created_by, created_at, started_at, finished_at";

fn job_of(row: &AnyRow) -> Result<Job, StoreError> {
    let payload: String = row.try_get("payload")?;
    let result: Option<String> = row.try_get("result")?;
    let summary: Option<String> = row.try_get("summary")?;
    let state: String = row.try_get("state")?;
    let cancel = int(row, "cancel_requested")?;
    Ok(Job {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload)?,
        state: JobState::parse(&state),
        attempts: int(row, "attempts")?,
        max_attempts: int(row, "max_attempts")?,
        run_at: row.try_get("run_at")?,
        locked_by: row.try_get("locked_by")?,
        locked_until: row.try_get("locked_until")?,
        progress: row.try_get("progress")?,
        message: row.try_get("message")?,
        result: result.map(|r| serde_json::from_str(&r)).transpose()?,
        summary: summary.map(|r| serde_json::from_str(&r)).transpose()?,
        error: row.try_get("error")?,
        cancel_requested: cancel != 0,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

use crate::int_column as int;

/// What a worker learns when it reports in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Still held; carry on.
    Held,
    /// Still held, but a user asked to cancel: stop and call [`Jobs::cancelled`].
    CancelRequested,
    /// Lost (expired and taken over, or the job ended): stop without writing anything.
    Lost,
}

/// Retry delay after the `attempt`-th failure: 2 s, 4 s, 8 s, ... capped at 5 minutes.
pub fn backoff_ms(attempt: i64) -> i64 {
    let exp = attempt.clamp(1, 20) as u32;
    (1000_i64 << exp).min(300_000)
}

/// The jobs repository.
#[derive(Clone, Debug)]
pub struct Jobs {
    db: Db,
}

impl Jobs {
    /// The database the queue lives in (workers record job outputs there, e.g. a
    /// downloaded dataset).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// On `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Queues a job; returns it.
    ///
    /// # Errors
    /// A database error.
    pub async fn enqueue(
        &self,
        workspace_id: &str,
        kind: &str,
        payload: &serde_json::Value,
        max_attempts: i64,
        created_by: Option<&str>,
    ) -> Result<Job, StoreError> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, progress, cancel_requested, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, 0, 0, $7, $8, $9)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(kind)
        .bind(serde_json::to_string(payload)?)
        .bind(max_attempts.max(1))
        .bind(now)
        .bind(created_by)
        .bind(now)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        self.get_any(&id).await
    }

    /// A job by id, in any workspace (workers and metrics).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or a database error.
    pub async fn get_any(&self, id: &str) -> Result<Job, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        job_of(&row)
    }

    /// A job by id within `workspace_id`; another workspace's job is [`StoreError::NotFound`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or a database error.
    pub async fn get(&self, workspace_id: &str, id: &str) -> Result<Job, StoreError> {
        let job = self.get_any(id).await?;
        if job.workspace_id == workspace_id {
            Ok(job)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// Claims the next due job of one of `kinds` for `worker` with a lease of `lease_ms`.
    ///
    /// # Errors
    /// A database error.
    pub async fn claim(
        &self,
        worker: &str,
        kinds: &[&str],
        lease_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        loop {
            let now = now_ms();
            // Kinds are inlined as quoted literals from the worker's own fixed list (never
            // user input), so the statement is the same on both engines without arrays.
            let kinds_sql = kinds
                .iter()
                .map(|k| format!("'{}'", k.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ");
            let lock = match self.db.engine() {
                Engine::Postgres => " FOR UPDATE SKIP LOCKED",
                Engine::Sqlite => "",
            };
            let sql = format!(
                "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1,
                        started_at = COALESCE(started_at, $3), updated_at = $3
                 WHERE id = (SELECT id FROM jobs
                             WHERE kind IN ({kinds_sql})
                               AND ((state = 'queued' AND run_at <= $3) OR (state = 'running' AND locked_until < $3))
                             ORDER BY run_at, id LIMIT 1{lock})
                 RETURNING {COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(worker)
                .bind(now + lease_ms)
                .bind(now)
                .fetch_optional(self.db.pool())
                .await?;
            let Some(row) = row else { return Ok(None) };
            let job = job_of(&row)?;
            if job.attempts > job.max_attempts {
                // Its earlier holders died (leases expired) as often as it may run.
                self.finish(
                    &job.id,
                    worker,
                    JobState::Failed,
                    None,
                    None,
                    Some(&format!(
                        "gave up after {} attempts whose workers stopped reporting (lease expired)",
                        job.max_attempts
                    )),
                )
                .await?;
                continue;
            }
            return Ok(Some(job));
        }
    }

    /// Extends the lease and records progress; says whether to carry on.
    ///
    /// # Errors
    /// A database error.
    pub async fn heartbeat(
        &self,
        id: &str,
        worker: &str,
        lease_ms: i64,
        progress: Option<(f64, &str)>,
    ) -> Result<Lease, StoreError> {
        let now = now_ms();
        let (p, msg) = progress.map_or((None, None), |(p, m)| (Some(p.clamp(0.0, 1.0)), Some(m)));
        let row = sqlx::query(
            "UPDATE jobs SET locked_until = $1, updated_at = $2,
                    progress = COALESCE($3, progress), message = COALESCE($4, message)
             WHERE id = $5 AND locked_by = $6 AND state = 'running'
             RETURNING cancel_requested",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(p)
        .bind(msg)
        .bind(id)
        .bind(worker)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            None => Lease::Lost,
            Some(r) if int(&r, "cancel_requested")? != 0 => Lease::CancelRequested,
            Some(_) => Lease::Held,
        })
    }

    /// Records success.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the lease was lost; a database error.
    pub async fn succeed(
        &self,
        id: &str,
        worker: &str,
        result: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(result)?;
        self.succeed_json(id, worker, &text).await
    }

    /// [`Jobs::succeed`] with the result already serialised (large results are written
    /// where they are made, off the async threads).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the lease was lost; a database error.
    pub async fn succeed_json(&self, id: &str, worker: &str, json: &str) -> Result<(), StoreError> {
        self.finish(id, worker, JobState::Succeeded, Some(json), None, None)
            .await
    }

    /// [`Jobs::succeed_json`] with the headline numbers lists show.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the lease was lost; a database error.
    pub async fn succeed_with_summary(
        &self,
        id: &str,
        worker: &str,
        json: &str,
        summary: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let summary = serde_json::to_string(summary)?;
        self.finish(
            id,
            worker,
            JobState::Succeeded,
            Some(json),
            Some(&summary),
            None,
        )
        .await
    }

    /// Records a failed attempt: back to the queue after a backoff while attempts remain,
    /// otherwise failed. Returns the new state.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the lease was lost; a database error.
    pub async fn fail(&self, id: &str, worker: &str, error: &str) -> Result<JobState, StoreError> {
        let job = self.get_any(id).await?;
        if job.attempts < job.max_attempts && !job.cancel_requested {
            let now = now_ms();
            let done = sqlx::query(
                "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, run_at = $1,
                        error = $2, updated_at = $3
                 WHERE id = $4 AND locked_by = $5 AND state = 'running'",
            )
            .bind(now + backoff_ms(job.attempts))
            .bind(error)
            .bind(now)
            .bind(id)
            .bind(worker)
            .execute(self.db.pool())
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict("the job's lease was lost".into()));
            }
            return Ok(JobState::Queued);
        }
        self.finish(id, worker, JobState::Failed, None, None, Some(error))
            .await?;
        Ok(JobState::Failed)
    }

    /// Records a failure that retrying cannot fix (bad input): failed at once.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the lease was lost; a database error.
    pub async fn fail_permanently(
        &self,
        id: &str,
        worker: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        self.finish(id, worker, JobState::Failed, None, None, Some(error))
            .await
    }

    /// Records that the worker stopped because a cancel was requested.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the lease was lost; a database error.
    pub async fn cancelled(&self, id: &str, worker: &str) -> Result<(), StoreError> {
        self.finish(
            id,
            worker,
            JobState::Cancelled,
            None,
            None,
            Some("cancelled"),
        )
        .await
    }

    /// Gives a running job back to the queue at once, without counting the attempt as
    /// failed (graceful shutdown).
    ///
    /// # Errors
    /// A database error.
    pub async fn release(&self, id: &str, worker: &str) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, run_at = $1,
                    attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $1
             WHERE id = $2 AND locked_by = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(id)
        .bind(worker)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    async fn finish(
        &self,
        id: &str,
        worker: &str,
        state: JobState,
        result: Option<&str>,
        summary: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, result = $2, error = COALESCE($3, error), locked_by = NULL,
                    locked_until = NULL, finished_at = $4, updated_at = $4, summary = $7,
                    progress = CASE WHEN $1 = 'succeeded' THEN 1 ELSE progress END
             WHERE id = $5 AND locked_by = $6 AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(result)
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(worker)
        .bind(summary)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("the job's lease was lost".into()));
        }
        Ok(())
    }

    /// Cancels a job of `workspace_id`: a queued job at once, a running one by asking its
    /// worker (it stops at its next heartbeat). Returns the job afterwards.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Conflict`] for a finished job, a database error.
    pub async fn cancel(&self, workspace_id: &str, id: &str) -> Result<Job, StoreError> {
        let job = self.get(workspace_id, id).await?;
        if job.state.is_final() {
            return Err(StoreError::Conflict(format!(
                "the job has already {}",
                match job.state {
                    JobState::Succeeded => "succeeded",
                    JobState::Failed => "failed",
                    _ => "been cancelled",
                }
            )));
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE jobs SET state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
                    finished_at = CASE WHEN state = 'queued' THEN $1 ELSE finished_at END,
                    cancel_requested = 1, updated_at = $1
             WHERE id = $2 AND workspace_id = $3",
        )
        .bind(now)
        .bind(id)
        .bind(workspace_id)
        .execute(self.db.pool())
        .await?;
        self.get(workspace_id, id).await
    }

    /// Jobs of a workspace, newest first, optionally of one kind and state.
    ///
    /// # Errors
    /// A database error.
    pub async fn list(
        &self,
        workspace_id: &str,
        kind: Option<&str>,
        state: Option<JobState>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Job>, StoreError> {
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM jobs WHERE workspace_id = $1 AND ($2 = '' OR state = $2)
               AND ($5 = '' OR kind = $5)
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(state.map_or("", JobState::as_str))
            .bind(limit)
            .bind(offset)
            .bind(kind.unwrap_or(""))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(job_of).collect()
    }

    /// Job changes at or after `since_ms` (any workspace), oldest first, at most `limit`:
    /// what the websocket's job watcher pushes. Only the fields of an event are read (not the
    /// payload or the result).
    ///
    /// # Errors
    /// A database error.
    pub async fn changes_since(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<JobChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, kind, state, progress, message, error, attempts, created_at,
                    started_at, finished_at, updated_at
             FROM jobs WHERE updated_at >= $1 ORDER BY updated_at, id LIMIT $2",
        )
        .bind(since_ms)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(JobChange {
                    id: r.try_get("id")?,
                    workspace_id: r.try_get("workspace_id")?,
                    kind: r.try_get("kind")?,
                    state: JobState::parse(&state),
                    progress: r.try_get("progress")?,
                    message: r.try_get("message")?,
                    error: r.try_get("error")?,
                    attempts: int(r, "attempts")?,
                    created_at: r.try_get("created_at")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Number of jobs per (kind, state), for `/metrics`.
    ///
    /// # Errors
    /// A database error.
    pub async fn counts(&self) -> Result<Vec<(String, JobState, i64)>, StoreError> {
        let rows = sqlx::query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok((r.try_get("kind")?, JobState::parse(&state), int(r, "n")?))
            })
            .collect()
    }
}

//! Trading bots: settings, the state users ask for (`desired`) and the state the bot is in,
//! the lease of the worker running it, its published events and its order journal.
//!
//! Invariants:
//! - A bot runs in at most one worker: [`Bots::claim`] takes a bot only when its lease has
//!   expired, in one conditional `UPDATE`, and raises its **fence** (fencing token) by one.
//! - Every write a runner makes ([`Bots::heartbeat`], [`Bots::append_events`],
//!   [`Bots::journal_intent`], [`Bots::journal_update`], [`Bots::set_state`]) names the fence it
//!   holds and changes nothing when the fence has moved on: a runner that lost its lease
//!   (paused process, partition) cannot write over its successor, even before it notices.
//! - Event sequence numbers are unique per bot (primary key): two writers cannot both append
//!   the same event number.
//! - The journal holds an order's intent before it is sent; the client order id is the
//!   journal key, so a restarted runner finds every order it may have sent.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, StoreError, int_column, new_id, now_ms};

/// A bot as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bot {
    /// Id.
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// Name, unique in the workspace.
    pub name: String,
    /// `paper` or `live`.
    pub mode: String,
    /// Where it trades: `replay` (stored data at a chosen speed) or a venue name.
    pub venue: String,
    /// Settings (strategy, data, capital, risk limits), as given at creation.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// `stopped`, `starting`, `running`, `paused`, `finished`, `killed` or `error`.
    pub state: String,
    /// What users asked for: `running`, `paused` or `stopped`.
    pub desired: String,
    /// The worker running it, while it holds the lease.
    pub lease_owner: Option<String>,
    /// Fencing token: raised at every claim.
    pub fence: i64,
    /// The latest numbers (equity, PnL, position, orders, fills, last bar).
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// Why it stopped, when it stopped on an error or a risk stop.
    pub error: Option<String>,
    /// Who created it.
    pub created_by: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// Raised at every edit of the settings while the bot exists (its runner re-reads them).
    pub settings_rev: i64,
}

/// A bot to create.
#[derive(Clone, Debug)]
pub struct NewBot<'a> {
    /// Name.
    pub name: &'a str,
    /// `paper` or `live`.
    pub mode: &'a str,
    /// `replay` or a venue.
    pub venue: &'a str,
    /// Settings.
    pub config: &'a serde_json::Value,
    /// Creator.
    pub created_by: Option<&'a str>,
}

/// One published event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BotEvent {
    /// Sequence number (1, 2, ... per bot).
    pub seq: i64,
    /// Time (ms; market time for replayed bars).
    pub ts: i64,
    /// `order`, `fill`, `equity`, `risk`, `log`, `state`, `bar`, `mismatch`.
    pub kind: String,
    /// The event's data.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A journal entry: an order a bot intended, sent or saw filled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalEntry {
    /// Client order id (the journal key; derived from the bot id and `seq`).
    pub client_order_id: String,
    /// Order number in the bot.
    pub seq: i64,
    /// Unified symbol.
    pub symbol: String,
    /// The order as intended.
    #[schema(value_type = Object)]
    pub intent: serde_json::Value,
    /// `intent`, `sent`, `open`, `partially_filled`, `filled`, `cancelled`, `rejected`,
    /// `expired`.
    pub state: String,
    /// The venue's id, once known.
    pub venue_order_id: Option<String>,
    /// Filled quantity (decimal string).
    pub filled: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// What a heartbeat found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Still ours; users want the bot in this state (`running`, `paused`, `stopped`).
    Held {
        /// The desired state.
        desired: String,
        /// The settings revision: a new one means the settings were edited.
        settings_rev: i64,
    },
    /// Taken over (or the bot was deleted): stop at once, write nothing.
    Lost,
}

const COLUMNS: &str = "id, workspace_id, name, mode, venue, config, state, desired, lease_owner, fence, summary, error, created_by, created_at, updated_at, settings_rev";

fn bot_of(row: &AnyRow) -> Result<Bot, StoreError> {
    let config: String = row.try_get("config")?;
    let summary: String = row.try_get("summary")?;
    Ok(Bot {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        name: row.try_get("name")?,
        mode: row.try_get("mode")?,
        venue: row.try_get("venue")?,
        config: serde_json::from_str(&config)?,
        state: row.try_get("state")?,
        desired: row.try_get("desired")?,
        lease_owner: row.try_get("lease_owner")?,
        fence: int_column(row, "fence")?,
        summary: serde_json::from_str(&summary)?,
        error: row.try_get("error")?,
        created_by: row.try_get("created_by")?,
        created_at: int_column(row, "created_at")?,
        updated_at: int_column(row, "updated_at")?,
        settings_rev: int_column(row, "settings_rev")?,
    })
}

/// The fenced state update of [`Bots::set_state`]; `release` also gives the lease up.
fn state_sql(release: bool) -> &'static str {
    if release {
        "UPDATE bots SET state = $1, summary = $2, error = $3, updated_at = $4, lease_owner = NULL, lease_until = 0,
                desired = CASE WHEN desired IN ('flatten', 'cancel') THEN 'stopped'
                               WHEN desired = 'running' AND $1 IN ('finished', 'error', 'killed') THEN 'stopped'
                               ELSE desired END
         WHERE id = $5 AND fence = $6"
    } else {
        "UPDATE bots SET state = $1, summary = $2, error = $3, updated_at = $4 WHERE id = $5 AND fence = $6"
    }
}

fn event_of(r: &AnyRow) -> Result<BotEvent, StoreError> {
    let data: String = r.try_get("data")?;
    Ok(BotEvent {
        seq: int_column(r, "seq")?,
        ts: int_column(r, "ts")?,
        kind: r.try_get("kind")?,
        data: serde_json::from_str(&data)?,
    })
}

fn entry_of(row: &AnyRow) -> Result<JournalEntry, StoreError> {
    let intent: String = row.try_get("intent")?;
    Ok(JournalEntry {
        client_order_id: row.try_get("client_order_id")?,
        seq: int_column(row, "seq")?,
        symbol: row.try_get("symbol")?,
        intent: serde_json::from_str(&intent)?,
        state: row.try_get("state")?,
        venue_order_id: row.try_get("venue_order_id")?,
        filled: row.try_get("filled")?,
        created_at: int_column(row, "created_at")?,
        updated_at: int_column(row, "updated_at")?,
    })
}

/// The bots repository.
#[derive(Clone, Debug)]
pub struct Bots {
    db: Db,
}

impl Bots {
    /// On `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a stopped bot.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a name already used in the workspace; a database error.
    pub async fn create(&self, workspace_id: &str, b: &NewBot<'_>) -> Result<Bot, StoreError> {
        let id = new_id();
        let now = now_ms();
        let taken = sqlx::query("SELECT id FROM bots WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(b.name)
            .fetch_optional(self.db.pool())
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a bot named '{}' already exists in this workspace",
                b.name
            )));
        }
        sqlx::query(
            "INSERT INTO bots (id, workspace_id, name, mode, venue, config, state, desired, lease_owner, lease_until, fence, summary, error, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'stopped', 'stopped', NULL, 0, 0, '{}', NULL, $7, $8, $8)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(b.name)
        .bind(b.mode)
        .bind(b.venue)
        .bind(b.config.to_string())
        .bind(b.created_by)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        self.get(workspace_id, &id).await
    }

    /// A bot of `workspace_id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (also for another workspace's); a database error.
    pub async fn get(&self, workspace_id: &str, id: &str) -> Result<Bot, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM bots WHERE id = $1 AND workspace_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        bot_of(&row)
    }

    /// A bot by id alone (runners and the websocket's access check).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn get_any(&self, id: &str) -> Result<Bot, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM bots WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        bot_of(&row)
    }

    /// The workspace's bots, newest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn list(&self, workspace_id: &str) -> Result<Vec<Bot>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM bots WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(bot_of).collect()
    }

    /// Asks for a state (`running`, `paused`, `stopped`); the runner follows at its next
    /// heartbeat. Starting clears a previous error.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn set_desired(
        &self,
        workspace_id: &str,
        id: &str,
        desired: &str,
    ) -> Result<Bot, StoreError> {
        let done = sqlx::query(
            "UPDATE bots SET desired = $1, updated_at = $2,
                    error = CASE WHEN $1 = 'running' THEN NULL ELSE error END
             WHERE id = $3 AND workspace_id = $4",
        )
        .bind(desired)
        .bind(now_ms())
        .bind(id)
        .bind(workspace_id)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.get(workspace_id, id).await
    }

    /// The workspace's bots changed after `since_ms` (state, numbers, settings), oldest
    /// change first: what the `workspace:{id}` channel pushes.
    ///
    /// # Errors
    /// A database error.
    pub async fn changed_since(
        &self,
        workspace_id: &str,
        since_ms: i64,
    ) -> Result<Vec<Bot>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM bots WHERE workspace_id = $1 AND updated_at > $2 ORDER BY updated_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace_id)
            .bind(since_ms)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(bot_of).collect()
    }

    /// Replaces a bot's settings (the caller has checked them) and raises its settings
    /// revision, so the worker running it applies them at its next heartbeat.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; a database error.
    pub async fn update_config(
        &self,
        workspace_id: &str,
        id: &str,
        config: &serde_json::Value,
    ) -> Result<Bot, StoreError> {
        let done = sqlx::query(
            "UPDATE bots SET config = $1, settings_rev = settings_rev + 1, updated_at = $2
             WHERE id = $3 AND workspace_id = $4",
        )
        .bind(config.to_string())
        .bind(now_ms())
        .bind(id)
        .bind(workspace_id)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.get(workspace_id, id).await
    }

    /// A bot's events of one kind, oldest first (e.g. its settings changes, to replay them).
    ///
    /// # Errors
    /// A database error.
    pub async fn events_of_kind(&self, id: &str, kind: &str) -> Result<Vec<BotEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, ts, kind, data FROM bot_events WHERE bot_id = $1 AND kind = $2 ORDER BY seq",
        )
        .bind(id)
        .bind(kind)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(event_of).collect()
    }

    /// Stops every bot of the workspace (the kill switch): desired `stopped` for all, after
    /// cancelling their working orders for bots on a venue (`cancel`).
    ///
    /// # Errors
    /// A database error.
    pub async fn stop_all(&self, workspace_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE bots SET desired = CASE WHEN venue = 'replay' THEN 'stopped' ELSE 'cancel' END, updated_at = $1
             WHERE workspace_id = $2 AND desired NOT IN ('stopped', 'cancel')",
        )
        .bind(now_ms())
        .bind(workspace_id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes a bot that is not running (its events and journal go with it).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] while a worker holds it; [`StoreError::NotFound`].
    pub async fn delete(&self, workspace_id: &str, id: &str) -> Result<(), StoreError> {
        let bot = self.get(workspace_id, id).await?;
        if bot.desired != "stopped"
            || matches!(bot.state.as_str(), "running" | "paused" | "starting")
        {
            return Err(StoreError::Conflict(
                "stop the bot before deleting it".to_string(),
            ));
        }
        sqlx::query("DELETE FROM bots WHERE id = $1 AND workspace_id = $2")
            .bind(id)
            .bind(workspace_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Takes one bot that should run (desired `running` or `paused`) and whose lease has
    /// expired, for `owner`, raising its fence. Returns the bot with its new fence.
    ///
    /// # Errors
    /// A database error.
    pub async fn claim(&self, owner: &str, lease_ms: i64) -> Result<Option<Bot>, StoreError> {
        let now = now_ms();
        let candidates = sqlx::query(
            "SELECT id FROM bots WHERE desired IN ('running', 'paused', 'flatten', 'cancel') AND lease_until < $1
             ORDER BY updated_at LIMIT 8",
        )
        .bind(now)
        .fetch_all(self.db.pool())
        .await?;
        for row in candidates {
            let id: String = row.try_get("id")?;
            // Conditional on the lease still being expired: of two workers racing for the
            // same bot, exactly one update matches.
            let done = sqlx::query(
                "UPDATE bots SET lease_owner = $1, lease_until = $2, fence = fence + 1, state = 'starting', updated_at = $3
                 WHERE id = $4 AND desired IN ('running', 'paused', 'flatten', 'cancel') AND lease_until < $3",
            )
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(&id)
            .execute(self.db.pool())
            .await?;
            if done.rows_affected() == 1 {
                return self.get_any(&id).await.map(Some);
            }
        }
        Ok(None)
    }

    /// Extends the lease held under `fence`; says what users want now.
    ///
    /// # Errors
    /// A database error.
    pub async fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        fence: i64,
        lease_ms: i64,
    ) -> Result<Lease, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE bots SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND fence = $4",
        )
        .bind(now + lease_ms)
        .bind(id)
        .bind(owner)
        .bind(fence)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Lease::Lost);
        }
        let row = sqlx::query("SELECT desired, settings_rev FROM bots WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(r) => Lease::Held {
                desired: r.try_get("desired")?,
                settings_rev: int_column(&r, "settings_rev")?,
            },
            None => Lease::Lost,
        })
    }

    /// Records the bot's state and latest numbers (fenced). `release` also gives the lease
    /// up (the bot stopped, finished or failed). Returns false when the fence moved on.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_state(
        &self,
        id: &str,
        fence: i64,
        state: &str,
        summary: &serde_json::Value,
        error: Option<&str>,
        release: bool,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(state_sql(release))
            .bind(state)
            .bind(summary.to_string())
            .bind(error)
            .bind(now_ms())
            .bind(id)
            .bind(fence)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// [`Bots::append_events`] and [`Bots::set_state`] in one transaction (fenced): the
    /// events are published exactly when the summary (what a successor resumes from) counts
    /// them, so a runner killed between the two writes cannot make its successor publish
    /// them again. Returns false when the fence moved on (nothing written).
    ///
    /// # Errors
    /// A database error.
    #[expect(
        clippy::too_many_arguments,
        reason = "the two writes' arguments side by side, as set_state and append_events take them"
    )]
    pub async fn append_with_state(
        &self,
        id: &str,
        fence: i64,
        events: &[BotEvent],
        state: &str,
        summary: &serde_json::Value,
        error: Option<&str>,
        release: bool,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query(state_sql(release))
            .bind(state)
            .bind(summary.to_string())
            .bind(error)
            .bind(now_ms())
            .bind(id)
            .bind(fence)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for e in events {
            sqlx::query(
                "INSERT INTO bot_events (bot_id, seq, ts, kind, data) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(e.seq)
            .bind(e.ts)
            .bind(&e.kind)
            .bind(e.data.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The highest event number written (0 for none).
    ///
    /// # Errors
    /// A database error.
    pub async fn last_seq(&self, id: &str) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COALESCE(MAX(seq), 0) AS s FROM bot_events WHERE bot_id = $1")
                .bind(id)
                .fetch_one(self.db.pool())
                .await?;
        int_column(&row, "s")
    }

    /// Appends events with the given numbers, only while `fence` is current (each insert is
    /// conditional on it). Returns how many were written.
    ///
    /// # Errors
    /// A database error (a duplicate number means another writer: a bug or a lost fence).
    pub async fn append_events(
        &self,
        id: &str,
        fence: i64,
        events: &[BotEvent],
    ) -> Result<usize, StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let mut written = 0;
        for e in events {
            let done = sqlx::query(
                "INSERT INTO bot_events (bot_id, seq, ts, kind, data)
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM bots WHERE id = $1 AND fence = $6)",
            )
            .bind(id)
            .bind(e.seq)
            .bind(e.ts)
            .bind(&e.kind)
            .bind(e.data.to_string())
            .bind(fence)
            .execute(&mut *tx)
            .await?;
            written += usize::try_from(done.rows_affected()).unwrap_or(0);
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Events after `after_seq`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// A database error.
    pub async fn events(
        &self,
        id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<BotEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, ts, kind, data FROM bot_events WHERE bot_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(event_of).collect()
    }

    /// Writes an order's intent before it is sent (fenced). False when the fence moved on
    /// (the order must then not be sent).
    ///
    /// # Errors
    /// A database error; a client order id used twice.
    pub async fn journal_intent(
        &self,
        id: &str,
        fence: i64,
        entry: &JournalEntry,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO bot_orders (bot_id, client_order_id, seq, symbol, intent, state, venue_order_id, filled, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9 WHERE EXISTS (SELECT 1 FROM bots WHERE id = $1 AND fence = $10)",
        )
        .bind(id)
        .bind(&entry.client_order_id)
        .bind(entry.seq)
        .bind(&entry.symbol)
        .bind(entry.intent.to_string())
        .bind(&entry.state)
        .bind(entry.venue_order_id.as_deref())
        .bind(&entry.filled)
        .bind(now)
        .bind(fence)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Updates a journal entry's state, venue id and filled quantity (fenced).
    ///
    /// # Errors
    /// A database error.
    pub async fn journal_update(
        &self,
        id: &str,
        fence: i64,
        client_order_id: &str,
        state: &str,
        venue_order_id: Option<&str>,
        filled: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE bot_orders SET state = $1, venue_order_id = COALESCE($2, venue_order_id), filled = $3, updated_at = $4
             WHERE bot_id = $5 AND client_order_id = $6 AND EXISTS (SELECT 1 FROM bots WHERE id = $5 AND fence = $7)",
        )
        .bind(state)
        .bind(venue_order_id)
        .bind(filled)
        .bind(now_ms())
        .bind(id)
        .bind(client_order_id)
        .bind(fence)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The journal, oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn journal(&self, id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_order_id, seq, symbol, intent, state, venue_order_id, filled, created_at, updated_at
             FROM bot_orders WHERE bot_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(entry_of).collect()
    }

    /// Bots by state and mode (for `/metrics`).
    ///
    /// # Errors
    /// A database error.
    pub async fn counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT state, mode, COUNT(*) AS n FROM bots GROUP BY state, mode")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("mode")?, int_column(r, "n")?)))
            .collect()
    }
}

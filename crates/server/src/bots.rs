//! Bots over the API: create (a paper bot on the replay venue: a strategy, a dataset and a
//! speed), start, pause, stop, the workspace kill switch, the event log, and the `bot:{id}`
//! websocket channel fed from it.
//!
//! Invariants:
//! - The server never trades: it records what users ask (`desired`), and the worker holding
//!   the bot follows at its next heartbeat.
//! - A bot's settings are checked with the worker's own code before the bot is stored (the
//!   strategy compiles, the data exists), so a bot that starts does not fail on its input.
//! - Paper bots need the analyst role (like backtests); live bots are for owners and traders;
//!   the kill switch is for owners and traders.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use skeet_store::bots::{Bot, BotEvent, NewBot};
use utoipa::ToSchema;

use crate::error::{ApiJson, ErrorBody};
use crate::jobs::BacktestBody;
use crate::{ApiError, AppState, Caller, blocking};

/// A bot to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BotBody {
    /// Name, unique in the workspace (1 to 100 characters).
    name: String,
    /// `paper` (default) or `live` (owners and traders).
    #[serde(default)]
    mode: Option<String>,
    /// Paper: `replay` (default): the strategy trades the dataset's bars, paced at `speed`.
    /// Live: the venue (`binance`, `kraken`, `coinbase`, `alpaca`).
    #[serde(default)]
    venue: Option<String>,
    /// Live bots: `{credential_id, quote_per_trade, warmup_bars?}` (the symbol and timeframe
    /// come from `run`).
    #[serde(default)]
    #[schema(value_type = Option<LiveSettingsDoc>)]
    live: Option<serde_json::Value>,
    /// What to run and on which data, as for a backtest (strategy or spec or strategy_id;
    /// dataset or symbol and timeframe; cash, commission, fill).
    run: BacktestBody,
    /// Replay speed, bars per second (0.1 to 1000; default 5).
    #[serde(default)]
    speed: Option<f64>,
    /// Bars paced at `speed` at the end of the dataset (default 500); earlier bars are
    /// replayed at once as history.
    #[serde(default)]
    paced_bars: Option<usize>,
    /// Risk limits: `{max_order_notional?, max_position_notional?, max_open_orders?,
    /// max_drawdown_pct?}`; reaching the drawdown limit flattens the position and stops the
    /// bot.
    #[serde(default)]
    #[schema(value_type = Option<RiskSettingsDoc>)]
    risk: Option<serde_json::Value>,
    /// Notifications: `{webhook_url?, webhook_credential_id?, telegram_credential_id?,
    /// telegram_chat_id?, events?: ["fill", "risk", "mismatch", "state", "order", "equity",
    /// "error"]}`; the signing secret and the Telegram bot token are workspace credentials
    /// (venues `webhook` and `telegram`).
    #[serde(default)]
    #[schema(value_type = Option<NotifySettingsDoc>)]
    notify: Option<serde_json::Value>,
}

// The shapes of a bot's settings for the API's schema. The worker defines and checks them
// (the server does not depend on it); these mirrors only describe them, and a test in
// crates/cli compares their fields with the worker's.

/// A bot's risk limits (all optional; docs/bots.md).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes the JSON the worker reads; never built here"
)]
pub(crate) struct RiskSettingsDoc {
    /// Largest order value (quote currency): entries are sized down to it.
    max_order_notional: Option<f64>,
    /// Largest position value (quote currency): entries are sized down to it.
    max_position_notional: Option<f64>,
    /// Most working orders at once.
    max_open_orders: Option<u32>,
    /// Drawdown from the equity peak, percent, that flattens and stops the bot (`killed`).
    max_drawdown_pct: Option<f64>,
    /// Bots on live data: the loss (quote) since the start of the UTC day that stops entries.
    max_daily_loss: Option<f64>,
    /// Bots on live data: refuse an entry this many percent from the close decided on.
    price_band_pct: Option<f64>,
    /// Bots on live data: the most the workspace's bots of this mode may hold together.
    max_total_exposure: Option<f64>,
}

/// A bot's notifications.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes the JSON the worker reads; never built here"
)]
pub(crate) struct NotifySettingsDoc {
    /// A URL that receives a signed JSON POST per event.
    webhook_url: Option<String>,
    /// The credential (venue `webhook`) whose secret signs webhook bodies.
    webhook_credential_id: Option<String>,
    /// The credential (venue `telegram`) holding the bot token.
    telegram_credential_id: Option<String>,
    /// The Telegram chat to write to.
    telegram_chat_id: Option<String>,
    /// Event kinds to send (default: fill, risk, mismatch, error, summary).
    events: Option<Vec<String>>,
}

/// A bot's settings for trading on a venue (`live` of a new bot).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes the JSON the server reads; never built here"
)]
pub(crate) struct LiveSettingsDoc {
    /// The exchange credential (live bots; paper bots on live data need none).
    credential_id: Option<String>,
    /// Quote amount each entry spends (decimal string).
    quote_per_trade: String,
    /// Recent bars loaded at start for the indicators (10 to 5,000; default 300).
    warmup_bars: Option<u32>,
}

/// Checks that the credentials a `notify` setting names exist in the workspace.
async fn check_notify(s: &AppState, ws: &str, notify: &serde_json::Value) -> Result<(), ApiError> {
    let creds = s.vault.list(ws).await?;
    for (field, venue) in [
        ("webhook_credential_id", "webhook"),
        ("telegram_credential_id", "telegram"),
    ] {
        if let Some(id) = notify[field].as_str() {
            match creds.iter().find(|c| c.id == id) {
                Some(c) if c.venue == venue => {}
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "notify.{field}: no '{venue}' credential {id} in this workspace; add the secret under Exchange accounts with venue '{venue}'"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/bots", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = BotBody,
    responses((status = 201, body = Bot, description = "Created, stopped"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(b): ApiJson<BotBody>,
) -> Result<impl IntoResponse, ApiError> {
    let role = caller.writer_in(&s, &ws, "create bots").await?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    let mode = b.mode.as_deref().unwrap_or("paper");
    let on_venue = mode == "paper" && b.venue.as_deref().is_some_and(|v| v != "replay");
    if mode == "live" || on_venue {
        if mode == "live" && !role.can_trade_live() {
            return Err(ApiError::forbidden(
                "only owners and traders can create live bots",
            ));
        }
        let venue = b.venue.as_deref().unwrap_or_default();
        if !skeet_exchange::VENUES.contains(&venue) {
            return Err(ApiError::bad_request(format!(
                "venue: a live or paper bot on live data trades on one of {} (or `replay` for paper bots)",
                skeet_exchange::VENUES.join(", ")
            )));
        }
        let live = b.live.clone().unwrap_or_default();
        let cred = live["credential_id"].as_str().map(str::to_string);
        if mode == "live" {
            let cred = cred.clone().unwrap_or_default();
            let owned = s.vault.list(&ws).await?;
            match owned.iter().find(|c| c.id == cred) {
                Some(c) if c.venue == venue => {}
                Some(c) => {
                    return Err(ApiError::bad_request(format!(
                        "live.credential_id: that credential is for {}, not {venue}",
                        c.venue
                    )));
                }
                None => {
                    return Err(ApiError::bad_request(
                        "live.credential_id: no such exchange credential in this workspace",
                    ));
                }
            }
        }
        let paper_cash = b.run.cash().map(str::to_string);
        let run = b.run.resolve(&s, &ws).await?;
        let (spec, params, symbol, timeframe) = run.live_parts()?;
        let config = serde_json::json!({
            "spec": spec,
            "params": params,
            "symbol": symbol,
            "timeframe": timeframe,
            "credential_id": if mode == "live" { cred } else { None },
            "paper_cash": if mode == "live" { None } else { paper_cash },
            "quote_per_trade": live["quote_per_trade"],
            "warmup_bars": live["warmup_bars"],
            "risk": b.risk.clone().unwrap_or_else(|| serde_json::json!({})),
            "notify": b.notify.clone().unwrap_or_else(|| serde_json::json!({})),
        });
        check_notify(&s, &ws, &config["notify"]).await?;
        let validate = s.validate.clone();
        let dir = crate::datasets::workspace_dir(&s, &ws)?;
        let checked = config.clone();
        blocking(move || validate("live_bot", &dir, &checked).map_err(ApiError::bad_request))
            .await?;
        let bot = s
            .bots
            .create(
                &ws,
                &NewBot {
                    name: &name,
                    mode,
                    venue,
                    config: &config,
                    created_by: Some(&caller.user.id),
                },
            )
            .await?;
        return Ok((StatusCode::CREATED, axum::Json(bot)));
    }
    let venue = b.venue.as_deref().unwrap_or("replay");
    if mode != "paper" {
        return Err(ApiError::bad_request("mode: paper or live"));
    }
    if venue != "replay" {
        return Err(ApiError::bad_request(
            "venue: paper bots run on the replay venue (stored data at a chosen speed) so far",
        ));
    }
    let run = b.run.resolve(&s, &ws).await?;
    let config = serde_json::json!({
        "run": serde_json::to_value(&run).map_err(|_| ApiError::internal())?,
        "speed": b.speed.unwrap_or(5.0),
        "paced_bars": b.paced_bars,
        "risk": b.risk.unwrap_or_else(|| serde_json::json!({})),
        "notify": b.notify.unwrap_or_else(|| serde_json::json!({})),
    });
    check_notify(&s, &ws, &config["notify"]).await?;
    let validate = s.validate.clone();
    let dir = crate::datasets::workspace_dir(&s, &ws)?;
    let checked = config.clone();
    blocking(move || validate("bot", &dir, &checked).map_err(ApiError::bad_request)).await?;
    let bot = s
        .bots
        .create(
            &ws,
            &NewBot {
                name: &name,
                mode,
                venue,
                config: &config,
                created_by: Some(&caller.user.id),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(bot)))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/bots", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id")),
    responses((status = 200, body = [Bot]), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.bots.list(&ws).await?))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/bots/{id}", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 200, body = Bot), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.bots.get(&ws, &id).await?))
}

/// New risk limits or notifications for a bot, running or not.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BotSettingsBody {
    /// Risk limits, replacing the bot's (same fields as when creating a bot); omitted:
    /// unchanged.
    #[serde(default)]
    #[schema(value_type = Option<RiskSettingsDoc>)]
    risk: Option<serde_json::Value>,
    /// Notifications, replacing the bot's; omitted: unchanged.
    #[serde(default)]
    #[schema(value_type = Option<NotifySettingsDoc>)]
    notify: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/api/workspaces/{ws}/bots/{id}", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    request_body = BotSettingsBody,
    responses((status = 200, body = Bot, description = "Saved; a running bot applies them within a heartbeat (from its next bar or order) and logs a `settings` event"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<BotSettingsBody>,
) -> Result<impl IntoResponse, ApiError> {
    let role = caller.writer_in(&s, &ws, "edit bots").await?;
    let bot = s.bots.get(&ws, &id).await?;
    if bot.mode == "live" && !role.can_trade_live() {
        return Err(ApiError::forbidden(
            "only owners and traders can edit live bots",
        ));
    }
    if b.risk.is_none() && b.notify.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: give `risk` and/or `notify`",
        ));
    }
    let mut config = bot.config.clone();
    if let Some(risk) = b.risk {
        config["risk"] = risk;
    }
    if let Some(notify) = b.notify {
        check_notify(&s, &ws, &notify).await?;
        config["notify"] = notify;
    }
    // The worker's own checks, on the whole settings as they will be stored.
    let kind = if bot.venue == "replay" {
        "bot"
    } else {
        "live_bot"
    };
    let validate = s.validate.clone();
    let dir = crate::datasets::workspace_dir(&s, &ws)?;
    let checked = config.clone();
    blocking(move || validate(kind, &dir, &checked).map_err(ApiError::bad_request)).await?;
    let bot = s.bots.update_config(&ws, &id, &config).await?;
    metrics::counter!("skeet_bot_commands_total", "command" => "edit").increment(1);
    Ok(axum::Json(bot))
}

#[utoipa::path(delete, path = "/api/workspaces/{ws}/bots/{id}", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 204, description = "Deleted with its events and journal"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "delete bots").await?;
    s.bots.delete(&ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn command(
    s: &AppState,
    caller: &Caller,
    ws: &str,
    id: &str,
    desired: &str,
) -> Result<Bot, ApiError> {
    let role = caller.writer_in(s, ws, "control bots").await?;
    let bot = s.bots.get(ws, id).await?;
    if bot.mode == "live" && !role.can_trade_live() {
        return Err(ApiError::forbidden(
            "only owners and traders can control live bots",
        ));
    }
    let bot = s.bots.set_desired(ws, id, desired).await?;
    metrics::counter!("skeet_bot_commands_total", "command" => desired.to_string()).increment(1);
    Ok(bot)
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/bots/{id}/start", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 200, body = Bot, description = "Asked to run; a worker picks it up within a second"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn start(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let bot = s.bots.get(&ws, &id).await?;
    let limit = if bot.mode == "live" {
        s.plan.live_bots
    } else {
        s.plan.paper_bots
    };
    if let Some(max) = limit {
        let active = s
            .bots
            .list(&ws)
            .await?
            .iter()
            .filter(|b| b.id != id && b.mode == bot.mode && b.desired != "stopped")
            .count();
        if active >= max {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "plan_limit",
                format!(
                    "this workspace may run {max} {} bot{} at once (the plan's limit) and {active} {} running; stop one first",
                    bot.mode,
                    if max == 1 { "" } else { "s" },
                    if active == 1 { "is" } else { "are" },
                ),
            ));
        }
    }
    Ok(axum::Json(command(&s, &caller, &ws, &id, "running").await?))
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/bots/{id}/pause", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 200, body = Bot, description = "Asked to pause (keeps its orders and position)"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn pause(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(command(&s, &caller, &ws, &id, "paused").await?))
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/bots/{id}/stop", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id"), StopQuery),
    responses((status = 200, body = Bot, description = "Asked to stop"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn stop(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<StopQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let bot = s.bots.get(&ws, &id).await?;
    // A bot on a venue cancels its working orders before it stops, unless asked to leave
    // them; a replayed bot's orders live in its engine and are kept for a restart.
    let desired = if bot.venue != "replay" && q.cancel_orders.unwrap_or(true) {
        "cancel"
    } else {
        "stopped"
    };
    Ok(axum::Json(command(&s, &caller, &ws, &id, desired).await?))
}

/// How to stop.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StopQuery {
    /// Bots on a venue: cancel the bot's working orders first (default `true`); `false`
    /// leaves them at the venue (they are reconciled when the bot starts again).
    cancel_orders: Option<bool>,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/bots/{id}/flatten", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 200, body = Bot, description = "Asked to close its position (a market order) and stop"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn flatten(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let bot = s.bots.get(&ws, &id).await?;
    if !matches!(bot.state.as_str(), "running" | "paused" | "starting") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "the bot is {}: only a running or paused bot can flatten",
                bot.state
            ),
        ));
    }
    Ok(axum::Json(command(&s, &caller, &ws, &id, "flatten").await?))
}

/// How many bots the kill switch stopped.
#[derive(serde::Serialize, ToSchema)]
pub(crate) struct Stopped {
    /// Bots asked to stop.
    stopped: u64,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/bots/stop-all", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id")),
    responses((status = 200, body = Stopped, description = "Every bot of the workspace asked to stop (the kill switch)"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn stop_all(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let role = caller.role_in(&s, &ws).await?;
    if !role.can_trade_live() {
        return Err(ApiError::forbidden(
            "only owners and traders can stop every bot of the workspace",
        ));
    }
    let stopped = s.bots.stop_all(&ws).await?;
    tracing::warn!(workspace = %ws, stopped, user = %caller.user.id, "kill switch: every bot asked to stop");
    Ok(axum::Json(Stopped { stopped }))
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/bots/{id}/divergence", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 202, body = skeet_store::jobs::Job, description = "Queued: the job's result lists every fill that differs from the backtest over the same bars, with its cause"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn divergence(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "run divergence reports").await?;
    let bot = s.bots.get(&ws, &id).await?;
    let bars = bot.summary["bar"].as_u64().unwrap_or(0);
    if bars == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the bot has not processed any bar yet; start it first",
        ));
    }
    let mut fills = Vec::new();
    let mut after = 0;
    loop {
        let page = s.bots.events(&id, after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        fills.extend(page.into_iter().filter(|e| e.kind == "fill").map(|e| {
            serde_json::json!({
                "bar": e.data["bar"],
                "side": e.data["side"],
                "quantity": e.data["quantity"],
                "price": e.data["price"],
            })
        }));
    }
    let payload = serde_json::json!({
        "bot_id": id,
        "config": bot.config,
        "bars": bars,
        "fills": fills,
    });
    let job = crate::jobs::queue(&s, &caller, &ws, "divergence", &payload, 1).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/bots/{id}/orders", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 200, body = [skeet_store::bots::JournalEntry], description = "The order journal, oldest first: every order the bot intended, with its state at the venue"), (status = 404, body = ErrorBody)))]
pub(crate) async fn journal(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    s.bots.get(&ws, &id).await?;
    Ok(axum::Json(s.bots.journal(&id).await?))
}

/// Which events.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct EventsQuery {
    /// Events after this sequence number (default 0: from the start).
    after: Option<i64>,
    /// At most this many (default 1000, at most 5000).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/bots/{id}/events", tag = "bots",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Bot id"), EventsQuery),
    responses((status = 200, body = [BotEvent], description = "Oldest first"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<EventsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    s.bots.get(&ws, &id).await?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be from 1 to 5000"));
    }
    Ok(axum::Json(
        s.bots.events(&id, q.after.unwrap_or(0), limit).await?,
    ))
}

/// The ids of the channels someone watches under `prefix` (`bot:`, `workspace:`).
fn watched_ids(state: &AppState, prefix: &str) -> Vec<String> {
    state
        .hub
        .channels_with_prefix(prefix)
        .into_iter()
        .filter_map(|c| c.strip_prefix(prefix).map(str::to_string))
        .collect()
}

/// Pushes the bots of watched workspaces that changed since the last push, as `bot` events
/// on `workspace:{id}` (the bots list and portfolio follow states and PnL without polling).
///
/// `updated_at` is stamped by each writer before it commits, so two writes can commit out of
/// order or share a millisecond: each read looks back [`LOOK_BACK_MS`] before the newest
/// change pushed, and a bot goes out only when it is newer than what its watchers last got.
async fn push_workspace_bots(state: &AppState, sent: &mut HashMap<String, WorkspacePushed>) {
    let watched = watched_ids(state, "workspace:");
    sent.retain(|ws, _| watched.contains(ws));
    for ws in watched {
        let pushed = sent.entry(ws.clone()).or_insert_with(|| WorkspacePushed {
            newest: skeet_store::now_ms(),
            bots: HashMap::new(),
        });
        let Ok(changed) = state
            .bots
            .changed_since(&ws, pushed.newest - LOOK_BACK_MS)
            .await
        else {
            continue;
        };
        let channel = format!("workspace:{ws}");
        for b in changed {
            if pushed.bots.get(&b.id).is_some_and(|t| *t >= b.updated_at) {
                continue;
            }
            let text =
                serde_json::json!({"type": "event", "channel": channel, "event": "bot", "data": b});
            state.hub.publish(&channel, &text.to_string().into());
            pushed.newest = pushed.newest.max(b.updated_at);
            pushed.bots.insert(b.id, b.updated_at);
        }
    }
}

/// How far before the newest change pushed each read of a workspace's bots looks again.
const LOOK_BACK_MS: i64 = 2_000;

/// What a workspace's watchers were sent: the newest change, and each bot's last version.
struct WorkspacePushed {
    newest: i64,
    bots: HashMap<String, i64>,
}

/// Events pushed per bot and watcher wake-up (well under a client's 256-message queue).
const WATCH_PAGE: i64 = 100;

/// Pushes new events of every bot someone watches (`bot:{id}` channels) to them: events are
/// read from the log (so bots run by `skeet worker` processes elsewhere are pushed too),
/// every `every`.
pub async fn watch_bots(
    state: Arc<AppState>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut sent: HashMap<String, i64> = HashMap::new();
    // Workspace watchers get each changed bot (state, numbers) at most four times a second:
    // one query per watched workspace each time, however many clients watch it.
    let mut ws_sent: HashMap<String, WorkspacePushed> = HashMap::new();
    let mut ws_checked = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.bot_changed.notified() => {}
            _ = stop.changed() => return,
        }
        if ws_checked.elapsed() >= every.max(Duration::from_millis(250)) {
            ws_checked = tokio::time::Instant::now();
            push_workspace_bots(&state, &mut ws_sent).await;
        }
        let watched = watched_ids(&state, "bot:");
        sent.retain(|id, _| watched.contains(id));
        for id in watched {
            let after = match sent.get(&id) {
                Some(s) => *s,
                None => {
                    // A new watcher: from now on (history is read over HTTP).
                    let last = state.bots.last_seq(&id).await.unwrap_or(0);
                    sent.insert(id.clone(), last);
                    continue;
                }
            };
            // At most WATCH_PAGE events per bot and wake-up: a burst (a bot replaying its
            // history publishes hundreds at once) goes out over several wake-ups instead of
            // overflowing the clients' queues (256) and getting them dropped.
            let Ok(events) = state.bots.events(&id, after, WATCH_PAGE).await else {
                continue;
            };
            let channel = format!("bot:{id}");
            for e in &events {
                let text = serde_json::json!({"type": "event", "channel": channel, "event": "bot", "data": e});
                state.hub.publish(&channel, &text.to_string().into());
            }
            if let Some(last) = events.last() {
                sent.insert(id, last.seq);
            }
        }
    }
}

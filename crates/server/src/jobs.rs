//! Jobs, backtests and optimisations: submitted as jobs on the shared queue, run by the
//! workers, read back with their results.
//!
//! A submission is checked before it is queued (the workers' own validation, injected as
//! [`crate::Validator`]), so a bad request is a 400 now rather than a failed job later.
//! A request may name a saved strategy (`strategy_id`, optional `strategy_version`) and a
//! dataset (`dataset`); they are resolved here, in the caller's workspace, and the job
//! payload records the exact spec and series, so rerunning a job reruns the same thing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use skeet_store::jobs::{Job, JobState};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiJson, ApiQuery, ErrorBody, Page, page};
use crate::{ApiError, AppState, Caller, blocking};

/// Lists and filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListJobs {
    /// Only jobs in this state: queued, running, succeeded, failed, cancelled.
    state: Option<String>,
    /// Only jobs of this kind (`backtest`, `optimize`).
    kind: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<i64>,
    /// Rows to skip.
    offset: Option<i64>,
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobPage {
    items: Vec<Job>,
    limit: i64,
    offset: i64,
}

fn parse_state(state: Option<&str>) -> Result<Option<JobState>, ApiError> {
    match state {
        None | Some("") => Ok(None),
        Some(name) => JobState::ALL
            .into_iter()
            .find(|st| st.as_str() == name)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "state '{name}' is not a job state; use queued, running, succeeded, failed or cancelled"
                ))
            }),
    }
}

async fn list_of(
    s: &AppState,
    caller: &Caller,
    ws: &str,
    kind: Option<&str>,
    q: &ListJobs,
) -> Result<JobPage, ApiError> {
    caller.role_in(s, ws).await?;
    let state = parse_state(q.state.as_deref())?;
    let Page { limit, offset } = page(q.limit, q.offset)?;
    let kind = kind.or(q.kind.as_deref().filter(|k| !k.is_empty()));
    let items = s.jobs.list(ws, kind, state, limit, offset).await?;
    Ok(JobPage {
        items,
        limit,
        offset,
    })
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/jobs", tag = "jobs",
    params(("ws" = String, Path, description = "Workspace id"), ListJobs),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_jobs(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<ListJobs>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(list_of(&s, &caller, &ws, None, &q).await?))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/jobs/{id}", tag = "jobs",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_job(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.jobs.get(&ws, &id).await?))
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/jobs/{id}/cancel", tag = "jobs",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Job, description = "Cancelled, or cancel requested for a running job"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn cancel_job(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "cancel jobs").await?;
    let job = s.jobs.cancel(&ws, &id).await?;
    s.job_changed.notify_one();
    Ok(axum::Json(job))
}

/// A backtest to run (also the `run` part of an optimisation).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BacktestBody {
    /// A built-in template name; or give `spec`, or `strategy_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strategy: Option<String>,
    /// A spec document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<serde_json::Value>,
    /// A saved strategy of the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strategy_id: Option<String>,
    /// Its version (default: the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strategy_version: Option<i64>,
    /// Parameter values (`{"fast": 10}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    params: BTreeMap<String, f64>,
    /// A dataset of the workspace; or give `symbol` and `timeframe` (and `venue` when the
    /// symbol is stored for several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dataset: Option<String>,
    /// Symbol of a stored series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    symbol: Option<String>,
    /// Its timeframe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeframe: Option<String>,
    /// Its venue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    venue: Option<String>,
    /// Starting cash, decimal string (default "10000").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cash: Option<String>,
    /// Fee per fill, decimal string (default "0.001" = 0.1 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commission: Option<String>,
    /// `next-open` (default), `close` or `intrabar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fill: Option<String>,
}

impl BacktestBody {
    /// Resolves `strategy_id` and `dataset` within `ws` into `spec` and the series fields.
    /// The starting cash asked for, if any.
    pub(crate) fn cash(&self) -> Option<&str> {
        self.cash.as_deref()
    }

    /// What a live bot takes from a resolved request: the spec (templates expanded), the
    /// parameters, the symbol and the timeframe.
    pub(crate) fn live_parts(
        &self,
    ) -> Result<(serde_json::Value, BTreeMap<String, f64>, String, String), ApiError> {
        let spec = match (&self.spec, &self.strategy) {
            (Some(s), _) => s.clone(),
            (None, Some(name)) => {
                let text = skeet_strategy::templates::json(name).ok_or_else(|| {
                    ApiError::bad_request(format!("strategy: no template named '{name}'"))
                })?;
                serde_json::from_str(text).map_err(|_| ApiError::internal())?
            }
            (None, None) => {
                return Err(ApiError::bad_request(
                    "run: give strategy (a template), spec or strategy_id",
                ));
            }
        };
        let symbol = self.symbol.clone().ok_or_else(|| {
            ApiError::bad_request(
                "run.symbol: a live bot needs the symbol it trades, e.g. BTC/USDT",
            )
        })?;
        let timeframe = self.timeframe.clone().ok_or_else(|| {
            ApiError::bad_request("run.timeframe: a live bot needs its bar timeframe, e.g. 1m")
        })?;
        Ok((spec, self.params.clone(), symbol, timeframe))
    }

    pub(crate) async fn resolve(mut self, s: &AppState, ws: &str) -> Result<Self, ApiError> {
        if let Some(id) = &self.strategy_id {
            if self.spec.is_some() || self.strategy.is_some() {
                return Err(ApiError::bad_request(
                    "give one of strategy (a template), spec and strategy_id",
                ));
            }
            let version = match self.strategy_version {
                Some(v) => v,
                None => {
                    s.strategies
                        .get(ws, id)
                        .await
                        .map_err(|_| {
                            ApiError::bad_request(format!(
                                "strategy_id: no strategy {id} in this workspace"
                            ))
                        })?
                        .latest_version
                }
            };
            let v = s.strategies.version(ws, id, version).await.map_err(|_| {
                ApiError::bad_request(format!(
                    "strategy_version: strategy {id} has no version {version} in this workspace"
                ))
            })?;
            self.spec = Some(v.spec);
            self.strategy_version = Some(version);
        } else if let Some(doc) = self.spec.clone() {
            // A spec sent inline gets the same checks as a saved one (its rules compile), so
            // it is a 400 now rather than a failed job later.
            blocking(move || {
                crate::strategies::check_spec(&doc)
                    .map(|_| ())
                    .map_err(|e| crate::strategies::invalid_spec(&e))
            })
            .await?;
        } else if self.strategy_version.is_some() {
            return Err(ApiError::bad_request("strategy_version needs strategy_id"));
        }
        if let Some(id) = &self.dataset {
            if self.symbol.is_some() || self.timeframe.is_some() || self.venue.is_some() {
                return Err(ApiError::bad_request(
                    "give dataset, or symbol and timeframe; not both",
                ));
            }
            let d = s.datasets.get(ws, id).await.map_err(|_| {
                ApiError::bad_request(format!("dataset: no dataset {id} in this workspace"))
            })?;
            self.symbol = Some(d.symbol);
            self.timeframe = Some(d.timeframe);
            self.venue = Some(d.venue);
        }
        if self.symbol.is_none() || self.timeframe.is_none() {
            return Err(ApiError::bad_request(
                "give dataset (an id from /datasets), or symbol and timeframe",
            ));
        }
        Ok(self)
    }
}

/// Checks a payload with the workers' validation (off the async threads: it reads the
/// store's directory), queues it, and wakes the in-process workers and the job watcher.
pub(crate) async fn queue(
    s: &AppState,
    caller: &Caller,
    ws: &str,
    kind: &'static str,
    payload: &serde_json::Value,
    max_attempts: i64,
) -> Result<Job, ApiError> {
    let validate = s.validate.clone();
    let dir = crate::datasets::workspace_dir(s, ws)?;
    let checked = payload.clone();
    blocking(move || validate(kind, &dir, &checked).map_err(ApiError::bad_request)).await?;
    let job = s
        .jobs
        .enqueue(ws, kind, payload, max_attempts, Some(&caller.user.id))
        .await?;
    s.job_queued.notify_one();
    s.job_changed.notify_one();
    Ok(job)
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/backtests", tag = "backtests",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = BacktestBody,
    responses((status = 202, body = Job, description = "Queued; follow it on /api/ws or poll the job"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn submit_backtest(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<BacktestBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "run backtests").await?;
    let body = body.resolve(&s, &ws).await?;
    let payload = serde_json::to_value(&body).map_err(|_| ApiError::internal())?;
    let job = queue(&s, &caller, &ws, "backtest", &payload, 3).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

/// An optimisation to run.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OptimizeBody {
    /// Strategy, data and settings, as for a backtest; `run.params` fixes parameters.
    run: BacktestBody,
    /// Searched values per parameter: `"5..50:5"` or `"10,20,50"`; unnamed parameters use
    /// the spec's declared ranges.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    ranges: BTreeMap<String, String>,
    /// `grid` (default), `random` or `bayes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    /// `sharpe` (default), `sortino`, `return`, `calmar`, `profit_factor`, `max_drawdown`,
    /// `win_rate`, `sqn`, or a mix like `sharpe=0.7,calmar=0.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    objective: Option<String>,
    /// Trials of random and Bayesian searches (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trials: Option<usize>,
    /// Seed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    /// Trials with fewer closed trades do not count (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_trades: Option<usize>,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/optimizations", tag = "optimizations",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = OptimizeBody,
    responses((status = 202, body = Job, description = "Queued; progress arrives on /api/ws"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn submit_optimization(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(mut body): ApiJson<OptimizeBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "run optimisations").await?;
    body.run = body.run.resolve(&s, &ws).await?;
    let payload = serde_json::to_value(&body).map_err(|_| ApiError::internal())?;
    let job = queue(&s, &caller, &ws, "optimize", &payload, 2).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/backtests", tag = "backtests",
    params(("ws" = String, Path, description = "Workspace id"), ListJobs),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_backtests(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<ListJobs>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        list_of(&s, &caller, &ws, Some("backtest"), &q).await?,
    ))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/optimizations", tag = "optimizations",
    params(("ws" = String, Path, description = "Workspace id"), ListJobs),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_optimizations(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<ListJobs>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        list_of(&s, &caller, &ws, Some("optimize"), &q).await?,
    ))
}

async fn job_of_kind(
    s: &AppState,
    caller: &Caller,
    ws: &str,
    id: &str,
    kind: &str,
) -> Result<Job, ApiError> {
    caller.role_in(s, ws).await?;
    let job = s.jobs.get(ws, id).await?;
    if job.kind != kind {
        return Err(ApiError::not_found(format!("no such {kind}")));
    }
    Ok(job)
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/backtests/{id}", tag = "backtests",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Backtest (job) id")),
    responses((status = 200, body = Job, description = "The job; `result` holds the whole report once it succeeded"), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_backtest(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        job_of_kind(&s, &caller, &ws, &id, "backtest").await?,
    ))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/optimizations/{id}", tag = "optimizations",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Optimisation (job) id")),
    responses((status = 200, body = Job, description = "The job; `result` holds every trial, the heat map and the guards once it succeeded"), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_optimization(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        job_of_kind(&s, &caller, &ws, &id, "optimize").await?,
    ))
}

/// The report of a succeeded backtest, or 409 saying where the job is.
async fn report(
    s: &AppState,
    caller: &Caller,
    ws: &str,
    id: &str,
) -> Result<serde_json::Value, ApiError> {
    let job = job_of_kind(s, caller, ws, id, "backtest").await?;
    match (job.state, job.result) {
        (JobState::Succeeded, Some(r)) => Ok(r),
        (state, _) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "the backtest is {}; its results are available once it has succeeded",
                state.as_str()
            ),
        )),
    }
}

/// A page window of a result list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Window {
    /// Page size, 1 to 500 (default 50).
    limit: Option<i64>,
    /// Rows to skip.
    offset: Option<i64>,
}

/// A page of trades.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TradePage {
    /// Closed trades (see the backtest report format in docs/backtesting.md).
    items: Vec<serde_json::Value>,
    /// Trades in the whole report.
    total: usize,
    limit: i64,
    offset: i64,
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/backtests/{id}/trades", tag = "backtests",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Backtest id"), Window),
    responses((status = 200, body = TradePage), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn backtest_trades(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<Window>,
) -> Result<impl IntoResponse, ApiError> {
    let Page { limit, offset } = page(q.limit, q.offset)?;
    let mut r = report(&s, &caller, &ws, &id).await?;
    let trades = match r.get_mut("trades").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(t)) => t,
        _ => Vec::new(),
    };
    let total = trades.len();
    let items = trades
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    Ok(axum::Json(TradePage {
        items,
        total,
        limit,
        offset,
    }))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/backtests/{id}/equity", tag = "backtests",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Backtest id")),
    responses((status = 200, body = Vec<serde_json::Value>, description = "Sampled equity and drawdown curve"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn backtest_equity(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let mut r = report(&s, &caller, &ws, &id).await?;
    Ok(axum::Json(
        r.get_mut("equity_curve")
            .map(serde_json::Value::take)
            .unwrap_or_default(),
    ))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/backtests/{id}/metrics", tag = "backtests",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Backtest id")),
    responses((status = 200, body = serde_json::Value, description = "The report without trades, orders and the equity curve: metrics, final equity, settings, hashes"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn backtest_metrics(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let mut r = report(&s, &caller, &ws, &id).await?;
    if let Some(o) = r.as_object_mut() {
        for heavy in ["trades", "orders", "equity_curve"] {
            o.remove(heavy);
        }
    }
    Ok(axum::Json(r))
}

/// A walk-forward analysis to run.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WalkForwardBody {
    /// The search repeated in every training window (as for an optimisation).
    search: OptimizeBody,
    /// Out-of-sample windows (default 5, at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    windows: Option<usize>,
    /// Training window in bars (default: three test windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_sample: Option<usize>,
    /// Test window in bars (default: the rest after the first training window, split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    out_of_sample: Option<usize>,
    /// Training windows start at the first bar and grow (default: they roll).
    #[serde(default)]
    anchored: bool,
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/walkforwards", tag = "optimizations",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = WalkForwardBody,
    responses((status = 202, body = Job, description = "Queued; progress (windows done) arrives on /api/ws"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn submit_walkforward(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(mut body): ApiJson<WalkForwardBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller
        .writer_in(&s, &ws, "run walk-forward analyses")
        .await?;
    body.search.run = body.search.run.resolve(&s, &ws).await?;
    let payload = serde_json::to_value(&body).map_err(|_| ApiError::internal())?;
    let job = queue(&s, &caller, &ws, "walkforward", &payload, 2).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/walkforwards", tag = "optimizations",
    params(("ws" = String, Path, description = "Workspace id"), ListJobs),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_walkforwards(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<ListJobs>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        list_of(&s, &caller, &ws, Some("walkforward"), &q).await?,
    ))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/walkforwards/{id}", tag = "optimizations",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Walk-forward (job) id")),
    responses((status = 200, body = Job, description = "The job; `result` holds every window, the stitched out-of-sample metrics, equity and trades, and the efficiency ratio (as `skeet walkforward -o`)"), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_walkforward(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        job_of_kind(&s, &caller, &ws, &id, "walkforward").await?,
    ))
}

//! Strategies: specs saved per workspace with every version kept, the validate endpoint
//! (the rule language's errors with JSON path and line/column), and the built-in templates.
//!
//! A spec is validated exactly as a backtest would read it (parse, parameter defaults, and a
//! compile of every rule against a small synthetic series) before it is saved, so a saved
//! version always compiles.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use skeet_core::Timeframe;
use skeet_data::generate::{GenerateParams, generate};
use skeet_store::strategies::{Strategy, StrategyVersion};
use skeet_strategy::{SeriesData, SpecError, StrategySpec, compile, templates};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiJson, ApiQuery, ErrorBody, Page, page};
use crate::{ApiError, AppState, Caller, blocking};

/// One problem in a spec.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SpecProblem {
    /// JSON path of the field (`entry.long`, `parameters.fast`), or empty for a syntax error.
    path: String,
    /// 1-based line: in the JSON text for a syntax error, in the rule for a rule error.
    line: Option<usize>,
    /// 1-based column, likewise.
    column: Option<usize>,
    /// What is wrong.
    message: String,
    /// How to fix it.
    hint: Option<String>,
}

/// The outcome of validating a spec.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Validation {
    /// True when the spec can be saved and run.
    valid: bool,
    /// The problems found (the first one stops checking).
    errors: Vec<SpecProblem>,
    /// Hash of the canonical spec, when valid.
    spec_hash: Option<String>,
    /// Bars needed before the first signal can fire with the default parameters, when valid.
    warmup_bars: Option<usize>,
}

fn problem(e: &SpecError) -> SpecProblem {
    match e {
        SpecError::Json {
            line,
            column,
            message,
        } => SpecProblem {
            path: String::new(),
            line: Some(*line),
            column: Some(*column),
            message: message.clone(),
            hint: None,
        },
        SpecError::Invalid(l) => SpecProblem {
            path: l.path.clone(),
            line: l.pos.map(|p| p.0),
            column: l.pos.map(|p| p.1),
            message: l.message.clone(),
            hint: l.hint.clone(),
        },
    }
}

/// Parses and compiles `doc`; on success the spec and its warm-up.
pub(crate) fn check_spec(doc: &serde_json::Value) -> Result<(StrategySpec, usize), SpecError> {
    let text = match doc {
        // A spec sent as a string is the editor's text: errors then point into it.
        serde_json::Value::String(t) => t.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let spec = StrategySpec::from_json(&text)?;
    let params = spec.resolve_params(&[])?;
    let tf: Timeframe = spec
        .universe
        .timeframe
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(Timeframe::H1);
    // Enough bars that every extra timeframe has a few bars of its own.
    let bars = generate(&GenerateParams::new(tf, 2_000, 1), &skeet_data::NoProgress)
        .map_err(|e| SpecError::at("universe.timeframe", e.to_string()))?;
    let data = SeriesData {
        ts: bars.ts(),
        open: bars.open(),
        high: bars.high(),
        low: bars.low(),
        close: bars.close(),
        volume: bars.volume(),
        timeframe: tf,
    };
    let warmup = compile(&spec, &params, &data)?.warmup();
    Ok((spec, warmup))
}

fn validation(doc: &serde_json::Value) -> Validation {
    match check_spec(doc) {
        Ok((spec, warmup)) => Validation {
            valid: true,
            errors: Vec::new(),
            spec_hash: Some(spec.hash()),
            warmup_bars: Some(warmup),
        },
        Err(e) => Validation {
            valid: false,
            errors: vec![problem(&e)],
            spec_hash: None,
            warmup_bars: None,
        },
    }
}

/// A spec to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateBody {
    /// The spec document (an object), or its JSON text (then positions point into the text).
    spec: serde_json::Value,
}

#[utoipa::path(post, path = "/api/strategies/validate", tag = "strategies",
    request_body = ValidateBody,
    responses((status = 200, body = Validation, description = "Checked; `valid` says whether it passed"), (status = 400, body = ErrorBody)))]
pub(crate) async fn validate(
    _caller: Caller,
    ApiJson(b): ApiJson<ValidateBody>,
) -> Result<impl IntoResponse, ApiError> {
    let v = blocking(move || Ok(validation(&b.spec))).await?;
    Ok(axum::Json(v))
}

/// A built-in template.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Template {
    /// Name (`sma_cross`).
    name: String,
    /// What it does.
    description: String,
    /// Its spec.
    spec: serde_json::Value,
}

#[utoipa::path(get, path = "/api/templates", tag = "strategies",
    responses((status = 200, body = [Template]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_templates(_caller: Caller) -> Result<impl IntoResponse, ApiError> {
    let list: Vec<Template> = templates::TEMPLATES
        .iter()
        .map(|(name, description)| Template {
            name: (*name).to_string(),
            description: (*description).to_string(),
            spec: templates::json(name)
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
        })
        .collect();
    Ok(axum::Json(list))
}

/// Lists and filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListStrategies {
    /// Names containing this text (case-insensitive).
    q: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<i64>,
    /// Rows to skip.
    offset: Option<i64>,
}

/// A page of strategies.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StrategyPage {
    items: Vec<Strategy>,
    limit: i64,
    offset: i64,
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/strategies", tag = "strategies",
    params(("ws" = String, Path, description = "Workspace id"), ListStrategies),
    responses((status = 200, body = StrategyPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<ListStrategies>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    let Page { limit, offset } = page(q.limit, q.offset)?;
    let items = s
        .strategies
        .list(&ws, q.q.as_deref(), limit, offset)
        .await?;
    Ok(axum::Json(StrategyPage {
        items,
        limit,
        offset,
    }))
}

/// A new strategy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    /// Name, unique in the workspace (1 to 100 characters).
    name: String,
    /// The spec (validated before saving), or `template` instead.
    #[serde(default)]
    spec: Option<serde_json::Value>,
    /// A template name to start from.
    #[serde(default)]
    template: Option<String>,
}

/// A spec that failed validation: 400 with the first problem's position in the message.
pub(crate) fn invalid_spec(e: &SpecError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_spec", e.to_string())
}

/// Validates and normalises a spec for storage (canonical JSON object) with its hash.
async fn checked(doc: serde_json::Value) -> Result<(serde_json::Value, String), ApiError> {
    blocking(move || {
        let (spec, _) = check_spec(&doc).map_err(|e| invalid_spec(&e))?;
        let stored: serde_json::Value = match doc {
            serde_json::Value::String(t) => {
                serde_json::from_str(&t).map_err(|e| ApiError::bad_request(format!("spec: {e}")))?
            }
            other => other,
        };
        Ok((stored, spec.hash()))
    })
    .await
}

#[utoipa::path(post, path = "/api/workspaces/{ws}/strategies", tag = "strategies",
    params(("ws" = String, Path, description = "Workspace id")),
    request_body = CreateBody,
    responses((status = 201, body = Strategy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "create strategies").await?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    let doc = match (b.spec, b.template) {
        (Some(spec), None) => spec,
        (None, Some(t)) => {
            let text = templates::json(&t).ok_or_else(|| {
                ApiError::bad_request(
                    templates::get(&t)
                        .err()
                        .map_or_else(String::new, |e| e.to_string()),
                )
            })?;
            serde_json::from_str(text).map_err(|_| ApiError::internal())?
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of spec (a spec document) and template (a template name)",
            ));
        }
    };
    let (spec, hash) = checked(doc).await?;
    let created = s
        .strategies
        .create(&ws, &name, &spec, &hash, &caller.user.id)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/strategies/{id}", tag = "strategies",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Strategy id")),
    responses((status = 200, body = Strategy), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.strategies.get(&ws, &id).await?))
}

/// A new version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SaveBody {
    /// The spec (validated before saving).
    spec: serde_json::Value,
}

#[utoipa::path(put, path = "/api/workspaces/{ws}/strategies/{id}", tag = "strategies",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Strategy id")),
    request_body = SaveBody,
    responses((status = 200, body = Strategy, description = "Saved as the next version"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn save(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<SaveBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "edit strategies").await?;
    s.strategies.get(&ws, &id).await?;
    let (spec, hash) = checked(b.spec).await?;
    Ok(axum::Json(
        s.strategies
            .add_version(&ws, &id, &spec, &hash, &caller.user.id)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/workspaces/{ws}/strategies/{id}", tag = "strategies",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Strategy id")),
    responses((status = 204, description = "Deleted with every version"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.writer_in(&s, &ws, "delete strategies").await?;
    s.strategies.delete(&ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/strategies/{id}/versions", tag = "strategies",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Strategy id")),
    responses((status = 200, body = [StrategyVersion]), (status = 404, body = ErrorBody)))]
pub(crate) async fn versions(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.strategies.versions(&ws, &id).await?))
}

#[utoipa::path(get, path = "/api/workspaces/{ws}/strategies/{id}/versions/{version}", tag = "strategies",
    params(("ws" = String, Path, description = "Workspace id"), ("id" = String, Path, description = "Strategy id"), ("version" = i64, Path, description = "Version number")),
    responses((status = 200, body = StrategyVersion), (status = 404, body = ErrorBody)))]
pub(crate) async fn version(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((ws, id, version)): Path<(String, String, i64)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.role_in(&s, &ws).await?;
    Ok(axum::Json(s.strategies.version(&ws, &id, version).await?))
}

//! The JSON API under `/api/`: the store's model types as JSON.
//!
//! | route | returns |
//! |---|---|
//! | `GET /api/traces?workflow=&user=&session=&model=&provider=&since=&q=&errors=&limit=&offset=` | `Page<TraceSummary>` |
//! | `GET /api/traces/{id}` | `Trace` |
//! | `GET /api/stats?by=workflow\|model\|provider\|user\|session\|day` | `Vec<StatsRow>` |
//! | `GET /api/sessions` | `Vec<SessionSummary>` |
//! | `GET /api/sessions/{id}` | `Vec<TraceSummary>` |
//! | `GET /api/models` | `Vec<ModelSeen>` |
//! | `GET /api/export-stats` | `ExportStats` |
//! | `GET /api/changes` | `{"version": "..."}`, changing whenever traces are added or removed |
//!
//! Errors are `{"error": "..."}` with status 400, 404 or 500.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tokentrace_store::GroupBy;

use super::pages::{TracesQuery, version};
use super::{AppState, Failure};
use crate::timefmt;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(serde_json::json!({ "error": self.message() })),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, Failure>;

/// The API routes (nested under `/api`).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/traces", get(traces))
        .route("/traces/{id}", get(trace))
        .route("/stats", get(stats))
        .route("/sessions", get(sessions))
        .route("/sessions/{id}", get(session))
        .route("/models", get(models))
        .route("/export-stats", get(export_stats))
        .route("/changes", get(changes))
        .fallback(|| async { Failure::NotFound("no such API route".to_owned()) })
}

async fn traces(State(state): State<AppState>, Query(q): Query<TracesQuery>) -> ApiResult {
    let filter = q.filter(timefmt::now_ns())?;
    let page = state.read(move |s| Ok(s.traces(&filter)?)).await?;
    Ok(Json(page).into_response())
}

async fn trace(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let id = id.to_ascii_lowercase();
    let trace = state.read(move |s| Ok(s.get_trace(&id)?)).await?;
    Ok(Json(trace).into_response())
}

#[derive(Deserialize)]
struct StatsQuery {
    by: Option<String>,
}

async fn stats(State(state): State<AppState>, Query(q): Query<StatsQuery>) -> ApiResult {
    let by = match q.by.as_deref().unwrap_or("workflow") {
        "workflow" => GroupBy::Workflow,
        "model" => GroupBy::Model,
        "provider" => GroupBy::Provider,
        "user" => GroupBy::User,
        "session" => GroupBy::Session,
        "day" => GroupBy::Day,
        other => {
            return Err(Failure::BadRequest(format!(
                "by={other:?}: expected workflow, model, provider, user, session or day"
            )));
        }
    };
    let rows = state.read(move |s| Ok(s.stats(by)?)).await?;
    Ok(Json(rows).into_response())
}

async fn sessions(State(state): State<AppState>) -> ApiResult {
    let rows = state.read(|s| Ok(s.sessions()?)).await?;
    Ok(Json(rows).into_response())
}

async fn session(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let rows = state.read(move |s| Ok(s.session(&id)?)).await?;
    Ok(Json(rows).into_response())
}

async fn models(State(state): State<AppState>) -> ApiResult {
    let rows = state.read(|s| Ok(s.models_seen()?)).await?;
    Ok(Json(rows).into_response())
}

async fn export_stats(State(state): State<AppState>) -> ApiResult {
    let stats = state.read(|s| Ok(s.export_stats()?)).await?;
    Ok(Json(stats).into_response())
}

async fn changes(State(state): State<AppState>) -> ApiResult {
    let v = state.read(version).await?;
    Ok(Json(serde_json::json!({ "version": v })).into_response())
}

//! HTML page handlers.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokentrace_store::{GroupBy, SessionSummary, Store, TraceFilter, TraceSummary};

use super::charts::{self, BarChart, ColumnChart, Measure};
use super::view::{self, TraceRow, TraceView};
use super::{AppState, Failure};
use crate::output;
use crate::timefmt;

/// Rows per page of the trace listing unless `?limit=` says otherwise.
const PAGE: u32 = 50;

/// The trace listing's filters, as the form submits them (empty fields are unset).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct TracesQuery {
    pub(crate) workflow: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) errors: Option<String>,
    pub(crate) limit: Option<String>,
    pub(crate) offset: Option<String>,
}

fn non_empty(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl TracesQuery {
    /// The store filter; a malformed value is a 400, not a silent no-op.
    pub(crate) fn filter(&self, now_ns: i64) -> Result<TraceFilter, Failure> {
        let limit = match non_empty(self.limit.as_ref()) {
            Some(v) => v
                .parse::<u32>()
                .map_err(|_| Failure::BadRequest(format!("limit {v:?} is not a number")))?
                .clamp(1, 1000),
            None => PAGE,
        };
        let offset = match non_empty(self.offset.as_ref()) {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| Failure::BadRequest(format!("offset {v:?} is not a number")))?,
            None => 0,
        };
        let mut f = TraceFilter::new()
            .page(limit, offset)
            .errors_only(non_empty(self.errors.as_ref()).is_some_and(|v| v != "0" && v != "false"));
        if let Some(v) = non_empty(self.workflow.as_ref()) {
            f = f.workflow(v);
        }
        if let Some(v) = non_empty(self.user.as_ref()) {
            f = f.user_id(v);
        }
        if let Some(v) = non_empty(self.session.as_ref()) {
            f = f.session_id(v);
        }
        if let Some(v) = non_empty(self.model.as_ref()) {
            f = f.model(v);
        }
        if let Some(v) = non_empty(self.provider.as_ref()) {
            f = f.provider(v);
        }
        if let Some(v) = non_empty(self.q.as_ref()) {
            f = f.text(v);
        }
        if let Some(v) = non_empty(self.since.as_ref()) {
            let since = timefmt::parse_since(&v, now_ns).map_err(Failure::BadRequest)?;
            f = f.time_range(Some(since), None);
        }
        Ok(f)
    }

    /// This query with another offset, as a link.
    fn href(&self, offset: u64) -> String {
        let q = view::query_string(&[
            ("workflow", non_empty(self.workflow.as_ref())),
            ("user", non_empty(self.user.as_ref())),
            ("session", non_empty(self.session.as_ref())),
            ("model", non_empty(self.model.as_ref())),
            ("provider", non_empty(self.provider.as_ref())),
            ("since", non_empty(self.since.as_ref())),
            ("q", non_empty(self.q.as_ref())),
            ("errors", non_empty(self.errors.as_ref())),
            ("limit", non_empty(self.limit.as_ref())),
            ("offset", (offset > 0).then(|| offset.to_string())),
        ]);
        format!("/{q}")
    }
}

/// A token that changes whenever traces are added or removed (for auto-refresh).
pub(crate) fn version(store: &Store) -> Result<String, Failure> {
    let newest = store.traces(&TraceFilter::new().page(1, 0))?;
    let spans = store.span_count()?;
    Ok(format!(
        "{}-{}-{spans}",
        newest.total,
        newest.items.first().map_or(0, |t| t.start_ns)
    ))
}

#[derive(Serialize)]
struct TracesCtx {
    title: &'static str,
    nav: &'static str,
    version: String,
    rows: Vec<TraceRow>,
    total: u64,
    first: u64,
    last: u64,
    prev_href: Option<String>,
    next_href: Option<String>,
    form: FormValues,
    workflows: Vec<String>,
    models: Vec<String>,
    providers: Vec<String>,
}

#[derive(Serialize)]
struct FormValues {
    workflow: String,
    user: String,
    session: String,
    model: String,
    provider: String,
    since: String,
    q: String,
    errors: bool,
}

/// `/`: the trace listing.
pub(crate) async fn traces(
    State(state): State<AppState>,
    Query(query): Query<TracesQuery>,
) -> Response {
    let filter = match query.filter(timefmt::now_ns()) {
        Ok(f) => f,
        Err(e) => return state.error_page(&e),
    };
    let result = state
        .read(move |store| {
            let page = store.traces(&filter)?;
            let keys = |by| -> Result<Vec<String>, Failure> {
                Ok(store.stats(by)?.into_iter().map(|r| r.key).collect())
            };
            Ok((
                page,
                keys(GroupBy::Workflow)?,
                keys(GroupBy::Model)?,
                keys(GroupBy::Provider)?,
                version(store)?,
            ))
        })
        .await;
    let (page, workflows, models, providers, version) = match result {
        Ok(v) => v,
        Err(e) => return state.error_page(&e),
    };
    let shown = page.items.len() as u64;
    let ctx = TracesCtx {
        title: "Traces",
        nav: "traces",
        version,
        rows: page.items.iter().map(TraceRow::new).collect(),
        total: page.total,
        first: if shown == 0 { 0 } else { page.offset + 1 },
        last: page.offset + shown,
        prev_href: (page.offset > 0)
            .then(|| query.href(page.offset.saturating_sub(u64::from(page.limit)))),
        next_href: (page.offset + shown < page.total).then(|| query.href(page.offset + shown)),
        form: FormValues {
            workflow: non_empty(query.workflow.as_ref()).unwrap_or_default(),
            user: non_empty(query.user.as_ref()).unwrap_or_default(),
            session: non_empty(query.session.as_ref()).unwrap_or_default(),
            model: non_empty(query.model.as_ref()).unwrap_or_default(),
            provider: non_empty(query.provider.as_ref()).unwrap_or_default(),
            since: non_empty(query.since.as_ref()).unwrap_or_default(),
            q: non_empty(query.q.as_ref()).unwrap_or_default(),
            errors: non_empty(query.errors.as_ref()).is_some_and(|v| v != "0" && v != "false"),
        },
        workflows,
        models,
        providers,
    };
    state.render("traces.html", &ctx)
}

#[derive(Serialize)]
struct TraceCtx {
    title: String,
    nav: &'static str,
    trace: TraceView,
    width: f64,
}

/// `/traces/{id}`: one trace's waterfall and span details.
pub(crate) async fn trace(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let id = id.to_ascii_lowercase();
    match state.read(move |store| Ok(store.get_trace(&id)?)).await {
        Ok(trace) => {
            let ctx = TraceCtx {
                title: format!("Trace {}", trace.trace_id),
                nav: "traces",
                trace: TraceView::new(&trace),
                width: view::WATERFALL_WIDTH,
            };
            state.render("trace.html", &ctx)
        }
        Err(e) => state.error_page(&e),
    }
}

#[derive(Serialize)]
struct Summary {
    traces: String,
    llm_calls: String,
    tokens: String,
    cost: String,
    error_rate: String,
}

#[derive(Serialize)]
struct StatsCtx {
    title: &'static str,
    nav: &'static str,
    version: String,
    summary: Summary,
    over_time: ColumnChart,
    charts: Vec<BarChart>,
    empty: bool,
}

/// `/stats`: charts.
pub(crate) async fn stats(State(state): State<AppState>) -> Response {
    let result = state
        .read(|store| {
            Ok((
                store.stats(GroupBy::Day)?,
                store.stats(GroupBy::Model)?,
                store.stats(GroupBy::Workflow)?,
                store.stats(GroupBy::User)?,
                store.stats(GroupBy::Session)?,
                version(store)?,
            ))
        })
        .await;
    let (days, models, workflows, users, sessions, version) = match result {
        Ok(v) => v,
        Err(e) => return state.error_page(&e),
    };
    let traces: u64 = days.iter().map(|d| d.count).sum();
    let failed: u64 = days.iter().map(|d| d.errors).sum();
    let summary = Summary {
        traces: output::count(traces),
        llm_calls: output::count(models.iter().map(|m| m.count).sum()),
        tokens: output::count(days.iter().map(|d| d.total_tokens).sum()),
        cost: output::cost(days.iter().map(|d| d.cost_usd).sum()),
        error_rate: if traces == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", failed as f64 / traces as f64 * 100.0)
        },
    };
    let charts = vec![
        charts::bar_chart("cost-by-model", "Cost by model", &models, Measure::Cost),
        charts::bar_chart(
            "tokens-by-model",
            "Tokens by model",
            &models,
            Measure::Tokens,
        ),
        charts::bar_chart(
            "cost-by-workflow",
            "Cost by workflow",
            &workflows,
            Measure::Cost,
        ),
        charts::bar_chart(
            "tokens-by-workflow",
            "Tokens by workflow",
            &workflows,
            Measure::Tokens,
        ),
        charts::bar_chart(
            "latency-by-workflow",
            "Latency percentiles by workflow",
            &workflows,
            Measure::Latency,
        ),
        charts::bar_chart(
            "errors-by-workflow",
            "Error rate by workflow",
            &workflows,
            Measure::ErrorRate,
        ),
        charts::bar_chart("cost-by-user", "Cost by user", &users, Measure::Cost),
        charts::bar_chart("tokens-by-user", "Tokens by user", &users, Measure::Tokens),
        charts::bar_chart(
            "cost-by-session",
            "Cost by session",
            &sessions,
            Measure::Cost,
        ),
        charts::bar_chart(
            "tokens-by-session",
            "Tokens by session",
            &sessions,
            Measure::Tokens,
        ),
        charts::bar_chart(
            "latency-by-model",
            "Latency percentiles by model",
            &models,
            Measure::Latency,
        ),
        charts::bar_chart(
            "errors-by-model",
            "Error rate by model",
            &models,
            Measure::ErrorRate,
        ),
    ];
    let ctx = StatsCtx {
        title: "Statistics",
        nav: "stats",
        version,
        summary,
        over_time: charts::cost_over_time("cost-over-time", "Cost per day (UTC)", &days),
        charts,
        empty: traces == 0,
    };
    state.render("stats.html", &ctx)
}

#[derive(Serialize)]
struct SessionRow {
    session_id: String,
    href: String,
    user: String,
    traces: u64,
    first: String,
    last: String,
    tokens: String,
    cost: String,
}

#[derive(Serialize)]
struct SessionsCtx {
    title: &'static str,
    nav: &'static str,
    version: String,
    sessions: Vec<SessionRow>,
}

/// `/sessions`: every session, most recent first.
pub(crate) async fn sessions(State(state): State<AppState>) -> Response {
    let result = state
        .read(|store| Ok((store.sessions()?, version(store)?)))
        .await;
    let (list, version): (Vec<SessionSummary>, String) = match result {
        Ok(v) => v,
        Err(e) => return state.error_page(&e),
    };
    let ctx = SessionsCtx {
        title: "Sessions",
        nav: "sessions",
        version,
        sessions: list
            .iter()
            .map(|s| SessionRow {
                session_id: s.session_id.clone(),
                href: format!("/sessions/{}", view::encode(&s.session_id)),
                user: output::opt(s.user_id.as_deref()),
                traces: s.trace_count,
                first: timefmt::format_ns(s.first_start_ns),
                last: timefmt::format_ns(s.last_start_ns),
                tokens: output::count(s.total_tokens),
                cost: output::cost(s.cost_usd),
            })
            .collect(),
    };
    state.render("sessions.html", &ctx)
}

#[derive(Serialize)]
struct SessionCtx {
    title: String,
    nav: &'static str,
    session_id: String,
    rows: Vec<TraceRow>,
    tokens: String,
    cost: String,
    span: String,
}

/// `/sessions/{id}`: a session's traces in the order they started.
pub(crate) async fn session(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let key = id.clone();
    let list: Vec<TraceSummary> = match state.read(move |store| Ok(store.session(&key)?)).await {
        Ok(v) => v,
        Err(e) => return state.error_page(&e),
    };
    let first = list.first().map_or(0, |t| t.start_ns);
    let last_end = list
        .iter()
        .map(|t| t.start_ns + (t.latency_ms * 1e6) as i64)
        .max()
        .unwrap_or(first);
    let ctx = SessionCtx {
        title: format!("Session {id}"),
        nav: "sessions",
        session_id: id,
        rows: list.iter().map(TraceRow::new).collect(),
        tokens: output::count(list.iter().map(|t| t.total_tokens).sum()),
        cost: output::cost(list.iter().map(|t| t.cost_usd).sum()),
        span: output::millis((last_end - first) as f64 / 1e6),
    };
    state.render("session.html", &ctx)
}

//! `/sessions` and one session (`/sessions/{id}`).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Serialize;
use tokentrace_store::SessionSummary;

use super::query::{FormValues, TracesQuery, non_empty};
use super::traces::version;
use crate::dashboard::view::{self, TraceRow};
use crate::dashboard::{AppState, Failure};
use crate::output;
use crate::timefmt;

#[derive(Serialize)]
struct SessionRow {
    session_id: String,
    href: String,
    user: String,
    user_href: Option<String>,
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
    total: u64,
    first: u64,
    last: u64,
    prev_href: Option<String>,
    next_href: Option<String>,
    form: FormValues,
    error: Option<String>,
}

impl TracesQuery {
    /// The sessions listing with this query's filters at another offset.
    fn sessions_href(&self, offset: u64) -> String {
        let q = view::query_string(&[
            ("q", non_empty(self.q.as_ref())),
            ("user", non_empty(self.user.as_ref())),
            ("since", non_empty(self.since.as_ref())),
            ("until", non_empty(self.until.as_ref())),
            ("limit", non_empty(self.limit.as_ref())),
            ("offset", (offset > 0).then(|| offset.to_string())),
        ]);
        format!("/sessions{q}")
    }
}

/// `/sessions`: sessions, most recently active first, a page at a time,
/// filtered by a substring of the session or user id (`q`), the user and
/// the time range.
pub(crate) async fn sessions(
    State(state): State<AppState>,
    Query(query): Query<TracesQuery>,
) -> Response {
    let failed = |state: &AppState, e: Failure| {
        let ctx = SessionsCtx {
            title: "Sessions",
            nav: "sessions",
            version: String::new(),
            sessions: Vec::new(),
            total: 0,
            first: 0,
            last: 0,
            prev_href: None,
            next_href: None,
            form: query.form(),
            error: Some(e.message().to_owned()),
        };
        let mut resp = state.render("sessions.html", &ctx);
        *resp.status_mut() = e.status();
        resp
    };
    let filter = match query.filter(timefmt::now_ns()) {
        Ok(f) => f,
        Err(e) => return failed(&state, e),
    };
    let result = state
        .read(move |store| Ok((store.sessions_page(&filter)?, version(store)?)))
        .await;
    let (page, version) = match result {
        Ok(v) => v,
        Err(e) => return failed(&state, e),
    };
    let shown = page.items.len() as u64;
    let ctx = SessionsCtx {
        title: "Sessions",
        nav: "sessions",
        version,
        total: page.total,
        first: if shown == 0 { 0 } else { page.offset + 1 },
        last: page.offset + shown,
        prev_href: (page.offset > 0)
            .then(|| query.sessions_href(page.offset.saturating_sub(u64::from(page.limit)))),
        next_href: (page.offset + shown < page.total)
            .then(|| query.sessions_href(page.offset + shown)),
        form: query.form(),
        error: None,
        sessions: page
            .items
            .iter()
            .map(|s: &SessionSummary| SessionRow {
                session_id: s.session_id.clone(),
                href: format!("/sessions/{}", view::encode(&s.session_id)),
                user: output::opt(s.user_id.as_deref()),
                user_href: s.user_id.as_deref().map(|u| {
                    format!(
                        "/sessions{}",
                        view::query_string(&[("user", Some(u.to_owned()))])
                    )
                }),
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

/// One turn of the conversation view.
#[derive(Serialize)]
struct TurnView {
    n: usize,
    row: TraceRow,
    /// Since the session's first turn started.
    offset: String,
    /// The new message(s) of this turn (the input's last non-system message).
    input: Vec<view::Message>,
    /// Earlier messages the input carried again as context.
    context: usize,
    output: Vec<view::Message>,
}

#[derive(Serialize)]
struct SessionCtx {
    title: String,
    nav: &'static str,
    session_id: String,
    user: String,
    turns: Vec<TurnView>,
    tokens: String,
    cost: String,
    latency: String,
    span: String,
    traces_href: String,
}

/// `/sessions/{id}`: the session as a conversation, its turns (traces) in
/// the order they started with each one's input, output, cost and latency.
pub(crate) async fn session(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let key = id.clone();
    let turns = match state.read(move |store| Ok(store.conversation(&key)?)).await {
        Ok(v) => v,
        Err(e) => return state.error_page(&e),
    };
    let first = turns.first().map_or(0, |t| t.trace.start_ns);
    let last_end = turns
        .iter()
        .map(|t| t.trace.start_ns + (t.trace.latency_ms * 1e6) as i64)
        .max()
        .unwrap_or(first);
    let user = turns
        .iter()
        .find_map(|t| t.trace.user_id.clone())
        .unwrap_or_else(|| "-".to_owned());
    let ctx = SessionCtx {
        title: format!("Session {id}"),
        nav: "sessions",
        traces_href: format!(
            "/{}",
            view::query_string(&[
                ("session", Some(id.clone())),
                ("sort", Some("oldest".to_owned()))
            ])
        ),
        session_id: id,
        user,
        tokens: output::count(turns.iter().map(|t| t.trace.total_tokens).sum()),
        cost: output::cost(turns.iter().map(|t| t.trace.cost_usd).sum()),
        latency: output::millis(turns.iter().map(|t| t.trace.latency_ms).sum()),
        span: view::human_duration((last_end - first) as f64 / 1e6),
        turns: turns
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut input = t
                    .input
                    .as_deref()
                    .map(|v| view::messages(&serde_json::Value::String(v.to_owned()), "user"))
                    .unwrap_or_default();
                input.retain(|m| m.role != "system");
                let context = input.len().saturating_sub(1);
                let input = input.pop().into_iter().collect();
                TurnView {
                    n: i + 1,
                    row: TraceRow::new(&t.trace),
                    offset: format!(
                        "+{}",
                        view::human_duration((t.trace.start_ns - first) as f64 / 1e6)
                    ),
                    input,
                    context,
                    output: t
                        .output
                        .as_deref()
                        .map(|v| {
                            view::messages(&serde_json::Value::String(v.to_owned()), "assistant")
                        })
                        .unwrap_or_default(),
                }
            })
            .collect(),
    };
    state.render("session.html", &ctx)
}

//! HTML page handlers.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokentrace_store::{GroupBy, Interval, SessionSummary, Store, TraceFilter, TraceSort};

use super::charts::{self, BarChart, Measure, TimeChart};
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
    pub(crate) until: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) errors: Option<String>,
    pub(crate) limit: Option<String>,
    pub(crate) offset: Option<String>,
    pub(crate) sort: Option<String>,
    /// `/stats`: `hour` or `day` buckets (default: hours when the data spans at most 3 days).
    pub(crate) interval: Option<String>,
    /// `/stats`: what the spend chart stacks by (`model`, `user`, `workflow`, `step`, `provider`).
    pub(crate) stack: Option<String>,
}

/// A time bound of the filters: a duration back from now starts on the hour
/// (so the statistics come from the hourly aggregates), a date is exact.
fn time_bound(v: &str, now_ns: i64) -> Result<i64, Failure> {
    let t = timefmt::parse_since(v, now_ns).map_err(Failure::BadRequest)?;
    let relative = !v.contains('-') && !v.contains(':');
    Ok(if relative {
        t.div_euclid(HOUR_NS) * HOUR_NS
    } else {
        t
    })
}

const HOUR_NS: i64 = 3_600_000_000_000;

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
        let since = non_empty(self.since.as_ref())
            .map(|v| time_bound(&v, now_ns))
            .transpose()?;
        let until = non_empty(self.until.as_ref())
            .map(|v| time_bound(&v, now_ns))
            .transpose()?;
        f = f.time_range(since, until);
        if let Some(v) = non_empty(self.sort.as_ref()) {
            f = f.sort(TraceSort::parse(&v).ok_or_else(|| {
                Failure::BadRequest(format!(
                    "sort {v:?} is not one of {}",
                    TraceSort::ALL.map(TraceSort::as_str).join(", ")
                ))
            })?);
        }
        Ok(f)
    }

    /// The filter fields as query pairs (without paging, sort or chart options).
    fn filter_pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("workflow", non_empty(self.workflow.as_ref())),
            ("user", non_empty(self.user.as_ref())),
            ("session", non_empty(self.session.as_ref())),
            ("model", non_empty(self.model.as_ref())),
            ("provider", non_empty(self.provider.as_ref())),
            ("since", non_empty(self.since.as_ref())),
            ("until", non_empty(self.until.as_ref())),
            ("q", non_empty(self.q.as_ref())),
            ("errors", non_empty(self.errors.as_ref())),
        ]
    }

    /// The trace listing of this filter with `key` set to `value` (a click-through).
    fn traces_href(&self, key: &str, value: &str) -> String {
        let mut pairs = self.filter_pairs();
        pairs.retain(|(k, _)| *k != key);
        pairs.push((
            if key == "step" { "workflow" } else { key },
            Some(value.to_owned()),
        ));
        format!("/{}", view::query_string(&pairs))
    }

    fn form(&self) -> FormValues {
        FormValues {
            workflow: non_empty(self.workflow.as_ref()).unwrap_or_default(),
            user: non_empty(self.user.as_ref()).unwrap_or_default(),
            session: non_empty(self.session.as_ref()).unwrap_or_default(),
            model: non_empty(self.model.as_ref()).unwrap_or_default(),
            provider: non_empty(self.provider.as_ref()).unwrap_or_default(),
            since: non_empty(self.since.as_ref()).unwrap_or_default(),
            until: non_empty(self.until.as_ref()).unwrap_or_default(),
            q: non_empty(self.q.as_ref()).unwrap_or_default(),
            errors: non_empty(self.errors.as_ref()).is_some_and(|v| v != "0" && v != "false"),
            sort: non_empty(self.sort.as_ref()).unwrap_or_default(),
            interval: non_empty(self.interval.as_ref()).unwrap_or_default(),
            stack: non_empty(self.stack.as_ref()).unwrap_or_default(),
        }
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
            ("until", non_empty(self.until.as_ref())),
            ("q", non_empty(self.q.as_ref())),
            ("errors", non_empty(self.errors.as_ref())),
            ("sort", non_empty(self.sort.as_ref())),
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
    totals: Option<TotalsView>,
    sorts: Vec<SortLink>,
    error: Option<String>,
}

/// Totals of the filtered traces, formatted.
#[derive(Serialize)]
struct TotalsView {
    traces: String,
    tokens: String,
    cost: String,
    errors: String,
    latency: String,
}

/// A sortable column header's link: `column` names the header.
#[derive(Serialize)]
struct SortLink {
    column: &'static str,
    href: String,
    /// `↓`, `↑` or empty when not sorted by this column.
    arrow: &'static str,
}

/// Links for the sortable columns: a click sorts descending, a second one ascending.
fn sort_links(query: &TracesQuery) -> Vec<SortLink> {
    let current = non_empty(query.sort.as_ref())
        .and_then(|v| TraceSort::parse(&v))
        .unwrap_or_default();
    [
        ("started", TraceSort::Newest, TraceSort::Oldest),
        ("latency", TraceSort::LatencyDesc, TraceSort::LatencyAsc),
        ("tokens", TraceSort::TokensDesc, TraceSort::TokensAsc),
        ("cost", TraceSort::CostDesc, TraceSort::CostAsc),
    ]
    .into_iter()
    .map(|(column, desc, asc)| {
        let next = if current == desc { asc } else { desc };
        let mut pairs = query.filter_pairs();
        pairs.push(("sort", Some(next.as_str().to_owned())));
        SortLink {
            column,
            href: format!("/{}", view::query_string(&pairs)),
            arrow: if current == desc {
                "↓"
            } else if current == asc {
                "↑"
            } else {
                ""
            },
        }
    })
    .collect()
}

/// The trace listing with its filters kept and the error in place of the rows.
fn traces_error(state: &AppState, query: &TracesQuery, e: &Failure) -> Response {
    let ctx = TracesCtx {
        title: "Traces",
        nav: "traces",
        version: String::new(),
        rows: Vec::new(),
        total: 0,
        first: 0,
        last: 0,
        prev_href: None,
        next_href: None,
        form: query.form(),
        workflows: Vec::new(),
        models: Vec::new(),
        providers: Vec::new(),
        totals: None,
        sorts: sort_links(query),
        error: Some(e.message().to_owned()),
    };
    let mut resp = state.render("traces.html", &ctx);
    *resp.status_mut() = e.status();
    resp
}

#[derive(Serialize, Default)]
struct FormValues {
    workflow: String,
    user: String,
    session: String,
    model: String,
    provider: String,
    since: String,
    until: String,
    q: String,
    errors: bool,
    sort: String,
    interval: String,
    stack: String,
}

/// `/`: the trace listing.
pub(crate) async fn traces(
    State(state): State<AppState>,
    Query(query): Query<TracesQuery>,
) -> Response {
    let filter = match query.filter(timefmt::now_ns()) {
        Ok(f) => f,
        Err(e) => return traces_error(&state, &query, &e),
    };
    let result = state
        .read(move |store| {
            let page = store.traces(&filter)?;
            let totals = store.trace_totals(&filter)?;
            let keys = |by| -> Result<Vec<String>, Failure> {
                Ok(store.stats(by)?.into_iter().map(|r| r.key).collect())
            };
            Ok((
                page,
                totals,
                keys(GroupBy::Workflow)?,
                keys(GroupBy::Model)?,
                keys(GroupBy::Provider)?,
                version(store)?,
            ))
        })
        .await;
    let (page, totals, workflows, models, providers, version) = match result {
        Ok(v) => v,
        Err(e) => return traces_error(&state, &query, &e),
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
        form: query.form(),
        totals: Some(TotalsView {
            traces: output::count(totals.traces),
            tokens: output::count(totals.total_tokens),
            cost: output::cost(totals.cost_usd),
            errors: output::count(totals.errors),
            latency: format!(
                "{} / {}",
                output::millis(totals.latency_p50_ms),
                output::millis(totals.latency_p95_ms)
            ),
        }),
        sorts: sort_links(&query),
        error: None,
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

/// `/traces/{id}` options.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TraceQuery {
    /// Subtrees shown folded: `all`, or comma-separated span ids.
    collapse: Option<String>,
}

/// `/traces/{id}`: one trace's waterfall and span details.
pub(crate) async fn trace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<TraceQuery>,
) -> Response {
    let id = id.to_ascii_lowercase();
    match state.read(move |store| Ok(store.get_trace(&id)?)).await {
        Ok(trace) => {
            let mut view = TraceView::new(&trace);
            if let Some(c) = non_empty(query.collapse.as_ref()) {
                view::fold(&mut view.rows, &c);
            }
            let ctx = TraceCtx {
                title: format!("Trace {}", trace.trace_id),
                nav: "traces",
                trace: view,
                width: view::WATERFALL_WIDTH,
            };
            state.render("trace.html", &ctx)
        }
        Err(e) => state.error_page(&e),
    }
}

#[derive(Serialize, Default)]
struct Summary {
    traces: String,
    llm_calls: String,
    tokens: String,
    cost: String,
    error_rate: String,
    latency: String,
}

#[derive(Serialize)]
struct StatsCtx {
    title: &'static str,
    nav: &'static str,
    version: String,
    error: Option<String>,
    form: FormValues,
    interval: &'static str,
    stack: &'static str,
    summary: Summary,
    time_charts: Vec<TimeChart>,
    charts: Vec<BarChart>,
    empty: bool,
}

/// `/stats`: spend over time, latency and errors over time, and the top
/// groups, all for the filtered traces.
pub(crate) async fn stats(
    State(state): State<AppState>,
    Query(query): Query<TracesQuery>,
) -> Response {
    let parsed = (|| {
        let filter = query.filter(timefmt::now_ns())?;
        let interval = match non_empty(query.interval.as_ref()).as_deref() {
            None => None,
            Some("hour") => Some(Interval::Hour),
            Some("day") => Some(Interval::Day),
            Some(v) => {
                return Err(Failure::BadRequest(format!(
                    "interval {v:?} is not hour or day"
                )));
            }
        };
        let stack = match non_empty(query.stack.as_ref()) {
            None => GroupBy::Model,
            Some(v) => match GroupBy::parse(&v) {
                Some(
                    g @ (GroupBy::Model
                    | GroupBy::User
                    | GroupBy::Workflow
                    | GroupBy::Step
                    | GroupBy::Provider),
                ) => g,
                _ => {
                    return Err(Failure::BadRequest(format!(
                        "stack {v:?} is not model, user, workflow, step or provider"
                    )));
                }
            },
        };
        Ok((filter, interval, stack))
    })();
    let (filter, interval, stack) = match parsed {
        Ok(v) => v,
        Err(e) => return stats_error(&state, &query, &e),
    };
    let result = state
        .read(move |store| {
            let interval = match interval {
                Some(i) => i,
                None => {
                    let days = store.timeseries(&filter, Interval::Day, None)?;
                    if days.len() <= 3 {
                        Interval::Hour
                    } else {
                        Interval::Day
                    }
                }
            };
            Ok((
                interval,
                store.trace_totals(&filter)?,
                store.timeseries(&filter, interval, Some(stack))?,
                store.breakdown(&filter, GroupBy::Model)?,
                store.breakdown(&filter, GroupBy::Step)?,
                store.breakdown(&filter, GroupBy::User)?,
                store.breakdown(&filter, GroupBy::Session)?,
                version(store)?,
            ))
        })
        .await;
    let (interval, totals, series, models, steps, users, sessions, version) = match result {
        Ok(v) => v,
        Err(e) => return stats_error(&state, &query, &e),
    };
    let summary = Summary {
        traces: output::count(totals.traces),
        llm_calls: output::count(models.iter().map(|m| m.count).sum()),
        tokens: output::count(totals.total_tokens),
        cost: output::cost(totals.cost_usd),
        error_rate: if totals.traces == 0 {
            "-".to_owned()
        } else {
            format!(
                "{:.1}%",
                totals.errors as f64 / totals.traces as f64 * 100.0
            )
        },
        latency: format!(
            "{} / {}",
            output::millis(totals.latency_p50_ms),
            output::millis(totals.latency_p95_ms)
        ),
    };
    let unit = if interval == Interval::Hour {
        "hour"
    } else {
        "day"
    };
    let time_charts = vec![
        charts::spend_over_time(
            "spend-over-time",
            &format!("Spend per {unit} (UTC) by {}", stack.as_str()),
            &series,
            interval,
        ),
        charts::latency_over_time(
            "latency-over-time",
            &format!("Trace latency per {unit}"),
            &series,
            interval,
        ),
        charts::errors_over_time(
            "errors-over-time",
            &format!("Traces and errors per {unit}"),
            &series,
            interval,
        ),
    ];
    let linked = |mut chart: BarChart, key: &str| {
        for b in &mut chart.bars {
            b.href = Some(query.traces_href(key, &b.key));
        }
        chart
    };
    let charts = vec![
        linked(
            charts::bar_chart(
                "cost-by-user",
                "Most expensive users",
                &users,
                Measure::Cost,
            ),
            "user",
        ),
        linked(
            charts::bar_chart(
                "cost-by-session",
                "Most expensive sessions",
                &sessions,
                Measure::Cost,
            ),
            "session",
        ),
        linked(
            charts::bar_chart(
                "cost-by-workflow",
                "Cost by workflow step",
                &steps,
                Measure::Cost,
            ),
            "step",
        ),
        linked(
            charts::bar_chart("cost-by-model", "Cost by model", &models, Measure::Cost),
            "model",
        ),
        linked(
            charts::bar_chart(
                "latency-by-workflow",
                "Latency by workflow step",
                &steps,
                Measure::Latency,
            ),
            "step",
        ),
        linked(
            charts::bar_chart(
                "latency-by-model",
                "Latency by model",
                &models,
                Measure::Latency,
            ),
            "model",
        ),
        linked(
            charts::bar_chart(
                "tokens-by-model",
                "Tokens by model",
                &models,
                Measure::Tokens,
            ),
            "model",
        ),
        linked(
            charts::bar_chart(
                "errors-by-model",
                "Error rate by model",
                &models,
                Measure::ErrorRate,
            ),
            "model",
        ),
    ];
    let ctx = StatsCtx {
        title: "Statistics",
        nav: "stats",
        version,
        error: None,
        form: query.form(),
        interval: unit,
        stack: stack.as_str(),
        summary,
        time_charts,
        charts,
        empty: totals.traces == 0,
    };
    state.render("stats.html", &ctx)
}

/// The statistics page with its filters kept and the error shown in place
/// of the charts (400 for a bad filter value).
fn stats_error(state: &AppState, query: &TracesQuery, e: &Failure) -> Response {
    let ctx = StatsCtx {
        title: "Statistics",
        nav: "stats",
        version: String::new(),
        error: Some(e.message().to_owned()),
        form: query.form(),
        interval: "",
        stack: "",
        summary: Summary::default(),
        time_charts: Vec::new(),
        charts: Vec::new(),
        empty: false,
    };
    let mut resp = state.render("stats.html", &ctx);
    *resp.status_mut() = e.status();
    resp
}

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

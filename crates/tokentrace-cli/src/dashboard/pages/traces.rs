//! The trace listing (`/`) and one trace (`/traces/{id}`), with the version
//! token auto-refresh polls.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokentrace_store::{GroupBy, Store, TraceFilter, TraceSort};

use super::query::{FormValues, TracesQuery, non_empty};
use crate::dashboard::view::{self, TraceRow, TraceView};
use crate::dashboard::{AppState, Failure};
use crate::output;
use crate::timefmt;

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

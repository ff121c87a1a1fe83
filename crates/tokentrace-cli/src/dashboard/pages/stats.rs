//! `/stats`: totals and charts over the filtered traces.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;
use tokentrace_store::{GroupBy, Interval};

use super::query::{FormValues, TracesQuery, non_empty};
use super::traces::version;
use crate::dashboard::charts::{self, BarChart, Measure, TimeChart};
use crate::dashboard::{AppState, Failure};
use crate::output;
use crate::timefmt;

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

//! The pre-aggregated tables (`traces` summaries, `trace_keys`, `stats_agg`)
//! equal brute-force SQL over `spans`, however the spans arrive: traces split
//! across batches, children before roots, spans exported twice, retention,
//! and a version-1 store upgraded in place.

use std::collections::BTreeMap;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use rusqlite::Connection;
use tokentrace_core::semconv;
use tokentrace_store::{
    GroupBy, Interval, Retention, StatsRow, Store, StoreExporter, TimeBucket, TraceFilter,
};

use crate::support::{S, export, sqlite, tempdb, trace_hex};

/// The relative error bound of bucketed percentiles (docs/store.md).
const BOUND: f64 = 0.01;

/// A small deterministic generator (no dependency for tests).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `traces` traces of 1–8 spans with users, sessions, models, errors and a
/// spread of latencies; returned as a list of spans per trace, root first.
fn generate(rng: &mut Rng, traces: u128) -> Vec<Vec<SpanData>> {
    const MODELS: [&str; 3] = ["gpt-4o", "claude-3-5-sonnet", "gemini-2.0-flash"];
    (1..=traces)
        .map(|t| {
            let start = rng.below(3 * 86_400_000);
            let n = 1 + rng.below(8);
            let user = format!("u{}", rng.below(7));
            let session = format!("s{}", rng.below(11));
            (1..=n)
                .map(|s| {
                    let long = rng.below(10) == 0;
                    let dur = 1 + rng.below(if long { 60_000 } else { 900 });
                    let offset = if s == 1 { 0 } else { 1 + rng.below(500) };
                    let mut span = S::new(
                        t,
                        s,
                        if s == 1 { 0 } else { 1 },
                        "step",
                        start + offset,
                        dur,
                    );
                    if s == 1 {
                        span = S::new(t, 1, 0, &format!("root{}", t % 3), start, dur)
                            .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "workflow"));
                        if t % 4 != 0 {
                            span = span.attr(KeyValue::new(
                                semconv::GEN_AI_WORKFLOW_NAME,
                                format!("wf{}", t % 5),
                            ));
                        }
                        if t % 6 != 0 {
                            span = span.attr(KeyValue::new(semconv::SESSION_ID, session.clone()));
                        }
                    }
                    if rng.below(3) != 0 {
                        span = span.attr(KeyValue::new(semconv::USER_ID, user.clone()));
                    }
                    // Now and then a trace sees a second user or session.
                    if s > 1 && rng.below(12) == 0 {
                        span = span
                            .attr(KeyValue::new(
                                semconv::USER_ID,
                                format!("u{}", rng.below(7)),
                            ))
                            .attr(KeyValue::new(
                                semconv::SESSION_ID,
                                format!("s{}", rng.below(11)),
                            ));
                    }
                    if s == 2 && t % 3 == 0 {
                        // A nested `#[workflow]` step with its roll-ups.
                        let tokens = (t * 7 % 100) as i64;
                        span = span
                            .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "workflow"))
                            .attr(KeyValue::new(
                                semconv::GEN_AI_WORKFLOW_NAME,
                                format!("step{}", t % 2),
                            ))
                            .attr(KeyValue::new(semconv::ROLLUP_INPUT_TOKENS, tokens))
                            .attr(KeyValue::new(semconv::ROLLUP_OUTPUT_TOKENS, 3_i64))
                            .attr(KeyValue::new(semconv::ROLLUP_TOTAL_TOKENS, tokens + 3))
                            .attr(KeyValue::new(semconv::ROLLUP_COST_USD, t as f64 / 1e5));
                    } else if s > 1 && rng.below(2) == 0 {
                        let model = MODELS[rng.below(3) as usize];
                        span = span
                            .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "llm"))
                            .attr(KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, model))
                            .attr(KeyValue::new(
                                semconv::GEN_AI_USAGE_INPUT_TOKENS,
                                rng.below(2000) as i64,
                            ))
                            .attr(KeyValue::new(
                                semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
                                rng.below(500) as i64,
                            ))
                            .attr(KeyValue::new(
                                semconv::COST_TOTAL_USD,
                                rng.below(1000) as f64 / 1e6,
                            ));
                        if rng.below(4) != 0 {
                            span = span.attr(KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, "p"));
                        }
                    }
                    if rng.below(15) == 0 {
                        span = span.error("boom");
                    }
                    span.build()
                })
                .collect()
        })
        .collect()
}

/// Exports every span in batches of random size, children before their root
/// (a trace's spans often straddle batches), and re-exports some spans with
/// a new duration and model.
fn export_shuffled(exporter: &StoreExporter, rng: &mut Rng, traces: &[Vec<SpanData>]) {
    export_shuffled_then(exporter, rng, traces, |b| export(exporter, b));
}

/// [`export_shuffled`] with each batch handed to `each`.
fn export_shuffled_then(
    exporter: &StoreExporter,
    rng: &mut Rng,
    traces: &[Vec<SpanData>],
    mut each: impl FnMut(Vec<SpanData>),
) {
    let _ = exporter;
    let mut order: Vec<SpanData> = Vec::new();
    for spans in traces {
        order.extend(spans.iter().skip(1).cloned());
        order.push(spans[0].clone());
    }
    // Re-exports: same ids, changed duration and model.
    for spans in traces.iter().step_by(9) {
        let mut again = spans[spans.len() - 1].clone();
        again.end_time += std::time::Duration::from_millis(1234);
        again.attributes.push(KeyValue::new(
            semconv::GEN_AI_RESPONSE_MODEL,
            "gpt-4o-2024-08-06",
        ));
        order.push(again);
    }
    while !order.is_empty() {
        let n = (1 + rng.below(40) as usize).min(order.len());
        each(order.drain(..n).collect());
    }
}

/// The trace summary recomputed from `spans`: tokens and cost of the calls
/// (LLM and vector spans) only.
const BRUTE_TRACES: &str = "SELECT trace_id,
    (SELECT r.name FROM spans r WHERE r.trace_id = s.trace_id ORDER BY r.is_root DESC, r.start_ns LIMIT 1),
    (SELECT r.workflow FROM spans r WHERE r.trace_id = s.trace_id ORDER BY r.is_root DESC, r.start_ns LIMIT 1),
    MIN(start_ns), (MAX(end_ns) - MIN(start_ns)) / 1000000.0, COUNT(*), SUM(status_code = 'error'),
    COALESCE(SUM(CASE WHEN span_type IN ('llm', 'vector') THEN input_tokens END), 0),
    COALESCE(SUM(CASE WHEN span_type IN ('llm', 'vector') THEN total_tokens END), 0),
    COALESCE(SUM(CASE WHEN span_type IN ('llm', 'vector') THEN cost_usd END), 0.0),
    MAX(user_id), MAX(session_id), MAX(model), MAX(provider)
FROM spans s GROUP BY trace_id ORDER BY trace_id";

const STORED_TRACES: &str = "SELECT trace_id, name, workflow, start_ns, duration_ms, span_count,
    error_count, input_tokens, total_tokens, cost_usd, user_id, session_id, model, provider
FROM traces ORDER BY trace_id";

type TraceRow = (
    String,
    String,
    Option<String>,
    i64,
    f64,
    i64,
    i64,
    i64,
    i64,
    f64,
    [Option<String>; 4],
);

fn trace_rows(conn: &Connection, sql: &str) -> Vec<TraceRow> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                [r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?],
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `stats(group_by)` recomputed from `traces` (trace dimensions) or `spans`.
fn brute_stats(conn: &Connection, group_by: GroupBy) -> Vec<StatsRow> {
    let sql = match group_by {
        GroupBy::Model | GroupBy::Provider => {
            let key = if group_by == GroupBy::Model {
                "model"
            } else {
                "provider"
            };
            format!(
                "SELECT {key}, duration_ms, status_code = 'error', COALESCE(input_tokens, 0),
                        COALESCE(output_tokens, 0), COALESCE(total_tokens, 0), COALESCE(cost_usd, 0.0)
                 FROM spans WHERE {key} IS NOT NULL AND span_type IN ('llm', 'vector')"
            )
        }
        _ => {
            let key = match group_by {
                GroupBy::Workflow => "workflow",
                GroupBy::User => "user_id",
                GroupBy::Session => "session_id",
                _ => "strftime('%Y-%m-%d', start_ns / 1000000000, 'unixepoch')",
            };
            format!(
                "SELECT {key}, duration_ms, error_count > 0, input_tokens, output_tokens,
                        total_tokens, cost_usd
                 FROM traces WHERE {key} IS NOT NULL"
            )
        }
    };
    let mut groups: BTreeMap<String, (StatsRow, Vec<f64>)> = BTreeMap::new();
    let mut stmt = conn.prepare(&sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let key: String = r.get(0).unwrap();
        let (row, lat) = groups.entry(key.clone()).or_insert_with(|| {
            (
                StatsRow {
                    key,
                    count: 0,
                    errors: 0,
                    error_rate: 0.0,
                    latency_p50_ms: 0.0,
                    latency_p95_ms: 0.0,
                    input_tokens: 0,
                    output_tokens: 0,
                    total_tokens: 0,
                    cost_usd: 0.0,
                },
                Vec::new(),
            )
        });
        row.count += 1;
        row.errors += u64::from(r.get::<_, bool>(2).unwrap());
        row.input_tokens += r.get::<_, i64>(3).unwrap() as u64;
        row.output_tokens += r.get::<_, i64>(4).unwrap() as u64;
        row.total_tokens += r.get::<_, i64>(5).unwrap() as u64;
        row.cost_usd += r.get::<_, f64>(6).unwrap();
        lat.push(r.get(1).unwrap());
    }
    groups
        .into_values()
        .map(|(mut row, mut lat)| {
            lat.sort_by(f64::total_cmp);
            row.error_rate = row.errors as f64 / row.count as f64;
            row.latency_p50_ms = nearest_rank(&lat, 0.5);
            row.latency_p95_ms = nearest_rank(&lat, 0.95);
            row
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel.mul_add(b.abs(), 1e-9)
}

/// Every derived table equals its brute-force definition.
/// The hourly aggregates (a filter with nothing but whole hours) answer as a
/// scan of the same traces does (a range that is not on whole hours).
fn assert_hourly_equals_scan(store: &Store) {
    let t0 = crate::support::T0_NS as i64;
    let hourly = TraceFilter::new().time_range(Some(t0 - 3_600_000_000_000), None);
    let scan = TraceFilter::new().time_range(Some(t0 - 1), None);
    let near = |a: f64, b: f64| close(a, b, 2.0f64.mul_add(BOUND, 1e-9));
    let (a, b) = (
        store.trace_totals(&hourly).unwrap(),
        store.trace_totals(&scan).unwrap(),
    );
    assert_eq!(
        (a.traces, a.errors, a.total_tokens),
        (b.traces, b.errors, b.total_tokens)
    );
    assert_eq!(a, store.trace_totals(&TraceFilter::new()).unwrap());
    assert!(close(a.cost_usd, b.cost_usd, 1e-9));
    assert!(near(a.latency_p95_ms, b.latency_p95_ms), "{a:?} {b:?}");
    for group_by in [
        GroupBy::Workflow,
        GroupBy::User,
        GroupBy::Model,
        GroupBy::Provider,
        GroupBy::Step,
    ] {
        let all = store.breakdown(&TraceFilter::new(), group_by).unwrap();
        for f in [&hourly, &scan] {
            let got = store.breakdown(f, group_by).unwrap();
            let key = |r: &Vec<StatsRow>| {
                let mut k: Vec<(String, u64, u64)> = r
                    .iter()
                    .map(|r| (r.key.clone(), r.count, r.total_tokens))
                    .collect();
                k.sort();
                k
            };
            assert_eq!(key(&got), key(&all), "{group_by:?}");
        }
        for interval in [Interval::Hour, Interval::Day] {
            let non_empty = |f: &TraceFilter| -> Vec<TimeBucket> {
                let mut v = store.timeseries(f, interval, Some(group_by)).unwrap();
                v.retain(|b| b.traces > 0 || !b.stack.is_empty());
                v
            };
            let (h, s) = (non_empty(&hourly), non_empty(&scan));
            assert_eq!(h.len(), s.len(), "{group_by:?} {interval:?}");
            assert!(!h.is_empty());
            for (x, y) in h.iter().zip(&s) {
                let what = format!("{group_by:?} {interval:?} {}", x.start_ns);
                assert_eq!(
                    (x.start_ns, x.traces, x.errors, x.total_tokens),
                    (y.start_ns, y.traces, y.errors, y.total_tokens),
                    "{what}"
                );
                assert!(close(x.cost_usd, y.cost_usd, 1e-9), "{what}");
                assert!(near(x.latency_p50_ms, y.latency_p50_ms), "{what}");
                assert!(near(x.latency_p95_ms, y.latency_p95_ms), "{what}");
                let mut xs = x.stack.clone();
                let mut ys = y.stack.clone();
                xs.sort_by(|a, b| a.0.cmp(&b.0));
                ys.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(xs.len(), ys.len(), "{what}");
                for (p, q) in xs.iter().zip(&ys) {
                    assert_eq!(p.0, q.0, "{what}");
                    assert!(close(p.1, q.1, 1e-9), "{what}");
                }
            }
        }
    }
}

/// The `step` aggregates equal SQL over the workflow spans, and a workflow
/// filter finds the traces whose own workflow or a nested step has that name.
fn assert_steps_consistent(store: &Store, conn: &Connection) {
    let rollup = |k: &str| format!("COALESCE(json_extract(attributes, '$.\"{k}\"'), 0)");
    let want: Vec<(String, u64, u64, u64, u64, f64)> = conn
        .prepare(&format!(
            "SELECT workflow, COUNT(*), SUM(status_code = 'error'), SUM({}), SUM({}), SUM({})
             FROM spans WHERE span_type = 'workflow' AND workflow IS NOT NULL
             GROUP BY workflow ORDER BY workflow",
            rollup(semconv::ROLLUP_INPUT_TOKENS),
            rollup(semconv::ROLLUP_TOTAL_TOKENS),
            rollup(semconv::ROLLUP_COST_USD),
        ))
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
                r.get::<_, i64>(4)? as u64,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut got = store.breakdown(&TraceFilter::new(), GroupBy::Step).unwrap();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g.key, g.count, g.errors, g.input_tokens, g.total_tokens),
            (&w.0, w.1, w.2, w.3, w.4)
        );
        assert!(close(g.cost_usd, w.5, 1e-9), "{}", w.0);
    }
    let names: Vec<String> = conn
        .prepare(
            "SELECT workflow FROM traces WHERE workflow IS NOT NULL
             UNION SELECT workflow FROM spans WHERE span_type = 'workflow' AND workflow IS NOT NULL",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        names.iter().any(|n| n.starts_with("step")),
        "nested steps seeded"
    );
    for name in names {
        let want: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM traces t WHERE t.workflow = ?1 OR EXISTS (SELECT 1 FROM spans s
                 WHERE s.trace_id = t.trace_id AND s.span_type = 'workflow' AND s.workflow = ?1)",
                [&name],
                |r| r.get(0),
            )
            .unwrap();
        let got = store
            .traces(&TraceFilter::new().workflow(name.clone()))
            .unwrap();
        assert_eq!(got.total, want as u64, "workflow {name}");
        // With a user too (the user's traces drive, the workflow is a lookup).
        let want: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM traces t WHERE (t.workflow = ?1 OR EXISTS (SELECT 1 FROM spans s
                 WHERE s.trace_id = t.trace_id AND s.span_type = 'workflow' AND s.workflow = ?1))
                 AND EXISTS (SELECT 1 FROM spans u WHERE u.trace_id = t.trace_id AND u.user_id = 'u1')",
                [&name],
                |r| r.get(0),
            )
            .unwrap();
        let got = store
            .traces(&TraceFilter::new().workflow(name.clone()).user_id("u1"))
            .unwrap();
        assert_eq!(got.total, want as u64, "workflow {name} and user u1");
    }
}

fn assert_consistent(store: &Store, conn: &Connection) {
    assert_hourly_equals_scan(store);
    assert_steps_consistent(store, conn);
    // Spans below a root carry its workflow.
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM spans s WHERE s.workflow IS NULL AND EXISTS
             (SELECT 1 FROM spans r WHERE r.trace_id = s.trace_id AND r.is_root = 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);

    let brute = trace_rows(conn, BRUTE_TRACES);
    let stored = trace_rows(conn, STORED_TRACES);
    assert_eq!(brute.len(), stored.len());
    for (b, s) in brute.iter().zip(&stored) {
        assert_eq!((&b.0, &b.1, &b.2, b.3), (&s.0, &s.1, &s.2, s.3));
        assert_eq!(
            (b.4, b.5, b.6, b.7, b.8),
            (s.4, s.5, s.6, s.7, s.8),
            "{}",
            b.0
        );
        assert!(close(b.9, s.9, 1e-9), "{}: cost {} vs {}", b.0, b.9, s.9);
        assert_eq!(b.10, s.10, "{}", b.0);
    }

    for group_by in [
        GroupBy::Workflow,
        GroupBy::User,
        GroupBy::Session,
        GroupBy::Day,
        GroupBy::Model,
        GroupBy::Provider,
    ] {
        let want = brute_stats(conn, group_by);
        let got = store.stats(group_by).unwrap();
        assert_eq!(
            got.iter().map(|r| &r.key).collect::<Vec<_>>(),
            want.iter().map(|r| &r.key).collect::<Vec<_>>(),
            "{group_by:?}"
        );
        for (g, w) in got.iter().zip(&want) {
            let what = format!("{group_by:?} {}", w.key);
            assert_eq!(
                (
                    g.count,
                    g.errors,
                    g.input_tokens,
                    g.output_tokens,
                    g.total_tokens
                ),
                (
                    w.count,
                    w.errors,
                    w.input_tokens,
                    w.output_tokens,
                    w.total_tokens
                ),
                "{what}"
            );
            assert!(close(g.error_rate, w.error_rate, 1e-12), "{what}");
            assert!(close(g.cost_usd, w.cost_usd, 1e-9), "{what}");
            // Within the bound always (exact while a group has never held
            // more than 64 latencies, which traces moving between users or
            // sessions as their spans arrive can break here).
            let rel = BOUND;
            assert!(
                close(g.latency_p50_ms, w.latency_p50_ms, rel),
                "{what}: p50 {} vs {}",
                g.latency_p50_ms,
                w.latency_p50_ms
            );
            assert!(
                close(g.latency_p95_ms, w.latency_p95_ms, rel),
                "{what}: p95 {} vs {}",
                g.latency_p95_ms,
                w.latency_p95_ms
            );
        }
    }

    let sessions: Vec<(String, Option<String>, u64, i64, i64, u64)> = store
        .sessions()
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.session_id,
                s.user_id,
                s.trace_count,
                s.first_start_ns,
                s.last_start_ns,
                s.total_tokens,
            )
        })
        .collect();
    let want: Vec<(String, Option<String>, u64, i64, i64, u64)> = conn
        .prepare(
            "SELECT session_id, MAX(user_id), COUNT(*), MIN(start_ns), MAX(start_ns),
                    SUM(total_tokens)
             FROM traces WHERE session_id IS NOT NULL
             GROUP BY session_id ORDER BY MAX(start_ns) DESC, session_id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get::<_, i64>(2)? as u64,
                r.get(3)?,
                r.get(4)?,
                r.get::<_, i64>(5)? as u64,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sessions, want);

    // Key filters: "some span of the trace has it", newest first, counted.
    let mut filters: Vec<(&str, String)> = vec![
        ("model", "gpt-4o".to_owned()),
        ("model", "gpt-4o-2024-08-06".to_owned()),
        ("provider", "p".to_owned()),
    ];
    filters.extend((0..7).map(|u| ("user_id", format!("u{u}"))));
    filters.extend((0..11).map(|s| ("session_id", format!("s{s}"))));
    for (column, value) in filters {
        let value = value.as_str();
        let filter = match column {
            "model" => TraceFilter::new().model(value),
            "provider" => TraceFilter::new().provider(value),
            "user_id" => TraceFilter::new().user_id(value),
            _ => TraceFilter::new().session_id(value),
        };
        // A model filter also matches the dated versions of the model.
        let matches = if column == "model" {
            "model = ?1 OR (substr(model, 1, length(?1) + 1) = ?1 || '-'
                 AND substr(model, length(?1) + 2) GLOB '[0-9]*'
                 AND substr(model, length(?1) + 2) NOT GLOB '*[^0-9-]*')"
                .to_owned()
        } else {
            format!("{column} = ?1")
        };
        let want: Vec<String> = conn
            .prepare(&format!(
                "SELECT trace_id FROM traces WHERE trace_id IN
                 (SELECT trace_id FROM spans WHERE {matches})
                 ORDER BY start_ns DESC, trace_id DESC"
            ))
            .unwrap()
            .query_map([value], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!want.is_empty(), "{column} {value} seeds nothing");
        let first = store.traces(&filter.clone().page(1000, 0)).unwrap();
        assert_eq!(first.total as usize, want.len(), "{column} {value}");
        let got: Vec<String> = first.items.into_iter().map(|t| t.trace_id).collect();
        assert_eq!(got, want, "{column} {value}");
        // The same filter combined with another one takes the general path.
        let general = store
            .traces(&filter.errors_only(true).page(1000, 0))
            .unwrap();
        assert!(general.items.iter().all(|t| t.error_count > 0));
        assert!(general.items.iter().all(|t| want.contains(&t.trace_id)));
    }
}

#[test]
fn aggregates_equal_brute_force_sql_over_spans() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let mut rng = Rng(7);
    let traces = generate(&mut rng, 400);
    export_shuffled(&exporter, &mut rng, &traces);
    let store = Store::open(&path).unwrap();
    let conn = sqlite(&path);
    // Some groups are large enough for buckets, others stay exact.
    assert!(
        store
            .stats(GroupBy::Model)
            .unwrap()
            .iter()
            .any(|r| r.count > 64)
    );
    assert!(
        store
            .stats(GroupBy::Session)
            .unwrap()
            .iter()
            .all(|r| r.count <= 64)
    );
    assert_consistent(&store, &conn);

    // Retention takes exactly the deleted traces out of every aggregate.
    let total = store.span_count().unwrap();
    let deleted = store
        .apply_retention(&Retention::keep_all().max_spans(total / 2))
        .unwrap();
    assert!(deleted > 0);
    assert_consistent(&store, &conn);

    assert!(store.clear().unwrap() > 0);
    assert!(store.stats(GroupBy::Workflow).unwrap().is_empty());
    assert!(store.sessions().unwrap().is_empty());
    assert_eq!(
        store
            .traces(&TraceFilter::new().model("gpt-4o"))
            .unwrap()
            .total,
        0
    );
}

/// Batches queued behind a busy writer are committed together (a group
/// commit): spans of one trace spread over several of them, and re-exports
/// of a span within one group, fold into the same summaries, keys and
/// aggregates as batch-by-batch writes.
#[test]
fn group_commits_keep_the_aggregates_exact() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .queue_capacity(4096)
        .busy_timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    // The lock holds the writer on the first batch while the rest queue up.
    let locker = sqlite(&path);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut rng = Rng(13);
    let traces = generate(&mut rng, 300);
    let mut batches = 0u64;
    export_shuffled_then(&exporter, &mut rng, &traces, |b| {
        assert!(crate::support::futures_block_on(exporter.export(b)).is_ok());
        batches += 1;
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    locker.execute_batch("COMMIT").unwrap();
    exporter
        .flush_with_timeout(std::time::Duration::from_secs(20))
        .unwrap();
    let stats = exporter.stats();
    assert_eq!((stats.failed_batches, stats.dropped_spans), (0, 0));
    let store = Store::open(&path).unwrap();
    let conn = sqlite(&path);
    let spans: u64 = traces.iter().map(|t| t.len() as u64).sum();
    assert_eq!(store.span_count().unwrap(), spans);
    assert!(batches > 20, "{batches} batches");
    assert_consistent(&store, &conn);
}

/// A store written by schema version 1 is upgraded on open: its summaries,
/// keys and aggregates are built from the rows already there.
#[test]
fn a_version_1_store_is_upgraded_with_its_aggregates() {
    let (_d, path) = tempdb();
    // Write with the current schema, then rebuild the file as version 1 had it:
    // the v1 tables hold the same rows.
    let v2 = tempdb();
    {
        let exporter = StoreExporter::new(&v2.1).unwrap();
        let mut rng = Rng(11);
        let traces = generate(&mut rng, 150);
        export_shuffled(&exporter, &mut rng, &traces);
    }
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../migrations/0001_init.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);",
        )
        .unwrap();
        conn.execute("ATTACH DATABASE ?1 AS v2", [v2.1.to_str().unwrap()])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO spans SELECT * FROM v2.spans;
             INSERT INTO traces SELECT trace_id, name, workflow, service_name, start_ns, end_ns,
                 duration_ms, span_count, error_count, input_tokens, output_tokens,
                 total_tokens, cost_usd, user_id, session_id, model, provider FROM v2.traces;
             DETACH DATABASE v2;",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let conn = sqlite(&path);
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    assert_consistent(&store, &conn);
    // The upgraded store equals the one written by this version.
    let fresh = Store::open(&v2.1).unwrap();
    for group_by in [GroupBy::Workflow, GroupBy::Model, GroupBy::Session] {
        let strip = |rows: Vec<StatsRow>| -> Vec<(String, u64, u64, f64, f64)> {
            rows.into_iter()
                .map(|r| {
                    (
                        r.key,
                        r.count,
                        r.total_tokens,
                        r.latency_p50_ms,
                        r.latency_p95_ms,
                    )
                })
                .collect()
        };
        assert_eq!(
            strip(store.stats(group_by).unwrap()),
            strip(fresh.stats(group_by).unwrap())
        );
    }
    // And it keeps being maintained incrementally.
    let exporter = StoreExporter::new(&path).unwrap();
    export(
        &exporter,
        vec![
            S::new(9_999, 1, 0, "late", 0, 42)
                .attr(KeyValue::new(semconv::SESSION_ID, "s5"))
                .build(),
        ],
    );
    assert_consistent(&store, &conn);
    assert_eq!(store.get_trace(&trace_hex(9_999)).unwrap().spans.len(), 1);
}

/// A trace whose summary was deleted by hand (its spans kept) and then
/// exported again: the batch still commits, the spans are replaced, and
/// every derived table is rebuilt to match.
#[test]
fn a_summary_deleted_by_hand_is_rebuilt_on_the_next_export() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let mut rng = Rng(3);
    let traces = generate(&mut rng, 40);
    export_shuffled(&exporter, &mut rng, &traces);
    let conn = sqlite(&path);
    conn.execute("DELETE FROM traces WHERE trace_id = ?1", [trace_hex(5)])
        .unwrap();
    // 10 spans of trace 5 (ids 1..=10, some already stored).
    let again: Vec<SpanData> = (1..=10)
        .map(|s| {
            S::new(5, s, if s == 1 { 0 } else { 1 }, "redo", 7, 10 + s)
                .attr(KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, "gpt-4o"))
                .build()
        })
        .collect();
    export(&exporter, again);
    assert_eq!(exporter.stats().failed_batches, 0);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.get_trace(&trace_hex(5)).unwrap().spans.len(), 10);
    assert_consistent(&store, &conn);
}

//! Every query over a small hand-made data set, plus plain SQL against the
//! documented schema.

use opentelemetry::KeyValue;
use tokentrace_core::semconv;
use tokentrace_store::{GroupBy, Retention, Store, StoreErrorKind, StoreExporter, TraceFilter};

use crate::support::{S, export, sqlite, tempdb, trace_hex};

const DAY_MS: u64 = 86_400_000;

/// Four traces:
/// 1. `POST /chat` (workflow `support`, u1/s1) at 0 ms, 1000 ms, with an
///    OpenAI LLM child (100/50 tokens, $0.001) and a vector child.
/// 2. `workflow.summarise` (u2/s2) at 10 s, 3000 ms, an Anthropic LLM child
///    in error (1000/200 tokens, $0.006).
/// 3. `POST /chat` (support, u1/s1) at 20 s, 2000 ms, an OpenAI LLM child
///    (10/5 tokens, $0.0001) whose input mentions pizza.
/// 4. `workflow.summarise` (u3, no session) a day later, 500 ms, no LLM.
fn seed() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let (dir, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let llm = |t,
               s,
               p,
               start,
               dur,
               provider: &'static str,
               model: &'static str,
               i: i64,
               o: i64,
               cost: f64| {
        S::new(t, s, p, &format!("chat {model}"), start, dur)
            .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "llm"))
            .attr(KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, provider))
            .attr(KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, model))
            .attr(KeyValue::new(semconv::GEN_AI_USAGE_INPUT_TOKENS, i))
            .attr(KeyValue::new(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, o))
            .attr(KeyValue::new(semconv::COST_TOTAL_USD, cost))
    };
    let root = |t, s, name: &str, start, dur, user: &'static str| {
        S::new(t, s, 0, name, start, dur)
            .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "workflow"))
            .attr(KeyValue::new(semconv::USER_ID, user))
            // A roll-up on the workflow must not be counted twice.
            .attr(KeyValue::new(
                semconv::GEN_AI_USAGE_TOTAL_TOKENS,
                999_999_i64,
            ))
    };
    // Children are exported before their roots, as a batch processor does.
    export(
        &exporter,
        vec![
            llm(1, 12, 11, 100, 500, "openai", "gpt-4o-mini", 100, 50, 0.001).build(),
            S::new(1, 13, 11, "query docs", 20, 50)
                .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "vector"))
                .build(),
        ],
    );
    export(
        &exporter,
        vec![
            root(1, 11, "POST /chat", 0, 1000, "u1")
                .attr(KeyValue::new(semconv::GEN_AI_WORKFLOW_NAME, "support"))
                .attr(KeyValue::new(semconv::SESSION_ID, "s1"))
                .build(),
            llm(
                2,
                22,
                21,
                10_100,
                2000,
                "anthropic",
                "claude-3-5-sonnet",
                1000,
                200,
                0.006,
            )
            .error("overloaded")
            .build(),
            root(2, 21, "workflow.summarise", 10_000, 3000, "u2")
                .attr(KeyValue::new(semconv::SESSION_ID, "s2"))
                .build(),
        ],
    );
    export(
        &exporter,
        vec![
            root(3, 31, "POST /chat", 20_000, 2000, "u1")
                .attr(KeyValue::new(semconv::GEN_AI_WORKFLOW_NAME, "support"))
                .attr(KeyValue::new(semconv::SESSION_ID, "s1"))
                .build(),
            llm(
                3,
                32,
                31,
                20_100,
                300,
                "openai",
                "gpt-4o-mini",
                10,
                5,
                0.0001,
            )
            .attr(KeyValue::new(
                semconv::GEN_AI_RESPONSE_MODEL,
                "gpt-4o-mini-2024-07-18",
            ))
            .attr(KeyValue::new(
                semconv::INPUT_VALUE,
                r#"I want a "pizza", 50% off \ today"#,
            ))
            .build(),
            root(4, 41, "workflow.summarise", DAY_MS, 500, "u3").build(),
        ],
    );
    drop(exporter);
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

fn ids(page: &tokentrace_store::Page<tokentrace_store::TraceSummary>) -> Vec<String> {
    page.items.iter().map(|t| t.trace_id.clone()).collect()
}

#[test]
fn get_trace_returns_totals_and_the_tree_in_order() {
    let (_d, _p, store) = seed();
    let t = store.get_trace(&trace_hex(1)).unwrap();
    assert_eq!(t.trace_id, trace_hex(1));
    assert_eq!(t.name, "POST /chat");
    assert_eq!(t.workflow.as_deref(), Some("support"));
    assert!((t.latency_ms - 1000.0).abs() < 1e-9);
    assert_eq!(t.total_tokens, 150);
    assert!((t.cost_usd - 0.001).abs() < 1e-12);
    let order: Vec<(&str, u32)> = t.spans.iter().map(|s| (s.name.as_str(), s.depth)).collect();
    // Siblings by start time: the vector query (20 ms) before the LLM call (100 ms).
    assert_eq!(
        order,
        [
            ("POST /chat", 0),
            ("query docs", 1),
            ("chat gpt-4o-mini", 1)
        ]
    );
    let llm = &t.spans[2];
    assert_eq!(
        llm.parent_span_id.as_deref(),
        Some(&*format!("{:016x}", 11))
    );
    // The child inherits the root's workflow although it was stored first.
    assert_eq!(llm.workflow.as_deref(), Some("support"));
    assert_eq!(llm.attributes[semconv::GEN_AI_USAGE_INPUT_TOKENS], 100);
    assert!(llm.attributes[semconv::GEN_AI_USAGE_INPUT_TOKENS].is_i64());
    assert_eq!(llm.model.as_deref(), Some("gpt-4o-mini"));
}

#[test]
fn get_trace_rejects_bad_and_missing_ids() {
    let (_d, _p, store) = seed();
    let e = store.get_trace(&trace_hex(99)).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
    assert!(e.is_not_found());
    for bad in ["", "ABCDEF0123456789ABCDEF0123456789", "xyz", "' OR 1=1 --"] {
        assert_eq!(
            store.get_trace(bad).unwrap_err().kind(),
            StoreErrorKind::InvalidTraceId,
            "{bad}"
        );
    }
}

#[test]
fn traces_are_listed_newest_first_with_totals() {
    let (_d, _p, store) = seed();
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        ids(&page),
        [trace_hex(4), trace_hex(3), trace_hex(2), trace_hex(1)]
    );
    let t2 = &page.items[2];
    assert_eq!(t2.workflow.as_deref(), Some("workflow.summarise"));
    assert_eq!(t2.error_count, 1);
    assert_eq!(t2.span_count, 2);
    assert_eq!(
        (t2.input_tokens, t2.output_tokens, t2.total_tokens),
        (1000, 200, 1200)
    );
    assert_eq!(t2.user_id.as_deref(), Some("u2"));
    assert_eq!(t2.session_id.as_deref(), Some("s2"));
    assert_eq!(t2.model.as_deref(), Some("claude-3-5-sonnet"));
    assert!((t2.latency_ms - 3000.0).abs() < 1e-9);
}

#[test]
fn traces_filter_by_each_field() {
    let (_d, _p, store) = seed();
    let q = |f: TraceFilter| ids(&store.traces(&f).unwrap());
    assert_eq!(
        q(TraceFilter::new().workflow("support")),
        [trace_hex(3), trace_hex(1)]
    );
    assert_eq!(q(TraceFilter::new().user_id("u2")), [trace_hex(2)]);
    assert_eq!(
        q(TraceFilter::new().session_id("s1")),
        [trace_hex(3), trace_hex(1)]
    );
    assert_eq!(
        q(TraceFilter::new().model("claude-3-5-sonnet")),
        [trace_hex(2)]
    );
    assert_eq!(
        q(TraceFilter::new().provider("openai")),
        [trace_hex(3), trace_hex(1)]
    );
    assert_eq!(q(TraceFilter::new().errors_only(true)), [trace_hex(2)]);
    let t0 = crate::support::T0_NS as i64;
    assert_eq!(
        q(TraceFilter::new().time_range(Some(t0 + 10_000_000_000), Some(t0 + 20_000_000_000))),
        [trace_hex(2)]
    );
    assert_eq!(q(TraceFilter::new().text("PIZZA")), [trace_hex(3)]);
    assert_eq!(q(TraceFilter::new().text("50%")), [trace_hex(3)]);
    // Quotes and backslashes are matched as the text has them, not as the
    // attributes JSON escapes them.
    assert_eq!(q(TraceFilter::new().text(r#"a "pizza""#)), [trace_hex(3)]);
    assert_eq!(q(TraceFilter::new().text(r"off \ today")), [trace_hex(3)]);
    assert_eq!(
        q(TraceFilter::new().text("summarise").user_id("u3")),
        [trace_hex(4)]
    );
    assert!(q(TraceFilter::new().workflow("support").errors_only(true)).is_empty());
}

#[test]
fn traces_paginate() {
    let (_d, _p, store) = seed();
    let p1 = store.traces(&TraceFilter::new().page(3, 0)).unwrap();
    let p2 = store.traces(&TraceFilter::new().page(3, 3)).unwrap();
    assert_eq!((p1.total, p1.items.len(), p2.items.len()), (4, 3, 1));
    assert_eq!(ids(&p2), [trace_hex(1)]);
}

/// User input goes in bound parameters, never into the SQL text.
#[test]
fn hostile_filter_values_are_just_values() {
    let (_d, path, store) = seed();
    for evil in ["'; DROP TABLE spans; --", "\" OR 1=1 --", "%", "_"] {
        assert!(
            store
                .traces(&TraceFilter::new().workflow(evil))
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            store
                .traces(&TraceFilter::new().user_id(evil))
                .unwrap()
                .items
                .is_empty()
        );
    }
    for evil in ["'; DROP TABLE spans; --", "\" OR 1=1 --"] {
        assert!(
            store
                .traces(&TraceFilter::new().text(evil))
                .unwrap()
                .items
                .is_empty()
        );
    }
    let n: i64 = sqlite(&path)
        .query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 8);
}

#[test]
fn stats_by_workflow_user_session_and_day() {
    let (_d, _p, store) = seed();
    let wf = store.stats(GroupBy::Workflow).unwrap();
    let keys: Vec<&str> = wf.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["support", "workflow.summarise"]);
    let support = &wf[0];
    assert_eq!((support.count, support.errors), (2, 0));
    assert_eq!(support.latency_p50_ms, 1000.0);
    assert_eq!(support.latency_p95_ms, 2000.0);
    assert_eq!(support.total_tokens, 165);
    assert!((support.cost_usd - 0.0011).abs() < 1e-12);
    let summarise = &wf[1];
    assert_eq!((summarise.count, summarise.errors), (2, 1));
    assert_eq!(summarise.error_rate, 0.5);
    assert_eq!(
        (summarise.latency_p50_ms, summarise.latency_p95_ms),
        (500.0, 3000.0)
    );

    let users = store.stats(GroupBy::User).unwrap();
    let u: Vec<(&str, u64)> = users.iter().map(|r| (r.key.as_str(), r.count)).collect();
    assert_eq!(u, [("u1", 2), ("u2", 1), ("u3", 1)]);

    let sessions = store.stats(GroupBy::Session).unwrap();
    let s: Vec<(&str, u64, u64)> = sessions
        .iter()
        .map(|r| (r.key.as_str(), r.count, r.total_tokens))
        .collect();
    assert_eq!(s, [("s1", 2, 165), ("s2", 1, 1200)]);

    let days = store.stats(GroupBy::Day).unwrap();
    let d: Vec<(&str, u64)> = days.iter().map(|r| (r.key.as_str(), r.count)).collect();
    assert_eq!(d, [("2025-01-01", 3), ("2025-01-02", 1)]);
}

#[test]
fn stats_by_model_and_provider_count_llm_spans() {
    let (_d, _p, store) = seed();
    let models = store.stats(GroupBy::Model).unwrap();
    let m: Vec<(&str, u64, u64, f64)> = models
        .iter()
        .map(|r| (r.key.as_str(), r.count, r.errors, r.latency_p95_ms))
        .collect();
    assert_eq!(
        m,
        [
            ("claude-3-5-sonnet", 1, 1, 2000.0),
            ("gpt-4o-mini", 1, 0, 500.0),
            ("gpt-4o-mini-2024-07-18", 1, 0, 300.0),
        ]
    );
    let providers = store.stats(GroupBy::Provider).unwrap();
    let openai = providers.iter().find(|r| r.key == "openai").unwrap();
    assert_eq!(
        (openai.count, openai.input_tokens, openai.output_tokens),
        (2, 110, 55)
    );
    assert_eq!(openai.latency_p50_ms, 300.0);
}

#[test]
fn slowest_workflows_orders_by_p95() {
    let (_d, _p, store) = seed();
    let rows = store.slowest_workflows(1).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "workflow.summarise");
}

#[test]
fn sessions_and_a_sessions_traces() {
    let (_d, _p, store) = seed();
    let sessions = store.sessions().unwrap();
    let s: Vec<(&str, u64)> = sessions
        .iter()
        .map(|s| (s.session_id.as_str(), s.trace_count))
        .collect();
    assert_eq!(s, [("s1", 2), ("s2", 1)]);
    assert_eq!(sessions[0].user_id.as_deref(), Some("u1"));
    let traces = store.session("s1").unwrap();
    let order: Vec<&str> = traces.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(order, [trace_hex(1), trace_hex(3)]);
    assert!(store.session("nope").unwrap_err().is_not_found());
}

#[test]
fn models_seen_lists_each_model_once() {
    let (_d, _p, store) = seed();
    let models = store.models_seen().unwrap();
    let m: Vec<(Option<&str>, &str, u64)> = models
        .iter()
        .map(|m| (m.provider.as_deref(), m.model.as_str(), m.spans))
        .collect();
    assert_eq!(
        m,
        [
            (Some("anthropic"), "claude-3-5-sonnet", 1),
            (Some("openai"), "gpt-4o-mini", 1),
            (Some("openai"), "gpt-4o-mini-2024-07-18", 1),
        ]
    );
}

#[test]
fn clear_returns_the_number_of_spans_deleted() {
    let (_d, _p, store) = seed();
    assert_eq!(store.clear().unwrap(), 8);
    assert_eq!(store.traces(&TraceFilter::new()).unwrap().total, 0);
    assert_eq!(store.clear().unwrap(), 0);
}

#[test]
fn retention_deletes_whole_traces_oldest_first() {
    let (_d, _p, store) = seed();
    // 8 spans; keeping 4 keeps traces 4 (1 span) and 3 (2 spans) only: trace
    // 2 (2 spans) would make 5.
    let deleted = store
        .apply_retention(&Retention::keep_all().max_spans(4))
        .unwrap();
    assert_eq!(deleted, 5);
    assert_eq!(
        ids(&store.traces(&TraceFilter::new()).unwrap()),
        [trace_hex(4), trace_hex(3)]
    );
    // Everything seeded is from 2025: older than a day from now.
    let deleted = store
        .apply_retention(&Retention::keep_all().max_age(std::time::Duration::from_secs(86_400)))
        .unwrap();
    assert_eq!(deleted, 3);
    assert_eq!(store.span_count().unwrap(), 0);
}

#[test]
fn the_writer_applies_retention_in_the_background() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .retention(Retention::keep_all().max_age(std::time::Duration::from_secs(3600)))
        .retention_interval(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    // Seeded 2025 timestamps are older than an hour.
    export(&exporter, vec![S::new(1, 1, 0, "old", 0, 10).build()]);
    let store = Store::open(&path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.span_count().unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "retention never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(exporter.stats().retention_deleted_spans, 1);
}

#[test]
fn exporting_a_span_twice_upserts_it() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    export(&exporter, vec![S::new(7, 1, 0, "first", 0, 10).build()]);
    export(&exporter, vec![S::new(7, 1, 0, "second", 0, 20).build()]);
    let store = Store::open(&path).unwrap();
    let t = store.get_trace(&trace_hex(7)).unwrap();
    assert_eq!(t.spans.len(), 1);
    assert_eq!(t.spans[0].name, "second");
    assert_eq!(exporter.stats().written_spans, 2);
}

/// The two example queries of docs/store.md, run verbatim.
#[test]
fn documented_sql_runs_against_the_schema() {
    let (_d, path, _store) = seed();
    let conn = sqlite(&path);
    let slowest: Vec<(String, i64, f64)> = conn
        .prepare(
            "SELECT workflow, COUNT(*) AS runs, MAX(duration_ms) AS max_ms
             FROM spans
             WHERE parent_span_id IS NULL
             GROUP BY workflow
             ORDER BY max_ms DESC
             LIMIT 10",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        slowest,
        [
            ("workflow.summarise".to_owned(), 2, 3000.0),
            ("support".to_owned(), 2, 2000.0)
        ]
    );
    let by_user: Vec<(String, f64, i64)> = conn
        .prepare(
            "SELECT user.user_id, SUM(s.cost_usd) AS cost_usd, SUM(s.total_tokens) AS tokens
             FROM spans AS s
             JOIN (SELECT DISTINCT trace_id, user_id FROM spans WHERE user_id IS NOT NULL) AS user
               ON user.trace_id = s.trace_id
             WHERE s.cost_usd IS NOT NULL
             GROUP BY user.user_id
             ORDER BY cost_usd DESC",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(by_user.len(), 2);
    assert_eq!(by_user[0].0, "u2");
    assert!((by_user[0].1 - 0.006).abs() < 1e-12);
    assert_eq!(by_user[1].0, "u1");
    assert_eq!(by_user[1].2, 165);
    // Attributes are plain JSON: json_extract works on them.
    let tokens: i64 = conn
        .query_row(
            "SELECT SUM(json_extract(attributes, '$.\"gen_ai.usage.input_tokens\"')) FROM spans",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tokens, 1110);
}

//! Filtered analytics over agent-shaped traces: totals, breakdowns (nested
//! workflow steps included), time series, sorting, model-name matching,
//! sessions pages, conversations, id prefixes and VACUUM.

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use tokentrace_core::semconv;
use tokentrace_store::{
    GroupBy, Interval, Store, StoreErrorKind, StoreExporter, TraceFilter, TraceSort,
};

use crate::support::{S, T0_NS, export, tempdb, trace_hex};

const HOUR_MS: u64 = 3_600_000;
const HOUR_NS: i64 = 3_600_000_000_000;

/// One `POST /chat` request as the agent service records it: the root,
/// a nested `answer` workflow with `retrieve` (an embedding call) and
/// `generate` (a chat call) steps beneath it.
#[allow(clippy::too_many_arguments)]
fn agent_trace(
    t: u128,
    start: u64,
    dur: u64,
    user: &str,
    session: &str,
    model: &str,
    provider: &str,
    chat_cost: f64,
    chat_error: bool,
) -> Vec<SpanData> {
    let wf = |s, parent, name: &str, wf_name: &str, tokens: i64, cost: f64| {
        S::new(t, s, parent, name, start + s - 1, dur - 2 * (s - 1))
            .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "workflow"))
            .attr(KeyValue::new(
                semconv::GEN_AI_WORKFLOW_NAME,
                wf_name.to_owned(),
            ))
            .attr(KeyValue::new(semconv::USER_ID, user.to_owned()))
            .attr(KeyValue::new(semconv::SESSION_ID, session.to_owned()))
            .attr(KeyValue::new(semconv::ROLLUP_TOTAL_TOKENS, tokens))
            .attr(KeyValue::new(semconv::ROLLUP_COST_USD, cost))
    };
    let llm = |s, parent, model: &str, provider: &str, tokens: i64, cost: f64| {
        S::new(t, s, parent, &format!("chat {model}"), start + 10 + s, 100)
            .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "llm"))
            .attr(KeyValue::new(
                semconv::GEN_AI_PROVIDER_NAME,
                provider.to_owned(),
            ))
            .attr(KeyValue::new(
                semconv::GEN_AI_RESPONSE_MODEL,
                model.to_owned(),
            ))
            .attr(KeyValue::new(
                semconv::GEN_AI_USAGE_INPUT_TOKENS,
                tokens / 2,
            ))
            .attr(KeyValue::new(
                semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
                tokens / 2,
            ))
            .attr(KeyValue::new(semconv::GEN_AI_USAGE_TOTAL_TOKENS, tokens))
            .attr(KeyValue::new(semconv::COST_TOTAL_USD, cost))
    };
    let total = chat_cost + 0.000_01;
    let mut chat = llm(6, 5, model, provider, 300, chat_cost);
    if chat_error {
        chat = chat.error("overloaded");
    }
    vec![
        wf(1, 0, "POST /chat", "POST /chat", 400, total)
            .attr(KeyValue::new(semconv::INPUT_VALUE, format!("question {t}")))
            .attr(KeyValue::new(semconv::OUTPUT_VALUE, format!("answer {t}")))
            .build(),
        wf(2, 1, "workflow.answer", "answer", 400, total).build(),
        wf(3, 2, "workflow.retrieve", "retrieve", 100, 0.000_01).build(),
        // The embedding call starts first: it must not become the main model.
        llm(4, 3, "text-embedding-3-small", "openai", 100, 0.000_01).build(),
        wf(5, 2, "workflow.generate", "generate", 300, chat_cost).build(),
        chat.build(),
    ]
}

/// Three requests an hour apart: u1/s1 on `gpt-4o-2024-08-06` ($0.002),
/// u1/s1 on `gpt-4o-mini` ($0.0003, the chat call fails), u2/s2 on Claude
/// ($0.004); plus a plain trace of u3 a day later with no LLM call.
fn seed() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let (dir, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    export(
        &exporter,
        agent_trace(
            1,
            0,
            1000,
            "u1",
            "s1",
            "gpt-4o-2024-08-06",
            "openai",
            0.002,
            false,
        ),
    );
    export(
        &exporter,
        agent_trace(
            2,
            HOUR_MS + 5,
            2000,
            "u1",
            "s1",
            "gpt-4o-mini",
            "openai",
            0.0003,
            true,
        ),
    );
    export(
        &exporter,
        agent_trace(
            3,
            2 * HOUR_MS + 5,
            3000,
            "u2",
            "s2",
            "claude-sonnet-4-5-20250929",
            "anthropic",
            0.004,
            false,
        ),
    );
    export(
        &exporter,
        vec![
            S::new(4, 1, 0, "cron", 24 * HOUR_MS, 50)
                .attr(KeyValue::new(semconv::USER_ID, "u3"))
                .build(),
        ],
    );
    drop(exporter);
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

#[allow(clippy::needless_pass_by_value)]
fn ids(store: &Store, f: TraceFilter) -> Vec<String> {
    store
        .traces(&f)
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.trace_id)
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

#[test]
fn the_main_model_is_the_costliest_not_the_first_seen() {
    let (_d, _p, store) = seed();
    let page = store.traces(&TraceFilter::new()).unwrap();
    let t1 = page
        .items
        .iter()
        .find(|t| t.trace_id == trace_hex(1))
        .unwrap();
    assert_eq!(t1.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(t1.models, ["gpt-4o-2024-08-06", "text-embedding-3-small"]);
    let t4 = page
        .items
        .iter()
        .find(|t| t.trace_id == trace_hex(4))
        .unwrap();
    assert_eq!((t4.model.as_deref(), t4.models.len()), (None, 0));
    // Filtering by the embedding model keeps showing each trace's main model.
    let by_embedding = store
        .traces(&TraceFilter::new().model("text-embedding-3-small"))
        .unwrap();
    assert_eq!(by_embedding.total, 3);
    assert!(
        by_embedding
            .items
            .iter()
            .all(|t| t.model.as_deref() != Some("text-embedding-3-small"))
    );
}

#[test]
fn a_model_filter_matches_dated_versions_only() {
    let (_d, _p, store) = seed();
    assert_eq!(
        ids(&store, TraceFilter::new().model("gpt-4o")),
        [trace_hex(1)]
    );
    assert_eq!(
        ids(&store, TraceFilter::new().model("gpt-4o-2024-08-06")),
        [trace_hex(1)]
    );
    assert_eq!(
        ids(&store, TraceFilter::new().model("gpt-4o-mini")),
        [trace_hex(2)]
    );
    assert_eq!(
        ids(&store, TraceFilter::new().model("claude-sonnet-4-5")),
        [trace_hex(3)]
    );
    assert!(ids(&store, TraceFilter::new().model("gpt")).is_empty());
    // Combined with another filter (the general path).
    assert_eq!(
        ids(&store, TraceFilter::new().model("gpt-4o").user_id("u1")),
        [trace_hex(1)]
    );
    let t = store
        .trace_totals(&TraceFilter::new().model("gpt-4o"))
        .unwrap();
    assert_eq!(t.traces, 1);
}

#[test]
fn a_workflow_filter_includes_nested_steps() {
    let (_d, _p, store) = seed();
    let all = [trace_hex(3), trace_hex(2), trace_hex(1)];
    assert_eq!(ids(&store, TraceFilter::new().workflow("answer")), all);
    assert_eq!(ids(&store, TraceFilter::new().workflow("generate")), all);
    assert_eq!(ids(&store, TraceFilter::new().workflow("POST /chat")), all);
    assert_eq!(
        ids(&store, TraceFilter::new().workflow("cron")),
        [trace_hex(4)]
    );
    assert!(ids(&store, TraceFilter::new().workflow("nope")).is_empty());
}

#[test]
fn traces_sort_by_cost_latency_and_tokens() {
    let (_d, _p, store) = seed();
    let by = |s| ids(&store, TraceFilter::new().sort(s));
    assert_eq!(
        by(TraceSort::CostDesc),
        [trace_hex(3), trace_hex(1), trace_hex(2), trace_hex(4)]
    );
    assert_eq!(
        by(TraceSort::CostAsc),
        [trace_hex(4), trace_hex(2), trace_hex(1), trace_hex(3)]
    );
    assert_eq!(
        by(TraceSort::LatencyDesc),
        [trace_hex(3), trace_hex(2), trace_hex(1), trace_hex(4)]
    );
    assert_eq!(by(TraceSort::LatencyAsc)[0], trace_hex(4));
    assert_eq!(by(TraceSort::TokensAsc)[0], trace_hex(4));
    assert_eq!(
        by(TraceSort::Oldest),
        [trace_hex(1), trace_hex(2), trace_hex(3), trace_hex(4)]
    );
    // Sorting composes with a filter and paging.
    let page = store
        .traces(
            &TraceFilter::new()
                .user_id("u1")
                .sort(TraceSort::CostDesc)
                .page(1, 1),
        )
        .unwrap();
    assert_eq!(
        (page.total, page.items[0].trace_id.clone()),
        (2, trace_hex(2))
    );
    for s in TraceSort::ALL {
        assert_eq!(TraceSort::parse(s.as_str()), Some(s));
    }
}

#[test]
fn totals_follow_every_filter() {
    let (_d, _p, store) = seed();
    let t0 = T0_NS as i64;
    #[allow(clippy::needless_pass_by_value)]
    let totals = |f: TraceFilter| store.trace_totals(&f).unwrap();
    let all = totals(TraceFilter::new());
    assert_eq!((all.traces, all.errors, all.total_tokens), (4, 1, 1200));
    assert!(close(all.cost_usd, 0.00633));
    assert_eq!((all.latency_p50_ms, all.latency_p95_ms), (1000.0, 3000.0));
    let u1 = totals(TraceFilter::new().user_id("u1"));
    assert_eq!((u1.traces, u1.errors), (2, 1));
    assert!(close(u1.cost_usd, 0.00232));
    assert_eq!(totals(TraceFilter::new().session_id("s2")).traces, 1);
    assert_eq!(totals(TraceFilter::new().provider("anthropic")).traces, 1);
    assert_eq!(totals(TraceFilter::new().workflow("generate")).traces, 3);
    assert_eq!(totals(TraceFilter::new().errors_only(true)).traces, 1);
    assert_eq!(totals(TraceFilter::new().text("question 2")).traces, 1);
    // A range on whole hours (the hourly aggregates) and one that is not (a scan).
    let hours = totals(TraceFilter::new().time_range(Some(t0 + HOUR_NS), Some(t0 + 3 * HOUR_NS)));
    assert_eq!(hours.traces, 2);
    assert!(close(hours.cost_usd, 0.00432));
    let exact = totals(TraceFilter::new().time_range(Some(t0 + 1), Some(t0 + HOUR_NS + 6_000_000)));
    assert_eq!(exact.traces, 1);
    assert_eq!(exact.latency_p50_ms, 2000.0);
    let none = totals(TraceFilter::new().user_id("nobody"));
    assert_eq!(
        (none.traces, none.cost_usd, none.latency_p95_ms),
        (0, 0.0, 0.0)
    );
    assert!(none.cost_usd.is_sign_positive());
}

#[test]
fn breakdowns_are_filtered_and_sorted_by_cost() {
    let (_d, _p, store) = seed();
    let keys = |f: TraceFilter, g| -> Vec<(String, u64)> {
        store
            .breakdown(&f, g)
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.count))
            .collect()
    };
    let s = |k: &str, n| (k.to_owned(), n);
    // Every workflow span, root and nested, by name: the costliest first.
    assert_eq!(
        keys(TraceFilter::new(), GroupBy::Step),
        [
            s("POST /chat", 3),
            s("answer", 3),
            s("generate", 3),
            s("retrieve", 3)
        ]
    );
    let steps = store
        .breakdown(&TraceFilter::new().user_id("u2"), GroupBy::Step)
        .unwrap();
    let generate = steps.iter().find(|r| r.key == "generate").unwrap();
    assert_eq!((generate.count, generate.total_tokens), (1, 300));
    assert!(close(generate.cost_usd, 0.004));
    // The unsorted stats API lists steps by name.
    let by_name: Vec<String> = store
        .stats(GroupBy::Step)
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(by_name, ["POST /chat", "answer", "generate", "retrieve"]);

    assert_eq!(
        keys(TraceFilter::new(), GroupBy::User),
        [s("u2", 1), s("u1", 2), s("u3", 1)]
    );
    assert_eq!(
        keys(TraceFilter::new().user_id("u1"), GroupBy::Model),
        [
            s("gpt-4o-2024-08-06", 1),
            s("gpt-4o-mini", 1),
            s("text-embedding-3-small", 2)
        ]
    );
    // A model breakdown of a model filter lists the matching models only.
    assert_eq!(
        keys(TraceFilter::new().model("gpt-4o"), GroupBy::Model),
        [s("gpt-4o-2024-08-06", 1)]
    );
    assert_eq!(
        keys(TraceFilter::new().provider("openai"), GroupBy::Provider),
        [s("openai", 5)]
    );
    let errors = store
        .breakdown(&TraceFilter::new(), GroupBy::Model)
        .unwrap();
    let mini = errors.iter().find(|r| r.key == "gpt-4o-mini").unwrap();
    assert_eq!((mini.errors, mini.error_rate), (1, 1.0));
    assert_eq!(
        keys(TraceFilter::new().errors_only(true), GroupBy::Session),
        [s("s1", 1)]
    );
    let t0 = T0_NS as i64;
    assert_eq!(
        keys(
            TraceFilter::new().time_range(Some(t0 + 2 * HOUR_NS), Some(t0 + 3 * HOUR_NS)),
            GroupBy::Workflow
        ),
        [s("POST /chat", 1)]
    );
    assert_eq!(
        keys(TraceFilter::new(), GroupBy::Day),
        [s("2025-01-01", 3), s("2025-01-02", 1)]
    );
    for g in GroupBy::ALL {
        assert_eq!(GroupBy::parse(g.as_str()), Some(g));
    }
}

#[test]
fn timeseries_buckets_by_hour_and_day_stacked() {
    let (_d, _p, store) = seed();
    let t0 = T0_NS as i64;
    let hourly = store
        .timeseries(&TraceFilter::new(), Interval::Hour, Some(GroupBy::Model))
        .unwrap();
    // Hours 0..=24, gaps included.
    assert_eq!(hourly.len(), 25);
    assert_eq!(hourly[0].start_ns, t0);
    assert_eq!(hourly[24].start_ns, t0 + 24 * HOUR_NS);
    assert_eq!((hourly[1].traces, hourly[1].errors), (1, 1));
    assert_eq!(hourly[1].latency_p95_ms, 2000.0);
    assert_eq!(hourly[5].traces, 0);
    let stack: Vec<&str> = hourly[0].stack.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(stack, ["gpt-4o-2024-08-06", "text-embedding-3-small"]);
    assert!(close(hourly[0].stack[0].1, 0.002));
    assert!(close(hourly[0].cost_usd, 0.00201));

    let daily = store
        .timeseries(
            &TraceFilter::new().user_id("u1"),
            Interval::Day,
            Some(GroupBy::User),
        )
        .unwrap();
    assert_eq!(daily.len(), 1);
    assert_eq!((daily[0].traces, daily[0].errors), (2, 1));
    assert_eq!(daily[0].stack.len(), 1);
    assert!(close(daily[0].stack[0].1, 0.00232));

    // A filter's range bounds the buckets, empty ones included.
    let ranged = store
        .timeseries(
            &TraceFilter::new().time_range(Some(t0 + 2 * HOUR_NS), Some(t0 + 6 * HOUR_NS)),
            Interval::Hour,
            Some(GroupBy::Step),
        )
        .unwrap();
    assert_eq!(ranged.len(), 4);
    assert_eq!(ranged[0].traces, 1);
    assert_eq!(ranged[0].stack[0].0, "POST /chat");
    assert!(
        ranged[1..]
            .iter()
            .all(|b| b.traces == 0 && b.stack.is_empty())
    );
}

#[test]
fn sessions_page_filters_and_paginates() {
    let (_d, _p, store) = seed();
    let all = store.sessions_page(&TraceFilter::new()).unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].session_id, "s2");
    let one = store.sessions_page(&TraceFilter::new().page(1, 1)).unwrap();
    assert_eq!((one.total, one.items.len()), (2, 1));
    assert_eq!(one.items[0].session_id, "s1");
    let by_user = store.sessions_page(&TraceFilter::new().text("U1")).unwrap();
    let ids: Vec<&str> = by_user
        .items
        .iter()
        .map(|s| s.session_id.as_str())
        .collect();
    assert_eq!(ids, ["s1"]);
    assert_eq!(
        store
            .sessions_page(&TraceFilter::new().text("%"))
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .sessions_page(&TraceFilter::new().user_id("u2"))
            .unwrap()
            .total,
        1
    );
    let t0 = T0_NS as i64;
    let late = store
        .sessions_page(&TraceFilter::new().time_range(Some(t0 + 2 * HOUR_NS), None))
        .unwrap();
    assert_eq!(late.total, 1);
}

#[test]
fn a_session_reads_as_a_conversation() {
    let (_d, _p, store) = seed();
    let turns = store.conversation("s1").unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0].trace.trace_id, trace_hex(1));
    assert_eq!(turns[0].input.as_deref(), Some("question 1"));
    assert_eq!(turns[0].output.as_deref(), Some("answer 1"));
    assert_eq!(turns[1].input.as_deref(), Some("question 2"));
    assert!(close(turns[1].trace.cost_usd, 0.00031));
    assert_eq!(turns[1].trace.latency_ms, 2000.0);
    assert_eq!(
        store.conversation("nope").unwrap_err().kind(),
        StoreErrorKind::NotFound
    );
}

#[test]
fn trace_id_prefixes_resolve() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let a = 0xabcd_ef12_3456_u128 << 80;
    let b = 0xabcd_ef12_3457_u128 << 80;
    export(
        &exporter,
        vec![
            S::new(a, 1, 0, "a", 0, 1).build(),
            S::new(b, 1, 0, "b", 0, 1).build(),
        ],
    );
    drop(exporter);
    let store = Store::open(&path).unwrap();
    let full = trace_hex(a);
    assert_eq!(store.resolve_trace_id(&full).unwrap(), full);
    assert_eq!(store.resolve_trace_id("abcdef123456").unwrap(), full);
    assert_eq!(
        store.resolve_trace_id("ABCDEF123457").unwrap(),
        trace_hex(b)
    );
    assert_eq!(
        store.resolve_trace_id("abcdef12").unwrap_err().kind(),
        StoreErrorKind::Ambiguous
    );
    assert_eq!(
        store.resolve_trace_id("ffff").unwrap_err().kind(),
        StoreErrorKind::NotFound
    );
    for bad in ["abc", "zzzz", "abcd'--", &"a".repeat(33)] {
        assert_eq!(
            store.resolve_trace_id(bad).unwrap_err().kind(),
            StoreErrorKind::InvalidTraceId,
            "{bad}"
        );
    }
}

#[test]
fn vacuum_after_clear_shrinks_the_file() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let big = "x".repeat(2000);
    for t in 0..40u128 {
        let spans = (1..=20)
            .map(|s| {
                S::new(t + 1, s, 0, "span", s, 1)
                    .attr(KeyValue::new(semconv::INPUT_VALUE, big.clone()))
                    .build()
            })
            .collect();
        export(&exporter, spans);
    }
    drop(exporter);
    let store = Store::open(&path).unwrap();
    let size = || {
        let wal = path.with_extension("db-wal");
        std::fs::metadata(&path).unwrap().len() + std::fs::metadata(&wal).map_or(0, |m| m.len())
    };
    let before = size();
    assert_eq!(store.clear().unwrap(), 800);
    store.vacuum().unwrap();
    let after = size();
    assert!(after * 4 < before, "{before} -> {after}");
    assert_eq!(store.trace_totals(&TraceFilter::new()).unwrap().traces, 0);
}

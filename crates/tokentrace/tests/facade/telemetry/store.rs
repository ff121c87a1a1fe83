//! The default pipeline: spans land in the SQLite store.

use tokentrace::Telemetry;
use tokentrace::store::{Store, TraceFilter};
use tokentrace_core::semconv;

#[test]
fn spans_land_in_the_store_with_their_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/traces.db");
    let (dispatch, guard) = Telemetry::builder()
        .service_name("store-test")
        .store(&path)
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let root = tracing::info_span!(
            "workflow",
            otel.name = "workflow.answer",
            { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
            { semconv::GEN_AI_WORKFLOW_NAME } = "answer",
            { semconv::USER_ID } = "u-17",
        );
        root.in_scope(|| {
            tracing::info_span!(
                "llm",
                otel.name = "chat gpt-4o-mini",
                { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
                { semconv::GEN_AI_PROVIDER_NAME } = "openai",
                { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
                { semconv::GEN_AI_USAGE_INPUT_TOKENS } = 100_i64,
                { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = 20_i64,
                { semconv::COST_TOTAL_USD } = 0.002_f64,
            )
            .in_scope(|| {});
        });
    });
    guard.flush();
    assert_eq!(guard.dropped_spans(), 0);

    let store = Store::open(&path).unwrap();
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 1);
    let t = store.get_trace(&page.items[0].trace_id).unwrap();
    assert_eq!(t.name, "workflow.answer");
    assert_eq!(t.total_tokens, 120);
    assert!((t.cost_usd - 0.002).abs() < 1e-12);
    assert_eq!(t.spans.len(), 2);
    let llm = &t.spans[1];
    assert_eq!(llm.depth, 1);
    assert_eq!(llm.workflow.as_deref(), Some("answer"));
    assert_eq!(llm.service_name.as_deref(), Some("store-test"));
    assert_eq!(llm.attributes[semconv::GEN_AI_USAGE_INPUT_TOKENS], 100);
    assert_eq!(llm.provider.as_deref(), Some("openai"));
    // EnrichLayer ran in the pipeline: metadata on the root reaches the child.
    assert_eq!(t.spans[0].attributes[semconv::USER_ID], "u-17");
    drop(guard);
    assert_eq!(store.export_stats().unwrap().written_spans, 2);
}

/// A span bound for the store passes one queue, the store's own: while the
/// database is locked it fills (batches waiting for the writer, then spans
/// waiting to be batched) and what does not fit is dropped there, counted
/// once, by the store, and reported by the guard; nothing is dropped before
/// it (no `upstream_dropped_spans`).
#[test]
fn a_full_store_queue_drops_in_one_place_and_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let (dispatch, guard) = Telemetry::builder()
        .store(&path)
        .queue_size(8)
        .export_delay(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let n = 3000;
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..n {
            tracing::info_span!("work").in_scope(|| {});
        }
    });
    locker.execute_batch("COMMIT").unwrap();
    guard.flush();
    let lost = guard.dropped_spans();
    // 64 batches of 8 wait for the writer, 8 spans to be batched, the writer
    // holds at least one batch: the rest cannot wait.
    assert!(lost > 0 && lost <= n - 8 * 66, "{lost}");
    drop(guard);

    let store = Store::open(&path).unwrap();
    let persisted = store.export_stats().unwrap();
    assert_eq!(persisted.dropped_spans + persisted.failed_spans, lost);
    assert_eq!(persisted.upstream_dropped_spans, 0);
    assert_eq!(store.span_count().unwrap(), n - lost);
    assert_eq!(persisted.written_spans, n - lost);
}

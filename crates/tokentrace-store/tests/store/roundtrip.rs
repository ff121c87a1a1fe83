//! Spans produced by real `tracing` spans through tracing-opentelemetry and
//! the OpenTelemetry SDK land in the store with every attribute.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokentrace_core::semconv;
use tokentrace_store::{Store, StoreExporter, TraceFilter};
use tracing_subscriber::layer::SubscriberExt;

use crate::support::tempdb;

/// Counts are recorded as `i64`: tracing-opentelemetry 0.34 has no
/// `record_u64`, so a `u64` field reaches OpenTelemetry as its Debug string.
#[test]
fn tracing_spans_land_with_every_attribute() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let stats = exporter.stats_handle();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            Resource::builder_empty()
                .with_service_name("support-bot")
                .build(),
        )
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("roundtrip")));
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!(
            "workflow",
            otel.name = "workflow.answer",
            { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
            { semconv::GEN_AI_WORKFLOW_NAME } = "answer",
            { semconv::USER_ID } = "u-17",
            { semconv::SESSION_ID } = "s-9",
        );
        let _g = root.enter();
        let llm = tracing::info_span!(
            "llm",
            otel.name = "chat gpt-4o-mini",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
            { semconv::GEN_AI_PROVIDER_NAME } = "openai",
            { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
            { semconv::GEN_AI_RESPONSE_MODEL } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::COST_TOTAL_USD } = tracing::field::Empty,
            { semconv::GEN_AI_REQUEST_STREAM } = true,
        );
        llm.record(semconv::GEN_AI_RESPONSE_MODEL, "gpt-4o-mini-2024-07-18");
        llm.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 120_i64);
        llm.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 30_i64);
        llm.record(semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 64_i64);
        llm.record(semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, 8_i64);
        llm.record(semconv::COST_TOTAL_USD, 0.000_036_f64);
        llm.record("otel.status_code", "error");
        llm.in_scope(|| tracing::info!(attempt = 2_i64, "retrying"));
        drop(llm);
    });
    provider.force_flush().unwrap();
    stats.flush(Duration::from_secs(10)).unwrap();

    let store = Store::open(&path).unwrap();
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 1);
    let trace = store.get_trace(&page.items[0].trace_id).unwrap();
    assert_eq!(trace.trace_id.len(), 32);
    assert_eq!(trace.name, "workflow.answer");
    assert_eq!(trace.total_tokens, 150);
    assert!((trace.cost_usd - 0.000_036).abs() < 1e-15);
    assert_eq!(trace.error_count, 1);
    let [root, llm] = &trace.spans[..] else {
        panic!("expected two spans, got {:?}", trace.spans);
    };
    assert_eq!((root.depth, llm.depth), (0, 1));
    assert_eq!(llm.parent_span_id.as_ref(), Some(&root.span_id));
    assert_eq!(root.workflow.as_deref(), Some("answer"));
    assert_eq!(llm.workflow.as_deref(), Some("answer"));
    assert_eq!(root.service_name.as_deref(), Some("support-bot"));
    assert_eq!(llm.kind, "client");
    assert_eq!(llm.status_code, "error");
    assert_eq!(llm.provider.as_deref(), Some("openai"));
    assert_eq!(llm.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(
        (llm.input_tokens, llm.output_tokens, llm.total_tokens),
        (Some(120), Some(30), Some(150))
    );
    let a = &llm.attributes;
    assert_eq!(a[semconv::GEN_AI_REQUEST_MODEL], "gpt-4o-mini");
    assert_eq!(a[semconv::GEN_AI_USAGE_INPUT_TOKENS], 120);
    assert!(a[semconv::GEN_AI_USAGE_INPUT_TOKENS].is_i64());
    assert_eq!(a[semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS], 64);
    assert_eq!(a[semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS], 8);
    assert!(a[semconv::COST_TOTAL_USD].is_f64());
    assert_eq!(a[semconv::GEN_AI_REQUEST_STREAM], true);
    assert_eq!(root.attributes[semconv::USER_ID], "u-17");
    assert_eq!(root.attributes[semconv::SESSION_ID], "s-9");
    let events = llm.events.as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["name"], "retrying");
    assert_eq!(events[0]["attributes"]["attempt"], 2);

    let conn = crate::support::sqlite(&path);
    let (user, session, cache, reasoning): (String, String, i64, i64) = conn
        .query_row(
            "SELECT r.user_id, r.session_id, l.cache_read_tokens, l.reasoning_tokens
             FROM spans r JOIN spans l ON l.parent_span_id = r.span_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (user.as_str(), session.as_str(), cache, reasoning),
        ("u-17", "s-9", 64, 8)
    );
    provider.shutdown().unwrap();
}

//! OTLP/HTTP export on the wire, and collector faults; OTLP/gRPC in [`grpc`]
//! (with the `grpc` feature).

#[cfg(feature = "grpc")]
mod grpc;

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use tokentrace::Telemetry;
use tokentrace_core::semconv;

use super::receiver::{Behaviour, Receiver};

/// The `service.name` resource attribute of one OTLP resource.
pub(super) fn service_name(rs: &ResourceSpans) -> Option<Value> {
    rs.resource
        .as_ref()?
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value)
}

pub(super) fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// An LLM call inside a workflow, as the middleware and `#[workflow]` record
/// them; returns a value that must not change.
pub(super) fn llm_work(i: i64) -> i64 {
    let root = tracing::info_span!(
        "workflow",
        otel.name = "workflow.answer",
        { semconv::TOKENTRACE_SPAN_TYPE } = semconv::values::SPAN_TYPE_WORKFLOW,
    );
    root.in_scope(|| {
        let llm = tracing::info_span!(
            "llm",
            otel.name = "chat gpt-4o-mini",
            otel.kind = "client",
            { semconv::TOKENTRACE_SPAN_TYPE } = semconv::values::SPAN_TYPE_LLM,
            { semconv::GEN_AI_OPERATION_NAME } = "chat",
            { semconv::GEN_AI_PROVIDER_NAME } = "openai",
            { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
            { semconv::GEN_AI_USAGE_INPUT_TOKENS } = 120_i64 + i,
            { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = 30_i64,
            { semconv::COST_TOTAL_USD } = 0.25_f64,
        );
        llm.in_scope(|| i * 2)
    })
}

/// The spans of one `llm_work(1)` call, checked field by field as decoded
/// from an OTLP request (HTTP or gRPC).
pub(super) fn assert_llm_spans(spans: &[Span]) {
    let root = spans.iter().find(|s| s.name == "workflow.answer").unwrap();
    let llm = spans.iter().find(|s| s.name == "chat gpt-4o-mini").unwrap();
    assert!(root.parent_span_id.is_empty());
    assert_eq!(llm.parent_span_id, root.span_id);
    assert_eq!(llm.trace_id, root.trace_id);
    assert_eq!(llm.trace_id.len(), 16);
    assert_eq!(llm.span_id.len(), 8);
    assert_eq!(llm.kind, 3, "SPAN_KIND_CLIENT");
    assert_eq!(
        attr(llm, semconv::GEN_AI_USAGE_INPUT_TOKENS),
        Some(&Value::IntValue(121))
    );
    assert_eq!(
        attr(llm, semconv::GEN_AI_USAGE_OUTPUT_TOKENS),
        Some(&Value::IntValue(30))
    );
    assert_eq!(
        attr(llm, semconv::COST_TOTAL_USD),
        Some(&Value::DoubleValue(0.25))
    );
    assert_eq!(
        attr(llm, semconv::GEN_AI_REQUEST_MODEL),
        Some(&Value::StringValue("gpt-4o-mini".to_owned()))
    );
    assert_eq!(
        attr(root, semconv::TOKENTRACE_SPAN_TYPE),
        Some(&Value::StringValue("workflow".to_owned()))
    );
}

#[test]
fn spans_reach_the_collector_with_names_types_and_parents() {
    let receiver = Receiver::start(Behaviour::Accept);
    let (dispatch, guard) = Telemetry::builder()
        .service_name("otlp-test")
        .no_store()
        .otlp_endpoint(receiver.base_url())
        .otlp_header("x-team", "llm")
        .build()
        .unwrap();
    let out = tracing::dispatcher::with_default(&dispatch, || llm_work(1));
    assert_eq!(out, 2);
    guard.flush();
    assert_eq!(guard.dropped_spans(), 0);

    let received = receiver.received.lock().unwrap();
    assert!(!received.requests.is_empty());
    assert_eq!(received.headers[0]["x-team"], "llm");
    assert_eq!(
        received.headers[0]["content-type"],
        "application/x-protobuf"
    );
    let resource_spans: Vec<_> = received
        .requests
        .iter()
        .flat_map(|r| &r.resource_spans)
        .collect();
    assert_eq!(
        service_name(resource_spans[0]),
        Some(Value::StringValue("otlp-test".to_owned()))
    );
    let spans: Vec<Span> = resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.iter().cloned())
        .collect();
    assert_llm_spans(&spans);
}

/// The collector is down, hangs, or refuses: the application's work (`n`
/// calls) returns the same results without waiting, the queue stays bounded,
/// every lost span is counted, and dropping the guard (flush, shutdown, the
/// last metrics export) stays bounded. `telemetry` names the endpoint and
/// protocol; the limits are set here.
pub(super) fn faulty_collector(telemetry: Telemetry, n: i64) {
    let (dispatch, guard) = telemetry
        .no_store()
        .otlp_timeout(Duration::from_millis(300))
        .queue_size(64)
        .export_delay(Duration::from_millis(20))
        .metrics_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = Instant::now();
    let results: Vec<i64> =
        tracing::dispatcher::with_default(&dispatch, || (0..n).map(llm_work).collect());
    let elapsed = started.elapsed();
    assert_eq!(results, (0..n).map(|i| i * 2).collect::<Vec<_>>());
    // Thousands of spans against a 300 ms export timeout: waiting on the
    // collector even once per batch would take far longer.
    assert!(
        elapsed < Duration::from_secs(5),
        "the application waited: {elapsed:?}"
    );
    guard.flush();
    // Nothing was accepted, so every span is lost and counted.
    assert_eq!(guard.dropped_spans(), 2 * n as u64);
    let started = Instant::now();
    drop(guard);
    let shutdown = started.elapsed();
    assert!(shutdown < Duration::from_secs(5), "drop took {shutdown:?}");
}

#[test]
fn a_refused_connection_is_counted() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    faulty_collector(
        Telemetry::builder().otlp_endpoint(format!("http://127.0.0.1:{port}")),
        2000,
    );
}

#[test]
fn a_hanging_collector_is_counted() {
    let receiver = Receiver::start(Behaviour::Hang);
    faulty_collector(
        Telemetry::builder().otlp_endpoint(receiver.base_url()),
        2000,
    );
}

#[test]
fn a_500_is_counted() {
    let receiver = Receiver::start(Behaviour::Status(500));
    faulty_collector(
        Telemetry::builder().otlp_endpoint(receiver.base_url()),
        2000,
    );
}

#[test]
fn a_413_is_counted() {
    let receiver = Receiver::start(Behaviour::Status(413));
    faulty_collector(
        Telemetry::builder().otlp_endpoint(receiver.base_url()),
        2000,
    );
}

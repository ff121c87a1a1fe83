//! Inbound W3C trace context and baggage.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use opentelemetry::trace::{SpanId, TraceId};
use tokentrace_core::semconv;
use tokentrace_tower::WorkflowLayer;
use tower::ServiceExt;

use crate::support::{attr, attr_str, capture};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

async fn call(app: Router, req: Request<Body>) {
    app.oneshot(req)
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap();
}

#[tokio::test]
async fn inbound_traceparent_is_continued() {
    let otel = capture();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(WorkflowLayer::new());
    let req = Request::builder()
        .uri("/")
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .body(Body::empty())
        .unwrap();
    call(app, req).await;
    let span = otel.only_span();
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap()
    );
    assert_eq!(span.parent_span_id, SpanId::from_hex(PARENT_ID).unwrap());
    assert!(span.parent_span_is_remote);
}

#[tokio::test]
async fn malformed_or_ignored_traceparent_starts_a_new_trace() {
    let otel = capture();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(WorkflowLayer::new());
    let bad = Request::builder()
        .uri("/")
        .header("traceparent", format!("00-{TRACE_ID}-zzzz-01"))
        .body(Body::empty())
        .unwrap();
    call(app, bad).await;
    let off = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(WorkflowLayer::new().continue_trace(false));
    let ignored = Request::builder()
        .uri("/")
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .body(Body::empty())
        .unwrap();
    call(off, ignored).await;
    let spans = otel.spans();
    assert_eq!(spans.len(), 2);
    for span in spans {
        assert_ne!(
            span.span_context.trace_id(),
            TraceId::from_hex(TRACE_ID).unwrap()
        );
        assert_eq!(span.parent_span_id, SpanId::INVALID);
    }
}

#[tokio::test]
async fn baggage_is_read_only_when_opted_in() {
    let otel = capture();
    let baggage = "tenant=acme,plan=pro%20plus";
    for read in [false, true] {
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(WorkflowLayer::new().read_baggage(read));
        let req = Request::builder()
            .uri("/")
            .header("baggage", baggage)
            .body(Body::empty())
            .unwrap();
        call(app, req).await;
    }
    let spans = otel.spans();
    assert_eq!(spans.len(), 2);
    assert_eq!(attr(&spans[0], semconv::METADATA), None);
    let meta: serde_json::Value =
        serde_json::from_str(&attr_str(&spans[1], semconv::METADATA).unwrap()).unwrap();
    assert_eq!(
        meta,
        serde_json::json!({"tenant": "acme", "plan": "pro plus"})
    );
}

/// Reads a W3C `traceparent` value from a header of another name: a stand-in
/// for a propagator of another format (B3, Jaeger) the application sets.
#[derive(Debug)]
struct RenamedTraceparent;

const RENAMED: &str = "x-test-parent";
static RENAMED_FIELDS: std::sync::LazyLock<[String; 1]> =
    std::sync::LazyLock::new(|| [RENAMED.to_owned()]);

impl opentelemetry::propagation::TextMapPropagator for RenamedTraceparent {
    fn inject_context(
        &self,
        _cx: &opentelemetry::Context,
        _injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
    }

    fn extract_with_context(
        &self,
        cx: &opentelemetry::Context,
        extractor: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        let Some(value) = extractor.get(RENAMED) else {
            return cx.clone();
        };
        let fields =
            std::collections::HashMap::from([("traceparent".to_owned(), value.to_owned())]);
        opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .extract_with_context(cx, &fields)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        opentelemetry::propagation::text_map_propagator::FieldIter::new(&*RENAMED_FIELDS)
    }
}

/// Inbound headers are read with the global propagator when one is set (the
/// one `install` sets, or the application's own), not a fixed W3C one. The
/// global set here reads W3C as well, so tests sharing the process (under
/// `cargo test`) see no difference.
#[tokio::test]
async fn the_global_propagator_reads_inbound_headers() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
            Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
            Box::new(RenamedTraceparent),
        ]),
    );
    let otel = capture();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(WorkflowLayer::new());
    let req = Request::builder()
        .uri("/")
        .header(RENAMED, format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .body(Body::empty())
        .unwrap();
    call(app, req).await;
    let span = otel.only_span();
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap()
    );
    assert_eq!(span.parent_span_id, SpanId::from_hex(PARENT_ID).unwrap());
    assert!(span.parent_span_is_remote);
}

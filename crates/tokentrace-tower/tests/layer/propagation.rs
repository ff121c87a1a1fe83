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

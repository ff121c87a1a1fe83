//! Hostile header values.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use opentelemetry::Value;
use tokentrace_core::semconv;
use tokentrace_tower::WorkflowLayer;
use tower::ServiceExt;

use crate::support::{attr, attr_str, capture};

#[tokio::test]
async fn hostile_header_values_are_dropped_and_counted_never_recorded() {
    let otel = capture();
    let layer = WorkflowLayer::new()
        .user_header("x-user-id")
        .session_header("x-session-id")
        .tags_header("x-tag")
        .metadata_header("x-note", "note");
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer.clone());

    let huge = "u".repeat(1 << 20);
    let mut req = Request::builder()
        .uri("/")
        .header("x-user-id", huge.as_str())
        // A tab is a control character: rejected even though HTTP allows it.
        .header(
            "x-session-id",
            HeaderValue::from_bytes(b"s-1\tinjected").unwrap(),
        )
        // Not UTF-8.
        .header(
            "x-note",
            HeaderValue::from_bytes(&[0x6e, 0xff, 0xfe]).unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    for i in 0..10_000 {
        req.headers_mut()
            .append("x-tag", HeaderValue::from_str(&format!("tag-{i}")).unwrap());
    }
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"ok"
    );

    let span = otel.only_span();
    assert_eq!(attr(&span, semconv::USER_ID), None);
    assert_eq!(attr(&span, semconv::SESSION_ID), None);
    assert_eq!(attr(&span, semconv::METADATA), None);
    let tags: Vec<String> =
        serde_json::from_str(&attr_str(&span, semconv::TAG_TAGS).unwrap()).unwrap();
    let expected: Vec<String> = (0..16).map(|i| format!("tag-{i}")).collect();
    assert_eq!(tags, expected);
    // 3 bad values plus 10,000 - 16 tags over the limit.
    let dropped = 3 + 10_000 - 16;
    assert_eq!(
        attr(&span, semconv::TOKENTRACE_DROPPED_VALUES),
        Some(Value::I64(dropped))
    );
    assert_eq!(layer.dropped_values(), dropped as u64);
    // No attribute anywhere holds the raw huge value.
    assert!(
        span.attributes
            .iter()
            .all(|kv| kv.value.as_str().len() < 4096)
    );
}

#[tokio::test]
async fn bounds_are_configurable() {
    let otel = capture();
    let layer = WorkflowLayer::new()
        .user_header("x-user-id")
        .tags_header("x-tag")
        .max_value_len(4)
        .max_tags(1);
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer.clone());
    let req = Request::builder()
        .uri("/")
        .header("x-user-id", "abcde")
        .header("x-tag", "a,b,c")
        .body(Body::empty())
        .unwrap();
    app.oneshot(req)
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap();
    let span = otel.only_span();
    assert_eq!(attr(&span, semconv::USER_ID), None);
    assert_eq!(
        attr_str(&span, semconv::TAG_TAGS).as_deref(),
        Some(r#"["a"]"#)
    );
    assert_eq!(layer.dropped_values(), 3);
}

/// Secret headers are never recorded, even when configured as metadata or
/// user headers, and credential-named baggage members are skipped.
#[tokio::test]
async fn secret_headers_are_refused_even_when_configured() {
    let otel = capture();
    let layer = WorkflowLayer::new()
        .user_header("authorization")
        .metadata_header("x-api-key", "key")
        .metadata_header("x-note", "note")
        .read_baggage(true);
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer);
    let req = Request::builder()
        .uri("/")
        .header("authorization", "Bearer sk-SECRET-AUTH")
        .header("x-api-key", "sk-SECRET-KEY")
        .header("x-note", "visible")
        .header("baggage", "api_key=sk-SECRET-BAGGAGE,plan=pro")
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    res.into_body().collect().await.unwrap();
    let span = otel.only_span();
    let everything = format!("{:?}", span.attributes);
    assert!(!everything.contains("SECRET"), "{everything}");
    assert_eq!(attr(&span, semconv::USER_ID), None);
    let metadata = attr_str(&span, semconv::METADATA).unwrap_or_default();
    assert!(
        metadata.contains("visible") && metadata.contains("pro"),
        "{metadata}"
    );
}

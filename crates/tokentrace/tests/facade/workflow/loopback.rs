//! Two axum services on loopback share one trace.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use opentelemetry::trace::SpanKind;
use tokentrace::WorkflowLayer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::capture;

/// A minimal HTTP/1.1 GET, so the test needs no HTTP client crate.
async fn get_with_headers(
    addr: SocketAddr,
    path: &str,
    headers: &HashMap<String, String>,
) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    socket.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    socket.read_to_string(&mut out).await.unwrap();
    out
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn two_services_on_loopback_share_one_trace() {
    let otel = capture();
    let b = serve(
        Router::new()
            .route("/b", get(|| async { "from b" }))
            .layer(WorkflowLayer::new()),
    )
    .await;
    let a = serve(
        Router::new()
            .route(
                "/a",
                get(move || async move {
                    let mut headers = HashMap::new();
                    tokentrace::inject(&mut headers);
                    let body = get_with_headers(b, "/b", &headers).await;
                    if body.ends_with("from b") {
                        "ok"
                    } else {
                        "bad"
                    }
                }),
            )
            .layer(WorkflowLayer::new()),
    )
    .await;

    let response = get_with_headers(a, "/a", &HashMap::new()).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");

    let span_a = otel.span("GET /a");
    let span_b = otel.span("GET /b");
    assert_eq!(span_a.span_kind, SpanKind::Server);
    assert_eq!(span_b.span_kind, SpanKind::Server);
    assert_eq!(
        span_b.span_context.trace_id(),
        span_a.span_context.trace_id()
    );
    assert_eq!(span_b.parent_span_id, span_a.span_context.span_id());
    assert!(span_b.parent_span_is_remote);
}

//! When the span ends: body end, SSE, disconnects, panics.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use opentelemetry::Value;
use opentelemetry::trace::Status;
use tokentrace_core::semconv;
use tokentrace_tower::WorkflowLayer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tower::ServiceExt;

use crate::support::{attr, attr_str, capture};

fn channel_sse(
    rx: mpsc::Receiver<&'static str>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|data| (Ok(Event::default().data(data)), rx))
    });
    Sse::new(stream)
}

/// Requests `/stream` from a router whose SSE events are whatever the
/// returned sender sends, behind `layer`; returns the sender and the
/// response (head received, body unread).
async fn channel_stream(
    layer: WorkflowLayer,
) -> (mpsc::Sender<&'static str>, http::Response<Body>) {
    let (tx, rx) = mpsc::channel(8);
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let app = Router::new()
        .route(
            "/stream",
            get(move || {
                let rx = rx.lock().unwrap().take().unwrap();
                async move { channel_sse(rx) }
            }),
        )
        .layer(layer);
    let res = app
        .oneshot(
            Request::builder()
                .uri("/stream")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    (tx, res)
}

#[tokio::test]
async fn sse_response_keeps_the_span_open_until_the_last_event() {
    let otel = capture();
    let (tx, res) = channel_stream(WorkflowLayer::new()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();

    for data in ["one", "two", "three"] {
        tx.send(data).await.unwrap();
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(
            frame.into_data().unwrap(),
            Bytes::from(format!("data: {data}\n\n"))
        );
        assert!(otel.spans().is_empty(), "span ended before the stream did");
    }
    drop(tx);
    assert!(body.frame().await.is_none());
    let span = otel.only_span();
    assert_eq!(
        attr(&span, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(Value::I64(200))
    );
    assert_eq!(attr(&span, semconv::TOKENTRACE_CLIENT_DISCONNECTED), None);
    assert_eq!(span.status, Status::Unset);
    drop(body);
    assert_eq!(otel.spans().len(), 1, "the span ended twice");
}

/// Regression: tracing-opentelemetry takes a span's end time from its last
/// exit; without entering the span in the body, the exported span ended when
/// the handler returned, not when the stream did.
#[tokio::test]
async fn the_exported_span_ends_with_the_stream_even_when_not_entered_in_the_body() {
    let otel = capture();
    let (tx, res) = channel_stream(WorkflowLayer::new().enter_span_in_body(false)).await;
    let mut body = res.into_body();
    for data in ["one", "two", "three"] {
        tokio::time::sleep(Duration::from_millis(40)).await;
        tx.send(data).await.unwrap();
        body.frame().await.unwrap().unwrap();
    }
    drop(tx);
    assert!(body.frame().await.is_none());
    let span = otel.only_span();
    let exported = span.end_time.duration_since(span.start_time).unwrap();
    assert!(
        exported >= Duration::from_millis(110),
        "exported duration {exported:?}"
    );
}

#[tokio::test]
async fn streaming_body_is_forwarded_byte_for_byte() {
    let otel = capture();
    let chunks: Vec<Bytes> = (0..50u8)
        .map(|i| Bytes::from(vec![i; usize::from(i) * 7 + 1]))
        .collect();
    let expected: Vec<u8> = chunks.iter().flat_map(|c| c.to_vec()).collect();
    let app = Router::new()
        .route(
            "/bytes",
            get(move || {
                let chunks = chunks.clone();
                async move {
                    Body::from_stream(futures_util::stream::iter(
                        chunks.into_iter().map(Ok::<_, Infallible>),
                    ))
                }
            }),
        )
        .layer(WorkflowLayer::new());
    let res = app
        .oneshot(
            Request::builder()
                .uri("/bytes")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let got = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&got[..], &expected[..]);
    otel.only_span();
}

#[tokio::test]
async fn dropping_the_body_mid_stream_ends_the_span_once_as_disconnected() {
    let otel = capture();
    let app = Router::new()
        .route(
            "/stream",
            get(|| async {
                let events = futures_util::stream::iter(0..)
                    .map(|i| Ok::<_, Infallible>(Event::default().data(i.to_string())));
                Sse::new(events)
            }),
        )
        .layer(WorkflowLayer::new());
    let res = app
        .oneshot(
            Request::builder()
                .uri("/stream")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = res.into_body();
    body.frame().await.unwrap().unwrap();
    body.frame().await.unwrap().unwrap();
    assert!(otel.spans().is_empty());
    drop(body);
    let span = otel.only_span();
    assert_eq!(
        attr(&span, semconv::TOKENTRACE_CLIENT_DISCONNECTED),
        Some(Value::Bool(true))
    );
}

#[tokio::test]
async fn dropping_the_request_before_a_response_is_a_disconnect() {
    let otel = capture();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .layer(WorkflowLayer::new());
    let call = app.oneshot(Request::builder().uri("/slow").body(Body::empty()).unwrap());
    assert!(
        tokio::time::timeout(Duration::from_millis(20), call)
            .await
            .is_err()
    );
    let span = otel.only_span();
    assert_eq!(
        attr(&span, semconv::TOKENTRACE_CLIENT_DISCONNECTED),
        Some(Value::Bool(true))
    );
    assert_eq!(attr(&span, semconv::HTTP_RESPONSE_STATUS_CODE), None);
}

#[tokio::test]
async fn client_disconnect_on_loopback_ends_the_span_once() {
    let otel = capture();
    let app = Router::new()
        .route(
            "/stream",
            get(|| async {
                let ticks = futures_util::stream::unfold(0u64, |i| async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Some((
                        Ok::<_, Infallible>(Event::default().data(i.to_string())),
                        i + 1,
                    ))
                });
                Sse::new(ticks)
            }),
        )
        .layer(WorkflowLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /stream HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("data: 2") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "server closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    drop(socket);

    let spans = otel.wait_for(1).await;
    assert_eq!(spans.len(), 1);
    assert_eq!(
        attr(&spans[0], semconv::TOKENTRACE_CLIENT_DISCONNECTED),
        Some(Value::Bool(true))
    );
    // Give the server time to misbehave; the span must not end again.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(otel.spans().len(), 1);
    server.abort();
}

#[tokio::test]
async fn handler_panic_caught_by_catch_panic_ends_the_span_as_error() {
    let otel = capture();
    let app = Router::new()
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("handler exploded");
                }
                "unreachable"
            }),
        )
        .layer(WorkflowLayer::new())
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    let res = app
        .oneshot(
            Request::builder()
                .uri("/panic")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    res.into_body().collect().await.unwrap();
    let span = otel.only_span();
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    assert_eq!(
        attr_str(&span, semconv::ERROR_TYPE).as_deref(),
        Some("panic")
    );
    assert_eq!(attr(&span, semconv::TOKENTRACE_CLIENT_DISCONNECTED), None);
}

#[tokio::test]
async fn empty_body_ends_the_span_with_the_response() {
    let otel = capture();
    let app = Router::new()
        .route("/204", get(|| async { StatusCode::NO_CONTENT }))
        .layer(WorkflowLayer::new());
    let res = app
        .oneshot(Request::builder().uri("/204").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let span = otel.only_span();
    assert_eq!(
        attr(&span, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(Value::I64(204))
    );
    drop(res);
    assert_eq!(otel.spans().len(), 1);
    assert_eq!(attr(&span, semconv::TOKENTRACE_CLIENT_DISCONNECTED), None);
}

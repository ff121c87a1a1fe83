//! The span's name, kind and attributes.

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use opentelemetry::Value;
use opentelemetry::trace::Status;
use tokentrace_core::semconv;
use tokentrace_tower::{WorkflowLayer, WorkflowMetadata};
use tower::ServiceExt;

use crate::support::{attr, attr_str, capture};

async fn hello() -> &'static str {
    "hello"
}

#[derive(Clone)]
struct AuthUser(&'static str);

fn request(uri: &str) -> http::request::Builder {
    Request::builder().uri(uri)
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn span_per_request_named_by_route_template_with_header_metadata() {
    let otel = capture();
    let app = Router::new().route("/users/{id}", get(hello)).layer(
        WorkflowLayer::new()
            .user_header("x-user-id")
            .session_header("x-session-id")
            .tags_header("x-tags")
            .metadata_header("x-client", "client"),
    );
    let res = app
        .oneshot(
            request("/users/42?debug=1")
                .header("x-user-id", "u-17")
                .header("x-session-id", "s-9")
                .header("x-tags", "prod, v2")
                .header("x-tags", "beta")
                .header("x-client", "ios 3.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"hello"
    );

    let span = otel.only_span();
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Server);
    assert_eq!(span.status, Status::Unset);
    assert_eq!(
        attr_str(&span, semconv::HTTP_ROUTE).as_deref(),
        Some("/users/{id}")
    );
    assert_eq!(
        attr_str(&span, semconv::URL_PATH).as_deref(),
        Some("/users/42")
    );
    assert_eq!(
        attr_str(&span, semconv::HTTP_REQUEST_METHOD).as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr(&span, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(Value::I64(200))
    );
    assert_eq!(
        attr_str(&span, semconv::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("workflow")
    );
    assert_eq!(
        attr_str(&span, semconv::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some("CHAIN")
    );
    assert_eq!(
        attr_str(&span, semconv::GEN_AI_WORKFLOW_NAME).as_deref(),
        Some("GET /users/{id}")
    );
    assert_eq!(attr_str(&span, semconv::USER_ID).as_deref(), Some("u-17"));
    assert_eq!(attr_str(&span, semconv::SESSION_ID).as_deref(), Some("s-9"));
    assert_eq!(
        attr_str(&span, semconv::TAG_TAGS).as_deref(),
        Some(r#"["prod","v2","beta"]"#)
    );
    assert_eq!(
        attr_str(&span, semconv::METADATA).as_deref(),
        Some(r#"{"client":"ios 3.1"}"#)
    );
    assert_eq!(attr(&span, semconv::TOKENTRACE_DROPPED_VALUES), None);
    assert_eq!(attr(&span, semconv::TOKENTRACE_CLIENT_DISCONNECTED), None);
}

#[tokio::test]
async fn span_is_named_by_the_method_when_no_route_is_known() {
    let otel = capture();
    // Outside the router no `MatchedPath` exists yet.
    let app = tower::Layer::layer(
        &WorkflowLayer::new(),
        Router::new().route("/chat", post(hello)),
    );
    let res = app
        .oneshot(request("/chat").method("POST").body(Body::empty()).unwrap())
        .await
        .unwrap();
    res.into_body().collect().await.unwrap();
    let span = otel.only_span();
    assert_eq!(span.name, "POST");
    assert_eq!(attr(&span, semconv::HTTP_ROUTE), None);
    assert_eq!(attr_str(&span, semconv::URL_PATH).as_deref(), Some("/chat"));
}

#[tokio::test]
async fn standard_and_extension_methods_are_exported_as_sent() {
    let otel = capture();
    let svc = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("ok")))
    });
    let svc = tower::Layer::layer(&WorkflowLayer::new(), svc);
    for method in ["DELETE", "PURGE"] {
        let res = svc
            .clone()
            .oneshot(
                request("/cache/1")
                    .method(method)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        res.into_body().collect().await.unwrap();
    }
    let spans = otel.wait_for(2).await;
    let methods: Vec<_> = spans
        .iter()
        .map(|s| attr_str(s, semconv::HTTP_REQUEST_METHOD))
        .collect();
    assert_eq!(
        methods,
        [Some("DELETE".to_owned()), Some("PURGE".to_owned())]
    );
    for span in &spans {
        assert_eq!(
            attr(span, semconv::HTTP_RESPONSE_STATUS_CODE),
            Some(Value::I64(200))
        );
        assert_eq!(
            attr_str(span, semconv::URL_PATH).as_deref(),
            Some("/cache/1")
        );
        assert_eq!(
            attr_str(span, semconv::GEN_AI_OPERATION_NAME).as_deref(),
            Some("invoke_workflow")
        );
    }
    // Each attribute once, however it reached the span.
    tokentrace_test_support::assert_unique_keys(&spans);
}

#[tokio::test]
async fn route_hook_and_extract_hook_fill_the_span_from_the_request() {
    let otel = capture();
    let layer = WorkflowLayer::new()
        .user_header("x-user-id")
        .workflow_name("support_chat")
        .route_with(|parts| Some(format!("/v1{}", parts.uri.path())))
        .extract_with(
            |parts: &http::request::Parts, meta: &mut WorkflowMetadata| {
                // The authenticated user wins over the client's header.
                if let Some(user) = parts.extensions.get::<AuthUser>() {
                    meta.set_user_id(user.0);
                }
                meta.add_tag("authenticated").insert("tenant", "acme");
            },
        );
    let app = Router::new().route("/chat", post(hello)).layer(layer);
    let mut req = request("/chat")
        .method("POST")
        .header("x-user-id", "spoofed")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(AuthUser("u-real"));
    let res = app.oneshot(req).await.unwrap();
    res.into_body().collect().await.unwrap();

    let span = otel.only_span();
    assert_eq!(span.name, "POST /v1/chat");
    assert_eq!(
        attr_str(&span, semconv::HTTP_ROUTE).as_deref(),
        Some("/v1/chat")
    );
    assert_eq!(attr_str(&span, semconv::USER_ID).as_deref(), Some("u-real"));
    assert_eq!(
        attr_str(&span, semconv::GEN_AI_WORKFLOW_NAME).as_deref(),
        Some("support_chat")
    );
    assert_eq!(
        attr_str(&span, semconv::TAG_TAGS).as_deref(),
        Some(r#"["authenticated"]"#)
    );
    assert_eq!(
        attr_str(&span, semconv::METADATA).as_deref(),
        Some(r#"{"tenant":"acme"}"#)
    );
}

#[tokio::test]
async fn server_errors_set_error_status_and_client_errors_do_not() {
    let otel = capture();
    let app = Router::new()
        .route(
            "/boom",
            get(|| async { (StatusCode::BAD_GATEWAY, "upstream down") }),
        )
        .route("/nope", get(|| async { StatusCode::NOT_FOUND }))
        .layer(WorkflowLayer::new());
    for uri in ["/boom", "/nope"] {
        let res = app
            .clone()
            .oneshot(request(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        res.into_body().collect().await.unwrap();
    }
    let spans = otel.spans();
    assert_eq!(spans.len(), 2);
    let boom = spans
        .iter()
        .find(|s| attr_str(s, semconv::URL_PATH).as_deref() == Some("/boom"))
        .unwrap();
    let nope = spans
        .iter()
        .find(|s| attr_str(s, semconv::URL_PATH).as_deref() == Some("/nope"))
        .unwrap();
    assert!(
        matches!(boom.status, Status::Error { .. }),
        "{:?}",
        boom.status
    );
    assert_eq!(
        attr(boom, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(Value::I64(502))
    );
    assert_eq!(attr_str(boom, semconv::ERROR_TYPE).as_deref(), Some("502"));
    assert_eq!(nope.status, Status::Unset);
    assert_eq!(
        attr(nope, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(Value::I64(404))
    );
}

#[tokio::test]
async fn service_errors_end_the_span_as_error() {
    let otel = capture();
    let svc = tower::service_fn(|_req: Request<Body>| async {
        Err::<http::Response<Body>, _>(std::io::Error::other("backend refused"))
    });
    let svc = tower::Layer::layer(&WorkflowLayer::new(), svc);
    let err = svc
        .oneshot(request("/x").body(Body::empty()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "backend refused");
    let span = otel.only_span();
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(
        attr_str(&span, semconv::EXCEPTION_MESSAGE).as_deref(),
        Some("backend refused")
    );
}

#[tokio::test]
async fn skipped_paths_and_disabled_layers_open_no_span() {
    let otel = capture();
    let app = Router::new()
        .route("/health", get(hello))
        .route("/chat", get(hello))
        .layer(WorkflowLayer::new().skip_path("/health"));
    let res = app
        .clone()
        .oneshot(request("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"hello"
    );
    assert!(otel.spans().is_empty());

    let off = Router::new()
        .route("/chat", get(hello))
        .layer(WorkflowLayer::new().enabled(false));
    let res = off
        .oneshot(request("/chat").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"hello"
    );
    assert!(otel.spans().is_empty());

    let res = app
        .oneshot(request("/chat").body(Body::empty()).unwrap())
        .await
        .unwrap();
    res.into_body().collect().await.unwrap();
    assert_eq!(otel.spans().len(), 1);
}

#[tokio::test]
async fn trace_id_is_returned_only_when_asked() {
    let otel = capture();
    let app = Router::new()
        .route("/a", get(hello))
        .layer(WorkflowLayer::new().trace_id_response_header("x-trace-id"));
    let res = app
        .oneshot(request("/a").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = res
        .headers()
        .get("x-trace-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    res.into_body().collect().await.unwrap();
    let span = otel.only_span();
    assert_eq!(header, span.span_context.trace_id().to_string());
    assert_eq!(header.len(), 32);

    let plain = Router::new()
        .route("/a", get(hello))
        .layer(WorkflowLayer::new());
    let res = plain
        .oneshot(request("/a").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(res.headers().get("x-trace-id").is_none());
}

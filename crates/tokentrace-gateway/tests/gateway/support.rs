//! Shared pieces: the in-memory OpenTelemetry pipeline (the full stack:
//! `EnrichLayer` plus the OTel layer, as `tokentrace::init()` builds it),
//! loopback servers, the gateway pointed at the mock providers, and the
//! in-process reference app the gateway's spans are compared with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use opentelemetry_sdk::trace::SpanData;
use tokentrace_demo::mocks::MockProviders;
use tokentrace_gateway::{Gateway, GatewayConfig};
use tokentrace_reqwest::LlmMiddleware;
use tokentrace_test_support::{Capture, install_trace_context_propagator};
use tokentrace_tower::WorkflowLayer;

/// The full tracing stack (`EnrichLayer` plus the OpenTelemetry layer) with
/// an in-memory exporter, as this thread's default subscriber; spans are
/// exported as they end, each checked for duplicate keys when read.
pub(crate) struct Otel(Capture);

impl std::ops::Deref for Otel {
    type Target = Capture;
    fn deref(&self) -> &Capture {
        &self.0
    }
}

impl Otel {
    pub(crate) fn install() -> Self {
        install_trace_context_propagator();
        Self(Capture::install_with(
            tokentrace_subscriber::EnrichLayer::new(),
        ))
    }

    /// Waits (bounded) until `n` spans named `name` have ended.
    pub(crate) async fn wait_for(&self, name: &str, n: usize) -> Vec<SpanData> {
        self.0.wait_for_named(name, n, 500).await
    }
}

pub(crate) use tokentrace_test_support::attrs;

pub(crate) fn attr(span: &SpanData, key: &str) -> Option<String> {
    attrs(span).remove(key)
}

/// Runs `f` on a fresh current-thread runtime: the gateway, the mocks and
/// the clients share the thread whose default subscriber is the capture.
pub(crate) fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Serves `app` on an ephemeral 127.0.0.1 port in the current runtime.
pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Mock providers streaming without pauses.
pub(crate) async fn mocks() -> MockProviders {
    MockProviders::builder()
        .chunk_delay(Duration::ZERO)
        .start()
        .await
        .unwrap()
}

/// The gateway's configuration with the OpenAI, Anthropic and Gemini
/// upstreams on the mocks.
pub(crate) fn config_for(mocks: &MockProviders) -> GatewayConfig {
    GatewayConfig::default()
        .upstream_url("openai", format!("{}/openai", mocks.base_url()))
        .upstream_url("anthropic", format!("{}/anthropic", mocks.base_url()))
        .upstream_url("gemini", format!("{}/gemini", mocks.base_url()))
}

/// Starts a gateway with `config`; returns its address.
pub(crate) async fn gateway(config: GatewayConfig) -> SocketAddr {
    serve(Gateway::new(&config).unwrap().router()).await
}

/// The in-process way to make the same calls: an app under `WorkflowLayer`
/// (same headers as the gateway) whose handler posts the body it gets to the
/// mock through `LlmMiddleware` and streams the answer back. `POST /ref/{*p}`
/// goes to `{openai_base_url}/{p}`.
pub(crate) fn reference_app(mocks: &MockProviders) -> Router {
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(LlmMiddleware::new().registry(mocks.registry()))
        .build();
    let st = Arc::new((http, mocks.openai_base_url()));
    Router::new()
        .route("/ref/{*path}", post(reference))
        .layer(
            WorkflowLayer::new()
                .user_header(tokentrace_gateway::DEFAULT_USER_HEADER)
                .session_header(tokentrace_gateway::DEFAULT_SESSION_HEADER)
                .tags_header(tokentrace_gateway::DEFAULT_TAGS_HEADER)
                .enter_span_in_body(false),
        )
        .with_state(st)
}

async fn reference(
    State(st): State<Arc<(reqwest_middleware::ClientWithMiddleware, String)>>,
    req: Request,
) -> Response {
    let path = req.uri().path().strip_prefix("/ref").unwrap().to_owned();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let res =
        st.0.post(format!("{}{path}", st.1))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
    let res: http::Response<reqwest::Body> = res.into();
    let (head, body) = res.into_parts();
    let mut out = Response::new(Body::new(body));
    *out.status_mut() = head.status;
    *out.headers_mut() = head.headers;
    out
}

/// Attributes that differ between two identical calls: timings and the
/// mock's per-response ids.
pub(crate) const VOLATILE: &[&str] = &[
    "gen_ai.response.id",
    "performance.latency_ms",
    "gen_ai.server.time_to_first_token",
    "gen_ai.response.time_to_first_chunk",
    "tokentrace.time_to_first_chunk_ms",
    "llm.time_to_first_token_ms",
    "busy_ns",
    "idle_ns",
    "thread.id",
    "thread.name",
    "code.file.path",
    "code.line.number",
    "code.module.name",
    "code.filepath",
    "code.lineno",
    "code.namespace",
    "target",
];

/// `a` and `b` without the volatile attributes and the `skip` ones.
pub(crate) fn comparable(span: &SpanData, skip: &[&str]) -> BTreeMap<String, String> {
    let mut m = attrs(span);
    m.retain(|k, _| !VOLATILE.contains(&k.as_str()) && !skip.contains(&k.as_str()));
    m
}

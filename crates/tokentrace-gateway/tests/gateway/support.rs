//! Shared pieces: the in-memory OpenTelemetry pipeline (the full stack:
//! `EnrichLayer` plus the OTel layer, as `tokentrace::init()` builds it),
//! loopback servers, the gateway pointed at the mock providers, and the
//! in-process reference app the gateway's spans are compared with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokentrace_demo::mocks::MockProviders;
use tokentrace_gateway::{Gateway, GatewayConfig};
use tokentrace_reqwest::LlmMiddleware;
use tokentrace_tower::WorkflowLayer;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt as _;

/// The full tracing stack with an in-memory exporter, as this thread's
/// default subscriber; spans are exported as they end.
pub(crate) struct Otel {
    pub(crate) exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
    _guard: DefaultGuard,
}

impl Otel {
    pub(crate) fn install() -> Self {
        static PROPAGATOR: OnceLock<()> = OnceLock::new();
        PROPAGATOR.get_or_init(|| {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        });
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tokentrace_subscriber::EnrichLayer::new())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let guard = tracing::subscriber::set_default(subscriber);
        Self {
            exporter,
            _provider: provider,
            _guard: guard,
        }
    }

    pub(crate) fn spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap()
    }

    pub(crate) fn named(&self, name: &str) -> Vec<SpanData> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// Waits (bounded) until `n` spans named `name` have ended.
    pub(crate) async fn wait_for(&self, name: &str, n: usize) -> Vec<SpanData> {
        for _ in 0..500 {
            let found = self.named(name);
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.named(name)
    }
}

/// A span's attributes as `key -> value` strings (sorted).
pub(crate) fn attrs(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

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

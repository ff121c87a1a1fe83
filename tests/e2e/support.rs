//! Shared pieces: the service under load, the request ids that tie spans to
//! requests, an in-memory pipeline for single-threaded tests, and a loopback
//! server helper.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use futures_util::StreamExt as _;
use opentelemetry_sdk::trace::SpanData;
use serde_json::json;
use tokentrace::{LlmMiddleware, WorkflowLayer};
use tokentrace_demo::mocks::MockProviders;
use tokentrace_reqwest::SpanName;

/// Serves `app` on an ephemeral 127.0.0.1 port in the current runtime.
pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Runs `f` to completion on a fresh current-thread runtime, holding the
/// serial lock (see [`tokentrace_tests::serial`]).
pub(crate) fn serially<F: std::future::Future>(f: F) -> F::Output {
    let _serial = tokentrace_tests::serial();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Mock providers that stream without pauses (load, not looks).
pub(crate) async fn fast_mocks() -> MockProviders {
    MockProviders::builder()
        .chunk_delay(Duration::ZERO)
        .start()
        .await
        .unwrap()
}

/// The per-request id: distinctive, fixed width, findable in any string.
pub(crate) fn rid(i: u64) -> String {
    format!("rq{i:06}x")
}

/// Every request id embedded in `s` (`rq` + 6 digits + `x`).
pub(crate) fn rids_in(s: &str) -> Vec<u64> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 9 <= b.len() {
        if &b[i..i + 2] == b"rq"
            && b[i + 8] == b'x'
            && b[i + 2..i + 8].iter().all(u8::is_ascii_digit)
        {
            out.push(s[i + 2..i + 8].parse().unwrap());
            i += 9;
        } else {
            i += 1;
        }
    }
    out
}

struct AgentState {
    http: reqwest_middleware::ClientWithMiddleware,
    openai: String,
    anthropic: String,
}

/// `POST /chat` under `WorkflowLayer` (user, session and `x-request-id` as
/// metadata): one OpenAI chat call read as JSON, then one Anthropic message
/// streamed chunk by chunk, both through `LlmMiddleware` to the mocks. Each
/// call's span is named after the request id (`SpanName`), independently of
/// the tracing context, so the tests can check the parent links.
pub(crate) fn agent_service(mocks: &MockProviders) -> Router {
    let inner = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let http = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new().registry(mocks.registry()))
        .build();
    let state = Arc::new(AgentState {
        http,
        openai: format!("{}/chat/completions", mocks.openai_base_url()),
        anthropic: format!("{}/v1/messages", mocks.anthropic_base_url()),
    });
    Router::new()
        .route("/chat", post(chat))
        .layer(
            WorkflowLayer::new()
                .user_header("x-user-id")
                .session_header("x-session-id")
                .metadata_header("x-request-id", "request_id"),
        )
        .with_state(state)
}

async fn chat(State(st): State<Arc<AgentState>>, headers: HeaderMap) -> Result<String, StatusCode> {
    let id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .ok_or(StatusCode::BAD_REQUEST)?
        .to_owned();
    let bad = |_| StatusCode::BAD_GATEWAY;
    let answer: serde_json::Value = st
        .http
        .post(&st.openai)
        .with_extension(SpanName::new(format!("chat {id}")))
        .json(&json!({"model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": format!("question {id} about keys")}]}))
        .send()
        .await
        .map_err(bad)?
        .error_for_status()
        .map_err(|_| StatusCode::BAD_GATEWAY)?
        .json()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if answer["choices"][0]["message"]["content"]
        .as_str()
        .is_none()
    {
        return Err(StatusCode::BAD_GATEWAY);
    }
    let resp = st
        .http
        .post(&st.anthropic)
        .with_extension(SpanName::new(format!("stream {id}")))
        .json(
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
            "messages": [{"role": "user", "content": format!("summarise {id} briefly")}]}),
        )
        .send()
        .await
        .map_err(bad)?;
    if !resp.status().is_success() {
        return Err(StatusCode::BAD_GATEWAY);
    }
    let mut stream = resp.bytes_stream();
    let mut bytes = 0usize;
    let mut tail = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| StatusCode::BAD_GATEWAY)?;
        bytes += chunk.len();
        tail = chunk.to_vec();
    }
    if !String::from_utf8_lossy(&tail).contains("message_stop") {
        return Err(StatusCode::BAD_GATEWAY);
    }
    Ok(format!("{id} {bytes}"))
}

/// Sends `POST /chat` for request `i` with its distinct user, session and id.
pub(crate) async fn call_agent(
    client: &reqwest::Client,
    addr: SocketAddr,
    i: u64,
) -> Result<(), String> {
    let id = rid(i);
    let resp = client
        .post(format!("http://{addr}/chat"))
        .header("x-user-id", format!("user-{id}"))
        .header("x-session-id", format!("sess-{id}"))
        .header("x-request-id", &id)
        .send()
        .await
        .map_err(|e| format!("{id}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("{id}: {e}"))?;
    if status != StatusCode::OK || !body.starts_with(&id) {
        return Err(format!("{id}: {status} {body}"));
    }
    Ok(())
}

/// A client for the load generator: keep-alive connections, at most
/// `pool` idle per host.
pub(crate) fn load_client(pool: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The full tracing stack (registry, `EnrichLayer`, OpenTelemetry layer) with
/// an in-memory exporter, as this thread's default subscriber; spans are
/// exported as they end, each checked for duplicate keys when read.
pub(crate) struct Capture(tokentrace_test_support::Capture);

impl std::ops::Deref for Capture {
    type Target = tokentrace_test_support::Capture;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub(crate) fn capture() -> Capture {
    Capture(tokentrace_test_support::Capture::install_with(
        tokentrace::EnrichLayer::new(),
    ))
}

impl Capture {
    /// Waits (bounded) until `n` spans named `name` have ended.
    pub(crate) async fn wait_for(&self, name: &str, n: usize) -> Vec<SpanData> {
        self.0.wait_for_named(name, n, 200).await
    }
}

pub(crate) fn attr(span: &SpanData, key: &str) -> Option<opentelemetry::Value> {
    tokentrace_test_support::attr(span, key).cloned()
}

pub(crate) use tokentrace_test_support::{assert_unique_keys, attr_str};

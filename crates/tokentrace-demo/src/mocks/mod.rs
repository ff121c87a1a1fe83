//! Offline mock LLM and vector-database servers for tokentrace's demo and
//! examples.
//!
//! One axum server on `127.0.0.1:0` answers in the providers' real wire
//! formats (as recorded in `crates/tokentrace-core/tests/fixtures/` and
//! described in `docs/providers.md`):
//!
//! | base URL | endpoint | shape |
//! |---|---|---|
//! | [`openai_base_url`](MockProviders::openai_base_url) (`…/openai/v1`) | `POST /chat/completions` | chat JSON, or SSE chunks ending in `[DONE]`; the final usage chunk only with `stream_options.include_usage`, as OpenAI does |
//! | same | `POST /embeddings` | embeddings list (`float` or `base64`) with `usage.prompt_tokens` |
//! | [`anthropic_base_url`](MockProviders::anthropic_base_url) (`…/anthropic`) | `POST /v1/messages` | message JSON, or named SSE events: `message_start` (input and cache tokens), deltas, `message_delta` (cumulative output) |
//! | [`gemini_base_url`](MockProviders::gemini_base_url) (`…/gemini`) | `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent[?alt=sse]` | `GenerateContentResponse`, streamed with cumulative `usageMetadata` |
//! | [`pinecone_base_url`](MockProviders::pinecone_base_url) (`…/pinecone`) | `POST /query`, `POST /vectors/upsert` | `matches` with `usage.readUnits`; `upsertedCount` |
//!
//! Token counts are derived deterministically from the request, so totals
//! can be checked: a text's token count is its number of whitespace-separated
//! words ([`count_tokens`]); replies are built from the prompt's words and are
//! [`reply_tokens`] long. Anthropic system blocks marked with `cache_control`
//! are written to a per-server prompt cache on first sight and read from it
//! afterwards. A message containing [`FAIL_MARKER`] gets the provider's
//! rate-limit or overload error.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let mocks = tokentrace_demo::mocks::MockProviders::start().await?;
//! let registry = mocks.registry(); // maps the mock URLs to their providers
//! println!("OpenAI-compatible API at {}", mocks.openai_base_url());
//! # let _ = registry;
//! mocks.shutdown().await;
//! # Ok(()) }
//! ```

mod anthropic;
mod gemini;
mod openai;
mod pinecone;
mod text;

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures_util::StreamExt;
use tokentrace_core::{Provider, ProviderRegistry};

pub use text::{count_tokens, reply_tokens};

/// A message containing this text is answered with the provider's
/// rate-limit (OpenAI, Gemini) or overload (Anthropic) error.
pub const FAIL_MARKER: &str = "[[rate-limit]]";

/// Shared state of one mock server.
#[derive(Debug)]
struct State {
    chunk_delay: Duration,
    /// Ids handed out so far (response ids are `…mock{n}`).
    ids: AtomicU64,
    /// Requests served.
    requests: AtomicU64,
    /// Anthropic prompt cache: hashes of cached prefixes.
    anthropic_cache: Mutex<HashSet<u64>>,
}

impl State {
    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

type Shared = Arc<State>;

/// Configures and starts a [`MockProviders`] server.
#[derive(Debug, Clone)]
pub struct MockProvidersBuilder {
    chunk_delay: Duration,
    addr: SocketAddr,
}

impl Default for MockProvidersBuilder {
    fn default() -> Self {
        Self {
            chunk_delay: Duration::from_millis(8),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl MockProvidersBuilder {
    /// Pause between streamed chunks (default 8 ms), so streams look like
    /// streams in a waterfall.
    #[must_use]
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = delay;
        self
    }

    /// Address to bind (default `127.0.0.1:0`, an ephemeral port).
    #[must_use]
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The router alone, to mount or serve yourself.
    pub fn router(&self) -> Router {
        router(Arc::new(State {
            chunk_delay: self.chunk_delay,
            ids: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            anthropic_cache: Mutex::new(HashSet::new()),
        }))
    }

    /// Bind and serve in a background tokio task.
    pub async fn start(self) -> std::io::Result<MockProviders> {
        let state = Arc::new(State {
            chunk_delay: self.chunk_delay,
            ids: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            anthropic_cache: Mutex::new(HashSet::new()),
        });
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(Arc::clone(&state));
        let task = tokio::spawn(async move {
            // A serve error (the listener failing) ends the mock; callers see
            // their requests fail, which is what a dead provider looks like.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockProviders {
            addr,
            state,
            shutdown: Some(tx),
            task,
        })
    }
}

/// A running mock server (see the crate docs for its endpoints). Dropping it
/// stops the server.
#[derive(Debug)]
pub struct MockProviders {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockProviders {
    /// A builder (chunk delay, bind address).
    pub fn builder() -> MockProvidersBuilder {
        MockProvidersBuilder::default()
    }

    /// Start with the defaults on an ephemeral `127.0.0.1` port.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// OpenAI API base, `/v1` included, as the OpenAI SDKs take it.
    pub fn openai_base_url(&self) -> String {
        format!("{}/openai/v1", self.base_url())
    }

    /// Anthropic API base (append `/v1/messages`).
    pub fn anthropic_base_url(&self) -> String {
        format!("{}/anthropic", self.base_url())
    }

    /// Gemini API base (append `/v1beta/models/{model}:generateContent`).
    pub fn gemini_base_url(&self) -> String {
        format!("{}/gemini", self.base_url())
    }

    /// Pinecone index host (append `/query`).
    pub fn pinecone_base_url(&self) -> String {
        format!("{}/pinecone", self.base_url())
    }

    /// A [`ProviderRegistry`] attributing each mock base URL to its provider,
    /// for `LlmMiddleware::registry`.
    pub fn registry(&self) -> ProviderRegistry {
        ProviderRegistry::new()
            .base_url(&self.openai_base_url(), Provider::OpenAi)
            .base_url(&self.anthropic_base_url(), Provider::Anthropic)
            .base_url(&self.gemini_base_url(), Provider::Gemini)
            .base_url(&self.pinecone_base_url(), Provider::Pinecone)
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Stop accepting connections and wait for in-flight responses to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for MockProviders {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/openai/v1/chat/completions", post(openai::chat))
        .route("/openai/v1/embeddings", post(openai::embeddings))
        .route("/anthropic/v1/messages", post(anthropic::messages))
        .route("/gemini/v1beta/models/{call}", post(gemini::generate))
        .route("/gemini/v1/models/{call}", post(gemini::generate))
        .route("/pinecone/query", post(pinecone::query))
        .route("/pinecone/vectors/upsert", post(pinecone::upsert))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(
    axum::extract::State(state): axum::extract::State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    next.run(req).await
}

/// A JSON response with the given status.
fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut resp = (status, value.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 400 in the shape most providers use, for an unreadable request body.
fn bad_request(message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({"error": {"message": message, "type": "invalid_request_error"}}),
    )
}

/// A streamed body: `frames` sent one by one, `delay` apart.
fn stream(content_type: &'static str, frames: Vec<String>, delay: Duration) -> Response {
    let body = futures_util::stream::iter(frames.into_iter().enumerate()).then(
        move |(i, frame)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, Infallible>(Bytes::from(frame))
        },
    );
    let mut resp = Response::new(Body::from_stream(body));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Parse a JSON request body leniently (any JSON object); the error is the
/// 400 message.
fn parse(body: &Bytes) -> Result<serde_json::Value, String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err("request body must be a JSON object".to_owned()),
        Err(e) => Err(format!("invalid JSON body: {e}")),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;

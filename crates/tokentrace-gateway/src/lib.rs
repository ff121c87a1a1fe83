//! A base-URL LLM gateway built from tokentrace's own parts: an axum
//! [`Router`] with [`WorkflowLayer`] in front and a reqwest client with
//! [`LlmMiddleware`] behind, so every call through it becomes the same priced
//! trace as a call made in-process.
//!
//! A client in any language points its base URL at the gateway
//! (`OPENAI_BASE_URL=http://127.0.0.1:4000/openai/v1`) and changes nothing
//! else. Request and response bytes pass through unchanged, streams
//! unbuffered; the client's auth headers go upstream and are never recorded.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tokentrace_gateway::{Gateway, GatewayConfig};
//!
//! // (install the telemetry pipeline first, e.g. `tokentrace::init()`)
//! let gateway = Gateway::new(&GatewayConfig::default())?;
//! let app: axum::Router = gateway.router();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! `/{upstream}/{path}` goes to `{url}/{path}` with the query unchanged,
//! for each upstream of [`DEFAULT_UPSTREAMS`] and of the configuration
//! ([`GatewayConfig::upstreams`]); a URL holding `{resource}` (Azure) takes it
//! from the next path segment: `/azure/{resource}/{path}`. `GET /healthz`
//! answers `ok` untraced. Any other path gets a 404 in OpenAI's error shape.
//!
//! # Headers
//!
//! * read, then not forwarded: user (`x-tt-user`), session
//!   (`x-tt-session`) and tags (`x-tt-tags`, comma-separated);
//!   names configurable in [`HeaderNames`];
//! * `traceparent`: continued, so the gateway's spans join the client's trace;
//! * the trace id comes back in `x-tt-trace-id`;
//! * hop-by-hop headers (`Connection` and those it names, `Keep-Alive`,
//!   `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-*`) are dropped
//!   both ways, `Host` and `Content-Length` are set for the upstream, and
//!   `Accept-Encoding` is dropped so the upstream answers unencoded and the
//!   usage parser can read it.
//!
//! # Faults
//!
//! An upstream that cannot be reached gets the client a 502, one that stays
//! silent past the read timeout a 504, each in the provider's error shape
//! with an `x-tt-gateway-error` header; an upstream that cuts a
//! stream cuts the client's stream. A client that goes away mid-stream drops
//! the upstream request; both spans end once, with the fault recorded.
//!
//! # Budgets
//!
//! With a `[budgets]` section ([`BudgetsSection`]) or
//! [`Gateway::with_budgets`], every call is reserved against the limits
//! before it is forwarded; one that an enforced limit refuses gets a 429
//! in the provider's error shape, with `x-tt-gateway-error: budget_exceeded`
//! and `x-should-retry: false`, and never reaches the upstream. A budget
//! store that cannot be reached under `on_store_error = "fail_closed"` gets
//! a 503 (`budget_unavailable`). See `docs/budgets.md`.
//!
//! # Not supported
//!
//! AWS Bedrock: SigV4 signs the host, so a request signed for the gateway
//! cannot be forwarded. Use the in-process Bedrock interceptor.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod config;
mod error;
mod proxy;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::routing::{any, get};
use http::HeaderName;
use tokentrace_core::ProviderRegistry;
use tokentrace_reqwest::LlmMiddleware;
use tokentrace_tower::WorkflowLayer;

pub use config::{
    BudgetsSection, DEFAULT_SESSION_HEADER, DEFAULT_TAGS_HEADER, DEFAULT_TRACE_ID_HEADER,
    DEFAULT_UPSTREAMS, DEFAULT_USER_HEADER, GatewayConfig, HeaderNames, UpstreamConfig,
    client_key_id,
};
pub use tokentrace_reqwest::budget::Budgets;

use crate::config::Upstream;
use crate::proxy::Shared;

/// A configuration or start-up error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The configuration is invalid (the message says where).
    #[error("gateway configuration: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("gateway HTTP client: {0}")]
    Client(String),
}

/// A configured gateway; [`router`](Self::router) gives the axum app.
#[derive(Debug, Clone)]
pub struct Gateway {
    upstreams: Vec<Arc<Upstream>>,
    shared: Arc<Shared>,
    layer: WorkflowLayer,
}

impl Gateway {
    /// Builds the gateway: merges the upstreams, loads held keys and the
    /// `[budgets]` file, builds the client (`LlmMiddleware` with every
    /// upstream registered for detection).
    pub fn new(config: &GatewayConfig) -> Result<Self, GatewayError> {
        let budgets = config::budgets(config)?;
        Self::build(config, budgets)
    }

    /// Like [`new`](Self::new), enforcing `budgets` (built in code, any
    /// store) instead of the configuration's `[budgets]` section.
    ///
    /// Each call is charged to: the client key's id
    /// ([`client_key_id`]) as the `api_key` scope when the upstream's key is
    /// held and clients present gateway keys; the user and session headers;
    /// the request's model. A call an enforced limit refuses never reaches
    /// the upstream: the client gets a 429 in the provider's error shape
    /// (`BudgetExceeded::provider_error_body`).
    pub fn with_budgets(config: &GatewayConfig, budgets: Budgets) -> Result<Self, GatewayError> {
        Self::build(config, Some(budgets))
    }

    fn build(config: &GatewayConfig, budgets: Option<Budgets>) -> Result<Self, GatewayError> {
        let upstreams = config::resolve(config)?;
        let client_keys = config::client_keys(config)?;
        if upstreams.iter().any(|u| u.key.is_some())
            && client_keys.is_empty()
            && !config.allow_unauthenticated
        {
            return Err(GatewayError::Config(
                "an upstream holds an API key but no client keys are configured: anyone \
                 reaching the gateway could spend it (add client_keys, or set \
                 allow_unauthenticated = true)"
                    .to_owned(),
            ));
        }
        let mut registry = ProviderRegistry::new();
        for u in upstreams.iter().filter(|u| !u.templated()) {
            registry = registry.base_url(&u.url, u.provider);
        }
        // Bytes pass through unchanged whatever reqwest features the
        // application's build turns on: no Accept-Encoding of our own and
        // no transparent decompression of the upstream's body.
        let inner = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            .connect_timeout(config.connect_timeout())
            .read_timeout(config.read_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(|e| GatewayError::Client(e.to_string()))?;
        let mut middleware = LlmMiddleware::new()
            .registry(registry)
            .inject_stream_usage(config.inject_stream_usage);
        let budgeted = budgets.is_some();
        if let Some(b) = budgets {
            middleware = middleware.budgets(b);
        }
        let client = reqwest_middleware::ClientBuilder::new(inner)
            .with(middleware)
            .build();
        let h = &config.headers;
        for name in [&h.user, &h.session, &h.tags, &h.trace_id] {
            if !name.is_empty()
                && (tokentrace_core::bound::is_secret_header(name)
                    || HeaderName::from_bytes(name.as_bytes()).is_err())
            {
                return Err(GatewayError::Config(format!(
                    "header name {name:?} is invalid or looks like a secret header \
                     (names holding token, auth, key, ... are never read)"
                )));
            }
        }
        let own_headers = [&h.user, &h.session, &h.tags]
            .into_iter()
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .collect();
        let mut layer = WorkflowLayer::new()
            .user_header(&h.user)
            .session_header(&h.session)
            .tags_header(&h.tags)
            .skip_path("/healthz")
            // The body only forwards bytes the upstream produced.
            .enter_span_in_body(false);
        if !h.trace_id.is_empty() {
            layer = layer.trace_id_response_header(&h.trace_id);
        }
        Ok(Self {
            upstreams: upstreams.into_iter().map(Arc::new).collect(),
            shared: Arc::new(Shared {
                client,
                own_headers,
                client_keys,
                max_body: config.max_request_bytes,
                budget_headers: budgeted.then(|| {
                    (
                        HeaderName::from_bytes(h.user.as_bytes()).ok(),
                        HeaderName::from_bytes(h.session.as_bytes()).ok(),
                    )
                }),
            }),
            layer,
        })
    }

    /// The route names served, with their base URLs.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.upstreams
            .iter()
            .map(|u| (u.name.clone(), u.url.clone()))
            .collect()
    }

    /// The axum app: one route per upstream, `GET /healthz`, a 404 fallback,
    /// all under the gateway's `WorkflowLayer`. Mount it in your own app with
    /// `Router::merge` or `Router::nest_service`.
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for up in &self.upstreams {
            let path = if up.templated() {
                format!("/{}/{{resource}}/{{*path}}", up.name)
            } else {
                format!("/{}/{{*path}}", up.name)
            };
            let shared = Arc::clone(&self.shared);
            let up = Arc::clone(up);
            router = router.route(
                &path,
                any(move |req: Request| proxy::forward(shared, up, req)),
            );
        }
        router
            .route("/healthz", get(|| async { "ok" }))
            .fallback(proxy::unknown_route)
            .layer(self.layer.clone())
    }
}

/// A new random client key (`ttgw-` and 43 URL-safe characters, 256 bits),
/// read from the operating system's random source.
pub fn issue_client_key() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut raw = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::from("ttgw-");
    // 6 bits per character, from a 256-bit number read little-endian.
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in raw {
        acc |= u32::from(b) << bits;
        bits += 8;
        while bits >= 6 {
            out.push(char::from(ALPHABET[(acc & 63) as usize]));
            acc >>= 6;
            bits -= 6;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[(acc & 63) as usize]));
    }
    Ok(out)
}

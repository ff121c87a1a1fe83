//! async-openai adapter (feature `async-openai`): a traced
//! [`tower::Service`] for async-openai's
//! [`Client::with_http_service`](async_openai::Client::with_http_service).
//!
//! async-openai (0.37 and later, feature `middleware`) sends every request
//! through a tower service whose request is an [`HttpRequestFactory`]. This
//! module gives it one that executes the request with a
//! [`ClientWithMiddleware`] carrying [`LlmMiddleware`](crate::LlmMiddleware),
//! wrapped in async-openai's own [`OpenAIRetryLayer`]:
//!
//! ```
//! use async_openai::{Client, config::OpenAIConfig};
//! use tokentrace_reqwest::LlmMiddleware;
//!
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(LlmMiddleware::new())
//!     .build();
//! let client = Client::with_config(OpenAIConfig::new())
//!     .with_http_service(tokentrace_reqwest::async_openai::service(http));
//! # let _ = client;
//! ```
//!
//! Your application enables the async-openai API groups it uses (`chat-completion`,
//! `responses`, `embedding`, ...) and `middleware`. This crate needs only
//! `middleware`.
//!
//! # Retries: one span per attempt
//!
//! Replacing async-openai's HTTP service drops its default retry layer, so
//! [`service`] puts it back: the stack is
//! `OpenAIRetryLayer` → [`TracedService`] → `LlmMiddleware` → reqwest.
//! The retry layer sits **outside** the middleware, so every attempt is a
//! separate HTTP call with its own LLM span: a `429` attempt ends with
//! `error.type = "429"` and no usage or cost; the attempt that succeeds
//! carries usage and cost. The roll-ups therefore count tokens and cost
//! once, while every attempt counts in `tokentrace.rollup.llm_calls` and a
//! failed one in `tokentrace.rollup.errors`; the rate-limited attempts stay
//! visible with their latency. The retry
//! layer has to sit there: it reads async-openai's own error bodies
//! (`insufficient_quota` is not retried) and rebuilds each request from the
//! factory, which a reqwest middleware cannot do.
//!
//! Call async-openai inside your own span (a workflow, a request handler):
//! the attempts are then siblings under it. With no enclosing span,
//! `LlmMiddleware`'s `auto_root` gives each attempt a root of its own, so
//! the attempts of one call land in separate traces.
//!
//! Errors keep the shape async-openai's retry layer reads: a transport error
//! from reqwest stays [`OpenAIError::Reqwest`], so connection errors are
//! retried as with the default client; an error raised by a middleware (an
//! enforced budget refusing the call, for example) becomes
//! [`OpenAIError::Boxed`] and is not retried.
//!
//! Use [`TracedService`] alone (or [`service_with_retries`]) to compose your
//! own tower stack.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::middleware::retry::{OpenAIRetry, OpenAIRetryLayer};
use reqwest_middleware::ClientWithMiddleware;
use tower::Layer as _;

/// The retry count async-openai's default client uses.
pub const DEFAULT_MAX_RETRIES: usize = 3;

/// The service [`service`] returns: async-openai's retry layer around
/// [`TracedService`].
pub type Service = OpenAIRetry<TracedService>;

/// A [`ClientWithMiddleware`] (carrying `LlmMiddleware`) as the tower
/// service async-openai executes requests with. One call, one HTTP request:
/// no retries (see [`service`]).
#[derive(Clone, Debug)]
pub struct TracedService {
    client: ClientWithMiddleware,
}

impl TracedService {
    /// Executes async-openai's requests with `client`.
    #[must_use]
    pub fn new(client: ClientWithMiddleware) -> Self {
        Self { client }
    }
}

impl tower::Service<HttpRequestFactory> for TracedService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            client.execute(request).await.map_err(openai_error)
        })
    }
}

/// Maps a reqwest-middleware error to the [`OpenAIError`] async-openai's
/// default transport would have returned: reqwest errors stay
/// [`OpenAIError::Reqwest`] (so `is_connect()` errors are retried),
/// middleware errors become [`OpenAIError::Boxed`].
#[must_use]
pub fn openai_error(error: reqwest_middleware::Error) -> OpenAIError {
    match error {
        reqwest_middleware::Error::Reqwest(e) => OpenAIError::Reqwest(e),
        reqwest_middleware::Error::Middleware(e) => OpenAIError::Boxed(e.into()),
    }
}

/// The traced service with async-openai's default retries
/// ([`DEFAULT_MAX_RETRIES`]), for `Client::with_http_service`.
#[must_use]
pub fn service(client: ClientWithMiddleware) -> Service {
    service_with_retries(client, DEFAULT_MAX_RETRIES)
}

/// As [`service`], with at most `max_retries` retries after the first
/// attempt (`0`: no retries).
#[must_use]
pub fn service_with_retries(client: ClientWithMiddleware, max_retries: usize) -> Service {
    OpenAIRetryLayer::new(max_retries).layer(TracedService::new(client))
}

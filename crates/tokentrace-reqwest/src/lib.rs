//! `LlmMiddleware`: a [`reqwest_middleware::Middleware`] that turns every call
//! to a known LLM or vector-database provider into a priced OpenTelemetry
//! client span, streamed responses included.
//!
//! The middleware detects the provider and operation from the method and URL
//! (`tokentrace_core::detect`), reads the model and parameters from the
//! request body when it is in memory, opens a span named `{operation} {model}`
//! (`chat gpt-4o-mini`; vector calls `{operation} {collection}`) as a child of
//! the current span, injects W3C `traceparent`, and wraps the response body so
//! the usage parser sees every byte the application reads. The span ends when
//! the body ends, fails or is dropped, with token usage, cost in USD, the
//! response model and id, finish reasons, time to first chunk and errors.
//! Calls to other hosts pass through untouched.
//!
//! # Example
//!
//! ```
//! use tokentrace_reqwest::LlmMiddleware;
//!
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(LlmMiddleware::new())
//!     .build();
//! # let _ = http;
//! ```
//!
//! # Customised
//!
//! ```
//! use tokentrace_reqwest::{ContentKind, LlmMiddleware};
//!
//! let mw = LlmMiddleware::new()
//!     .capture_content(true)
//!     .max_content_bytes(8 * 1024)
//!     .redactor(|_kind: ContentKind, text: String| Some(text.replace("ACME", "***")))
//!     .inject_stream_usage(true);
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(mw)
//!     .build();
//! # let _ = http;
//! ```
//!
//! # When things are recorded
//!
//! * **Before sending**: operation, provider, request model, `server.address`,
//!   `server.port`, stream flag and request parameters are set at span
//!   creation, so samplers see them.
//! * **When the response head arrives**: `http.response.status_code`.
//! * **When the body ends** (last frame, error or drop, exactly once): usage,
//!   cost, response model and id, finish reasons, `error.type` and a
//!   readable status description, `tokentrace.stream.incomplete`,
//!   `tokentrace.usage.missing` (why there is no usage),
//!   `tokentrace.response.unparsed` (a compressed body tokentrace cannot
//!   read; gzip and deflate are decoded for parsing only),
//!   `performance.latency_ms`, captured output. A response whose body is
//!   never read ends its span when it is dropped.
//!
//! A transport error ends the span at once with `error.type` (`timeout`,
//! `connection_error`, `body_error`, ...). The `Result` the application gets
//! is the one the inner client returned. Body errors keep their kind
//! (`is_timeout()`, `is_decode()`, ...); reqwest's own body conversion adds
//! one `Body` link to their source chain.
//!
//! # How it fits
//!
//! Spans are `tracing` spans shaped per the span contract in
//! `docs/architecture.md`; `tracing-opentelemetry` exports them and
//! `tokentrace-subscriber`'s `EnrichLayer` rolls their usage and cost up to
//! the enclosing workflow. Per-request overrides live in [`extensions`].
//! Put it outside `reqwest-retry` for one span per logical call (see
//! [`LlmMiddleware`]).
//!
//! async-openai (0.37 and later, feature `middleware`) takes it through
//! `async_openai::service` (feature `async-openai` of this crate); rig takes
//! the `ClientWithMiddleware` through `rig-reqwest`; aws-sdk-bedrockruntime
//! takes `bedrock::BedrockInterceptor` (feature `bedrock`). See
//! `docs/clients.md`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

#[cfg(feature = "async-openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-openai")))]
pub mod async_openai;
#[cfg(feature = "bedrock")]
#[cfg_attr(docsrs, doc(cfg(feature = "bedrock")))]
pub mod bedrock;
pub mod budget;
mod capture;
mod decode;
pub mod extensions;
mod middleware;
mod redact;
mod span;
mod stream;

pub use capture::{
    ContentKind, DefaultRedact, Redact, content_capture_allowed, set_content_capture_allowed,
};
pub use extensions::{
    CaptureContent, ModelOverride, NoPropagation, ProviderOverride, SkipTracing, SpanName,
};
pub use middleware::LlmMiddleware;

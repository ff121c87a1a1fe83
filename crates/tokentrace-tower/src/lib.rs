//! A tower [`Layer`](tower::Layer) that opens one tokentrace *workflow* span
//! per inbound HTTP request and keeps it open until the response body ends.
//!
//! The span follows the workflow-span contract of `docs/architecture.md`:
//! it is named `{METHOD} {route template}` (the method alone when no route is
//! known), has kind SERVER, and carries `http.request.method`, `http.route`,
//! `url.path`, `http.response.status_code`, `openinference.span.kind = CHAIN`,
//! `tokentrace.span.type = workflow`, `gen_ai.workflow.name`, and `user.id`,
//! `session.id`, `tag.tags` (a JSON array string) and `metadata` (a JSON object
//! string) when the request names them. Every name comes from
//! [`tokentrace_core::semconv`].
//!
//! Only the values another layer reads are `tracing` fields (the name and
//! kind for tracing-opentelemetry; the span type, workflow name, user,
//! session, tags, metadata and drop count for tokentrace's `EnrichLayer`).
//! The rest (`http.request.method`, `http.route`, `url.path`,
//! `openinference.span.kind`, `gen_ai.operation.name`, the response status
//! and any error) is written straight onto the OpenTelemetry span: exported
//! the same, but not seen by other `tracing` layers such as a log formatter.
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::post};
//! use tokentrace_tower::WorkflowLayer;
//!
//! async fn chat() -> &'static str { "hi" }
//!
//! let app: Router = Router::new()
//!     .route("/chat", post(chat))
//!     .layer(WorkflowLayer::new());
//! ```
//!
//! # Customised
//!
//! ```
//! use axum::{Router, routing::post};
//! use tokentrace_tower::{WorkflowLayer, WorkflowMetadata};
//!
//! #[derive(Clone)]
//! struct Tenant(String); // put in the extensions by the app's auth layer
//!
//! async fn chat() -> &'static str { "hi" }
//!
//! let layer = WorkflowLayer::new()
//!     .user_header("x-user-id")
//!     .session_header("x-session-id")
//!     .tags_header("x-tags")
//!     .metadata_header("x-client-version", "client_version")
//!     .max_value_len(128)
//!     .trace_id_response_header("x-trace-id")
//!     .skip_path("/health")
//!     .extract_with(|parts: &http::request::Parts, meta: &mut WorkflowMetadata| {
//!         if let Some(t) = parts.extensions.get::<Tenant>() {
//!             meta.insert("tenant", &t.0);
//!         }
//!     });
//! let app: Router = Router::new().route("/chat", post(chat)).layer(layer);
//! ```
//!
//! # When the span ends
//!
//! * the response body yields its last frame (SSE included: the span covers
//!   the whole stream), or reports it has ended;
//! * the response body yields an error: `otel.status_code = error`;
//! * the response body is dropped before its end, or the response future is
//!   dropped before a response, because the client went away:
//!   `tokentrace.client_disconnected = true`;
//! * the inner service returns an error (`otel.status_code = error`, with the
//!   error's message, bounded);
//! * the handler panics and an outer `CatchPanicLayer` turns the panic into a
//!   500: the unwinding is seen here and recorded as an error.
//!
//! The span ends exactly once, at the first of these. A 5xx status also sets
//! `otel.status_code = error`; 4xx does not (OTel HTTP server semantics).
//!
//! # Untrusted input
//!
//! Header values become attributes only after bounding ([`Bounds`]): a value
//! that is too long, not UTF-8 or contains a control character is dropped,
//! never truncated or recorded raw; tags and metadata entries beyond the
//! count limits are dropped too. Each drop is counted on the span
//! (`tokentrace.dropped_values`) and on the layer
//! ([`WorkflowLayer::dropped_values`]). An inbound W3C `traceparent` is
//! continued (turn off with [`WorkflowLayer::continue_trace`]); `baggage` is
//! read only with [`WorkflowLayer::read_baggage`]. Both are read with the
//! global OpenTelemetry propagator, the one `LlmMiddleware` injects with
//! (W3C Trace Context + Baggage while none is set).
//!
//! # Route templates
//!
//! With the `axum` feature (the `tokentrace` facade's `axum` feature, on by default, turns it on) the route is
//! axum's `MatchedPath`, present when the layer is added with `Router::layer`
//! or `Router::route_layer`. Anything else can name it with
//! [`WorkflowLayer::route_with`]. This crate does not otherwise depend on
//! axum.
//!
//! # Turning it off
//!
//! [`WorkflowLayer::enabled`]`(false)` makes every request pass straight
//! through, and [`WorkflowLayer::skip_path`] skips single paths (health
//! checks); neither builds a span. The `tokentrace` facade reads the
//! environment switch and calls `enabled`.
//!
//! # Features
//!
//! | feature | what it does |
//! |---|---|
//! | `axum` | read axum's `MatchedPath` as the default route template |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod body;
mod config;
mod extract;
mod future;
mod layer;
mod propagation;
mod service;
mod status;

pub use body::WorkflowBody;
pub use extract::{Bounds, ExtractMetadata, WorkflowMetadata};
pub use future::WorkflowFuture;
pub use layer::{WorkflowLayer, set_enabled_globally};
pub use service::WorkflowService;

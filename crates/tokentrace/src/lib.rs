//! Make the LLM work of async Rust services visible and priced.
//!
//! One call sets up tracing: spans from your inbound requests
//! ([`WorkflowLayer`]), your workflow functions ([`workflow`](macro@workflow),
//! [`traced_run`]) and your outbound LLM calls ([`LlmMiddleware`]) are enriched
//! with prompt templates and metadata, priced, and exported to an embedded
//! SQLite store (browse it with the `tokentrace` CLI) and, when configured, to
//! any OpenTelemetry collector over OTLP.
//!
//! # Minimal example
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Embedded store at .tokentrace/traces.db; OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
//!     let _telemetry = tokentrace::init()?;
//!     tracing::info_span!("work").in_scope(|| { /* ... */ });
//!     Ok(())
//! }
//! ```
//!
//! # Customised
//!
//! ```no_run
//! let telemetry = tokentrace::Telemetry::builder()
//!     .service_name("support-bot")
//!     .store(".tokentrace/traces.db")
//!     .otlp_endpoint("http://127.0.0.1:4318")
//!     .sample_ratio(0.5)
//!     .from_env()
//!     .install()?;
//! // ... run ...
//! telemetry.flush();
//! eprintln!("spans lost: {}", telemetry.dropped_spans());
//! # Ok::<(), tokentrace::TelemetryError>(())
//! ```
//!
//! Every setting and environment variable is listed on [`Telemetry`].
//!
//! Carrying a trace across tasks, threads, queues and processes
//! ([`inject`], [`extract`], [`link_to`], [`ContextSnapshot`], ...) is in
//! [`context`]; the same names are at the root.
//!
//! # Feature flags
//!
//! | feature | enables | default |
//! |---|---|---|
//! | `tower` | [`WorkflowLayer`] for inbound requests (any tower stack: hyper, tonic, axum) | yes |
//! | `axum` | [`WorkflowLayer`] names spans by axum's `MatchedPath` (the route template); implies `tower` | yes |
//! | `reqwest` | [`LlmMiddleware`] for outbound LLM and vector-DB calls | yes |
//! | `macros` | the `#[workflow]` attribute | yes |
//! | `store` | the embedded SQLite store and [`store`] (queries) | yes |
//! | `otlp` | OTLP/HTTP (protobuf) export of spans and metrics | yes |
//! | `tokio` | `spawn`, a task that carries the current span | yes |
//! | `full` | all of the above | yes |
//! | `grpc` | OTLP over gRPC (tonic) as well, see [`OtlpProtocol`]; implies `otlp`, not in `full` | no |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

// ---- workflows and context ----
#[doc(hidden)]
pub mod __private;
pub mod context;
mod kind;
mod workflow;

// The context functions live in [`context`]; the root names are the
// contract's and stay.
#[cfg(feature = "tokio")]
#[doc(no_inline)]
pub use context::spawn;
#[doc(no_inline)]
pub use context::{
    Carrier, CarrierMut, ContextGuard, ContextSnapshot, EnvCarrier, RemoteContext, extract, inject,
    link_to,
};
pub use kind::{UnknownWorkflowKind, WorkflowKind};
#[doc(inline)]
pub use tokentrace_core::defaults::set_workflow_filter;
#[doc(inline)]
pub use tokentrace_core::workflow_filter::WorkflowFilter;
#[cfg(feature = "macros")]
#[doc(inline)]
pub use tokentrace_macros::workflow;
#[cfg(feature = "tower")]
#[doc(inline)]
pub use tokentrace_tower::{ExtractMetadata, WorkflowLayer, WorkflowMetadata};
pub use workflow::{AttributeValue, TracedRun, traced_run};

// ---- set-up, store and re-exports ----
mod pipeline;
mod sanitize;
mod semconv_mode;
mod telemetry;

pub use semconv_mode::{OPT_IN_DUP, OPT_IN_LATEST, SemconvExporter, SemconvMode, rewrite_span};

pub use telemetry::{
    DEFAULT_STORE_PATH, OtlpProtocol, Telemetry, TelemetryError, TelemetryGuard,
    capture_content_enabled, init, prices,
};
#[cfg(feature = "reqwest")]
#[doc(inline)]
pub use tokentrace_reqwest::LlmMiddleware;
#[doc(inline)]
pub use tokentrace_subscriber::{
    EnrichLayer, WorkflowInfo, current_workflow, metadata, prompt_template,
};

/// The base-URL LLM gateway: an axum `Router` with `WorkflowLayer` in front
/// and `LlmMiddleware` behind (see `docs/gateway.md`).
#[cfg(feature = "gateway")]
pub mod gateway {
    #[doc(inline)]
    pub use tokentrace_gateway::*;
}

/// The embedded SQLite store: open it and query traces, stats and sessions.
#[cfg(feature = "store")]
pub mod store {
    #[doc(inline)]
    pub use tokentrace_store::*;
}

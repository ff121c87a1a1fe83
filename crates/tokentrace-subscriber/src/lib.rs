//! A [`tracing_subscriber::Layer`] that makes tokentrace's spans complete:
//! [`EnrichLayer`] stamps prompt templates and workflow metadata (opened with
//! the [`prompt_template!`] and [`metadata!`] scope guards, or carried by span
//! fields) onto the spans beneath them, rolls the tokens, cost and errors of
//! LLM calls up to their workflow spans and the trace root, writes
//! `performance.latency_ms`, and records the OpenTelemetry GenAI client
//! metrics. [`current_workflow`] tells code which workflow it runs in.
//!
//! # Minimal example
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! use tokentrace_core::semconv;
//!
//! # let tracer = opentelemetry::trace::noop::NoopTracer::new();
//! let subscriber = tracing_subscriber::registry()
//!     .with(tokentrace_subscriber::EnrichLayer::new())        // first: inner
//!     .with(tracing_opentelemetry::layer().with_tracer(tracer)); // then: outer
//! tracing::subscriber::with_default(subscriber, || {
//!     let request = tracing::info_span!("POST /chat", { semconv::TOKENTRACE_SPAN_TYPE } = "workflow");
//!     let _entered = request.enter();
//!     let _m = tokentrace_subscriber::metadata!(user_id = "u-17", tags = ["prod"]);
//!     let _t = tokentrace_subscriber::prompt_template!("Answer: {q}", version = "2", q = "why?");
//!     // LLM spans created here (by the reqwest middleware) carry the template,
//!     // and every span here carries user.id and tag.tags.
//! });
//! ```
//!
//! # Customised
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! # let tracer = opentelemetry::trace::noop::NoopTracer::new();
//! # let meter = opentelemetry::global::meter("example");
//! let enrich = tokentrace_subscriber::EnrichLayer::new()
//!     .max_variables_bytes(1024)
//!     .max_metadata_bytes(1024)
//!     .max_tags(8)
//!     .meter(meter);
//! let dispatch = tracing::Dispatch::new(
//!     tracing_subscriber::registry()
//!         .with(enrich)
//!         .with(tracing_opentelemetry::layer().with_tracer(tracer)),
//! );
//! tokentrace_subscriber::verify_layer_order(&dispatch).expect("layers in the right order");
//! ```
//!
//! # Layer order
//!
//! `EnrichLayer` goes on the [`Registry`](tracing_subscriber::Registry)
//! **before** the `tracing_opentelemetry` layer:
//! `registry().with(EnrichLayer::new()).with(otel_layer)`. `Layered` calls the
//! inner layer's `on_close` first, so `EnrichLayer` writes its attributes
//! through [`tracing_opentelemetry::get_otel_context`] while the
//! OpenTelemetry span is open, and the OpenTelemetry layer then exports it.
//! Other layers (fmt, filters) may go anywhere. [`verify_layer_order`] checks
//! the composition; the `tokentrace` facade builds it this way and calls it.
//!
//! # When things happen
//!
//! * **Span created**: its fields are read (`tokentrace.span.type`,
//!   `gen_ai.workflow.name`, `user.id`, `session.id`, `tag.tags`, `metadata`,
//!   usage fields), and it takes a snapshot of the scopes alive on its
//!   ancestors. Nothing is written yet.
//! * **Guard created**: the scope is stored in the current span's
//!   extensions; metadata is also merged into the trace root's.
//! * **LLM span closes**: its usage, cost and error are added to every
//!   workflow ancestor and to the root, and the GenAI metrics are recorded
//!   (sampled or not).
//! * **Any span closes**: template attributes (LLM spans), metadata
//!   attributes, `performance.latency_ms` (workflow and LLM spans) and
//!   `tokentrace.rollup.*` (workflow spans, and the root when it has LLM calls
//!   beneath) are written, just before the OpenTelemetry layer exports it.
//!
//! Attributes a span already carries as its own recorded fields are not
//! written again (the OpenTelemetry SDK does not de-duplicate keys).
//!
//! # How it fits
//!
//! `tokentrace-tower` (`WorkflowLayer`), `#[workflow]` and `traced_run` create
//! workflow spans; `tokentrace-reqwest` (`LlmMiddleware`) creates LLM spans;
//! this crate reads both through the span contract in `docs/architecture.md`
//! and never calls those crates. Users get everything through the `tokentrace`
//! facade. The guide is `docs/enrichment.md`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod data;
mod error;
mod foreign;
mod layer;
mod llm_fields;
mod metrics;
mod rollup;
mod scope;
mod visit;

pub use error::LayerOrderError;
pub use layer::{EnrichLayer, verify_layer_order};
pub use metrics::budget_outcome_observer;
pub use scope::{
    DebugValue, DisplayValue, Metadata, PromptTemplate, ScopeGuard, ScopeValue, WorkflowInfo,
    current_budget_keys, current_workflow, unattached_guards,
};

/// `docs/enrichment.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/enrichment.md")]
pub struct EnrichmentGuide;

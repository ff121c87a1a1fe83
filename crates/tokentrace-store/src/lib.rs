//! The embedded SQLite span store of tokentrace.
//!
//! [`StoreExporter`] is an OpenTelemetry [`SpanExporter`](opentelemetry_sdk::trace::SpanExporter)
//! that writes spans to a SQLite file in WAL mode from a dedicated writer
//! thread (JSON encoding on a second thread), one transaction per batch or
//! per group of queued batches. Spans reach those threads through one
//! bounded queue, whole batches (`export`) or one at a time
//! ([`StoreExporter::try_push`]), never blocking the caller (a full queue
//! drops the batch or span and counts it). [`Store`] reads it back: a trace with its
//! span tree ([`Store::get_trace`]), filtered listings ([`Store::traces`]),
//! aggregates ([`Store::stats`]), sessions, and [`Store::clear`].
//!
//! The `spans` table is a public contract: plain SQL against it (from the
//! `sqlite3` shell, say) is supported. See `docs/store.md` for the schema and
//! example queries.
//!
//! ```no_run
//! use tokentrace_store::{Store, TraceFilter};
//!
//! let store = Store::open(".tokentrace/traces.db")?;
//! let newest = store.traces(&TraceFilter::new().page(10, 0))?;
//! if let Some(t) = newest.items.first() {
//!     let trace = store.get_trace(&t.trace_id)?;
//!     println!("{}: {:.1} ms, {} tokens, ${:.5}", trace.name, trace.latency_ms,
//!              trace.total_tokens, trace.cost_usd);
//! }
//! # Ok::<(), tokentrace_store::StoreError>(())
//! ```
//!
//! Most applications never touch this crate directly: `tokentrace::init()`
//! installs the exporter, and `tokentrace::store` re-exports it.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod agg;
mod analytics;
mod encode;
mod error;
mod exporter;
mod metrics;
mod model;
mod query;
mod retention;
mod rows;
mod schema;
mod worker;

pub use error::{StoreError, StoreErrorKind};
pub use exporter::{StoreExporter, StoreExporterBuilder, StoreStatsHandle};
pub use metrics::StoreMetricExporter;
pub use model::{
    ExportStats, GroupBy, Interval, MetricSummary, ModelSeen, Page, Retention, SessionSummary,
    SpanRow, StatsRow, TimeBucket, Trace, TraceFilter, TraceSort, TraceSummary, TraceTotals, Turn,
};
pub use query::Store;

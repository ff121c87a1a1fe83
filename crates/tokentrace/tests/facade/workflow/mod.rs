//! Workflows (`traced_run`, `#[workflow]`) and context propagation, asserted
//! through an in-memory OpenTelemetry exporter.

mod context;
mod loopback;
mod macros;
mod traced_run;

use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tokentrace_test_support::Capture;

pub(crate) use tokentrace_test_support::attr_str;

/// An in-memory exporter behind a thread-local subscriber; spans are
/// exported when they end (`dispatch` for threads that need the same
/// subscriber: `set_default` is per thread).
pub(crate) fn capture() -> Capture {
    Capture::install()
}

pub(crate) fn attr(span: &SpanData, key: &str) -> Option<Value> {
    tokentrace_test_support::attr(span, key).cloned()
}

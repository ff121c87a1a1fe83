//! Spans built by hand.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

/// A sampled, finished span of trace `trace` with id `span` and parent
/// `parent` (0: a root), kind `Internal`, no attributes, events or links,
/// status unset, scope `scope`. Set the other fields on the result.
#[must_use]
pub fn span_data(
    trace: u128,
    span: u64,
    parent: u64,
    name: impl Into<Cow<'static, str>>,
    (start, end): (SystemTime, SystemTime),
    scope: &'static str,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: if parent == 0 {
            SpanId::INVALID
        } else {
            SpanId::from(parent)
        },
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: name.into(),
        start_time: start,
        end_time: end,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder(scope).build(),
    }
}

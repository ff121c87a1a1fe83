//! Marking a workflow span failed, through core's one convention
//! ([`tokentrace_core::status::SpanError`]).

use tokentrace_core::status::{SpanError, readable_message};
use tracing::Span;

/// Longest `otel.status_description` / `exception.message`, in bytes.
const MAX_MESSAGE_LEN: usize = 512;

/// Marks `span` as failed with `message`, bounded to a few hundred bytes.
pub(crate) fn record_error(span: &Span, error_type: &str, message: &dyn std::fmt::Display) {
    let message = message.to_string();
    // A provider's raw JSON error body inside the message becomes its message.
    let message = readable_message(&message, MAX_MESSAGE_LEN);
    SpanError::new()
        .error_type(error_type)
        .message(&message)
        .record(|k, v| {
            span.record(k, v);
        });
}

/// Marks a server span failed by its HTTP status (5xx): `error.type` is the
/// status code, no message.
pub(crate) fn record_status(span: &Span, status: &str) {
    SpanError::new().error_type(status).record(|k, v| {
        span.record(k, v);
    });
}

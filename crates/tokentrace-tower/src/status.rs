//! The workflow span as the layer holds it, and what it records after the
//! span was created: the response status, an error (through core's one
//! convention, [`tokentrace_core::status::SpanError`]), a client that went
//! away.
//!
//! No other layer reads these values, so they are written straight onto the
//! OpenTelemetry span instead of going through `tracing`'s `record` (which
//! visits every layer and copies each string): the span's OpenTelemetry
//! context is looked up once, when the span is created, and kept here.

use opentelemetry::trace::{SpanRef, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use tokentrace_core::semconv;
use tokentrace_core::status::{SpanError, readable_message};
use tracing::Span;

/// Longest `otel.status_description` / `exception.message`, in bytes.
const MAX_MESSAGE_LEN: usize = 512;

/// The `tracing` span of one request and its OpenTelemetry context (empty
/// when no OpenTelemetry layer records the span).
pub(crate) struct WorkflowSpan {
    pub(crate) span: Span,
    pub(crate) otel: Context,
}

impl std::fmt::Debug for WorkflowSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.span.fmt(f)
    }
}

impl WorkflowSpan {
    /// `span` with its OpenTelemetry context looked up.
    pub(crate) fn of(span: Span) -> Self {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let otel = span.context();
        Self { span, otel }
    }

    /// The OpenTelemetry span, when it records.
    fn recording(&self) -> Option<SpanRef<'_>> {
        let span = self.otel.span();
        span.is_recording().then_some(span)
    }

    /// `http.response.status_code`.
    pub(crate) fn record_status_code(&self, status: u16) {
        if let Some(span) = self.recording() {
            // i64, as tracing-opentelemetry exported the field before.
            span.set_attribute(KeyValue::new(
                semconv::HTTP_RESPONSE_STATUS_CODE,
                i64::from(status),
            ));
        }
    }

    /// `tokentrace.client_disconnected = true`.
    pub(crate) fn record_client_disconnected(&self) {
        if let Some(span) = self.recording() {
            span.set_attribute(KeyValue::new(semconv::TOKENTRACE_CLIENT_DISCONNECTED, true));
        }
    }

    /// Marks the span failed with `message`, bounded to a few hundred bytes.
    pub(crate) fn record_error(&self, error_type: &str, message: &dyn std::fmt::Display) {
        let Some(span) = self.recording() else { return };
        let message = message.to_string();
        // A provider's raw JSON error body inside the message becomes its message.
        let message = readable_message(&message, MAX_MESSAGE_LEN);
        SpanError::new()
            .error_type(error_type)
            .message(&message)
            .record(|k, v| record_str(&span, k, v));
    }

    /// Marks a server span failed by its HTTP status (5xx): `error.type` is
    /// the status code, no message.
    pub(crate) fn record_status(&self, status: &str) {
        let Some(span) = self.recording() else { return };
        SpanError::new()
            .error_type(status)
            .record(|k, v| record_str(&span, k, v));
    }

    /// The trace id, when the span is recorded.
    pub(crate) fn trace_id(&self) -> opentelemetry::trace::TraceId {
        self.otel.span().span_context().trace_id()
    }
}

/// One text field onto the OpenTelemetry span, the way tracing-opentelemetry
/// records a `tracing` field of that name: the status fields set the span
/// status, anything else becomes a string attribute.
fn record_str(span: &SpanRef<'_>, key: &'static str, value: &str) {
    match key {
        semconv::OTEL_STATUS_CODE => span.set_status(if value.eq_ignore_ascii_case("ok") {
            Status::Ok
        } else if value.eq_ignore_ascii_case("error") {
            Status::error("")
        } else {
            Status::Unset
        }),
        semconv::OTEL_STATUS_DESCRIPTION => span.set_status(Status::error(value.to_owned())),
        _ => span.set_attribute(KeyValue::new(key, value.to_owned())),
    }
}

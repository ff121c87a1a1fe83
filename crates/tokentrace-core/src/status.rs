//! The one way every tokentrace crate marks a span failed.
//!
//! A failed span carries `otel.status_code = "error"`, a low-cardinality
//! `error.type` when there is one, and, when there is a message, the same
//! text as `otel.status_description` (what `tokentrace show` and the
//! dashboard print) and `exception.message`. The crates record through
//! [`SpanError::record`], handing it their span's `record` function, so core
//! stays free of `tracing`.
//!
//! ```
//! use tokentrace_core::status::SpanError;
//!
//! let mut fields = Vec::new();
//! SpanError::new()
//!     .error_type("timeout")
//!     .message("the provider did not answer")
//!     .record(|k, v| fields.push((k, v.to_owned())));
//! assert_eq!(fields[0], ("otel.status_code", "error".to_owned()));
//! assert_eq!(fields.len(), 4);
//! ```

use std::borrow::Cow;

use crate::semconv;

/// The `otel.status_code` of a failed span.
pub const STATUS_ERROR: &str = "error";

/// What marks one span failed; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use = "nothing is recorded until `record` is called"]
pub struct SpanError<'a> {
    error_type: Option<&'a str>,
    description: Option<&'a str>,
    exception: bool,
}

impl<'a> SpanError<'a> {
    /// The status alone: `otel.status_code = "error"`.
    pub fn new() -> Self {
        Self::default()
    }

    /// `error.type`: a low-cardinality class (`timeout`, `429`, `panic`).
    pub fn error_type(mut self, error_type: &'a str) -> Self {
        self.error_type = Some(error_type);
        self
    }

    /// `otel.status_description` and `exception.message`.
    pub fn message(mut self, message: &'a str) -> Self {
        self.description = Some(message);
        self.exception = true;
        self
    }

    /// `otel.status_description` only: for a span whose `exception.message`
    /// is recorded elsewhere (as an event attribute) or does not apply (an
    /// ancestor failed by its child).
    pub fn description(mut self, description: &'a str) -> Self {
        self.description = Some(description);
        self.exception = false;
        self
    }

    /// Records the fields through `record` (a span's `record`), status first.
    pub fn record(&self, mut record: impl FnMut(&'static str, &str)) {
        record(semconv::OTEL_STATUS_CODE, STATUS_ERROR);
        if let Some(d) = self.description {
            record(semconv::OTEL_STATUS_DESCRIPTION, d);
        }
        if let Some(t) = self.error_type {
            record(semconv::ERROR_TYPE, t);
        }
        if let (true, Some(d)) = (self.exception, self.description) {
            record(semconv::EXCEPTION_MESSAGE, d);
        }
    }
}

/// An error's text as a span shows it: a provider's raw JSON error body
/// inside it becomes that body's message
/// ([`readable_error`](crate::bound::readable_error)), then it is cut to at
/// most `max_len` bytes on a character boundary.
pub fn readable_message(raw: &str, max_len: usize) -> Cow<'_, str> {
    match crate::bound::readable_error(raw) {
        Cow::Borrowed(s) => Cow::Borrowed(crate::bound::truncate_utf8(s, max_len)),
        Cow::Owned(mut s) => {
            let keep = crate::bound::truncate_utf8(&s, max_len).len();
            s.truncate(keep);
            Cow::Owned(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: SpanError<'_>) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        e.record(|k, v| out.push((k, v.to_owned())));
        out
    }

    #[test]
    fn each_part_records_its_own_fields() {
        assert_eq!(
            fields(SpanError::new()),
            [(semconv::OTEL_STATUS_CODE, "error".to_owned())]
        );
        assert_eq!(
            fields(SpanError::new().error_type("500")),
            [
                (semconv::OTEL_STATUS_CODE, "error".to_owned()),
                (semconv::ERROR_TYPE, "500".to_owned()),
            ]
        );
        assert_eq!(
            fields(SpanError::new().error_type("panic").message("panicked")),
            [
                (semconv::OTEL_STATUS_CODE, "error".to_owned()),
                (semconv::OTEL_STATUS_DESCRIPTION, "panicked".to_owned()),
                (semconv::ERROR_TYPE, "panic".to_owned()),
                (semconv::EXCEPTION_MESSAGE, "panicked".to_owned()),
            ]
        );
        assert_eq!(
            fields(SpanError::new().description("cut short")),
            [
                (semconv::OTEL_STATUS_CODE, "error".to_owned()),
                (semconv::OTEL_STATUS_DESCRIPTION, "cut short".to_owned()),
            ]
        );
    }

    #[test]
    fn messages_are_made_readable_and_cut_on_a_character_boundary() {
        let raw = r#"status 429: {"error":{"message":"slow down"}}"#;
        assert!(readable_message(raw, 512).contains("slow down"));
        assert!(!readable_message(raw, 512).contains('{'));
        assert_eq!(readable_message("héllo", 2), "h");
        assert_eq!(readable_message("plain", 512), "plain");
    }
}

//! Continuing an inbound W3C trace context.
//!
//! <https://www.w3.org/TR/trace-context/#traceparent-header> and
//! <https://www.w3.org/TR/baggage/>: both headers are read through the
//! OpenTelemetry SDK propagators, which validate them and ignore malformed
//! input (a malformed `traceparent` starts a new trace, per the spec).

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::extract::WorkflowMetadata;

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The remote parent named by `traceparent`, when there is a valid one.
pub(crate) fn remote_parent(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    if !headers.contains_key("traceparent") {
        return None;
    }
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Copies `baggage` entries into the request's metadata, each bounded like
/// any other header value. Only called when the user opted in: baggage is
/// client-controlled.
pub(crate) fn baggage_into(headers: &HeaderMap, meta: &mut WorkflowMetadata) {
    if !headers.contains_key("baggage") {
        return;
    }
    let cx = BaggagePropagator::new().extract(&HeaderExtractor(headers));
    for (key, (value, _)) in cx.baggage() {
        // A member named like a credential (`api_key`, `token`) is never recorded.
        if tokentrace_core::bound::is_secret_header(key.as_str()) {
            continue;
        }
        meta.insert(key.as_str(), value.as_str());
    }
}

//! Continuing an inbound trace context through the process's propagator.
//!
//! Inbound headers are read with the global OpenTelemetry propagator, the
//! one `tokentrace::Telemetry::install` sets (W3C Trace Context,
//! <https://www.w3.org/TR/trace-context/#traceparent-header>, and W3C Baggage,
//! <https://www.w3.org/TR/baggage/>) and the same one `LlmMiddleware` injects
//! with. Until a propagator is set, OpenTelemetry's global is a no-op that
//! names no fields; a layer used then (a plain subscriber, `Telemetry::build`
//! without `install`) reads W3C Trace Context + Baggage instead, so trace
//! continuation never depends on a global having been set. The propagators
//! validate their input and ignore malformed headers (a malformed
//! `traceparent` starts a new trace, per the spec).

use std::sync::LazyLock;

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator, TextMapPropagator};
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

/// W3C Trace Context + Baggage: what `install` sets, used while no global
/// propagator is set.
static W3C: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

/// Extracts a context from `headers` with the global propagator (or [`W3C`]
/// while none is set); `None` when no header the propagator reads is present.
fn extract(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    // One pass over the request's header names (lowercase already), each
    // compared with the few field names: cheaper than a `contains_key` per
    // field, which parses and hashes the name every time.
    let read = |p: &dyn TextMapPropagator| {
        headers
            .keys()
            .any(|k| p.fields().any(|f| k.as_str().eq_ignore_ascii_case(f)))
            .then(|| p.extract(&HeaderExtractor(headers)))
    };
    opentelemetry::global::get_text_map_propagator(|p| {
        if p.fields().next().is_some() {
            read(p)
        } else {
            read(&*W3C)
        }
    })
}

/// The remote parent named by the propagation headers, when there is a valid
/// one: the current context with that remote span context. Only the span
/// context is taken: inbound baggage is read as metadata (when opted in),
/// never carried on.
pub(crate) fn remote_parent(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    let cx = extract(headers)?;
    let sc = cx.span().span_context().clone();
    sc.is_valid()
        .then(|| opentelemetry::Context::current().with_remote_span_context(sc))
}

/// Copies `baggage` entries into the request's metadata, each bounded like
/// any other header value. Only called when the user opted in: baggage is
/// client-controlled.
pub(crate) fn baggage_into(headers: &HeaderMap, meta: &mut WorkflowMetadata) {
    let Some(cx) = extract(headers) else {
        return;
    };
    for (key, (value, _)) in cx.baggage() {
        // A member named like a credential (`api_key`, `token`) is never recorded.
        if tokentrace_core::bound::is_secret_header(key.as_str()) {
            continue;
        }
        meta.insert(key.as_str(), value.as_str());
    }
}

//! Context that follows the work: tasks, threads, queues and processes.
//!
//! A span is current only on the thread that entered it. Work handed to
//! something else needs the span carried across:
//!
//! | where the work goes | what to use |
//! |---|---|
//! | a tokio task | [`spawn`] (or `tokio::spawn(fut.in_current_span())` with [`tracing::Instrument`]) |
//! | `std::thread`, `spawn_blocking`, a rayon pool | [`ContextSnapshot::capture`] before, [`ContextSnapshot::attach`] inside |
//! | a queue message, a child process, another service | [`inject`] into its headers or environment, [`extract`] on the other side |
//! | a batch job that serves several requests | [`link_to`] each request's context |
//!
//! [`inject`] and [`extract`] use the process's OpenTelemetry propagator,
//! the one `Telemetry::install` sets and `WorkflowLayer` and `LlmMiddleware`
//! use too: W3C Trace Context (`traceparent`, `tracestate`,
//! <https://www.w3.org/TR/trace-context/>) and W3C Baggage (`baggage`,
//! <https://www.w3.org/TR/baggage/>). While no global propagator is set
//! (OpenTelemetry's default names no fields), they speak those two W3C
//! formats all the same. [`inject`] needs the tracing-opentelemetry layer
//! that `Telemetry::install` sets up; without it it injects nothing.
//!
//! ```
//! use std::collections::HashMap;
//!
//! // producer: put the current trace into the message headers
//! let mut headers = HashMap::new();
//! tokentrace::inject(&mut headers);
//!
//! // consumer: continue that trace
//! let parent = tokentrace::extract(&headers);
//! # async fn handle() {}
//! # async fn demo(parent: tokentrace::RemoteContext) {
//! tokentrace::TracedRun::new("consume_message").parent(parent).run(handle()).await;
//! # }
//! ```
//!
//! Child processes read the same keys from their environment, upper-cased as
//! the OpenTelemetry environment-carrier specification asks (`TRACEPARENT`,
//! `TRACESTATE`, `BAGGAGE`):
//!
//! ```no_run
//! // parent: `Command` is a carrier
//! let mut cmd = std::process::Command::new("worker");
//! tokentrace::inject(&mut cmd);
//! let _child = cmd.spawn();
//!
//! // child
//! let parent = tokentrace::extract(&tokentrace::EnvCarrier);
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use std::sync::LazyLock;

use opentelemetry::propagation::{Injector, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// W3C Trace Context + Baggage: what `install` sets, used while no global
/// propagator is set.
static W3C: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

/// Runs `f` with the global propagator, or [`W3C`] while none is set (the
/// OpenTelemetry default is a no-op that names no fields).
fn with_propagator<T>(mut f: impl FnMut(&dyn TextMapPropagator) -> T) -> T {
    opentelemetry::global::get_text_map_propagator(|p| {
        if p.fields().next().is_some() {
            f(p)
        } else {
            f(&*W3C)
        }
    })
}

/// Spawns `fut` on the current tokio runtime, inside the current span.
///
/// Equivalent to `tokio::spawn(fut.in_current_span())`. Panics, like
/// `tokio::spawn`, when called outside a tokio runtime.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    use tracing::Instrument as _;
    tokio::spawn(fut.in_current_span())
}

/// The current span, captured to be made current again on another thread.
///
/// ```
/// let snapshot = tokentrace::ContextSnapshot::capture();
/// std::thread::spawn(move || {
///     let _guard = snapshot.attach();
///     // spans created here are children of the captured span
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ContextSnapshot {
    span: Span,
}

impl ContextSnapshot {
    /// Captures the current span.
    pub fn capture() -> Self {
        Self {
            span: Span::current(),
        }
    }

    /// Makes the captured span current until the guard is dropped.
    #[must_use = "the span is current only while the guard lives"]
    pub fn attach(self) -> ContextGuard {
        ContextGuard {
            _entered: self.span.entered(),
        }
    }

    /// Runs `f` with the captured span current.
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        self.span.in_scope(f)
    }

    /// The captured span.
    pub fn span(&self) -> &Span {
        &self.span
    }
}

/// Keeps a [`ContextSnapshot`]'s span current; see [`ContextSnapshot::attach`].
#[derive(Debug)]
pub struct ContextGuard {
    _entered: tracing::span::EnteredSpan,
}

/// Somewhere [`extract`] can read propagation fields from.
pub trait Carrier {
    /// The value stored under `key` (a lowercase W3C field name).
    fn get(&self, key: &str) -> Option<Cow<'_, str>>;
}

/// Somewhere [`inject`] can write propagation fields to.
pub trait CarrierMut {
    /// Stores `value` under `key` (a lowercase W3C field name).
    fn set(&mut self, key: &str, value: String);
}

impl Carrier for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        Self::get(self, key).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl CarrierMut for HashMap<String, String> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

impl Carrier for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        Self::get(self, key).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl CarrierMut for BTreeMap<String, String> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

/// Sets upper-cased environment variables (`TRACEPARENT`, ...) on the child.
impl CarrierMut for std::process::Command {
    fn set(&mut self, key: &str, value: String) {
        self.env(key.to_ascii_uppercase(), value);
    }
}

/// This process's environment, read with upper-cased keys (`TRACEPARENT`,
/// `TRACESTATE`, `BAGGAGE`), as a child process receives a trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvCarrier;

impl Carrier for EnvCarrier {
    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        std::env::var(key.to_ascii_uppercase()).ok().map(Cow::Owned)
    }
}

struct InjectAdapter<'a, C: ?Sized>(&'a mut C);

impl<C: CarrierMut + ?Sized> Injector for InjectAdapter<'_, C> {
    fn set(&mut self, key: &str, value: String) {
        self.0.set(key, value);
    }
}

/// Writes the current span's trace context (and baggage) into `carrier`.
pub fn inject<C: CarrierMut + ?Sized>(carrier: &mut C) {
    RemoteContext::from_span(&Span::current()).inject(carrier);
}

/// Reads a trace context (and baggage) from `carrier`. Malformed or missing
/// fields give an [invalid](RemoteContext::is_valid) context, never an error.
pub fn extract<C: Carrier + ?Sized>(carrier: &C) -> RemoteContext {
    with_propagator(|p| {
        // The propagators want borrowed `&str`s; a carrier may produce owned
        // values (the environment), so the fields are copied out first.
        let fields: HashMap<String, String> = p
            .fields()
            .filter_map(|k| carrier.get(k).map(|v| (k.to_owned(), v.into_owned())))
            .collect();
        RemoteContext {
            cx: p.extract(&fields),
        }
    })
}

/// Links the current span to `other` (an OTel span link): for work that
/// serves several traces at once, such as a batch.
pub fn link_to(other: &RemoteContext) {
    Span::current().add_link(other.cx.span().span_context().clone());
}

/// A trace context from another span, process or service: the parent of a
/// [`TracedRun`](crate::TracedRun), or the target of [`link_to`].
#[derive(Debug, Clone)]
pub struct RemoteContext {
    cx: opentelemetry::Context,
}

impl RemoteContext {
    /// The context of `span` (an invalid one without the OpenTelemetry layer).
    pub fn from_span(span: &Span) -> Self {
        Self { cx: span.context() }
    }

    /// Whether it names a trace.
    pub fn is_valid(&self) -> bool {
        self.cx.span().span_context().is_valid()
    }

    /// The trace id as 32 lowercase hex digits, when valid.
    pub fn trace_id(&self) -> Option<String> {
        let id = self.cx.span().span_context().trace_id();
        (id != TraceId::INVALID).then(|| id.to_string())
    }

    /// The span id as 16 lowercase hex digits, when valid.
    pub fn span_id(&self) -> Option<String> {
        let sc = self.cx.span().span_context().clone();
        sc.is_valid().then(|| sc.span_id().to_string())
    }

    /// The baggage entry `key`.
    pub fn baggage(&self, key: &str) -> Option<String> {
        use opentelemetry::baggage::BaggageExt;
        self.cx.baggage().get(key).map(|v| v.as_str().to_owned())
    }

    /// Writes this context into `carrier`.
    pub fn inject<C: CarrierMut + ?Sized>(&self, carrier: &mut C) {
        let mut adapter = InjectAdapter(carrier);
        with_propagator(|p| p.inject_context(&self.cx, &mut adapter));
    }

    /// Makes `span` a child of this context. Must be called before the span
    /// is first entered; returns whether the parent was set.
    pub fn set_as_parent_of(&self, span: &Span) -> bool {
        self.is_valid() && span.set_parent(self.cx.clone()).is_ok()
    }

    pub(crate) fn into_context(self) -> opentelemetry::Context {
        self.cx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without `install()` the global propagator is OpenTelemetry's no-op
    /// (no fields); `extract` still reads W3C Trace Context and Baggage.
    #[test]
    fn without_a_global_propagator_w3c_is_read() {
        let headers = HashMap::from([
            (
                "traceparent".to_owned(),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            ),
            ("baggage".to_owned(), "tenant=acme".to_owned()),
        ]);
        let cx = extract(&headers);
        assert!(cx.is_valid());
        assert_eq!(
            cx.trace_id().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(cx.span_id().as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(cx.baggage("tenant").as_deref(), Some("acme"));
        let mut out = HashMap::new();
        cx.inject(&mut out);
        assert_eq!(out.get("traceparent"), headers.get("traceparent"));
        assert_eq!(out.get("baggage").map(String::as_str), Some("tenant=acme"));
    }
}

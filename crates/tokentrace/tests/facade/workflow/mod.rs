//! Workflows (`traced_run`, `#[workflow]`) and context propagation, asserted
//! through an in-memory OpenTelemetry exporter.

mod context;
mod loopback;
mod macros;
mod traced_run;

use opentelemetry::Value;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

/// An in-memory exporter behind a thread-local subscriber; spans are
/// exported when they end.
pub(crate) struct Capture {
    pub(crate) exporter: InMemorySpanExporter,
    /// For threads that need the same subscriber (`set_default` is per thread).
    pub(crate) dispatch: Dispatch,
    _provider: SdkTracerProvider,
    _guard: DefaultGuard,
}

pub(crate) fn capture() -> Capture {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))),
    );
    let guard = tracing::dispatcher::set_default(&dispatch);
    Capture {
        exporter,
        dispatch,
        _provider: provider,
        _guard: guard,
    }
}

impl Capture {
    pub(crate) fn spans(&self) -> Vec<SpanData> {
        let spans = self.exporter.get_finished_spans().unwrap();
        assert_unique_keys(&spans);
        spans
    }

    pub(crate) fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let mut found = spans.iter().filter(|s| s.name == name);
        let span = found
            .next()
            .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
            .clone();
        assert!(found.next().is_none(), "more than one span {name}");
        span
    }
}

pub(crate) fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

pub(crate) fn attr_str(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

/// OTLP requires an attribute key to be unique within a span: every span a
/// test reads through this helper is checked.
pub(crate) fn assert_unique_keys(spans: &[SpanData]) {
    for s in spans {
        let mut seen = std::collections::HashSet::new();
        for kv in &s.attributes {
            assert!(
                seen.insert(kv.key.as_str()),
                "span {:?} exports the attribute {:?} twice: {:?}",
                s.name,
                kv.key.as_str(),
                s.attributes
            );
        }
    }
}

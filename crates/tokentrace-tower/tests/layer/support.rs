use std::time::Duration;

use opentelemetry::Value;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::dispatcher::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

/// An in-memory exporter behind a thread-local tracing subscriber; spans
/// are exported synchronously when they end.
pub(crate) struct Capture {
    pub(crate) exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
    _guard: DefaultGuard,
}

pub(crate) fn capture() -> Capture {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let guard = tracing::subscriber::set_default(subscriber);
    Capture {
        exporter,
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

    pub(crate) fn only_span(&self) -> SpanData {
        let spans = self.spans();
        assert_eq!(spans.len(), 1, "expected exactly one span: {spans:#?}");
        spans.into_iter().next().unwrap()
    }

    /// Waits (on the current-thread runtime) until `n` spans were exported.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<SpanData> {
        for _ in 0..500 {
            let spans = self.spans();
            if spans.len() >= n {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {n} spans; have {:#?}", self.spans());
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

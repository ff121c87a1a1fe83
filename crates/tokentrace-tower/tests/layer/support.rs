use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tokentrace_test_support::Capture;

pub(crate) use tokentrace_test_support::attr_str;

/// An in-memory exporter behind a thread-local tracing subscriber; spans
/// are exported synchronously when they end.
pub(crate) struct Otel(Capture);

impl std::ops::Deref for Otel {
    type Target = Capture;
    fn deref(&self) -> &Capture {
        &self.0
    }
}

pub(crate) fn capture() -> Otel {
    Otel(Capture::install())
}

impl Otel {
    /// Waits (on the current-thread runtime) until `n` spans were exported.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<SpanData> {
        let spans = self.0.wait_for_count(n, 500).await;
        assert!(
            spans.len() >= n,
            "timed out waiting for {n} spans; have {spans:#?}"
        );
        spans
    }
}

pub(crate) fn attr(span: &SpanData, key: &str) -> Option<Value> {
    tokentrace_test_support::attr(span, key).cloned()
}

//! The in-memory OpenTelemetry pipeline.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Identity, Layer, SubscriberExt as _};

use crate::attrs::assert_unique_keys;

/// Sets the W3C trace-context propagator as the global one (once per
/// process), as `tokentrace::init()` does.
pub fn install_trace_context_propagator() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    });
}

/// An in-memory exporter behind a `tracing` subscriber (registry, an
/// optional layer, the OpenTelemetry layer with a tracer named `test`);
/// spans are exported synchronously as they end. Keep it alive while spans
/// end: it owns the tracer provider and, when installed, the thread's
/// default subscriber.
#[derive(Debug)]
pub struct Capture {
    /// The exporter the spans land in.
    pub exporter: InMemorySpanExporter,
    /// The subscriber, to install elsewhere (another thread, a runtime).
    pub dispatch: Dispatch,
    provider: SdkTracerProvider,
    guard: Option<DefaultGuard>,
}

impl Capture {
    /// Registry and OpenTelemetry layer, as this thread's default subscriber.
    #[must_use]
    pub fn install() -> Self {
        Self::install_with(Identity::new())
    }

    /// `layer` (e.g. `EnrichLayer`) under the OpenTelemetry layer, as this
    /// thread's default subscriber.
    #[must_use]
    pub fn install_with<L: Layer<Registry> + Send + Sync + 'static>(layer: L) -> Self {
        let mut capture = Self::detached_with(layer);
        capture.guard = Some(tracing::dispatcher::set_default(&capture.dispatch));
        capture
    }

    /// Like [`install_with`](Self::install_with) but not installed: run code
    /// under it with [`run`](Self::run) or install [`dispatch`](Self::dispatch).
    #[must_use]
    pub fn detached_with<L: Layer<Registry> + Send + Sync + 'static>(layer: L) -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(layer)
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        Self {
            exporter,
            dispatch: Dispatch::new(subscriber),
            provider,
            guard: None,
        }
    }

    /// Runs `f` with this capture as the thread's default subscriber.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// The tracer provider (to make OpenTelemetry spans directly).
    #[must_use]
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Every span exported so far, each checked for duplicate keys.
    ///
    /// # Panics
    ///
    /// A span carries an attribute key twice.
    pub fn spans(&self) -> Vec<SpanData> {
        let spans = self
            .exporter
            .get_finished_spans()
            .expect("the in-memory exporter is readable");
        assert_unique_keys(&spans);
        spans
    }

    /// The spans named `name`.
    pub fn named(&self, name: &str) -> Vec<SpanData> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The one span named `name`.
    ///
    /// # Panics
    ///
    /// There is none, or more than one.
    pub fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let mut found: Vec<SpanData> = spans.iter().filter(|s| s.name == name).cloned().collect();
        assert_eq!(
            found.len(),
            1,
            "expected one span named {name:?}, got {:?}",
            spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
        );
        found.remove(0)
    }

    /// The only span exported.
    ///
    /// # Panics
    ///
    /// There is none, or more than one.
    pub fn only_span(&self) -> SpanData {
        let spans = self.spans();
        assert_eq!(spans.len(), 1, "expected exactly one span: {spans:#?}");
        spans.into_iter().next().expect("one span")
    }

    /// Waits (polling every 10 ms, at most `tries` times) until at least `n`
    /// spans have been exported; returns what is there then.
    pub async fn wait_for_count(&self, n: usize, tries: usize) -> Vec<SpanData> {
        for _ in 0..tries {
            let spans = self.spans();
            if spans.len() >= n {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.spans()
    }

    /// Waits (polling every 10 ms, at most `tries` times) until at least `n`
    /// spans named `name` have ended; returns what is there then.
    pub async fn wait_for_named(&self, name: &str, n: usize, tries: usize) -> Vec<SpanData> {
        for _ in 0..tries {
            let found = self.named(name);
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.named(name)
    }

    /// Forgets the spans exported so far.
    pub fn clear(&self) {
        self.exporter.reset();
    }
}

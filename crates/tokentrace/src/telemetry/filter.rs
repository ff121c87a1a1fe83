//! Which spans and events reach tokentrace's subscriber at all.

use tracing_subscriber::filter::Targets;

/// Targets whose spans and events never reach tokentrace: HTTP and OTel
/// internals, including those of the OTLP exporter's own HTTP client.
/// `Targets` matches by string prefix, so `reqwest::` keeps
/// `reqwest_middleware`/`reqwest_tracing` spans while dropping reqwest's own.
pub(crate) const EXCLUDED_TARGETS: &[&str] = &[
    "hyper",
    "h2",
    "reqwest::",
    "tower::",
    "rustls",
    "opentelemetry",
    "tonic",
    "tokentrace_store",
];

/// The global filter of tokentrace's subscriber: spans by [`EXCLUDED_TARGETS`],
/// events by those and the event directives (`TOKENTRACE_EVENTS`).
#[derive(Debug, Clone)]
pub(crate) struct TargetFilter {
    pub(crate) spans: Targets,
    pub(crate) events: Targets,
}

impl TargetFilter {
    fn allows(&self, meta: &tracing::Metadata<'_>) -> bool {
        self.spans.would_enable(meta.target(), meta.level())
            && (!meta.is_event() || self.events.would_enable(meta.target(), meta.level()))
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TargetFilter {
    fn register_callsite(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.allows(meta) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.allows(meta)
    }
}

/// Parses `RUST_LOG`-style event directives.
pub(crate) fn parse_events(directives: &str) -> Option<Targets> {
    directives.parse::<Targets>().ok()
}

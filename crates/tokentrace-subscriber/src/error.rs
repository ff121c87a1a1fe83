//! Set-up errors.

/// Why a subscriber is not composed so that [`EnrichLayer`](crate::EnrichLayer)
/// can reach the OpenTelemetry spans. Returned by
/// [`verify_layer_order`](crate::verify_layer_order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerOrderError {
    /// The subscriber has no `EnrichLayer`.
    #[error("the subscriber has no EnrichLayer")]
    MissingEnrichLayer,
    /// The subscriber is not built on `tracing_subscriber::Registry`, where
    /// scope guards keep their data.
    #[error("the subscriber is not built on tracing_subscriber::Registry")]
    MissingRegistry,
    /// No `tracing_opentelemetry` layer answered for the probe span.
    #[error("the subscriber has no tracing-opentelemetry layer")]
    MissingOpenTelemetryLayer,
    /// `EnrichLayer` was added after (outside) the OpenTelemetry layer, which
    /// then exports spans before `EnrichLayer` can write on them. Add it
    /// first: `registry().with(EnrichLayer::new()).with(otel_layer)`.
    #[error(
        "EnrichLayer is outside the tracing-opentelemetry layer; add it first: registry().with(EnrichLayer::new()).with(otel_layer)"
    )]
    EnrichLayerOutsideOpenTelemetry,
    /// The probe span was disabled by a filter, or `EnrichLayer` did not see it.
    #[error(
        "the layer-order probe span (target tokentrace::layer_order_probe, level ERROR) was filtered out"
    )]
    ProbeFiltered,
    /// The probe thread could not be started or panicked.
    #[error("the layer-order probe failed")]
    ProbeFailed,
}

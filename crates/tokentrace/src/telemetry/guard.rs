//! The guard [`install`](crate::Telemetry::install) returns: flushes and
//! shuts telemetry down when dropped.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokentrace_core::price::PriceCatalogue;

use crate::pipeline::PipelineStats;

const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`install`](crate::Telemetry::install) makes process-wide; taken
/// (and so applied once) by `install`, unused by `build`.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) prices: Option<Arc<PriceCatalogue>>,
    pub(crate) capture_content: bool,
    pub(crate) workflows: Option<String>,
    pub(crate) exclude_modules: Option<String>,
}

/// The budget outcome observer a guard installed.
#[derive(Default)]
pub(crate) struct InstalledObserver(pub(crate) Option<tokentrace_core::budget::OutcomeObserver>);

impl std::fmt::Debug for InstalledObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

#[derive(Debug)]
pub(crate) struct GuardInner {
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) meter_provider: SdkMeterProvider,
    pub(crate) stats: Arc<PipelineStats>,
    /// The budget observer this guard installed (removed on drop, unless
    /// another has replaced it since).
    pub(crate) budget_observer: InstalledObserver,
    #[cfg(feature = "store")]
    pub(crate) store_stats: Option<tokentrace_store::StoreStatsHandle>,
    /// Dropped last, after the providers have shut the exporters down.
    #[cfg(feature = "grpc")]
    pub(crate) _grpc_runtime: Option<crate::pipeline::ExportRuntime>,
}

/// Keeps telemetry running. Dropping it flushes every exporter, then shuts
/// the tracer and meter providers down (waiting up to 30 seconds per exporter).
#[derive(Debug)]
#[must_use = "dropping the guard flushes and shuts telemetry down at once"]
pub struct TelemetryGuard {
    pub(crate) inner: Option<GuardInner>,
    pub(crate) settings: Option<Settings>,
}

impl TelemetryGuard {
    pub(crate) fn inert() -> Self {
        Self {
            inner: None,
            settings: None,
        }
    }

    /// Exports every finished span and pending metric now and waits for it
    /// (for short-lived programs). Failures are counted, not returned.
    pub fn flush(&self) {
        if let Some(inner) = &self.inner {
            let _ = inner.tracer_provider.force_flush();
            let _ = inner.meter_provider.force_flush();
            #[cfg(feature = "store")]
            if let Some(s) = &inner.store_stats {
                let _ = s.flush(FLUSH_TIMEOUT);
            }
        }
    }

    /// Spans lost so far: dropped on a full queue (per exporter), in batches
    /// an exporter failed (collector down, store locked or full), or dropped
    /// by the store's own queue.
    #[must_use]
    pub fn dropped_spans(&self) -> u64 {
        let Some(inner) = &self.inner else {
            return 0;
        };
        #[allow(unused_mut)]
        let mut n = inner.stats.lost();
        #[cfg(feature = "store")]
        if let Some(s) = &inner.store_stats {
            let s = s.get();
            // Store batches that failed to commit were accepted by `export`,
            // so the pipeline did not count them.
            n += s.failed_spans;
        }
        n
    }

    /// `false` when `OTEL_SDK_DISABLED` made set-up a no-op.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if let Some(o) = &inner.budget_observer.0 {
                tokentrace_core::budget::remove_outcome_observer(o);
            }
            let _ = inner.tracer_provider.force_flush();
            let _ = inner.tracer_provider.shutdown_with_timeout(FLUSH_TIMEOUT);
            let _ = inner.meter_provider.shutdown();
        }
    }
}

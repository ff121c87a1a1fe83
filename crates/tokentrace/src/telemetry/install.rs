//! Putting the pipeline together ([`Telemetry::build`]) and making it
//! process-wide ([`Telemetry::install`], [`init`]).

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::workflow_filter::WorkflowFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

use crate::pipeline::{BlockingExporter, KeepErrorsSampler, PipelineStats, QueueProcessor};
use crate::sanitize::ExportPolicy;
use crate::semconv_mode::Rewriting;
use crate::telemetry::builder::Telemetry;
use crate::telemetry::env::SamplerSetting;
#[cfg(feature = "store")]
use crate::telemetry::env::StoreSetting;
use crate::telemetry::error::TelemetryError;
use crate::telemetry::filter::{EXCLUDED_TARGETS, TargetFilter};
use crate::telemetry::guard::{GuardInner, InstalledObserver, Settings, TelemetryGuard};
#[cfg(feature = "otlp")]
use crate::telemetry::otlp;
#[cfg(feature = "grpc")]
use crate::telemetry::protocol::OtlpProtocol;

/// Sets tokentrace up from the environment: `Telemetry::builder().from_env().install()`.
///
/// Spans go to the SQLite store at `.tokentrace/traces.db` (unless
/// `TOKENTRACE_STORE=off`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
/// over OTLP (HTTP/protobuf, or gRPC with the `grpc` feature and
/// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`). Keep the guard alive for the life of
/// the program. Works inside or outside a tokio runtime.
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let _telemetry = tokentrace::init()?;
///     // ... the application ...
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// See [`Telemetry::install`].
pub fn init() -> Result<TelemetryGuard, TelemetryError> {
    Telemetry::builder().from_env().install()
}

impl Telemetry {
    /// Builds the pipeline without touching any global: a [`tracing::Dispatch`]
    /// to use with `tracing::dispatcher::with_default` (tests, plugins), and
    /// the guard that flushes it. [`install`](Self::install) is this plus the globals.
    ///
    /// ```no_run
    /// let (dispatch, guard) = tokentrace::Telemetry::builder()
    ///     .store("/tmp/test-traces.db")
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::info_span!("work").in_scope(|| {});
    /// });
    /// guard.flush();
    /// # Ok::<(), tokentrace::TelemetryError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// See [`install`](Self::install), except `AlreadyInstalled`.
    pub fn build(mut self) -> Result<(tracing::Dispatch, TelemetryGuard), TelemetryError> {
        let mut cfg = self.resolve()?;
        if cfg.disabled {
            return Ok((tracing::Dispatch::none(), TelemetryGuard::inert()));
        }
        let local = cfg
            .prices_catalogue
            .is_file()
            .then(|| PriceCatalogue::with_local_file(&cfg.prices_catalogue))
            .transpose()?;
        let prices = match (&cfg.prices_file, local) {
            (Some(path), Some(local)) => Some(Arc::new(local.and_overrides_file(path)?)),
            (Some(path), None) => Some(Arc::new(PriceCatalogue::with_overrides_file(path)?)),
            (None, local) => local.map(Arc::new),
        };
        let mut resource = Resource::builder_empty().with_service_name(cfg.service_name.clone());
        for (k, v) in &cfg.resource_attributes {
            if k != "service.name" {
                resource = resource.with_attribute(KeyValue::new(k.clone(), v.clone()));
            }
        }
        let resource = resource.build();

        // The gRPC exporters' runtime thread, started only when a signal uses
        // gRPC; declared before the providers so a failed build stops it.
        #[cfg(feature = "grpc")]
        let grpc_runtime = if (cfg.traces_endpoint.is_some()
            && cfg.traces_protocol == OtlpProtocol::Grpc)
            || (cfg.metrics_endpoint.is_some() && cfg.metrics_protocol == OtlpProtocol::Grpc)
        {
            Some(crate::pipeline::ExportRuntime::start().map_err(TelemetryError::ExportThread)?)
        } else {
            None
        };
        #[cfg(feature = "grpc")]
        let grpc_runtime_ref = grpc_runtime.as_ref();
        #[cfg(all(feature = "otlp", not(feature = "grpc")))]
        let grpc_runtime_ref = None;

        let stats = Arc::new(PipelineStats::default());
        let mut exporters: Vec<Box<dyn BlockingExporter>> = Vec::new();
        #[cfg(feature = "store")]
        let mut store_stats = None;
        #[cfg(feature = "store")]
        if let StoreSetting::Path(path) = &cfg.store {
            let mut builder = tokentrace_store::StoreExporter::builder(path)
                .upstream_dropped(Arc::clone(&stats.queue_dropped))
                .span_queue_capacity(cfg.queue.capacity)
                .span_batching(cfg.queue.max_batch, cfg.queue.delay);
            if let Some(bytes) = cfg.store_page_cache {
                builder = builder.page_cache_bytes(bytes);
            }
            let exporter = builder.build()?;
            store_stats = Some(exporter.stats_handle());
            exporters.push(Box::new(crate::pipeline::StoreSink(exporter)));
        }
        #[cfg(feature = "otlp")]
        if let Some(endpoint) = &cfg.traces_endpoint {
            exporters.push(Box::new(Rewriting {
                inner: otlp::span_exporter(&cfg, endpoint, grpc_runtime_ref)?,
                mode: cfg.semconv,
            }));
        }
        // Added exporters see what OTLP sees; the store keeps the spans as built.
        for inner in std::mem::take(&mut cfg.extra) {
            exporters.push(Box::new(Rewriting {
                inner,
                mode: cfg.semconv,
            }));
        }

        let head = match cfg.sampler {
            SamplerSetting::AlwaysOn => Sampler::AlwaysOn,
            SamplerSetting::AlwaysOff => Sampler::AlwaysOff,
            SamplerSetting::Ratio(r) => Sampler::TraceIdRatioBased(r),
            SamplerSetting::ParentBasedAlwaysOn => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
            }
            SamplerSetting::ParentBasedAlwaysOff => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff))
            }
            SamplerSetting::ParentBasedRatio(r) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
            }
        };
        let processor = QueueProcessor::new(
            exporters,
            cfg.queue,
            cfg.keep_errors,
            ExportPolicy {
                capture_content: cfg.capture_content,
            },
            &stats,
        );
        let mut tracer_builder = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource.clone());
        tracer_builder = if cfg.keep_errors {
            tracer_builder.with_sampler(KeepErrorsSampler { inner: head })
        } else {
            tracer_builder.with_sampler(head)
        };
        let tracer_provider = tracer_builder.build();

        #[allow(unused_mut)] // only the `otlp` and `store` features add readers
        let mut meter_builder = SdkMeterProvider::builder().with_resource(resource);
        #[cfg(feature = "otlp")]
        if let Some(endpoint) = &cfg.metrics_endpoint {
            meter_builder =
                otlp::with_metric_reader(meter_builder, &cfg, endpoint, grpc_runtime_ref)?;
        }
        #[cfg(not(feature = "otlp"))]
        let _ = (&cfg.metrics_endpoint, cfg.metrics_interval);
        // The store keeps a running summary of the same metrics (its
        // `metrics` table), so they exist locally without a collector.
        #[cfg(feature = "store")]
        if let StoreSetting::Path(path) = &cfg.store {
            let exporter = tokentrace_store::StoreMetricExporter::new(path)?;
            meter_builder = meter_builder.with_reader(
                opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
                    .with_interval(cfg.metrics_interval)
                    .build(),
            );
        }
        let meter_provider = meter_builder.build();

        let mut targets = Targets::new().with_default(LevelFilter::TRACE);
        for t in EXCLUDED_TARGETS {
            targets = targets.with_target(*t, LevelFilter::OFF);
        }
        let targets = TargetFilter {
            spans: targets,
            events: cfg.events.clone(),
        };
        let enrich = tokentrace_subscriber::EnrichLayer::new()
            .meter(meter_provider.meter("tokentrace"))
            .semconv(cfg.semconv)
            .prompt_variables(cfg.capture_content);
        // busy/idle time, thread, code location and target on every span are
        // noise in an LLM trace view and cost time per span: leave them out.
        let otel = tracing_opentelemetry::layer()
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_target(false)
            .with_tracer(tracer_provider.tracer("tokentrace"));
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(enrich)
                .with(otel)
                .with(targets),
        );
        tokentrace_subscriber::verify_layer_order(&dispatch)?;

        let guard = TelemetryGuard {
            inner: Some(GuardInner {
                tracer_provider,
                meter_provider,
                stats,
                budget_observer: InstalledObserver::default(),
                #[cfg(feature = "store")]
                store_stats,
                #[cfg(feature = "grpc")]
                _grpc_runtime: grpc_runtime,
            }),
            settings: Some(Settings {
                prices,
                capture_content: cfg.capture_content,
                workflows: cfg.workflows,
                exclude_modules: cfg.exclude_modules,
            }),
        };
        Ok((dispatch, guard))
    }

    /// Builds the pipeline and installs it process-wide: the global `tracing`
    /// subscriber, OpenTelemetry tracer and meter providers, the W3C
    /// TraceContext + Baggage propagators, the workflow filter, the price
    /// catalogue (see [`prices`]) and the content-capture switch (see
    /// [`capture_content_enabled`]).
    ///
    /// # Errors
    ///
    /// An invalid environment value or setting, a store that cannot be opened,
    /// an OTLP exporter that cannot be built, an unreadable price file, or a
    /// global subscriber already installed. Nothing is installed then.
    pub fn install(self) -> Result<TelemetryGuard, TelemetryError> {
        let (dispatch, mut guard) = self.build()?;
        let Some(inner) = &mut guard.inner else {
            return Ok(guard);
        };
        tracing::dispatcher::set_global_default(dispatch)
            .map_err(TelemetryError::AlreadyInstalled)?;
        opentelemetry::global::set_text_map_propagator(
            opentelemetry::propagation::TextMapCompositePropagator::new(vec![
                Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
                Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
            ]),
        );
        opentelemetry::global::set_tracer_provider(inner.tracer_provider.clone());
        opentelemetry::global::set_meter_provider(inner.meter_provider.clone());
        if let Some(settings) = guard.settings.take() {
            tokentrace_core::defaults::set_workflow_filter(WorkflowFilter::from_env_values(
                settings.workflows.as_deref(),
                settings.exclude_modules.as_deref(),
            ));
            if let Some(prices) = settings.prices {
                tokentrace_core::defaults::set_price_catalogue(prices);
            }
            tokentrace_core::defaults::set_capture_content(settings.capture_content);
        }
        // Budgets in LlmMiddleware read the request's user, session and
        // workflow from the span tree through this.
        tokentrace_core::budget::set_keys_provider(tokentrace_subscriber::current_budget_keys);
        // Budget decisions feed the `tokentrace.budget.outcomes` counter.
        let observer = tokentrace_subscriber::budget_outcome_observer(
            &inner.meter_provider.meter("tokentrace"),
        );
        tokentrace_core::budget::set_outcome_observer(Some(observer.clone()));
        inner.budget_observer = InstalledObserver(Some(observer));
        Ok(guard)
    }
}

/// The price catalogue [`install`](Telemetry::install) loaded (built-in
/// prices merged with the price file), or the built-in one. `LlmMiddleware`
/// uses it unless given its own.
#[must_use]
pub fn prices() -> Arc<PriceCatalogue> {
    tokentrace_core::defaults::price_catalogue()
}

/// Whether [`install`](Telemetry::install) turned content capture on
/// (`TOKENTRACE_CAPTURE_CONTENT` or [`Telemetry::capture_content`]);
/// `LlmMiddleware` follows it unless told otherwise.
#[must_use]
pub fn capture_content_enabled() -> bool {
    tokentrace_core::defaults::capture_content()
}

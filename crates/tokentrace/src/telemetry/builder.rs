//! The [`Telemetry`] builder: its setters, and how each setting resolves
//! (explicit setter, else the environment, else the default).

use std::path::{Path, PathBuf};
use std::time::Duration;

use opentelemetry_sdk::trace::SpanExporter;
use tracing_subscriber::filter::Targets;

use crate::pipeline::{BlockingExporter, QueueConfig};
use crate::sanitize::DEFAULT_EVENTS;
use crate::semconv_mode::SemconvMode;
use crate::telemetry::env::{self, EnvConfig, OtlpHeaders, SamplerSetting, StoreSetting};
use crate::telemetry::error::TelemetryError;
use crate::telemetry::filter::parse_events;
use crate::telemetry::protocol::{OtlpProtocol, signal_url};

/// Default store path, relative to the working directory.
pub const DEFAULT_STORE_PATH: &str = ".tokentrace/traces.db";
const DEFAULT_SERVICE_NAME: &str = "unknown_service";
const DEFAULT_QUEUE_SIZE: usize = 2048;
const DEFAULT_MAX_BATCH: usize = 512;
const DEFAULT_EXPORT_DELAY: Duration = Duration::from_secs(1);
const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_secs(60);

/// Builder for tokentrace's tracing and metrics pipeline.
///
/// ```no_run
/// let _telemetry = tokentrace::Telemetry::builder()
///     .service_name("support-bot")
///     .store(".tokentrace/traces.db")          // or .no_store()
///     .otlp_endpoint("http://127.0.0.1:4318")  // optional
///     .prices_file("prices.toml")              // optional
///     .sample_ratio(0.25)
///     .always_keep_errors(true)
///     .from_env()                              // setters above win over the environment
///     .install()?;
/// # Ok::<(), tokentrace::TelemetryError>(())
/// ```
///
/// What [`install`](Self::install) sets up: a global `tracing` subscriber
/// (registry + [`EnrichLayer`](tokentrace_subscriber::EnrichLayer) +
/// `tracing-opentelemetry`, with HTTP-client and OpenTelemetry internals
/// filtered out), an OpenTelemetry tracer provider whose span processor keeps
/// one bounded queue per exporter (a full queue drops and counts, never
/// blocks), the W3C TraceContext + Baggage propagators, and a meter provider
/// for the GenAI client metrics (exported over OTLP when configured).
///
/// # Environment
///
/// Read only by [`from_env`](Self::from_env) (and [`init`](crate::init)); explicit setters win.
///
/// | variable | effect |
/// |---|---|
/// | `OTEL_SDK_DISABLED` | `true`: install nothing, return an inert guard |
/// | `OTEL_SERVICE_NAME` | `service.name` (as [`service_name`](Self::service_name)) |
/// | `OTEL_RESOURCE_ATTRIBUTES` | extra resource attributes, `k=v,k2=v2` |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | OTLP base URL; for `http/protobuf` `/v1/traces` and `/v1/metrics` are appended, for `grpc` it is used as is |
/// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | OTLP traces URL, used as is |
/// | `OTEL_EXPORTER_OTLP_HEADERS` | headers for the collector (gRPC metadata with `grpc`), `k=v,k2=v2` |
/// | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` (default) or `grpc` (needs the `grpc` feature); `http/json` is refused |
/// | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | the same, for traces only (wins over the general one) |
/// | `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` | the same, for metrics only (wins over the general one) |
/// | `OTEL_TRACES_SAMPLER` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` |
/// | `OTEL_TRACES_SAMPLER_ARG` | the ratio, 0 to 1 |
/// | `TOKENTRACE_STORE` | store path, or `off` |
/// | `TOKENTRACE_CAPTURE_CONTENT` | `true`: record prompt and completion text |
/// | `TOKENTRACE_PRICES_FILE` | a price file merged over the built-in prices |
/// | `OTEL_SEMCONV_STABILITY_OPT_IN` | `gen_ai_latest_experimental` (default behaviour) or `gen_ai_latest_experimental/dup` (old and new GenAI names) |
/// | `TOKENTRACE_PRICES_CATALOGUE` | the local price catalogue (`tokentrace prices update`), default `.tokentrace/prices.json` |
/// | `TOKENTRACE_WORKFLOWS` | which workflows record (see [`WorkflowFilter`](crate::WorkflowFilter)) |
/// | `TOKENTRACE_EXCLUDE_MODULES` | module paths whose workflows never record |
/// | `TOKENTRACE_KEEP_ERRORS` | `true`: keep error spans of sampled-out traces |
/// | `TOKENTRACE_EVENTS` | which `tracing` events become span events, `RUST_LOG`-style (see [`events`](Self::events)); default `warn,tokentrace=trace` |
#[derive(Debug, Default)]
#[must_use]
pub struct Telemetry {
    service_name: Option<String>,
    store: Option<StoreSetting>,
    otlp_endpoint: Option<String>,
    otlp_headers: OtlpHeaders,
    otlp_protocol: Option<OtlpProtocol>,
    otlp_timeout: Option<Duration>,
    prices_file: Option<PathBuf>,
    prices_catalogue: Option<PathBuf>,
    semconv: Option<SemconvMode>,
    sampler: Option<SamplerSetting>,
    keep_errors: Option<bool>,
    capture_content: Option<bool>,
    events: Option<String>,
    queue_size: Option<usize>,
    #[cfg(feature = "store")]
    store_page_cache: Option<u64>,
    export_delay: Option<Duration>,
    metrics_interval: Option<Duration>,
    env: Option<EnvConfig>,
    read_env: bool,
    extra: Vec<Box<dyn BlockingExporter>>,
    resource: Vec<(String, String)>,
}

impl Telemetry {
    /// A builder with every setting at its default and the environment not read.
    pub fn builder() -> Self {
        Self::default()
    }

    /// The `service.name` resource attribute. Defaults to `OTEL_SERVICE_NAME`,
    /// else `unknown_service`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Add a resource attribute to every exported span and metric (for
    /// example `openinference.project.name`, which Phoenix uses as the project,
    /// or `deployment.environment`). Wins over the same key in
    /// `OTEL_RESOURCE_ATTRIBUTES`. Defaults to none.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource.push((key.into(), value.into()));
        self
    }

    /// Store spans in the SQLite database at `path` (created with its
    /// directories). Defaults to `TOKENTRACE_STORE`, else `.tokentrace/traces.db`.
    pub fn store(mut self, path: impl AsRef<Path>) -> Self {
        self.store = Some(StoreSetting::Path(path.as_ref().to_owned()));
        self
    }

    /// The most memory the store's SQLite page cache may hold. Defaults to
    /// 64 MiB (allocated as used); see
    /// [`StoreExporterBuilder::page_cache_bytes`](tokentrace_store::StoreExporterBuilder::page_cache_bytes).
    #[cfg(feature = "store")]
    pub fn store_page_cache_bytes(mut self, bytes: u64) -> Self {
        self.store_page_cache = Some(bytes);
        self
    }

    /// Do not store spans locally. Defaults to storing them.
    pub fn no_store(mut self) -> Self {
        self.store = Some(StoreSetting::Off);
        self
    }

    /// Export over OTLP to this base URL: with HTTP/protobuf `/v1/traces` and
    /// `/v1/metrics` are appended; with gRPC (see
    /// [`otlp_protocol`](Self::otlp_protocol)) it is used as given, e.g.
    /// `http://127.0.0.1:4317`. Defaults to `OTEL_EXPORTER_OTLP_ENDPOINT`;
    /// no OTLP export when neither is set.
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(endpoint.into());
        self
    }

    /// Add a header to OTLP requests (an API key, say); with gRPC it is sent
    /// as request metadata. Added to the headers of
    /// `OTEL_EXPORTER_OTLP_HEADERS`, winning over the same name there. Values
    /// are never logged nor shown by `Debug`.
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.otlp_headers.0.push((name.into(), value.into()));
        self
    }

    /// The OTLP transport for traces and metrics: [`OtlpProtocol::HttpProtobuf`]
    /// or, with the `grpc` feature, [`OtlpProtocol::Grpc`]. Wins over
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` and its per-signal variants. Defaults to
    /// those variables, else HTTP/protobuf.
    ///
    /// ```no_run
    /// # #[cfg(feature = "grpc")]
    /// let _telemetry = tokentrace::Telemetry::builder()
    ///     .otlp_endpoint("http://127.0.0.1:4317")
    ///     .otlp_protocol(tokentrace::OtlpProtocol::Grpc)
    ///     .install()?;
    /// # Ok::<(), tokentrace::TelemetryError>(())
    /// ```
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.otlp_protocol = Some(protocol);
        self
    }

    /// Time limit of one OTLP export request. Defaults to 10 seconds.
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.otlp_timeout = Some(timeout);
        self
    }

    /// Merge this price file over the built-in catalogue (see `docs/pricing.md`).
    /// Defaults to `TOKENTRACE_PRICES_FILE`, else none.
    pub fn prices_file(mut self, path: impl AsRef<Path>) -> Self {
        self.prices_file = Some(path.as_ref().to_owned());
        self
    }

    /// Which GenAI convention names spans exported to OTLP and to added
    /// exporters carry (the store keeps tokentrace's own). Defaults to
    /// `OTEL_SEMCONV_STABILITY_OPT_IN` (`gen_ai_latest_experimental`, or
    /// `gen_ai_latest_experimental/dup` for both old and new names), else
    /// [`SemconvMode::Latest`](SemconvMode::Latest). `Legacy` emits the
    /// v1.41.0 names tokentrace used before.
    pub fn semconv(mut self, mode: SemconvMode) -> Self {
        self.semconv = Some(mode);
        self
    }

    /// The local price catalogue written by `tokentrace prices update`,
    /// layered over the built-in prices when the file exists (the price file
    /// then goes on top). Defaults to `TOKENTRACE_PRICES_CATALOGUE`, else
    /// `.tokentrace/prices.json` (next to the default store).
    pub fn prices_catalogue(mut self, path: impl AsRef<Path>) -> Self {
        self.prices_catalogue = Some(path.as_ref().to_owned());
        self
    }

    /// Keep this fraction of new traces (parent-based: a child follows its
    /// parent's decision, including a remote parent's). Defaults to
    /// `OTEL_TRACES_SAMPLER`/`_ARG`, else keeping every trace.
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.sampler = Some(SamplerSetting::ParentBasedRatio(ratio));
        self
    }

    /// Keep spans that end with an error even in sampled-out traces, plus
    /// every span of that trace that ends after the error (its ancestors and
    /// root). Spans of the trace that ended earlier are not recoverable with
    /// head sampling. Costs: sampled-out spans are still recorded in memory
    /// until they end. Defaults to `TOKENTRACE_KEEP_ERRORS`, else `true`.
    pub fn always_keep_errors(mut self, keep: bool) -> Self {
        self.keep_errors = Some(keep);
        self
    }

    /// Record prompt and completion text (bounded, redacted by the
    /// middleware's hook). Defaults to `TOKENTRACE_CAPTURE_CONTENT`, else off.
    pub fn capture_content(mut self, capture: bool) -> Self {
        self.capture_content = Some(capture);
        self
    }

    /// Which `tracing` events become span events (and so reach the store and
    /// OTLP), as `RUST_LOG`-style directives: a default level and
    /// `target=level` pairs separated by commas, e.g. `"info,my_app=debug"`
    /// or `"off"`. Spans are not affected. With content capture off, text
    /// that may hold a prompt or body is still cut from the events of other
    /// crates (see `docs/security.md`). Defaults to `TOKENTRACE_EVENTS`, else
    /// `"warn,tokentrace=trace"`: WARN and above from other crates, all of
    /// tokentrace's own. An invalid value fails
    /// [`install`](Self::install) with [`TelemetryError::InvalidSetting`].
    ///
    /// ```no_run
    /// let _telemetry = tokentrace::Telemetry::builder()
    ///     .events("info,rig=debug")
    ///     .install()?;
    /// # Ok::<(), tokentrace::TelemetryError>(())
    /// ```
    pub fn events(mut self, directives: impl Into<String>) -> Self {
        self.events = Some(directives.into());
        self
    }

    /// Spans each exporter's queue holds before new spans are dropped and
    /// counted in [`TelemetryGuard::dropped_spans`](crate::TelemetryGuard::dropped_spans). Defaults to 2048.
    pub fn queue_size(mut self, spans: usize) -> Self {
        self.queue_size = Some(spans.max(1));
        self
    }

    /// Longest a finished span waits before it is exported. Defaults to 1 second.
    pub fn export_delay(mut self, delay: Duration) -> Self {
        self.export_delay = Some(delay);
        self
    }

    /// How often metrics are exported over OTLP. Defaults to 60 seconds.
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = Some(interval);
        self
    }

    /// Also export spans to `exporter` (any OpenTelemetry span exporter), on
    /// its own queue and worker thread. Defaults to none.
    pub fn span_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.extra.push(Box::new(exporter));
        self
    }

    /// Fill every setting not set explicitly from the environment (the table
    /// above). Read when [`install`](Self::install)/[`build`](Self::build) runs.
    pub fn from_env(mut self) -> Self {
        self.read_env = true;
        self
    }

    #[cfg(test)]
    pub(crate) fn with_env(mut self, env: EnvConfig) -> Self {
        self.env = Some(env);
        self.read_env = true;
        self
    }

    pub(crate) fn resolve(&mut self) -> Result<Resolved, TelemetryError> {
        let env = if self.read_env {
            match self.env.take() {
                Some(env) => env,
                None => EnvConfig::from_process_env()?,
            }
        } else {
            EnvConfig::default()
        };
        let general = env.otlp_protocol.unwrap_or_default();
        let traces_protocol = self
            .otlp_protocol
            .or(env.otlp_traces_protocol)
            .unwrap_or(general);
        let metrics_protocol = self
            .otlp_protocol
            .or(env.otlp_metrics_protocol)
            .unwrap_or(general);
        let traces_endpoint = match (&self.otlp_endpoint, &env.otlp_traces_endpoint) {
            (Some(base), _) => Some(signal_url(base, "traces", traces_protocol)),
            (None, Some(full)) => Some(full.clone()),
            (None, None) => env
                .otlp_endpoint
                .as_deref()
                .map(|b| signal_url(b, "traces", traces_protocol)),
        };
        let metrics_endpoint = self
            .otlp_endpoint
            .as_deref()
            .or(env.otlp_endpoint.as_deref())
            .map(|b| signal_url(b, "metrics", metrics_protocol));
        #[cfg(not(feature = "grpc"))]
        for (signal, endpoint, protocol) in [
            ("traces", &traces_endpoint, traces_protocol),
            ("metrics", &metrics_endpoint, metrics_protocol),
        ] {
            if endpoint.is_some() && protocol == OtlpProtocol::Grpc {
                return Err(TelemetryError::ProtocolUnavailable {
                    protocol,
                    signal,
                    feature: "grpc",
                });
            }
        }
        let mut headers = env.otlp_headers;
        headers.0.append(&mut self.otlp_headers.0);
        let sampler = self
            .sampler
            .or(env.sampler)
            .unwrap_or(SamplerSetting::ParentBasedAlwaysOn);
        if let SamplerSetting::Ratio(r) | SamplerSetting::ParentBasedRatio(r) = sampler
            && !(0.0..=1.0).contains(&r)
        {
            return Err(TelemetryError::InvalidSetting {
                setting: "sample_ratio",
                reason: format!("{r} is not in [0, 1]"),
            });
        }
        let service_name = self
            .service_name
            .take()
            .or(env.service_name)
            .or_else(|| {
                env.resource_attributes
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let events = match (self.events.take(), env.events) {
            (Some(d), _) => parse_events(&d).ok_or_else(|| TelemetryError::InvalidSetting {
                setting: "events",
                reason: format!(
                    "{:?} is not a list of target=level directives",
                    d.chars().take(100).collect::<String>()
                ),
            })?,
            (None, Some(d)) => parse_events(&d).ok_or_else(|| TelemetryError::InvalidEnv {
                var: env::TOKENTRACE_EVENTS,
                value: d.chars().take(100).collect(),
                expected: "target=level directives, e.g. warn,my_app=debug",
            })?,
            (None, None) => parse_events(DEFAULT_EVENTS).unwrap_or_default(),
        };
        let mut resource_attributes = env.resource_attributes;
        for (k, v) in std::mem::take(&mut self.resource) {
            resource_attributes.retain(|(ek, _)| *ek != k);
            resource_attributes.push((k, v));
        }
        Ok(Resolved {
            disabled: env.sdk_disabled,
            service_name,
            resource_attributes,
            store: self
                .store
                .take()
                .or(env.store)
                .unwrap_or_else(|| StoreSetting::Path(PathBuf::from(DEFAULT_STORE_PATH))),
            traces_endpoint,
            metrics_endpoint,
            traces_protocol,
            metrics_protocol,
            headers,
            otlp_timeout: self.otlp_timeout.unwrap_or(DEFAULT_OTLP_TIMEOUT),
            prices_file: self.prices_file.take().or(env.prices_file),
            semconv: self.semconv.or(env.semconv).unwrap_or_default(),
            prices_catalogue: self
                .prices_catalogue
                .take()
                .or(env.prices_catalogue)
                .unwrap_or_else(|| {
                    PathBuf::from(tokentrace_core::price::update::DEFAULT_LOCAL_CATALOGUE)
                }),
            sampler,
            keep_errors: self.keep_errors.or(env.keep_errors).unwrap_or(true),
            capture_content: self
                .capture_content
                .or(env.capture_content)
                .unwrap_or(false),
            events,
            workflows: env.workflows,
            exclude_modules: env.exclude_modules,
            queue: QueueConfig {
                capacity: self.queue_size.unwrap_or(DEFAULT_QUEUE_SIZE),
                max_batch: DEFAULT_MAX_BATCH.min(self.queue_size.unwrap_or(DEFAULT_QUEUE_SIZE)),
                delay: self.export_delay.unwrap_or(DEFAULT_EXPORT_DELAY),
            },
            metrics_interval: self.metrics_interval.unwrap_or(DEFAULT_METRICS_INTERVAL),
            extra: std::mem::take(&mut self.extra),
            #[cfg(feature = "store")]
            store_page_cache: self.store_page_cache,
        })
    }
}

// Without `store`/`otlp` some settings have no consumer.
#[cfg_attr(not(all(feature = "store", feature = "otlp")), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) disabled: bool,
    pub(crate) service_name: String,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) store: StoreSetting,
    pub(crate) traces_endpoint: Option<String>,
    pub(crate) metrics_endpoint: Option<String>,
    // Read only where gRPC is compiled in (HTTP is the only other choice).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) traces_protocol: OtlpProtocol,
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) metrics_protocol: OtlpProtocol,
    pub(crate) headers: OtlpHeaders,
    pub(crate) otlp_timeout: Duration,
    pub(crate) prices_file: Option<PathBuf>,
    pub(crate) prices_catalogue: PathBuf,
    pub(crate) semconv: SemconvMode,
    pub(crate) sampler: SamplerSetting,
    pub(crate) keep_errors: bool,
    pub(crate) capture_content: bool,
    pub(crate) events: Targets,
    pub(crate) workflows: Option<String>,
    pub(crate) exclude_modules: Option<String>,
    pub(crate) queue: QueueConfig,
    pub(crate) metrics_interval: Duration,
    /// Exporters added with [`Telemetry::span_exporter`].
    pub(crate) extra: Vec<Box<dyn BlockingExporter>>,
    #[cfg(feature = "store")]
    pub(crate) store_page_cache: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_win_over_the_environment() {
        let env = EnvConfig {
            service_name: Some("from-env".to_owned()),
            store: Some(StoreSetting::Path("env.db".into())),
            otlp_endpoint: Some("http://env:4318".to_owned()),
            sampler: Some(SamplerSetting::AlwaysOff),
            capture_content: Some(true),
            keep_errors: Some(false),
            ..EnvConfig::default()
        };
        let r = Telemetry::builder()
            .service_name("from-code")
            .no_store()
            .otlp_endpoint("http://code:4318/")
            .sample_ratio(0.5)
            .capture_content(false)
            .with_env(env.clone())
            .resolve()
            .unwrap();
        assert_eq!(r.service_name, "from-code");
        assert_eq!(r.store, StoreSetting::Off);
        assert_eq!(
            r.traces_endpoint.as_deref(),
            Some("http://code:4318/v1/traces")
        );
        assert_eq!(
            r.metrics_endpoint.as_deref(),
            Some("http://code:4318/v1/metrics")
        );
        assert_eq!(r.sampler, SamplerSetting::ParentBasedRatio(0.5));
        assert!(!r.capture_content);
        assert!(!r.keep_errors, "unset in code: the environment applies");

        let r = Telemetry::builder().with_env(env).resolve().unwrap();
        assert_eq!(r.service_name, "from-env");
        assert_eq!(r.store, StoreSetting::Path("env.db".into()));
        assert_eq!(
            r.traces_endpoint.as_deref(),
            Some("http://env:4318/v1/traces")
        );
        assert_eq!(r.sampler, SamplerSetting::AlwaysOff);
    }

    #[test]
    fn defaults_without_environment() {
        let r = Telemetry::builder().resolve().unwrap();
        assert_eq!(r.service_name, DEFAULT_SERVICE_NAME);
        assert_eq!(r.store, StoreSetting::Path(DEFAULT_STORE_PATH.into()));
        assert_eq!(r.traces_endpoint, None);
        assert_eq!(r.sampler, SamplerSetting::ParentBasedAlwaysOn);
        assert!(r.keep_errors);
        assert!(!r.capture_content);
    }

    #[test]
    fn event_directives_come_from_the_setter_then_the_environment_then_the_default() {
        use tracing::Level;
        let r = Telemetry::builder().resolve().unwrap();
        assert!(r.events.would_enable("genai::adapter", &Level::WARN));
        assert!(!r.events.would_enable("rig::completions", &Level::INFO));
        assert!(!r.events.would_enable("my_app", &Level::DEBUG));
        assert!(
            r.events
                .would_enable("tokentrace_reqwest::span", &Level::TRACE)
        );

        let env = EnvConfig {
            events: Some("error,rig=trace".to_owned()),
            ..EnvConfig::default()
        };
        let r = Telemetry::builder()
            .with_env(env.clone())
            .resolve()
            .unwrap();
        assert!(r.events.would_enable("rig::completions", &Level::TRACE));
        assert!(!r.events.would_enable("genai::adapter", &Level::WARN));

        let r = Telemetry::builder()
            .events("off")
            .with_env(env)
            .resolve()
            .unwrap();
        assert!(!r.events.would_enable("rig::completions", &Level::ERROR));

        let bad = EnvConfig {
            events: Some("rig=loud".to_owned()),
            ..EnvConfig::default()
        };
        assert!(matches!(
            Telemetry::builder().with_env(bad).resolve(),
            Err(TelemetryError::InvalidEnv {
                var: env::TOKENTRACE_EVENTS,
                ..
            })
        ));
    }

    #[test]
    fn the_traces_endpoint_variable_is_used_as_is() {
        let env = EnvConfig {
            otlp_traces_endpoint: Some("http://c:4318/custom".to_owned()),
            otlp_endpoint: Some("http://c:4318".to_owned()),
            resource_attributes: vec![("service.name".to_owned(), "attr-svc".to_owned())],
            ..EnvConfig::default()
        };
        let r = Telemetry::builder().with_env(env).resolve().unwrap();
        assert_eq!(r.traces_endpoint.as_deref(), Some("http://c:4318/custom"));
        assert_eq!(
            r.metrics_endpoint.as_deref(),
            Some("http://c:4318/v1/metrics")
        );
        assert_eq!(r.service_name, "attr-svc");
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn the_protocol_comes_from_the_builder_then_the_signal_then_the_general_variable() {
        let env = EnvConfig {
            otlp_endpoint: Some("http://c:4317".to_owned()),
            otlp_protocol: Some(OtlpProtocol::Grpc),
            otlp_metrics_protocol: Some(OtlpProtocol::HttpProtobuf),
            ..EnvConfig::default()
        };
        let r = Telemetry::builder()
            .with_env(env.clone())
            .resolve()
            .unwrap();
        assert_eq!(r.traces_protocol, OtlpProtocol::Grpc);
        assert_eq!(r.traces_endpoint.as_deref(), Some("http://c:4317"));
        assert_eq!(r.metrics_protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            r.metrics_endpoint.as_deref(),
            Some("http://c:4317/v1/metrics")
        );

        let r = Telemetry::builder()
            .otlp_protocol(OtlpProtocol::HttpProtobuf)
            .with_env(env.clone())
            .resolve()
            .unwrap();
        assert_eq!(r.traces_protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            r.traces_endpoint.as_deref(),
            Some("http://c:4317/v1/traces")
        );

        let r = Telemetry::builder()
            .otlp_protocol(OtlpProtocol::Grpc)
            .otlp_endpoint("http://code:4317")
            .with_env(env)
            .resolve()
            .unwrap();
        assert_eq!(r.metrics_protocol, OtlpProtocol::Grpc);
        assert_eq!(r.metrics_endpoint.as_deref(), Some("http://code:4317"));
        assert_eq!(r.traces_endpoint.as_deref(), Some("http://code:4317"));
    }

    /// An unusable header fails set-up, naming the header but never
    /// echoing its value (a credential).
    #[cfg(feature = "grpc")]
    #[test]
    fn an_invalid_grpc_header_is_refused_without_its_value() {
        for (name, value) in [
            ("bad header", "Bearer sk-live-1"),
            ("authorization", "Bearer sk-live-1\n"),
        ] {
            let err = Telemetry::builder()
                .no_store()
                .otlp_endpoint("http://127.0.0.1:4317")
                .otlp_protocol(OtlpProtocol::Grpc)
                .otlp_header(name, value)
                .build()
                .map(|_| ())
                .unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                matches!(
                    err,
                    TelemetryError::InvalidSetting {
                        setting: "otlp_header",
                        ..
                    }
                ),
                "{shown}"
            );
            assert!(shown.contains(name), "{shown}");
            assert!(!shown.contains("sk-live-1"), "{shown}");
        }
    }

    #[test]
    fn protocol_names_follow_the_specification() {
        assert_eq!(OtlpProtocol::default(), OtlpProtocol::HttpProtobuf);
        assert_eq!(OtlpProtocol::HttpProtobuf.to_string(), "http/protobuf");
        assert_eq!(OtlpProtocol::Grpc.as_str(), "grpc");
    }

    /// Without the `grpc` feature, asking for gRPC fails set-up with a typed
    /// error: no panic, no silent HTTP fallback. (`--all-features` runs test
    /// the feature itself; `cargo test -p tokentrace --lib` runs this.)
    #[cfg(not(feature = "grpc"))]
    #[test]
    fn grpc_without_the_feature_is_a_typed_error() {
        let err = Telemetry::builder()
            .no_store()
            .otlp_endpoint("http://127.0.0.1:4317")
            .otlp_protocol(OtlpProtocol::Grpc)
            .build()
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(
                err,
                TelemetryError::ProtocolUnavailable {
                    protocol: OtlpProtocol::Grpc,
                    signal: "traces",
                    feature: "grpc",
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("`grpc` feature"), "{err}");
        // From the environment, for metrics only.
        let env = EnvConfig {
            otlp_endpoint: Some("http://127.0.0.1:4317".to_owned()),
            otlp_metrics_protocol: Some(OtlpProtocol::Grpc),
            ..EnvConfig::default()
        };
        assert!(matches!(
            Telemetry::builder().no_store().with_env(env).build(),
            Err(TelemetryError::ProtocolUnavailable {
                signal: "metrics",
                ..
            })
        ));
        // No endpoint: nothing is exported, so the protocol does not matter.
        assert!(
            Telemetry::builder()
                .no_store()
                .otlp_protocol(OtlpProtocol::Grpc)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn header_values_never_appear_in_the_builder_debug_output() {
        let b = Telemetry::builder().otlp_header("authorization", "Bearer sk-live-123");
        let debug = format!("{b:?}");
        assert!(debug.contains("authorization"), "{debug}");
        assert!(!debug.contains("sk-live-123"), "{debug}");
    }

    #[test]
    fn an_out_of_range_ratio_is_refused() {
        assert!(matches!(
            Telemetry::builder().sample_ratio(2.0).resolve(),
            Err(TelemetryError::InvalidSetting { .. })
        ));
    }

    #[test]
    fn a_disabled_sdk_builds_an_inert_guard() {
        let env = EnvConfig {
            sdk_disabled: true,
            ..EnvConfig::default()
        };
        let (_dispatch, guard) = Telemetry::builder().with_env(env).build().unwrap();
        assert!(!guard.is_enabled());
        assert_eq!(guard.dropped_spans(), 0);
    }
}

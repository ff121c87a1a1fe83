//! Building the OTLP exporters for the protocol of each signal.

use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader};

use crate::pipeline::BlockingExporter;
#[cfg(feature = "grpc")]
use crate::pipeline::{ExportRuntime, OnRuntime};
use crate::telemetry::builder::Resolved;
use crate::telemetry::error::TelemetryError;
#[cfg(feature = "grpc")]
use crate::telemetry::protocol::OtlpProtocol;

#[cfg(not(feature = "grpc"))]
type Runtime = std::convert::Infallible;
#[cfg(feature = "grpc")]
type Runtime = ExportRuntime;

pub(super) fn span_exporter(
    cfg: &Resolved,
    endpoint: &str,
    runtime: Option<&Runtime>,
) -> Result<Box<dyn BlockingExporter>, TelemetryError> {
    #[cfg(feature = "grpc")]
    if cfg.traces_protocol == OtlpProtocol::Grpc
        && let Some(runtime) = runtime
    {
        use opentelemetry_otlp::WithTonicConfig as _;
        // tonic's lazy channel spawns its worker on the runtime entered here.
        let _entered = runtime.handle().enter();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.to_owned())
            .with_timeout(cfg.otlp_timeout)
            .with_metadata(grpc::metadata(&cfg.headers)?)
            .build()?;
        return Ok(Box::new(OnRuntime::new(exporter, runtime)));
    }
    let _ = runtime;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint.to_owned())
        .with_timeout(cfg.otlp_timeout)
        .with_headers(cfg.headers.0.iter().cloned().collect())
        .build()?;
    Ok(Box::new(exporter))
}

pub(super) fn with_metric_reader(
    meter_builder: MeterProviderBuilder,
    cfg: &Resolved,
    endpoint: &str,
    runtime: Option<&Runtime>,
) -> Result<MeterProviderBuilder, TelemetryError> {
    #[cfg(feature = "grpc")]
    if cfg.metrics_protocol == OtlpProtocol::Grpc
        && let Some(runtime) = runtime
    {
        use opentelemetry_otlp::WithTonicConfig as _;
        let _entered = runtime.handle().enter();
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.to_owned())
            .with_timeout(cfg.otlp_timeout)
            .with_metadata(grpc::metadata(&cfg.headers)?)
            .build()?;
        return Ok(meter_builder.with_reader(
            PeriodicReader::builder(OnRuntime::new(exporter, runtime))
                .with_interval(cfg.metrics_interval)
                .build(),
        ));
    }
    let _ = runtime;
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_endpoint(endpoint.to_owned())
        .with_timeout(cfg.otlp_timeout)
        .with_headers(cfg.headers.0.iter().cloned().collect())
        .build()?;
    Ok(meter_builder.with_reader(
        PeriodicReader::builder(exporter)
            .with_interval(cfg.metrics_interval)
            .build(),
    ))
}

#[cfg(feature = "grpc")]
pub(super) mod grpc {
    use opentelemetry_otlp::tonic_types::metadata::MetadataMap;

    use crate::telemetry::env::OtlpHeaders;
    use crate::telemetry::error::TelemetryError;

    /// The OTLP headers as gRPC request metadata; a later header wins
    /// over an earlier one of the same name (builder over environment).
    /// Errors name the header, never its value.
    pub(crate) fn metadata(headers: &OtlpHeaders) -> Result<MetadataMap, TelemetryError> {
        let mut map = http::HeaderMap::new();
        for (name, value) in &headers.0 {
            let key = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                TelemetryError::InvalidSetting {
                    setting: "otlp_header",
                    reason: format!("{name:?} is not a valid gRPC metadata name"),
                }
            })?;
            let mut value =
                http::HeaderValue::from_str(value).map_err(|_| TelemetryError::InvalidSetting {
                    setting: "otlp_header",
                    reason: format!("the value of {name:?} is not valid gRPC metadata"),
                })?;
            value.set_sensitive(true);
            map.insert(key, value);
        }
        Ok(MetadataMap::from_headers(map))
    }
}

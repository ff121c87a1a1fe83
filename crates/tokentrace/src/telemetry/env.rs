//! Every environment variable tokentrace reads, read here and nowhere else.
//!
//! The table in `docs/configuration.md` and in the [`Telemetry`](crate::Telemetry)
//! docs lists the same variables; `env_table_lists_every_variable` keeps them in step.

use std::path::PathBuf;

use tokentrace_core::bound::percent_decode_bytes;

use crate::semconv_mode::SemconvMode;
use crate::telemetry::error::TelemetryError;
use crate::telemetry::protocol::OtlpProtocol;

/// `OTEL_SDK_DISABLED`: `true` disables tracing and metrics set-up entirely.
pub(crate) const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute.
pub(crate) const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,key=value` resource attributes.
pub(crate) const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; `/v1/traces` and `/v1/metrics` are appended.
pub(crate) const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: full traces URL, used as is.
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value,...` headers sent to the collector.
pub(crate) const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` or `grpc`, for traces and metrics.
pub(crate) const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`: the protocol for traces only.
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`: the protocol for metrics only.
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// `OTEL_TRACES_SAMPLER`: sampler name (spec values).
pub(crate) const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// `OTEL_TRACES_SAMPLER_ARG`: the ratio for the ratio samplers.
pub(crate) const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// `TOKENTRACE_STORE`: store path, or `off`.
pub(crate) const TOKENTRACE_STORE: &str = "TOKENTRACE_STORE";
/// `TOKENTRACE_CAPTURE_CONTENT`: `true` records prompt and completion text.
pub(crate) const TOKENTRACE_CAPTURE_CONTENT: &str = "TOKENTRACE_CAPTURE_CONTENT";
/// `TOKENTRACE_PRICES_FILE`: a price file merged over the built-in catalogue.
pub(crate) const TOKENTRACE_PRICES_FILE: &str = "TOKENTRACE_PRICES_FILE";
/// `OTEL_SEMCONV_STABILITY_OPT_IN`: `gen_ai_latest_experimental[/dup]`.
pub(crate) const OTEL_SEMCONV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// `TOKENTRACE_PRICES_CATALOGUE`: the local catalogue `tokentrace prices update` writes.
pub(crate) const TOKENTRACE_PRICES_CATALOGUE: &str = "TOKENTRACE_PRICES_CATALOGUE";
/// `TOKENTRACE_WORKFLOWS`: which workflows record (see `WorkflowFilter`).
pub(crate) const TOKENTRACE_WORKFLOWS: &str = "TOKENTRACE_WORKFLOWS";
/// `TOKENTRACE_EXCLUDE_MODULES`: module paths whose workflows never record.
pub(crate) const TOKENTRACE_EXCLUDE_MODULES: &str = "TOKENTRACE_EXCLUDE_MODULES";
/// `TOKENTRACE_KEEP_ERRORS`: `true` keeps error spans of sampled-out traces.
pub(crate) const TOKENTRACE_KEEP_ERRORS: &str = "TOKENTRACE_KEEP_ERRORS";
/// `TOKENTRACE_EVENTS`: which `tracing` events become span events
/// (`RUST_LOG`-style `target=level` directives).
pub(crate) const TOKENTRACE_EVENTS: &str = "TOKENTRACE_EVENTS";

/// Every variable, in the order of the documentation table.
#[cfg(test)]
pub(crate) const ALL: &[&str] = &[
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    TOKENTRACE_STORE,
    TOKENTRACE_CAPTURE_CONTENT,
    TOKENTRACE_PRICES_FILE,
    TOKENTRACE_PRICES_CATALOGUE,
    OTEL_SEMCONV_STABILITY_OPT_IN,
    TOKENTRACE_WORKFLOWS,
    TOKENTRACE_EXCLUDE_MODULES,
    TOKENTRACE_KEEP_ERRORS,
    TOKENTRACE_EVENTS,
];

/// Where spans are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreSetting {
    Path(PathBuf),
    Off,
}

/// Headers for the collector. Their values are credentials (API keys,
/// bearer tokens), so `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct OtlpHeaders(pub(crate) Vec<(String, String)>);

impl std::fmt::Debug for OtlpHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, "<redacted>")))
            .finish()
    }
}

/// A head sampler named by `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SamplerSetting {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedRatio(f64),
}

/// Settings read from the environment; `None` where a variable is unset.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EnvConfig {
    pub(crate) sdk_disabled: bool,
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_traces_endpoint: Option<String>,
    pub(crate) otlp_headers: OtlpHeaders,
    pub(crate) otlp_protocol: Option<OtlpProtocol>,
    pub(crate) otlp_traces_protocol: Option<OtlpProtocol>,
    pub(crate) otlp_metrics_protocol: Option<OtlpProtocol>,
    pub(crate) sampler: Option<SamplerSetting>,
    pub(crate) store: Option<StoreSetting>,
    pub(crate) capture_content: Option<bool>,
    pub(crate) prices_file: Option<PathBuf>,
    pub(crate) prices_catalogue: Option<PathBuf>,
    pub(crate) semconv: Option<SemconvMode>,
    pub(crate) workflows: Option<String>,
    pub(crate) exclude_modules: Option<String>,
    pub(crate) keep_errors: Option<bool>,
    pub(crate) events: Option<String>,
}

impl EnvConfig {
    /// Reads the process environment.
    pub(crate) fn from_process_env() -> Result<Self, TelemetryError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `get` (tests pass a map).
    pub(crate) fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let flag = |k: &'static str| -> Result<Option<bool>, TelemetryError> {
            get(k).map(|v| parse_bool(k, &v)).transpose()
        };
        let ratio = get(OTEL_TRACES_SAMPLER_ARG)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| {
                        invalid(OTEL_TRACES_SAMPLER_ARG, &v, "expected a number in [0, 1]")
                    })
            })
            .transpose()?
            .unwrap_or(1.0);
        let sampler = get(OTEL_TRACES_SAMPLER)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "always_on" => Ok(SamplerSetting::AlwaysOn),
                "always_off" => Ok(SamplerSetting::AlwaysOff),
                "traceidratio" => Ok(SamplerSetting::Ratio(ratio)),
                "parentbased_always_on" => Ok(SamplerSetting::ParentBasedAlwaysOn),
                "parentbased_always_off" => Ok(SamplerSetting::ParentBasedAlwaysOff),
                "parentbased_traceidratio" => Ok(SamplerSetting::ParentBasedRatio(ratio)),
                _ => Err(invalid(
                    OTEL_TRACES_SAMPLER,
                    &v,
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio",
                )),
            })
            .transpose()?;
        let protocol = |k: &'static str| get(k).map(|v| parse_protocol(k, &v)).transpose();
        let store = get(TOKENTRACE_STORE).map(|v| {
            if matches!(
                v.to_ascii_lowercase().as_str(),
                "off" | "false" | "0" | "none"
            ) {
                StoreSetting::Off
            } else {
                StoreSetting::Path(PathBuf::from(v))
            }
        });
        Ok(Self {
            sdk_disabled: flag(OTEL_SDK_DISABLED)?.unwrap_or(false),
            service_name: get(OTEL_SERVICE_NAME),
            resource_attributes: get(OTEL_RESOURCE_ATTRIBUTES)
                .map(|v| parse_pairs(&v))
                .unwrap_or_default(),
            otlp_endpoint: get(OTEL_EXPORTER_OTLP_ENDPOINT),
            otlp_traces_endpoint: get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
            otlp_headers: OtlpHeaders(
                get(OTEL_EXPORTER_OTLP_HEADERS)
                    .map(|v| parse_pairs(&v))
                    .unwrap_or_default(),
            ),
            otlp_protocol: protocol(OTEL_EXPORTER_OTLP_PROTOCOL)?,
            otlp_traces_protocol: protocol(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)?,
            otlp_metrics_protocol: protocol(OTEL_EXPORTER_OTLP_METRICS_PROTOCOL)?,
            sampler,
            store,
            capture_content: flag(TOKENTRACE_CAPTURE_CONTENT)?,
            prices_file: get(TOKENTRACE_PRICES_FILE).map(PathBuf::from),
            prices_catalogue: get(TOKENTRACE_PRICES_CATALOGUE).map(PathBuf::from),
            semconv: get(OTEL_SEMCONV_STABILITY_OPT_IN).and_then(|v| SemconvMode::from_opt_in(&v)),
            workflows: get(TOKENTRACE_WORKFLOWS),
            exclude_modules: get(TOKENTRACE_EXCLUDE_MODULES),
            keep_errors: flag(TOKENTRACE_KEEP_ERRORS)?,
            events: get(TOKENTRACE_EVENTS),
        })
    }
}

fn invalid(var: &'static str, value: &str, expected: &'static str) -> TelemetryError {
    TelemetryError::InvalidEnv {
        var,
        value: value.chars().take(100).collect(),
        expected,
    }
}

/// The spec's protocol names. `http/json` is refused rather than silently
/// sent as protobuf: a collector expecting JSON would reject every request.
fn parse_protocol(var: &'static str, v: &str) -> Result<OtlpProtocol, TelemetryError> {
    match v.to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/json" => Err(invalid(
            var,
            v,
            "http/json is not supported; use http/protobuf or grpc",
        )),
        _ => Err(invalid(var, v, "expected http/protobuf or grpc")),
    }
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, TelemetryError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(var, v, "expected true or false")),
    }
}

/// Parses the W3C-baggage-like `key=value,key2=value2` lists of
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`, percent-decoding
/// values as the OTel spec asks. Malformed entries are skipped, as the spec allows.
pub(crate) fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| {
                let v = percent_decode_bytes(v.trim(), false);
                (k.to_owned(), String::from_utf8_lossy(&v).into_owned())
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<EnvConfig, TelemetryError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EnvConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn an_empty_environment_sets_nothing() {
        assert_eq!(env(&[]).unwrap(), EnvConfig::default());
    }

    #[test]
    fn every_variable_is_read() {
        let c = env(&[
            (OTEL_SDK_DISABLED, "true"),
            (OTEL_SERVICE_NAME, "bot"),
            (
                OTEL_RESOURCE_ATTRIBUTES,
                "deployment.environment=prod, team=a%2Cb,broken",
            ),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                "http://collector:4318/custom",
            ),
            (
                OTEL_EXPORTER_OTLP_HEADERS,
                "authorization=Bearer%20x,x-team=llm",
            ),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
            (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "HTTP/protobuf"),
            (OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, "grpc"),
            (OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
            (OTEL_TRACES_SAMPLER_ARG, "0.25"),
            (TOKENTRACE_STORE, "/tmp/t.db"),
            (TOKENTRACE_CAPTURE_CONTENT, "1"),
            (TOKENTRACE_PRICES_FILE, "prices.toml"),
            (TOKENTRACE_PRICES_CATALOGUE, "/tmp/p.json"),
            (
                OTEL_SEMCONV_STABILITY_OPT_IN,
                "http, gen_ai_latest_experimental/dup",
            ),
            (TOKENTRACE_WORKFLOWS, "answer,retrieve"),
            (TOKENTRACE_EXCLUDE_MODULES, "my_app::health"),
            (TOKENTRACE_KEEP_ERRORS, "false"),
            (TOKENTRACE_EVENTS, "warn,my_app=debug"),
        ])
        .unwrap();
        assert!(c.sdk_disabled);
        assert_eq!(c.service_name.as_deref(), Some("bot"));
        assert_eq!(
            c.resource_attributes,
            [
                ("deployment.environment".to_owned(), "prod".to_owned()),
                ("team".to_owned(), "a,b".to_owned())
            ]
        );
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://collector:4318"));
        assert_eq!(
            c.otlp_traces_endpoint.as_deref(),
            Some("http://collector:4318/custom")
        );
        assert_eq!(
            c.otlp_headers.0[0],
            ("authorization".to_owned(), "Bearer x".to_owned())
        );
        assert_eq!(c.otlp_protocol, Some(OtlpProtocol::Grpc));
        assert_eq!(c.otlp_traces_protocol, Some(OtlpProtocol::HttpProtobuf));
        assert_eq!(c.otlp_metrics_protocol, Some(OtlpProtocol::Grpc));
        assert_eq!(c.sampler, Some(SamplerSetting::ParentBasedRatio(0.25)));
        assert_eq!(c.store, Some(StoreSetting::Path("/tmp/t.db".into())));
        assert_eq!(c.capture_content, Some(true));
        assert_eq!(c.prices_file, Some("prices.toml".into()));
        assert_eq!(c.prices_catalogue, Some("/tmp/p.json".into()));
        assert_eq!(c.semconv, Some(SemconvMode::Duplicate));
        assert_eq!(c.workflows.as_deref(), Some("answer,retrieve"));
        assert_eq!(c.exclude_modules.as_deref(), Some("my_app::health"));
        assert_eq!(c.keep_errors, Some(false));
        assert_eq!(c.events.as_deref(), Some("warn,my_app=debug"));
    }

    #[test]
    fn store_off_and_bad_values() {
        assert_eq!(
            env(&[(TOKENTRACE_STORE, "off")]).unwrap().store,
            Some(StoreSetting::Off)
        );
        assert!(env(&[(OTEL_TRACES_SAMPLER, "sometimes")]).is_err());
        assert!(env(&[(OTEL_TRACES_SAMPLER_ARG, "1.5")]).is_err());
        assert!(env(&[(TOKENTRACE_CAPTURE_CONTENT, "maybe")]).is_err());
        assert_eq!(
            env(&[(OTEL_TRACES_SAMPLER, "traceidratio")])
                .unwrap()
                .sampler,
            Some(SamplerSetting::Ratio(1.0))
        );
    }

    #[test]
    fn protocols_other_than_protobuf_and_grpc_are_refused() {
        let err = env(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "http/json")]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(OTEL_EXPORTER_OTLP_PROTOCOL) && msg.contains("http/json is not supported"),
            "{msg}"
        );
        assert!(matches!(
            env(&[(OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, "thrift")]),
            Err(TelemetryError::InvalidEnv {
                var: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
                ..
            })
        ));
    }

    #[test]
    fn header_values_never_appear_in_debug_output() {
        let c = env(&[(
            OTEL_EXPORTER_OTLP_HEADERS,
            "authorization=Bearer%20sk-secret-1,x-team=llm",
        )])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(
            debug.contains("authorization") && debug.contains("x-team"),
            "{debug}"
        );
        assert!(
            !debug.contains("sk-secret-1") && !debug.contains("llm\""),
            "{debug}"
        );
    }

    #[test]
    fn env_table_lists_every_variable() {
        let doc = include_str!("../../../../docs/configuration.md");
        for var in ALL {
            assert!(
                doc.contains(&format!("`{var}`")),
                "{var} missing from docs/configuration.md"
            );
        }
        let builder_doc = include_str!("builder.rs");
        for var in ALL {
            assert!(
                builder_doc.contains(&format!("`{var}`")),
                "{var} missing from the Telemetry docs"
            );
        }
    }
}

//! The OTLP transport of each signal and the URL it is sent to.

/// The OTLP transport, for [`Telemetry::otlp_protocol`](crate::Telemetry::otlp_protocol) and the
/// `OTEL_EXPORTER_OTLP_PROTOCOL` family of variables.
///
/// `http/json` (the third protocol of the OTLP specification) is not
/// supported: asking for it in the environment is an error, not a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `http/protobuf`: protobuf bodies POSTed to `{endpoint}/v1/traces` and
    /// `{endpoint}/v1/metrics` (collector port 4318 by convention). The default.
    #[default]
    HttpProtobuf,
    /// `grpc`: the OTLP gRPC services at the endpoint as given (collector
    /// port 4317 by convention). Needs tokentrace's `grpc` feature; without it
    /// set-up fails with [`TelemetryError::ProtocolUnavailable`](crate::TelemetryError::ProtocolUnavailable).
    Grpc,
}

impl OtlpProtocol {
    /// The name the OTLP specification (and `OTEL_EXPORTER_OTLP_PROTOCOL`)
    /// uses: `http/protobuf` or `grpc`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HttpProtobuf => "http/protobuf",
            Self::Grpc => "grpc",
        }
    }
}

impl std::fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The URL of one signal: HTTP/protobuf appends `/v1/{signal}` to the base;
/// gRPC names its service in the request path, so the endpoint is used as given.
pub(crate) fn signal_url(base: &str, signal: &str, protocol: OtlpProtocol) -> String {
    match protocol {
        OtlpProtocol::Grpc => base.to_owned(),
        _ => format!("{}/v1/{signal}", base.trim_end_matches('/')),
    }
}

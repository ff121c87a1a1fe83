//! What can make set-up fail.

use tokentrace_core::price::PriceError;

use crate::telemetry::protocol::OtlpProtocol;

/// Set-up failed; nothing was installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// An environment variable had a value tokentrace cannot use.
    #[error("{var}={value:?} is invalid: {expected}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value (first 100 characters).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A builder setting was invalid.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The setter.
        setting: &'static str,
        /// Why.
        reason: String,
    },
    /// The SQLite store could not be opened.
    #[cfg(feature = "store")]
    #[error("cannot open the trace store")]
    Store(#[from] tokentrace_store::StoreError),
    /// The OTLP exporter could not be built.
    #[cfg(feature = "otlp")]
    #[error("cannot build the OTLP exporter")]
    Otlp(#[from] opentelemetry_otlp::ExporterBuildError),
    /// An OTLP protocol was asked for whose support is not compiled in
    /// (gRPC without tokentrace's `grpc` feature). Nothing falls back silently.
    #[error(
        "OTLP protocol {protocol} for {signal} needs tokentrace's `{feature}` feature, which this build lacks"
    )]
    ProtocolUnavailable {
        /// The protocol asked for.
        protocol: OtlpProtocol,
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// The thread that runs the OTLP/gRPC exporters could not be started.
    #[cfg(feature = "grpc")]
    #[error("cannot start the OTLP/gRPC export thread")]
    ExportThread(#[source] std::io::Error),
    /// The price file could not be read.
    #[error("cannot load the price file")]
    Prices(#[from] PriceError),
    /// The layers were composed wrongly (a bug in tokentrace).
    #[error("subscriber layers are misordered")]
    LayerOrder(#[from] tokentrace_subscriber::LayerOrderError),
    /// A global subscriber was already installed.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[source] tracing::subscriber::SetGlobalDefaultError),
}

//! One-call set-up: [`init`] and the [`Telemetry`] builder.
//!
//! | file | concern |
//! |---|---|
//! | `builder.rs` | the [`Telemetry`] setters and how each setting resolves |
//! | `env.rs` | every environment variable tokentrace reads |
//! | `install.rs` | assembling the pipeline (`build`) and the process-wide globals (`install`, [`init`]) |
//! | `otlp.rs` | the OTLP span and metric exporters, HTTP/protobuf or gRPC |
//! | `filter.rs` | the targets and event directives that reach the subscriber |
//! | `protocol.rs` | [`OtlpProtocol`] and the URL of each signal |
//! | `error.rs` | [`TelemetryError`] |
//! | `guard.rs` | [`TelemetryGuard`]: flush, dropped-span count, shutdown on drop |

mod builder;
mod env;
mod error;
mod filter;
mod guard;
mod install;
#[cfg(feature = "otlp")]
mod otlp;
mod protocol;

pub use builder::{DEFAULT_STORE_PATH, Telemetry};
pub use error::TelemetryError;
pub use guard::TelemetryGuard;
pub use install::{capture_content_enabled, init, prices};
pub use protocol::OtlpProtocol;

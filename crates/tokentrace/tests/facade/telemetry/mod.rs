//! `Telemetry` set-up: the store round trip, OTLP on the wire against an
//! in-test receiver, collector faults, error-keeping sampling, and `init()`
//! itself in a child process.

mod events;
mod foreign;
#[cfg(feature = "store")]
mod genai;
mod install;
mod otlp;
mod receiver;
#[cfg(all(feature = "reqwest", feature = "store"))]
mod rig;
mod sampling;
mod semconv;
mod store;

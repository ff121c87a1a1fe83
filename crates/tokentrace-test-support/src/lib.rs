//! Test support shared by the workspace's test binaries (dev-only, never
//! published): one way to capture spans, read their attributes and start a
//! throw-away `redis-server`.
//!
//! * [`Capture`]: an in-memory OpenTelemetry exporter behind a `tracing`
//!   subscriber (registry, an optional layer such as `EnrichLayer`, the
//!   OpenTelemetry layer); spans are exported as they end.
//! * [`attr`], [`attr_str`], [`attr_i64`], ...: attribute lookup on an
//!   exported span, and [`assert_unique_keys`] / [`duplicate_keys`]: OTLP
//!   requires an attribute key to be unique within a span, so every span
//!   read through [`Capture`] is checked.
//! * [`span_data`]: a finished span built by hand, to export directly.
//! * [`redis_server`]: a `redis-server` child on a free loopback port,
//!   killed by pid on drop (`scripts/setup-redis` installs it).
//! * [`seed`] (feature `store`): a trace store seeded through the store's
//!   own exporter, for the CLI and dashboard tests.
//!
//! The helpers are generic over OpenTelemetry's `SpanData`: nothing here
//! needs the crate under test, so a crate can use them in its own tests
//! without a second copy of its types.

mod attrs;
mod capture;
mod redis;
#[cfg(feature = "store")]
pub mod seed;
mod span;

pub use attrs::{
    assert_unique_keys, attr, attr_bool, attr_f64, attr_i64, attr_str, attrs, duplicate_keys,
    values,
};
pub use capture::{Capture, install_trace_context_propagator};
pub use redis::{RedisServer, redis_server};
pub use span::span_data;

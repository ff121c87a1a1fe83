//! EnrichLayer end to end: tracing spans in, OpenTelemetry spans out of an
//! in-memory exporter, asserted attribute by attribute.

mod concurrency;
mod foreign;
mod guards;
mod metrics;
mod rollups;
mod setup;
mod support;

//! Integration tests of the SQLite store: queries over seeded data, the
//! exporter's fault handling, a SIGKILL mid-write, and a round trip from real
//! `tracing` spans.

mod aggregates;
mod analytics;
mod double_count;
mod faults;
mod kill;
mod metrics;
mod queries;
mod queue;
mod roundtrip;
mod support;

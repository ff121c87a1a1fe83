//! Span fixtures and helpers shared by the test modules.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokentrace_store::StoreExporter;
use tokentrace_test_support::span_data;

/// Base time of seeded data: 2025-01-01T00:00:00Z.
pub(crate) const T0_NS: u64 = 1_735_689_600_000_000_000;

pub(crate) fn trace_hex(n: u128) -> String {
    format!("{n:032x}")
}

/// A span of trace `t`, id `s`, with `parent` (0 = root), starting `start_ms`
/// after [`T0_NS`] and lasting `dur_ms`.
pub(crate) struct S {
    pub(crate) data: SpanData,
}

impl S {
    pub(crate) fn new(
        t: u128,
        s: u64,
        parent: u64,
        name: &str,
        start_ms: u64,
        dur_ms: u64,
    ) -> Self {
        let start = UNIX_EPOCH + Duration::from_nanos(T0_NS + start_ms * 1_000_000);
        let end = start + Duration::from_millis(dur_ms);
        Self {
            data: span_data(t, s, parent, name.to_owned(), (start, end), "test"),
        }
    }

    pub(crate) fn attr(mut self, kv: KeyValue) -> Self {
        self.data.attributes.push(kv);
        self
    }

    pub(crate) fn error(mut self, msg: &'static str) -> Self {
        self.data.status = Status::error(msg);
        self
    }

    pub(crate) fn build(self) -> SpanData {
        self.data
    }
}

/// Exports `batch` and waits for the writer to commit it.
pub(crate) fn export(exporter: &StoreExporter, batch: Vec<SpanData>) {
    let _ = futures_block_on(exporter.export(batch));
    exporter
        .flush_with_timeout(Duration::from_secs(10))
        .unwrap();
}

/// Polls a future that is ready at once (the store exporter's `export` is).
pub(crate) fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("store export is expected to complete at once"),
    }
}

pub(crate) fn tempdb() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    (dir, path)
}

pub(crate) fn sqlite(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

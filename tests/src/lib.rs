//! End-to-end test support for the `e2e` test binary: span sinks that keep
//! only what the assertions need, a tokio runtime whose every thread uses one
//! `tracing` dispatcher, an OTLP/HTTP receiver that keeps raw request bodies,
//! resident-memory sampling, and a lock that serialises memory-sensitive tests
//! when they share a process (`cargo test`; nextest runs one per process).
//!
//! It also compiles the guides under `docs/` as doctests (module `guides`, under
//! `cfg(doctest)`).

#[cfg(doctest)]
pub mod guides;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;

/// The attribute that tells workflow, LLM and vector spans apart
/// (`tokentrace.span.type`; duplicated here so this crate needs no core dep).
const SPAN_TYPE: &str = "tokentrace.span.type";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A failed assertion on another thread must not hide this test's result.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serialises the tests that measure memory or time: under `cargo test`
/// they share one process and would disturb each other's figures.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    lock(&LOCK)
}

/// Resident set size of this process, in bytes (`VmRSS` of
/// `/proc/self/status`); `None` where procfs is missing.
#[must_use]
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes as MiB, for reports.
#[must_use]
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One exported span, reduced to what the end-to-end assertions read.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// The span name.
    pub name: String,
    /// Its trace.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent's id ([`SpanId::INVALID`] for a root).
    pub parent_span_id: SpanId,
    /// Whether it ended with error status.
    pub error: bool,
    /// Every attribute.
    pub attributes: Vec<KeyValue>,
}

impl SpanRecord {
    fn from_data(span: &SpanData) -> Self {
        Self {
            name: span.name.to_string(),
            trace_id: span.span_context.trace_id(),
            span_id: span.span_context.span_id(),
            parent_span_id: span.parent_span_id,
            error: matches!(span.status, opentelemetry::trace::Status::Error { .. }),
            attributes: span.attributes.clone(),
        }
    }

    /// The attribute `key`, if present.
    #[must_use]
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// The attribute `key` as a string (any value type, formatted).
    #[must_use]
    pub fn attr_str(&self, key: &str) -> Option<String> {
        self.attr(key).map(|v| v.as_str().into_owned())
    }

    /// Every string the span carries: its name and each attribute value
    /// (arrays flattened), for scanning.
    #[must_use]
    pub fn strings(&self) -> Vec<String> {
        let mut out = vec![self.name.clone()];
        for kv in &self.attributes {
            match &kv.value {
                Value::Array(opentelemetry::Array::String(items)) => {
                    out.extend(items.iter().map(|s| s.as_str().to_owned()));
                }
                other => out.push(other.as_str().into_owned()),
            }
        }
        out
    }
}

#[derive(Debug, Default)]
struct SinkInner {
    keep: bool,
    spans: Mutex<Vec<SpanRecord>>,
    total: AtomicU64,
    by_type: Mutex<HashMap<String, u64>>,
    /// Spans exported with an attribute key twice (OTLP forbids it).
    duplicates: Mutex<Vec<String>>,
}

/// A span exporter for [`Telemetry::span_exporter`]-style wiring that counts
/// every span by `tokentrace.span.type` and, when built with
/// [`collecting`](Self::collecting), keeps a [`SpanRecord`] of each.
///
/// Clones share their state, so keep one to read after the pipeline flushed.
///
/// [`Telemetry::span_exporter`]: https://docs.rs/tokentrace
#[derive(Debug, Clone, Default)]
pub struct SpanSink {
    inner: Arc<SinkInner>,
}

impl SpanSink {
    /// Counts spans and keeps a record of each.
    #[must_use]
    pub fn collecting() -> Self {
        Self {
            inner: Arc::new(SinkInner {
                keep: true,
                ..SinkInner::default()
            }),
        }
    }

    /// Counts spans only: memory stays flat however long it runs.
    #[must_use]
    pub fn counting() -> Self {
        Self::default()
    }

    /// Spans exported so far.
    ///
    /// Every reader panics if a span was exported with an attribute key twice.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.assert_unique_keys();
        self.inner.total.load(Ordering::Relaxed)
    }

    /// Spans exported so far whose `tokentrace.span.type` is `span_type`
    /// (`"workflow"`, `"llm"`, `"vector"`; `""` for spans without one).
    #[must_use]
    pub fn count(&self, span_type: &str) -> u64 {
        self.assert_unique_keys();
        lock(&self.inner.by_type)
            .get(span_type)
            .copied()
            .unwrap_or(0)
    }

    /// The records kept so far (empty for a counting sink).
    #[must_use]
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.assert_unique_keys();
        lock(&self.inner.spans).clone()
    }
}

impl SpanSink {
    fn assert_unique_keys(&self) {
        let dups = lock(&self.inner.duplicates);
        assert!(dups.is_empty(), "spans exported a key twice: {dups:?}");
    }
}

pub use tokentrace_test_support::duplicate_keys;

impl SpanExporter for SpanSink {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let mut by_type = lock(&self.inner.by_type);
        for span in &batch {
            let dups = duplicate_keys(span);
            if !dups.is_empty() {
                lock(&self.inner.duplicates).push(format!("{}: {dups:?}", span.name));
            }
            let ty = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == SPAN_TYPE)
                .map(|kv| kv.value.as_str().into_owned())
                .unwrap_or_default();
            *by_type.entry(ty).or_default() += 1;
        }
        drop(by_type);
        self.inner
            .total
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        if self.inner.keep {
            lock(&self.inner.spans).extend(batch.iter().map(SpanRecord::from_data));
        }
        std::future::ready(Ok(()))
    }
}

thread_local! {
    static THREAD_DEFAULT: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// A multi-threaded tokio runtime with `workers` worker threads on which
/// every thread (workers and blocking pool) has `dispatch` as its default
/// `tracing` dispatcher, so no global subscriber is needed. The thread that
/// calls `block_on` must set it itself (`tracing::dispatcher::with_default`).
///
/// # Errors
///
/// The runtime could not be built (threads could not be spawned).
pub fn runtime_with(
    dispatch: &Dispatch,
    workers: usize,
) -> std::io::Result<tokio::runtime::Runtime> {
    let dispatch = dispatch.clone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&dispatch);
            THREAD_DEFAULT.with(|d| *d.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| THREAD_DEFAULT.with(|d| drop(d.borrow_mut().take())))
        .build()
}

/// How an [`OtlpReceiver`] answers export requests.
#[derive(Debug, Default, Clone)]
struct ReceiverState {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// An OTLP/HTTP receiver on `127.0.0.1` (its own runtime) that answers 200 to
/// every POST and keeps each request body exactly as sent, gunzipped when the
/// request says `content-encoding: gzip`.
#[derive(Debug)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    state: ReceiverState,
    runtime: Option<tokio::runtime::Runtime>,
}

impl OtlpReceiver {
    /// Binds an ephemeral port and serves in the background.
    ///
    /// # Errors
    ///
    /// The runtime or the listener could not be created.
    pub fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let state = ReceiverState::default();
        let bodies = Arc::clone(&state.bodies);
        let handler = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let bodies = Arc::clone(&bodies);
            async move {
                let gzip = headers
                    .get("content-encoding")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
                let raw = if gzip {
                    let mut out = Vec::new();
                    match flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out) {
                        Ok(_) => out,
                        Err(_) => return axum::http::StatusCode::BAD_REQUEST,
                    }
                } else {
                    body.to_vec()
                };
                lock(&bodies).push(raw);
                axum::http::StatusCode::OK
            }
        };
        let app = axum::Router::new().fallback(axum::routing::post(handler));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            addr,
            state,
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:{port}`, the base URL to give an OTLP exporter.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request body received so far (decompressed).
    #[must_use]
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        lock(&self.state.bodies).clone()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// Whether `needle` occurs anywhere in `haystack` (bytes, not text: exported
/// payloads are protobuf and SQLite pages).
#[must_use]
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Resident memory over a run: the first, largest and last samples.
#[derive(Debug, Clone, Default)]
pub struct RssStats {
    /// The first sample, in bytes.
    pub start: u64,
    /// The largest sample, in bytes.
    pub peak: u64,
    /// The last sample, in bytes.
    pub end: u64,
    /// Every sample, with the time since the sampler started.
    pub samples: Vec<(Duration, u64)>,
}

impl RssStats {
    /// The largest sample taken at or after `from` (the end of a warm-up).
    #[must_use]
    pub fn peak_after(&self, from: Duration) -> u64 {
        self.samples
            .iter()
            .filter(|(t, _)| *t >= from)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(self.end)
    }

    /// The first sample taken at or after `from`.
    #[must_use]
    pub fn at(&self, from: Duration) -> u64 {
        self.samples
            .iter()
            .find(|(t, _)| *t >= from)
            .map_or(self.end, |(_, v)| *v)
    }
}

/// Samples [`rss_bytes`] on its own thread until [`stop`](Self::stop)ped.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<RssStats>>,
}

impl RssSampler {
    /// Starts sampling every `every`.
    #[must_use]
    pub fn start(every: Duration) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("rss-sampler".to_owned())
            .spawn(move || {
                let t0 = std::time::Instant::now();
                let mut stats = RssStats::default();
                loop {
                    let v = rss_bytes().unwrap_or(0);
                    if stats.samples.is_empty() {
                        stats.start = v;
                    }
                    stats.peak = stats.peak.max(v);
                    stats.end = v;
                    stats.samples.push((t0.elapsed(), v));
                    if flag.load(Ordering::Relaxed) {
                        return stats;
                    }
                    std::thread::sleep(every);
                }
            })
            .ok();
        Self { stop, thread }
    }

    /// Takes a last sample and returns them all.
    #[must_use]
    pub fn stop(mut self) -> RssStats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    /// Every guide under `docs/` with a Rust code block is compiled as a
    /// doctest: here (`guides.rs`) or next to the API it documents.
    #[test]
    fn every_guide_with_rust_code_is_a_doctest() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let included = [
            include_str!("guides.rs"),
            include_str!("../../crates/tokentrace-subscriber/src/lib.rs"),
        ]
        .concat();
        let mut checked = 0;
        for entry in std::fs::read_dir(root.join("docs")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.lines().any(|l| l.starts_with("```rust")) {
                continue;
            }
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                included.contains(&format!("include_str!(\"../../docs/{name}\")"))
                    || included.contains(&format!("include_str!(\"../../../docs/{name}\")")),
                "docs/{name} has Rust code but is not compiled as a doctest: add it to tests/src/guides.rs"
            );
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} guides with Rust code found");
    }
}

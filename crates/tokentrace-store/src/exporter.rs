//! The OpenTelemetry [`SpanExporter`] that writes spans to the store.
//!
//! `export` only hands the batch to a bounded channel (`try_send`): it never
//! blocks the span processor. A dedicated writer thread owns the SQLite
//! connection and writes each batch in one transaction, so a process killed
//! mid-write leaves every committed batch and nothing half-written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::{Map, Value as Json};
use tokentrace_core::semconv;

use crate::error::StoreError;
use crate::model::{ExportStats, Retention};
use crate::query;
use crate::schema;

/// Default number of batches the writer queue holds.
const DEFAULT_QUEUE_BATCHES: usize = 64;
/// Default time the writer waits for a lock held by another connection.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Default interval between retention passes.
const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(60);
/// How long `force_flush` waits for the writer by default.
const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Builder for [`StoreExporter`]; see [`StoreExporter::builder`].
#[derive(Debug)]
#[must_use]
pub struct StoreExporterBuilder {
    path: PathBuf,
    queue_batches: usize,
    busy_timeout: Duration,
    retention: Retention,
    retention_interval: Duration,
    max_size_bytes: Option<u64>,
    upstream_dropped: Option<Arc<AtomicU64>>,
}

impl StoreExporterBuilder {
    /// How many batches may wait for the writer before new ones are dropped
    /// (and counted). Defaults to 64.
    pub fn queue_capacity(mut self, batches: usize) -> Self {
        self.queue_batches = batches.max(1);
        self
    }

    /// How long the writer waits for a lock held by another connection before
    /// dropping the batch. Defaults to 2 seconds.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Retention applied by the writer in the background. Defaults to keeping everything.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How often retention runs. Defaults to 60 seconds.
    pub fn retention_interval(mut self, interval: Duration) -> Self {
        self.retention_interval = interval;
        self
    }

    /// A hard ceiling on the database file size: batches that would grow it
    /// beyond this are dropped and counted as failed (SQLite `max_page_count`).
    /// Defaults to no ceiling.
    pub fn max_size_bytes(mut self, bytes: u64) -> Self {
        self.max_size_bytes = Some(bytes);
        self
    }

    /// A counter of spans dropped before they reached this exporter (for
    /// example a span processor's full queue); its value is persisted with the
    /// store's counters so the dashboard can show it. Defaults to none.
    pub fn upstream_dropped(mut self, counter: Arc<AtomicU64>) -> Self {
        self.upstream_dropped = Some(counter);
        self
    }

    /// Opens (creating and migrating) the database and starts the writer thread.
    ///
    /// # Errors
    ///
    /// When the file cannot be created or opened, or its schema is newer than this build's.
    pub fn build(self) -> Result<StoreExporter, StoreError> {
        let conn = schema::open(&self.path, self.busy_timeout)?;
        if let Some(bytes) = self.max_size_bytes {
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (bytes / page_size.max(1) as u64).max(1);
            conn.pragma_update(None, "max_page_count", pages as i64)?;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(self.queue_batches);
        let shared = Arc::new(Shared::default());
        let writer = Writer {
            conn,
            rx,
            shared: Arc::clone(&shared),
            retention: self.retention,
            retention_interval: self.retention_interval,
            upstream: self.upstream_dropped,
            persisted: ExportStats::default(),
        };
        let thread = std::thread::Builder::new()
            .name("tokentrace-store".to_owned())
            .spawn(move || writer.run())
            .map_err(|e| {
                StoreError::with_source(
                    crate::StoreErrorKind::Io,
                    "cannot start the store writer thread",
                    e,
                )
            })?;
        Ok(StoreExporter {
            shared,
            sender: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            resource: Arc::new(ResourceInfo::from_resource(
                &Resource::builder_empty().build(),
            )),
            path: self.path,
        })
    }
}

/// An OpenTelemetry [`SpanExporter`] writing to a SQLite store.
///
/// ```no_run
/// use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
/// use tokentrace_store::StoreExporter;
///
/// let exporter = StoreExporter::new(".tokentrace/traces.db")?;
/// let stats = exporter.stats_handle();
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(BatchSpanProcessor::builder(exporter).build())
///     .build();
/// // ... use the provider ...
/// provider.shutdown()?;
/// assert_eq!(stats.get().dropped_spans, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StoreExporter {
    shared: Arc<Shared>,
    sender: Mutex<Option<SyncSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    resource: Arc<ResourceInfo>,
    path: PathBuf,
}

impl StoreExporter {
    /// An exporter for the database at `path` with default settings.
    ///
    /// # Errors
    ///
    /// See [`StoreExporterBuilder::build`].
    pub fn new(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder(path).build()
    }

    /// A builder for an exporter writing to the database at `path`.
    pub fn builder(path: impl AsRef<Path>) -> StoreExporterBuilder {
        StoreExporterBuilder {
            path: path.as_ref().to_owned(),
            queue_batches: DEFAULT_QUEUE_BATCHES,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            retention: Retention::default(),
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            max_size_bytes: None,
            upstream_dropped: None,
        }
    }

    /// The database path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This exporter's counters (written, dropped, failed spans) so far.
    #[must_use]
    pub fn stats(&self) -> ExportStats {
        self.shared.counters.snapshot()
    }

    /// A cloneable handle to the counters that outlives moving the exporter
    /// into a span processor.
    #[must_use]
    pub fn stats_handle(&self) -> StoreStatsHandle {
        StoreStatsHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Waits until every batch handed over so far is written (or failed), at
    /// most `timeout`.
    ///
    /// # Errors
    ///
    /// [`OTelSdkError::Timeout`] when the writer did not catch up in time.
    pub fn flush_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shared.wait_drained(timeout)
    }

    fn enqueue(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let sender = lock(&self.sender);
        let Some(sender) = sender.as_ref() else {
            return Err(OTelSdkError::AlreadyShutdown);
        };
        let n = batch.len() as u64;
        let mut progress = lock(&self.shared.progress);
        let seq = progress.enqueued + 1;
        let job = Job {
            seq,
            resource: Arc::clone(&self.resource),
            spans: batch,
        };
        match sender.try_send(job) {
            Ok(()) => {
                progress.enqueued = seq;
                Ok(())
            }
            // Dropping rather than blocking: the caller is the span pipeline
            // and a slow disk must never back up into the application.
            Err(TrySendError::Full(_)) => {
                self.shared
                    .counters
                    .dropped_spans
                    .fetch_add(n, Ordering::Relaxed);
                Err(OTelSdkError::InternalFailure(
                    "tokentrace store queue full: batch dropped".to_owned(),
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared
                    .counters
                    .dropped_spans
                    .fetch_add(n, Ordering::Relaxed);
                Err(OTelSdkError::AlreadyShutdown)
            }
        }
    }
}

impl SpanExporter for StoreExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        std::future::ready(self.enqueue(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        // Dropping the sender lets the writer drain what is queued and exit.
        let had_sender = lock(&self.sender).take().is_some();
        if !had_sender {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let result = self.shared.wait_finished(timeout);
        if result.is_ok()
            && let Some(handle) = lock(&self.thread).take()
        {
            let _ = handle.join();
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.shared.wait_drained(DEFAULT_FLUSH_TIMEOUT)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Arc::new(ResourceInfo::from_resource(resource));
    }
}

impl Drop for StoreExporter {
    fn drop(&mut self) {
        if lock(&self.sender).take().is_some() {
            let _ = self.shared.wait_finished(DEFAULT_FLUSH_TIMEOUT);
        }
    }
}

/// A cloneable view of a [`StoreExporter`]'s counters.
#[derive(Debug, Clone)]
pub struct StoreStatsHandle {
    shared: Arc<Shared>,
}

impl StoreStatsHandle {
    /// The counters now.
    #[must_use]
    pub fn get(&self) -> ExportStats {
        self.shared.counters.snapshot()
    }

    /// Waits until every batch handed over so far is written, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`OTelSdkError::Timeout`] when the writer did not catch up in time.
    pub fn flush(&self, timeout: Duration) -> OTelSdkResult {
        self.shared.wait_drained(timeout)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the data inconsistent
    // (plain counters and an Option), so poisoning is ignored.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct Counters {
    written_spans: AtomicU64,
    dropped_spans: AtomicU64,
    failed_spans: AtomicU64,
    failed_batches: AtomicU64,
    upstream_dropped_spans: AtomicU64,
    retention_deleted_spans: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ExportStats {
        ExportStats {
            written_spans: self.written_spans.load(Ordering::Relaxed),
            dropped_spans: self.dropped_spans.load(Ordering::Relaxed),
            failed_spans: self.failed_spans.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            upstream_dropped_spans: self.upstream_dropped_spans.load(Ordering::Relaxed),
            retention_deleted_spans: self.retention_deleted_spans.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Default)]
struct Progress {
    enqueued: u64,
    done: u64,
    finished: bool,
}

#[derive(Debug, Default)]
struct Shared {
    counters: Counters,
    progress: Mutex<Progress>,
    cv: Condvar,
}

impl Shared {
    fn wait_drained(&self, timeout: Duration) -> OTelSdkResult {
        let progress = lock(&self.progress);
        let target = progress.enqueued;
        let (progress, _) = self
            .cv
            .wait_timeout_while(progress, timeout, |p| p.done < target && !p.finished)
            .unwrap_or_else(PoisonError::into_inner);
        if progress.done >= target || progress.finished {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }

    fn wait_finished(&self, timeout: Duration) -> OTelSdkResult {
        let progress = lock(&self.progress);
        let (progress, _) = self
            .cv
            .wait_timeout_while(progress, timeout, |p| !p.finished)
            .unwrap_or_else(PoisonError::into_inner);
        if progress.finished {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }
}

#[derive(Debug)]
struct Job {
    seq: u64,
    resource: Arc<ResourceInfo>,
    spans: Vec<SpanData>,
}

/// The resource, pre-serialised once rather than per span.
#[derive(Debug)]
struct ResourceInfo {
    service_name: Option<String>,
    json: String,
}

impl ResourceInfo {
    fn from_resource(resource: &Resource) -> Self {
        let mut map = Map::new();
        let mut service_name = None;
        for (k, v) in resource {
            if k.as_str() == "service.name" {
                service_name = Some(v.as_str().into_owned());
            }
            map.insert(k.as_str().to_owned(), value_to_json(v));
        }
        Self {
            service_name,
            json: Json::Object(map).to_string(),
        }
    }
}

struct Writer {
    conn: Connection,
    rx: Receiver<Job>,
    shared: Arc<Shared>,
    retention: Retention,
    retention_interval: Duration,
    upstream: Option<Arc<AtomicU64>>,
    persisted: ExportStats,
}

impl Writer {
    fn run(mut self) {
        // Nothing the writer does (SQLite, serde) may produce spans of its
        // own: they would feed back into the exporter.
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            self.event_loop();
        });
        let mut progress = lock(&self.shared.progress);
        progress.finished = true;
        self.shared.cv.notify_all();
    }

    fn event_loop(&mut self) {
        let mut last_retention = Instant::now();
        let has_retention = self.retention.max_age.is_some() || self.retention.max_spans.is_some();
        if has_retention {
            self.apply_retention();
        }
        loop {
            let wait = if has_retention {
                self.retention_interval
                    .saturating_sub(last_retention.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            match self.rx.recv_timeout(wait) {
                Ok(job) => {
                    self.write(&job);
                    let mut progress = lock(&self.shared.progress);
                    progress.done = job.seq;
                    self.shared.cv.notify_all();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if has_retention && last_retention.elapsed() >= self.retention_interval {
                self.apply_retention();
                last_retention = Instant::now();
            }
        }
        // Persist the final counters (drops after the last batch).
        let _ = self.persist_counters_only();
    }

    fn write(&mut self, job: &Job) {
        let n = job.spans.len() as u64;
        let c = &self.shared.counters;
        if let Some(up) = &self.upstream {
            c.upstream_dropped_spans
                .store(up.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        let now = c.snapshot();
        let target = ExportStats {
            written_spans: now.written_spans + n,
            ..now
        };
        match write_batch(
            &mut self.conn,
            &job.resource,
            &job.spans,
            &self.persisted,
            &target,
        ) {
            Ok(()) => {
                c.written_spans.fetch_add(n, Ordering::Relaxed);
                self.persisted = target;
            }
            Err(_) => {
                c.failed_spans.fetch_add(n, Ordering::Relaxed);
                c.failed_batches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn persist_counters_only(&mut self) -> rusqlite::Result<()> {
        if let Some(up) = &self.upstream {
            self.shared
                .counters
                .upstream_dropped_spans
                .store(up.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        let now = self.shared.counters.snapshot();
        if now == self.persisted {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        persist_counters(&tx, &self.persisted, &now)?;
        tx.commit()?;
        self.persisted = now;
        Ok(())
    }

    fn apply_retention(&mut self) {
        if let Ok(deleted) = query::apply_retention(&mut self.conn, &self.retention, now_ns()) {
            self.shared
                .counters
                .retention_deleted_spans
                .fetch_add(deleted, Ordering::Relaxed);
        }
    }
}

fn now_ns() -> i64 {
    time_ns(SystemTime::now())
}

const INSERT_SPAN: &str = "INSERT INTO spans (
    trace_id, span_id, parent_span_id, is_root, name, kind, status_code, status_message,
    start_ns, end_ns, duration_ms, service_name, scope_name, attributes, events, links, resource,
    workflow, span_type, provider, model, user_id, session_id,
    input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, total_tokens, cost_usd
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
          ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)
ON CONFLICT (trace_id, span_id) DO UPDATE SET
    parent_span_id = excluded.parent_span_id, is_root = excluded.is_root, name = excluded.name,
    kind = excluded.kind, status_code = excluded.status_code,
    status_message = excluded.status_message, start_ns = excluded.start_ns,
    end_ns = excluded.end_ns, duration_ms = excluded.duration_ms,
    service_name = excluded.service_name, scope_name = excluded.scope_name,
    attributes = excluded.attributes, events = excluded.events, links = excluded.links,
    resource = excluded.resource, workflow = excluded.workflow, span_type = excluded.span_type,
    provider = excluded.provider, model = excluded.model, user_id = excluded.user_id,
    session_id = excluded.session_id, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, cache_read_tokens = excluded.cache_read_tokens,
    reasoning_tokens = excluded.reasoning_tokens, total_tokens = excluded.total_tokens,
    cost_usd = excluded.cost_usd";

/// Spans below a root inherit the root's workflow when they carry none.
const FILL_WORKFLOW: &str = "UPDATE spans SET workflow = (
    SELECT r.workflow FROM spans r
    WHERE r.trace_id = ?1 AND r.is_root = 1 AND r.workflow IS NOT NULL
    ORDER BY r.start_ns LIMIT 1)
WHERE trace_id = ?1 AND workflow IS NULL";

/// Recomputes one trace's summary row from its spans. Token and cost sums skip
/// workflow spans: their totals are roll-ups of the LLM spans beneath.
const UPSERT_TRACE: &str = "INSERT OR REPLACE INTO traces (
    trace_id, name, workflow, service_name, start_ns, end_ns, duration_ms, span_count,
    error_count, input_tokens, output_tokens, total_tokens, cost_usd, user_id, session_id,
    model, provider)
SELECT ?1,
    (SELECT r.name FROM spans r WHERE r.trace_id = ?1 ORDER BY r.is_root DESC, r.start_ns LIMIT 1),
    (SELECT r.workflow FROM spans r WHERE r.trace_id = ?1 ORDER BY r.is_root DESC, r.start_ns LIMIT 1),
    (SELECT r.service_name FROM spans r WHERE r.trace_id = ?1 ORDER BY r.is_root DESC, r.start_ns LIMIT 1),
    MIN(start_ns), MAX(end_ns), (MAX(end_ns) - MIN(start_ns)) / 1000000.0, COUNT(*),
    SUM(status_code = 'error'),
    COALESCE(SUM(CASE WHEN span_type = 'workflow' THEN NULL ELSE input_tokens END), 0),
    COALESCE(SUM(CASE WHEN span_type = 'workflow' THEN NULL ELSE output_tokens END), 0),
    COALESCE(SUM(CASE WHEN span_type = 'workflow' THEN NULL ELSE total_tokens END), 0),
    COALESCE(SUM(CASE WHEN span_type = 'workflow' THEN NULL ELSE cost_usd END), 0.0),
    MAX(user_id), MAX(session_id), MAX(model), MAX(provider)
FROM spans WHERE trace_id = ?1";

const UPSERT_META: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2)
ON CONFLICT (key) DO UPDATE SET value = value + excluded.value";

/// Writes one batch in one transaction, with the counters' increase since
/// `persisted` (so the `meta` table accumulates across processes).
fn write_batch(
    conn: &mut Connection,
    resource: &ResourceInfo,
    spans: &[SpanData],
    persisted: &ExportStats,
    target: &ExportStats,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut traces = BTreeSet::new();
    {
        let mut insert = tx.prepare_cached(INSERT_SPAN)?;
        for span in spans {
            let row = SpanRecord::from_span(span);
            insert.execute(params![
                row.trace_id,
                row.span_id,
                row.parent_span_id,
                row.is_root,
                span.name.as_ref(),
                row.kind,
                row.status_code,
                row.status_message,
                row.start_ns,
                row.end_ns,
                row.duration_ms,
                resource.service_name,
                span.instrumentation_scope.name(),
                row.attributes,
                row.events,
                row.links,
                resource.json,
                row.workflow,
                row.span_type,
                row.provider,
                row.model,
                row.user_id,
                row.session_id,
                row.input_tokens,
                row.output_tokens,
                row.cache_read_tokens,
                row.reasoning_tokens,
                row.total_tokens,
                row.cost_usd,
            ])?;
            traces.insert(row.trace_id);
        }
        let mut fill = tx.prepare_cached(FILL_WORKFLOW)?;
        let mut upsert = tx.prepare_cached(UPSERT_TRACE)?;
        for trace_id in &traces {
            fill.execute([trace_id])?;
            upsert.execute([trace_id])?;
        }
    }
    persist_counters(&tx, persisted, target)?;
    tx.commit()
}

fn persist_counters(
    tx: &rusqlite::Transaction<'_>,
    persisted: &ExportStats,
    target: &ExportStats,
) -> rusqlite::Result<()> {
    let mut meta = tx.prepare_cached(UPSERT_META)?;
    let pairs = [
        (
            "written_spans",
            target.written_spans,
            persisted.written_spans,
        ),
        (
            "dropped_spans",
            target.dropped_spans,
            persisted.dropped_spans,
        ),
        ("failed_spans", target.failed_spans, persisted.failed_spans),
        (
            "failed_batches",
            target.failed_batches,
            persisted.failed_batches,
        ),
        (
            "upstream_dropped_spans",
            target.upstream_dropped_spans,
            persisted.upstream_dropped_spans,
        ),
        (
            "retention_deleted_spans",
            target.retention_deleted_spans,
            persisted.retention_deleted_spans,
        ),
    ];
    for (key, now, before) in pairs {
        let delta = now.saturating_sub(before);
        if delta > 0 {
            meta.execute(params![key, delta as i64])?;
        }
    }
    Ok(())
}

/// One span flattened into the `spans` columns.
#[derive(Debug)]
struct SpanRecord {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    is_root: bool,
    kind: &'static str,
    status_code: &'static str,
    status_message: Option<String>,
    start_ns: i64,
    end_ns: i64,
    duration_ms: f64,
    attributes: String,
    events: String,
    links: String,
    workflow: Option<String>,
    span_type: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    user_id: Option<String>,
    session_id: Option<String>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_read_tokens: Option<i64>,
    reasoning_tokens: Option<i64>,
    total_tokens: Option<i64>,
    cost_usd: Option<f64>,
}

impl SpanRecord {
    fn from_span(span: &SpanData) -> Self {
        let has_parent = span.parent_span_id != opentelemetry::trace::SpanId::INVALID;
        let is_root = !has_parent || span.parent_span_is_remote;
        let attr = |key: &str| find(&span.attributes, key);
        let string = |key: &str| attr(key).map(|v| v.as_str().into_owned());
        let int = |key: &str| attr(key).and_then(as_i64);
        let start_ns = time_ns(span.start_time);
        let end_ns = time_ns(span.end_time).max(start_ns);
        let (status_code, status_message) = match &span.status {
            Status::Unset => ("unset", None),
            Status::Ok => ("ok", None),
            Status::Error { description } => ("error", Some(description.to_string())),
        };
        let input_tokens = int(semconv::GEN_AI_USAGE_INPUT_TOKENS)
            .or_else(|| int(semconv::LLM_TOKEN_COUNT_PROMPT));
        let output_tokens = int(semconv::GEN_AI_USAGE_OUTPUT_TOKENS)
            .or_else(|| int(semconv::LLM_TOKEN_COUNT_COMPLETION));
        let total_tokens = int(semconv::GEN_AI_USAGE_TOTAL_TOKENS)
            .or_else(|| int(semconv::LLM_TOKEN_COUNT_TOTAL))
            .or(match (input_tokens, output_tokens) {
                (None, None) => None,
                (i, o) => Some(i.unwrap_or(0) + o.unwrap_or(0)),
            });
        let workflow = string(semconv::GEN_AI_WORKFLOW_NAME)
            .or_else(|| is_root.then(|| span.name.to_string()));
        Self {
            trace_id: span.span_context.trace_id().to_string(),
            span_id: span.span_context.span_id().to_string(),
            parent_span_id: has_parent.then(|| span.parent_span_id.to_string()),
            is_root,
            kind: kind_str(&span.span_kind),
            status_code,
            status_message,
            start_ns,
            end_ns,
            duration_ms: (end_ns - start_ns) as f64 / 1_000_000.0,
            attributes: attributes_json(&span.attributes).to_string(),
            events: events_json(span).to_string(),
            links: links_json(span).to_string(),
            workflow,
            span_type: string(semconv::TOKENTRACE_SPAN_TYPE),
            provider: string(semconv::GEN_AI_PROVIDER_NAME),
            model: string(semconv::GEN_AI_RESPONSE_MODEL)
                .or_else(|| string(semconv::GEN_AI_REQUEST_MODEL)),
            user_id: string(semconv::USER_ID),
            session_id: string(semconv::SESSION_ID)
                .or_else(|| string(semconv::GEN_AI_CONVERSATION_ID)),
            input_tokens,
            output_tokens,
            cache_read_tokens: int(semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            reasoning_tokens: int(semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
            total_tokens,
            cost_usd: attr(semconv::COST_TOTAL_USD).and_then(as_f64),
        }
    }
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    // The last value wins, as an OTel span's later `set_attribute` does.
    attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::I64(i) => Some(*i),
        Value::F64(f) if f.is_finite() => Some(*f as i64),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::F64(f) => Some(*f),
        Value::I64(i) => Some(*i as f64),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

fn time_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn kind_str(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

pub(crate) fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(i) => Json::from(*i),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::Array(Array::Bool(a)) => a.iter().copied().map(Json::Bool).collect(),
        Value::Array(Array::I64(a)) => a.iter().copied().map(Json::from).collect(),
        Value::Array(Array::F64(a)) => a
            .iter()
            .map(|f| serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number))
            .collect(),
        Value::Array(Array::String(a)) => a
            .iter()
            .map(|s| Json::String(s.as_str().to_owned()))
            .collect(),
        // `Value` and `Array` are non-exhaustive: keep a future variant as text.
        other => Json::String(other.as_str().into_owned()),
    }
}

fn attributes_json(attributes: &[KeyValue]) -> Json {
    let mut map = Map::with_capacity(attributes.len());
    for kv in attributes {
        map.insert(kv.key.as_str().to_owned(), value_to_json(&kv.value));
    }
    Json::Object(map)
}

fn events_json(span: &SpanData) -> Json {
    span.events
        .events
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e.name.as_ref(),
                "time_ns": time_ns(e.timestamp),
                "attributes": attributes_json(&e.attributes),
            })
        })
        .collect()
}

fn links_json(span: &SpanData) -> Json {
    span.links
        .links
        .iter()
        .map(|l| {
            serde_json::json!({
                "trace_id": l.span_context.trace_id().to_string(),
                "span_id": l.span_context.span_id().to_string(),
                "attributes": attributes_json(&l.attributes),
            })
        })
        .collect()
}

//! The OpenTelemetry [`SpanExporter`] that writes spans to the store.
//!
//! `export` only hands the batch to a bounded channel (`try_send`): it never
//! blocks the span processor. An encoder thread serialises each batch's JSON
//! columns; a dedicated writer thread owns the SQLite connection and writes
//! each batch (or, when several are waiting, several batches: a group commit)
//! in one transaction, so a process killed mid-write leaves every committed
//! batch and nothing half-written. A third thread checkpoints the WAL into
//! the database file in the background.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::error::StoreError;
use crate::model::{ExportStats, Retention};
use crate::query;
use crate::schema;
use crate::write::{self, EncodedBatch};

/// WAL size (256 MiB) after which the writer's own commit checkpoints: a
/// backstop, as the checkpoint thread normally keeps the WAL short. Above one
/// group commit's worth of pages, so the writer does not checkpoint after
/// every large group.
const WAL_AUTOCHECKPOINT_BYTES: i64 = 256 * 1024 * 1024;
/// Default number of batches the writer queue holds.
const DEFAULT_QUEUE_BATCHES: usize = 64;
/// Default time the writer waits for a lock held by another connection.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Default interval between retention passes.
const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(60);
/// Most spans the writer commits in one transaction when batches queue up
/// (a group commit): the pages every batch rewrites (index leaves of busy
/// users and sessions, the statistics rows) are then written once.
const MAX_GROUP_SPANS: usize = 65_536;
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
    page_cache_bytes: Option<u64>,
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

    /// The most memory the writer's SQLite page cache may hold (SQLite
    /// `cache_size`, allocated as used). Defaults to 64 MiB, so the pages a
    /// group commit touches stay in memory; a smaller cache bounds resident
    /// memory lower at the cost of re-reading B-tree pages from the OS cache.
    /// At least 64 KiB.
    pub fn page_cache_bytes(mut self, bytes: u64) -> Self {
        self.page_cache_bytes = Some(bytes);
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
        if let Some(bytes) = self.page_cache_bytes {
            // A negative cache_size is a size in KiB.
            let kib = i64::try_from((bytes / 1024).max(64)).unwrap_or(i64::MAX);
            conn.pragma_update(None, "cache_size", -kib)?;
        }
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            WAL_AUTOCHECKPOINT_BYTES / page_size.max(512),
        )?;
        // Without the thread (it could not start) the writer checkpoints by itself.
        let checkpointer = Checkpointer::start(&self.path, self.busy_timeout).ok();
        if let Some(bytes) = self.max_size_bytes {
            let pages = (bytes / page_size.max(1) as u64).max(1);
            conn.pragma_update(None, "max_page_count", pages as i64)?;
        }
        // Both channels hold at most `queue_batches` (the `pending` count
        // bounds what waits in either), so the encoder never blocks long.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(self.queue_batches);
        let (enc_tx, enc_rx) = std::sync::mpsc::sync_channel::<Encoded>(self.queue_batches);
        let shared = Arc::new(Shared::default());
        let encoder = std::thread::Builder::new()
            .name("tokentrace-enc".to_owned())
            .spawn(move || encode_loop(&rx, &enc_tx))
            .map_err(|e| {
                StoreError::with_source(
                    crate::StoreErrorKind::Io,
                    "cannot start the store encoder thread",
                    e,
                )
            })?;
        let writer = Writer {
            conn,
            rx: enc_rx,
            shared: Arc::clone(&shared),
            retention: self.retention,
            retention_interval: self.retention_interval,
            upstream: self.upstream_dropped,
            persisted: ExportStats::default(),
            checkpointer,
            encoder: Some(encoder),
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
            queue_batches: self.queue_batches,
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
    queue_batches: usize,
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
            page_cache_bytes: None,
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
        // Batches waiting to be encoded or written: at most `queue_batches`.
        if self.shared.pending.fetch_add(1, Ordering::Relaxed) >= self.queue_batches {
            self.shared.pending.fetch_sub(1, Ordering::Relaxed);
            self.shared
                .counters
                .dropped_spans
                .fetch_add(n, Ordering::Relaxed);
            // Dropping rather than blocking: the caller is the span pipeline
            // and a slow disk must never back up into the application.
            return Err(OTelSdkError::InternalFailure(
                "tokentrace store queue full: batch dropped".to_owned(),
            ));
        }
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
            Err(TrySendError::Full(_)) => {
                self.shared.pending.fetch_sub(1, Ordering::Relaxed);
                self.shared
                    .counters
                    .dropped_spans
                    .fetch_add(n, Ordering::Relaxed);
                Err(OTelSdkError::InternalFailure(
                    "tokentrace store queue full: batch dropped".to_owned(),
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.pending.fetch_sub(1, Ordering::Relaxed);
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
    /// Batches accepted by `export` and not yet taken by the writer.
    pending: AtomicUsize,
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

/// A [`Job`] after the encoder thread.
#[derive(Debug)]
struct Encoded {
    seq: u64,
    batch: EncodedBatch,
}

/// The encoder thread: serialises each batch's JSON columns so the writer's
/// transaction only binds and inserts (the two run in parallel). Exits when
/// the exporter drops its sender, after passing on what was queued.
fn encode_loop(rx: &Receiver<Job>, tx: &SyncSender<Encoded>) {
    // Like the writer, it must never produce spans of its own.
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        let mut order = Vec::new();
        while let Ok(job) = rx.recv() {
            let batch = EncodedBatch::encode(job.resource, job.spans, &mut order);
            if tx
                .send(Encoded {
                    seq: job.seq,
                    batch,
                })
                .is_err()
            {
                break;
            }
        }
    });
}

/// The resource, pre-serialised once rather than per span.
#[derive(Debug)]
pub(crate) struct ResourceInfo {
    pub(crate) service_name: Option<String>,
    pub(crate) json: String,
}

impl ResourceInfo {
    fn from_resource(resource: &Resource) -> Self {
        let service_name = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map(|v| v.as_str().into_owned());
        let attributes: Vec<opentelemetry::KeyValue> = resource
            .iter()
            .map(|(k, v)| opentelemetry::KeyValue::new(k.clone(), v.clone()))
            .collect();
        let mut json = String::new();
        write::write_attributes(&mut json, &attributes, &mut Vec::new());
        Self { service_name, json }
    }
}

struct Writer {
    conn: Connection,
    rx: Receiver<Encoded>,
    shared: Arc<Shared>,
    retention: Retention,
    retention_interval: Duration,
    upstream: Option<Arc<AtomicU64>>,
    persisted: ExportStats,
    checkpointer: Option<Checkpointer>,
    encoder: Option<JoinHandle<()>>,
}

/// Copies committed WAL pages into the database file on its own thread
/// (SQLite `PASSIVE` checkpoints, which never block the writer or readers),
/// so the writer thread spends its time on batches rather than on the
/// checkpoint's reads, writes and fsyncs. The writer still checkpoints by
/// itself past [`WAL_AUTOCHECKPOINT_BYTES`], which bounds the WAL if this
/// thread falls behind.
#[derive(Debug)]
struct Checkpointer {
    notify: SyncSender<()>,
    thread: JoinHandle<()>,
}

/// Least time between two background checkpoints: pages rewritten by several
/// batches within it are copied once.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

impl Checkpointer {
    fn start(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        // The writer's connection has created and migrated the file already.
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(busy_timeout)?;
        let (notify, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("tokentrace-ckpt".to_owned())
            .spawn(move || {
                tracing::subscriber::with_default(
                    tracing::subscriber::NoSubscriber::default(),
                    || {
                        // One checkpoint per wake-up; the channel holds at most
                        // one pending wake-up however many batches commit.
                        while rx.recv().is_ok() {
                            let _ =
                                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                            std::thread::sleep(CHECKPOINT_EVERY);
                        }
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    },
                );
            })
            .map_err(|e| {
                StoreError::with_source(
                    crate::StoreErrorKind::Io,
                    "cannot start the store checkpoint thread",
                    e,
                )
            })?;
        Ok(Self { notify, thread })
    }

    /// A batch was committed: checkpoint soon.
    fn poke(&self) {
        let _ = self.notify.try_send(());
    }

    /// Runs a last checkpoint and waits for the thread.
    fn finish(self) {
        drop(self.notify);
        let _ = self.thread.join();
    }
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
                Ok(first) => {
                    // Whatever else is queued joins the same transaction.
                    let mut group = vec![first];
                    let mut spans = group[0].batch.len();
                    while spans < MAX_GROUP_SPANS {
                        let Ok(next) = self.rx.try_recv() else { break };
                        spans += next.batch.len();
                        group.push(next);
                    }
                    self.shared
                        .pending
                        .fetch_sub(group.len(), Ordering::Relaxed);
                    self.write(&group);
                    let mut progress = lock(&self.shared.progress);
                    progress.done = group.last().map_or(progress.done, |e| e.seq);
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
        if let Some(encoder) = self.encoder.take() {
            let _ = encoder.join();
        }
        // Persist the final counters (drops after the last batch).
        let _ = self.persist_counters_only();
        if let Some(c) = self.checkpointer.take() {
            c.finish();
        }
    }

    /// Writes `group` in one transaction. If that fails and the group holds
    /// several batches, each is retried on its own (unless the database is
    /// locked: that would only wait out the busy timeout once per batch), so
    /// a batch fails alone, as it would have without grouping.
    fn write(&mut self, group: &[Encoded]) {
        let batches: Vec<&EncodedBatch> = group.iter().map(|e| &e.batch).collect();
        match self.commit(&batches) {
            Ok(()) => {}
            Err(e) if group.len() > 1 && !is_busy(&e) => {
                for b in batches {
                    if self.commit(&[b]).is_err() {
                        self.count_failed(&[b]);
                    }
                }
            }
            Err(_) => self.count_failed(&batches),
        }
    }

    fn count_failed(&self, batches: &[&EncodedBatch]) {
        let c = &self.shared.counters;
        let n: usize = batches.iter().map(|b| b.len()).sum();
        c.failed_spans.fetch_add(n as u64, Ordering::Relaxed);
        c.failed_batches
            .fetch_add(batches.len() as u64, Ordering::Relaxed);
    }

    fn commit(&mut self, batches: &[&EncodedBatch]) -> rusqlite::Result<()> {
        let n: usize = batches.iter().map(|b| b.len()).sum();
        let c = &self.shared.counters;
        if let Some(up) = &self.upstream {
            c.upstream_dropped_spans
                .store(up.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        let now = c.snapshot();
        let target = ExportStats {
            written_spans: now.written_spans + n as u64,
            ..now
        };
        write::write_batch(&mut self.conn, batches, &self.persisted, &target)?;
        c.written_spans.fetch_add(n as u64, Ordering::Relaxed);
        self.persisted = target;
        if let Some(ck) = &self.checkpointer {
            ck.poke();
        }
        Ok(())
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

/// The database was locked by another connection past the busy timeout.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn now_ns() -> i64 {
    time_ns(SystemTime::now())
}

const UPSERT_META: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2)
ON CONFLICT (key) DO UPDATE SET value = value + excluded.value";

pub(crate) fn persist_counters(
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

pub(crate) fn time_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

//! The OpenTelemetry [`SpanExporter`] that writes spans to the store: its
//! builder, the exporter and its counters' handle. The work happens behind
//! the store's one queue ([`crate::worker`]): `export` and
//! [`StoreExporter::try_push`] only hand spans to it and never block.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::encode::ResourceInfo;
use crate::error::StoreError;
use crate::model::{ExportStats, Retention};
use crate::schema;
use crate::worker::{Checkpointer, QueueConfig, Shared, Worker, WriterConfig};

/// WAL size (256 MiB) after which the writer's own commit checkpoints: a
/// backstop, as the checkpoint thread normally keeps the WAL short. Above one
/// group commit's worth of pages, so the writer does not checkpoint after
/// every large group.
const WAL_AUTOCHECKPOINT_BYTES: i64 = 256 * 1024 * 1024;
/// Default number of batches the writer queue holds.
const DEFAULT_QUEUE_BATCHES: usize = 64;
/// Default number of spans handed over one at a time that wait to be batched.
const DEFAULT_QUEUE_SPANS: usize = 2048;
/// Default size of a batch cut from spans handed over one at a time.
const DEFAULT_MAX_BATCH: usize = 512;
/// Default longest wait of a span handed over on its own before its batch is cut.
const DEFAULT_BATCH_DELAY: Duration = Duration::from_secs(1);
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
    queue: QueueConfig,
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
        self.queue.batches = batches.max(1);
        self
    }

    /// How many spans handed over one at a time
    /// ([`StoreExporter::try_push`]) may wait to be batched before new ones
    /// are dropped (and counted). Defaults to 2048.
    pub fn span_queue_capacity(mut self, spans: usize) -> Self {
        self.queue.spans = spans.max(1);
        self
    }

    /// How spans handed over one at a time are batched: at most `max_batch`
    /// spans per batch, cut at the latest `delay` after its first span
    /// arrived (a flush cuts at once). Defaults to 512 spans and 1 second.
    pub fn span_batching(mut self, max_batch: usize, delay: Duration) -> Self {
        self.queue.max_batch = max_batch.max(1);
        self.queue.delay = delay;
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
        let worker = Worker::start(
            conn,
            self.queue,
            WriterConfig {
                retention: self.retention,
                retention_interval: self.retention_interval,
                upstream: self.upstream_dropped,
                checkpointer,
            },
            ResourceInfo::from_resource(&Resource::builder_empty().build()),
        )?;
        Ok(StoreExporter {
            worker,
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
    worker: Worker,
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
            queue: QueueConfig {
                batches: DEFAULT_QUEUE_BATCHES,
                spans: DEFAULT_QUEUE_SPANS,
                max_batch: DEFAULT_MAX_BATCH,
                delay: DEFAULT_BATCH_DELAY,
            },
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
        self.worker.shared.counters.snapshot()
    }

    /// A cloneable handle to the counters that outlives moving the exporter
    /// into a span processor.
    #[must_use]
    pub fn stats_handle(&self) -> StoreStatsHandle {
        StoreStatsHandle {
            shared: Arc::clone(&self.worker.shared),
        }
    }

    /// Hands one finished span to the store's queue, for a span processor of
    /// its own (the `tokentrace` facade's) instead of a batching one in front
    /// of [`export`](SpanExporter::export): the store then batches the spans
    /// itself (see [`StoreExporterBuilder::span_batching`]). Never blocks
    /// beyond a short lock: when [`span_queue_capacity`](StoreExporterBuilder::span_queue_capacity)
    /// spans are waiting already, or after shutdown, the span is dropped,
    /// counted in [`ExportStats::dropped_spans`], and `false` returned.
    pub fn try_push(&self, span: SpanData) -> bool {
        self.worker.shared.push(span)
    }

    /// Waits until every span handed over so far is written (or failed), at
    /// most `timeout`.
    ///
    /// # Errors
    ///
    /// [`OTelSdkError::Timeout`](opentelemetry_sdk::error::OTelSdkError::Timeout) when the writer did not catch up in time.
    pub fn flush_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.worker.shared.flush(timeout)
    }
}

impl SpanExporter for StoreExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        std::future::ready(self.worker.shared.enqueue(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        // The threads write what is queued and exit.
        self.worker.shutdown(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.worker.shared.flush(DEFAULT_FLUSH_TIMEOUT)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.worker
            .shared
            .set_resource(ResourceInfo::from_resource(resource));
    }
}

impl Drop for StoreExporter {
    fn drop(&mut self) {
        if self.worker.shared.close() {
            let _ = self.worker.shared.wait_finished(DEFAULT_FLUSH_TIMEOUT);
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

    /// Waits until every span handed over so far is written, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`OTelSdkError::Timeout`](opentelemetry_sdk::error::OTelSdkError::Timeout) when the writer did not catch up in time.
    pub fn flush(&self, timeout: Duration) -> OTelSdkResult {
        self.shared.flush(timeout)
    }
}

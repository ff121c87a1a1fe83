//! The store's worker: its one queue, the threads behind it, the counters.
//!
//! Spans enter the queue whole batches at a time ([`Shared::enqueue`], the
//! `SpanExporter` path) or one at a time ([`Shared::push`], the path the
//! `tokentrace` facade's span processor takes), never blocking: when the
//! queue is full the spans are dropped and counted (`dropped_spans`), the
//! only place the store drops anything. Behind it:
//!
//! - an encoder thread takes each batch (cutting the spans pushed one at a
//!   time into batches: every `max_batch` spans, or `delay` after the first),
//!   serialises its JSON columns ([`EncodedBatch`]) and hands it on;
//! - a writer thread owns the SQLite connection and writes each batch (or,
//!   when several are waiting, several batches: a group commit) in one
//!   transaction, so a process killed mid-write leaves every committed batch
//!   and nothing half-written; it also runs retention;
//! - a checkpoint thread copies the WAL into the database file.
//!
//! A batch counts against the queue's bound from the moment it is accepted
//! until the writer takes it, so the hand-over from encoder to writer is a
//! stage of the same queue, not a second one. A flush cuts what waits, then
//! waits for the writer to pass the last batch accepted before it.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use rusqlite::{Connection, TransactionBehavior};

use crate::encode::{EncodedBatch, ResourceInfo, time_ns};
use crate::error::{StoreError, StoreErrorKind};
use crate::model::{ExportStats, Retention};
use crate::{retention, rows};

/// Most spans the writer commits in one transaction when batches queue up
/// (a group commit): the pages every batch rewrites (index leaves of busy
/// users and sessions, the statistics rows) are then written once.
const MAX_GROUP_SPANS: usize = 65_536;

/// Least time between two background checkpoints: pages rewritten by several
/// batches within it are copied once.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// How the queue is bounded and how spans pushed one at a time are batched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueConfig {
    /// Batches accepted and not yet taken by the writer.
    pub(crate) batches: usize,
    /// Spans pushed one at a time waiting to be cut into a batch.
    pub(crate) spans: usize,
    /// Spans per batch cut from those.
    pub(crate) max_batch: usize,
    /// Longest a pushed span waits before its batch is cut.
    pub(crate) delay: Duration,
}

/// What the writer thread needs besides its connection.
#[derive(Debug)]
pub(crate) struct WriterConfig {
    pub(crate) retention: Retention,
    pub(crate) retention_interval: Duration,
    pub(crate) upstream: Option<Arc<AtomicU64>>,
    /// The checkpoint thread, when it could start (without it the writer's
    /// own autocheckpoint copies the WAL).
    pub(crate) checkpointer: Option<Checkpointer>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the data inconsistent
    // (plain counters and queues), so poisoning is ignored.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    written_spans: AtomicU64,
    dropped_spans: AtomicU64,
    failed_spans: AtomicU64,
    failed_batches: AtomicU64,
    upstream_dropped_spans: AtomicU64,
    retention_deleted_spans: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ExportStats {
        ExportStats {
            written_spans: self.written_spans.load(Ordering::Relaxed),
            dropped_spans: self.dropped_spans.load(Ordering::Relaxed),
            failed_spans: self.failed_spans.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            upstream_dropped_spans: self.upstream_dropped_spans.load(Ordering::Relaxed),
            retention_deleted_spans: self.retention_deleted_spans.load(Ordering::Relaxed),
        }
    }

    fn dropped(&self, n: u64) {
        self.dropped_spans.fetch_add(n, Ordering::Relaxed);
    }
}

/// A batch on its way to the writer.
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

/// The queue, under one mutex.
#[derive(Debug)]
struct Queue {
    /// Batches accepted (whole, or cut from `open`), in order, not yet taken
    /// by the encoder.
    jobs: VecDeque<Job>,
    /// Spans pushed one at a time, not yet cut into a batch.
    open: Vec<SpanData>,
    /// When the oldest span of `open` arrived.
    open_since: Option<Instant>,
    /// Batches accepted and not yet taken by the writer.
    pending: usize,
    /// Sequence number of the last batch accepted.
    enqueued: u64,
    /// Shut down: nothing more is accepted; the encoder drains and exits.
    closed: bool,
    resource: Arc<ResourceInfo>,
}

impl Queue {
    /// Cuts the first `max_batch` spans of `open` into a batch.
    fn cut(&mut self, max_batch: usize, now: Instant) -> Job {
        let spans = if self.open.len() <= max_batch {
            self.open_since = None;
            std::mem::take(&mut self.open)
        } else {
            let rest = self.open.split_off(max_batch);
            self.open_since = Some(now);
            std::mem::replace(&mut self.open, rest)
        };
        self.accept(spans)
    }

    fn accept(&mut self, spans: Vec<SpanData>) -> Job {
        self.pending += 1;
        self.enqueued += 1;
        Job {
            seq: self.enqueued,
            resource: Arc::clone(&self.resource),
            spans,
        }
    }
}

#[derive(Debug, Default)]
struct Progress {
    /// Sequence number of the last batch the writer is done with.
    done: u64,
    finished: bool,
}

/// What the exporter, its stats handles and the threads share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    config: QueueConfig,
    queue: Mutex<Queue>,
    /// Wakes the encoder: a batch to take or cut, a flush, shutdown, room.
    wake: Condvar,
    progress: Mutex<Progress>,
    /// Signals a change of `progress`.
    done: Condvar,
}

impl Shared {
    fn new(config: QueueConfig, resource: ResourceInfo) -> Self {
        Self {
            counters: Counters::default(),
            config,
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                open: Vec::new(),
                open_since: None,
                pending: 0,
                enqueued: 0,
                closed: false,
                resource: Arc::new(resource),
            }),
            wake: Condvar::new(),
            progress: Mutex::new(Progress::default()),
            done: Condvar::new(),
        }
    }

    /// Accepts a whole batch, or drops and counts it when
    /// [`QueueConfig::batches`] are waiting already.
    pub(crate) fn enqueue(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let mut q = lock(&self.queue);
        if q.closed {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if q.pending >= self.config.batches {
            drop(q);
            self.counters.dropped(batch.len() as u64);
            // Dropping rather than blocking: the caller is the span pipeline
            // and a slow disk must never back up into the application.
            return Err(OTelSdkError::InternalFailure(
                "tokentrace store queue full: batch dropped".to_owned(),
            ));
        }
        let job = q.accept(batch);
        q.jobs.push_back(job);
        drop(q);
        self.wake.notify_one();
        Ok(())
    }

    /// Accepts one span, or drops and counts it when [`QueueConfig::spans`]
    /// are waiting to be batched already (or after shutdown). Never blocks
    /// beyond a short lock.
    pub(crate) fn push(&self, span: SpanData) -> bool {
        let mut q = lock(&self.queue);
        if q.closed || q.open.len() >= self.config.spans {
            drop(q);
            self.counters.dropped(1);
            return false;
        }
        let first = q.open.is_empty();
        if first {
            q.open_since = Some(Instant::now());
        }
        q.open.push(span);
        // The encoder learns of a new batch (to time its delay) and of a
        // full one; the spans in between cost no wake-up.
        let wake = first || q.open.len() == self.config.max_batch;
        drop(q);
        if wake {
            self.wake.notify_one();
        }
        true
    }

    pub(crate) fn set_resource(&self, resource: ResourceInfo) {
        lock(&self.queue).resource = Arc::new(resource);
    }

    /// Waits until every span accepted so far is written (or failed), at most
    /// `timeout`. Spans pushed one at a time are cut into batches now.
    pub(crate) fn flush(&self, timeout: Duration) -> OTelSdkResult {
        let target = {
            let mut q = lock(&self.queue);
            let now = Instant::now();
            while !q.open.is_empty() {
                let job = q.cut(self.config.max_batch, now);
                q.jobs.push_back(job);
            }
            q.enqueued
        };
        self.wake.notify_one();
        let progress = lock(&self.progress);
        let (progress, _) = self
            .done
            .wait_timeout_while(progress, timeout, |p| p.done < target && !p.finished)
            .unwrap_or_else(PoisonError::into_inner);
        if progress.done >= target || progress.finished {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }

    /// Stops accepting spans; the threads write what is queued and exit.
    /// `false` when it was closed already.
    pub(crate) fn close(&self) -> bool {
        let was_open = !std::mem::replace(&mut lock(&self.queue).closed, true);
        self.wake.notify_one();
        was_open
    }

    pub(crate) fn wait_finished(&self, timeout: Duration) -> OTelSdkResult {
        let progress = lock(&self.progress);
        let (progress, _) = self
            .done
            .wait_timeout_while(progress, timeout, |p| !p.finished)
            .unwrap_or_else(PoisonError::into_inner);
        if progress.finished {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }

    /// The next batch for the encoder, waiting for one; `None` once closed
    /// and drained.
    fn next_job(&self, spare: &mut Vec<SpanData>) -> Option<Job> {
        let mut q = lock(&self.queue);
        loop {
            if let Some(job) = q.jobs.pop_front() {
                return Some(job);
            }
            let now = Instant::now();
            let due = q.open_since.map(|t| t + self.config.delay);
            if !q.open.is_empty() {
                let ready = q.closed
                    || q.open.len() >= self.config.max_batch
                    || due.is_some_and(|d| now >= d);
                // A batch is cut only when there is room for it (what waits
                // meanwhile stays bounded by `spans`), or at shutdown.
                if ready && (q.pending < self.config.batches || q.closed) {
                    if q.open.len() <= self.config.max_batch {
                        // The next batch's buffer, allocated outside the lock.
                        std::mem::swap(&mut q.open, spare);
                        q.open_since = None;
                        let spans = std::mem::take(spare);
                        return Some(q.accept(spans));
                    }
                    return Some(q.cut(self.config.max_batch, now));
                }
                if !ready && let Some(due) = due {
                    q = self
                        .wake
                        .wait_timeout(q, due.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    continue;
                }
            } else if q.closed {
                return None;
            }
            q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The writer took `n` batches: they no longer count against the bound.
    fn taken(&self, n: usize) {
        let mut q = lock(&self.queue);
        q.pending = q.pending.saturating_sub(n);
        drop(q);
        self.wake.notify_one();
    }
}

/// The running worker: its shared state and the writer thread.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Worker {
    /// Starts the encoder and writer threads over `conn` (opened, migrated
    /// and tuned by the caller).
    pub(crate) fn start(
        conn: Connection,
        queue: QueueConfig,
        writer: WriterConfig,
        resource: ResourceInfo,
    ) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared::new(queue, resource));
        // At most `batches` wait between encoder and writer (the `pending`
        // count bounds them) except after a flush or at shutdown, when the
        // encoder may wait for the writer here: it is the worker's own thread.
        let (enc_tx, enc_rx) = std::sync::mpsc::sync_channel::<Encoded>(queue.batches);
        let encoder = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("tokentrace-enc".to_owned())
                .spawn(move || encode_loop(&shared, &enc_tx))
                .map_err(|e| {
                    StoreError::with_source(
                        StoreErrorKind::Io,
                        "cannot start the store encoder thread",
                        e,
                    )
                })?
        };
        let writer = Writer {
            conn,
            rx: enc_rx,
            shared: Arc::clone(&shared),
            retention: writer.retention,
            retention_interval: writer.retention_interval,
            upstream: writer.upstream,
            persisted: ExportStats::default(),
            checkpointer: writer.checkpointer,
            encoder: Some(encoder),
        };
        let thread = std::thread::Builder::new()
            .name("tokentrace-store".to_owned())
            .spawn(move || writer.run())
            .map_err(|e| {
                // The encoder exits once the queue is closed.
                shared.close();
                StoreError::with_source(
                    StoreErrorKind::Io,
                    "cannot start the store writer thread",
                    e,
                )
            })?;
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Closes the queue and waits (at most `timeout`) for the threads to
    /// write what it holds and exit.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        if !self.shared.close() {
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
}

/// The encoder thread: serialises each batch's JSON columns so the writer's
/// transaction only binds and inserts (the two run in parallel). Exits once
/// the queue is closed and drained, which lets the writer finish.
fn encode_loop(shared: &Shared, tx: &SyncSender<Encoded>) {
    // Like the writer, it must never produce spans of its own.
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        let mut order = Vec::new();
        let mut spare = Vec::new();
        loop {
            if spare.capacity() == 0 {
                spare = Vec::with_capacity(shared.config.max_batch.min(4096));
            }
            let Some(job) = shared.next_job(&mut spare) else {
                break;
            };
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

impl Writer {
    fn run(mut self) {
        // Nothing the writer does (SQLite, serde) may produce spans of its
        // own: they would feed back into the exporter.
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            self.event_loop();
        });
        let mut progress = lock(&self.shared.progress);
        progress.finished = true;
        self.shared.done.notify_all();
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
                    self.shared.taken(group.len());
                    self.write(&group);
                    let mut progress = lock(&self.shared.progress);
                    progress.done = group.last().map_or(progress.done, |e| e.seq);
                    self.shared.done.notify_all();
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
        rows::write_batch(&mut self.conn, batches, &self.persisted, &target)?;
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
        rows::persist_counters(&tx, &self.persisted, &now)?;
        tx.commit()?;
        self.persisted = now;
        Ok(())
    }

    fn apply_retention(&mut self) {
        let now = time_ns(SystemTime::now());
        if let Ok(deleted) = retention::apply(&mut self.conn, &self.retention, now) {
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

/// Copies committed WAL pages into the database file on its own thread
/// (SQLite `PASSIVE` checkpoints, which never block the writer or readers),
/// so the writer thread spends its time on batches rather than on the
/// checkpoint's reads, writes and fsyncs. The writer still checkpoints by
/// itself past its `wal_autocheckpoint`, which bounds the WAL if this thread
/// falls behind.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    notify: SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
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
                    StoreErrorKind::Io,
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

//! The span pipeline behind [`Telemetry`](crate::Telemetry): a sampler that
//! can keep error spans of sampled-out traces, and a span processor with one
//! bounded queue and one worker thread per exporter, except the SQLite store:
//! it has a bounded queue and threads of its own, so the processor hands each
//! span straight to that queue ([`StoreSink`]), and a span bound for the
//! store passes one queue, one drop counter and one flush hand-over.
//!
//! Why our own processor rather than the SDK's `BatchSpanProcessor`: its drop
//! counter is private, and one exporter stuck on a hanging collector must not
//! stall the others (the store keeps receiving spans while OTLP times out).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sanitize::ExportPolicy;
use opentelemetry::trace::{Link, SpanKind, Status, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, ShouldSample, Span, SpanData, SpanExporter,
    SpanProcessor,
};

/// Head sampling that turns "drop" into "record only" so the processor can
/// still keep spans that end in error (see [`QueueProcessor`]).
#[derive(Debug, Clone)]
pub(crate) struct KeepErrorsSampler {
    pub(crate) inner: Sampler,
}

impl ShouldSample for KeepErrorsSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result =
            self.inner
                .should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        if result.decision == SamplingDecision::Drop {
            result.decision = SamplingDecision::RecordOnly;
        }
        result
    }
}

/// An exporter the worker drives synchronously.
pub(crate) trait BlockingExporter: Send + Sync + std::fmt::Debug {
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult;
    fn flush(&self) -> OTelSdkResult;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
    /// The store, when this exporter is one: the processor hands it each
    /// span itself rather than queueing spans for a worker of its own.
    #[cfg(feature = "store")]
    fn store(&self) -> Option<&tokentrace_store::StoreExporter> {
        None
    }
}

/// The SQLite store as the processor drives it: each span goes straight into
/// the store's own queue ([`StoreExporter::try_push`](tokentrace_store::StoreExporter::try_push)),
/// which batches, bounds and counts (a full queue drops the span and counts
/// it in the store's `dropped_spans`); a flush waits for the store's writer.
#[cfg(feature = "store")]
#[derive(Debug)]
pub(crate) struct StoreSink(pub(crate) tokentrace_store::StoreExporter);

#[cfg(feature = "store")]
impl BlockingExporter for StoreSink {
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        futures_executor::block_on(self.0.export(batch))
    }
    fn flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(&mut self.0, resource);
    }
    fn store(&self) -> Option<&tokentrace_store::StoreExporter> {
        Some(&self.0)
    }
}

impl<E: SpanExporter> BlockingExporter for E {
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        futures_executor::block_on(self.export(batch))
    }
    fn flush(&self) -> OTelSdkResult {
        self.force_flush()
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }
}

/// Queue sizes and timing of each exporter's worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueConfig {
    /// Spans waiting per exporter before new ones are dropped.
    pub(crate) capacity: usize,
    /// Spans per export call.
    pub(crate) max_batch: usize,
    /// Longest a span waits before export when the queue is not full.
    pub(crate) delay: Duration,
}

/// Counters shared with the guard.
#[derive(Debug, Default)]
pub(crate) struct PipelineStats {
    /// Spans dropped because an exporter's queue was full (the store's
    /// queue counts its own).
    pub(crate) queue_dropped: Arc<AtomicU64>,
    /// Spans in batches an exporter reported failing.
    pub(crate) export_failed: AtomicU64,
    /// The store's counters, when spans go to it: its queue's drops are lost
    /// spans of the pipeline.
    #[cfg(feature = "store")]
    store: std::sync::OnceLock<tokentrace_store::StoreStatsHandle>,
}

/// Remembers (a bounded number of) traces that had an error span, so their
/// later-ending spans (ancestors, the root) are kept too.
#[derive(Debug, Default)]
struct ErrorTraces {
    set: HashSet<TraceId>,
    order: VecDeque<TraceId>,
}

const ERROR_TRACES_CAP: usize = 4096;

impl ErrorTraces {
    fn insert(&mut self, id: TraceId) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > ERROR_TRACES_CAP
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

/// The span processor: filters, then fans each span out to one bounded queue
/// per exporter. `on_end` never blocks beyond a short mutex push.
///
/// With `keep_errors`, spans that were sampled out (recorded only) are kept
/// when they end with error status, and so is every later-ending span of that
/// trace (its ancestors and root end after it). Spans of that trace that ended
/// before the error are gone: head sampling cannot recall them.
#[derive(Debug)]
pub(crate) struct QueueProcessor {
    sinks: Vec<Sink>,
    /// Exporters with a queue of their own, handed each span directly (the
    /// store, see [`StoreSink`]).
    direct: Vec<Box<dyn BlockingExporter>>,
    keep_errors: bool,
    policy: ExportPolicy,
    error_traces: Mutex<ErrorTraces>,
}

#[derive(Debug)]
struct Sink {
    shared: Arc<SinkShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct SinkShared {
    state: Mutex<SinkState>,
    wake: Condvar,
    done: Condvar,
    config: QueueConfig,
    stats: Arc<PipelineStats>,
}

#[derive(Debug, Default)]
struct SinkState {
    queue: VecDeque<SpanData>,
    flush_requested: u64,
    flush_done: u64,
    shutdown: bool,
    finished: bool,
    exporter: Option<Box<dyn BlockingExporter>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Queues and counters stay consistent across a panic in an exporter.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl QueueProcessor {
    pub(crate) fn new(
        exporters: Vec<Box<dyn BlockingExporter>>,
        config: QueueConfig,
        keep_errors: bool,
        policy: ExportPolicy,
        stats: &Arc<PipelineStats>,
    ) -> Self {
        #[allow(unused_mut)] // only the `store` feature has direct exporters
        let (mut direct, mut queued) = (Vec::new(), Vec::new());
        for exporter in exporters {
            #[cfg(feature = "store")]
            if let Some(store) = exporter.store() {
                let _ = stats.store.set(store.stats_handle());
                direct.push(exporter);
                continue;
            }
            queued.push(exporter);
        }
        let sinks = queued
            .into_iter()
            .map(|exporter| {
                let shared = Arc::new(SinkShared {
                    state: Mutex::new(SinkState {
                        exporter: Some(exporter),
                        ..SinkState::default()
                    }),
                    wake: Condvar::new(),
                    done: Condvar::new(),
                    config,
                    stats: Arc::clone(stats),
                });
                let worker = Arc::clone(&shared);
                let thread = std::thread::Builder::new()
                    .name("tokentrace-export".to_owned())
                    .spawn(move || {
                        // The exporter's own work (HTTP, SQLite) is never traced.
                        tracing::subscriber::with_default(
                            tracing::subscriber::NoSubscriber::default(),
                            || worker.run(),
                        );
                    })
                    .ok();
                if thread.is_none() {
                    // No worker: mark finished so flush/shutdown do not wait.
                    lock(&shared.state).finished = true;
                }
                Sink {
                    shared,
                    thread: Mutex::new(thread),
                }
            })
            .collect();
        Self {
            sinks,
            direct,
            keep_errors,
            policy,
            error_traces: Mutex::new(ErrorTraces::default()),
        }
    }

    fn keep(&self, span: &SpanData) -> bool {
        let trace_id = span.span_context.trace_id();
        let is_error = matches!(span.status, Status::Error { .. });
        if span.span_context.is_sampled() {
            return true;
        }
        if !self.keep_errors {
            return false;
        }
        let mut errors = lock(&self.error_traces);
        if is_error {
            errors.insert(trace_id);
            return true;
        }
        errors.set.contains(&trace_id)
    }
}

impl SinkShared {
    fn push(&self, span: SpanData) {
        let mut st = lock(&self.state);
        if st.shutdown || st.queue.len() >= self.config.capacity {
            drop(st);
            self.stats.queue_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.queue.push_back(span);
        if st.queue.len() >= self.config.max_batch {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut st = lock(&self.state);
        let mut last_export = Instant::now();
        loop {
            loop {
                let due = last_export + self.config.delay;
                let now = Instant::now();
                if st.shutdown
                    || st.flush_requested > st.flush_done
                    || st.queue.len() >= self.config.max_batch
                    || (now >= due && !st.queue.is_empty())
                {
                    break;
                }
                let wait = if now >= due {
                    self.config.delay
                } else {
                    due - now
                };
                st = self
                    .wake
                    .wait_timeout(st, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                if Instant::now() >= due && st.queue.is_empty() {
                    last_export = Instant::now();
                }
            }
            let flush_target = st.flush_requested;
            let shutting_down = st.shutdown;
            let Some(exporter) = st.exporter.take() else {
                break;
            };
            // Drain all on flush/shutdown, else one batch.
            loop {
                let n = st.queue.len().min(self.config.max_batch);
                if n == 0 {
                    break;
                }
                let batch: Vec<SpanData> = st.queue.drain(..n).collect();
                drop(st);
                let len = batch.len() as u64;
                if exporter.export_blocking(batch).is_err() {
                    self.stats.export_failed.fetch_add(len, Ordering::Relaxed);
                }
                st = lock(&self.state);
                if !(shutting_down || flush_target > st.flush_done)
                    && st.queue.len() < self.config.max_batch
                {
                    break;
                }
            }
            last_export = Instant::now();
            if flush_target > st.flush_done {
                drop(st);
                let _ = exporter.flush();
                st = lock(&self.state);
                st.flush_done = flush_target;
                self.done.notify_all();
            }
            if shutting_down {
                drop(st);
                let _ = exporter.shutdown(Duration::from_secs(5));
                st = lock(&self.state);
                st.finished = true;
                st.flush_done = st.flush_requested;
                self.done.notify_all();
                break;
            }
            st.exporter = Some(exporter);
        }
        st.finished = true;
        self.done.notify_all();
    }

    fn flush(&self, timeout: Duration) -> OTelSdkResult {
        let mut st = lock(&self.state);
        if st.finished {
            return Ok(());
        }
        st.flush_requested += 1;
        let target = st.flush_requested;
        self.wake.notify_one();
        let (st, _) = self
            .done
            .wait_timeout_while(st, timeout, |s| s.flush_done < target && !s.finished)
            .unwrap_or_else(PoisonError::into_inner);
        if st.flush_done >= target || st.finished {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let mut st = lock(&self.state);
        if st.shutdown {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        st.shutdown = true;
        self.wake.notify_one();
        let (st, _) = self
            .done
            .wait_timeout_while(st, timeout, |s| !s.finished)
            .unwrap_or_else(PoisonError::into_inner);
        if st.finished {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !self.keep(&span) {
            return;
        }
        self.policy.apply(&mut span);
        #[cfg(feature = "store")]
        if let Some(store) = self.direct.first().and_then(|e| e.store()) {
            for sink in &self.sinks {
                sink.shared.push(span.clone());
            }
            // Full or shut down: dropped and counted by the store.
            store.try_push(span);
            return;
        }
        let Some((last, rest)) = self.sinks.split_last() else {
            return;
        };
        for sink in rest {
            sink.shared.push(span.clone());
        }
        last.shared.push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        let mut result = Ok(());
        #[cfg(feature = "store")]
        for store in self.direct.iter().filter_map(|e| e.store()) {
            // Cuts what waits in the store's queue and waits for its writer.
            if let Err(e) = store.flush_with_timeout(Duration::from_secs(30)) {
                result = Err(e);
            }
        }
        for sink in &self.sinks {
            if let Err(e) = sink.shared.flush(Duration::from_secs(30)) {
                result = Err(e);
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let mut result = Ok(());
        for exporter in &self.direct {
            // The store writes what its queue holds, then stops its threads.
            if let Err(e) = exporter.shutdown(timeout) {
                result = Err(e);
            }
        }
        for sink in &self.sinks {
            match sink.shared.shutdown(timeout) {
                Ok(()) => {
                    if let Some(t) = lock(&sink.thread).take() {
                        let _ = t.join();
                    }
                }
                Err(e) => result = Err(e),
            }
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        for exporter in &mut self.direct {
            exporter.set_resource(resource);
        }
        for sink in &self.sinks {
            if let Some(e) = lock(&sink.shared.state).exporter.as_mut() {
                e.set_resource(resource);
            }
        }
    }
}

impl PipelineStats {
    /// Spans lost in the pipeline (full queues, the store's included, plus
    /// failed exports).
    pub(crate) fn lost(&self) -> u64 {
        #[allow(unused_mut)]
        let mut n =
            self.queue_dropped.load(Ordering::Relaxed) + self.export_failed.load(Ordering::Relaxed);
        #[cfg(feature = "store")]
        if let Some(store) = self.store.get() {
            n += store.get().dropped_spans;
        }
        n
    }
}

/// A current-thread tokio runtime on a thread of its own, for the OTLP/gRPC
/// exporters: tonic's channel spawns its connection tasks on the runtime it
/// is built in and its timeouts need a timer, while the span workers and the
/// SDK's `PeriodicReader` are plain threads. Owning the runtime makes `init()`
/// work the same inside and outside the application's runtime, and export
/// never competes with (or waits on) the application's tasks.
///
/// Dropping it stops the runtime (tasks still connecting are cancelled within
/// a second) and joins the thread.
#[cfg(feature = "grpc")]
#[derive(Debug)]
pub(crate) struct ExportRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[cfg(feature = "grpc")]
impl ExportRuntime {
    /// How long stopping waits for tasks that are still running.
    const STOP_TIMEOUT: Duration = Duration::from_secs(1);

    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tokentrace-otlp-grpc".to_owned())
            .spawn(move || {
                // tonic, h2 and hyper are never traced into the pipeline they serve.
                tracing::subscriber::with_default(
                    tracing::subscriber::NoSubscriber::default(),
                    || {
                        // Drives IO and timers for every `Handle::block_on`
                        // caller until the owner stops it (or is dropped).
                        let _ = runtime.block_on(stopped);
                        runtime.shutdown_timeout(Self::STOP_TIMEOUT);
                    },
                );
            })?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

#[cfg(feature = "grpc")]
impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs a span exporter's futures on an [`ExportRuntime`]. The caller (a
/// span worker thread) blocks; the runtime thread drives IO and timers.
#[cfg(feature = "grpc")]
#[derive(Debug)]
pub(crate) struct OnRuntime<E> {
    inner: E,
    handle: tokio::runtime::Handle,
}

#[cfg(feature = "grpc")]
impl<E> OnRuntime<E> {
    pub(crate) fn new(inner: E, runtime: &ExportRuntime) -> Self {
        Self {
            inner,
            handle: runtime.handle().clone(),
        }
    }
}

#[cfg(feature = "grpc")]
impl<E> OnRuntime<E> {
    /// Drives `export` on the export runtime. Should the runtime already be
    /// stopping (a shutdown that outlived its timeout), tokio panics inside
    /// the IO driver: that becomes a failed export, counted like any other,
    /// instead of the end of the export thread.
    fn drive(&self, export: impl Future<Output = OTelSdkResult>) -> OTelSdkResult {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.handle.block_on(export)
        }))
        .unwrap_or_else(|_| {
            Err(OTelSdkError::InternalFailure(
                "OTLP/gRPC export runtime stopped during an export".to_owned(),
            ))
        })
    }
}

#[cfg(feature = "grpc")]
impl<E: SpanExporter> BlockingExporter for OnRuntime<E> {
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.drive(self.inner.export(batch))
    }
    fn flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Runs a metric exporter's futures on an [`ExportRuntime`]: the SDK's
/// `PeriodicReader` polls `export` with a plain executor on its own thread.
#[cfg(feature = "grpc")]
impl<E: opentelemetry_sdk::metrics::exporter::PushMetricExporter>
    opentelemetry_sdk::metrics::exporter::PushMetricExporter for OnRuntime<E>
{
    async fn export(
        &self,
        metrics: &opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> OTelSdkResult {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            if tokio::runtime::Handle::try_current().is_ok() {
                // Polled from inside some runtime (not the SDK's reader
                // thread): blocking here would panic, so fail and count.
                return Err(OTelSdkError::InternalFailure(
                    "OTLP/gRPC metric export polled inside a tokio runtime".to_owned(),
                ));
            }
            self.drive(self.inner.export(metrics))
        })
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
        self.inner.temporality()
    }
}

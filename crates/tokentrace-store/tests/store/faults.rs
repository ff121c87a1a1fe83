//! Faults in the exporter: a locked database, a full disk, a full queue.
//! Each drops and counts the affected batch, never panics or blocks the
//! caller, and the exporter recovers once the fault clears.

use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanExporter;
use tokentrace_store::{Store, StoreExporter};

use crate::support::{S, export, futures_block_on, sqlite, tempdb, trace_hex};

fn batch(t: u128, n: u64) -> Vec<opentelemetry_sdk::trace::SpanData> {
    (1..=n)
        .map(|s| {
            S::new(t, s, if s == 1 { 0 } else { 1 }, "span", s, 1)
                .attr(KeyValue::new("payload", "x".repeat(2000)))
                .build()
        })
        .collect()
}

#[test]
fn a_locked_database_drops_the_batch_and_recovers() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .busy_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let locker = sqlite(&path);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    export(&exporter, batch(1, 5));
    let stats = exporter.stats();
    assert_eq!(
        (
            stats.failed_spans,
            stats.failed_batches,
            stats.written_spans
        ),
        (5, 1, 0)
    );
    locker.execute_batch("COMMIT").unwrap();

    export(&exporter, batch(2, 3));
    assert_eq!(exporter.stats().written_spans, 3);
    let store = Store::open(&path).unwrap();
    assert!(store.get_trace(&trace_hex(1)).unwrap_err().is_not_found());
    assert_eq!(store.get_trace(&trace_hex(2)).unwrap().spans.len(), 3);
    // The counters reach the meta table with the next committed batch.
    let persisted = store.export_stats().unwrap();
    assert_eq!((persisted.failed_spans, persisted.written_spans), (5, 3));
}

#[test]
fn a_full_disk_drops_batches_and_recovers_after_clear() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        // Above the empty schema (about 30 pages of 16 KiB), below 200 batches.
        .max_size_bytes(2 * 1024 * 1024)
        .build()
        .unwrap();
    let mut t = 0;
    while exporter.stats().failed_batches == 0 {
        t += 1;
        assert!(t < 200, "the size ceiling was never hit");
        export(&exporter, batch(t, 20));
    }
    let stats = exporter.stats();
    assert_eq!(stats.failed_spans, 20);
    assert_eq!(stats.written_spans, (t as u64 - 1) * 20);
    let store = Store::open(&path).unwrap();
    // The failed batch left nothing half-written.
    assert!(store.get_trace(&trace_hex(t)).unwrap_err().is_not_found());
    assert_eq!(store.span_count().unwrap(), stats.written_spans);

    assert_eq!(store.clear().unwrap(), stats.written_spans);
    export(&exporter, batch(1000, 20));
    assert_eq!(exporter.stats().failed_batches, 1);
    assert_eq!(store.get_trace(&trace_hex(1000)).unwrap().spans.len(), 20);
}

/// A group commit (batches queued behind a busy writer) that fails is
/// retried batch by batch: only the batch that does not fit fails.
#[test]
fn a_failed_group_commit_fails_only_the_batch_at_fault() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .max_size_bytes(2 * 1024 * 1024)
        .busy_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let locker = sqlite(&path);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // The writer takes the first batch and waits for the lock; the next two
    // queue up behind it and are committed together.
    assert!(futures_block_on(exporter.export(batch(1, 5))).is_ok());
    std::thread::sleep(Duration::from_millis(200));
    assert!(futures_block_on(exporter.export(batch(2, 5))).is_ok());
    // About 2 MB of payload: more than the ceiling leaves on its own.
    assert!(futures_block_on(exporter.export(batch(3, 1000))).is_ok());
    std::thread::sleep(Duration::from_millis(200));
    locker.execute_batch("COMMIT").unwrap();
    exporter
        .flush_with_timeout(Duration::from_secs(20))
        .unwrap();
    let stats = exporter.stats();
    assert_eq!(
        (
            stats.written_spans,
            stats.failed_spans,
            stats.failed_batches
        ),
        (10, 1000, 1)
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.get_trace(&trace_hex(2)).unwrap().spans.len(), 5);
    assert!(store.get_trace(&trace_hex(3)).unwrap_err().is_not_found());
}

#[test]
fn a_full_queue_drops_without_blocking_and_counts() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .queue_capacity(1)
        .busy_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    // Hold the write lock so the writer sits on the first batch.
    let locker = sqlite(&path);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let results: Vec<bool> = (1..=10)
        .map(|t| futures_block_on(exporter.export(batch(t, 4))).is_ok())
        .collect();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "export blocked"
    );
    let accepted = results.iter().filter(|ok| **ok).count() as u64;
    assert!((1..=2).contains(&accepted), "accepted {accepted}");
    assert_eq!(exporter.stats().dropped_spans, (10 - accepted) * 4);
    locker.execute_batch("COMMIT").unwrap();

    exporter
        .flush_with_timeout(Duration::from_secs(10))
        .unwrap();
    export(&exporter, batch(11, 4));
    let store = Store::open(&path).unwrap();
    let persisted = store.export_stats().unwrap();
    assert_eq!(persisted.dropped_spans, (10 - accepted) * 4);
    assert_eq!(
        persisted.written_spans + persisted.failed_spans,
        accepted * 4 + 4
    );
}

#[test]
fn export_after_shutdown_is_refused() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    export(&exporter, batch(1, 2));
    exporter.shutdown().unwrap();
    assert!(futures_block_on(exporter.export(batch(2, 2))).is_err());
    assert_eq!(Store::open(&path).unwrap().span_count().unwrap(), 2);
}

/// Committed pages reach the database file from the checkpoint thread, long
/// before the writer's own 64 MiB autocheckpoint would copy them.
#[test]
fn checkpoints_run_in_the_background() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let initial = std::fs::metadata(&path).unwrap().len();
    for t in 1..=20 {
        export(&exporter, batch(t, 20));
    }
    // 400 spans of 2 kB: about 1 MB of pages, all in the WAL at first.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&path).unwrap().len() < initial + 500_000 {
        assert!(Instant::now() < deadline, "nothing was checkpointed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(exporter.stats().written_spans, 400);
}

//! Spans handed to the store one at a time (`StoreExporter::try_push`, the
//! path the facade's span processor takes): the store's one queue batches
//! them, bounds them (a full queue drops and counts, never blocks), and a
//! flush waits until they are written.

use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanExporter;
use tokentrace_store::{Store, StoreExporter};

use crate::support::{S, futures_block_on, sqlite, tempdb, trace_hex};

fn span(t: u128, s: u64) -> opentelemetry_sdk::trace::SpanData {
    S::new(t, s, if s == 1 { 0 } else { 1 }, "span", s, 1)
        .attr(KeyValue::new("n", s as i64))
        .build()
}

#[test]
fn pushed_spans_are_batched_and_a_flush_waits_for_them() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        // Never cut by time in this test: by size, then by the flush.
        .span_batching(4, Duration::from_secs(3600))
        .build()
        .unwrap();
    for s in 1..=10 {
        assert!(exporter.try_push(span(1, s)));
    }
    exporter
        .flush_with_timeout(Duration::from_secs(10))
        .unwrap();
    let stats = exporter.stats();
    assert_eq!((stats.written_spans, stats.dropped_spans), (10, 0));
    let store = Store::open(&path).unwrap();
    let trace = store.get_trace(&trace_hex(1)).unwrap();
    assert_eq!(trace.spans.len(), 10);
    assert_eq!(trace.spans[0].depth, 0);
    assert!(trace.spans[1..].iter().all(|s| s.depth == 1));
}

#[test]
fn a_pushed_span_is_written_after_the_delay_without_a_flush() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .span_batching(512, Duration::from_millis(50))
        .build()
        .unwrap();
    assert!(exporter.try_push(span(2, 1)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while exporter.stats().written_spans == 0 {
        assert!(Instant::now() < deadline, "the delay never cut the batch");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(Store::open(&path).unwrap().span_count().unwrap(), 1);
}

/// Behind a locked database the queue fills: batches up to
/// `queue_capacity`, then spans up to `span_queue_capacity`; the rest are
/// dropped at once and counted in the one counter, persisted with the others.
#[test]
fn a_full_queue_drops_pushed_spans_without_blocking_and_counts_them() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .queue_capacity(2)
        .span_queue_capacity(5)
        .span_batching(3, Duration::from_secs(3600))
        .busy_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let locker = sqlite(&path);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let mut accepted = 0u64;
    for s in 1..=100 {
        accepted += u64::from(exporter.try_push(span(3, s)));
        if s % 3 == 0 {
            // Let the encoder and writer take what fits.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "try_push blocked"
    );
    // The writer holds one group (at least a batch of 3), two batches wait,
    // five spans wait to be batched: nothing more fits.
    assert!((3 * 3 + 5..=3 * 4 + 5).contains(&accepted), "{accepted}");
    assert_eq!(exporter.stats().dropped_spans, 100 - accepted);
    locker.execute_batch("COMMIT").unwrap();

    exporter
        .flush_with_timeout(Duration::from_secs(20))
        .unwrap();
    let stats = exporter.stats();
    assert_eq!(
        (stats.written_spans, stats.dropped_spans, stats.failed_spans),
        (accepted, 100 - accepted, 0)
    );
    exporter.shutdown().unwrap();
    let persisted = Store::open(&path).unwrap().export_stats().unwrap();
    assert_eq!(
        (persisted.written_spans, persisted.dropped_spans),
        (accepted, 100 - accepted)
    );
}

#[test]
fn shutdown_writes_pushed_spans_and_refuses_later_ones() {
    let (_d, path) = tempdb();
    let exporter = StoreExporter::builder(&path)
        .span_batching(512, Duration::from_secs(3600))
        .build()
        .unwrap();
    for s in 1..=3 {
        assert!(exporter.try_push(span(4, s)));
    }
    exporter.shutdown().unwrap();
    assert_eq!(Store::open(&path).unwrap().span_count().unwrap(), 3);
    assert!(!exporter.try_push(span(4, 4)));
    assert_eq!(exporter.stats().dropped_spans, 1);
    assert!(futures_block_on(exporter.export(vec![span(4, 5)])).is_err());
}

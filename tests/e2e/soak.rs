//! A soak at steady load through the default pipeline (SQLite store on):
//! resident memory stays flat after warm-up, and every span that was opened
//! ends and is exported.
//!
//! `TOKENTRACE_SOAK_SECS` sets the duration: 180 s in the suite, 300 s for the
//! full soak (`docs/robustness.md`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokentrace::Telemetry;
use tokentrace::store::Store;
use tokentrace_tests::{RssSampler, SpanSink, mib, runtime_with, serial};

use crate::support::{agent_service, call_agent, fast_mocks, load_client, serve};

/// Concurrent clients, each sending its next request as soon as the last ended.
const CLIENTS: u64 = 16;
/// Growth of resident memory allowed after warm-up (end and peak). The
/// pipeline holds at most one queue of spans (2048) and the store writer's
/// SQLite page cache, bounded here to [`PAGE_CACHE`]; anything per request
/// that leaked would pass this within seconds at several hundred requests a
/// second.
const MAX_GROWTH: u64 = 24 * 1024 * 1024;

/// The store's page cache in this test. Its default (64 MiB, allocated as
/// used) fills as the database grows, which would hide a leak of the same
/// size; a small bound keeps the memory check about everything else.
const PAGE_CACHE: u64 = 4 * 1024 * 1024;

fn duration() -> Duration {
    Duration::from_secs(
        std::env::var("TOKENTRACE_SOAK_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(180),
    )
}

#[test]
fn steady_load_keeps_memory_flat_and_closes_every_span() {
    let _serial = serial();
    let run = duration();
    let warm_up = (run / 5).max(Duration::from_secs(5)).min(run / 2);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let sink = SpanSink::counting();
    let (dispatch, guard) = Telemetry::builder()
        .service_name("e2e-soak")
        .store(&db)
        .store_page_cache_bytes(PAGE_CACHE)
        .span_exporter(sink.clone())
        .build()
        .unwrap();
    let rt = runtime_with(&dispatch, 2).unwrap();
    let sampler = RssSampler::start(Duration::from_millis(500));
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            let mocks = fast_mocks().await;
            let addr = serve(agent_service(&mocks)).await;
            let client = load_client(CLIENTS as usize);
            let stop = Arc::new(AtomicBool::new(false));
            let next = Arc::new(AtomicU64::new(0));
            let workers: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let (client, stop, next, sent, failed) = (
                        client.clone(),
                        stop.clone(),
                        next.clone(),
                        sent.clone(),
                        failed.clone(),
                    );
                    tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            // Ids wrap so the request-id format stays 6 digits.
                            let i = next.fetch_add(1, Ordering::Relaxed) % 1_000_000;
                            sent.fetch_add(1, Ordering::Relaxed);
                            if call_agent(&client, addr, i).await.is_err() {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            tokio::time::sleep(run).await;
            stop.store(true, Ordering::Relaxed);
            for w in workers {
                w.await.unwrap();
            }
        });
    });
    let elapsed = started.elapsed();
    guard.flush();
    let rss = sampler.stop();
    let sent = sent.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    let lost = guard.dropped_spans();
    let base = rss.at(warm_up);
    let peak = rss.peak_after(warm_up);
    let stored = Store::open(&db).unwrap().span_count().unwrap();
    eprintln!(
        "soak: {:.0} s, {sent} requests ({:.0} req/s, {CLIENTS} clients), {failed} failed; \
         spans exported {} (workflow {}, llm {}), stored {stored}, lost {lost}; \
         RSS start {:.1} MiB, after {:.0} s warm-up {:.1} MiB, peak after warm-up {:.1} MiB, \
         peak {:.1} MiB, end {:.1} MiB",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        sink.total(),
        sink.count("workflow"),
        sink.count("llm"),
        mib(rss.start),
        warm_up.as_secs_f64(),
        mib(base),
        mib(peak),
        mib(rss.peak),
        mib(rss.end),
    );
    assert!(sent > 0);
    assert_eq!(failed, 0);
    assert_eq!(lost, 0);
    // Every span opened (one workflow and two LLM calls per request) ended
    // and reached both exporters.
    assert_eq!(sink.count("workflow"), sent);
    assert_eq!(sink.count("llm"), 2 * sent);
    assert_eq!(sink.total(), 3 * sent);
    assert_eq!(stored, 3 * sent);
    assert!(
        rss.end.saturating_sub(base) < MAX_GROWTH,
        "memory grew from {:.1} to {:.1} MiB after warm-up",
        mib(base),
        mib(rss.end)
    );
    assert!(
        peak.saturating_sub(base) < MAX_GROWTH,
        "memory peaked at {:.1} MiB after {:.1} MiB at warm-up",
        mib(peak),
        mib(base)
    );
    drop(rt);
    drop(guard);
}

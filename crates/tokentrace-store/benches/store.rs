//! Store benchmarks: batched ingest in spans per second, and the dashboard's
//! queries on 1,000,000 stored spans (p95 printed per query).
//!
//! Run with `cargo bench -p tokentrace-store --bench store`.
#![allow(missing_docs, clippy::print_stdout)]

use std::borrow::Cow;
use std::time::{Duration, Instant, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use tokentrace_core::semconv;
use tokentrace_store::{GroupBy, Store, StoreExporter, TraceFilter};

const SPANS_PER_TRACE: u64 = 10;
const BATCH: u64 = 2000;
const MODELS: [&str; 4] = [
    "gpt-4o-mini",
    "gpt-4o",
    "claude-3-5-sonnet",
    "gemini-2.0-flash",
];

fn span(trace: u64, s: u64) -> SpanData {
    let start = UNIX_EPOCH + Duration::from_millis(1_735_689_600_000 + trace * 100 + s);
    let root = s == 1;
    let mut attributes = vec![KeyValue::new(semconv::USER_ID, format!("u{}", trace % 500))];
    if root {
        attributes.push(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "workflow"));
        attributes.push(KeyValue::new(
            semconv::GEN_AI_WORKFLOW_NAME,
            format!("wf{}", trace % 20),
        ));
        attributes.push(KeyValue::new(
            semconv::SESSION_ID,
            format!("s{}", trace % 5000),
        ));
    } else if s.is_multiple_of(3) {
        let model = MODELS[(trace % 4) as usize];
        attributes.extend([
            KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "llm"),
            KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, "openai"),
            KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, model),
            KeyValue::new(semconv::GEN_AI_USAGE_INPUT_TOKENS, 120_i64),
            KeyValue::new(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 40_i64),
            KeyValue::new(semconv::COST_TOTAL_USD, 0.000_042),
        ]);
    }
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(u128::from(trace) + 1),
            SpanId::from(s),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: if root {
            SpanId::INVALID
        } else {
            SpanId::from(1)
        },
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(if root {
            format!("workflow.wf{}", trace % 20)
        } else {
            format!("step {s}")
        }),
        start_time: start,
        end_time: start + Duration::from_millis(5 + (trace * 7 + s) % 900),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: if trace.is_multiple_of(50) && s == 2 {
            Status::error("boom")
        } else {
            Status::Unset
        },
        instrumentation_scope: InstrumentationScope::builder("bench").build(),
    }
}

fn batch(first_trace: u64, spans: u64) -> Vec<SpanData> {
    (0..spans)
        .map(|i| span(first_trace + i / SPANS_PER_TRACE, i % SPANS_PER_TRACE + 1))
        .collect()
}

fn export(exporter: &StoreExporter, b: Vec<SpanData>) {
    let mut f = std::pin::pin!(exporter.export(b));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = f.as_mut().poll(&mut cx);
}

fn ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let exporter = StoreExporter::builder(dir.path().join("ingest.db"))
        .queue_capacity(1024)
        .build()
        .unwrap();
    let per_iter = 20 * BATCH;
    let mut next = 0u64;
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(per_iter));
    g.sample_size(10);
    g.bench_function("batched_2000", |b| {
        b.iter_custom(|iters| {
            let batches: Vec<Vec<SpanData>> = (0..iters * 20)
                .map(|_| {
                    let v = batch(next, BATCH);
                    next += BATCH / SPANS_PER_TRACE;
                    v
                })
                .collect();
            let t = Instant::now();
            for b in batches {
                export(&exporter, b);
            }
            exporter
                .flush_with_timeout(Duration::from_secs(600))
                .unwrap();
            t.elapsed()
        });
    });
    g.finish();
    assert_eq!(exporter.stats().dropped_spans, 0);
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("query.db");
    let exporter = StoreExporter::builder(&path)
        .queue_capacity(1024)
        .build()
        .unwrap();
    let t = Instant::now();
    let total = 1_000_000u64;
    for i in 0..total / BATCH {
        export(&exporter, batch(i * BATCH / SPANS_PER_TRACE, BATCH));
    }
    exporter
        .flush_with_timeout(Duration::from_secs(600))
        .unwrap();
    let setup = t.elapsed();
    assert_eq!(exporter.stats().written_spans, total);
    println!(
        "seeded {total} spans in {setup:.2?} ({:.0} spans/s)",
        total as f64 / setup.as_secs_f64()
    );
    drop(exporter);
    let store = Store::open(&path).unwrap();
    let some_trace = format!("{:032x}", 12_346);

    let cases: Vec<(&str, Box<dyn Fn()>)> = vec![
        (
            "traces_page",
            Box::new(|| drop(store.traces(&TraceFilter::new()).unwrap())),
        ),
        (
            "traces_page_5",
            Box::new(|| drop(store.traces(&TraceFilter::new().page(50, 250)).unwrap())),
        ),
        (
            "traces_by_workflow",
            Box::new(|| drop(store.traces(&TraceFilter::new().workflow("wf7")).unwrap())),
        ),
        (
            "traces_by_user",
            Box::new(|| drop(store.traces(&TraceFilter::new().user_id("u42")).unwrap())),
        ),
        (
            "traces_errors",
            Box::new(|| drop(store.traces(&TraceFilter::new().errors_only(true)).unwrap())),
        ),
        (
            "traces_by_model",
            Box::new(|| drop(store.traces(&TraceFilter::new().model("gpt-4o")).unwrap())),
        ),
        (
            "get_trace",
            Box::new(|| drop(store.get_trace(&some_trace).unwrap())),
        ),
        (
            "stats_workflow",
            Box::new(|| drop(store.stats(GroupBy::Workflow).unwrap())),
        ),
        (
            "stats_model",
            Box::new(|| drop(store.stats(GroupBy::Model).unwrap())),
        ),
        (
            "stats_day",
            Box::new(|| drop(store.stats(GroupBy::Day).unwrap())),
        ),
        (
            "slowest_workflows",
            Box::new(|| drop(store.slowest_workflows(10).unwrap())),
        ),
        ("sessions", Box::new(|| drop(store.sessions().unwrap()))),
    ];
    for (name, f) in &cases {
        let mut samples: Vec<Duration> = (0..30)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        samples.sort();
        println!(
            "{name:>20}: p50 {:>9.2?}  p95 {:>9.2?}",
            samples[14], samples[28]
        );
    }
    let mut g = c.benchmark_group("query_1m");
    g.sample_size(10);
    for (name, f) in &cases {
        g.bench_function(*name, |b| b.iter(f));
    }
    g.finish();
}

criterion_group!(benches, ingest, queries);
criterion_main!(benches);

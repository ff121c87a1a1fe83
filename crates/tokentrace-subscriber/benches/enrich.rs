//! Cost of creating and closing a span under `metadata!` + `prompt_template!`
//! guards versus without, through the same subscriber (EnrichLayer + the
//! tracing-opentelemetry layer over an SDK tracer with no exporter).
//!
//! Run with `cargo bench -p tokentrace-subscriber --bench enrich`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokentrace_core::semconv;
use tokentrace_subscriber::{EnrichLayer, metadata, prompt_template};
use tracing_subscriber::prelude::*;

fn llm_span() -> tracing::Span {
    tracing::info_span!(
        "llm",
        { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
        { semconv::GEN_AI_USAGE_INPUT_TOKENS } = tracing::field::Empty,
        { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = tracing::field::Empty,
    )
}

fn bench(c: &mut Criterion) {
    let provider = SdkTracerProvider::builder().build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(EnrichLayer::new().no_metrics())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        let root = tracing::info_span!("root", { semconv::TOKENTRACE_SPAN_TYPE } = "workflow");
        let _root = root.enter();
        let mut group = c.benchmark_group("span create+close");

        group.bench_function("plain, no guard", |b| {
            b.iter(|| black_box(tracing::info_span!("plain")));
        });
        group.bench_function("llm, no guard", |b| {
            b.iter(|| {
                let s = llm_span();
                s.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 10_i64);
                black_box(s)
            });
        });

        let _m = metadata!(
            user_id = "u-17",
            session_id = "s-9",
            tags = ["prod", "v2"],
            customer = "Acme"
        );
        let _t = prompt_template!(
            "Answer using {context}: {question}",
            version = "2.0",
            context = "docs",
            question = "why?"
        );
        group.bench_function("plain, under guards", |b| {
            b.iter(|| black_box(tracing::info_span!("plain")));
        });
        group.bench_function("llm, under guards", |b| {
            b.iter(|| {
                let s = llm_span();
                s.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 10_i64);
                black_box(s)
            });
        });
        group.bench_function("open+drop metadata guard", |b| {
            b.iter(|| black_box(metadata!(user_id = "u-1", plan = "pro")));
        });
        group.finish();
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! GenAI client metrics recorded when LLM spans close.

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, HistogramDataPoint, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use tokentrace_core::semconv;
use tokentrace_core::semconv::SemconvMode;
use tokentrace_core::semconv::metrics as names;
use tokentrace_core::timing::ChunkGaps;
use tokentrace_subscriber::EnrichLayer;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan as _;

use crate::support::{Call, llm_span, record_failure, record_usage, workflow_span};

fn has(attrs: &[KeyValue], key: &str, value: &str) -> bool {
    attrs
        .iter()
        .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
}

fn histogram_points_u64(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<(Vec<KeyValue>, u64, u64, Vec<f64>)> {
    let mut out = Vec::new();
    for rm in metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                if let AggregatedMetrics::U64(MetricData::Histogram(h)) = m.data() {
                    out.extend(h.data_points().map(|p: &HistogramDataPoint<u64>| {
                        (
                            p.attributes().cloned().collect(),
                            p.count(),
                            p.sum(),
                            p.bounds().collect(),
                        )
                    }));
                }
            }
        }
    }
    out
}

fn histogram_points_f64(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<(Vec<KeyValue>, u64, f64, Vec<f64>)> {
    let mut out = Vec::new();
    for rm in metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                if let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() {
                    out.extend(h.data_points().map(|p| {
                        (
                            p.attributes().cloned().collect(),
                            p.count(),
                            p.sum(),
                            p.bounds().collect(),
                        )
                    }));
                }
            }
        }
    }
    out
}

fn counter_f64(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<(Vec<KeyValue>, f64)> {
    let mut out = Vec::new();
    for rm in metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                if let AggregatedMetrics::F64(MetricData::Sum(s)) = m.data() {
                    out.extend(
                        s.data_points()
                            .map(|p| (p.attributes().cloned().collect(), p.value())),
                    );
                }
            }
        }
    }
    out
}

fn counter_u64(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<(Vec<KeyValue>, u64)> {
    let mut out = Vec::new();
    for rm in metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                if let AggregatedMetrics::U64(MetricData::Sum(s)) = m.data() {
                    out.extend(
                        s.data_points()
                            .map(|p| (p.attributes().cloned().collect(), p.value())),
                    );
                }
            }
        }
    }
    out
}

fn names_of(metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics]) -> Vec<String> {
    let mut out: Vec<String> = metrics
        .iter()
        .flat_map(|rm| rm.scope_metrics())
        .flat_map(|sm| sm.metrics().map(|m| m.name().to_owned()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Leaves chunk gaps on a span the way the reqwest middleware does.
fn hand_gaps(span: &tracing::Span, gaps: &[f64]) {
    let mut g = ChunkGaps::default();
    for x in gaps {
        g.push(*x);
    }
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch
            .downcast_ref::<tracing_subscriber::Registry>()
            .expect("registry");
        registry.span(id).expect("span").extensions_mut().replace(g);
    });
}

/// One streamed chat call with usage (audio tokens among them), chunk gaps
/// and a time to first chunk; one failed call without usage; one
/// embeddings call. Spans are not sampled: metrics come from tracing.
fn record_calls(
    mode: Option<SemconvMode>,
) -> Vec<opentelemetry_sdk::metrics::data::ResourceMetrics> {
    let metric_exporter = InMemoryMetricExporter::default();
    let meter_provider = SdkMeterProvider::builder()
        .with_periodic_exporter(metric_exporter.clone())
        .build();
    let span_exporter = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .with_simple_exporter(span_exporter.clone())
        .build();
    let mut layer = EnrichLayer::new().meter(meter_provider.meter("tokentrace"));
    if let Some(mode) = mode {
        layer = layer.semconv(mode);
    }
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("test")));

    tracing::subscriber::with_default(subscriber, || {
        let _w = workflow_span("w").entered();
        let ok = llm_span("ok");
        record_usage(
            &ok,
            Call {
                input: 300,
                output: 20,
                cache_read: 100,
                cache_write: 50,
                reasoning: 8,
                cost: 0.75,
            },
        );
        ok.record(semconv::GEN_AI_USAGE_AUDIO_INPUT_TOKENS, 40_i64);
        ok.record(semconv::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS, 5_i64);
        ok.record(semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, 0.05);
        hand_gaps(&ok, &[0.01, 0.03, 0.5]);
        drop(ok);
        let failed = llm_span("failed");
        record_failure(&failed, "rate_limit_exceeded");
        drop(failed);
        let embed = tracing::info_span!(
            "embed",
            { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
            { semconv::GEN_AI_OPERATION_NAME } = "embeddings",
            { semconv::GEN_AI_PROVIDER_NAME } = "openai",
            { semconv::GEN_AI_REQUEST_MODEL } = "text-embedding-3-small",
            { semconv::GEN_AI_USAGE_INPUT_TOKENS } = 12_i64,
        );
        drop(embed);
    });
    meter_provider.force_flush().expect("flush");
    assert!(
        span_exporter
            .get_finished_spans()
            .expect("spans")
            .is_empty(),
        "nothing sampled"
    );
    metric_exporter.get_finished_metrics().expect("metrics")
}

fn assert_common(attrs: &[KeyValue]) {
    assert!(has(attrs, semconv::GEN_AI_OPERATION_NAME, "chat"));
    assert!(has(attrs, semconv::GEN_AI_PROVIDER_NAME, "openai"));
    assert!(has(attrs, semconv::GEN_AI_REQUEST_MODEL, "gpt-4o-mini"));
    assert!(has(attrs, semconv::SERVER_ADDRESS, "api.openai.com"));
    assert!(
        attrs
            .iter()
            .any(|kv| kv.key.as_str() == semconv::SERVER_PORT
                && kv.value == opentelemetry::Value::I64(443))
    );
}

fn assert_cost(metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics]) {
    let cost = counter_f64(metrics, "tokentrace.cost.usd");
    let total: f64 = cost.iter().map(|c| c.1).sum();
    assert!((total - 0.75).abs() < 1e-12, "{total}");
    assert!(has(&cost[0].0, semconv::GEN_AI_PROVIDER_NAME, "openai"));
}

fn assert_current(metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics]) {
    // Usage counters by modality: the provider's audio part, the rest unknown.
    let input = counter_u64(metrics, names::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS);
    let point = |points: &[(Vec<KeyValue>, u64)], modality: &str, ok: bool| {
        points
            .iter()
            .find(|(a, _)| {
                has(a, semconv::GEN_AI_TOKEN_MODALITY, modality)
                    && has(a, semconv::GEN_AI_RESPONSE_MODEL, "gpt-4o-mini-2024-07-18") == ok
            })
            .map(|p| p.1)
    };
    assert_eq!(point(&input, "audio", true), Some(40));
    assert_eq!(point(&input, "unknown", true), Some(260));
    // The failed call without usage counts 0 under `unknown`.
    let failed: Vec<_> = input
        .iter()
        .filter(|(a, _)| {
            has(a, semconv::ERROR_TYPE, "rate_limit_exceeded")
                || !has(a, semconv::GEN_AI_RESPONSE_MODEL, "gpt-4o-mini-2024-07-18")
        })
        .collect();
    assert_eq!(failed.len(), 1, "{input:?}");
    assert_eq!(failed[0].1, 0);
    assert!(has(&failed[0].0, semconv::GEN_AI_TOKEN_MODALITY, "unknown"));
    let ok_input = input
        .iter()
        .find(|(a, _)| has(a, semconv::GEN_AI_TOKEN_MODALITY, "audio"))
        .expect("audio");
    assert_common(&ok_input.0);
    assert!(
        !ok_input
            .0
            .iter()
            .any(|kv| kv.key.as_str() == semconv::GEN_AI_TOKEN_TYPE),
        "no gen_ai.token.type under the current names"
    );
    let output = counter_u64(metrics, names::GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS);
    assert_eq!(point(&output, "audio", true), Some(5));
    assert_eq!(point(&output, "unknown", true), Some(15));
    for (name, want) in [
        (
            names::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS,
            100,
        ),
        (
            names::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS,
            50,
        ),
        (
            names::GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS,
            8,
        ),
    ] {
        let points = counter_u64(metrics, name);
        assert_eq!(points.len(), 1, "{name}: {points:?}");
        assert_eq!(points[0].1, want, "{name}");
        assert!(has(&points[0].0, semconv::GEN_AI_TOKEN_MODALITY, "unknown"));
        assert_common(&points[0].0);
    }
    // Per-call histograms: no modality.
    let per_call = histogram_points_u64(
        metrics,
        names::GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
    );
    assert_eq!(
        per_call.len(),
        1,
        "the failed call had no usage: {per_call:?}"
    );
    assert_eq!((per_call[0].1, per_call[0].2), (1, 300));
    assert!(
        !per_call[0]
            .0
            .iter()
            .any(|kv| kv.key.as_str() == semconv::GEN_AI_TOKEN_MODALITY)
    );
    assert_eq!(per_call[0].3.len(), 14);
    assert_eq!(per_call[0].3.last(), Some(&67_108_864.0));
    let per_call = histogram_points_u64(
        metrics,
        names::GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
    );
    assert_eq!((per_call[0].1, per_call[0].2), (1, 20));

    // Durations: inference for chat, operation for embeddings.
    let durations = histogram_points_f64(metrics, names::GEN_AI_CLIENT_INFERENCE_DURATION);
    assert_eq!(
        durations.iter().map(|d| d.1).sum::<u64>(),
        2,
        "chat calls only"
    );
    let failed = durations
        .iter()
        .find(|(a, ..)| has(a, semconv::ERROR_TYPE, "rate_limit_exceeded"))
        .expect("failed call carries error.type");
    assert_eq!(failed.1, 1);
    assert_eq!(failed.3.first(), Some(&0.01));
    assert_eq!(failed.3.last(), Some(&81.92));
    let embeddings = histogram_points_f64(metrics, names::GEN_AI_CLIENT_OPERATION_DURATION);
    assert_eq!(embeddings.len(), 1, "{embeddings:?}");
    assert!(has(
        &embeddings[0].0,
        semconv::GEN_AI_OPERATION_NAME,
        "embeddings"
    ));

    let ttfc = histogram_points_f64(metrics, names::GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK);
    assert_eq!(ttfc.len(), 1);
    assert_eq!(ttfc[0].1, 1);
    assert!((ttfc[0].2 - 0.05).abs() < 1e-12);
    assert_common(&ttfc[0].0);

    // One point per chunk after the first.
    let tpoc = histogram_points_f64(
        metrics,
        names::GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    );
    assert_eq!(tpoc.len(), 1);
    assert_eq!(tpoc[0].1, 3);
    assert!((tpoc[0].2 - 0.54).abs() < 1e-6, "{}", tpoc[0].2);
    assert!(has(
        &tpoc[0].0,
        semconv::GEN_AI_RESPONSE_MODEL,
        "gpt-4o-mini-2024-07-18"
    ));
    assert_eq!(tpoc[0].3.first(), Some(&0.01));
    assert_eq!(tpoc[0].3.len(), 14);
    assert_cost(metrics);
}

fn assert_previous(metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics]) {
    let tokens = histogram_points_u64(metrics, names::GEN_AI_CLIENT_TOKEN_USAGE);
    let input = tokens
        .iter()
        .find(|(a, ..)| {
            has(a, semconv::GEN_AI_TOKEN_TYPE, "input")
                && has(a, semconv::GEN_AI_OPERATION_NAME, "chat")
        })
        .expect("input tokens point");
    assert_eq!((input.1, input.2), (1, 300));
    assert_common(&input.0);
    assert!(has(
        &input.0,
        semconv::GEN_AI_RESPONSE_MODEL,
        "gpt-4o-mini-2024-07-18"
    ));
    assert!(
        !input
            .0
            .iter()
            .any(|kv| kv.key.as_str() == semconv::GEN_AI_TOKEN_MODALITY)
    );
    assert_eq!(input.3.first(), Some(&1.0));
    assert_eq!(input.3.last(), Some(&67_108_864.0));
    assert_eq!(input.3.len(), 14);
    let output = tokens
        .iter()
        .find(|(a, ..)| has(a, semconv::GEN_AI_TOKEN_TYPE, "output"))
        .expect("output tokens point");
    assert_eq!((output.1, output.2), (1, 20));
    let embeddings = tokens
        .iter()
        .find(|(a, ..)| has(a, semconv::GEN_AI_OPERATION_NAME, "embeddings"))
        .expect("embeddings input tokens");
    assert_eq!(embeddings.2, 12);

    // Every operation under gen_ai.client.operation.duration.
    let durations = histogram_points_f64(metrics, names::GEN_AI_CLIENT_OPERATION_DURATION);
    assert_eq!(
        durations.iter().map(|d| d.1).sum::<u64>(),
        3,
        "one per call"
    );
    let failed = durations
        .iter()
        .find(|(a, ..)| has(a, semconv::ERROR_TYPE, "rate_limit_exceeded"))
        .expect("failed call carries error.type");
    assert_eq!(failed.1, 1);

    let ttfc = histogram_points_f64(metrics, names::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK);
    assert_eq!(ttfc.len(), 1);
    assert!((ttfc[0].2 - 0.05).abs() < 1e-12);
    let tpoc = histogram_points_f64(
        metrics,
        names::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
    );
    assert_eq!(tpoc.len(), 1);
    assert_eq!(tpoc[0].1, 3);
    assert_cost(metrics);
}

const CURRENT_ONLY: &[&str] = &[
    names::GEN_AI_CLIENT_INFERENCE_DURATION,
    names::GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
    names::GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    names::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
    names::GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
    names::GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
];
const PREVIOUS_ONLY: &[&str] = &[
    names::GEN_AI_CLIENT_TOKEN_USAGE,
    names::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    names::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
];

/// Metrics come from the tracing span, so they are recorded even when the
/// OpenTelemetry span is not sampled. The default (`Latest`) records the
/// current names only.
#[test]
fn llm_spans_record_current_genai_metrics_by_default_even_when_not_sampled() {
    let metrics = record_calls(None);
    assert_current(&metrics);
    let recorded = names_of(&metrics);
    for name in PREVIOUS_ONLY {
        assert!(
            !recorded.iter().any(|n| n == name),
            "{name} in {recorded:?}"
        );
    }
    let explicit = record_calls(Some(SemconvMode::Latest));
    assert_eq!(names_of(&explicit), recorded);
}

/// `Legacy` (v1.41.0): `gen_ai.client.token.usage` by `gen_ai.token.type`
/// and `gen_ai.client.operation.*`, nothing of the current set.
#[test]
fn legacy_mode_records_the_previous_metric_names_only() {
    let metrics = record_calls(Some(SemconvMode::Legacy));
    assert_previous(&metrics);
    let recorded = names_of(&metrics);
    for name in CURRENT_ONLY {
        assert!(
            !recorded.iter().any(|n| n == name),
            "{name} in {recorded:?}"
        );
    }
}

/// `Duplicate` (`gen_ai_latest_experimental/dup`): both sets, each complete.
#[test]
fn duplicate_mode_records_both_metric_name_sets() {
    let metrics = record_calls(Some(SemconvMode::Duplicate));
    let recorded = names_of(&metrics);
    for name in CURRENT_ONLY.iter().chain(PREVIOUS_ONLY) {
        assert!(
            recorded.iter().any(|n| n == name),
            "{name} missing from {recorded:?}"
        );
    }
    assert_previous(&metrics);
    // The embeddings duration has the same name in both sets: counted once
    // (assert_previous: 3 points for 3 calls).
    let input = counter_u64(&metrics, names::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS);
    assert_eq!(input.iter().map(|p| p.1).sum::<u64>(), 300);
    let tpoc = histogram_points_f64(
        &metrics,
        names::GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    );
    assert_eq!(tpoc[0].1, 3);
}

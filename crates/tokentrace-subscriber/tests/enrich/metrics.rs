//! GenAI client metrics recorded when LLM spans close.

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, HistogramDataPoint, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use tokentrace_core::semconv;
use tokentrace_subscriber::EnrichLayer;
use tracing_subscriber::prelude::*;

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

/// Metrics come from the tracing span, so they are recorded even when the
/// OpenTelemetry span is not sampled.
#[test]
fn llm_spans_record_genai_client_metrics_even_when_not_sampled() {
    let metric_exporter = InMemoryMetricExporter::default();
    let meter_provider = SdkMeterProvider::builder()
        .with_periodic_exporter(metric_exporter.clone())
        .build();
    let span_exporter = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .with_simple_exporter(span_exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(EnrichLayer::new().meter(meter_provider.meter("tokentrace")))
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("test")));

    tracing::subscriber::with_default(subscriber, || {
        let _w = workflow_span("w").entered();
        let ok = llm_span("ok");
        record_usage(
            &ok,
            Call {
                input: 300,
                output: 20,
                cost: 0.75,
                ..Call::default()
            },
        );
        ok.record(semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, 0.05);
        drop(ok);
        let failed = llm_span("failed");
        record_failure(&failed, "rate_limit_exceeded");
    });
    meter_provider.force_flush().expect("flush");
    let metrics = metric_exporter.get_finished_metrics().expect("metrics");
    assert!(
        span_exporter
            .get_finished_spans()
            .expect("spans")
            .is_empty(),
        "nothing sampled"
    );

    let tokens = histogram_points_u64(&metrics, "gen_ai.client.token.usage");
    let input = tokens
        .iter()
        .find(|(a, ..)| has(a, semconv::GEN_AI_TOKEN_TYPE, "input"))
        .expect("input tokens point");
    assert_eq!((input.1, input.2), (1, 300));
    assert!(has(&input.0, semconv::GEN_AI_OPERATION_NAME, "chat"));
    assert!(has(&input.0, semconv::GEN_AI_PROVIDER_NAME, "openai"));
    assert!(has(&input.0, semconv::GEN_AI_REQUEST_MODEL, "gpt-4o-mini"));
    assert!(has(
        &input.0,
        semconv::GEN_AI_RESPONSE_MODEL,
        "gpt-4o-mini-2024-07-18"
    ));
    assert!(has(&input.0, semconv::SERVER_ADDRESS, "api.openai.com"));
    assert!(
        input
            .0
            .iter()
            .any(|kv| kv.key.as_str() == semconv::SERVER_PORT
                && kv.value == opentelemetry::Value::I64(443))
    );
    assert_eq!(input.3.first(), Some(&1.0));
    assert_eq!(input.3.last(), Some(&67_108_864.0));
    assert_eq!(input.3.len(), 14);
    let output = tokens
        .iter()
        .find(|(a, ..)| has(a, semconv::GEN_AI_TOKEN_TYPE, "output"))
        .expect("output tokens point");
    assert_eq!((output.1, output.2), (1, 20));

    let durations = histogram_points_f64(&metrics, "gen_ai.client.operation.duration");
    assert_eq!(
        durations.iter().map(|d| d.1).sum::<u64>(),
        2,
        "one per call"
    );
    let failed = durations
        .iter()
        .find(|(a, ..)| has(a, semconv::ERROR_TYPE, "rate_limit_exceeded"))
        .expect("failed call carries error.type");
    assert_eq!(failed.1, 1);
    assert_eq!(failed.3.first(), Some(&0.01));
    assert_eq!(failed.3.last(), Some(&81.92));

    let ttfc = histogram_points_f64(&metrics, "gen_ai.client.operation.time_to_first_chunk");
    assert_eq!(ttfc.len(), 1);
    assert_eq!(ttfc[0].1, 1);
    assert!((ttfc[0].2 - 0.05).abs() < 1e-12);

    let cost = counter_f64(&metrics, "tokentrace.cost.usd");
    let total: f64 = cost.iter().map(|c| c.1).sum();
    assert!((total - 0.75).abs() < 1e-12, "{total}");
    assert!(has(&cost[0].0, semconv::GEN_AI_PROVIDER_NAME, "openai"));
}

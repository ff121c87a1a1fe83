//! Test harness: a subscriber wired like the facade wires it, an exporter to
//! read back, and span helpers shaped like the reqwest middleware's.

use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tokentrace_core::semconv;
use tokentrace_subscriber::EnrichLayer;
use tokentrace_test_support::Capture;
use tracing::field::Empty;

/// One test pipeline (registry, `EnrichLayer`, OpenTelemetry layer, an
/// in-memory exporter), not installed: run code under it with `run`.
pub(crate) struct Pipeline(Capture);

impl std::ops::Deref for Pipeline {
    type Target = Capture;
    fn deref(&self) -> &Capture {
        &self.0
    }
}

impl Pipeline {
    pub(crate) fn new() -> Self {
        Self::with_layer(EnrichLayer::new().no_metrics())
    }

    pub(crate) fn with_layer(enrich: EnrichLayer) -> Self {
        Self(Capture::detached_with(enrich))
    }
}

pub(crate) use tokentrace_test_support::{attr, values};

pub(crate) fn str_attr(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| match v {
        Value::String(s) => s.as_str().to_owned(),
        other => panic!("{key} on {} is not a string: {other:?}", span.name),
    })
}

pub(crate) fn i64_attr(span: &SpanData, key: &str) -> Option<i64> {
    attr(span, key).map(|v| match v {
        Value::I64(n) => *n,
        other => panic!("{key} on {} is not an i64: {other:?}", span.name),
    })
}

pub(crate) fn f64_attr(span: &SpanData, key: &str) -> Option<f64> {
    attr(span, key).map(|v| match v {
        Value::F64(n) => *n,
        other => panic!("{key} on {} is not an f64: {other:?}", span.name),
    })
}

pub(crate) fn json_attr(span: &SpanData, key: &str) -> Option<serde_json::Value> {
    str_attr(span, key).map(|s| serde_json::from_str(&s).expect("attribute is JSON"))
}

/// A workflow span as `WorkflowLayer`/`#[workflow]` create it.
pub(crate) fn workflow_span(name: &str) -> tracing::Span {
    tracing::info_span!(
        "workflow",
        { semconv::OTEL_NAME } = name,
        { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
        { semconv::GEN_AI_WORKFLOW_NAME } = name,
    )
}

/// A plain span with an exported name.
pub(crate) fn plain_span(name: &str) -> tracing::Span {
    tracing::info_span!("plain", { semconv::OTEL_NAME } = name)
}

/// An LLM span as `LlmMiddleware` creates it: every usage field declared
/// Empty, filled later with `record`.
pub(crate) fn llm_span(name: &str) -> tracing::Span {
    tracing::info_span!(
        "llm",
        { semconv::OTEL_NAME } = name,
        { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
        { semconv::GEN_AI_OPERATION_NAME } = "chat",
        { semconv::GEN_AI_PROVIDER_NAME } = "openai",
        { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
        { semconv::GEN_AI_RESPONSE_MODEL } = Empty,
        { semconv::SERVER_ADDRESS } = "api.openai.com",
        { semconv::SERVER_PORT } = 443_i64,
        { semconv::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_TOTAL_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_AUDIO_INPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS } = Empty,
        { semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK } = Empty,
        { semconv::COST_TOTAL_USD } = Empty,
        { semconv::ERROR_TYPE } = Empty,
        { semconv::OTEL_STATUS_CODE } = Empty,
    )
}

/// Usage of one call, recorded the way the middleware does after the body ends.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Call {
    pub(crate) input: i64,
    pub(crate) output: i64,
    pub(crate) cache_read: i64,
    pub(crate) cache_write: i64,
    pub(crate) reasoning: i64,
    pub(crate) cost: f64,
}

pub(crate) fn record_usage(span: &tracing::Span, c: Call) {
    // i64, not u64: tracing-opentelemetry 0.34 exports u64 fields as strings
    // (see `setup::u64_fields_export_as_strings`).
    span.record(semconv::GEN_AI_RESPONSE_MODEL, "gpt-4o-mini-2024-07-18");
    span.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, c.input);
    span.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, c.output);
    span.record(semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, c.cache_read);
    span.record(
        semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        c.cache_write,
    );
    span.record(semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, c.reasoning);
    span.record(semconv::GEN_AI_USAGE_TOTAL_TOKENS, c.input + c.output);
    span.record(semconv::COST_TOTAL_USD, c.cost);
}

pub(crate) fn record_failure(span: &tracing::Span, error: &str) {
    span.record(semconv::ERROR_TYPE, error);
    span.record(semconv::OTEL_STATUS_CODE, "error");
}

/// Creates, fills and closes one LLM span under the current span.
pub(crate) fn llm_call(name: &str, c: Call) {
    let span = llm_span(name);
    record_usage(&span, c);
}

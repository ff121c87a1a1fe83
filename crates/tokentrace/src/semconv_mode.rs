//! Which version of the GenAI conventions exported spans speak.
//!
//! tokentrace's spans are built with one fixed set of names (those the store
//! and the subscriber read). On the way to OTLP and to exporters added with
//! [`Telemetry::span_exporter`](crate::Telemetry::span_exporter), each span is
//! rewritten for the chosen [`SemconvMode`] (the store keeps the span as built).
//! The rules are listed in `docs/attributes.md`, "Convention versions".

use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokentrace_core::semconv as sc;

use crate::pipeline::BlockingExporter;

pub use tokentrace_core::semconv::{OPT_IN_DUP, OPT_IN_LATEST, SemconvMode};

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn float(attrs: &[KeyValue], key: &str) -> Option<f64> {
    match get(attrs, key)? {
        Value::F64(v) => Some(*v),
        Value::I64(v) => Some(*v as f64),
        _ => None,
    }
}

fn rename(attrs: &mut Vec<KeyValue>, from: &str, to: &'static str, keep: bool) {
    if let Some(i) = attrs.iter().position(|kv| kv.key.as_str() == from) {
        let value = attrs[i].value.clone();
        if !keep {
            attrs.remove(i);
        }
        attrs.push(KeyValue::new(to, value));
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
fn iso8601(at: std::time::SystemTime) -> Option<String> {
    let d = at.duration_since(UNIX_EPOCH).ok()?;
    let secs = d.as_secs();
    let (y, m, day) = tokentrace_core::civil::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    Some(format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    ))
}

/// Agent and tool workflows as tokentrace wrote them before: every workflow
/// was `invoke_workflow`, and no `gen_ai.tool.*` was written.
fn legacy_workflow(attrs: &mut Vec<KeyValue>) {
    let Some(i) = attrs
        .iter()
        .position(|kv| kv.key.as_str() == sc::GEN_AI_OPERATION_NAME)
    else {
        return;
    };
    let op = attrs[i].value.as_str();
    if op != sc::values::OPERATION_INVOKE_AGENT && op != sc::values::OPERATION_EXECUTE_TOOL {
        return;
    }
    attrs[i] = KeyValue::new(
        sc::GEN_AI_OPERATION_NAME,
        sc::values::OPERATION_INVOKE_WORKFLOW,
    );
    attrs.retain(|kv| {
        let k = kv.key.as_str();
        k != sc::GEN_AI_TOOL_NAME && k != sc::GEN_AI_TOOL_TYPE
    });
}

/// Rewrites one span's attributes for `mode` (see `docs/attributes.md`).
pub fn rewrite_span(mode: SemconvMode, span: &mut SpanData) {
    let attrs = &mut span.attributes;
    let is_llm = get(attrs, sc::GEN_AI_OPERATION_NAME).is_some()
        && get(attrs, sc::GEN_AI_PROVIDER_NAME).is_some();
    if !is_llm {
        if !mode.current() {
            legacy_workflow(attrs);
        }
        return;
    }
    let keep_old = mode.previous();
    if mode.current() {
        rename(
            attrs,
            sc::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
            keep_old,
        );
        rename(
            attrs,
            sc::GEN_AI_USAGE_TOTAL_TOKENS,
            sc::TOKENTRACE_USAGE_TOTAL_TOKENS,
            keep_old,
        );
        if !keep_old {
            // Not in the spec; the same figure is in llm.cost.total and cost.total_usd.
            attrs.retain(|kv| kv.key.as_str() != sc::GEN_AI_USAGE_COST);
        }
        // top_k: an int, and only the decoding parameter. Rerank's top_n
        // (documents returned) goes to OpenInference's reranker.top_k.
        if let Some(i) = attrs
            .iter()
            .position(|kv| kv.key.as_str() == sc::GEN_AI_REQUEST_TOP_K)
        {
            let k = match &attrs[i].value {
                Value::F64(v) if v.fract() == 0.0 && *v >= 0.0 => Some(*v as i64),
                Value::I64(v) => Some(*v),
                _ => None,
            };
            let rerank = matches!(get(attrs, sc::GEN_AI_OPERATION_NAME), Some(Value::String(op)) if op.as_str() == "rerank");
            match (k, rerank) {
                (Some(k), true) => {
                    attrs.push(KeyValue::new(sc::RERANKER_TOP_K, k));
                    if !keep_old {
                        attrs.remove(i);
                    }
                }
                (Some(k), false) => attrs[i] = KeyValue::new(sc::GEN_AI_REQUEST_TOP_K, k),
                (None, _) => {}
            }
        }
        // A stream cut short: one `error` per choice whose reason never came.
        let incomplete = matches!(
            get(attrs, sc::TOKENTRACE_STREAM_INCOMPLETE),
            Some(Value::Bool(true))
        );
        if incomplete && get(attrs, sc::GEN_AI_RESPONSE_FINISH_REASONS).is_none() {
            let n = match get(attrs, sc::GEN_AI_REQUEST_CHOICE_COUNT) {
                Some(Value::I64(n)) if (1..=128).contains(n) => *n as usize,
                _ => 1,
            };
            let reasons: Vec<StringValue> = vec![StringValue::from("error"); n];
            attrs.push(KeyValue::new(
                sc::GEN_AI_RESPONSE_FINISH_REASONS,
                Value::Array(Array::String(reasons)),
            ));
        }
    }

    // Additive in every mode: OpenInference request/response model names when
    // the provider answered with another model than requested.
    if let (Some(Value::String(req)), Some(Value::String(resp))) = (
        get(attrs, sc::GEN_AI_REQUEST_MODEL),
        get(attrs, sc::GEN_AI_RESPONSE_MODEL),
    ) && req.as_str() != resp.as_str()
    {
        let (req, resp) = (req.clone(), resp.clone());
        attrs.push(KeyValue::new(sc::LLM_REQUEST_MODEL_NAME, req));
        attrs.push(KeyValue::new(sc::LLM_RESPONSE_MODEL_NAME, resp));
    }
    // Langfuse v4: the cost breakdown and the time of the first chunk.
    if let Some(total) = float(attrs, sc::COST_TOTAL_USD) {
        let mut details: Vec<String> = Vec::new();
        let mut put = |k: &str, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                details.push(format!("\"{k}\":{v}"));
            }
        };
        put(
            "input",
            float(attrs, sc::LLM_COST_PROMPT_DETAILS_INPUT)
                .or_else(|| float(attrs, sc::COST_INPUT_COST_USD)),
        );
        put(
            "cache_read_input_tokens",
            float(attrs, sc::COST_CACHE_READ_COST_USD),
        );
        put(
            "cache_creation_input_tokens",
            float(attrs, sc::COST_CACHE_WRITE_COST_USD),
        );
        put(
            "output",
            float(attrs, sc::LLM_COST_COMPLETION_DETAILS_OUTPUT)
                .or_else(|| float(attrs, sc::COST_OUTPUT_COST_USD)),
        );
        put(
            "output_reasoning_tokens",
            float(attrs, sc::COST_REASONING_COST_USD),
        );
        put("total", Some(total));
        attrs.push(KeyValue::new(
            sc::LANGFUSE_OBSERVATION_COST_DETAILS,
            format!("{{{}}}", details.join(",")),
        ));
    }
    if let Some(ttfc) = float(attrs, sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        && ttfc.is_finite()
        && ttfc >= 0.0
        && let Some(at) = span
            .start_time
            .checked_add(Duration::from_secs_f64(ttfc))
            .and_then(iso8601)
    {
        span.attributes.push(KeyValue::new(
            sc::LANGFUSE_OBSERVATION_COMPLETION_START_TIME,
            at,
        ));
    }
}

/// A [`SpanExporter`] that rewrites every span for a [`SemconvMode`] before
/// handing it on: for pipelines built by hand around `tracing_opentelemetry`
/// (the [`Telemetry`](crate::Telemetry) pipeline already does this).
#[derive(Debug)]
pub struct SemconvExporter<E> {
    inner: E,
    mode: SemconvMode,
}

impl<E> SemconvExporter<E> {
    /// Wraps `inner`.
    pub fn new(inner: E, mode: SemconvMode) -> Self {
        Self { inner, mode }
    }
}

impl<E: SpanExporter> SpanExporter for SemconvExporter<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        for span in &mut batch {
            rewrite_span(self.mode, span);
        }
        self.inner.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The pipeline's wrapper around a queue worker's exporter.
#[derive(Debug)]
pub(crate) struct Rewriting {
    pub(crate) inner: Box<dyn BlockingExporter>,
    pub(crate) mode: SemconvMode,
}

impl BlockingExporter for Rewriting {
    fn export_blocking(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        for span in &mut batch {
            rewrite_span(self.mode, span);
        }
        self.inner.export_blocking(batch)
    }
    fn flush(&self) -> OTelSdkResult {
        self.inner.flush()
    }
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

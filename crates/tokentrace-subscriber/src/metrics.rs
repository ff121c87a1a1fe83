//! GenAI client metrics, recorded when an LLM span closes.
//!
//! Names follow [`SemconvMode`]: the current ones (semantic-conventions-genai,
//! `docs/gen-ai/client-inference.md` and `gen-ai-token-metrics.md`), the
//! previous ones (semantic-conventions v1.41.0 `gen-ai-metrics.md`), or both.
//! They are recorded from the tracing span, so whether the OpenTelemetry span
//! was sampled makes no difference.

use std::sync::OnceLock;
use std::time::Duration;

use std::sync::Arc;

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::{KeyValue, StringValue};
use tokentrace_core::semconv;
use tokentrace_core::semconv::SemconvMode;
use tokentrace_core::semconv::metrics as names;
use tokentrace_core::semconv::values::{
    MODALITY_AUDIO, MODALITY_IMAGE, MODALITY_TEXT, MODALITY_UNKNOWN,
};

use crate::llm_fields::LlmFields;

use tokentrace_core::semconv::metrics::{DURATION_BUCKETS, TOKEN_USAGE_BUCKETS as TOKEN_BUCKETS};

/// `gen_ai.token.type` values (spec: `input`, `output`).
const TOKEN_TYPE_INPUT: &str = "input";
const TOKEN_TYPE_OUTPUT: &str = "output";

/// The modalities of `LlmFields::{input,output}_modalities`, in their order.
const MODALITIES: [&str; 3] = [MODALITY_TEXT, MODALITY_IMAGE, MODALITY_AUDIO];

/// The previous conventions' instruments (v1.41.0).
#[derive(Debug)]
struct Previous {
    token_usage: Histogram<u64>,
    duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
}

/// The current conventions' instruments.
#[derive(Debug)]
struct Current {
    /// `gen_ai.client.inference.duration` (chat, text_completion, generate_content).
    inference_duration: Histogram<f64>,
    /// `gen_ai.client.operation.duration`, which stays for the other operations.
    operation_duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
    usage_input: Counter<u64>,
    usage_output: Counter<u64>,
    usage_cache_read: Counter<u64>,
    usage_cache_write: Counter<u64>,
    usage_reasoning: Counter<u64>,
    operation_input: Histogram<u64>,
    operation_output: Histogram<u64>,
}

/// The instruments, built on first use: the facade installs the global
/// `MeterProvider` after the layer is constructed, and an instrument taken
/// from the no-op provider would stay a no-op forever.
#[derive(Debug)]
pub(crate) struct Instruments {
    previous: Option<Previous>,
    current: Option<Current>,
    cost: Counter<f64>,
}

/// Where the instruments come from.
#[derive(Debug, Clone)]
pub(crate) enum MeterSource {
    Global,
    Meter(Meter),
    Disabled,
}

/// Lazily built instruments shared by the clones of one layer.
#[derive(Debug)]
pub(crate) struct GenAiMetrics {
    source: MeterSource,
    mode: SemconvMode,
    instruments: OnceLock<Option<Instruments>>,
}

/// Inference operations (`gen_ai.client.inference.*`); the others keep
/// `gen_ai.client.operation.duration` and get no token metrics under the
/// current names (embeddings' own metrics are only proposed).
fn is_inference(operation: Option<&str>) -> bool {
    matches!(
        operation,
        Some("chat" | "text_completion" | "generate_content") | None
    )
}

fn count(v: Option<i64>) -> Option<u64> {
    v.and_then(|c| u64::try_from(c).ok())
}

impl GenAiMetrics {
    pub(crate) fn new(source: MeterSource) -> Self {
        Self {
            source,
            mode: SemconvMode::default(),
            instruments: OnceLock::new(),
        }
    }

    /// The same source with other names.
    pub(crate) fn with_mode(&self, mode: SemconvMode) -> Self {
        Self {
            source: self.source.clone(),
            mode,
            instruments: OnceLock::new(),
        }
    }

    fn instruments(&self) -> Option<&Instruments> {
        self.instruments
            .get_or_init(|| {
                let meter = match &self.source {
                    MeterSource::Global => opentelemetry::global::meter("tokentrace"),
                    MeterSource::Meter(m) => m.clone(),
                    MeterSource::Disabled => return None,
                };
                Some(Instruments::new(&meter, self.mode))
            })
            .as_ref()
    }

    /// Records one finished LLM call; `gaps` are the seconds between its
    /// body chunks after the first (streams, see `tokentrace_core::timing`).
    pub(crate) fn record(&self, llm: &LlmFields, duration: Duration, gaps: &[f32]) {
        let Some(inst) = self.instruments() else {
            return;
        };
        // One vector for every record of this call: the common attributes,
        // with one more (error, token type, modality) appended around the
        // records that take it (`with_extra`). Its first `cost_len` entries
        // are the cost counter's attributes.
        let (mut attrs, cost_len) = common_attributes(llm);
        let error = llm.error_type.as_deref().or(if llm.status_error {
            Some(semconv::values::ERROR_OTHER)
        } else {
            None
        });
        // Spec: `error.type` is conditionally required on the duration when the call failed.
        let error = error.map(|e| KeyValue::new(semconv::ERROR_TYPE, shared(e)));
        let secs = duration.as_secs_f64();
        if let Some(prev) = &inst.previous {
            with_extra(&mut attrs, error.clone(), |a| prev.duration.record(secs, a));
            if let Some(ttfc) = llm.time_to_first_chunk_s {
                prev.time_to_first_chunk.record(ttfc, &attrs);
            }
            for gap in gaps {
                prev.time_per_output_chunk.record(f64::from(*gap), &attrs);
            }
            for (kind, value) in [
                (TOKEN_TYPE_INPUT, llm.input_tokens),
                (TOKEN_TYPE_OUTPUT, llm.output_tokens),
            ] {
                let Some(value) = count(value) else { continue };
                let kind = KeyValue::new(semconv::GEN_AI_TOKEN_TYPE, kind);
                with_extra(&mut attrs, Some(kind), |a| {
                    prev.token_usage.record(value, a)
                });
            }
        }
        if let Some(cur) = &inst.current {
            if is_inference(llm.operation.as_deref()) {
                with_extra(&mut attrs, error, |a| {
                    cur.inference_duration.record(secs, a);
                });
                if let Some(ttfc) = llm.time_to_first_chunk_s {
                    cur.time_to_first_chunk.record(ttfc, &attrs);
                }
                for gap in gaps {
                    cur.time_per_output_chunk.record(f64::from(*gap), &attrs);
                }
                record_current_tokens(cur, llm, &mut attrs);
            } else if inst.previous.is_none() {
                // Same name as the previous duration: recorded once.
                with_extra(&mut attrs, error, |a| {
                    cur.operation_duration.record(secs, a)
                });
            }
        }
        if let Some(cost) = llm.cost_usd().filter(|c| c.is_finite() && *c >= 0.0) {
            inst.cost.add(cost, &attrs[..cost_len]);
        }
    }
}

/// Records with `extra` appended to `attrs` (when there is one), leaving
/// `attrs` as it was.
fn with_extra(
    attrs: &mut Vec<KeyValue>,
    extra: Option<KeyValue>,
    record: impl FnOnce(&[KeyValue]),
) {
    let len = attrs.len();
    attrs.extend(extra);
    record(attrs);
    attrs.truncate(len);
}

/// The current token metrics of one inference call: every counter by
/// modality, and the per-call histograms (no modality).
fn record_current_tokens(cur: &Current, llm: &LlmFields, attrs: &mut Vec<KeyValue>) {
    let mut add = |counter: &Counter<u64>, modality: &'static str, value: u64| {
        let modality = KeyValue::new(semconv::GEN_AI_TOKEN_MODALITY, modality);
        with_extra(attrs, Some(modality), |a| counter.add(value, a));
    };
    // Input and output: the provider's breakdown by modality where it gave
    // one, the rest under `unknown`; `0` under `unknown` when no usage came
    // (spec: recorded for every inference operation, failed ones included).
    for (counter, total, modal) in [
        (&cur.usage_input, llm.input_tokens, &llm.input_modalities),
        (&cur.usage_output, llm.output_tokens, &llm.output_modalities),
    ] {
        let total = count(total);
        let mut broken_down = 0u64;
        for (modality, value) in MODALITIES.iter().zip(modal.iter()) {
            if let Some(v) = count(*value).filter(|v| *v > 0) {
                add(counter, modality, v);
                broken_down += v;
            }
        }
        match total {
            Some(t) if t > broken_down => add(counter, MODALITY_UNKNOWN, t - broken_down),
            Some(_) => {}
            None if broken_down == 0 => add(counter, MODALITY_UNKNOWN, 0),
            None => {}
        }
    }
    for (counter, value) in [
        (&cur.usage_cache_read, llm.cache_read_tokens),
        (&cur.usage_cache_write, llm.cache_write_tokens),
        (&cur.usage_reasoning, llm.reasoning_tokens),
    ] {
        if let Some(v) = count(value).filter(|v| *v > 0) {
            add(counter, MODALITY_UNKNOWN, v);
        }
    }
    if let Some(v) = count(llm.input_tokens) {
        cur.operation_input.record(v, attrs);
    }
    if let Some(v) = count(llm.output_tokens) {
        cur.operation_output.record(v, attrs);
    }
}

fn seconds(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(DURATION_BUCKETS.to_vec())
        .build()
}

fn tokens(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_unit("{token}")
        .with_description(description)
        .with_boundaries(TOKEN_BUCKETS.to_vec())
        .build()
}

fn counter(meter: &Meter, name: &'static str, description: &'static str) -> Counter<u64> {
    meter
        .u64_counter(name)
        .with_unit("{token}")
        .with_description(description)
        .build()
}

impl Instruments {
    fn new(meter: &Meter, mode: SemconvMode) -> Self {
        let previous = mode.previous().then(|| Previous {
            token_usage: tokens(
                meter,
                names::GEN_AI_CLIENT_TOKEN_USAGE,
                "Number of input and output tokens used",
            ),
            duration: seconds(
                meter,
                names::GEN_AI_CLIENT_OPERATION_DURATION,
                "GenAI operation duration",
            ),
            time_to_first_chunk: seconds(
                meter,
                names::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
                "Time to receive the first chunk of a streamed response",
            ),
            time_per_output_chunk: seconds(
                meter,
                names::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
                "Time per output chunk after the first, from the end of the previous chunk",
            ),
        });
        let current = mode.current().then(|| Current {
            inference_duration: seconds(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_DURATION,
                "GenAI inference operation duration",
            ),
            operation_duration: seconds(
                meter,
                names::GEN_AI_CLIENT_OPERATION_DURATION,
                "GenAI operation duration",
            ),
            time_to_first_chunk: seconds(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
                "Time to receive the first chunk of a streamed response",
            ),
            time_per_output_chunk: seconds(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
                "Time per output chunk after the first, from the end of the previous chunk",
            ),
            usage_input: counter(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
                "Input tokens used, cached tokens included",
            ),
            usage_output: counter(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
                "Output tokens used, reasoning tokens included",
            ),
            usage_cache_read: counter(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS,
                "Input tokens served from the provider's cache",
            ),
            usage_cache_write: counter(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS,
                "Input tokens written to the provider's cache",
            ),
            usage_reasoning: counter(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS,
                "Output tokens spent reasoning",
            ),
            operation_input: tokens(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
                "Input tokens per inference operation",
            ),
            operation_output: tokens(
                meter,
                names::GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
                "Output tokens per inference operation",
            ),
        });
        Self {
            previous,
            current,
            cost: meter
                .f64_counter(names::TOKENTRACE_COST_USD)
                .with_unit("USD")
                .with_description("Cost of LLM calls in US dollars")
                .build(),
        }
    }
}

/// An observer for [`tokentrace_core::budget::set_outcome_observer`] that
/// counts every budget decision in the `tokentrace.budget.outcomes` counter
/// of `meter`, by limit name, scope and outcome (`reserved`, `refused`,
/// `warned`, `soft_threshold`, `unavailable`, `unavailable_refused`). The
/// key the call was charged to (a user id, ...) is left out: the limit
/// names come from the configuration, so the series stay few.
/// `tokentrace::init()` installs one on its meter.
pub fn budget_outcome_observer(meter: &Meter) -> tokentrace_core::budget::OutcomeObserver {
    let counter = meter
        .u64_counter(tokentrace_core::semconv::metrics::TOKENTRACE_BUDGET_OUTCOMES)
        .with_unit("{decision}")
        .with_description("Budget decisions, one per limit a call was checked against")
        .build();
    Arc::new(move |o: &tokentrace_core::budget::BudgetOutcome<'_>| {
        counter.add(
            1,
            &[
                KeyValue::new(semconv::TOKENTRACE_BUDGET_LIMIT, o.limit.to_owned()),
                KeyValue::new(semconv::TOKENTRACE_BUDGET_SCOPE, o.scope.name()),
                KeyValue::new(semconv::TOKENTRACE_BUDGET_OUTCOME, o.outcome),
            ],
        );
    })
}

/// A shared copy of a value: the attribute sets below repeat the same few
/// strings, and cloning an `Arc<str>` value is a count increment.
fn shared(value: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(value))
}

/// The span's own shared string, without a copy.
fn shared_arc(value: &Arc<str>) -> StringValue {
    StringValue::from(Arc::clone(value))
}

/// Spec attributes common to the GenAI client metrics, and how many of
/// them lead the vector as the cost counter's attributes: provider and
/// models only, so its cardinality stays small (an attribute set's order
/// does not matter to the SDK).
fn common_attributes(llm: &LlmFields) -> (Vec<KeyValue>, usize) {
    let mut attrs = Vec::with_capacity(8);
    let mut push = |strings: &[(&'static str, &Option<Arc<str>>)]| {
        for (key, value) in strings {
            if let Some(v) = value {
                attrs.push(KeyValue::new(*key, shared_arc(v)));
            }
        }
        attrs.len()
    };
    let cost_len = push(&[
        (semconv::GEN_AI_PROVIDER_NAME, &llm.provider),
        (semconv::GEN_AI_REQUEST_MODEL, &llm.request_model),
        (semconv::GEN_AI_RESPONSE_MODEL, &llm.response_model),
    ]);
    push(&[
        (semconv::GEN_AI_OPERATION_NAME, &llm.operation),
        (semconv::SERVER_ADDRESS, &llm.server_address),
    ]);
    if let Some(port) = llm.server_port {
        attrs.push(KeyValue::new(semconv::SERVER_PORT, port));
    }
    (attrs, cost_len)
}

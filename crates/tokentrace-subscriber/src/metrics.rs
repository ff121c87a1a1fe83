//! GenAI client metrics, recorded when an LLM span closes.
//!
//! Spec: <https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/>
//! (v1.41.0). They are recorded from the tracing span, so whether the
//! OpenTelemetry span was sampled makes no difference.

use std::sync::OnceLock;
use std::time::Duration;

use std::sync::Arc;

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::{KeyValue, StringValue};
use tokentrace_core::semconv;

use crate::data::LlmFields;

use tokentrace_core::semconv::metrics::{DURATION_BUCKETS, TOKEN_USAGE_BUCKETS as TOKEN_BUCKETS};
use tokentrace_core::semconv::metrics::{
    GEN_AI_CLIENT_OPERATION_DURATION as OPERATION_DURATION,
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK as TIME_TO_FIRST_CHUNK,
    GEN_AI_CLIENT_TOKEN_USAGE as TOKEN_USAGE, TOKENTRACE_COST_USD as COST_USD,
};

/// `gen_ai.token.type` values (spec: `input`, `output`).
const TOKEN_TYPE_INPUT: &str = "input";
const TOKEN_TYPE_OUTPUT: &str = "output";

/// The instruments, built on first use: the facade installs the global
/// `MeterProvider` after the layer is constructed, and an instrument taken
/// from the no-op provider would stay a no-op forever.
#[derive(Debug)]
pub(crate) struct Instruments {
    token_usage: Histogram<u64>,
    duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    cost: Counter<f64>,
}

/// Where the instruments come from.
#[derive(Debug)]
pub(crate) enum MeterSource {
    Global,
    Meter(Meter),
    Disabled,
}

/// Lazily built instruments shared by the clones of one layer.
#[derive(Debug)]
pub(crate) struct GenAiMetrics {
    source: MeterSource,
    instruments: OnceLock<Option<Instruments>>,
}

impl GenAiMetrics {
    pub(crate) fn new(source: MeterSource) -> Self {
        Self {
            source,
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
                Some(Instruments::new(&meter))
            })
            .as_ref()
    }

    /// Records one finished LLM call.
    pub(crate) fn record(&self, llm: &LlmFields, duration: Duration) {
        let Some(inst) = self.instruments() else {
            return;
        };
        let mut attrs = common_attributes(llm);
        if let Some(err) = &llm.error_type {
            // Spec: `error.type` is conditionally required on the duration when the call failed.
            let mut with_error = attrs.clone();
            with_error.push(KeyValue::new(semconv::ERROR_TYPE, err.clone()));
            inst.duration.record(duration.as_secs_f64(), &with_error);
        } else if llm.status_error {
            let mut with_error = attrs.clone();
            with_error.push(KeyValue::new(
                semconv::ERROR_TYPE,
                semconv::values::ERROR_OTHER,
            ));
            inst.duration.record(duration.as_secs_f64(), &with_error);
        } else {
            inst.duration.record(duration.as_secs_f64(), &attrs);
        }
        if let Some(ttfc) = llm.time_to_first_chunk_s {
            inst.time_to_first_chunk.record(ttfc, &attrs);
        }
        if let Some(cost) = llm.cost_usd().filter(|c| c.is_finite() && *c >= 0.0) {
            inst.cost.add(cost, &cost_attributes(&attrs));
        }
        let token_slot = attrs.len();
        for (kind, count) in [
            (TOKEN_TYPE_INPUT, llm.input_tokens),
            (TOKEN_TYPE_OUTPUT, llm.output_tokens),
        ] {
            let Some(count) = count.and_then(|c| u64::try_from(c).ok()) else {
                continue;
            };
            attrs.truncate(token_slot);
            attrs.push(KeyValue::new(semconv::GEN_AI_TOKEN_TYPE, kind));
            inst.token_usage.record(count, &attrs);
        }
    }
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Self {
            token_usage: meter
                .u64_histogram(TOKEN_USAGE)
                .with_unit("{token}")
                .with_description("Number of input and output tokens used")
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build(),
            duration: meter
                .f64_histogram(OPERATION_DURATION)
                .with_unit("s")
                .with_description("GenAI operation duration")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            time_to_first_chunk: meter
                .f64_histogram(TIME_TO_FIRST_CHUNK)
                .with_unit("s")
                .with_description("Time to receive the first chunk of a streamed response")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            cost: meter
                .f64_counter(COST_USD)
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

/// Spec attributes common to the GenAI client metrics.
/// A shared copy of a value: the attribute sets below repeat the same few
/// strings, and cloning an `Arc<str>` value is a count increment.
fn shared(value: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(value))
}

fn common_attributes(llm: &LlmFields) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(8);
    let strings = [
        (semconv::GEN_AI_OPERATION_NAME, &llm.operation),
        (semconv::GEN_AI_PROVIDER_NAME, &llm.provider),
        (semconv::GEN_AI_REQUEST_MODEL, &llm.request_model),
        (semconv::GEN_AI_RESPONSE_MODEL, &llm.response_model),
        (semconv::SERVER_ADDRESS, &llm.server_address),
    ];
    for (key, value) in strings {
        if let Some(v) = value {
            attrs.push(KeyValue::new(key, shared(v)));
        }
    }
    if let Some(port) = llm.server_port {
        attrs.push(KeyValue::new(semconv::SERVER_PORT, port));
    }
    attrs
}

/// The cost counter is kept to provider and model so its cardinality stays small.
/// The cost counter's attributes (provider and models), taken from the
/// common set so the strings are shared, not copied.
fn cost_attributes(common: &[KeyValue]) -> Vec<KeyValue> {
    common
        .iter()
        .filter(|kv| {
            matches!(
                kv.key.as_str(),
                semconv::GEN_AI_PROVIDER_NAME
                    | semconv::GEN_AI_REQUEST_MODEL
                    | semconv::GEN_AI_RESPONSE_MODEL
            )
        })
        .cloned()
        .collect()
}

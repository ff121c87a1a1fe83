//! GenAI spans other libraries open (rig's `chat`, genai's with its `otel`
//! feature): spans without `tokentrace.span.type` that carry OpenTelemetry
//! GenAI fields (`gen_ai.request.model`, `gen_ai.usage.*`, ...).
//!
//! Each provider call is counted exactly once:
//!
//! * a foreign span with no tokentrace LLM span (and no other priced foreign
//!   span) beneath it *is* the call: EnrichLayer prices it from the
//!   catalogue, types it `tokentrace.span.type = "llm"` with
//!   `tokentrace.span.source = "foreign"`, and rolls it up like its own LLM
//!   spans;
//! * a foreign span with such a span beneath only describes calls counted
//!   there: it is typed `tokentrace.span.type = "framework"`, is neither
//!   priced nor rolled up, and the facade's pipeline moves its
//!   `gen_ai.usage.*` attributes to `tokentrace.framework.usage.*` before export.
//!
//! Children close before their parents, so by the time a foreign span
//! closes, every call beneath it has marked it (`SpanState::covered`).

use opentelemetry::KeyValue;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::provider::Provider;
use tokentrace_core::semconv::{self, values};
use tokentrace_core::usage::Usage;

use crate::llm_fields::LlmFields;

/// Whether `llm` describes a GenAI call: a token count, or a model with an
/// operation (`gen_ai.operation.name`; a failed call has no usage). A span
/// that names a model and nothing else is context, not a call.
pub(crate) fn is_genai(llm: &LlmFields) -> bool {
    llm.input_tokens.is_some()
        || llm.output_tokens.is_some()
        || ((llm.request_model.is_some() || llm.response_model.is_some())
            && llm.operation.is_some())
}

/// The attributes that make a foreign span one priced LLM call; sets the
/// cost on `llm` for the roll-up.
pub(crate) fn price_call(llm: &mut LlmFields, prices: &PriceCatalogue) -> Vec<KeyValue> {
    let mut kv = vec![
        KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, values::SPAN_TYPE_LLM),
        KeyValue::new(semconv::TOKENTRACE_SPAN_SOURCE, values::SPAN_SOURCE_FOREIGN),
    ];
    if let Some(reported) = llm.cost_usd() {
        // The library reported a cost (`gen_ai.usage.cost`): use it as is.
        if llm.cost_total_usd.is_none() {
            kv.push(KeyValue::new(semconv::COST_TOTAL_USD, reported));
            kv.push(KeyValue::new(
                semconv::COST_SOURCE,
                values::COST_SOURCE_PROVIDER,
            ));
        }
        return kv;
    }
    let Some(model) = llm
        .response_model
        .as_deref()
        .or(llm.request_model.as_deref())
    else {
        return kv;
    };
    let count = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
    let usage = Usage {
        input_tokens: count(llm.input_tokens),
        output_tokens: count(llm.output_tokens),
        cache_read_tokens: count(llm.cache_read_tokens),
        cache_write_tokens: count(llm.cache_write_tokens),
        reasoning_tokens: count(llm.reasoning_tokens),
        total_tokens: count(llm.total_tokens),
        ..Usage::default()
    };
    let provider = llm.provider.as_deref().and_then(Provider::from_name);
    let Some(cost) = prices.cost(provider, model, &usage) else {
        if usage.input_tokens.is_some() || usage.output_tokens.is_some() {
            kv.push(KeyValue::new(semconv::COST_UNKNOWN_MODEL, true));
        }
        return kv;
    };
    let prompt = cost.prompt_usd();
    let completion = cost.completion_usd();
    kv.extend([
        KeyValue::new(semconv::COST_TOTAL_USD, cost.total_usd),
        KeyValue::new(semconv::COST_INPUT_COST_USD, prompt),
        KeyValue::new(semconv::COST_OUTPUT_COST_USD, completion),
        KeyValue::new(semconv::COST_CACHE_READ_COST_USD, cost.cache_read_usd),
        KeyValue::new(semconv::COST_CACHE_WRITE_COST_USD, cost.cache_write_usd),
        KeyValue::new(semconv::COST_REASONING_COST_USD, cost.reasoning_usd),
        KeyValue::new(semconv::COST_MODEL_NAME, cost.model_key.clone()),
        KeyValue::new(semconv::COST_SOURCE, cost.source.name()),
        KeyValue::new(semconv::LLM_COST_TOTAL, cost.total_usd),
        KeyValue::new(semconv::LLM_COST_PROMPT, prompt),
        KeyValue::new(semconv::LLM_COST_COMPLETION, completion),
    ]);
    let tokens = [
        (semconv::COST_PROMPT_TOKENS, llm.input_tokens),
        (semconv::COST_COMPLETION_TOKENS, llm.output_tokens),
        (
            semconv::COST_TOTAL_TOKENS,
            llm.total_tokens
                .or(match (llm.input_tokens, llm.output_tokens) {
                    (None, None) => None,
                    (i, o) => Some(i.unwrap_or(0).saturating_add(o.unwrap_or(0))),
                }),
        ),
    ];
    for (key, value) in tokens {
        if let Some(v) = value {
            kv.push(KeyValue::new(key, v));
        }
    }
    llm.cost_total_usd = Some(cost.total_usd);
    kv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_model_is_priced_and_an_unknown_one_flagged() {
        let mut llm = LlmFields {
            request_model: Some("gpt-4o-mini".into()),
            provider: Some("openai".into()),
            input_tokens: Some(1_000_000),
            output_tokens: Some(0),
            ..LlmFields::default()
        };
        let kv = price_call(&mut llm, PriceCatalogue::builtin());
        let cost = llm.cost_total_usd.unwrap();
        assert!(cost > 0.0, "{kv:?}");
        assert!(kv.iter().any(|k| k.key.as_str() == semconv::COST_TOTAL_USD));

        let mut unknown = LlmFields {
            request_model: Some("no-such-model-xyz".into()),
            input_tokens: Some(5),
            ..LlmFields::default()
        };
        let kv = price_call(&mut unknown, PriceCatalogue::builtin());
        assert!(unknown.cost_total_usd.is_none());
        assert!(
            kv.iter()
                .any(|k| k.key.as_str() == semconv::COST_UNKNOWN_MODEL)
        );
    }
}

//! Span-attribute canonicalisation for the raw view: mirrored names
//! dropped, float noise rounded off.

use serde_json::Value as Json;
use tokentrace_core::semconv;

/// Attributes that repeat another one's value under another convention's
/// name: `(kept, [mirrors])`. The raw view keeps one naming scheme (OTel
/// GenAI for usage, model and session; tokentrace's `cost.*` for cost).
const MIRRORS: &[(&str, &[&str])] = &[
    (
        semconv::GEN_AI_USAGE_INPUT_TOKENS,
        &[semconv::LLM_TOKEN_COUNT_PROMPT, semconv::COST_PROMPT_TOKENS],
    ),
    (
        semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
        &[
            semconv::LLM_TOKEN_COUNT_COMPLETION,
            semconv::COST_COMPLETION_TOKENS,
        ],
    ),
    (
        semconv::GEN_AI_USAGE_TOTAL_TOKENS,
        &[
            semconv::LLM_TOKEN_COUNT_TOTAL,
            semconv::COST_TOTAL_TOKENS,
            semconv::TOKENTRACE_USAGE_TOTAL_TOKENS,
        ],
    ),
    (
        semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        &[semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ],
    ),
    (
        semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        &[
            semconv::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
            semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
        ],
    ),
    (
        semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        &[semconv::LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING],
    ),
    (
        semconv::COST_TOTAL_USD,
        &[semconv::GEN_AI_USAGE_COST, semconv::LLM_COST_TOTAL],
    ),
    (semconv::COST_INPUT_COST_USD, &[semconv::LLM_COST_PROMPT]),
    (
        semconv::COST_OUTPUT_COST_USD,
        &[semconv::LLM_COST_COMPLETION],
    ),
    (
        semconv::COST_CACHE_READ_COST_USD,
        &[semconv::LLM_COST_PROMPT_DETAILS_CACHE_READ],
    ),
    (
        semconv::COST_CACHE_WRITE_COST_USD,
        &[semconv::LLM_COST_PROMPT_DETAILS_CACHE_WRITE],
    ),
    (
        semconv::COST_REASONING_COST_USD,
        &[semconv::LLM_COST_COMPLETION_DETAILS_REASONING],
    ),
    (
        semconv::GEN_AI_RESPONSE_MODEL,
        &[semconv::LLM_MODEL_NAME, semconv::LLM_RESPONSE_MODEL_NAME],
    ),
    (
        semconv::GEN_AI_REQUEST_MODEL,
        &[semconv::LLM_REQUEST_MODEL_NAME, semconv::LLM_MODEL_NAME],
    ),
    (
        semconv::GEN_AI_PROVIDER_NAME,
        &[semconv::LLM_PROVIDER, semconv::LLM_SYSTEM],
    ),
    (semconv::GEN_AI_CONVERSATION_ID, &[semconv::SESSION_ID]),
    (semconv::GEN_AI_INPUT_MESSAGES, &[semconv::INPUT_VALUE]),
    (semconv::GEN_AI_OUTPUT_MESSAGES, &[semconv::OUTPUT_VALUE]),
];

/// Attributes only ever written as a copy of others for one backend.
const ALWAYS_MIRRORS: &[&str] = &[
    semconv::LANGFUSE_OBSERVATION_COST_DETAILS,
    semconv::LANGFUSE_OBSERVATION_COMPLETION_START_TIME,
];

/// Two attribute values that say the same (numbers equal to 9 significant digits).
fn same_value(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
            _ => x == y,
        },
        _ => a == b,
    }
}

/// `attributes` with mirrored names removed and float noise rounded off,
/// and the removed names.
pub(crate) fn canonical_attributes(attributes: &Json) -> (Json, Vec<String>) {
    let Json::Object(map) = attributes else {
        return (denoise(attributes.clone()), Vec::new());
    };
    let mut kept = map.clone();
    let mut removed = Vec::new();
    for (canonical, mirrors) in MIRRORS {
        let Some(value) = map.get(*canonical) else {
            continue;
        };
        for m in *mirrors {
            if kept.get(*m).is_some_and(|v| same_value(v, value)) {
                kept.remove(*m);
                removed.push((*m).to_owned());
            }
        }
    }
    for m in ALWAYS_MIRRORS {
        if kept.remove(*m).is_some() {
            removed.push((*m).to_owned());
        }
    }
    removed.sort();
    removed.dedup();
    (denoise(Json::Object(kept)), removed)
}

/// Rounds every non-integer number to 10 significant digits, so binary
/// float noise (`6.749999999999999e-5`, `3.9716150000000003`) reads as
/// the value it stands for.
pub(crate) fn denoise(v: Json) -> Json {
    match v {
        Json::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            let rounded = format!("{f:.9e}").parse::<f64>().unwrap_or(f);
            serde_json::Number::from_f64(rounded).map_or(Json::Number(n), Json::Number)
        }
        Json::Array(items) => Json::Array(items.into_iter().map(denoise).collect()),
        Json::Object(map) => Json::Object(map.into_iter().map(|(k, v)| (k, denoise(v))).collect()),
        other => other,
    }
}

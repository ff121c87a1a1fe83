//! Reading a span's attributes: labels, token counts by kind, and the
//! usage, cost and call fields of its details.

use serde::Serialize;
use serde_json::Value as Json;
use tokentrace_core::semconv;
use tokentrace_store::SpanRow;

use crate::output;

/// A labelled value of the trace header or a span's details; `key` names it
/// for tests and scripts (`data-field`).
#[derive(Debug, Serialize)]
pub(crate) struct Field {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) value: String,
}

pub(super) fn field(key: &'static str, label: &'static str, value: String) -> Field {
    Field { key, label, value }
}

fn is_workflow(s: &SpanRow) -> bool {
    s.span_type.as_deref() == Some(semconv::values::SPAN_TYPE_WORKFLOW)
}

pub(super) fn tokens_label(s: &SpanRow) -> Option<String> {
    if is_workflow(s) {
        return None;
    }
    match (s.input_tokens, s.output_tokens, s.total_tokens) {
        (None, None, None) => None,
        (Some(i), Some(o), _) => Some(format!(
            "{} in · {} out",
            output::count(i),
            output::count(o)
        )),
        (_, _, Some(t)) => Some(format!("{} tokens", output::count(t))),
        (i, o, None) => Some(format!("{} tokens", output::count(i.or(o).unwrap_or(0)))),
    }
}

pub(super) fn cost_label(s: &SpanRow) -> Option<String> {
    if is_workflow(s) {
        return None;
    }
    s.cost_usd.map(output::cost)
}

/// A string attribute of `s`.
pub(super) fn attr_str<'a>(s: &'a SpanRow, key: &str) -> Option<&'a str> {
    s.attributes.get(key).and_then(Json::as_str)
}

/// Key/value pairs of a JSON-object-valued string attribute (`metadata`,
/// template variables); a value that is not a string is shown as JSON.
pub(super) fn object_pairs(raw: Option<&Json>) -> Vec<(String, String)> {
    let parsed = match raw {
        Some(Json::String(s)) => serde_json::from_str::<Json>(s).ok(),
        Some(v @ Json::Object(_)) => Some(v.clone()),
        _ => None,
    };
    match parsed {
        Some(Json::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn is_llm(s: &SpanRow) -> bool {
    s.span_type.as_deref() == Some(semconv::values::SPAN_TYPE_LLM)
}

/// An integer attribute (JSON integer, whole float or numeric string).
fn attr_u64(s: &SpanRow, key: &str) -> Option<u64> {
    match s.attributes.get(key)? {
        Json::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64)),
        Json::String(v) => v.trim().parse().ok(),
        _ => None,
    }
}

/// A numeric attribute.
fn attr_f64(s: &SpanRow, key: &str) -> Option<f64> {
    match s.attributes.get(key)? {
        Json::Number(n) => n.as_f64(),
        Json::String(v) => v.trim().parse().ok(),
        _ => None,
    }
}

/// The first of `keys` that `s` has, as a number.
fn first_f64(s: &SpanRow, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| attr_f64(s, k))
}

fn first_u64(s: &SpanRow, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| attr_u64(s, k))
}

pub(super) fn cache_read(s: &SpanRow) -> Option<u64> {
    first_u64(
        s,
        &[
            semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ,
        ],
    )
}

fn cache_write(s: &SpanRow) -> Option<u64> {
    first_u64(
        s,
        &[
            semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            semconv::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
            semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
        ],
    )
}

pub(super) fn reasoning(s: &SpanRow) -> Option<u64> {
    first_u64(
        s,
        &[
            semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            semconv::LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING,
        ],
    )
}

/// Token counts of an LLM span, the ones it reports.
pub(super) fn usage_fields(s: &SpanRow) -> Vec<Field> {
    if !is_llm(s) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut push = |key, label, v: Option<u64>| {
        if let Some(v) = v {
            out.push(field(key, label, output::count(v)));
        }
    };
    push("input_tokens", "input", s.input_tokens);
    push("cached_tokens", "cached (read)", cache_read(s));
    push("cache_write_tokens", "cache write", cache_write(s));
    push("output_tokens", "output", s.output_tokens);
    push("reasoning_tokens", "reasoning", reasoning(s));
    push("total_tokens", "total", s.total_tokens);
    out
}

/// The cost of an LLM span and its parts.
pub(super) fn cost_fields(s: &SpanRow) -> Vec<Field> {
    if !is_llm(s) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if s.attributes.get(semconv::COST_UNKNOWN_MODEL) == Some(&Json::Bool(true)) {
        out.push(field(
            "cost",
            "cost",
            "unknown: no price for this model".to_owned(),
        ));
        return out;
    }
    let Some(total) = s.cost_usd else {
        return out;
    };
    out.push(field("cost", "total", output::cost(total)));
    let parts: [(&'static str, &'static str, &[&str]); 5] = [
        (
            "input_cost",
            "input",
            &[semconv::COST_INPUT_COST_USD, semconv::LLM_COST_PROMPT],
        ),
        (
            "cache_read_cost",
            "of which cache read",
            &[
                semconv::COST_CACHE_READ_COST_USD,
                semconv::LLM_COST_PROMPT_DETAILS_CACHE_READ,
            ],
        ),
        (
            "cache_write_cost",
            "of which cache write",
            &[
                semconv::COST_CACHE_WRITE_COST_USD,
                semconv::LLM_COST_PROMPT_DETAILS_CACHE_WRITE,
            ],
        ),
        (
            "output_cost",
            "output",
            &[semconv::COST_OUTPUT_COST_USD, semconv::LLM_COST_COMPLETION],
        ),
        (
            "reasoning_cost",
            "of which reasoning",
            &[
                semconv::COST_REASONING_COST_USD,
                semconv::LLM_COST_COMPLETION_DETAILS_REASONING,
            ],
        ),
    ];
    for (key, label, keys) in parts {
        if let Some(v) = first_f64(s, keys) {
            // A zero part of a cache or reasoning split says nothing.
            if v != 0.0 || !label.starts_with("of which") {
                out.push(field(key, label, output::cost(v)));
            }
        }
    }
    if let Some(src) = attr_str(s, semconv::COST_SOURCE) {
        out.push(field("cost_source", "priced from", src.to_owned()));
    }
    if let Some(m) = attr_str(s, semconv::COST_MODEL_NAME) {
        out.push(field("price_entry", "price entry", m.to_owned()));
    }
    out
}

/// Finish reason, time to first token and other facts of an LLM call.
pub(super) fn call_fields(s: &SpanRow) -> Vec<Field> {
    let mut out = Vec::new();
    let finish = match s.attributes.get(semconv::GEN_AI_RESPONSE_FINISH_REASONS) {
        Some(Json::Array(items)) => {
            let v: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect();
            (!v.is_empty()).then(|| v.join(", "))
        }
        Some(Json::String(v)) => Some(v.clone()),
        _ => attr_str(s, semconv::LLM_FINISH_REASON).map(str::to_owned),
    };
    if let Some(v) = finish {
        out.push(field("finish_reason", "finish reason", v));
    }
    if let Some(secs) = attr_f64(s, semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) {
        out.push(field(
            "time_to_first_token",
            "time to first token",
            output::millis(secs * 1000.0),
        ));
    }
    if let Some(Json::Bool(b)) = s.attributes.get(semconv::GEN_AI_REQUEST_STREAM) {
        out.push(field(
            "streamed",
            "streamed",
            if *b { "yes" } else { "no" }.to_owned(),
        ));
    }
    if let Some(v) = attr_str(s, semconv::GEN_AI_OPERATION_NAME) {
        out.push(field("operation", "operation", v.to_owned()));
    }
    if let Some(v) = attr_str(s, semconv::GEN_AI_RESPONSE_ID) {
        out.push(field("response_id", "response id", v.to_owned()));
    }
    if let Some(v) = attr_str(s, semconv::TOKENTRACE_USAGE_MISSING) {
        out.push(field("usage_missing", "no usage because", v.to_owned()));
    }
    out
}

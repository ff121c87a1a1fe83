//! View models: store types turned into what the templates print (formatted
//! strings and precomputed geometry), so templates hold no arithmetic.

use serde::Serialize;
use serde_json::Value as Json;
use tokentrace_core::semconv;
use tokentrace_store::{SpanRow, Trace, TraceSummary};

use crate::output;
use crate::timefmt;

/// Deepest indentation level the stylesheet has a class for.
const MAX_DEPTH: u32 = 15;
/// Lines of one span's JSON viewer before it is cut short.
const MAX_JSON_LINES: usize = 2000;
/// Characters of one JSON string value shown before it is cut short.
const MAX_JSON_STRING: usize = 20_000;
/// Width of the waterfall's SVG coordinate system.
pub(crate) const WATERFALL_WIDTH: f64 = 1000.0;

/// One row of a trace table.
#[derive(Debug, Serialize)]
pub(crate) struct TraceRow {
    pub(crate) trace_id: String,
    pub(crate) href: String,
    pub(crate) started: String,
    pub(crate) name: String,
    pub(crate) workflow: String,
    pub(crate) user: String,
    pub(crate) session: String,
    pub(crate) session_href: Option<String>,
    pub(crate) model: String,
    pub(crate) spans: u64,
    pub(crate) errors: u64,
    pub(crate) latency: String,
    pub(crate) tokens: String,
    pub(crate) cost: String,
}

impl TraceRow {
    pub(crate) fn new(t: &TraceSummary) -> Self {
        Self {
            trace_id: t.trace_id.clone(),
            href: format!("/traces/{}", t.trace_id),
            started: timefmt::format_ns(t.start_ns),
            name: t.name.clone(),
            workflow: t.workflow.clone().unwrap_or_else(|| t.name.clone()),
            user: output::opt(t.user_id.as_deref()),
            session: output::opt(t.session_id.as_deref()),
            session_href: t
                .session_id
                .as_deref()
                .map(|s| format!("/sessions/{}", encode(s))),
            model: output::opt(t.model.as_deref()),
            spans: t.span_count,
            errors: t.error_count,
            latency: output::millis(t.latency_ms),
            tokens: output::count(t.total_tokens),
            cost: output::cost(t.cost_usd),
        }
    }
}

/// One bar of the waterfall.
#[derive(Debug, Serialize)]
pub(crate) struct WaterfallRow {
    pub(crate) span_id: String,
    pub(crate) name: String,
    pub(crate) depth: u32,
    /// The span's real depth (the indentation class stops at [`MAX_DEPTH`]).
    pub(crate) level: u32,
    /// Spans beneath this one (what collapsing it hides).
    pub(crate) descendants: usize,
    /// Its subtree is folded (`?collapse=`).
    pub(crate) collapsed: bool,
    /// Beneath a folded row.
    pub(crate) hidden: bool,
    /// `llm`, `vector`, `workflow` or `other`: the bar's colour.
    pub(crate) class: &'static str,
    pub(crate) error: bool,
    pub(crate) x: f64,
    pub(crate) w: f64,
    pub(crate) offset: String,
    pub(crate) duration: String,
    pub(crate) model: Option<String>,
    pub(crate) tokens: Option<String>,
    pub(crate) cost: Option<String>,
}

/// A tick on the waterfall's time axis.
#[derive(Debug, Serialize)]
pub(crate) struct Tick {
    pub(crate) x: f64,
    pub(crate) label: String,
}

/// One line of the JSON viewer.
#[derive(Debug, Serialize)]
pub(crate) struct JsonLine {
    pub(crate) indent: usize,
    /// The object key, JSON-quoted.
    pub(crate) key: Option<String>,
    pub(crate) text: String,
    /// `string`, `number`, `bool`, `null` or `punct`.
    pub(crate) class: &'static str,
    pub(crate) comma: bool,
}

/// The prompt template an LLM span was made from.
#[derive(Debug, Serialize)]
pub(crate) struct PromptView {
    pub(crate) template: String,
    pub(crate) version: Option<String>,
    pub(crate) variables: Vec<(String, String)>,
}

/// A labelled value of the trace header or a span's details; `key` names it
/// for tests and scripts (`data-field`).
#[derive(Debug, Serialize)]
pub(crate) struct Field {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) value: String,
}

fn field(key: &'static str, label: &'static str, value: String) -> Field {
    Field { key, label, value }
}

/// One captured message (input or output) of a span.
#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub(crate) role: String,
    pub(crate) text: String,
}

/// The detail panel of one span.
#[derive(Debug, Serialize)]
pub(crate) struct SpanDetail {
    pub(crate) span_id: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) span_type: String,
    pub(crate) status: String,
    pub(crate) status_message: Option<String>,
    pub(crate) offset: String,
    pub(crate) duration: String,
    pub(crate) model: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) tokens: Option<String>,
    pub(crate) cost: Option<String>,
    pub(crate) prompt: Option<PromptView>,
    pub(crate) metadata: Vec<(String, String)>,
    /// Token counts: input, cached, cache write, output, reasoning, total.
    pub(crate) usage: Vec<Field>,
    /// Cost and its parts, with where the price came from.
    pub(crate) costs: Vec<Field>,
    /// Finish reason, time to first token, streaming, response id.
    pub(crate) call: Vec<Field>,
    /// Captured input messages (opt-in content capture).
    pub(crate) input: Vec<Message>,
    /// Captured output messages.
    pub(crate) output: Vec<Message>,
    pub(crate) attributes: Vec<JsonLine>,
    /// Attribute names left out of the raw JSON because they repeat another
    /// attribute's value under another convention's name.
    pub(crate) mirrors: Vec<String>,
    pub(crate) events: Vec<JsonLine>,
    pub(crate) event_count: usize,
}

/// Everything the trace page shows.
#[derive(Debug, Serialize)]
pub(crate) struct TraceView {
    pub(crate) trace_id: String,
    pub(crate) name: String,
    pub(crate) workflow: String,
    pub(crate) started: String,
    pub(crate) latency: String,
    pub(crate) tokens: String,
    pub(crate) cost: String,
    pub(crate) errors: u64,
    pub(crate) span_count: usize,
    pub(crate) llm_calls: usize,
    pub(crate) user: Option<String>,
    pub(crate) user_href: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) session_href: Option<String>,
    /// Models of the LLM calls, in call order without repeats.
    pub(crate) models: Vec<String>,
    /// Input, output, cached and reasoning tokens over the LLM calls.
    pub(crate) breakdown: Vec<Field>,
    pub(crate) rows: Vec<WaterfallRow>,
    pub(crate) ticks: Vec<Tick>,
    pub(crate) spans: Vec<SpanDetail>,
}

fn is_workflow(s: &SpanRow) -> bool {
    s.span_type.as_deref() == Some(semconv::values::SPAN_TYPE_WORKFLOW)
}

fn tokens_label(s: &SpanRow) -> Option<String> {
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

fn cost_label(s: &SpanRow) -> Option<String> {
    if is_workflow(s) {
        return None;
    }
    s.cost_usd.map(output::cost)
}

/// A string attribute of `s`.
fn attr_str<'a>(s: &'a SpanRow, key: &str) -> Option<&'a str> {
    s.attributes.get(key).and_then(Json::as_str)
}

/// Key/value pairs of a JSON-object-valued string attribute (`metadata`,
/// template variables); a value that is not a string is shown as JSON.
fn object_pairs(raw: Option<&Json>) -> Vec<(String, String)> {
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

fn prompt(s: &SpanRow) -> Option<PromptView> {
    let template = attr_str(s, semconv::LLM_PROMPT_TEMPLATE_TEMPLATE)?;
    Some(PromptView {
        template: template.to_owned(),
        version: attr_str(s, semconv::LLM_PROMPT_TEMPLATE_VERSION).map(str::to_owned),
        variables: object_pairs(s.attributes.get(semconv::LLM_PROMPT_TEMPLATE_VARIABLES)),
    })
}

fn is_llm(s: &SpanRow) -> bool {
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

fn cache_read(s: &SpanRow) -> Option<u64> {
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

fn reasoning(s: &SpanRow) -> Option<u64> {
    first_u64(
        s,
        &[
            semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            semconv::LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING,
        ],
    )
}

/// Token counts of an LLM span, the ones it reports.
fn usage_fields(s: &SpanRow) -> Vec<Field> {
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
fn cost_fields(s: &SpanRow) -> Vec<Field> {
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
fn call_fields(s: &SpanRow) -> Vec<Field> {
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

/// Messages shown at most per panel, and characters per message.
const MAX_MESSAGES: usize = 100;
const MAX_MESSAGE_CHARS: usize = 20_000;

/// The text of a message's content: a string, parts with `text`, or JSON.
fn content_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Array(items) => items
            .iter()
            .map(content_text)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        Json::Object(m) => {
            for k in ["text", "content", "parts", "output_text"] {
                if let Some(v) = m.get(k) {
                    return content_text(v);
                }
            }
            v.to_string()
        }
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// One message of a provider's request or response JSON: OpenAI messages
/// and choices, Anthropic content blocks, Gemini contents and candidates,
/// Responses API output items.
fn message_of(v: &Json, role: &str, out: &mut Vec<Message>) {
    let Json::Object(m) = v else {
        out.push(Message {
            role: role.to_owned(),
            text: content_text(v),
        });
        return;
    };
    // A whole request or response body: its messages, choices or candidates.
    for k in [
        "messages",
        "contents",
        "choices",
        "candidates",
        "output",
        "input",
        "prompt",
    ] {
        match m.get(k) {
            Some(Json::Array(items)) if m.get("role").is_none() => {
                for i in items.iter().take(MAX_MESSAGES) {
                    message_of(i, role, out);
                }
                return;
            }
            Some(Json::String(text)) if m.get("role").is_none() && k != "output" => {
                out.push(Message {
                    role: role.to_owned(),
                    text: text.clone(),
                });
                return;
            }
            _ => {}
        }
    }
    // An OpenAI choice or a Gemini candidate wraps the message.
    if let Some(inner @ Json::Object(_)) = m.get("message").or_else(|| m.get("content"))
        && (inner.get("role").is_some() || inner.get("parts").is_some())
    {
        return message_of(inner, role, out);
    }
    let role = m
        .get("role")
        .or_else(|| m.get("author"))
        .and_then(Json::as_str)
        .map_or_else(
            || role.to_owned(),
            |r| {
                if r == "model" {
                    "assistant".to_owned()
                } else {
                    r.to_owned()
                }
            },
        );
    let text = ["content", "parts", "text"]
        .iter()
        .find_map(|k| m.get(*k))
        .map_or_else(|| v.to_string(), content_text);
    out.push(Message { role, text });
}

/// Messages of a captured content attribute (a JSON string, or plain text).
pub(crate) fn messages(raw: &Json, role: &str) -> Vec<Message> {
    let parsed = match raw {
        Json::String(s) => match serde_json::from_str::<Json>(s) {
            Ok(v @ (Json::Array(_) | Json::Object(_))) => v,
            _ => Json::String(s.clone()),
        },
        other => other.clone(),
    };
    let mut out = Vec::new();
    match &parsed {
        Json::Array(items) => {
            for i in items.iter().take(MAX_MESSAGES) {
                message_of(i, role, &mut out);
            }
        }
        other => message_of(other, role, &mut out),
    }
    for m in &mut out {
        if m.text.chars().count() > MAX_MESSAGE_CHARS {
            m.text = m.text.chars().take(MAX_MESSAGE_CHARS).collect();
            m.text.push('…');
        }
    }
    out.retain(|m| !m.text.is_empty());
    out
}

/// The captured input of `s`: system instructions then the messages
/// (`gen_ai.input.messages`, else `input.value`, else workflow arguments).
fn input_messages(s: &SpanRow) -> Vec<Message> {
    let mut out = Vec::new();
    if let Some(sys) = s.attributes.get(semconv::GEN_AI_SYSTEM_INSTRUCTIONS) {
        out.extend(messages(sys, "system"));
    }
    let main = [
        semconv::GEN_AI_INPUT_MESSAGES,
        semconv::INPUT_VALUE,
        semconv::TOKENTRACE_FUNCTION_ARGS,
    ]
    .iter()
    .find_map(|k| s.attributes.get(*k));
    if let Some(v) = main {
        out.extend(messages(v, "user"));
    }
    out
}

/// The captured output of `s`.
fn output_messages(s: &SpanRow) -> Vec<Message> {
    [
        semconv::GEN_AI_OUTPUT_MESSAGES,
        semconv::OUTPUT_VALUE,
        semconv::TOKENTRACE_FUNCTION_RESULT,
    ]
    .iter()
    .find_map(|k| s.attributes.get(*k))
    .map(|v| messages(v, "assistant"))
    .unwrap_or_default()
}

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

/// The first non-empty string attribute `key` over the spans, root first.
fn trace_attr(trace: &Trace, keys: &[&str]) -> Option<String> {
    trace.spans.iter().find_map(|s| {
        keys.iter()
            .find_map(|k| attr_str(s, k))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })
}

/// Tokens of the trace's LLM calls by kind.
fn breakdown(trace: &Trace) -> Vec<Field> {
    let llm: Vec<&SpanRow> = trace.spans.iter().filter(|s| is_llm(s)).collect();
    let sum = |f: &dyn Fn(&SpanRow) -> Option<u64>| llm.iter().filter_map(|s| f(s)).sum::<u64>();
    vec![
        field(
            "input_tokens",
            "input",
            output::count(sum(&|s| s.input_tokens)),
        ),
        field(
            "output_tokens",
            "output",
            output::count(sum(&|s| s.output_tokens)),
        ),
        field("cached_tokens", "cached", output::count(sum(&cache_read))),
        field(
            "reasoning_tokens",
            "reasoning",
            output::count(sum(&reasoning)),
        ),
    ]
}

/// Folds the subtrees of `rows` that `collapse` names: `all` (every row
/// with spans beneath but the roots) or comma-separated span ids; rows
/// beneath a folded one are hidden, as the script does on a click.
pub(crate) fn fold(rows: &mut [WaterfallRow], collapse: &str) {
    let ids: Vec<&str> = collapse.split(',').map(str::trim).collect();
    for r in rows.iter_mut() {
        r.collapsed = r.descendants > 0
            && if collapse.trim() == "all" {
                r.level > 0
            } else {
                ids.contains(&r.span_id.as_str())
            };
    }
    let mut hide_below = u32::MAX;
    for r in rows.iter_mut() {
        if r.level > hide_below {
            r.hidden = true;
            continue;
        }
        r.hidden = false;
        hide_below = if r.collapsed { r.level } else { u32::MAX };
    }
}

/// How many spans follow each span in tree order before one at its depth or above.
fn descendants(spans: &[SpanRow]) -> Vec<usize> {
    (0..spans.len())
        .map(|i| {
            spans[i + 1..]
                .iter()
                .take_while(|s| s.depth > spans[i].depth)
                .count()
        })
        .collect()
}

impl TraceView {
    pub(crate) fn new(trace: &Trace) -> Self {
        let t0 = trace.start_ns;
        let end = trace.spans.iter().map(|s| s.end_ns).max().unwrap_or(t0);
        let total_ns = (end - t0).max(1) as f64;
        let scale =
            |ns: i64| ((ns - t0) as f64 / total_ns * WATERFALL_WIDTH).clamp(0.0, WATERFALL_WIDTH);
        let below = descendants(&trace.spans);
        let rows = trace
            .spans
            .iter()
            .zip(below)
            .map(|(s, descendants)| {
                let x = scale(s.start_ns);
                // A zero-length span still gets a visible sliver.
                let w = (scale(s.end_ns) - x)
                    .max(2.0)
                    .min(WATERFALL_WIDTH - x)
                    .max(1.0);
                WaterfallRow {
                    span_id: s.span_id.clone(),
                    name: s.name.clone(),
                    depth: s.depth.min(MAX_DEPTH),
                    level: s.depth,
                    descendants,
                    collapsed: false,
                    hidden: false,
                    class: match s.span_type.as_deref() {
                        Some(semconv::values::SPAN_TYPE_LLM) => "llm",
                        Some(semconv::values::SPAN_TYPE_VECTOR) => "vector",
                        Some(semconv::values::SPAN_TYPE_WORKFLOW) => "workflow",
                        _ => "other",
                    },
                    error: s.status_code == "error",
                    x: round1(x),
                    w: round1(w),
                    offset: output::millis((s.start_ns - t0) as f64 / 1e6),
                    duration: output::millis(s.duration_ms),
                    model: s.model.clone(),
                    tokens: tokens_label(s),
                    cost: cost_label(s),
                }
            })
            .collect();
        let ticks = axis_labels(total_ns / 1e6, 4)
            .into_iter()
            .enumerate()
            .map(|(i, label)| Tick {
                x: i as f64 * WATERFALL_WIDTH / 4.0,
                label,
            })
            .collect();
        let spans = trace
            .spans
            .iter()
            .map(|s| {
                let (canonical, mirrors) = canonical_attributes(&s.attributes);
                let mut attributes = Vec::new();
                json_lines(&canonical, None, 0, true, &mut attributes);
                let mut events = Vec::new();
                json_lines(&denoise(s.events.clone()), None, 0, true, &mut events);
                SpanDetail {
                    span_id: s.span_id.clone(),
                    name: s.name.clone(),
                    kind: s.kind.clone(),
                    span_type: s.span_type.clone().unwrap_or_else(|| "-".to_owned()),
                    status: s.status_code.clone(),
                    status_message: s.status_message.clone(),
                    offset: output::millis((s.start_ns - t0) as f64 / 1e6),
                    duration: output::millis(s.duration_ms),
                    model: s.model.clone(),
                    provider: s.provider.clone(),
                    tokens: tokens_label(s),
                    cost: cost_label(s),
                    prompt: prompt(s),
                    metadata: object_pairs(s.attributes.get(semconv::METADATA)),
                    usage: usage_fields(s),
                    costs: cost_fields(s),
                    call: call_fields(s),
                    input: input_messages(s),
                    output: output_messages(s),
                    attributes,
                    mirrors,
                    events,
                    event_count: s.events.as_array().map_or(0, Vec::len),
                }
            })
            .collect();
        let user = trace_attr(trace, &[semconv::USER_ID]);
        let session = trace_attr(
            trace,
            &[semconv::SESSION_ID, semconv::GEN_AI_CONVERSATION_ID],
        );
        let mut models: Vec<String> = Vec::new();
        for m in trace
            .spans
            .iter()
            .filter(|s| is_llm(s))
            .filter_map(|s| s.model.as_ref())
        {
            if !models.contains(m) {
                models.push(m.clone());
            }
        }
        Self {
            user_href: user
                .as_deref()
                .map(|u| format!("/{}", query_string(&[("user", Some(u.to_owned()))]))),
            session_href: session
                .as_deref()
                .map(|s| format!("/sessions/{}", encode(s))),
            user,
            session,
            models,
            breakdown: breakdown(trace),
            trace_id: trace.trace_id.clone(),
            name: trace.name.clone(),
            workflow: trace.workflow.clone().unwrap_or_else(|| trace.name.clone()),
            started: timefmt::format_ns(trace.start_ns),
            latency: output::millis(trace.latency_ms),
            tokens: output::count(trace.total_tokens),
            cost: output::cost(trace.cost_usd),
            errors: trace.error_count,
            span_count: trace.spans.len(),
            llm_calls: trace.spans.iter().filter(|s| is_llm(s)).count(),
            rows,
            ticks,
            spans,
        }
    }
}

/// Labels of `steps + 1` evenly spaced ticks from 0 to `total_ms`: the unit
/// (µs, ms or s) follows the span and the decimals follow the step, so two
/// neighbouring ticks never print the same text (a 0.4 ms trace reads
/// `0 µs, 100 µs, 200 µs…`, not `0.1 ms, 0.1 ms`).
pub(crate) fn axis_labels(total_ms: f64, steps: u32) -> Vec<String> {
    let steps = steps.max(1);
    let total_ms = if total_ms.is_finite() && total_ms > 0.0 {
        total_ms
    } else {
        0.0
    };
    let (unit, per_ms) = if total_ms >= 1000.0 {
        ("s", 1e-3)
    } else if total_ms >= 1.0 {
        ("ms", 1.0)
    } else {
        ("µs", 1e3)
    };
    let step = total_ms * per_ms / f64::from(steps);
    // Enough decimals that the step is at least one unit of the last digit:
    // then rounding keeps neighbours apart.
    let decimals = if step > 0.0 {
        (-step.log10()).ceil().clamp(0.0, 9.0) as usize
    } else {
        0
    };
    (0..=steps)
        .map(|i| format!("{:.*} {unit}", decimals, step * f64::from(i)))
        .collect()
}

/// A duration for people: `480.0 ms`, `12.35 s`, then `4 min 12 s`,
/// `25 h 3 min`, `2 d 3 h` (a session can span days).
pub(crate) fn human_duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 60_000.0 {
        return output::millis(ms.max(0.0));
    }
    let secs = (ms / 1000.0).round() as u64;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {s} s")
    }
}

pub(crate) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Flattens `v` into indented, classed lines for the JSON viewer.
pub(crate) fn json_lines(
    v: &Json,
    key: Option<&str>,
    indent: usize,
    last: bool,
    out: &mut Vec<JsonLine>,
) {
    if out.len() >= MAX_JSON_LINES {
        if out.len() == MAX_JSON_LINES {
            out.push(JsonLine {
                indent,
                key: None,
                text: "… (truncated)".to_owned(),
                class: "punct",
                comma: false,
            });
        }
        return;
    }
    let line = |text: String, class: &'static str, key: Option<&str>, comma: bool| JsonLine {
        indent: indent.min(20),
        key: key.map(|k| Json::String(k.to_owned()).to_string()),
        text,
        class,
        comma,
    };
    match v {
        Json::Object(map) if !map.is_empty() => {
            out.push(line("{".to_owned(), "punct", key, false));
            let n = map.len();
            for (i, (k, v)) in map.iter().enumerate() {
                json_lines(v, Some(k), indent + 1, i + 1 == n, out);
            }
            out.push(line("}".to_owned(), "punct", None, !last));
        }
        Json::Array(items) if !items.is_empty() => {
            out.push(line("[".to_owned(), "punct", key, false));
            let n = items.len();
            for (i, v) in items.iter().enumerate() {
                json_lines(v, None, indent + 1, i + 1 == n, out);
            }
            out.push(line("]".to_owned(), "punct", None, !last));
        }
        Json::Object(_) => out.push(line("{}".to_owned(), "punct", key, !last)),
        Json::Array(_) => out.push(line("[]".to_owned(), "punct", key, !last)),
        Json::String(s) => {
            let shown: String = if s.chars().count() > MAX_JSON_STRING {
                let mut t: String = s.chars().take(MAX_JSON_STRING).collect();
                t.push('…');
                t
            } else {
                s.clone()
            };
            out.push(line(Json::String(shown).to_string(), "string", key, !last));
        }
        Json::Number(n) => out.push(line(n.to_string(), "number", key, !last)),
        Json::Bool(b) => out.push(line(b.to_string(), "bool", key, !last)),
        Json::Null => out.push(line("null".to_owned(), "null", key, !last)),
    }
}

/// Percent-encodes `s` for a URL path segment or query value (RFC 3986 unreserved kept).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string (`?a=1&b=2`) of the non-empty pairs.
pub(crate) fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_viewer_lines_nest_and_end_with_commas_where_json_would() {
        let v = serde_json::json!({"a": 1, "b": [true, null], "c": {}});
        let mut out = Vec::new();
        json_lines(&v, None, 0, true, &mut out);
        let text: Vec<String> = out
            .iter()
            .map(|l| {
                format!(
                    "{}{}{}{}",
                    "  ".repeat(l.indent),
                    l.key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default(),
                    l.text,
                    if l.comma { "," } else { "" }
                )
            })
            .collect();
        let joined = text.join("\n");
        let reparsed: Json = serde_json::from_str(&joined).unwrap();
        assert_eq!(reparsed, v);
    }

    #[test]
    fn axis_ticks_adapt_their_precision_to_the_span() {
        let distinct = |labels: &[String]| labels.windows(2).all(|w| w[0] != w[1]);
        // The reported case: a sub-millisecond trace.
        let sub = axis_labels(0.4, 4);
        assert_eq!(sub, ["0 µs", "100 µs", "200 µs", "300 µs", "400 µs"]);
        let tiny = axis_labels(0.0042, 4);
        assert_eq!(tiny, ["0 µs", "1 µs", "2 µs", "3 µs", "4 µs"]);
        let ms = axis_labels(2.6, 4);
        assert_eq!(ms, ["0.0 ms", "0.7 ms", "1.3 ms", "2.0 ms", "2.6 ms"]);
        assert_eq!(
            axis_labels(0.04, 4),
            ["0 µs", "10 µs", "20 µs", "30 µs", "40 µs"]
        );
        assert_eq!(
            axis_labels(0.002, 4),
            ["0.0 µs", "0.5 µs", "1.0 µs", "1.5 µs", "2.0 µs"]
        );
        assert_eq!(
            axis_labels(480.0, 4),
            ["0 ms", "120 ms", "240 ms", "360 ms", "480 ms"]
        );
        assert_eq!(
            axis_labels(2500.0, 4),
            ["0.0 s", "0.6 s", "1.2 s", "1.9 s", "2.5 s"]
        );
        for total in [
            1e-6, 0.013, 0.1, 0.9999, 1.0, 3.3, 99.9, 999.0, 1000.0, 123_456.0,
        ] {
            let labels = axis_labels(total, 4);
            assert_eq!(labels.len(), 5);
            assert!(distinct(&labels), "{total} ms: {labels:?}");
        }
        // A zero-length trace has one meaningful tick, shown without noise.
        assert_eq!(axis_labels(0.0, 4)[4], "0 µs");
        assert_eq!(axis_labels(f64::NAN, 2), ["0 µs", "0 µs", "0 µs"]);
    }

    #[test]
    fn messages_are_read_from_each_providers_shapes() {
        let read = |raw: &str, role: &str| -> Vec<(String, String)> {
            messages(&Json::String(raw.to_owned()), role)
                .into_iter()
                .map(|m| (m.role, m.text))
                .collect()
        };
        let pair = |r: &str, t: &str| (r.to_owned(), t.to_owned());
        // OpenAI chat request body and messages with content parts.
        assert_eq!(
            read(
                r#"{"model":"m","messages":[{"role":"system","content":"sys"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#,
                "user"
            ),
            [pair("system", "sys"), pair("user", "a\nb")]
        );
        // OpenAI choices, Anthropic response, Gemini candidates, Responses output.
        assert_eq!(
            read(
                r#"[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]"#,
                "assistant"
            ),
            [pair("assistant", "hi")]
        );
        assert_eq!(
            read(
                r#"{"type":"message","role":"assistant","content":[{"type":"text","text":"yo"}]}"#,
                "assistant"
            ),
            [pair("assistant", "yo")]
        );
        assert_eq!(
            read(
                r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"g"}]}}]}"#,
                "assistant"
            ),
            [pair("assistant", "g")]
        );
        assert_eq!(
            read(
                r#"{"output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"r"}]}]}"#,
                "assistant"
            ),
            [pair("assistant", "r")]
        );
        // Plain text, and a Responses-API string input.
        assert_eq!(read("just text", "user"), [pair("user", "just text")]);
        assert_eq!(read(r#"{"input":"q?"}"#, "user"), [pair("user", "q?")]);
        // Bounded.
        let long = "x".repeat(MAX_MESSAGE_CHARS + 10);
        let m = read(&long, "user");
        assert_eq!(m[0].1.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn long_durations_read_in_minutes_hours_and_days() {
        assert_eq!(human_duration(480.0), "480.0 ms");
        assert_eq!(human_duration(12_345.0), "12.35 s");
        assert_eq!(human_duration(252_000.0), "4 min 12 s");
        assert_eq!(human_duration(90_000_120.0), "1 d 1 h");
        assert_eq!(human_duration(11_100_000.0), "3 h 5 min");
        assert_eq!(human_duration(183_600_000.0), "2 d 3 h");
    }

    #[test]
    fn encode_keeps_unreserved_characters_only() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            query_string(&[
                ("x", Some("1".into())),
                ("y", None),
                ("z", Some(String::new()))
            ]),
            "?x=1"
        );
    }
}

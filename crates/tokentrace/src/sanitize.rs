//! What every exporter receives: the last step of the pipeline, applied to
//! each finished span before it is fanned out to the store, OTLP and any
//! extra exporter (see `docs/security.md`, "Events from other crates").
//!
//! * With content capture off, span events logged by other crates (any
//!   `tracing` target not starting with `tokentrace`) keep their level,
//!   target and numbers, but text that may hold a prompt, a completion or a
//!   request/response body is cut: values of content-like fields (`body`,
//!   `prompt`, `messages`, ...) entirely, other text (the message included)
//!   from its first `{`, `[` or `"` or beyond [`MAX_FOREIGN_TEXT_BYTES`].
//!   Span attributes that hold content by convention (`gen_ai.input.messages`,
//!   `input.value`, ...) are dropped from spans other libraries opened
//!   (untyped, `framework`, or priced foreign spans); tokentrace's own follow
//!   their own switch (`LlmMiddleware::capture_content`, per request).
//! * Always: a span EnrichLayer marked `tokentrace.span.type = "framework"`
//!   (another library's GenAI span over a tokentrace LLM span) has its
//!   `gen_ai.usage.*` attributes moved to `tokentrace.framework.usage.*`, so a
//!   backend that sums `gen_ai.usage.*` counts the call once.

use std::borrow::Cow;

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;
use tokentrace_core::semconv::{self, prefixes, values};

/// The `tracing` target prefix of tokentrace's own crates.
pub(crate) const OWN_TARGET_PREFIX: &str = "tokentrace";

/// Which events become span events unless `TOKENTRACE_EVENTS` or
/// [`Telemetry::events`](crate::Telemetry::events) says otherwise: WARN and
/// above from every crate, everything from tokentrace's own.
pub(crate) const DEFAULT_EVENTS: &str = "warn,tokentrace=trace";

/// Longest text kept from another crate's event with content capture off.
pub(crate) const MAX_FOREIGN_TEXT_BYTES: usize = 200;

/// Last name segments (split on `.`, `_`, `-`) of event fields whose values
/// are content, redacted whole with content capture off.
const CONTENT_WORDS: &[&str] = &[
    "body",
    "bodies",
    "prompt",
    "prompts",
    "content",
    "contents",
    "message",
    "messages",
    "request",
    "response",
    "completion",
    "completions",
    "choices",
    "input",
    "inputs",
    "output",
    "outputs",
    "text",
    "payload",
    "query",
    "document",
    "documents",
    "chunk",
    "delta",
    "data",
    "json",
    "instructions",
    "args",
    "arguments",
    "result",
];

/// Span attributes that hold prompt or completion text by convention.
const CONTENT_ATTRIBUTES: &[&str] = &[
    semconv::GEN_AI_INPUT_MESSAGES,
    semconv::GEN_AI_OUTPUT_MESSAGES,
    semconv::GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv::GEN_AI_TOOL_DEFINITIONS,
    semconv::INPUT_VALUE,
    semconv::OUTPUT_VALUE,
];

/// How spans are rewritten before export.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExportPolicy {
    pub(crate) capture_content: bool,
}

impl ExportPolicy {
    /// Rewrites `span` in place (see the module docs).
    pub(crate) fn apply(&self, span: &mut SpanData) {
        let mut span_type = None;
        let mut foreign_source = false;
        for kv in &span.attributes {
            match kv.key.as_str() {
                semconv::TOKENTRACE_SPAN_TYPE => span_type = Some(kv.value.as_str()),
                semconv::TOKENTRACE_SPAN_SOURCE => foreign_source = true,
                _ => {}
            }
        }
        let framework = span_type.as_deref() == Some(values::SPAN_TYPE_FRAMEWORK);
        // tokentrace's own spans follow their own capture settings (a client
        // or a request may opt in while the process default is off).
        let own = !foreign_source && span_type.is_some() && !framework;
        if framework {
            demote_usage(&mut span.attributes);
        }
        if self.capture_content {
            return;
        }
        if !own {
            span.attributes
                .retain(|kv| !CONTENT_ATTRIBUTES.contains(&kv.key.as_str()));
        }
        for event in &mut span.events.events {
            let foreign = event.attributes.iter().any(|kv| {
                kv.key.as_str() == semconv::EVENT_TARGET
                    && !kv.value.as_str().starts_with(OWN_TARGET_PREFIX)
            });
            if !foreign {
                continue;
            }
            let mut redacted = false;
            if let Some(cut) = cut_text(&event.name) {
                event.name = Cow::Owned(cut);
                redacted = true;
            }
            for kv in &mut event.attributes {
                let key = kv.key.as_str();
                if key == semconv::EVENT_TARGET || key == semconv::EVENT_LEVEL {
                    continue;
                }
                if let Some(v) = redact_value(key, &kv.value) {
                    kv.value = v;
                    redacted = true;
                }
            }
            if redacted {
                event
                    .attributes
                    .push(KeyValue::new(semconv::TOKENTRACE_CONTENT_REDACTED, true));
            }
        }
    }
}

/// Moves every `gen_ai.usage.*` attribute to `tokentrace.framework.usage.*`.
fn demote_usage(attributes: &mut [KeyValue]) {
    for kv in attributes {
        if let Some(rest) = kv.key.as_str().strip_prefix(prefixes::GEN_AI_USAGE) {
            kv.key = Key::new(format!("{}{rest}", prefixes::FRAMEWORK_USAGE));
        }
    }
}

fn is_content_key(key: &str) -> bool {
    key.rsplit(['.', '_', '-'])
        .next()
        .is_some_and(|last| CONTENT_WORDS.contains(&last.to_ascii_lowercase().as_str()))
}

/// The redacted replacement of a foreign event field's value, or `None`
/// to keep it. Numbers and booleans are kept.
fn redact_value(key: &str, value: &Value) -> Option<Value> {
    match value {
        Value::String(s) if is_content_key(key) => {
            Some(Value::String(redacted_marker(s.as_str().len()).into()))
        }
        Value::String(s) => cut_text(s.as_str()).map(|t| Value::String(t.into())),
        Value::Array(Array::String(items)) => {
            let content = is_content_key(key);
            let mut changed = false;
            let items: Vec<StringValue> = items
                .iter()
                .map(|item| {
                    let text = item.as_str();
                    let new = if content {
                        Some(redacted_marker(text.len()))
                    } else {
                        cut_text(text)
                    };
                    changed |= new.is_some();
                    new.map_or_else(|| item.clone(), StringValue::from)
                })
                .collect();
            changed.then_some(Value::Array(Array::String(items)))
        }
        _ => None,
    }
}

fn redacted_marker(bytes: usize) -> String {
    format!("[redacted {bytes} bytes]")
}

/// `text` cut before its first `{`, `[` or `"` (where serialized data and
/// quoted values start) and to [`MAX_FOREIGN_TEXT_BYTES`], with a marker
/// saying how much was cut; `None` when nothing needs cutting.
pub(crate) fn cut_text(text: &str) -> Option<String> {
    let end = text
        .find(['{', '[', '"'])
        .unwrap_or(text.len())
        .min(MAX_FOREIGN_TEXT_BYTES);
    let kept = tokentrace_core::bound::truncate_utf8(text, end);
    if kept.len() == text.len() {
        return None;
    }
    Some(format!(
        "{kept}{}",
        redacted_marker(text.len() - kept.len())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_where_data_starts_or_at_the_bound() {
        assert_eq!(cut_text("connection reset, retrying"), None);
        assert_eq!(
            cut_text(r#"Request body: {"messages":[]}"#).as_deref(),
            Some("Request body: [redacted 15 bytes]")
        );
        let long = "é".repeat(150);
        let cut = cut_text(&long).unwrap();
        assert!(cut.starts_with(&"é".repeat(100)), "{cut}");
        assert!(cut.ends_with("[redacted 100 bytes]"), "{cut}");
    }

    #[test]
    fn content_keys_are_recognised_by_their_last_segment() {
        for k in [
            "body",
            "http.response.body",
            "request_body",
            "prompt",
            "messages",
        ] {
            assert!(is_content_key(k), "{k}");
        }
        for k in ["request_id", "status", "attempt", "error.type"] {
            assert!(!is_content_key(k), "{k}");
        }
    }
}

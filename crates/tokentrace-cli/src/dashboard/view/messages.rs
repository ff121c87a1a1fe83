//! The captured messages of a span (input and output), read from each
//! provider's and convention's shapes.

use serde::Serialize;
use serde_json::Value as Json;
use tokentrace_core::semconv;
use tokentrace_store::SpanRow;

/// One captured message (input or output) of a span.
#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub(crate) role: String,
    pub(crate) text: String,
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
pub(super) fn input_messages(s: &SpanRow) -> Vec<Message> {
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
pub(super) fn output_messages(s: &SpanRow) -> Vec<Message> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

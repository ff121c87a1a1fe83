//! Captured content in the OpenTelemetry GenAI message schema.
//!
//! `gen_ai.input.messages`, `gen_ai.output.messages` and
//! `gen_ai.system_instructions` follow the JSON schemas of the GenAI
//! conventions (`gen-ai-input-messages.json`, `gen-ai-output-messages.json`,
//! `gen-ai-system-instructions.json`): a message is `{"role", "parts"}`, and a
//! part is `{"type": "text", "content"}`, `{"type": "tool_call", "id", "name",
//! "arguments"}`, `{"type": "tool_call_response", "id", "response"}`,
//! `{"type": "reasoning", "content"}`, `{"type": "uri", "modality", "uri"}`,
//! `{"type": "blob", "modality", "mime_type", "content"}`, or a generic part
//! (`{"type": "generic", "generic_type", "value"}`) for anything else.
//!
//! The functions here turn each provider's request and response JSON into
//! that shape: OpenAI Chat Completions and Responses, Anthropic Messages,
//! Gemini / Vertex, Bedrock Converse, Cohere v2, Mistral and Ollama. A body of
//! another shape gives `None`, and the caller keeps the provider's own value.

use serde_json::{Map, Value, json};

/// `gen_ai.input.messages` from a request body, when its shape is known.
pub fn input_messages(req: &Map<String, Value>) -> Option<Value> {
    if let Some(Value::Array(messages)) = req.get("messages").or_else(|| req.get("contents")) {
        let out: Vec<Value> = messages.iter().filter_map(message).collect();
        return Some(Value::Array(out));
    }
    // OpenAI Responses `input` (a string or a list of items), legacy
    // completions `prompt`, embeddings `input` / `texts`.
    let input = ["input", "prompt", "texts"]
        .iter()
        .find_map(|k| req.get(*k))?;
    match input {
        Value::String(s) => Some(json!([user_text(s)])),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let parts: Vec<Value> = items.iter().filter_map(Value::as_str).map(text).collect();
            Some(json!([{ "role": "user", "parts": parts }]))
        }
        Value::Array(items) => Some(Value::Array(responses_items(items, "user"))),
        _ => None,
    }
}

/// The request fields that hold a system prompt, by provider: Anthropic
/// `system`, Gemini `systemInstruction` / `system_instruction`, the
/// Responses API `instructions`.
pub const SYSTEM_KEYS: [&str; 4] = [
    "system",
    "systemInstruction",
    "system_instruction",
    "instructions",
];

/// The request's system prompt as sent, from the first of [`SYSTEM_KEYS`]
/// present.
pub fn system_field(req: &Map<String, Value>) -> Option<&Value> {
    SYSTEM_KEYS.iter().find_map(|k| req.get(*k))
}

/// `gen_ai.system_instructions` (text parts only) from a request body.
pub fn system_instructions(req: &Map<String, Value>) -> Option<Value> {
    let system = system_field(req)?;
    let mut parts = Vec::new();
    collect_text(system, &mut parts);
    (!parts.is_empty()).then_some(Value::Array(parts))
}

/// `gen_ai.output.messages` from a response body, when its shape is known.
pub fn output_messages(resp: &Map<String, Value>) -> Option<Value> {
    // OpenAI chat / legacy completions.
    if let Some(Value::Array(choices)) = resp.get("choices") {
        let out = choices
            .iter()
            .map(|c| match c.get("message") {
                Some(m) => assistant(m),
                None => {
                    let t = c.get("text").and_then(Value::as_str).unwrap_or_default();
                    json!({ "role": "assistant", "parts": [text(t)] })
                }
            })
            .collect();
        return Some(Value::Array(out));
    }
    // Gemini / Vertex.
    if let Some(Value::Array(candidates)) = resp.get("candidates") {
        let out = candidates
            .iter()
            .map(|c| assistant(c.get("content").unwrap_or(&Value::Null)))
            .collect();
        return Some(Value::Array(out));
    }
    // Anthropic: the response is one assistant message.
    if let Some(content @ Value::Array(_)) = resp.get("content") {
        return Some(json!([{ "role": "assistant", "parts": parts(content) }]));
    }
    // OpenAI Responses: a list of output items.
    if let Some(Value::Array(items)) = resp.get("output") {
        let messages = responses_items(items, "assistant");
        // One assistant message with every part, in order.
        let parts: Vec<Value> = messages
            .into_iter()
            .filter_map(|m| match m {
                Value::Object(mut o) => o.remove("parts"),
                _ => None,
            })
            .flat_map(|p| match p {
                Value::Array(p) => p,
                _ => Vec::new(),
            })
            .collect();
        return Some(json!([{ "role": "assistant", "parts": parts }]));
    }
    // Bedrock Converse `output.message`, Cohere v2 and Ollama `message`.
    if let Some(m) = resp
        .get("output")
        .and_then(|o| o.get("message"))
        .or_else(|| resp.get("message"))
        && m.is_object()
    {
        return Some(json!([assistant(m)]));
    }
    // Ollama generate.
    if let Some(Value::String(t)) = resp.get("response") {
        return Some(json!([{ "role": "assistant", "parts": [text(t)] }]));
    }
    None
}

/// `gen_ai.output.messages` of a streamed response: its accumulated text.
pub fn streamed_output(content: &str) -> Value {
    json!([{ "role": "assistant", "parts": [text(content)] }])
}

fn text(content: &str) -> Value {
    json!({ "type": "text", "content": content })
}

fn user_text(content: &str) -> Value {
    json!({ "role": "user", "parts": [text(content)] })
}

fn role(raw: Option<&str>) -> &str {
    match raw {
        Some("model" | "CHATBOT" | "chatbot") => "assistant",
        Some("developer" | "SYSTEM") => "system",
        Some("USER") => "user",
        Some("TOOL") => "tool",
        Some(r) => r,
        None => "user",
    }
}

/// An assistant message from a provider message object (or Gemini content).
fn assistant(m: &Value) -> Value {
    let mut out = message(m).unwrap_or_else(|| json!({ "role": "assistant", "parts": [] }));
    if let Some(o) = out.as_object_mut()
        && o.get("role").and_then(Value::as_str) == Some("user")
        && m.get("role").is_none()
    {
        o.insert("role".to_owned(), json!("assistant"));
    }
    out
}

/// One provider message: `{role, content | parts, tool_calls, tool_call_id}`.
fn message(m: &Value) -> Option<Value> {
    let o = m.as_object()?;
    let role = role(o.get("role").and_then(Value::as_str));
    let mut out = Vec::new();
    if role == "tool"
        && let Some(id) = o.get("tool_call_id")
    {
        // OpenAI / Mistral / Ollama tool result message.
        let response = o.get("content").cloned().unwrap_or(Value::Null);
        out.push(json!({ "type": "tool_call_response", "id": id, "response": response }));
    } else if let Some(content) = o.get("content").or_else(|| o.get("parts")) {
        out.extend(parts(content));
    }
    if let Some(Value::Array(calls)) = o.get("tool_calls") {
        out.extend(calls.iter().map(openai_tool_call));
    }
    Some(json!({ "role": role, "parts": out }))
}

/// OpenAI-style `{id, function: {name, arguments}}` (Cohere v2, Ollama alike).
fn openai_tool_call(c: &Value) -> Value {
    let f = c.get("function").unwrap_or(c);
    json!({
        "type": "tool_call",
        "id": c.get("id").cloned().unwrap_or(Value::Null),
        "name": f.get("name").cloned().unwrap_or(Value::Null),
        "arguments": arguments(f.get("arguments")),
    })
}

/// Tool arguments as an object when they are JSON text.
fn arguments(raw: Option<&Value>) -> Value {
    match raw {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!(s)),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// Every part of a message's `content`: a string, or a list of blocks.
fn parts(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![text(s)],
        Value::Array(blocks) => blocks.iter().map(part).collect(),
        Value::Null => Vec::new(),
        other => vec![part(other)],
    }
}

/// One content block, whichever provider's shape it has.
fn part(b: &Value) -> Value {
    let Some(o) = b.as_object() else {
        return match b.as_str() {
            Some(s) => text(s),
            None => generic(None, b),
        };
    };
    let ty = o.get("type").and_then(Value::as_str);
    let str_of = |k: &str| o.get(k).and_then(Value::as_str);
    // Reasoning: Anthropic `thinking`, Gemini `thought: true`.
    if ty == Some("thinking") {
        return json!({ "type": "reasoning", "content": str_of("thinking").unwrap_or_default() });
    }
    if o.get("thought").and_then(Value::as_bool) == Some(true)
        && let Some(t) = str_of("text")
    {
        return json!({ "type": "reasoning", "content": t });
    }
    match ty {
        Some("text" | "input_text" | "output_text") | None if str_of("text").is_some() => {
            return text(str_of("text").unwrap_or_default());
        }
        Some("tool_use") => {
            return json!({
                "type": "tool_call",
                "id": o.get("id").cloned().unwrap_or(Value::Null),
                "name": o.get("name").cloned().unwrap_or(Value::Null),
                "arguments": o.get("input").cloned().unwrap_or(Value::Null),
            });
        }
        Some("tool_result") => {
            return json!({
                "type": "tool_call_response",
                "id": o.get("tool_use_id").cloned().unwrap_or(Value::Null),
                "response": o.get("content").cloned().unwrap_or(Value::Null),
            });
        }
        Some("image_url") => {
            let url = b
                .pointer("/image_url/url")
                .or_else(|| o.get("image_url"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            return uri_or_blob("image", url);
        }
        _ => {}
    }
    // Gemini function calls and results, Bedrock tool use and results.
    if let Some(c) = o.get("functionCall") {
        return json!({
            "type": "tool_call",
            "id": c.get("id").cloned().unwrap_or(Value::Null),
            "name": c.get("name").cloned().unwrap_or(Value::Null),
            "arguments": c.get("args").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(r) = o.get("functionResponse") {
        return json!({
            "type": "tool_call_response",
            "id": r.get("id").cloned().unwrap_or(Value::Null),
            "response": r.get("response").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(u) = o.get("toolUse") {
        return json!({
            "type": "tool_call",
            "id": u.get("toolUseId").cloned().unwrap_or(Value::Null),
            "name": u.get("name").cloned().unwrap_or(Value::Null),
            "arguments": u.get("input").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(r) = o.get("toolResult") {
        return json!({
            "type": "tool_call_response",
            "id": r.get("toolUseId").cloned().unwrap_or(Value::Null),
            "response": r.get("content").cloned().unwrap_or(Value::Null),
        });
    }
    // Gemini inline data and file references.
    if let Some(d) = o.get("inlineData") {
        let mime = d
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return json!({
            "type": "blob",
            "modality": modality(mime),
            "mime_type": mime,
            "content": d.get("data").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(f) = o.get("fileData") {
        let mime = f
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return json!({
            "type": "uri",
            "modality": modality(mime),
            "mime_type": mime,
            "uri": f.get("fileUri").cloned().unwrap_or(Value::Null),
        });
    }
    generic(ty, b)
}

/// A data URL becomes a blob, anything else a URI.
fn uri_or_blob(default_modality: &str, url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((mime, data)) = rest.split_once(";base64,")
    {
        return json!({
            "type": "blob",
            "modality": if mime.is_empty() { default_modality } else { modality(mime) },
            "mime_type": mime,
            "content": data,
        });
    }
    json!({ "type": "uri", "modality": default_modality, "uri": url })
}

fn modality(mime: &str) -> &'static str {
    match mime.split('/').next() {
        Some("image") => "image",
        Some("audio") => "audio",
        Some("video") => "video",
        _ => "document",
    }
}

/// A block of a kind the schema has no part for: kept whole.
fn generic(ty: Option<&str>, value: &Value) -> Value {
    let mut o = Map::new();
    o.insert("type".to_owned(), json!("generic"));
    if let Some(t) = ty {
        o.insert("generic_type".to_owned(), json!(t));
    }
    o.insert("value".to_owned(), value.clone());
    Value::Object(o)
}

/// OpenAI Responses input or output items.
fn responses_items(items: &[Value], default_role: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for item in items {
        let ty = item.get("type").and_then(Value::as_str);
        match ty {
            Some("function_call") => out.push(json!({
                "role": "assistant",
                "parts": [{
                    "type": "tool_call",
                    "id": item.get("call_id").cloned().unwrap_or(Value::Null),
                    "name": item.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": arguments(item.get("arguments")),
                }],
            })),
            Some("function_call_output") => out.push(json!({
                "role": "tool",
                "parts": [{
                    "type": "tool_call_response",
                    "id": item.get("call_id").cloned().unwrap_or(Value::Null),
                    "response": item.get("output").cloned().unwrap_or(Value::Null),
                }],
            })),
            Some("reasoning") => {
                let mut parts = Vec::new();
                if let Some(Value::Array(summary)) = item.get("summary") {
                    for s in summary {
                        if let Some(t) = s.get("text").and_then(Value::as_str) {
                            parts.push(json!({ "type": "reasoning", "content": t }));
                        }
                    }
                }
                out.push(json!({ "role": "assistant", "parts": parts }));
            }
            Some("message") | None if item.get("role").is_some() || item.is_object() => {
                let mut m = message(item).unwrap_or_else(|| json!({ "parts": [] }));
                if item.get("role").is_none()
                    && let Some(o) = m.as_object_mut()
                {
                    o.insert("role".to_owned(), json!(default_role));
                }
                out.push(m);
            }
            Some(_) | None => out.push(json!({
                "role": default_role,
                "parts": [part(item)],
            })),
        }
    }
    out
}

/// Text parts of a system prompt: a string, a list of blocks, or Gemini's
/// `{parts: [...]}`; non-text blocks are left out (the schema allows text only).
fn collect_text(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::String(s) => out.push(text(s)),
        Value::Array(items) => items.iter().for_each(|i| collect_text(i, out)),
        Value::Object(o) => {
            if let Some(p) = o.get("parts") {
                collect_text(p, out);
            } else if let Some(t) = o.get("text").and_then(Value::as_str) {
                out.push(text(t));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn openai_chat_request_and_response() {
        let req = obj(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "rainy"}
            ]
        }));
        assert_eq!(
            input_messages(&req).unwrap(),
            json!([
                {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                {"role": "user", "parts": [
                    {"type": "text", "content": "What is in this image?"},
                    {"type": "uri", "modality": "image", "uri": "https://example.com/a.png"},
                    {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "AAAA"}
                ]},
                {"role": "assistant", "parts": [
                    {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": {"city": "Paris"}}
                ]},
                {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}]}
            ])
        );
        let resp = obj(json!({
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "It is a cat."}}]
        }));
        assert_eq!(
            output_messages(&resp).unwrap(),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "It is a cat."}]}])
        );
    }

    #[test]
    fn anthropic_request_and_response() {
        let req = obj(json!({
            "system": [{"type": "text", "text": "You are terse."}],
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "call the tool"},
                    {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Oslo"}}
                ]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "snow"}]}
            ]
        }));
        assert_eq!(
            system_instructions(&req).unwrap(),
            json!([{"type": "text", "content": "You are terse."}])
        );
        let input = input_messages(&req).unwrap();
        assert_eq!(
            input[1]["parts"][0],
            json!({"type": "reasoning", "content": "call the tool"})
        );
        assert_eq!(
            input[1]["parts"][1],
            json!({"type": "tool_call", "id": "tu_1", "name": "weather", "arguments": {"city": "Oslo"}})
        );
        assert_eq!(
            input[2]["parts"][0],
            json!({"type": "tool_call_response", "id": "tu_1", "response": "snow"})
        );
        let resp =
            obj(json!({"role": "assistant", "content": [{"type": "text", "text": "Snowing."}]}));
        assert_eq!(
            output_messages(&resp).unwrap(),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "Snowing."}]}])
        );
    }

    #[test]
    fn gemini_request_and_response() {
        let req = obj(json!({
            "systemInstruction": {"parts": [{"text": "Answer in French."}]},
            "contents": [
                {"role": "user", "parts": [
                    {"text": "Describe"},
                    {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
                    {"fileData": {"mimeType": "video/mp4", "fileUri": "https://youtu.be/x"}}
                ]},
                {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "x"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"ok": true}}}]}
            ]
        }));
        assert_eq!(
            system_instructions(&req).unwrap(),
            json!([{"type": "text", "content": "Answer in French."}])
        );
        let input = input_messages(&req).unwrap();
        assert_eq!(input[0]["parts"][1]["modality"], json!("audio"));
        assert_eq!(input[0]["parts"][2]["type"], json!("uri"));
        assert_eq!(input[1]["role"], json!("assistant"));
        assert_eq!(input[1]["parts"][0]["type"], json!("tool_call"));
        assert_eq!(input[2]["parts"][0]["response"], json!({"ok": true}));
        let resp = obj(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "thinking", "thought": true}, {"text": "Bonjour"}]}, "finishReason": "STOP"}]
        }));
        assert_eq!(
            output_messages(&resp).unwrap(),
            json!([{"role": "assistant", "parts": [
                {"type": "reasoning", "content": "thinking"},
                {"type": "text", "content": "Bonjour"}
            ]}])
        );
    }

    #[test]
    fn responses_api_and_plain_inputs() {
        let req = obj(json!({"instructions": "Be kind.", "input": "Hi"}));
        assert_eq!(
            input_messages(&req).unwrap(),
            json!([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}])
        );
        assert_eq!(
            system_instructions(&req).unwrap(),
            json!([{"type": "text", "content": "Be kind."}])
        );
        let resp = obj(json!({"output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done"}]}
        ]}));
        assert_eq!(
            output_messages(&resp).unwrap(),
            json!([{"role": "assistant", "parts": [
                {"type": "reasoning", "content": "plan"},
                {"type": "tool_call", "id": "c1", "name": "f", "arguments": {}},
                {"type": "text", "content": "Done"}
            ]}])
        );
        let embed = obj(json!({"input": ["a", "b"]}));
        assert_eq!(
            input_messages(&embed).unwrap(),
            json!([{"role": "user", "parts": [
                {"type": "text", "content": "a"}, {"type": "text", "content": "b"}
            ]}])
        );
        // Unknown blocks are kept whole as generic parts.
        let odd = obj(
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x"}}]}]}),
        );
        assert_eq!(
            input_messages(&odd).unwrap()[0]["parts"][0],
            json!({"type": "generic", "generic_type": "input_audio",
                   "value": {"type": "input_audio", "input_audio": {"data": "x"}}})
        );
        assert_eq!(output_messages(&obj(json!({"id": 1}))), None);
        assert_eq!(
            streamed_output("hey"),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "hey"}]}])
        );
    }
}

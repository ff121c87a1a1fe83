//! Anthropic Messages (`docs/providers.md`, "Anthropic"; event sequence as
//! in `fixtures/anthropic/test_anthropic_instrumentation_messages_streaming.sse`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::text::{chunks, count_tokens, hash, reply_tokens, reply_words};
use super::{FAIL_MARKER, Shared, bad_request, parse, stream};

/// The dated model Anthropic answers with for an alias.
fn dated(model: &str) -> String {
    match model {
        "claude-sonnet-4-5" => "claude-sonnet-4-5-20250929".to_owned(),
        "claude-haiku-4-5" => "claude-haiku-4-5-20251001".to_owned(),
        other => other.to_owned(),
    }
}

/// Text blocks of `system` and of the messages, with whether each is marked
/// `cache_control` (a cache breakpoint).
fn blocks(req: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut push = |v: &Value| match v {
        Value::String(s) => out.push((s.clone(), false)),
        Value::Array(parts) => {
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push((t.to_owned(), p.get("cache_control").is_some()));
                }
            }
        }
        _ => {}
    };
    push(&req["system"]);
    for m in req["messages"].as_array().into_iter().flatten() {
        push(&m["content"]);
    }
    out
}

pub(crate) async fn messages(State(state): State<Shared>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(message) => return bad_request(&message),
    };
    let model = req["model"]
        .as_str()
        .unwrap_or("claude-sonnet-4-5")
        .to_owned();
    let blocks = blocks(&req);
    let prompt: String = blocks
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if prompt.contains(FAIL_MARKER) {
        return super::json(
            StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
                    "request_id": format!("req_mock{:08}", state.next_id())}),
        );
    }
    // Everything up to the last cache breakpoint is the cacheable prefix.
    let cut = blocks
        .iter()
        .rposition(|(_, cached)| *cached)
        .map_or(0, |i| i + 1);
    let prefix: String = blocks[..cut]
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let prefix_tokens = count_tokens(&prefix);
    let total_input: u64 = blocks.iter().map(|(t, _)| count_tokens(t)).sum();
    let (mut cache_read, mut cache_write) = (0, 0);
    if prefix_tokens > 0 {
        let key = hash(format!("{model}\u{0}{prefix}").as_bytes());
        let mut cache = state
            .anthropic_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.insert(key) {
            cache_write = prefix_tokens;
        } else {
            cache_read = prefix_tokens;
        }
    }
    // Anthropic's input_tokens excludes cache reads and writes.
    let input = total_input - prefix_tokens;
    let mut n = reply_tokens(total_input);
    let stop = match req["max_tokens"].as_u64() {
        Some(max) if max < n => {
            n = max;
            "max_tokens"
        }
        _ => "end_turn",
    };
    let words = reply_words(&prompt, n);
    let id = format!("msg_mock{:016}", state.next_id());
    let response_model = dated(&model);

    if req["stream"].as_bool() != Some(true) {
        return super::json(
            StatusCode::OK,
            &json!({
                "id": id, "type": "message", "role": "assistant", "model": response_model,
                "content": [{"type": "text", "text": words.join(" ")}],
                "stop_reason": stop, "stop_sequence": null,
                "usage": {
                    "input_tokens": input,
                    "cache_creation_input_tokens": cache_write,
                    "cache_read_input_tokens": cache_read,
                    "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
                    "output_tokens": n,
                    "service_tier": "standard"
                }
            }),
        );
    }

    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": response_model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {
                    "input_tokens": input,
                    "cache_creation_input_tokens": cache_write,
                    "cache_read_input_tokens": cache_read,
                    "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
                    "output_tokens": 1,
                    "service_tier": "standard"
                }
            }}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    for piece in chunks(&words) {
        frames.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    frames.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    // Newer API versions repeat input and cache counts in message_delta;
    // output_tokens is cumulative.
    frames.push(event(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"input_tokens": input, "cache_creation_input_tokens": cache_write,
                         "cache_read_input_tokens": cache_read, "output_tokens": n}}),
    ));
    frames.push(event("message_stop", json!({"type": "message_stop"})));
    stream(
        "text/event-stream; charset=utf-8",
        frames,
        state.chunk_delay,
    )
}

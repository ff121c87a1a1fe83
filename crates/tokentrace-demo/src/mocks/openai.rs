//! OpenAI Chat Completions and Embeddings (`docs/providers.md`, "OpenAI";
//! shapes as in `fixtures/openai/test_run_stream_sync_streams_real_model_0.sse`
//! and `test_embeddings_0.json`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};

use super::text::{chunks, content_text, count_tokens, embedding, reply_tokens, reply_words};
use super::{FAIL_MARKER, Shared, bad_request, parse, stream, unix_now};

/// The dated snapshot OpenAI answers with for an alias (prices are looked up
/// on the response model).
fn snapshot(model: &str) -> String {
    match model {
        "gpt-4o-mini" => "gpt-4o-mini-2024-07-18".to_owned(),
        "gpt-4o" => "gpt-4o-2024-08-06".to_owned(),
        "gpt-4.1-mini" => "gpt-4.1-mini-2025-04-14".to_owned(),
        other => other.to_owned(),
    }
}

fn rate_limited(model: &str) -> Response {
    super::json(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"error": {
            "message": format!("Rate limit reached for {model} on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms."),
            "type": "requests",
            "param": null,
            "code": "rate_limit_exceeded"
        }}),
    )
}

pub(crate) async fn chat(State(state): State<Shared>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(message) => return bad_request(&message),
    };
    let model = req["model"].as_str().unwrap_or("gpt-4o-mini").to_owned();
    let mut prompt = String::new();
    let mut input = 0;
    for m in req["messages"].as_array().into_iter().flatten() {
        let text = content_text(&m["content"]);
        input += count_tokens(&text);
        prompt.push_str(&text);
        prompt.push('\n');
    }
    if prompt.contains(FAIL_MARKER) {
        return rate_limited(&model);
    }
    let mut n = reply_tokens(input);
    let max = req["max_completion_tokens"]
        .as_u64()
        .or_else(|| req["max_tokens"].as_u64());
    let finish = match max {
        Some(max) if max < n => {
            n = max;
            "length"
        }
        _ => "stop",
    };
    let words = reply_words(&prompt, n);
    let id = format!("chatcmpl-mock{:08}", state.next_id());
    let created = unix_now();
    let response_model = snapshot(&model);
    let usage = json!({
        "prompt_tokens": input,
        "completion_tokens": n,
        "total_tokens": input + n,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    });

    if req["stream"].as_bool() != Some(true) {
        return super::json(
            StatusCode::OK,
            &json!({
                "id": id,
                "object": "chat.completion",
                "created": created,
                "model": response_model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": words.join(" "), "refusal": null, "annotations": []},
                    "logprobs": null,
                    "finish_reason": finish
                }],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_mock0001"
            }),
        );
    }

    // Usage travels only with the opt-in: then every chunk carries
    // `"usage": null` and one last chunk with `choices: []` carries it.
    let include_usage = req["stream_options"]["include_usage"].as_bool() == Some(true);
    let chunk = |delta: Value, finish_reason: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": response_model, "service_tier": "default",
            "system_fingerprint": "fp_mock0001",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for piece in chunks(&words) {
        frames.push(chunk(json!({"content": piece}), Value::Null));
    }
    frames.push(chunk(json!({}), json!(finish)));
    if include_usage {
        let last = json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": response_model, "service_tier": "default",
            "system_fingerprint": "fp_mock0001", "choices": [], "usage": usage
        });
        frames.push(format!("data: {last}\n\n"));
    }
    frames.push("data: [DONE]\n\n".to_owned());
    stream(
        "text/event-stream; charset=utf-8",
        frames,
        state.chunk_delay,
    )
}

pub(crate) async fn embeddings(State(state): State<Shared>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(message) => return bad_request(&message),
    };
    let model = req["model"]
        .as_str()
        .unwrap_or("text-embedding-3-small")
        .to_owned();
    let inputs: Vec<String> = match &req["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if inputs.iter().any(|s| s.contains(FAIL_MARKER)) {
        return rate_limited(&model);
    }
    let dims = req["dimensions"]
        .as_u64()
        .and_then(|d| usize::try_from(d).ok())
        .filter(|d| (1..=3072).contains(d))
        .unwrap_or(if model.contains("large") { 3072 } else { 1536 });
    let b64 = req["encoding_format"].as_str() == Some("base64");
    let tokens: u64 = inputs.iter().map(|s| count_tokens(s)).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = embedding(text, dims);
            let embedding = if b64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    // Ids are not part of the embeddings shape; keep the counter moving for
    // parity with the other endpoints' request accounting.
    let _ = state.next_id();
    super::json(
        StatusCode::OK,
        &json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
        }),
    )
}

//! Gemini `generateContent` and `streamGenerateContent`
//! (`docs/providers.md`, "Google Gemini"; shapes as in
//! `fixtures/gemini/test_validate_token_counts_stream.sse`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::text::{chunks, count_tokens, reply_tokens, reply_words};
use super::{FAIL_MARKER, Shared, bad_request, parse, stream};

fn parts_text(v: &Value) -> Vec<String> {
    v["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

pub(crate) async fn generate(
    State(state): State<Shared>,
    Path(call): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some((model, method)) = call.split_once(':') else {
        return not_found(&call);
    };
    let streaming = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return not_found(&call),
    };
    let req = match parse(&body) {
        Ok(v) => v,
        Err(message) => return bad_request(&message),
    };
    let mut texts = parts_text(&req["systemInstruction"]);
    for c in req["contents"].as_array().into_iter().flatten() {
        texts.extend(parts_text(c));
    }
    let prompt = texts.join("\n");
    if prompt.contains(FAIL_MARKER) {
        return super::json(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"error": {"code": 429,
                "message": "Resource has been exhausted (e.g. check quota).",
                "status": "RESOURCE_EXHAUSTED"}}),
        );
    }
    let input = count_tokens(&prompt);
    let mut n = reply_tokens(input);
    let finish = match req["generationConfig"]["maxOutputTokens"].as_u64() {
        Some(max) if max < n => {
            n = max;
            "MAX_TOKENS"
        }
        _ => "STOP",
    };
    // 2.5 models think unless the budget is 0; thoughts are billed as output
    // and are not part of candidatesTokenCount.
    let budget = req["generationConfig"]["thinkingConfig"]["thinkingBudget"].as_i64();
    let thoughts = if model.starts_with("gemini-2.5") && budget != Some(0) {
        8 + input % 13
    } else {
        0
    };
    let words = reply_words(&prompt, n);
    let response_id = format!("mockResp{:012}", state.next_id());
    let usage = |candidates: u64| {
        let mut u = json!({
            "promptTokenCount": input,
            "totalTokenCount": input + candidates + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": input}]
        });
        // Gemini omits zero counts.
        if candidates > 0 {
            u["candidatesTokenCount"] = json!(candidates);
        }
        if thoughts > 0 {
            u["thoughtsTokenCount"] = json!(thoughts);
        }
        u
    };
    let response = |text: &str, candidates: u64, finish_reason: Option<&str>| {
        let mut candidate =
            json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
        if let Some(f) = finish_reason {
            candidate["finishReason"] = json!(f);
        }
        json!({
            "candidates": [candidate],
            "usageMetadata": usage(candidates),
            "modelVersion": model,
            "responseId": response_id
        })
    };

    if !streaming {
        return super::json(StatusCode::OK, &response(&words.join(" "), n, Some(finish)));
    }
    // Every chunk carries cumulative usage; the last one has the finish reason.
    let pieces = chunks(&words);
    let mut so_far = 0;
    let docs: Vec<Value> = pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            so_far += count_tokens(piece);
            let last = i + 1 == pieces.len();
            response(piece, so_far, last.then_some(finish))
        })
        .collect();
    if query.get("alt").map(String::as_str) == Some("sse") {
        let frames = docs.iter().map(|d| format!("data: {d}\r\n\r\n")).collect();
        stream("text/event-stream", frames, state.chunk_delay)
    } else {
        // Without alt=sse Gemini streams one JSON array, element by element.
        let count = docs.len();
        let frames = docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let open = if i == 0 { "[" } else { "" };
                let close = if i + 1 == count { "]" } else { "\n," };
                format!("{open}{d}{close}")
            })
            .collect();
        stream("application/json; charset=UTF-8", frames, state.chunk_delay)
    }
}

fn not_found(call: &str) -> Response {
    super::json(
        StatusCode::NOT_FOUND,
        &json!({"error": {"code": 404,
            "message": format!("models/{call} is not found for API version v1beta, or is not supported."),
            "status": "NOT_FOUND"}}),
    )
}

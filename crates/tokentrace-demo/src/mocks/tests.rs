//! Each mock endpoint, fetched over HTTP and read back by tokentrace's own
//! usage parsers: the counts must be the documented deterministic ones.

use serde_json::{Value, json};
use tokentrace_core::{BodyFormat, Flavor, Provider, ResponseInfo, parse_body};

use super::*;

async fn post(url: &str, body: Value) -> (u16, String, Bytes) {
    let resp = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("mock reachable");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ct, resp.bytes().await.expect("body"))
}

fn detect(mocks: &MockProviders, url: &str) -> (Provider, Flavor) {
    let d = mocks
        .registry()
        .detect_url("POST", url)
        .expect("registry recognises the mock URL");
    (d.provider, d.flavor)
}

async fn mocks() -> MockProviders {
    MockProviders::builder()
        .chunk_delay(Duration::ZERO)
        .start()
        .await
        .expect("bind 127.0.0.1")
}

const Q: &str = "How do I rotate my API key without downtime";

#[tokio::test]
async fn openai_chat_stream_usage_only_with_opt_in() {
    let m = mocks().await;
    let url = format!("{}/chat/completions", m.openai_base_url());
    assert_eq!(detect(&m, &url), (Provider::OpenAi, Flavor::OpenAiChat));
    let input = count_tokens(Q) + count_tokens("Be brief.");
    let n = reply_tokens(input);
    let body = json!({"model": "gpt-4o-mini", "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": Q}]});
    let (status, ct, bytes) = post(&url, body.clone()).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/event-stream"));
    let info = parse_body(
        Provider::OpenAi,
        Flavor::OpenAiChat,
        BodyFormat::Sse,
        &bytes,
    );
    assert_eq!(info.usage.input_tokens, Some(input));
    assert_eq!(info.usage.output_tokens, Some(n));
    assert_eq!(
        info.response_model.as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(info.finish_reasons, ["stop"]);
    assert!(
        std::str::from_utf8(&bytes)
            .expect("utf8")
            .ends_with("data: [DONE]\n\n")
    );

    let mut no_opt_in = body;
    no_opt_in
        .as_object_mut()
        .expect("object")
        .remove("stream_options");
    let (_, _, bytes) = post(&url, no_opt_in).await;
    let info = parse_body(
        Provider::OpenAi,
        Flavor::OpenAiChat,
        BodyFormat::Sse,
        &bytes,
    );
    assert!(
        info.usage.is_empty(),
        "no usage without include_usage: {info:?}"
    );
    assert!(!String::from_utf8_lossy(&bytes).contains("\"usage\""));
}

#[tokio::test]
async fn openai_chat_json_respects_max_tokens() {
    let m = mocks().await;
    let url = format!("{}/chat/completions", m.openai_base_url());
    let (status, ct, bytes) = post(
        &url,
        json!({"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let info = parse_body(
        Provider::OpenAi,
        Flavor::OpenAiChat,
        BodyFormat::Json,
        &bytes,
    );
    assert_eq!(info.usage.input_tokens, Some(count_tokens(Q)));
    assert_eq!(info.usage.output_tokens, Some(5));
    assert_eq!(info.finish_reasons, ["length"]);
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        count_tokens(
            v["choices"][0]["message"]["content"]
                .as_str()
                .expect("text")
        ),
        5
    );
}

#[tokio::test]
async fn openai_embeddings_count_every_input() {
    let m = mocks().await;
    let url = format!("{}/embeddings", m.openai_base_url());
    assert_eq!(
        detect(&m, &url),
        (Provider::OpenAi, Flavor::OpenAiEmbeddings)
    );
    let (status, _, bytes) = post(
        &url,
        json!({"model": "text-embedding-3-small", "input": [Q, "two words"], "dimensions": 8}),
    )
    .await;
    assert_eq!(status, 200);
    let info = parse_body(
        Provider::OpenAi,
        Flavor::OpenAiEmbeddings,
        BodyFormat::Json,
        &bytes,
    );
    assert_eq!(info.usage.input_tokens, Some(count_tokens(Q) + 2));
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(v["data"][1]["embedding"].as_array().map(Vec::len), Some(8));

    let (_, _, bytes) = post(
        &url,
        json!({"model": "text-embedding-3-small", "input": "x", "dimensions": 3, "encoding_format": "base64"}),
    )
    .await;
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    // 3 f32 = 12 bytes = 16 base64 characters.
    assert_eq!(v["data"][0]["embedding"].as_str().map(str::len), Some(16));
}

#[tokio::test]
async fn anthropic_stream_writes_then_reads_the_prompt_cache() {
    let m = mocks().await;
    let url = format!("{}/v1/messages", m.anthropic_base_url());
    assert_eq!(detect(&m, &url), (Provider::Anthropic, Flavor::Anthropic));
    let system = "You are a support agent for Acme Cloud. Answer from the knowledge base only.";
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 512, "stream": true,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": Q}]});
    let sys = count_tokens(system);
    let q = count_tokens(Q);
    let n = reply_tokens(sys + q);

    let parse = |b: &Bytes| -> ResponseInfo {
        parse_body(Provider::Anthropic, Flavor::Anthropic, BodyFormat::Sse, b)
    };
    let (status, _, first) = post(&url, body.clone()).await;
    assert_eq!(status, 200);
    let first = parse(&first);
    assert_eq!(first.usage.cache_write_tokens, Some(sys));
    assert_eq!(first.usage.cache_read_tokens.unwrap_or(0), 0);
    // OpenTelemetry accounting: input includes cache reads and writes.
    assert_eq!(first.usage.input_tokens, Some(sys + q));
    assert_eq!(first.usage.output_tokens, Some(n));
    assert_eq!(
        first.response_model.as_deref(),
        Some("claude-sonnet-4-5-20250929")
    );
    assert_eq!(first.finish_reasons, ["end_turn"]);

    let (_, _, second) = post(&url, body).await;
    let second = parse(&second);
    assert_eq!(second.usage.cache_read_tokens, Some(sys));
    assert_eq!(second.usage.cache_write_tokens.unwrap_or(0), 0);
    assert_eq!(second.usage.input_tokens, Some(sys + q));
}

#[tokio::test]
async fn gemini_stream_usage_is_cumulative_in_both_framings() {
    let m = mocks().await;
    let base = format!("{}/v1beta/models/gemini-2.5-flash", m.gemini_base_url());
    let url = format!("{base}:streamGenerateContent?alt=sse");
    assert_eq!(detect(&m, &url), (Provider::Gemini, Flavor::Gemini));
    let body = json!({"contents": [{"role": "user", "parts": [{"text": Q}]}]});
    let q = count_tokens(Q);
    let n = reply_tokens(q);
    let thoughts = 8 + q % 13;

    let (status, ct, bytes) = post(&url, body.clone()).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/event-stream"));
    let info = parse_body(Provider::Gemini, Flavor::Gemini, BodyFormat::Sse, &bytes);
    assert_eq!(info.usage.input_tokens, Some(q));
    // Thoughts are billed as output.
    assert_eq!(info.usage.output_tokens, Some(n + thoughts));
    assert_eq!(info.usage.total_tokens, Some(q + n + thoughts));
    assert_eq!(info.response_model.as_deref(), Some("gemini-2.5-flash"));

    let (_, _, array) = post(&format!("{base}:streamGenerateContent"), body.clone()).await;
    let docs: Vec<Value> = serde_json::from_slice(&array).expect("a JSON array");
    assert_eq!(
        docs.last().expect("chunks")["usageMetadata"]["candidatesTokenCount"],
        json!(n)
    );

    let (_, _, whole) = post(&format!("{base}:generateContent"), body).await;
    let info = parse_body(Provider::Gemini, Flavor::Gemini, BodyFormat::Json, &whole);
    assert_eq!(info.usage.total_tokens, Some(q + n + thoughts));
}

#[tokio::test]
async fn pinecone_query_reports_read_units_and_matches() {
    let m = mocks().await;
    let url = format!("{}/query", m.pinecone_base_url());
    assert_eq!(detect(&m, &url), (Provider::Pinecone, Flavor::Pinecone));
    let (status, _, bytes) = post(
        &url,
        json!({"vector": [0.1, -0.2, 0.3], "topK": 4, "includeMetadata": true, "namespace": "kb"}),
    )
    .await;
    assert_eq!(status, 200);
    let info = parse_body(
        Provider::Pinecone,
        Flavor::Pinecone,
        BodyFormat::Json,
        &bytes,
    );
    assert_eq!(info.vector.read_units, Some(6));
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(v["matches"].as_array().map(Vec::len), Some(4));
    assert!(v["matches"][0]["metadata"]["text"].is_string());
    assert_eq!(m.requests(), 1);
}

#[tokio::test]
async fn fail_marker_gets_the_providers_error_shape() {
    let m = mocks().await;
    let (status, _, bytes) = post(
        &format!("{}/chat/completions", m.openai_base_url()),
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": FAIL_MARKER}]}),
    )
    .await;
    assert_eq!(status, 429);
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");

    let (status, _, bytes) = post(
        &format!("{}/v1/messages", m.anthropic_base_url()),
        json!({"model": "claude-sonnet-4-5", "max_tokens": 9, "stream": true,
               "messages": [{"role": "user", "content": FAIL_MARKER}]}),
    )
    .await;
    assert_eq!(status, 529);
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(v["error"]["type"], "overloaded_error");
    m.shutdown().await;
}

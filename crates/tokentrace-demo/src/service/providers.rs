//! The provider calls, written as an application would write them: plain
//! reqwest requests in each provider's wire format. `LlmMiddleware` on the
//! client turns each into a priced span; nothing here mentions tracing.

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::error::AgentError;
use super::{AppState, Upstream};

/// Send a JSON POST with the provider's auth header, failing on a non-2xx status.
async fn post(
    state: &AppState,
    upstream: &Upstream,
    path: &str,
    auth: fn(reqwest_middleware::RequestBuilder, &str) -> reqwest_middleware::RequestBuilder,
    body: &Value,
) -> Result<reqwest::Response, AgentError> {
    let mut req = state
        .http
        .post(format!("{}{path}", upstream.base_url))
        .json(body);
    if let Some(key) = &upstream.api_key {
        req = auth(req, key);
    }
    let resp = req.send().await?;
    let status = resp.status();
    if status.is_success() {
        Ok(resp)
    } else {
        let text = resp.text().await.unwrap_or_default();
        Err(AgentError::Provider {
            status: status.as_u16(),
            body: text.chars().take(300).collect(),
        })
    }
}

fn bearer(
    req: reqwest_middleware::RequestBuilder,
    key: &str,
) -> reqwest_middleware::RequestBuilder {
    req.bearer_auth(key)
}

fn anthropic_key(
    req: reqwest_middleware::RequestBuilder,
    key: &str,
) -> reqwest_middleware::RequestBuilder {
    req.header("x-api-key", key)
}

fn google_key(
    req: reqwest_middleware::RequestBuilder,
    key: &str,
) -> reqwest_middleware::RequestBuilder {
    req.header("x-goog-api-key", key)
}

fn pinecone_key(
    req: reqwest_middleware::RequestBuilder,
    key: &str,
) -> reqwest_middleware::RequestBuilder {
    req.header("Api-Key", key)
}

/// Read a server-sent-events body as it arrives, calling `on_event(event, data)`
/// for each event.
async fn read_sse(
    resp: reqwest::Response,
    mut on_event: impl FnMut(Option<&str>, &str),
) -> Result<(), AgentError> {
    let mut buf = String::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| AgentError::Stream(e.to_string()))?;
        buf.push_str(&String::from_utf8_lossy(&chunk).replace('\r', ""));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v.trim_start());
                }
            }
            if !data.is_empty() {
                on_event(event.as_deref(), &data);
            }
        }
    }
    Ok(())
}

/// OpenAI embeddings of one text.
pub(crate) async fn embed(state: &AppState, text: &str) -> Result<Vec<f64>, AgentError> {
    let cfg = &state.config;
    let body = json!({"model": cfg.embedding_model, "input": text, "dimensions": 256});
    let resp = post(state, &cfg.openai, "/embeddings", bearer, &body).await?;
    let v: Value = resp
        .json()
        .await
        .map_err(|e| AgentError::Stream(e.to_string()))?;
    Ok(v["data"][0]["embedding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect())
}

/// A Pinecone query: the texts of the `top_k` nearest passages.
pub(crate) async fn pinecone_query(
    state: &AppState,
    vector: &[f64],
    top_k: u32,
) -> Result<Vec<(String, String)>, AgentError> {
    let body = json!({"vector": vector, "topK": top_k, "includeMetadata": true, "namespace": "support-kb"});
    let resp = post(state, &state.config.pinecone, "/query", pinecone_key, &body).await?;
    let v: Value = resp
        .json()
        .await
        .map_err(|e| AgentError::Stream(e.to_string()))?;
    Ok(v["matches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["id"].as_str().unwrap_or_default().to_owned(),
                m["metadata"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect())
}

/// An OpenAI chat completion, streamed, with the usage chunk requested.
pub(crate) async fn openai_chat_stream(
    state: &AppState,
    system: &str,
    prompt: &str,
) -> Result<(String, String), AgentError> {
    let cfg = &state.config;
    let body = json!({
        "model": cfg.chat_model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": 400,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    });
    let resp = post(state, &cfg.openai, "/chat/completions", bearer, &body).await?;
    let mut text = String::new();
    let mut model = cfg.chat_model.clone();
    read_sse(resp, |_, data| {
        if data == "[DONE]" {
            return;
        }
        if let Ok(v) = serde_json::from_str::<Value>(data) {
            if let Some(m) = v["model"].as_str() {
                m.clone_into(&mut model);
            }
            if let Some(piece) = v["choices"][0]["delta"]["content"].as_str() {
                text.push_str(piece);
            }
        }
    })
    .await?;
    Ok((text, model))
}

/// An Anthropic message, streamed, with the system prompt marked for the
/// prompt cache.
pub(crate) async fn anthropic_stream(
    state: &AppState,
    system: &str,
    prompt: &str,
) -> Result<(String, String), AgentError> {
    let cfg = &state.config;
    let body = json!({
        "model": cfg.anthropic_model,
        "max_tokens": 400,
        "stream": true,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": prompt}]
    });
    let upstream = &cfg.anthropic;
    let mut req = state
        .http
        .post(format!("{}/v1/messages", upstream.base_url))
        .header("anthropic-version", "2023-06-01")
        .json(&body);
    if let Some(key) = &upstream.api_key {
        req = anthropic_key(req, key);
    }
    let resp = req.send().await?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        return Err(AgentError::Provider {
            status,
            body: text.chars().take(300).collect(),
        });
    }
    let mut text = String::new();
    let mut model = cfg.anthropic_model.clone();
    let mut error = None;
    read_sse(resp, |event, data| {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return;
        };
        match event {
            Some("message_start") => {
                if let Some(m) = v["message"]["model"].as_str() {
                    m.clone_into(&mut model);
                }
            }
            Some("content_block_delta") => {
                if let Some(piece) = v["delta"]["text"].as_str() {
                    text.push_str(piece);
                }
            }
            Some("error") => error = Some(v["error"]["message"].to_string()),
            _ => {}
        }
    })
    .await?;
    match error {
        Some(e) => Err(AgentError::Stream(e)),
        None => Ok((text, model)),
    }
}

/// A Gemini `generateContent` call.
pub(crate) async fn gemini_generate(state: &AppState, prompt: &str) -> Result<String, AgentError> {
    let cfg = &state.config;
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"maxOutputTokens": 60}
    });
    let path = format!("/v1beta/models/{}:generateContent", cfg.summary_model);
    let resp = post(state, &cfg.gemini, &path, google_key, &body).await?;
    let v: Value = resp
        .json()
        .await
        .map_err(|e| AgentError::Stream(e.to_string()))?;
    Ok(v["candidates"][0]["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .collect())
}

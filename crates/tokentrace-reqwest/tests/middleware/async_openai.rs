//! The real async-openai 0.43 client over `tokentrace_reqwest::async_openai`:
//! chat, Responses API and embeddings, JSON and streamed, replayed from the
//! recordings; async-openai's retries (429 then 200, connection refused,
//! `insufficient_quota` not retried), one LLM span per attempt.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::responses::ResponseStreamEvent;
use futures_util::StreamExt;
use opentelemetry::trace::{SpanId, Status};
use opentelemetry_sdk::trace::SpanData;
use tokentrace_core::price::PriceCatalogue;
use tokentrace_core::semconv as sc;
use tokentrace_core::{Provider, Usage};
use tokentrace_reqwest::LlmMiddleware;
use tracing::Instrument;

use crate::support::*;

/// The recorded request body as async-openai's typed request.
macro_rules! request {
    ($name:expr $(,)?) => {
        serde_json::from_value(fixture($name).meta["request_body"].clone()).unwrap()
    };
}

/// A mock that serves `replies` in order (the last one again when they run
/// out) and counts the requests it got.
async fn mock_seq(replies: Vec<Reply>) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let queue = queue.clone();
        let seen = seen2.clone();
        async move {
            seen.lock().unwrap().push(body.to_vec());
            let reply = {
                let mut q = queue.lock().unwrap();
                if q.len() > 1 {
                    q.pop_front().unwrap()
                } else {
                    q.front().unwrap().clone()
                }
            };
            let mut b = axum::http::Response::builder()
                .status(reply.status)
                .header("content-type", reply.content_type);
            for (k, v) in reply.headers {
                b = b.header(k, v);
            }
            b.body(axum::body::Body::from(reply.body)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// async-openai with the traced service; `api.openai.com` resolves to `addr`.
fn openai(addr: SocketAddr, max_retries: usize) -> Client<OpenAIConfig> {
    let inner = reqwest::Client::builder()
        .resolve("api.openai.com", addr)
        .build()
        .unwrap();
    let http = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new())
        .build();
    let config = OpenAIConfig::new()
        .with_api_key("sk-test-secret")
        .with_api_base(format!("http://api.openai.com:{}/v1", addr.port()));
    Client::with_config(config).with_http_service(
        tokentrace_reqwest::async_openai::service_with_retries(http, max_retries),
    )
}

fn llm_spans(spans: &[SpanData]) -> Vec<SpanData> {
    spans
        .iter()
        .filter(|s| {
            matches!(
                attr_str(s, sc::OPENINFERENCE_SPAN_KIND).as_deref(),
                Some("LLM" | "EMBEDDING")
            )
        })
        .cloned()
        .collect()
}

/// Usage and cost of `span` are exactly the recording's, priced from the
/// catalogue by the response model.
fn assert_priced(span: &SpanData, name: &str, operation: &str, kind: &str) {
    let f = fixture(name);
    let exp = &f.expected;
    let usage: Usage = serde_json::from_value(exp["usage"].clone()).unwrap();
    let req_model = f.meta["request_body"]["model"].as_str().unwrap();
    let resp_model = exp["response_model"].as_str().unwrap();
    assert_eq!(span.name, format!("{operation} {req_model}"), "{name}");
    assert_eq!(
        attr_str(span, sc::GEN_AI_OPERATION_NAME).as_deref(),
        Some(operation)
    );
    assert_eq!(
        attr_str(span, sc::GEN_AI_PROVIDER_NAME).as_deref(),
        Some("openai")
    );
    assert_eq!(
        attr_str(span, sc::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some(kind)
    );
    assert_eq!(
        attr_str(span, sc::GEN_AI_REQUEST_MODEL).as_deref(),
        Some(req_model)
    );
    assert_eq!(
        attr_str(span, sc::GEN_AI_RESPONSE_MODEL).as_deref(),
        Some(resp_model)
    );
    assert_eq!(attr_i64(span, sc::HTTP_RESPONSE_STATUS_CODE), Some(200));
    assert_eq!(
        attr_i64(span, sc::GEN_AI_USAGE_INPUT_TOKENS),
        usage.input_tokens.map(|v| v as i64),
        "{name}"
    );
    assert_eq!(
        attr_i64(span, sc::GEN_AI_USAGE_OUTPUT_TOKENS),
        usage.output_tokens.map(|v| v as i64),
        "{name}"
    );
    assert_eq!(attr_str(span, sc::ERROR_TYPE), None);
    assert_eq!(attr_str(span, sc::TOKENTRACE_USAGE_MISSING), None);
    assert_eq!(span.status, Status::Unset);
    let cost = PriceCatalogue::builtin()
        .cost(Some(Provider::OpenAi), resp_model, &usage)
        .expect("priced");
    assert!(cost.total_usd > 0.0);
    assert_eq!(attr_f64(span, sc::COST_TOTAL_USD), Some(cost.total_usd));
    assert_eq!(
        attr_f64(span, sc::COST_INPUT_COST_USD),
        Some(cost.prompt_usd())
    );
    assert_eq!(
        attr_f64(span, sc::COST_OUTPUT_COST_USD),
        Some(cost.completion_usd())
    );
    assert_eq!(
        attr_str(span, sc::COST_SOURCE).as_deref(),
        Some(sc::values::COST_SOURCE_CATALOGUE)
    );
    // The API key never reaches the span.
    for kv in &span.attributes {
        assert!(!kv.value.as_str().contains("sk-test-secret"), "{kv:?}");
    }
}

/// Runs `call` under a `parent` span against a mock serving `name`, then
/// checks the one LLM span (a child of `parent`) and the request async-openai
/// sent. Returns the LLM span.
async fn one_call<F, Fut>(name: &str, operation: &str, kind: &str, call: F) -> SpanData
where
    F: FnOnce(Client<OpenAIConfig>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let otel = Otel::install();
    let f = fixture(name);
    let (addr, seen) = mock_seq(vec![Reply::from_fixture(&f)]).await;
    call(openai(addr, 3))
        .instrument(tracing::info_span!("parent"))
        .await;
    let spans = otel.spans();
    let parent = otel.span("parent");
    let llm = llm_spans(&spans);
    assert_eq!(llm.len(), 1, "{name}: {spans:?}");
    assert_eq!(llm[0].parent_span_id, parent.span_context.span_id());
    assert_ne!(llm[0].parent_span_id, SpanId::INVALID);
    assert_priced(&llm[0], name, operation, kind);
    let sent = seen.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&sent[0]).unwrap();
    assert_eq!(body["model"], f.meta["request_body"]["model"]);
    llm[0].clone()
}

#[tokio::test]
async fn chat_json() {
    let name = "openai/test_openai_prompt_caching_0";
    one_call(name, "chat", "LLM", |client| async move {
        let resp = client.chat().create(request!(name)).await.unwrap();
        assert_eq!(resp.id, "chatcmpl-BNi3xzj4EEAzo6vce1IwHwie9IRhH");
        let usage = resp.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1149, 315));
    })
    .await;
}

#[tokio::test]
async fn chat_streamed() {
    let name = "openai/test_run_stream_sync_streams_real_model_0";
    let span = one_call(name, "chat", "LLM", |client| async move {
        let mut stream = client.chat().create_stream(request!(name)).await.unwrap();
        let mut chunks = 0;
        let mut usage = None;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            chunks += 1;
            usage = usage.or(chunk.usage);
        }
        let usage = usage.expect("the last chunk carries usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (53, 15));
        assert!(chunks >= 5, "{chunks} chunks");
    })
    .await;
    assert_eq!(attr_bool(&span, sc::GEN_AI_REQUEST_STREAM), Some(true));
    assert!(attr_f64(&span, sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK).is_some());
}

#[tokio::test]
async fn responses_json() {
    let name = "openai/test_responses_0";
    one_call(name, "chat", "LLM", |client| async move {
        let resp = client.responses().create(request!(name)).await.unwrap();
        assert_eq!(
            resp.id,
            "resp_685ff88d1f7c8199980b00a1f8b7467b05baa2d6acc60d4f"
        );
        let usage = resp.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (14, 8));
    })
    .await;
}

#[tokio::test]
async fn responses_streamed() {
    let name = "openai/test_responses_streaming_with_content_0";
    let span = one_call(name, "chat", "LLM", |client| async move {
        let mut stream = client
            .responses()
            .create_stream(request!(name))
            .await
            .unwrap();
        let mut completed = None;
        while let Some(event) = stream.next().await {
            if let ResponseStreamEvent::ResponseCompleted(done) = event.unwrap() {
                completed = Some(done.response);
            }
        }
        let usage = completed.expect("response.completed").usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (14, 9));
    })
    .await;
    assert_eq!(attr_bool(&span, sc::GEN_AI_REQUEST_STREAM), Some(true));
}

#[tokio::test]
async fn embeddings_json() {
    let name = "openai/test_embeddings_0";
    one_call(name, "embeddings", "EMBEDDING", |client| async move {
        let resp = client
            .embeddings()
            .create_base64(request!(name))
            .await
            .unwrap();
        assert_eq!(resp.usage.prompt_tokens, 8);
        assert_eq!(resp.data.len(), 1);
    })
    .await;
}

fn rate_limited(kind: &str, code: &str) -> Reply {
    Reply {
        status: 429,
        content_type: "application/json".into(),
        body: serde_json::to_vec(&serde_json::json!({"error": {
            "message": "Rate limit reached for gpt-4o-mini",
            "type": kind,
            "param": null,
            "code": code,
        }}))
        .unwrap(),
        splits: Vec::new(),
        delay: std::time::Duration::ZERO,
        headers: vec![("retry-after", "0".into())],
    }
}

/// async-openai's retry layer sits outside the middleware: the 429 attempt
/// and the 200 attempt are two LLM spans under the caller's span; only the
/// second one has usage and cost, so the roll-up counts the call once.
#[tokio::test]
async fn retry_429_then_200_one_span_per_attempt() {
    let otel = Otel::install();
    let name = "openai/test_openai_prompt_caching_0";
    let f = fixture(name);
    let (addr, seen) = mock_seq(vec![
        rate_limited("requests", "rate_limit_exceeded"),
        Reply::from_fixture(&f),
    ])
    .await;
    let client = openai(addr, 3);
    let resp = client
        .chat()
        .create(request!(name))
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap();
    assert_eq!(resp.id, "chatcmpl-BNi3xzj4EEAzo6vce1IwHwie9IRhH");
    assert_eq!(seen.lock().unwrap().len(), 2);
    // Both attempts sent the same bytes (the factory rebuilt the request).
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies[0], bodies[1]);

    let spans = otel.spans();
    let parent = otel.span("parent");
    let mut llm = llm_spans(&spans);
    assert_eq!(llm.len(), 2, "{spans:?}");
    llm.sort_by_key(|s| s.start_time);
    for s in &llm {
        assert_eq!(s.parent_span_id, parent.span_context.span_id());
    }
    let (first, second) = (&llm[0], &llm[1]);
    assert_eq!(attr_i64(first, sc::HTTP_RESPONSE_STATUS_CODE), Some(429));
    assert_eq!(
        attr_str(first, sc::ERROR_TYPE).as_deref(),
        Some("rate_limit_exceeded")
    );
    assert!(matches!(first.status, Status::Error { .. }));
    assert_eq!(attr_i64(first, sc::GEN_AI_USAGE_INPUT_TOKENS), None);
    assert_eq!(attr_f64(first, sc::COST_TOTAL_USD), None);
    assert_priced(second, name, "chat", "LLM");
}

/// `insufficient_quota` is permanent for async-openai: no retry, one span,
/// and the application gets async-openai's own `ApiError`.
#[tokio::test]
async fn insufficient_quota_is_not_retried() {
    let otel = Otel::install();
    let name = "openai/test_openai_prompt_caching_0";
    let (addr, seen) = mock_seq(vec![
        rate_limited("insufficient_quota", "insufficient_quota"),
        Reply::from_fixture(&fixture(name)),
    ])
    .await;
    let err = openai(addr, 3)
        .chat()
        .create(request!(name))
        .await
        .unwrap_err();
    match err {
        OpenAIError::ApiError(e) => {
            assert_eq!(e.status_code.as_u16(), 429);
            assert_eq!(e.api_error.r#type.as_deref(), Some("insufficient_quota"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
    let llm = llm_spans(&otel.spans());
    assert_eq!(llm.len(), 1);
    assert_eq!(
        attr_str(&llm[0], sc::ERROR_TYPE).as_deref(),
        Some("insufficient_quota")
    );
}

/// A refused connection stays `OpenAIError::Reqwest` with `is_connect()`,
/// the error async-openai retries on: 1 + 2 attempts, each its own span
/// with `error.type = connection_error`.
#[tokio::test]
async fn connection_errors_are_retried() {
    let otel = Otel::install();
    let (_held, addr) = refused_addr();
    let err = openai(addr, 2)
        .chat()
        .create(request!("openai/test_openai_prompt_caching_0",))
        .await
        .unwrap_err();
    match &err {
        OpenAIError::Reqwest(e) => assert!(e.is_connect(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    let llm = llm_spans(&otel.spans());
    assert_eq!(llm.len(), 3, "{llm:?}");
    for s in &llm {
        assert_eq!(
            attr_str(s, sc::ERROR_TYPE).as_deref(),
            Some("connection_error")
        );
        assert_eq!(
            attr_str(s, sc::GEN_AI_REQUEST_MODEL).as_deref(),
            Some("gpt-4o-mini")
        );
        assert!(matches!(s.status, Status::Error { .. }));
    }
}

/// A middleware error (not reqwest's) becomes `OpenAIError::Boxed` and is not
/// retried.
#[test]
fn middleware_errors_are_boxed() {
    let e = tokentrace_reqwest::async_openai::openai_error(reqwest_middleware::Error::middleware(
        std::io::Error::other("refused by budget"),
    ));
    match e {
        OpenAIError::Boxed(b) => assert!(b.to_string().contains("refused by budget")),
        other => panic!("{other:?}"),
    }
}

/// Under `EnrichLayer`, a 429-then-200 call rolls up onto its workflow with
/// the tokens and cost of the successful attempt only; both attempts count
/// as LLM calls and the rate-limited one as an error.
#[tokio::test]
async fn retried_call_rolls_up_its_cost_once() {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt;

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(tokentrace_subscriber::EnrichLayer::new().no_metrics())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))),
    );
    let name = "openai/test_openai_prompt_caching_0";
    let f = fixture(name);
    let (addr, _seen) = mock_seq(vec![
        rate_limited("requests", "rate_limit_exceeded"),
        Reply::from_fixture(&f),
    ])
    .await;
    openai(addr, 3)
        .chat()
        .create(request!(name))
        .instrument(tracing::info_span!(
            "workflow",
            otel.name = "workflow.answer",
            { sc::TOKENTRACE_SPAN_TYPE } = "workflow",
            { sc::GEN_AI_WORKFLOW_NAME } = "answer",
        ))
        .await
        .unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let wf = spans
        .iter()
        .find(|s| s.name == "workflow.answer")
        .expect("workflow span");
    let usage: Usage = serde_json::from_value(f.expected["usage"].clone()).unwrap();
    let cost = PriceCatalogue::builtin()
        .cost(
            Some(Provider::OpenAi),
            f.expected["response_model"].as_str().unwrap(),
            &usage,
        )
        .unwrap();
    assert_eq!(attr_i64(wf, sc::ROLLUP_INPUT_TOKENS), Some(1149));
    assert_eq!(attr_i64(wf, sc::ROLLUP_OUTPUT_TOKENS), Some(315));
    assert_eq!(attr_f64(wf, sc::ROLLUP_COST_USD), Some(cost.total_usd));
    assert_eq!(attr_i64(wf, sc::ROLLUP_LLM_CALLS), Some(2));
    assert_eq!(attr_i64(wf, sc::ROLLUP_ERRORS), Some(1));
}

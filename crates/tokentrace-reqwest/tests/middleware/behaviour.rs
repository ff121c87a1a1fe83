//! Failure paths, propagation, overrides, secrets and content capture.

use std::time::Duration;

use opentelemetry::trace::TraceContextExt as _;
use tokentrace_core::semconv as sc;
use tokentrace_reqwest::{
    CaptureContent, LlmMiddleware, ModelOverride, NoPropagation, SkipTracing, SpanName,
};
use tokio::io::AsyncWriteExt;
use tracing::Instrument;

use crate::support::*;

const OPENAI: &str = "api.openai.com";

fn chat_body(stream: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "max_tokens": 64,
        "temperature": 0.5,
        "messages": [{"role": "user", "content": "PROMPT-TEXT-7731"}],
    }))
    .unwrap()
}

fn sse_reply(delay_ms: u64) -> Reply {
    let f = fixture("openai/test_chat_tools_streaming");
    let mut r = Reply::from_fixture(&f);
    r.splits = (1..20).map(|i| i * f.body.len() / 20).collect();
    r.delay = Duration::from_millis(delay_ms);
    r
}

fn json_reply() -> Reply {
    Reply::from_fixture(&fixture("openai/test_chat_reasoning_0"))
}

fn url(mock: &Mock, path: &str) -> String {
    format!("http://{OPENAI}:{}{path}", mock.addr.port())
}

fn llm_spans(otel: &Otel) -> Vec<opentelemetry_sdk::trace::SpanData> {
    otel.spans()
        .into_iter()
        .filter(|s| attr_str(s, sc::TOKENTRACE_SPAN_TYPE).as_deref() == Some("llm"))
        .collect()
}

#[tokio::test]
async fn request_attributes_are_on_the_span_from_creation() {
    let otel = Otel::install();
    let mock = mock(json_reply()).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let resp = client
        .post(url(&mock, "/v1/chat/completions"))
        .body(chat_body(false))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap();
    // The head has arrived but the body is unread: the span is still open.
    assert!(llm_spans(&otel).is_empty(), "span ended before the body");
    drop(resp);
    let s = &llm_spans(&otel)[0];
    assert_eq!(s.name, "chat gpt-4o-mini");
    assert_eq!(
        attr_str(s, sc::GEN_AI_REQUEST_MODEL).as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(attr_i64(s, sc::GEN_AI_REQUEST_MAX_TOKENS), Some(64));
    assert_eq!(attr_f64(s, sc::GEN_AI_REQUEST_TEMPERATURE), Some(0.5));
    assert_eq!(attr_bool(s, sc::GEN_AI_REQUEST_STREAM), Some(false));
    assert_eq!(
        attr_str(s, sc::OPENINFERENCE_SPAN_KIND).as_deref(),
        Some("LLM")
    );
    assert_eq!(attr_str(s, sc::LLM_PROVIDER).as_deref(), Some("openai"));
    assert_eq!(
        attr_i64(s, sc::SERVER_PORT),
        Some(i64::from(mock.addr.port()))
    );
    // Dropped unread: whatever arrived is recorded and the cut is flagged.
    assert_eq!(attr_bool(s, sc::TOKENTRACE_STREAM_INCOMPLETE), Some(true));
}

#[tokio::test]
async fn stream_dropped_early_ends_the_span_once_and_flags_it() {
    let otel = Otel::install();
    let mock = mock(sse_reply(30)).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    async {
        let mut resp = client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(true))
            .send()
            .await
            .unwrap();
        let first = resp.chunk().await.unwrap().unwrap();
        assert!(!first.is_empty());
        drop(resp);
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let spans = llm_spans(&otel);
    assert_eq!(spans.len(), 1, "span ended exactly once");
    let s = &spans[0];
    assert_eq!(attr_bool(s, sc::TOKENTRACE_STREAM_INCOMPLETE), Some(true));
    assert!(attr_f64(s, sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK).unwrap() > 0.0);
    assert!(attr_i64(s, sc::TOKENTRACE_RESPONSE_BYTES).unwrap() > 0);
    // The usage chunk comes last, so none had arrived.
    assert_eq!(attr_i64(s, sc::GEN_AI_USAGE_OUTPUT_TOKENS), None);
}

/// Regression: tracing-opentelemetry takes a span's end time from its last
/// exit, so an LLM span last entered when the response head arrived was
/// exported as ending then, long before its streamed body did.
#[tokio::test]
async fn a_streamed_span_ends_when_its_body_ends() {
    let otel = Otel::install();
    let mock = mock(sse_reply(10)).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let started = std::time::Instant::now();
    async {
        let mut resp = client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(true))
            .send()
            .await
            .unwrap();
        while resp.chunk().await.unwrap().is_some() {}
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    let wall = started.elapsed();
    let s = &llm_spans(&otel)[0];
    let exported = s.end_time.duration_since(s.start_time).unwrap();
    // 19 delayed splits of 10 ms: the body took at least ~190 ms.
    assert!(
        exported >= Duration::from_millis(150) && exported <= wall,
        "exported duration {exported:?}, wall {wall:?}"
    );
}

/// A content-length JSON body: its span ends when its last frame goes out,
/// not when the application next polls or drops the response, and a
/// response dropped right after that frame is complete, usage and all.
#[tokio::test]
async fn a_json_span_ends_with_its_last_frame_and_is_complete_when_dropped() {
    let otel = Otel::install();
    let f = fixture("openai/test_chat_reasoning_0");
    let body = f.body.clone();
    // A `Vec<u8>` body is sent with a content length, so the client knows
    // which frame is the last.
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock = Mock {
        addr: listener.local_addr().unwrap(),
        requests: std::sync::Arc::default(),
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let (read, last_frame_at) = async {
        let mut resp = client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(false))
            .send()
            .await
            .unwrap();
        let len = usize::try_from(resp.content_length().unwrap()).unwrap();
        let mut read = Vec::new();
        // Exactly the polls that return data: never the one that would say
        // the body is over.
        while read.len() < len {
            read.extend_from_slice(&resp.chunk().await.unwrap().unwrap());
        }
        let at = std::time::SystemTime::now();
        tokio::time::sleep(Duration::from_millis(40)).await;
        drop(resp);
        (read, at)
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    assert_eq!(read, f.body, "body changed");
    let spans = llm_spans(&otel);
    assert_eq!(spans.len(), 1, "span ended exactly once");
    let s = &spans[0];
    assert!(
        s.end_time <= last_frame_at,
        "the span ended at the drop, 40 ms after its last frame"
    );
    assert_eq!(attr_bool(s, sc::TOKENTRACE_STREAM_INCOMPLETE), None);
    assert!(attr_i64(s, sc::GEN_AI_USAGE_OUTPUT_TOKENS).unwrap() > 0);
    assert!(attr_f64(s, sc::COST_TOTAL_USD).unwrap() > 0.0);
}

#[tokio::test]
async fn connection_refused_is_returned_untouched_and_recorded() {
    let otel = Otel::install();
    let (_held, addr) = refused_addr();
    let inner = raw_builder().resolve(OPENAI, addr).build().unwrap();
    let client = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new())
        .build();
    let err = client
        .post(format!(
            "http://{OPENAI}:{}/v1/chat/completions",
            addr.port()
        ))
        .body(chat_body(false))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let s = &llm_spans(&otel)[0];
    assert_eq!(
        attr_str(s, sc::ERROR_TYPE).as_deref(),
        Some("connection_error")
    );
    assert!(matches!(
        s.status,
        opentelemetry::trace::Status::Error { .. }
    ));
}

#[tokio::test]
async fn connection_reset_mid_stream_fails_the_body_and_the_span() {
    let otel = Otel::install();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await;
        sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 5000\r\n\r\ndata: {\"id\":\"x\",\"choices\":[]}\n\n")
            .await
            .unwrap();
        sock.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(sock);
    });
    let inner = raw_builder().resolve(OPENAI, addr).build().unwrap();
    let client = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new())
        .build();
    let result = async {
        let resp = client
            .post(format!(
                "http://{OPENAI}:{}/v1/chat/completions",
                addr.port()
            ))
            .body(chat_body(true))
            .send()
            .await
            .unwrap();
        resp.bytes().await
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    let err = result.unwrap_err();
    assert!(err.is_decode() || err.is_body(), "{err:?}");
    let s = &llm_spans(&otel)[0];
    assert_eq!(attr_str(s, sc::ERROR_TYPE).as_deref(), Some("body_error"));
    assert_eq!(attr_bool(s, sc::TOKENTRACE_STREAM_INCOMPLETE), Some(true));
}

#[tokio::test]
async fn timeout_is_recorded_as_error_type_timeout() {
    let otel = Otel::install();
    let mock = mock(sse_reply(400)).await;
    let inner = raw_builder()
        .resolve(OPENAI, mock.addr)
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new())
        .build();
    let result = async {
        let resp = client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(true))
            .send()
            .await?;
        resp.bytes().await.map_err(reqwest_middleware::Error::from)
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    let err = result.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let s = &llm_spans(&otel)[0];
    assert_eq!(attr_str(s, sc::ERROR_TYPE).as_deref(), Some("timeout"));
}

#[tokio::test]
async fn orphan_call_gets_an_auto_workflow_root() {
    let otel = Otel::install();
    let mock = mock(json_reply()).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let resp = client
        .post(url(&mock, "/v1/chat/completions"))
        .body(chat_body(false))
        .send()
        .await
        .unwrap();
    resp.bytes().await.unwrap();
    let root = otel.span("auto.workflow.openai");
    assert_eq!(attr_bool(&root, sc::TOKENTRACE_AUTO_ROOT), Some(true));
    assert_eq!(
        attr_str(&root, sc::TOKENTRACE_SPAN_TYPE).as_deref(),
        Some("workflow")
    );
    assert_eq!(
        attr_str(&root, sc::GEN_AI_WORKFLOW_NAME).as_deref(),
        Some("auto.workflow.openai")
    );
    assert_eq!(root.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    let s = &llm_spans(&otel)[0];
    assert_eq!(s.parent_span_id, root.span_context.span_id());
    assert!(root.end_time >= s.end_time, "root closes with the call");

    // With auto_root(false) the call is a root itself.
    let otel2 = Otel::install();
    let client = crate::support::client(LlmMiddleware::new().auto_root(false), OPENAI, &mock);
    let resp = client
        .post(url(&mock, "/v1/chat/completions"))
        .body(chat_body(false))
        .send()
        .await
        .unwrap();
    resp.bytes().await.unwrap();
    assert_eq!(otel2.spans().len(), 1);
    drop(otel);
}

#[tokio::test]
async fn traceparent_is_injected_unless_opted_out() {
    let otel = Otel::install();
    let mock = mock(json_reply()).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    async {
        client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(false))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        client
            .post(url(&mock, "/v1/chat/completions"))
            .with_extension(NoPropagation)
            .body(chat_body(false))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    let reqs = mock.requests.lock().unwrap().clone();
    let tp = reqs[0].0.get("traceparent").expect("traceparent injected");
    let spans = llm_spans(&otel);
    let first = spans
        .iter()
        .min_by_key(|s| s.start_time)
        .unwrap()
        .span_context
        .clone();
    assert_eq!(
        tp.to_str().unwrap(),
        format!("00-{}-{}-01", first.trace_id(), first.span_id())
    );
    assert!(reqs[1].0.get("traceparent").is_none(), "opt-out honoured");
    let _ = opentelemetry::Context::current()
        .span()
        .span_context()
        .is_valid();
}

#[tokio::test]
async fn secrets_never_reach_any_exported_attribute() {
    let otel = Otel::install();
    let mock = mock(json_reply()).await;
    let inner = raw_builder()
        .resolve(OPENAI, mock.addr)
        .resolve("generativelanguage.googleapis.com", mock.addr)
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new().http_spans(true))
        .build();
    let port = mock.addr.port();
    let targets = [
        format!("http://user:SECRET-USERINFO@{OPENAI}:{port}/v1/chat/completions?key=SECRET-QUERY"),
        format!(
            "http://generativelanguage.googleapis.com:{port}/v1beta/models/gemini-2.5-flash:generateContent?key=SECRET-GKEY"
        ),
        format!("http://{OPENAI}:{port}/not-an-llm?api_key=SECRET-HTTP"),
    ];
    async {
        for t in &targets {
            client
                .post(t.as_str())
                .header("authorization", "Bearer SECRET-AUTH")
                .header("x-api-key", "SECRET-XAPI")
                .header("api-key", "SECRET-AZURE")
                .header("x-goog-api-key", "SECRET-GOOG")
                .header("Api-Key", "SECRET-PINECONE")
                .body(chat_body(false))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    let spans = otel.spans();
    assert_eq!(spans.len(), 4, "three client spans and the parent");
    for s in &spans {
        assert!(!s.name.contains("SECRET"), "secret in span name {}", s.name);
        for kv in &s.attributes {
            let v = format!("{:?}", kv.value);
            assert!(!v.contains("SECRET"), "secret in {} = {v}", kv.key);
        }
    }
}

#[tokio::test]
async fn content_capture_is_off_by_default_and_bounded_when_on() {
    let otel = Otel::install();
    let mock = mock(json_reply()).await;
    let send = |mw: LlmMiddleware, capture: Option<bool>| {
        let client = client(mw, OPENAI, &mock);
        let url = url(&mock, "/v1/chat/completions");
        async move {
            let mut b = client.post(url).body(chat_body(false));
            if let Some(c) = capture {
                b = b.with_extension(CaptureContent(c));
            }
            b.send().await.unwrap().bytes().await.unwrap();
        }
        .instrument(tracing::info_span!("parent"))
    };
    send(LlmMiddleware::new(), None).await;
    send(
        LlmMiddleware::new()
            .capture_content(true)
            .max_content_bytes(4096),
        None,
    )
    .await;
    send(LlmMiddleware::new().capture_content(true), Some(false)).await;
    let mut spans = llm_spans(&otel);
    spans.sort_by_key(|s| s.start_time);
    let has_content = |s: &opentelemetry_sdk::trace::SpanData| {
        s.attributes.iter().any(|kv| {
            let k = kv.key.as_str();
            k == sc::GEN_AI_INPUT_MESSAGES
                || k == sc::INPUT_VALUE
                || k == sc::OUTPUT_VALUE
                || k == sc::GEN_AI_OUTPUT_MESSAGES
                || format!("{:?}", kv.value).contains("PROMPT-TEXT-7731")
        })
    };
    assert!(!has_content(&spans[0]), "captured without opt-in");
    assert!(has_content(&spans[1]));
    let input = attr_str(&spans[1], sc::GEN_AI_INPUT_MESSAGES).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&input).unwrap();
    // The GenAI message schema: role + parts.
    assert_eq!(parsed[0]["role"], "user");
    assert_eq!(parsed[0]["parts"][0]["type"], "text");
    assert_eq!(parsed[0]["parts"][0]["content"], "PROMPT-TEXT-7731");
    let output = attr_str(&spans[1], sc::GEN_AI_OUTPUT_MESSAGES).unwrap();
    let output: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(output[0]["role"], "assistant");
    assert!(output[0]["parts"].is_array(), "{output}");
    assert!(
        output[0].get("finish_reason").is_none(),
        "deprecated in the schema"
    );
    assert!(
        !has_content(&spans[2]),
        "per-request opt-out beats the client"
    );
}

#[tokio::test]
async fn overrides_and_pass_through() {
    let otel = Otel::install();
    let mock = mock(json_reply()).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let (resp_url, ct) = async {
        let resp = client
            .post(url(&mock, "/v1/chat/completions"))
            .with_extension(SpanName::new("summarise"))
            .with_extension(ModelOverride::new("gpt-4o"))
            .body(chat_body(false))
            .send()
            .await
            .unwrap();
        let out = (
            resp.url().clone(),
            resp.headers().get("content-type").cloned(),
        );
        resp.bytes().await.unwrap();
        client
            .post(url(&mock, "/v1/chat/completions"))
            .with_extension(SkipTracing)
            .body(chat_body(false))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        client
            .get(url(&mock, "/elsewhere"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        out
    }
    .instrument(tracing::info_span!("parent"))
    .await;
    assert_eq!(resp_url.as_str(), url(&mock, "/v1/chat/completions"));
    assert_eq!(ct.unwrap(), "application/json");
    let spans = otel.spans();
    assert_eq!(spans.len(), 2, "skipped and undetected calls make no span");
    let s = otel.span("summarise");
    assert_eq!(
        attr_str(&s, sc::GEN_AI_REQUEST_MODEL).as_deref(),
        Some("gpt-4o")
    );
    let reqs = mock.requests.lock().unwrap();
    assert!(
        reqs[1].0.get("traceparent").is_none(),
        "skip injects nothing"
    );
    assert!(
        reqs[2].0.get("traceparent").is_none(),
        "pass-through untouched"
    );
}

#[tokio::test]
async fn stream_usage_injection_is_opt_in_and_marked() {
    let otel = Otel::install();
    let mock = mock(sse_reply(0)).await;
    for inject in [false, true] {
        let client = client(
            LlmMiddleware::new().inject_stream_usage(inject),
            OPENAI,
            &mock,
        );
        client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(true))
            .send()
            .instrument(tracing::info_span!("parent"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    let reqs = mock.requests.lock().unwrap();
    assert_eq!(reqs[0].1, chat_body(true), "bytes untouched by default");
    let sent: serde_json::Value = serde_json::from_slice(&reqs[1].1).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    let mut spans = llm_spans(&otel);
    spans.sort_by_key(|s| s.start_time);
    assert_eq!(
        attr_bool(&spans[0], sc::TOKENTRACE_STREAM_USAGE_INJECTED),
        None
    );
    assert_eq!(
        attr_bool(&spans[1], sc::TOKENTRACE_STREAM_USAGE_INJECTED),
        Some(true)
    );
}

/// Regression: messages, request body and output each cut to their bound
/// exported `tokentrace.content.truncated` once per cut; OTLP needs unique
/// keys (the support helper checks every span for duplicates).
#[tokio::test]
async fn content_cut_in_several_places_is_flagged_once() {
    for (reply, stream) in [(json_reply(), false), (sse_reply(0), true)] {
        let otel = Otel::install();
        let mock = mock(reply).await;
        let client = client(
            LlmMiddleware::new()
                .capture_content(true)
                .max_content_bytes(16),
            OPENAI,
            &mock,
        );
        let mut resp = client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(stream))
            .send()
            .instrument(tracing::info_span!("parent"))
            .await
            .unwrap();
        while resp.chunk().await.unwrap().is_some() {}
        drop(resp);
        let spans = llm_spans(&otel);
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(attr_bool(s, sc::TOKENTRACE_CONTENT_TRUNCATED), Some(true));
        let flags = s
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == sc::TOKENTRACE_CONTENT_TRUNCATED)
            .count();
        assert_eq!(flags, 1, "stream: {stream}");
        assert!(attr_str(s, sc::GEN_AI_INPUT_MESSAGES).unwrap().len() <= 16);
    }
}

/// A stream without usage says why: not requested (the fix is
/// `inject_stream_usage`), cut short, or simply not sent.
#[tokio::test]
async fn a_call_without_usage_says_why() {
    let otel = Otel::install();
    // The recording has no usage chunk: the request did not ask for one.
    let no_usage = mock(sse_reply(0)).await;
    let with_usage = mock(json_reply()).await;
    let read = |mock: &Mock, body: Vec<u8>, whole: bool| {
        let client = client(LlmMiddleware::new(), OPENAI, mock);
        let url = url(mock, "/v1/chat/completions");
        async move {
            let mut resp = client.post(url).body(body).send().await.unwrap();
            if whole {
                while resp.chunk().await.unwrap().is_some() {}
            } else {
                resp.chunk().await.unwrap();
            }
        }
        .instrument(tracing::info_span!("parent"))
    };
    let mut asked: serde_json::Value = serde_json::from_slice(&chat_body(true)).unwrap();
    asked["stream_options"] = serde_json::json!({"include_usage": true});
    let asked = serde_json::to_vec(&asked).unwrap();

    read(&no_usage, chat_body(true), true).await;
    read(&no_usage, asked.clone(), true).await;
    read(&no_usage, asked, false).await;
    read(&with_usage, chat_body(false), true).await;

    let mut spans = llm_spans(&otel);
    spans.sort_by_key(|s| s.start_time);
    let why: Vec<Option<String>> = spans
        .iter()
        .map(|s| attr_str(s, sc::TOKENTRACE_USAGE_MISSING))
        .collect();
    assert_eq!(
        why,
        [
            Some("not_requested".to_owned()),
            Some("not_sent".to_owned()),
            Some("cut_short".to_owned()),
            None,
        ]
    );
    assert_eq!(attr_i64(&spans[0], sc::GEN_AI_USAGE_INPUT_TOKENS), None);
    assert_eq!(attr_f64(&spans[0], sc::COST_TOTAL_USD), None);
    assert!(attr_i64(&spans[3], sc::GEN_AI_USAGE_INPUT_TOKENS).is_some());
}

/// An OpenAI 429 is filed under the provider's `code`, and the failed span
/// (and its auto root) carries the provider's message as its status
/// description, the line `tokentrace show` and the dashboard print.
#[tokio::test]
async fn a_rate_limited_call_has_the_code_and_a_readable_message() {
    let otel = Otel::install();
    let body = br#"{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    let mock = mock(Reply {
        status: 429,
        content_type: "application/json".to_owned(),
        body: body.to_vec(),
        splits: Vec::new(),
        delay: Duration::ZERO,
        headers: Vec::new(),
    })
    .await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let resp = client
        .post(url(&mock, "/v1/chat/completions"))
        .body(chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(&resp.bytes().await.unwrap()[..], &body[..]);
    let s = &llm_spans(&otel)[0];
    assert_eq!(
        attr_str(s, sc::ERROR_TYPE).as_deref(),
        Some("rate_limit_exceeded")
    );
    let message = "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.";
    assert_eq!(attr_str(s, sc::EXCEPTION_MESSAGE).as_deref(), Some(message));
    assert_eq!(s.status, opentelemetry::trace::Status::error(message));
    let root = otel.span("auto.workflow.openai");
    assert_eq!(root.status, opentelemetry::trace::Status::error(message));

    // A transport failure gets words, not an empty message.
    let (_held, refused) = refused_addr();
    let refused = refused.port();
    let inner = raw_builder()
        .resolve(
            OPENAI,
            std::net::SocketAddr::from(([127, 0, 0, 1], refused)),
        )
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(inner)
        .with(LlmMiddleware::new())
        .build();
    let err = client
        .post(format!("http://{OPENAI}:{refused}/v1/chat/completions"))
        .body(chat_body(false))
        .send()
        .instrument(tracing::info_span!("parent"))
        .await;
    assert!(err.is_err());
    let failed: Vec<_> = llm_spans(&otel)
        .into_iter()
        .filter(|s| attr_str(s, sc::ERROR_TYPE).as_deref() == Some("connection_error"))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].status,
        opentelemetry::trace::Status::error("could not connect to the provider")
    );
}

/// `gen_ai.client.inference.time_per_output_chunk`: one point per body
/// chunk after the first, recorded by `EnrichLayer` from the gaps the
/// middleware measured, with the span's final attributes.
#[tokio::test]
async fn a_stream_records_one_time_per_output_chunk_point_per_later_chunk() {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use tracing_subscriber::layer::SubscriberExt as _;

    let metric_exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
    let meter_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_periodic_exporter(metric_exporter.clone())
        .build();
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let _sub = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(
                tokentrace_subscriber::EnrichLayer::new().meter(meter_provider.meter("tokentrace")),
            )
            .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("t"))),
    );
    let mock = mock(sse_reply(10)).await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    let mut chunks = 0u64;
    {
        let mut resp = client
            .post(url(&mock, "/v1/chat/completions"))
            .body(chat_body(true))
            .send()
            .await
            .unwrap();
        while resp.chunk().await.unwrap().is_some() {
            chunks += 1;
        }
    }
    meter_provider.force_flush().unwrap();
    let metrics = metric_exporter.get_finished_metrics().unwrap();
    let mut points = Vec::new();
    for rm in &metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                if m.name() == sc::metrics::GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK
                    && let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data()
                {
                    points.extend(h.data_points().map(|p| {
                        (
                            p.count(),
                            p.sum(),
                            p.attributes().cloned().collect::<Vec<_>>(),
                        )
                    }));
                }
            }
        }
    }
    assert!(chunks >= 5, "the reply arrives in pieces: {chunks}");
    assert_eq!(points.len(), 1, "{points:?}");
    let (count, sum, attrs) = &points[0];
    assert_eq!(*count, chunks - 1);
    // 19 splits 10 ms apart: the gaps add up to most of that.
    assert!(*sum >= 0.1 && *sum < 5.0, "{sum}");
    let get = |k: &str| {
        attrs
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(get(sc::GEN_AI_OPERATION_NAME).as_deref(), Some("chat"));
    assert_eq!(get(sc::GEN_AI_PROVIDER_NAME).as_deref(), Some("openai"));
    assert!(get(sc::GEN_AI_RESPONSE_MODEL).is_some(), "{attrs:?}");
}

/// Audio token counts (OpenAI `*_tokens_details.audio_tokens`) on the span,
/// as GenAI per-modality usage and OpenInference audio counts, and in the
/// usage counters by `gen_ai.token.modality`.
#[tokio::test]
async fn audio_token_counts_reach_the_span_and_the_modality_metrics() {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use tracing_subscriber::layer::SubscriberExt as _;

    let metric_exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
    let meter_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_periodic_exporter(metric_exporter.clone())
        .build();
    let span_exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(span_exporter.clone())
        .build();
    let _sub = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(
                tokentrace_subscriber::EnrichLayer::new().meter(meter_provider.meter("tokentrace")),
            )
            .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("t"))),
    );
    let body = serde_json::json!({
        "id": "chatcmpl-audio", "object": "chat.completion", "model": "gpt-4o-audio-preview-2025-06-03",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 260, "total_tokens": 380,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 100, "text_tokens": 20},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 240, "text_tokens": 20}},
    });
    let mock = mock(Reply {
        status: 200,
        content_type: "application/json".into(),
        body: serde_json::to_vec(&body).unwrap(),
        splits: Vec::new(),
        delay: Duration::ZERO,
        headers: Vec::new(),
    })
    .await;
    let client = client(LlmMiddleware::new(), OPENAI, &mock);
    client
        .post(url(&mock, "/v1/chat/completions"))
        .body(chat_body(false))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let spans = span_exporter.get_finished_spans().unwrap();
    let s = spans
        .iter()
        .find(|s| attr_str(s, sc::TOKENTRACE_SPAN_TYPE).as_deref() == Some("llm"))
        .expect("llm span");
    assert_eq!(attr_i64(s, sc::GEN_AI_USAGE_AUDIO_INPUT_TOKENS), Some(100));
    assert_eq!(attr_i64(s, sc::GEN_AI_USAGE_TEXT_INPUT_TOKENS), Some(20));
    assert_eq!(attr_i64(s, sc::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS), Some(240));
    assert_eq!(attr_i64(s, sc::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS), Some(20));
    assert_eq!(attr(s, sc::GEN_AI_USAGE_IMAGE_INPUT_TOKENS), None);
    assert_eq!(
        attr_i64(s, sc::LLM_TOKEN_COUNT_PROMPT_DETAILS_AUDIO),
        Some(100)
    );
    assert_eq!(
        attr_i64(s, sc::LLM_TOKEN_COUNT_COMPLETION_DETAILS_AUDIO),
        Some(240)
    );
    assert_eq!(attr_i64(s, sc::GEN_AI_USAGE_INPUT_TOKENS), Some(120));

    meter_provider.force_flush().unwrap();
    let metrics = metric_exporter.get_finished_metrics().unwrap();
    let mut by_modality = std::collections::BTreeMap::new();
    for rm in &metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                if m.name() == sc::metrics::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS
                    && let AggregatedMetrics::U64(MetricData::Sum(sum)) = m.data()
                {
                    for p in sum.data_points() {
                        let modality = p
                            .attributes()
                            .find(|kv| kv.key.as_str() == sc::GEN_AI_TOKEN_MODALITY)
                            .map(|kv| kv.value.to_string())
                            .unwrap();
                        by_modality.insert(modality, p.value());
                    }
                }
            }
        }
    }
    // 100 audio + 20 text = the 120 input tokens: nothing left for `unknown`.
    assert_eq!(
        by_modality,
        [("audio".to_owned(), 100), ("text".to_owned(), 20)]
            .into_iter()
            .collect()
    );
}

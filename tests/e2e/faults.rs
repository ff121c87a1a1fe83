//! Provider and client faults. For each, the application must see exactly
//! what it sees without tokentrace (the same request through a plain reqwest
//! client), no panic escapes, memory stays bounded, and the span ends once
//! with the fault recorded.
//!
//! Collector down/hanging/500/413 and a locked or full SQLite store are
//! tested where they live: `crates/tokentrace/tests/facade/telemetry/otlp.rs`
//! and `crates/tokentrace-store/tests/store/faults.rs` (see
//! `docs/robustness.md`).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use futures_util::StreamExt as _;
use opentelemetry::Value;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use tokentrace::{LlmMiddleware, WorkflowLayer};
use tokentrace_core::{Provider, ProviderRegistry, semconv};
use tokentrace_tests::{mib, rss_bytes};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;
use tracing::Instrument as _;

use crate::support::{Capture, attr, attr_str, capture, serially, serve};

/// How a scripted provider ends its response.
#[derive(Debug, Clone, Copy)]
enum End {
    /// FIN after the last byte.
    Close,
    /// RST (zero linger) after the last byte.
    Reset,
}

/// One scripted response: the head, then the body parts, then the end.
#[derive(Debug, Clone)]
struct Script {
    head: String,
    parts: Vec<Part>,
    end: End,
}

#[derive(Debug, Clone)]
enum Part {
    Bytes(Vec<u8>),
    /// `len` copies of `byte`, written 64 KiB at a time (never held whole).
    Fill(u8, usize),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Self::Bytes(b) => b.len(),
            Self::Fill(_, n) => *n,
        }
    }
}

impl Script {
    /// A complete response with an exact `content-length`.
    fn complete(content_type: &str, parts: Vec<Part>) -> Self {
        let len: usize = parts.iter().map(Part::len).sum();
        Self {
            head: format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
            ),
            parts,
            end: End::Close,
        }
    }
}

/// Reads one HTTP/1.1 request (head and `content-length` body).
async fn read_request(sock: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(());
        }
    }
}

/// A provider on 127.0.0.1 that answers every connection with `script`.
async fn scripted_provider(script: Script) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let script = Arc::clone(&script);
            tokio::spawn(async move {
                read_request(&mut sock).await?;
                sock.write_all(script.head.as_bytes()).await?;
                for part in &script.parts {
                    match part {
                        Part::Bytes(b) => sock.write_all(b).await?,
                        Part::Fill(byte, n) => {
                            let block = vec![*byte; 64 * 1024];
                            let mut left = *n;
                            while left > 0 {
                                let k = left.min(block.len());
                                sock.write_all(&block[..k]).await?;
                                left -= k;
                            }
                        }
                    }
                }
                sock.flush().await?;
                if let End::Reset = script.end {
                    // Let the client read what was sent before the RST.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    sock.set_zero_linger()?;
                }
                drop(sock);
                std::io::Result::Ok(())
            });
        }
    });
    addr
}

/// What the application observed: status, headers (minus `date`), the body
/// (length and FNV-1a hash, so huge bodies are never held), and the error.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body_len: u64,
    body_hash: u64,
    error: Option<String>,
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn classify(e: &reqwest::Error) -> String {
    format!(
        "timeout={} connect={} body={} decode={} request={} status={:?} root={}",
        e.is_timeout(),
        e.is_connect(),
        e.is_body(),
        e.is_decode(),
        e.is_request(),
        e.status(),
        root_cause(e)
    )
}

/// Reads a response the way a streaming application does, chunk by chunk,
/// tracking the largest resident memory seen while reading.
async fn observe(sent: Result<reqwest::Response, String>, peak_rss: &mut u64) -> Outcome {
    let resp = match sent {
        Ok(r) => r,
        Err(error) => {
            return Outcome {
                status: None,
                headers: Vec::new(),
                body_len: 0,
                body_hash: 0,
                error: Some(error),
            };
        }
    };
    let status = Some(resp.status().as_u16());
    let mut headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter(|(k, _)| *k != "date")
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    headers.sort();
    let mut body_len = 0u64;
    let mut body_hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut error = None;
    let mut stream = resp.bytes_stream();
    let mut chunks = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                body_len += c.len() as u64;
                for b in c.iter() {
                    body_hash = (body_hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
                }
                chunks += 1;
                if chunks.is_multiple_of(64) {
                    *peak_rss = (*peak_rss).max(rss_bytes().unwrap_or(0));
                }
            }
            Err(e) => {
                error = Some(classify(&e));
                break;
            }
        }
    }
    *peak_rss = (*peak_rss).max(rss_bytes().unwrap_or(0));
    Outcome {
        status,
        headers,
        body_len,
        body_hash,
        error,
    }
}

fn registry(addr: SocketAddr) -> ProviderRegistry {
    ProviderRegistry::new().base_url(&format!("http://{addr}/v1"), Provider::OpenAi)
}

const CHAT_STREAM: &[u8] =
    br#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const CHAT: &[u8] = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;

/// Runs the same request without and with tokentrace and returns both
/// outcomes, the LLM spans it produced, and the peak resident memory seen
/// during each run.
async fn with_and_without(
    otel: &Capture,
    addr: SocketAddr,
    body: &'static [u8],
    middleware: LlmMiddleware,
) -> (Outcome, Outcome, Vec<SpanData>, [u64; 3]) {
    let url = format!("http://{addr}/v1/chat/completions");
    let plain = reqwest::Client::new();
    let traced = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(middleware.registry(registry(addr)))
        .build();
    let before = rss_bytes().unwrap_or(0);
    let mut peak_plain = before;
    let without = observe(
        plain
            .post(&url)
            .body(body)
            .send()
            .await
            .map_err(|e| classify(&e)),
        &mut peak_plain,
    )
    .await;
    let mut peak_traced = rss_bytes().unwrap_or(0);
    let with = observe(
        traced
            .post(&url)
            .body(body)
            .send()
            .instrument(tracing::info_span!("app"))
            .await
            .map_err(|e| match e {
                reqwest_middleware::Error::Reqwest(e) => classify(&e),
                other @ reqwest_middleware::Error::Middleware(_) => {
                    format!("middleware error: {other}")
                }
            }),
        &mut peak_traced,
    )
    .await;
    drop(traced);
    let llm: Vec<SpanData> = otel
        .spans()
        .into_iter()
        .filter(|s| attr_str(s, semconv::TOKENTRACE_SPAN_TYPE).as_deref() == Some("llm"))
        .collect();
    (without, with, llm, [before, peak_plain, peak_traced])
}

fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

fn int(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::I64(v)) => Some(v),
        _ => None,
    }
}

#[test]
fn connection_reset_mid_stream() {
    serially(async {
        let otel = capture();
        let addr = scripted_provider(Script {
            head: "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 100000\r\n\r\n"
                .to_owned(),
            parts: vec![Part::Bytes(
                b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                .to_vec(),
            )],
            end: End::Reset,
        })
        .await;
        let (without, with, llm, _) =
            with_and_without(&otel, addr, CHAT_STREAM, LlmMiddleware::new()).await;
        assert!(
            without.error.is_some(),
            "the reset reaches the application: {without:?}"
        );
        assert_eq!(with, without);
        assert_eq!(llm.len(), 1, "one span, ended once");
        let s = &llm[0];
        assert!(is_error(s));
        assert_eq!(
            attr_str(s, semconv::ERROR_TYPE).as_deref(),
            Some("body_error")
        );
        assert_eq!(
            attr(s, semconv::TOKENTRACE_STREAM_INCOMPLETE),
            Some(Value::Bool(true))
        );
    });
}

#[test]
fn invalid_utf8_in_a_stream() {
    serially(async {
        let otel = capture();
        let mut bad = b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"".to_vec();
        bad.extend_from_slice(b"\xff\xfe\xc3\x28 \xed\xa0\x80");
        bad.extend_from_slice(b"\"}}]}\n\ndata: \xff\xff garbage \x80\n\n");
        let usage = b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\ndata: [DONE]\n\n";
        let addr = scripted_provider(Script::complete(
            "text/event-stream",
            vec![Part::Bytes(bad), Part::Bytes(usage.to_vec())],
        ))
        .await;
        let (without, with, llm, _) =
            with_and_without(&otel, addr, CHAT_STREAM, LlmMiddleware::new()).await;
        assert_eq!(without.error, None);
        assert_eq!(with, without);
        assert_eq!(llm.len(), 1);
        let s = &llm[0];
        // The bad event is skipped; the usage event after it still counts.
        assert_eq!(int(s, semconv::GEN_AI_USAGE_INPUT_TOKENS), Some(7));
        assert_eq!(int(s, semconv::GEN_AI_USAGE_OUTPUT_TOKENS), Some(3));
        for kv in &s.attributes {
            assert!(
                !kv.value.as_str().contains('\u{fffd}')
                    || kv.key.as_str() == semconv::TOKENTRACE_PARSE_ERROR
            );
        }
        eprintln!(
            "invalid utf-8: parse_error = {:?}",
            attr_str(s, semconv::TOKENTRACE_PARSE_ERROR)
        );
    });
}

#[test]
fn truncated_json() {
    serially(async {
        let otel = capture();
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hel"#;
        let addr = scripted_provider(Script::complete(
            "application/json",
            vec![Part::Bytes(body.to_vec())],
        ))
        .await;
        let (without, with, llm, _) =
            with_and_without(&otel, addr, CHAT, LlmMiddleware::new()).await;
        assert_eq!(without.error, None, "the body itself arrives whole");
        assert_eq!(without.body_len, body.len() as u64);
        assert_eq!(with, without);
        assert_eq!(llm.len(), 1);
        let s = &llm[0];
        assert!(!is_error(s), "a 200 with a short body is not an error");
        assert_eq!(
            int(s, semconv::TOKENTRACE_RESPONSE_BYTES),
            Some(body.len() as i64)
        );
        assert_eq!(int(s, semconv::GEN_AI_USAGE_INPUT_TOKENS), None);
        assert_eq!(
            attr(s, semconv::COST_TOTAL_USD),
            None,
            "nothing priced from half a body"
        );
        // What was read before the cut is kept.
        assert_eq!(
            attr_str(s, semconv::GEN_AI_RESPONSE_ID).as_deref(),
            Some("chatcmpl-1")
        );
        // A JSON body that ends mid-value at a clean end of stream is cut short.
        assert_eq!(
            attr(s, semconv::TOKENTRACE_STREAM_INCOMPLETE),
            Some(Value::Bool(true))
        );
    });
}

#[test]
fn an_sse_event_larger_than_any_buffer() {
    serially(async {
        let otel = capture();
        /// 24 MiB in one `data:` line: three times the 8 MiB a naive SSE reader
        /// might hold, and far above anything the parser keeps.
        const EVENT: usize = 24 * 1024 * 1024;
        let head =
            br#"data: {"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":""#;
        let tail = b"\"}}]}\n\n";
        let usage = b"data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}\n\ndata: [DONE]\n\n";
        let addr = scripted_provider(Script::complete(
            "text/event-stream",
            vec![
                Part::Bytes(head.to_vec()),
                Part::Fill(b'A', EVENT),
                Part::Bytes(tail.to_vec()),
                Part::Bytes(usage.to_vec()),
            ],
        ))
        .await;
        let mw = LlmMiddleware::new()
            .capture_content(true)
            .max_content_bytes(4096);
        // Warm up first: the first traced call loads the price catalogue and
        // sets up the exporter (a fixed ~7 MiB, whatever the body's size).
        let small = scripted_provider(Script::complete(
            "text/event-stream",
            vec![Part::Bytes(usage.to_vec())],
        ))
        .await;
        let _ = with_and_without(&otel, small, CHAT_STREAM, mw.clone()).await;
        otel.clear();
        let (without, with, llm, [before, peak_plain, peak_traced]) =
            with_and_without(&otel, addr, CHAT_STREAM, mw).await;
        eprintln!(
            "24 MiB SSE event: RSS before {:.1} MiB, peak without tokentrace {:.1} MiB, with {:.1} MiB",
            mib(before),
            mib(peak_plain),
            mib(peak_traced)
        );
        assert_eq!(without.error, None);
        assert!(without.body_len > EVENT as u64);
        assert_eq!(with, without);
        assert_eq!(llm.len(), 1);
        let s = &llm[0];
        assert_eq!(int(s, semconv::GEN_AI_USAGE_INPUT_TOKENS), Some(11));
        assert_eq!(int(s, semconv::GEN_AI_USAGE_OUTPUT_TOKENS), Some(5));
        for kv in &s.attributes {
            assert!(
                kv.value.as_str().len() <= 64 * 1024,
                "{} is {} bytes",
                kv.key,
                kv.value.as_str().len()
            );
        }
        // Neither run may hold the event: growth stays far below its size.
        let bound = 8 * 1024 * 1024;
        assert!(peak_plain.saturating_sub(before) < bound);
        assert!(
            peak_traced.saturating_sub(before) < bound,
            "tokentrace buffered the event"
        );
    });
}

#[test]
fn gzip_the_provider_did_not_announce() {
    serially(async {
        let otel = capture();
        let json = br#"{"id":"chatcmpl-1","model":"gpt-4o-mini","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json).unwrap();
        let gz = gz.finish().unwrap();
        let addr = scripted_provider(Script::complete(
            "application/json",
            vec![Part::Bytes(gz.clone())],
        ))
        .await;
        let (without, with, llm, _) =
            with_and_without(&otel, addr, CHAT, LlmMiddleware::new()).await;
        assert_eq!(without.error, None);
        assert_eq!(
            without.body_len,
            gz.len() as u64,
            "bytes as sent, not inflated"
        );
        assert_eq!(with, without);
        assert_eq!(llm.len(), 1);
        let s = &llm[0];
        assert_eq!(int(s, semconv::GEN_AI_USAGE_INPUT_TOKENS), None);
        assert!(
            attr_str(s, semconv::TOKENTRACE_PARSE_ERROR).is_some(),
            "the unreadable body is recorded: {:?}",
            s.attributes
        );
    });
}

/// An inbound SSE endpoint that relays an LLM stream; the client reads the
/// first event and goes away. The workflow span ends once, flagged; the LLM
/// call under it ends once, incomplete; the server keeps serving.
#[test]
fn a_client_disconnecting_mid_stream() {
    serially(async {
        let otel = capture();
        let mocks = tokentrace_demo::mocks::MockProviders::builder()
            .chunk_delay(Duration::from_millis(30))
            .start()
            .await
            .unwrap();
        let url = format!("{}/chat/completions", mocks.openai_base_url());
        let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(LlmMiddleware::new().registry(mocks.registry()))
            .build();
        let relay = move || {
            let http = http.clone();
            let url = url.clone();
            async move {
                let resp = http
                    .post(&url)
                    .json(&serde_json::json!({"model": "gpt-4o-mini", "stream": true,
                        "messages": [{"role": "user", "content": "tell me a long story about streams that never end at all"}]}))
                    .send()
                    .await
                    .unwrap();
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(resp.bytes_stream()))
                    .unwrap()
            }
        };
        let plain_app = Router::new().route("/events", get(relay.clone()));
        let traced_app = Router::new()
            .route("/events", get(relay))
            .layer(WorkflowLayer::new());
        for (traced, app) in [(false, plain_app), (true, traced_app)] {
            otel.clear();
            let addr = serve(app).await;
            let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
            sock.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(5).any(|w| w == b"data:") {
                let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(n > 0, "stream ended early");
                seen.extend_from_slice(&buf[..n]);
            }
            drop(sock);
            // The server goes on serving.
            let mut again = tokio::net::TcpStream::connect(addr).await.unwrap();
            again
                .write_all(b"GET /missing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut out = String::new();
            again.read_to_string(&mut out).await.unwrap();
            assert!(out.starts_with("HTTP/1.1 404"), "{out}");
            let llm = otel.wait_for("chat gpt-4o-mini", 1).await;
            assert_eq!(llm.len(), 1, "the LLM span ends once (traced: {traced})");
            assert_eq!(
                attr(&llm[0], semconv::TOKENTRACE_STREAM_INCOMPLETE),
                Some(Value::Bool(true))
            );
            if traced {
                let wf = otel.wait_for("GET /events", 1).await;
                assert_eq!(wf.len(), 1, "the workflow span ends once");
                assert_eq!(
                    attr(&wf[0], semconv::TOKENTRACE_CLIENT_DISCONNECTED),
                    Some(Value::Bool(true))
                );
                assert_eq!(llm[0].parent_span_id, wf[0].span_context.span_id());
            }
        }
        // Every span has ended: nothing more arrives.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(otel.named("GET /events").len(), 1);
    });
}

/// A handler that panics, with tower-http's `CatchPanicLayer` outside or
/// inside `WorkflowLayer`: the client gets the same 500 as without
/// tokentrace, and the span ends once with the error recorded.
#[test]
fn a_handler_that_panics() {
    serially(async {
        let otel = capture();
        async fn boom() -> &'static str {
            panic!("handler exploded")
        }
        let routes = || Router::new().route("/boom", get(boom));
        let plain = routes().layer(tower_http::catch_panic::CatchPanicLayer::new());
        let catch_inside = routes()
            .layer(tower_http::catch_panic::CatchPanicLayer::new())
            .layer(WorkflowLayer::new());
        let catch_outside = routes()
            .layer(WorkflowLayer::new())
            .layer(tower_http::catch_panic::CatchPanicLayer::new());
        let call = |app: Router| async move {
            let resp = app
                .oneshot(
                    axum::http::Request::get("/boom")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = resp.status();
            let headers = format!("{:?}", resp.headers());
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, headers, body)
        };
        let expected = call(plain).await;
        assert_eq!(expected.0, 500);
        assert!(otel.spans().is_empty());
        for (name, app) in [("inside", catch_inside), ("outside", catch_outside)] {
            otel.clear();
            assert_eq!(call(app).await, expected, "CatchPanicLayer {name}");
            let spans = otel.spans();
            assert_eq!(spans.len(), 1, "one span, ended once ({name})");
            let s = &spans[0];
            assert!(is_error(s), "{name}: {s:?}");
            let error = attr_str(s, semconv::ERROR_TYPE);
            match name {
                // The panic became a 500 beneath the layer.
                "inside" => assert_eq!(error.as_deref(), Some("500")),
                // The layer saw the future unwind.
                _ => assert_eq!(error.as_deref(), Some("panic")),
            }
        }
    });
}

//! Distinctive fake keys in every auth header and query-parameter form, on
//! every provider path, with content capture off and on, exported through
//! the real pipeline to an OTLP/HTTP receiver and the SQLite store, and
//! logged through a `fmt` layer: not one exported or logged byte holds a key.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use base64::Engine as _;
use serde_json::json;
use tokentrace::{LlmMiddleware, Telemetry, WorkflowLayer};
use tokentrace_demo::mocks::MockProviders;
use tokentrace_tests::{OtlpReceiver, contains, serial};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::{fast_mocks, serve};

/// Every outbound auth header form, each with its own key.
const HEADERS: &[(&str, &str)] = &[
    ("authorization", "Bearer sk-tt-SECRET-01"),
    ("x-api-key", "sk-tt-SECRET-02"),
    ("api-key", "sk-tt-SECRET-03"),
    ("x-goog-api-key", "sk-tt-SECRET-04"),
    // Pinecone's spelling; header names are case-insensitive, so this is a
    // second `api-key` value on the same request.
    ("Api-Key", "sk-tt-SECRET-05"),
];
const QUERY_KEY: &str = "sk-tt-SECRET-06";
const USERINFO: (&str, &str) = ("tt-user", "sk-tt-SECRET-07");
const INBOUND_AUTH: &str = "Bearer sk-tt-SECRET-08";
const INBOUND_COOKIE: &str = "session=sk-tt-SECRET-09";
const INBOUND_QUERY: &str = "sk-tt-SECRET-10";
const QUERY_API_KEY: &str = "sk-tt-SECRET-11";

/// A value that must reach every sink: proves the scans read live data.
const CANARY_USER: &str = "canary-user-42";
/// Prompt text: recorded only with content capture on.
const CANARY_PROMPT: &str = "canaryprompt";
/// Prompt text a third-party crate logs at TRACE only: never exported with
/// the default event filter, capture on or off.
const CANARY_TRACE_PROMPT: &str = "canarytraceprompt";

/// What rig and genai log around a call: the request JSON at TRACE, the
/// prompt at DEBUG, a response body at WARN (as a field and in the message).
fn third_party_crate_logs(prompt: &str, body: &serde_json::Value) {
    tracing::trace!(target: "rig::completions", "OpenAI request: {body} ({CANARY_TRACE_PROMPT})");
    tracing::debug!(target: "genai::adapter", prompt = %prompt, "sending chat request");
    let response = json!({"choices": [{"message": {"content": prompt}}]});
    tracing::warn!(target: "genai::adapter", body = %response, "unexpected response shape");
    tracing::warn!(target: "rig::completions", "cannot parse response body: {response}");
}

fn needles() -> Vec<Vec<u8>> {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", USERINFO.0, USERINFO.1));
    let mut out: Vec<Vec<u8>> = vec![
        b"sk-tt-SECRET".to_vec(),
        b"SECRET-".to_vec(),
        basic.into_bytes(),
        // The password percent-encoded, as a URL would carry it.
        b"sk%2Dtt%2DSECRET".to_vec(),
    ];
    out.extend((1..=11).map(|i| format!("sk-tt-SECRET-{i:02}").into_bytes()));
    out
}

/// The needles found in `bytes`.
fn hits(bytes: &[u8]) -> Vec<String> {
    needles()
        .iter()
        .filter(|n| contains(bytes, n))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

struct Agent {
    http: reqwest_middleware::ClientWithMiddleware,
    mocks: MockProviders,
}

/// Calls every provider path of the mocks with every key form and checks
/// each call succeeded. Returns the number of calls.
async fn every_provider(State(agent): State<Arc<Agent>>) -> Result<String, String> {
    let m = &agent.mocks;
    let q = format!("key={QUERY_KEY}&api_key={QUERY_API_KEY}");
    let prompt = format!("{CANARY_PROMPT} rotate keys");
    let userinfo_openai = m.openai_base_url().replacen(
        "http://",
        &format!("http://{}:{}@", USERINFO.0, USERINFO.1),
        1,
    );
    let gemini = format!("{}/v1beta/models/gemini-2.5-flash", m.gemini_base_url());
    let calls = [
        (
            format!("{}/chat/completions?{q}", m.openai_base_url()),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}),
        ),
        (
            format!("{}/chat/completions?{q}", m.openai_base_url()),
            json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": prompt}]}),
        ),
        (
            format!("{}/embeddings?{q}", m.openai_base_url()),
            json!({"model": "text-embedding-3-small", "input": [prompt], "dimensions": 4}),
        ),
        (
            format!("{userinfo_openai}/chat/completions"),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}),
        ),
        (
            format!("{}/v1/messages?{q}", m.anthropic_base_url()),
            json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
                "messages": [{"role": "user", "content": prompt}]}),
        ),
        (
            format!("{}/v1/messages?{q}", m.anthropic_base_url()),
            json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
                "messages": [{"role": "user", "content": prompt}]}),
        ),
        (
            format!("{gemini}:generateContent?{q}"),
            json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}),
        ),
        (
            format!("{gemini}:streamGenerateContent?alt=sse&{q}"),
            json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}),
        ),
        (
            format!("{}/query?{q}", m.pinecone_base_url()),
            json!({"vector": [0.1, -0.2, 0.3], "topK": 2, "includeMetadata": true, "namespace": "kb"}),
        ),
    ];
    for (url, body) in &calls {
        third_party_crate_logs(&prompt, body);
        let mut req = agent.http.post(url).json(body);
        for (k, v) in HEADERS {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if !status.is_success() || bytes.is_empty() {
            return Err(format!("{url}: {status}"));
        }
    }
    Ok(calls.len().to_string())
}

/// Serves the agent (under `WorkflowLayer`) and calls it once with inbound
/// credentials too. Returns the number of provider calls made.
async fn workload(capture: bool) -> usize {
    let mocks = fast_mocks().await;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            LlmMiddleware::new()
                .registry(mocks.registry())
                .capture_content(capture)
                .http_spans(true),
        )
        .build();
    let app = Router::new()
        .route("/agent", post(every_provider))
        .layer(
            WorkflowLayer::new()
                .user_header("x-user-id")
                .session_header("x-session-id")
                .tags_header("x-tags"),
        )
        .with_state(Arc::new(Agent { http, mocks }));
    let addr = serve(app).await;
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/agent?token={INBOUND_QUERY}"))
        .header("x-user-id", CANARY_USER)
        .header("x-session-id", "canary-session")
        .header("authorization", INBOUND_AUTH)
        .header("cookie", INBOUND_COOKIE)
        .header("baggage", format!("api_key={INBOUND_QUERY}"))
        .header("x-tags", "canary-tag")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body.parse().unwrap()
}

/// A `fmt` writer into a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn read_if_exists(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

fn no_secrets_in_otlp_store_and_logs(capture: bool) {
    let _serial = serial();
    // (a) OTLP and (b) the SQLite store, through the facade's pipeline.
    let receiver = OtlpReceiver::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let (dispatch, guard) = Telemetry::builder()
        .service_name("e2e-secrets")
        .store(&db)
        .otlp_endpoint(receiver.base_url())
        .capture_content(capture)
        .export_delay(Duration::from_millis(50))
        .build()
        .unwrap();
    let calls = tracing::dispatcher::with_default(&dispatch, || {
        current_thread().block_on(workload(capture))
    });
    assert_eq!(calls, 9);
    guard.flush();
    assert_eq!(guard.dropped_spans(), 0);
    let otlp: Vec<u8> = receiver.bodies().concat();
    let wal = db.with_file_name("traces.db-wal");
    let mut stored = read_if_exists(&db);
    stored.extend(read_if_exists(&wal));
    drop(guard);
    // Closing checkpoints the WAL into the database file: read it again.
    stored.extend(read_if_exists(&db));
    stored.extend(read_if_exists(&wal));

    // (c) logs: the same workload under a `fmt` layer that prints every span
    // with its fields on open and close, and every event, at TRACE.
    let logs = LogBuffer::default();
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let log_dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tokentrace::EnrichLayer::new())
            .with(tracing_opentelemetry::layer().with_tracer(
                opentelemetry::trace::TracerProvider::tracer(&provider, "e2e"),
            ))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(logs.clone())
                    .with_ansi(false)
                    .with_span_events(FmtSpan::FULL),
            ),
    );
    let calls = tracing::dispatcher::with_default(&log_dispatch, || {
        current_thread().block_on(workload(capture))
    });
    assert_eq!(calls, 9);
    let mut log_bytes = logs.0.lock().unwrap().clone();
    // The in-memory export (what any exporter is handed), formatted.
    let handed = exporter.get_finished_spans().unwrap();
    crate::support::assert_unique_keys(&handed);
    let handed = format!("{handed:?}");
    writeln!(log_bytes, "{handed}").unwrap();

    for (sink, bytes) in [("OTLP", &otlp), ("SQLite", &stored), ("logs", &log_bytes)] {
        assert!(!bytes.is_empty(), "{sink}: nothing exported");
        assert!(
            contains(bytes, CANARY_USER.as_bytes()),
            "{sink}: the canary is missing, so the scan proves nothing"
        );
        for needle in [
            "chat gpt-4o-mini",
            "claude-sonnet-4-5",
            "gemini-2.5-flash",
            "pinecone",
        ] {
            assert!(
                contains(bytes, needle.as_bytes()),
                "{sink}: no {needle} span"
            );
        }
        assert_eq!(
            hits(bytes),
            Vec::<String>::new(),
            "{sink} holds a secret (capture {capture})"
        );
    }
    // Content capture is what it says: prompts only when on, including the
    // prompts and bodies a third-party crate logs (TRACE, DEBUG and WARN).
    for (sink, bytes) in [("OTLP", &otlp), ("SQLite", &stored)] {
        assert_eq!(
            contains(bytes, CANARY_PROMPT.as_bytes()),
            capture,
            "{sink}: prompt text with capture {capture}"
        );
        assert!(
            !contains(bytes, CANARY_TRACE_PROMPT.as_bytes()),
            "{sink}: a TRACE line of another crate was exported (capture {capture})"
        );
        // The WARN lines were exported (so the scan above saw them), cut
        // when capture is off.
        assert!(
            contains(bytes, b"unexpected response shape"),
            "{sink}: no WARN event of the third-party crate"
        );
    }
    // The fmt layer prints everything at TRACE: proof the lines were logged.
    assert!(contains(&log_bytes, CANARY_TRACE_PROMPT.as_bytes()));
    eprintln!(
        "secrets (capture {capture}): scanned {} OTLP bytes, {} SQLite bytes, {} log bytes: 0 hits",
        otlp.len(),
        stored.len(),
        log_bytes.len()
    );
}

#[test]
fn no_secret_is_exported_or_logged_with_capture_off() {
    no_secrets_in_otlp_store_and_logs(false);
}

#[test]
fn no_secret_is_exported_or_logged_with_capture_on() {
    no_secrets_in_otlp_store_and_logs(true);
}

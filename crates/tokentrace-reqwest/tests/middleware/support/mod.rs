//! Shared test support: an in-memory OpenTelemetry pipeline, a fixture
//! loader and an axum mock provider on 127.0.0.1:0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value as Json;
use tokentrace_test_support::{Capture, install_trace_context_propagator};

/// An in-memory exporter installed as the thread's default subscriber
/// (registry and OpenTelemetry layer; the W3C propagator set globally).
pub(crate) struct Otel(Capture);

impl std::ops::Deref for Otel {
    type Target = Capture;
    fn deref(&self) -> &Capture {
        &self.0
    }
}

impl Otel {
    pub(crate) fn install() -> Self {
        install_trace_context_propagator();
        Self(Capture::install())
    }
}

pub(crate) use tokentrace_test_support::{attr, attr_bool, attr_f64, attr_i64, attr_str};

/// One recorded provider exchange from `tokentrace-core/tests/fixtures`.
#[derive(Debug, Clone)]
pub(crate) struct Fixture {
    pub(crate) meta: Json,
    pub(crate) body: Vec<u8>,
    pub(crate) expected: Json,
}

pub(crate) fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tokentrace-core/tests/fixtures")
}

pub(crate) fn fixture(name: &str) -> Fixture {
    let dir = fixtures_dir();
    let meta: Json =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.meta.json"))).unwrap())
            .unwrap();
    let ext = match meta["format"].as_str().unwrap() {
        "json" => "json",
        "sse" => "sse",
        "ndjson" => "ndjson",
        _ => "bin",
    };
    let body = std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
    let expected: Json =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.expected.json"))).unwrap())
            .unwrap();
    Fixture {
        meta,
        body,
        expected,
    }
}

/// What the mock serves.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
    /// Split the body at these offsets, sleeping `delay` between parts.
    pub(crate) splits: Vec<usize>,
    pub(crate) delay: Duration,
    /// Extra response headers.
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(crate) fn from_fixture(f: &Fixture) -> Self {
        let streamed = f.meta["format"] != "json";
        let n = f.body.len();
        Self {
            status: f.meta["status"].as_u64().unwrap() as u16,
            // Some cassettes lost the header; serve what the provider sends.
            content_type: f.meta["content_type"]
                .as_str()
                .unwrap_or(match f.meta["format"].as_str() {
                    Some("sse") => "text/event-stream",
                    Some("ndjson") => "application/x-ndjson",
                    Some("aws_eventstream") => "application/vnd.amazon.eventstream",
                    _ => "application/json",
                })
                .to_owned(),
            body: f.body.clone(),
            splits: if streamed {
                vec![n / 5, n / 3, n / 2, 2 * n / 3]
            } else {
                Vec::new()
            },
            delay: Duration::from_millis(if streamed { 2 } else { 0 }),
            headers: Vec::new(),
        }
    }
}

/// A mock provider: serves `reply` for every request and keeps the headers
/// and bodies it received.
#[derive(Clone)]
pub(crate) struct Mock {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>,
}

pub(crate) async fn mock(reply: Reply) -> Mock {
    let requests: Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>> = Arc::default();
    let seen = requests.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let reply = reply.clone();
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push((headers, body.to_vec()));
            respond(reply)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Mock { addr, requests }
}

fn respond(reply: Reply) -> Response {
    let mut parts = Vec::new();
    let mut last = 0;
    for s in reply.splits.iter().copied().chain([reply.body.len()]) {
        if s > last && s <= reply.body.len() {
            parts.push(reply.body[last..s].to_vec());
            last = s;
        }
    }
    let delay = reply.delay;
    let stream = futures_util::stream::unfold(parts.into_iter(), move |mut it| async move {
        let next = it.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok::<_, std::io::Error>(next), it))
    });
    let body = if reply.splits.is_empty() {
        Body::from(reply.body)
    } else {
        Body::from_stream(stream)
    };
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header("content-type", reply.content_type);
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(body).unwrap()
}

/// A client whose requests for `host` go to the mock.
/// A reqwest client builder that hands the application the bytes on the
/// wire: another crate in the workspace (genai) turns reqwest's
/// decompression features on in test builds.
pub(crate) fn raw_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
}

pub(crate) fn client(
    mw: tokentrace_reqwest::LlmMiddleware,
    host: &str,
    mock: &Mock,
) -> reqwest_middleware::ClientWithMiddleware {
    let inner = raw_builder().resolve(host, mock.addr).build().unwrap();
    reqwest_middleware::ClientBuilder::new(inner)
        .with(mw)
        .build()
}

/// An address that refuses connections: a port bound but never listened
/// on. Keep the socket alive for the test: a port bound and released could
/// be taken by a parallel test before the call is made.
pub(crate) fn refused_addr() -> (tokio::net::TcpSocket, std::net::SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let addr = socket.local_addr().expect("bound address");
    (socket, addr)
}

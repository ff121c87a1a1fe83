//! Overhead of `LlmMiddleware` next to bare reqwest and reqwest-tracing.
//!
//! A loopback axum server answers `POST /v1/chat/completions` with a ~1.2 KB
//! JSON chat completion, or (for `"stream":true`) a 50-event SSE stream.
//! Three clients are compared, every call inside an enclosing span and under
//! the same subscriber, the one `tokentrace::init()` installs (registry +
//! `EnrichLayer` + tracing-opentelemetry with a discarding exporter,
//! hyper/h2/reqwest internals filtered out):
//!
//! * `bare`: `reqwest::Client`;
//! * `reqwest-tracing`: reqwest-middleware + `TracingMiddleware` (plain
//!   tracing spans, exported by the same tracing-opentelemetry layer);
//! * `llm`: reqwest-middleware + `LlmMiddleware`.
//!
//! Criterion measures each variant; then an interleaved run (variants in
//! rotating order, round after round) prints medians, the *added* time
//! (variant − bare), its ratio, time to first chunk, and the peak resident-set
//! growth while reading a 1,000- and a 10,000-chunk stream through `LlmMiddleware`.
//!
//! Run with `cargo bench -p tokentrace-reqwest --bench overhead`.
//!
//! Instruction counts: `TOKENTRACE_OVERHEAD_CALLS=<variant>,<json|sse50>,<n>`
//! makes the binary run only `n` calls of one variant (after 20 warm-up
//! calls) and exit, so that `valgrind --tool=callgrind` can count the
//! instructions of `n` calls; the difference between two counts (different
//! `n`) divided by the difference in `n` is the cost of one call, server
//! included, and the difference to `bare` is the added cost.
//! `scripts/overhead-instructions` does this for every variant.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::serve::ListenerExt;
use criterion::Criterion;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing::Instrument;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

/// Resident set size and its high-water mark, in KiB (Linux `/proc`). The
/// workspace forbids `unsafe`, so a counting global allocator is not an
/// option; resetting the high-water mark (`clear_refs` 5) gives the peak of
/// one measured section instead.
fn rss_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

const HOST: &str = "api.openai.com";

/// Discards every span, so the exporter costs the same for all variants.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

fn json_body() -> Vec<u8> {
    let content = "Tokentrace measures what every call costs. ".repeat(18);
    serde_json::to_vec(&serde_json::json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 180, "total_tokens": 300,
                  "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}},
        "system_fingerprint": "fp_bench",
    }))
    .expect("static json")
}

fn sse_events(n: usize) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(n + 2);
    for i in 0..n {
        out.push(Bytes::from(format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{i} \"}},\"finish_reason\":null}}]}}\n\n"
        )));
    }
    out.push(Bytes::from_static(b"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":50,\"total_tokens\":170}}\n\n"));
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let json = Bytes::from(json_body());
            let app = axum::Router::new().fallback(move |body: Bytes| {
                let json = json.clone();
                async move {
                    let text = std::str::from_utf8(&body).unwrap_or_default();
                    let chunks: Option<usize> = text
                        .find("\"chunks\":")
                        .and_then(|i| text[i + 9..].split(|c: char| !c.is_ascii_digit()).next())
                        .and_then(|n| n.parse().ok());
                    match chunks {
                        Some(n) => {
                            let events = sse_events(n);
                            let stream = futures_util::stream::iter(
                                events.into_iter().map(Ok::<_, std::io::Error>),
                            );
                            axum::response::Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(Body::from_stream(stream))
                                .expect("response")
                        }
                        None => axum::response::Response::builder()
                            .header("content-type", "application/json")
                            .body(Body::from(json))
                            .expect("response"),
                    }
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            // Provider front ends (nginx, Go's net/http, asyncio servers)
            // send with TCP_NODELAY; without it Nagle holds each small SSE
            // event until the client's (delayed) ACK, and the bench would
            // measure the kernel's ACK timing instead of the client.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("server address")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Bare,
    ReqwestTracing,
    Llm,
}

const VARIANTS: [Variant; 3] = [Variant::Bare, Variant::ReqwestTracing, Variant::Llm];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::ReqwestTracing => "reqwest-tracing",
            Self::Llm => "llm",
        }
    }
}

struct Clients {
    bare: reqwest::Client,
    rt: reqwest_middleware::ClientWithMiddleware,
    llm: reqwest_middleware::ClientWithMiddleware,
    url: String,
}

impl Clients {
    fn new(addr: SocketAddr) -> Self {
        let inner = || {
            reqwest::Client::builder()
                .resolve(HOST, addr)
                .build()
                .expect("client")
        };
        Self {
            bare: inner(),
            rt: reqwest_middleware::ClientBuilder::new(inner())
                .with(reqwest_tracing::TracingMiddleware::default())
                .build(),
            llm: reqwest_middleware::ClientBuilder::new(inner())
                .with(tokentrace_reqwest::LlmMiddleware::new())
                .build(),
            url: format!("http://{HOST}:{}/v1/chat/completions", addr.port()),
        }
    }

    /// One call; returns (total, time to first chunk).
    async fn call(&self, v: Variant, chunks: Option<usize>) -> (Duration, Duration) {
        let body = match chunks {
            Some(n) => format!(
                r#"{{"model":"gpt-4o-mini","stream":true,"chunks":{n},"messages":[{{"role":"user","content":"hi"}}]}}"#
            ),
            None => {
                r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#.to_owned()
            }
        };
        let start = Instant::now();
        let mut resp = match v {
            Variant::Bare => self
                .bare
                .post(&self.url)
                .body(body)
                .send()
                .await
                .expect("send"),
            Variant::ReqwestTracing => self
                .rt
                .post(&self.url)
                .body(body)
                .send()
                .await
                .expect("send"),
            Variant::Llm => self
                .llm
                .post(&self.url)
                .body(body)
                .send()
                .await
                .expect("send"),
        };
        let mut first = None;
        while let Some(chunk) = resp.chunk().await.expect("chunk") {
            if first.is_none() {
                first = Some(start.elapsed());
            }
            std::hint::black_box(chunk);
        }
        let total = start.elapsed();
        (total, first.unwrap_or(total))
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let addr = server();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    // The subscriber `tokentrace::init()` installs: registry, EnrichLayer
    // inside, tracing-opentelemetry configured as the facade configures it,
    // HTTP-stack internals filtered out. All three variants run under it.
    let filter = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
        .with_target("tower::", LevelFilter::OFF)
        .with_target("opentelemetry", LevelFilter::OFF)
        // `Targets` matches by string prefix: a bare "reqwest" would also
        // silence `reqwest_tracing`'s spans.
        .with_target("reqwest::", LevelFilter::OFF);
    let otel = tracing_opentelemetry::layer()
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_tracer(provider.tracer("bench"));
    let subscriber = tracing_subscriber::registry()
        .with(tokentrace_subscriber::EnrichLayer::new())
        .with(otel)
        .with(filter);
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let clients = Clients::new(addr);

    if let Ok(spec) = std::env::var("TOKENTRACE_OVERHEAD_CALLS") {
        let mut parts = spec.split(',');
        let v = match parts.next() {
            Some("bare") => Variant::Bare,
            Some("reqwest-tracing") => Variant::ReqwestTracing,
            Some("llm") => Variant::Llm,
            other => panic!("unknown variant {other:?}"),
        };
        let chunks = match parts.next() {
            Some("json") => None,
            Some("sse50") => Some(50),
            other => panic!("unknown mode {other:?}"),
        };
        let n: usize = parts
            .next()
            .and_then(|n| n.parse().ok())
            .expect("call count");
        for _ in 0..20 + n {
            rt.block_on(
                clients
                    .call(v, chunks)
                    .instrument(tracing::info_span!("request")),
            );
        }
        return;
    }

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    for (mode, chunks) in [("json", None), ("sse50", Some(50))] {
        let mut group = c.benchmark_group(mode);
        for v in VARIANTS {
            group.bench_function(v.name(), |b| {
                b.iter(|| {
                    rt.block_on(
                        clients
                            .call(v, chunks)
                            .instrument(tracing::info_span!("request")),
                    )
                });
            });
        }
        group.finish();
    }
    c.final_summary();

    // Interleaved run: the same machine noise hits every variant alike.
    const ROUNDS: usize = 400;
    println!("\ninterleaved run, {ROUNDS} rounds per mode (medians, microseconds)");
    println!("| mode | variant | total | added vs bare | time to first chunk | TTFC / bare |");
    println!("|---|---|---|---|---|---|");
    for (mode, chunks) in [("json ~1.2 KB", None), ("sse 50 chunks", Some(50))] {
        let mut totals: [Vec<Duration>; 3] = Default::default();
        let mut firsts: [Vec<Duration>; 3] = Default::default();
        for round in 0..ROUNDS + 20 {
            for k in 0..3 {
                let i = (round + k) % 3;
                let (t, f) = rt.block_on(
                    clients
                        .call(VARIANTS[i], chunks)
                        .instrument(tracing::info_span!("request")),
                );
                if round >= 20 {
                    totals[i].push(t);
                    firsts[i].push(f);
                }
            }
        }
        let med: Vec<Duration> = totals.iter_mut().map(|v| median(v)).collect();
        let ttfc: Vec<Duration> = firsts.iter_mut().map(|v| median(v)).collect();
        let added = |i: usize| us(med[i]) - us(med[0]);
        for (i, v) in VARIANTS.iter().enumerate() {
            println!(
                "| {mode} | {} | {:.1} | {:+.1} | {:.1} | {:.3} |",
                v.name(),
                us(med[i]),
                added(i),
                us(ttfc[i]),
                us(ttfc[i]) / us(ttfc[0]),
            );
        }
        println!(
            "| {mode} | llm added / reqwest-tracing added | | {:.2} | | |",
            added(2) / added(1)
        );
    }

    // Peak memory while a long stream goes through LlmMiddleware.
    println!("\npeak resident-set growth while reading a stream through LlmMiddleware");
    println!("| chunks | peak growth (KiB) |");
    println!("|---|---|");
    for n in [1_000usize, 10_000, 10_000] {
        rt.block_on(clients.call(Variant::Llm, Some(n)));
        let base = rss_kib("VmRSS:").unwrap_or(0);
        if !reset_peak() {
            println!("| {n} | (no /proc/self/clear_refs) |");
            continue;
        }
        rt.block_on(
            clients
                .call(Variant::Llm, Some(n))
                .instrument(tracing::info_span!("request")),
        );
        let peak = rss_kib("VmHWM:").unwrap_or(0).saturating_sub(base);
        println!("| {n} | {peak} |");
    }
}

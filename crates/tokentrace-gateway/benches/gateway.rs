//! Added latency and time to first byte: direct vs the gateway vs LiteLLM's
//! proxy, one interleaved run against the same mock upstream (see
//! docs/gateway.md). `cargo bench -p tokentrace-gateway --bench gateway`.
//!
//! * direct: the client calls the mock OpenAI API;
//! * gateway: through `Gateway::router()` in this process, with the full
//!   tracing stack (EnrichLayer + OpenTelemetry, in-memory exporter);
//! * bare proxy: the same hop without tracing (axum in, plain reqwest out),
//!   the floor any proxy in this process pays;
//! * LiteLLM: `litellm --config` (from `scripts/setup-python-clients
//!   --litellm`) forwarding to the same mock, stopped by its pid at the end.
//!   Skipped when `TT_BENCH_NO_LITELLM` is set or the set-up fails.
//!
//! Each round sends one unary request (latency: send to last byte) and one
//! streamed request (TTFB: send to first body chunk) to each target, in a
//! rotating order. `TT_BENCH_ROUNDS` rounds (default 200) after 30 warm-up;
//! `TT_BENCH_UPSTREAM_MS` (default 0) delays the mock's answers.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::serve::ListenerExt as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tokentrace_demo::mocks::MockProviders;
use tokentrace_gateway::{Gateway, GatewayConfig};
use tracing_subscriber::layer::SubscriberExt as _;

struct Target {
    name: &'static str,
    url: String,
    unary_ms: Vec<f64>,
    ttfb_ms: Vec<f64>,
}

/// LiteLLM's proxy process; killed (by its own pid) on drop.
struct LiteLlm(Child);

impl Drop for LiteLlm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    }
}

/// LiteLLM refuses to start without a master key (1.108); the bench's
/// clients send it to every target (the mock upstream and the gateway ignore it).
const MASTER_KEY: &str = "sk-ttbench-5f0c1e9a7b3d42c8a6e1f0d9b8c7a6e5d4c3b2a1f0e9d8c7";

/// Installs (`scripts/setup-python-clients --litellm`) and starts LiteLLM's
/// proxy against `mock_openai`; returns the guard, its base URL and version.
async fn start_litellm(
    mock_openai: &str,
    dir: &std::path::Path,
) -> Option<(LiteLlm, String, String)> {
    if std::env::var_os("TT_BENCH_NO_LITELLM").is_some() {
        return None;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("scripts/setup-python-clients"))
        .arg("--litellm")
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("LiteLLM set-up failed: LiteLLM skipped");
        return None;
    }
    let py = PathBuf::from(String::from_utf8(out.stdout).ok()?.lines().last()?.trim());
    let version = Command::new(&py)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".to_owned(), |v| v.trim().to_owned());
    let litellm = py.parent()?.join("litellm");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
        l.local_addr().ok()?.port()
    };
    let cfg = dir.join("litellm.yaml");
    std::fs::write(
        &cfg,
        format!(
            "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: {mock_openai}\n      api_key: sk-mock\nlitellm_settings:\n  telemetry: false\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"
        ),
    )
    .ok()?;
    let log_path = dir.join("litellm.log");
    let log = std::fs::File::create(&log_path).ok()?;
    let child = Command::new(litellm)
        .args(["--config", cfg.to_str()?, "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .env("LITELLM_TELEMETRY", "False")
        // The built-in price map: no fetch from GitHub at start.
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .stdin(Stdio::null())
        .stdout(log.try_clone().ok()?)
        .stderr(log)
        .spawn()
        .ok()?;
    let mut guard = LiteLlm(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let start = Instant::now();
    // Its start-up takes from ~15 s on an idle machine to minutes on a busy one.
    while start.elapsed() < Duration::from_secs(300) {
        if let Ok(Some(status)) = guard.0.try_wait() {
            eprintln!(
                "LiteLLM exited at start ({status}): skipped. Its log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            return None;
        }
        let live = http
            .get(format!("{url}/health/liveliness"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if live.is_ok_and(|r| r.status().is_success()) {
            eprintln!(
                "LiteLLM {version} up after {:.0} s",
                start.elapsed().as_secs_f64()
            );
            return Some((guard, format!("{url}/v1"), version));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("LiteLLM did not start within 300 s: skipped");
    None
}

/// The floor for any proxy: the same hop (axum in, reqwest out, body
/// streamed back) with no tracing, no parsing and no header rules but `Host`.
async fn bare_proxy(
    axum::extract::State((http, base)): axum::extract::State<(reqwest::Client, String)>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let rest = parts.uri.path().strip_prefix("/bare").unwrap_or("");
    let mut headers = parts.headers;
    headers.remove(http::header::HOST);
    let res = http
        .request(parts.method, format!("{base}{rest}"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let res: http::Response<reqwest::Body> = res.into();
    res.map(axum::body::Body::new)
}

async fn unary(http: &reqwest::Client, base: &str, auth: &str) -> f64 {
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"how fast is the gateway today"}]}"#;
    let t = Instant::now();
    let res = http
        .post(format!("{base}/chat/completions"))
        .header("authorization", auth)
        .header("content-type", "application/json")
        .header("x-tt-user", "bench")
        .body(body)
        .send()
        .await
        .expect("unary send");
    assert!(res.status().is_success(), "{base}: {}", res.status());
    res.bytes().await.expect("unary body");
    t.elapsed().as_secs_f64() * 1e3
}

async fn ttfb(http: &reqwest::Client, base: &str, auth: &str) -> f64 {
    let body = r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"how fast is the first byte"}]}"#;
    let t = Instant::now();
    let mut res = http
        .post(format!("{base}/chat/completions"))
        .header("authorization", auth)
        .header("content-type", "application/json")
        .header("x-tt-user", "bench")
        .body(body)
        .send()
        .await
        .expect("stream send");
    assert!(res.status().is_success(), "{base}: {}", res.status());
    res.chunk().await.expect("first chunk");
    let first = t.elapsed().as_secs_f64() * 1e3;
    while res.chunk().await.expect("chunk").is_some() {}
    first
}

/// The `q` quantile (nearest rank) of `v`, sorted in place.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// Per-round differences `a[i] - b[i]` (the rounds are interleaved, so each
/// pair ran under the same load).
fn paired(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("TT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let warmup = 30;
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(tokentrace_subscriber::EnrichLayer::new())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    )
    .expect("global subscriber");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("tokentrace-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    rt.block_on(async {
        // The mock upstream, served here; `TT_BENCH_UPSTREAM_MS` makes it wait
        // that long before answering, like a provider's time to first token.
        let upstream_ms: u64 = std::env::var("TT_BENCH_UPSTREAM_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mock = MockProviders::builder()
            .chunk_delay(Duration::from_millis(2))
            .router()
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                    if upstream_ms > 0 {
                        tokio::time::sleep(Duration::from_millis(upstream_ms)).await;
                    }
                    next.run(req).await
                },
            ));
        let mock_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mock_addr = mock_listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(mock_listener, mock).await });
        let mock_base = format!("http://{mock_addr}");
        let mock_openai = format!("{mock_base}/openai/v1");

        let cfg = GatewayConfig::default().upstream_url("openai", format!("{mock_base}/openai"));
        let app = Gateway::new(&cfg).unwrap().router();
        // As `tokentrace gateway` does: no Nagle delay on the client side.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw = listener.local_addr().unwrap();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });

        let bare = axum::Router::new()
            .route("/bare/{*path}", axum::routing::any(bare_proxy))
            .with_state((reqwest::Client::new(), format!("{mock_base}/openai")));
        let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_addr = bare_listener.local_addr().unwrap();
        let bare_listener = bare_listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(bare_listener, bare).await });

        let litellm = start_litellm(&mock_openai, &dir).await;
        let mut targets = vec![
            Target { name: "direct", url: mock_openai.clone(), unary_ms: vec![], ttfb_ms: vec![] },
            Target { name: "tokentrace gateway", url: format!("http://{gw}/openai/v1"), unary_ms: vec![], ttfb_ms: vec![] },
            Target { name: "bare proxy, no tracing (floor)", url: format!("http://{bare_addr}/bare/v1"), unary_ms: vec![], ttfb_ms: vec![] },
        ];
        if let Some((_, url, _)) = &litellm {
            targets.push(Target { name: "LiteLLM proxy", url: url.clone(), unary_ms: vec![], ttfb_ms: vec![] });
        }
        let http = reqwest::Client::new();
        let auth = format!("Bearer {MASTER_KEY}");
        let load_before = loadavg();
        let began = Instant::now();
        for round in 0..rounds + warmup {
            let n = targets.len();
            for k in 0..n {
                let t = &mut targets[(round + k) % n];
                let u = unary(&http, &t.url, &auth).await;
                let f = ttfb(&http, &t.url, &auth).await;
                if round >= warmup {
                    t.unary_ms.push(u);
                    t.ttfb_ms.push(f);
                }
            }
            if round % 50 == 0 {
                exporter.reset();
            }
        }
        let took = began.elapsed().as_secs_f64();
        let load_after = loadavg();

        println!("command: cargo bench -p tokentrace-gateway --bench gateway (TT_BENCH_ROUNDS={rounds} TT_BENCH_UPSTREAM_MS={upstream_ms})");
        println!(
            "versions: tokentrace-gateway {}, LiteLLM {}",
            env!("CARGO_PKG_VERSION"),
            litellm.as_ref().map_or("(not run)", |l| l.2.as_str())
        );
        println!(
            "rounds: {rounds} after {warmup} warm-up, interleaved in rotating order, {took:.0} s; \
             {} CPUs, load average (1/5/15 min) {load_before} before, {load_after} after",
            std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
        );
        println!(
            "unary: send to last byte of a JSON answer; TTFB: send to first chunk of a stream; \
             mock upstream: {upstream_ms} ms before answering, 2 ms between stream chunks\n"
        );
        println!("| target | median latency (ms) | p90 latency (ms) | added latency (ms) | median TTFB (ms) | added TTFB (ms) | TTFB / direct |");
        println!("|---|---|---|---|---|---|---|");
        let (direct_u, direct_f) = (targets[0].unary_ms.clone(), targets[0].ttfb_ms.clone());
        let direct_f_med = median(&mut direct_f.clone());
        let mut added = Vec::new();
        for t in &targets {
            let u = median(&mut t.unary_ms.clone());
            let u90 = quantile(&mut t.unary_ms.clone(), 0.9);
            let f = median(&mut t.ttfb_ms.clone());
            // Added: the median of the per-round differences to direct.
            let au = median(&mut paired(&t.unary_ms, &direct_u));
            let af = median(&mut paired(&t.ttfb_ms, &direct_f));
            added.push((au, af));
            println!(
                "| {} | {u:.3} | {u90:.3} | {au:.3} | {f:.3} | {af:.3} | {:.3} |",
                t.name,
                f / direct_f_med
            );
        }
        let gw_ttfb = median(&mut targets[1].ttfb_ms.clone()) / direct_f_med;
        println!(
            "\ntarget TTFB <= 1.05 x direct: {gw_ttfb:.3} x ({})",
            if gw_ttfb <= 1.05 { "met" } else { "missed" }
        );
        if added.len() == 4 {
            let r = added[1].0 / added[3].0;
            println!(
                "target added latency <= 1/20 of LiteLLM's: gateway {:.3} ms / LiteLLM {:.3} ms = {r:.4} (1/{:.1}) ({})",
                added[1].0,
                added[3].0,
                1.0 / r,
                if r <= 0.05 { "met" } else { "missed" }
            );
            println!(
                "added TTFB: gateway {:.3} ms, LiteLLM {:.3} ms (1/{:.1})",
                added[1].1,
                added[3].1,
                added[3].1 / added[1].1
            );
        }
        drop(litellm);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

//! Added latency and time to first byte: direct vs the gateway vs LiteLLM's
//! proxy, one interleaved run against the same mock upstream (see
//! docs/gateway.md). `cargo bench -p tokentrace-gateway --bench gateway`.
//!
//! * direct: the client calls the mock OpenAI API;
//! * gateway: through `Gateway::router()` in this process, with the full
//!   tracing stack (EnrichLayer + OpenTelemetry, in-memory exporter);
//! * LiteLLM: `litellm --config` (from `scripts/setup-python-clients
//!   --litellm`) forwarding to the same mock. Skipped when
//!   `TT_BENCH_NO_LITELLM` is set or the set-up fails.
//!
//! Each round sends one unary request (latency: send to last byte) and one
//! streamed request (TTFB: send to first body chunk) to each target, in a
//! rotating order. `TT_BENCH_ROUNDS` rounds (default 200) after 30 warm-up.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use example_mock_providers::MockProviders;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
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

fn start_litellm(mock_openai: &str, dir: &std::path::Path) -> Option<(LiteLlm, String)> {
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
    let litellm = py.parent()?.join("litellm");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
        l.local_addr().ok()?.port()
    };
    let cfg = dir.join("litellm.yaml");
    std::fs::write(
        &cfg,
        format!(
            "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: {mock_openai}\n      api_key: sk-mock\nlitellm_settings:\n  telemetry: false\n"
        ),
    )
    .ok()?;
    let child = Command::new(litellm)
        .args(["--config", cfg.to_str()?, "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .env("LITELLM_TELEMETRY", "False")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let guard = LiteLlm(child);
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        // Up when its port accepts connections.
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_secs(2));
            return Some((guard, format!("{url}/v1")));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("LiteLLM did not start within 120 s: skipped");
    None
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

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("TT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
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
        let mocks = MockProviders::builder()
            .chunk_delay(Duration::from_millis(2))
            .start()
            .await
            .unwrap();
        let cfg = GatewayConfig::default()
            .upstream_url("openai", format!("{}/openai", mocks.base_url()));
        let app = Gateway::new(&cfg).unwrap().router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let litellm = start_litellm(&mocks.openai_base_url(), &dir);
        let mut targets = vec![
            Target { name: "direct", url: mocks.openai_base_url(), unary_ms: vec![], ttfb_ms: vec![] },
            Target { name: "tokentrace gateway", url: format!("http://{gw}/openai/v1"), unary_ms: vec![], ttfb_ms: vec![] },
        ];
        if let Some((_, url)) = &litellm {
            targets.push(Target { name: "LiteLLM proxy", url: url.clone(), unary_ms: vec![], ttfb_ms: vec![] });
        }
        let http = reqwest::Client::new();
        let auth = "Bearer sk-mock";
        for round in 0..rounds + 30 {
            let n = targets.len();
            for k in 0..n {
                let t = &mut targets[(round + k) % n];
                let u = unary(&http, &t.url, auth).await;
                let f = ttfb(&http, &t.url, auth).await;
                if round >= 30 {
                    t.unary_ms.push(u);
                    t.ttfb_ms.push(f);
                }
            }
            if round % 50 == 0 {
                exporter.reset();
            }
        }
        let (mut du, mut df) = (targets[0].unary_ms.clone(), targets[0].ttfb_ms.clone());
        let (direct_u, direct_f) = (median(&mut du), median(&mut df));
        println!("rounds: {rounds} (interleaved; 2 tokio workers; shared machine)\n");
        println!("| target | median latency (ms) | added latency (ms) | median TTFB (ms) | TTFB / direct |");
        println!("|---|---|---|---|---|");
        let mut added = Vec::new();
        for t in &mut targets {
            let u = median(&mut t.unary_ms);
            let f = median(&mut t.ttfb_ms);
            added.push(u - direct_u);
            println!(
                "| {} | {u:.3} | {:.3} | {f:.3} | {:.3} |",
                t.name,
                u - direct_u,
                f / direct_f
            );
        }
        if added.len() == 3 {
            println!(
                "\ngateway added latency / LiteLLM added latency = {:.4} (1/{:.1})",
                added[1] / added[2],
                added[2] / added[1]
            );
        }
        drop(litellm);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

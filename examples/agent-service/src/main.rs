//! The example agent service on its own: an axum app with `WorkflowLayer`,
//! `LlmMiddleware`, `#[tokentrace::workflow]` steps (retrieve, generate,
//! summarise) and `prompt_template!`/`metadata!` guards, talking to local
//! mock providers (or to the real OpenAI / Anthropic APIs when
//! `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` are set; see `docs/examples.md`).
//! Traces go to `.tokentrace/traces.db` (and to OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set).
//!
//! Run with `cargo run -p example-agent-service`, then:
//!
//! ```text
//! curl -s http://127.0.0.1:3000/chat -H 'content-type: application/json' \
//!      -H 'x-user-id: u-ada' -H 'x-session-id: s-1' \
//!      -d '{"message": "How do I rotate my API key?"}'
//! tokentrace traces      # or: cargo run -p tokentrace-cli -- traces
//! ```
//!
//! `PORT` changes the port (default 3000).

use tokentrace_demo::mocks::MockProviders;
use tokentrace_demo::service::{Config, app};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = tokentrace::Telemetry::builder()
        .service_name("agent-service")
        .from_env()
        .install()?;
    let mocks = MockProviders::start().await?;
    let config = Config::mock(&mocks).with_env();
    for line in config.describe() {
        eprintln!("upstream  {line}");
    }
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!(
        "agent-service on http://{}  (POST /chat, headers x-user-id and x-session-id); Ctrl-C to stop",
        listener.local_addr()?
    );
    axum::serve(listener, app(config))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    telemetry.flush();
    Ok(())
}

//! Exporting to any OpenTelemetry backend over OTLP/HTTP (Jaeger, Tempo,
//! Phoenix, Langfuse, an OpenTelemetry Collector), with the embedded store
//! turned off (`.no_store()`). The endpoint comes from
//! `OTEL_EXPORTER_OTLP_ENDPOINT`; without it the example prints how to start
//! a collector and sends to `http://127.0.0.1:4318`, reporting the spans it
//! could not deliver.
//!
//! Run with `cargo run -p example-otlp-export`, or
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run -p example-otlp-export`.

use std::time::Duration;

use serde_json::json;
use tokentrace_demo::mocks::MockProviders;

const HOW_TO: &str = "\
OTEL_EXPORTER_OTLP_ENDPOINT is not set. Start something that receives OTLP/HTTP, for example:
  docker run --rm -p 16686:16686 -p 4318:4318 jaegertracing/all-in-one   # Jaeger, UI on :16686
  docker run --rm -p 4318:4318 otel/opentelemetry-collector               # the OpenTelemetry Collector
  docker run --rm -p 6006:6006 arizephoenix/phoenix                       # Phoenix: use http://127.0.0.1:6006
then: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run -p example-otlp-export
Sending to http://127.0.0.1:4318 anyway.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => {
            eprintln!("{HOW_TO}");
            "http://127.0.0.1:4318".to_owned()
        }
    };
    let telemetry = tokentrace::Telemetry::builder()
        .service_name("example-otlp-export")
        .no_store()
        .otlp_endpoint(endpoint.as_str())
        .otlp_timeout(Duration::from_secs(3))
        .install()?;

    let mocks = MockProviders::start().await?;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(tokentrace::LlmMiddleware::new().registry(mocks.registry()))
        .build();
    for question in [
        "What is OTLP?",
        "Which backends read GenAI semantic conventions?",
    ] {
        tokentrace::traced_run("ask", async {
            let _m = tokentrace::metadata!(user_id = "u-otlp", tags = ["example"]);
            let resp = http
                .post(format!("{}/chat/completions", mocks.openai_base_url()))
                .json(&json!({"model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": question}]}))
                .send()
                .await?;
            resp.error_for_status()?.bytes().await?;
            anyhow::Ok(())
        })
        .await?;
    }

    telemetry.flush();
    match telemetry.dropped_spans() {
        0 => println!("exported 2 traces to {endpoint}"),
        n => println!("{n} spans could not be delivered to {endpoint} (is a collector running?)"),
    }
    Ok(())
}

//! Streamed responses through `LlmMiddleware`: the middleware tees each
//! server-sent-events body as the application reads it and parses the usage
//! on the fly (OpenAI's final usage chunk, Anthropic's `message_start` +
//! `message_delta`, Gemini's cumulative `usageMetadata`). Also shows
//! `inject_stream_usage`, which asks OpenAI for the usage chunk when the
//! application forgot `stream_options.include_usage`. Runs offline against
//! the mock providers; prints the tokens and cost the store recorded.
//!
//! Run with `cargo run -p example-streaming`.

use std::io::Write as _;

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokentrace_demo::mocks::MockProviders;

/// Reads a streamed body chunk by chunk, echoing its size, and returns its length.
async fn drain(resp: reqwest::Response) -> anyhow::Result<usize> {
    let mut body = resp.bytes_stream();
    let mut n = 0;
    while let Some(chunk) = body.next().await {
        n += chunk?.len();
        print!(".");
        std::io::stdout().flush()?;
    }
    println!();
    Ok(n)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store_path = ".tokentrace/traces.db";
    let telemetry = tokentrace::Telemetry::builder()
        .service_name("example-streaming")
        .store(store_path)
        .install()?;
    let mocks = MockProviders::start().await?;
    let middleware = tokentrace::LlmMiddleware::new()
        .registry(mocks.registry())
        .inject_stream_usage(true);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build();
    let question = "Explain in two sentences why streaming responses feel faster";

    let trace_id = tokentrace::traced_run("streaming_example", async {
        // 1. OpenAI with the usage opt-in.
        let resp = http
            .post(format!("{}/chat/completions", mocks.openai_base_url()))
            .json(&json!({"model": "gpt-4o-mini", "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": question}]}))
            .send()
            .await?;
        println!("openai (include_usage): {} bytes", drain(resp).await?);

        // 2. OpenAI without it: inject_stream_usage adds it for us.
        let resp = http
            .post(format!("{}/chat/completions", mocks.openai_base_url()))
            .json(&json!({"model": "gpt-4o-mini", "stream": true,
                "messages": [{"role": "user", "content": question}]}))
            .send()
            .await?;
        println!("openai (usage injected): {} bytes", drain(resp).await?);

        // 3. Anthropic: usage split over message_start and message_delta.
        let resp = http
            .post(format!("{}/v1/messages", mocks.anthropic_base_url()))
            .header("anthropic-version", "2023-06-01")
            .json(
                &json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": true,
                "messages": [{"role": "user", "content": question}]}),
            )
            .send()
            .await?;
        println!("anthropic: {} bytes", drain(resp).await?);

        // 4. Gemini: every chunk carries cumulative usage; the last one wins.
        let resp = http
            .post(format!(
                "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                mocks.gemini_base_url()
            ))
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": question}]}]}))
            .send()
            .await?;
        println!("gemini: {} bytes", drain(resp).await?);
        anyhow::Ok(tokentrace::current_workflow().map(|w| w.trace_id))
    })
    .await?;

    telemetry.flush();
    let Some(trace_id) = trace_id else {
        return Ok(());
    };
    let trace = tokentrace::store::Store::open(store_path)?.get_trace(&trace_id)?;
    println!("\nrecorded in {store_path}, trace {trace_id}:");
    for span in trace
        .spans
        .iter()
        .filter(|s| s.span_type.as_deref() == Some("llm"))
    {
        let injected =
            span.attributes.get("tokentrace.stream.usage_injected") == Some(&Value::Bool(true));
        println!(
            "  {:<34} in {:>4}  out {:>4}  ${:.6}{}",
            span.name,
            span.input_tokens.unwrap_or(0),
            span.output_tokens.unwrap_or(0),
            span.cost_usd.unwrap_or(0.0),
            if injected { "  (usage injected)" } else { "" }
        );
    }
    println!(
        "total: {} tokens, ${:.6}",
        trace.total_tokens, trace.cost_usd
    );
    Ok(())
}

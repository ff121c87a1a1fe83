//! `#[tokentrace::workflow]` on sync and async functions, nested workflows,
//! `traced_run` for a block, `current_workflow()`, argument and result
//! capture, and an error that marks its workflow failed. One LLM call (to
//! the local mock OpenAI) shows tokens and cost rolling up to every
//! enclosing workflow.
//!
//! Run with `cargo run -p example-workflow-macro`, then browse the trace with
//! `cargo run -p tokentrace-cli -- show <trace id>` (printed at the end).

use reqwest_middleware::ClientWithMiddleware;
use serde_json::json;
use tokentrace_demo::mocks::MockProviders;

/// A sync step: its arguments and result are recorded (bounded).
#[tokentrace::workflow(name = "search_flights", kind = "tool", capture_args, capture_result)]
fn search_flights(from: &str, to: &str) -> Vec<String> {
    vec![format!("{from}->{to} 08:10"), format!("{from}->{to} 17:45")]
}

/// An async step returning `Result`: an `Err` marks the span as an error.
#[tokentrace::workflow(name = "check_budget", kind = "guardrail")]
async fn check_budget(price_eur: u32, budget_eur: u32) -> Result<(), String> {
    if price_eur > budget_eur {
        Err(format!(
            "{price_eur} EUR is over the {budget_eur} EUR budget"
        ))
    } else {
        Ok(())
    }
}

/// An LLM step: the middleware's span nests under this workflow.
#[tokentrace::workflow(name = "write_itinerary")]
async fn write_itinerary(
    http: &ClientWithMiddleware,
    openai: &str,
    flight: &str,
) -> anyhow::Result<String> {
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": format!("Write a short itinerary for flight {flight}")}]
    });
    let v: serde_json::Value = http
        .post(format!("{openai}/chat/completions"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The agent: nested workflows beneath one span, `workflow.plan_trip`.
#[tokentrace::workflow(kind = "agent")]
async fn plan_trip(http: &ClientWithMiddleware, openai: &str) -> anyhow::Result<String> {
    let wf = tokentrace::current_workflow().expect("inside plan_trip's span");
    println!("running {} in trace {}", wf.name, wf.trace_id);
    let flights = search_flights("LIS", "BER");
    if let Err(e) = check_budget(420, 300).await {
        // The guardrail span is an error; the agent carries on with a cheaper plan.
        println!("guardrail said no: {e}");
    }
    write_itinerary(http, openai, &flights[0]).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = tokentrace::Telemetry::builder()
        .service_name("example-workflow-macro")
        .install()?;
    let mocks = MockProviders::start().await?;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(tokentrace::LlmMiddleware::new().registry(mocks.registry()))
        .build();
    let openai = mocks.openai_base_url();

    let itinerary = plan_trip(&http, &openai).await?;
    println!("itinerary: {itinerary}");

    // traced_run: a workflow around any future, without a named function.
    let trace_id = tokentrace::traced_run("nightly_report", async {
        let inner =
            tokentrace::traced_run("collect", async { search_flights("OPO", "MAD").len() }).await;
        println!("collected {inner} flights");
        tokentrace::current_workflow().map(|w| w.trace_id)
    })
    .await;

    telemetry.flush();
    if let Some(id) = trace_id {
        println!("nightly_report trace: {id}");
    }
    println!("traces are in .tokentrace/traces.db: `cargo run -p tokentrace-cli -- traces`");
    Ok(())
}

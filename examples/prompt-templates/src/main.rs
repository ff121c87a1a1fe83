//! The `prompt_template!` and `metadata!` scope guards: a template with a
//! version and variables lands on every LLM span created beneath it; metadata
//! (user, session, tags, any other key) lands on every span beneath, the span
//! it was opened on and the trace root. Nested metadata merges (inner values
//! win, tags add up); the innermost template wins; a dropped guard stops
//! applying. Prints what the store recorded on each LLM span.
//!
//! Run with `cargo run -p example-prompt-templates`.

use serde_json::json;
use tokentrace_demo::mocks::MockProviders;

const ANSWER: &str = "Answer the question using {context}: {question}";
const TRANSLATE: &str = "Translate to {language}: {text}";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store_path = ".tokentrace/traces.db";
    let telemetry = tokentrace::Telemetry::builder()
        .service_name("example-prompt-templates")
        .store(store_path)
        .install()?;
    let mocks = MockProviders::start().await?;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(tokentrace::LlmMiddleware::new().registry(mocks.registry()))
        .build();
    let chat = |prompt: String| {
        let req = http
            .post(format!("{}/chat/completions", mocks.openai_base_url()))
            .json(
                &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}),
            );
        async move { anyhow::Ok(req.send().await?.error_for_status()?.bytes().await?) }
    };

    let trace_id = tokentrace::traced_run("support_answer", async {
        let _request = tokentrace::metadata!(
            user_id = "u-17",
            session_id = "s-9",
            tags = ["prod"],
            customer = "Acme"
        );
        let (context, question) = ("the billing FAQ", "Why was I charged twice?");
        {
            let _t = tokentrace::prompt_template!(
                ANSWER,
                version = "2.0",
                context = context,
                question = question
            );
            let _m = tokentrace::metadata!(tags = ["billing"], priority = 2);
            chat(
                ANSWER
                    .replace("{context}", context)
                    .replace("{question}", question),
            )
            .await?;

            // Innermost template wins for calls beneath it.
            let _inner = tokentrace::prompt_template!(TRANSLATE, version = "1",
                                                      language = "Portuguese", text = %question);
            chat(format!("Translate to Portuguese: {question}")).await?;
        }
        // Both guards dropped: this call has metadata but no template.
        chat("Say thanks".to_owned()).await?;
        anyhow::Ok(tokentrace::current_workflow().map(|w| w.trace_id))
    })
    .await?;

    telemetry.flush();
    let Some(trace_id) = trace_id else {
        return Ok(());
    };
    let trace = tokentrace::store::Store::open(store_path)?.get_trace(&trace_id)?;
    for span in &trace.spans {
        let a = &span.attributes;
        println!("{}", span.name);
        for key in [
            "llm.prompt_template.template",
            "llm.prompt_template.version",
            "llm.prompt_template.variables",
            "user.id",
            "session.id",
            "tag.tags",
            "metadata",
        ] {
            if let Some(v) = a.get(key) {
                println!("    {key:<32} {v}");
            }
        }
    }
    Ok(())
}

//! Reading the embedded SQLite store: the `Store` API (`traces` with a
//! filter, `get_trace` and its span tree, `stats` by model and user,
//! `sessions`) and a raw SQL query over the `spans` table, which is a public
//! contract. Without an argument it records a small workload against the
//! mock providers into `target/example-store-queries.db` first; with a path
//! it only queries that store (try the demo's: `.tokentrace/traces.db`).
//!
//! Run with `cargo run -p example-store-queries` or
//! `cargo run -p example-store-queries -- .tokentrace/traces.db`.

use std::path::PathBuf;

use serde_json::json;
use tokentrace::store::{GroupBy, Store, TraceFilter};
use tokentrace_demo::mocks::MockProviders;

/// Records a few traces for two users through the mock OpenAI and Gemini.
async fn record(path: &PathBuf) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Start from an empty store so the numbers below are this run's.
    Store::open(path)?.clear()?;
    let telemetry = tokentrace::Telemetry::builder()
        .service_name("example-store-queries")
        .store(path)
        .install()?;
    let mocks = MockProviders::start().await?;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(tokentrace::LlmMiddleware::new().registry(mocks.registry()))
        .build();
    for (i, user) in ["u-ada", "u-linus", "u-ada"].into_iter().enumerate() {
        tokentrace::traced_run("triage", async {
            let _m = tokentrace::metadata!(user_id = user, session_id = format!("s-{user}"));
            http.post(format!("{}/chat/completions", mocks.openai_base_url()))
                .json(
                    &json!({"model": "gpt-4o-mini", "messages": [{"role": "user",
                    "content": format!("Classify ticket number {i} about a failed payment")}]}),
                )
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            http.post(format!(
                "{}/v1beta/models/gemini-2.5-flash:generateContent",
                mocks.gemini_base_url()
            ))
            .json(&json!({"contents": [{"parts": [{"text": "Summarise the ticket"}]}]}))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
            anyhow::Ok(())
        })
        .await?;
    }
    telemetry.flush();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let p = PathBuf::from("target/example-store-queries.db");
            record(&p).await?;
            p
        }
    };
    let store = Store::open(&path)?;

    // Newest traces of one user, 10 per page.
    let page = store.traces(&TraceFilter::new().user_id("u-ada").page(10, 0))?;
    println!(
        "{} traces of u-ada (showing {}):",
        page.total,
        page.items.len()
    );
    for t in &page.items {
        println!(
            "  {}  {:<24} {:>6} tokens  ${:.6}",
            t.trace_id, t.name, t.total_tokens, t.cost_usd
        );
    }

    // One trace's span tree.
    if let Some(t) = page.items.first() {
        let trace = store.get_trace(&t.trace_id)?;
        println!("\ntrace {} ({:.1} ms):", trace.trace_id, trace.latency_ms);
        for s in &trace.spans {
            println!(
                "  {}{}  {}",
                "  ".repeat(s.depth as usize),
                s.name,
                s.cost_usd.map(|c| format!("${c:.6}")).unwrap_or_default()
            );
        }
    }

    // Aggregates.
    println!("\nby model:");
    for r in store.stats(GroupBy::Model)? {
        println!(
            "  {:<28} {:>3} calls {:>6} tokens  ${:.6}",
            r.key, r.count, r.total_tokens, r.cost_usd
        );
    }
    println!("by user:");
    for r in store.stats(GroupBy::User)? {
        println!(
            "  {:<28} {:>3} traces {:>5} tokens  ${:.6}",
            r.key, r.count, r.total_tokens, r.cost_usd
        );
    }
    println!("sessions: {}", store.sessions()?.len());

    // Plain SQL over the `spans` table (also works from the sqlite3 shell).
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT provider, model, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_usd)
         FROM spans WHERE span_type = 'llm'
         GROUP BY provider, model ORDER BY SUM(cost_usd) DESC",
    )?;
    println!("\nSQL: cost by provider and model");
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<f64>>(5)?,
        ))
    })?;
    for row in rows {
        let (provider, model, calls, input, output, cost) = row?;
        println!(
            "  {:<12} {:<28} {calls:>3} calls  in {:>6}  out {:>6}  ${:.6}",
            provider.unwrap_or_default(),
            model.unwrap_or_default(),
            input.unwrap_or(0),
            output.unwrap_or(0),
            cost.unwrap_or(0.0)
        );
    }
    Ok(())
}

//! `tokentrace stats` and `traces` count a provider call once when rig's
//! `gen_ai` span and tokentrace's LLM span both describe it (5 calls, not 10).

use tokentrace::Telemetry;
use tokentrace_core::semconv;
use tracing::field::Empty;

use crate::support::json_on;

/// Five runs of an agent: workflow, rig's `chat` span (usage as u64, which
/// tracing-opentelemetry exports as strings), `LlmMiddleware`'s span beneath.
/// Returns (input, total) tokens.
fn record_five_rig_calls(path: &std::path::Path) -> (u64, u64) {
    let (dispatch, guard) = Telemetry::builder().store(path).build().unwrap();
    let (mut input, mut total) = (0_u64, 0_u64);
    tracing::dispatcher::with_default(&dispatch, || {
        for n in 0..5_u64 {
            let (i, o) = (3000 + n, 20 + n);
            input += i;
            total += i + o;
            tracing::info_span!(
                "workflow",
                otel.name = "workflow.agent",
                { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
                { semconv::GEN_AI_WORKFLOW_NAME } = "agent",
            )
            .in_scope(|| {
                let chat = tracing::info_span!(
                    target: "rig::completions",
                    "chat",
                    { semconv::GEN_AI_PROVIDER_NAME } = "openai",
                    { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
                    { semconv::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
                    { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
                );
                chat.in_scope(|| {
                    let _llm = tracing::info_span!(
                        "llm",
                        otel.name = "chat gpt-4o-mini",
                        { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
                        { semconv::GEN_AI_PROVIDER_NAME } = "openai",
                        { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
                        { semconv::GEN_AI_USAGE_INPUT_TOKENS } = i as i64,
                        { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = o as i64,
                        { semconv::COST_TOTAL_USD } = 0.001,
                    );
                });
                chat.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, i);
                chat.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, o);
            });
        }
    });
    guard.flush();
    drop(guard);
    (input, total)
}

#[test]
fn stats_count_a_call_seen_by_rig_and_tokentrace_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let (input, total) = record_five_rig_calls(&path);

    for by in ["model", "provider", "workflow"] {
        let rows = json_on(&path, &["stats", "--by", by, "--json"]);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{by}: {rows:?}");
        assert_eq!(rows[0]["count"], 5, "{by}");
        assert_eq!(rows[0]["input_tokens"], input, "{by}");
        assert_eq!(rows[0]["total_tokens"], total, "{by}");
        let cost = rows[0]["cost_usd"].as_f64().unwrap();
        assert!((cost - 0.005).abs() < 1e-9, "{by}: {cost}");
    }
    let page = json_on(&path, &["traces", "--json"]);
    assert_eq!(page["total"], 5);
    let listed: u64 = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["total_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(listed, total);
}

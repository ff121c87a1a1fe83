//! One provider call described by two libraries (rig's `chat` span around
//! tokentrace's LLM span) is counted once in every total the store keeps.

use opentelemetry::KeyValue;
use tokentrace_core::semconv;
use tokentrace_store::{GroupBy, Store, StoreExporter, TraceFilter};

use crate::support::{S, export, tempdb, trace_hex};

/// Five traces like `tokentrace stats` saw with rig: a workflow, rig's
/// `chat` span (usage as strings, as tracing-opentelemetry exports u64
/// fields; typed `framework` by EnrichLayer, or untyped without it), and
/// tokentrace's priced LLM span beneath.
fn seed(framework_typed: bool) -> (tempfile::TempDir, Store, u64, u64) {
    let (dir, path) = tempdb();
    let exporter = StoreExporter::new(&path).unwrap();
    let (mut input, mut total) = (0, 0);
    for t in 1..=5_u128 {
        let i = 3000 + t as i64;
        let o = 20 + t as i64;
        input += i as u64;
        total += (i + o) as u64;
        let mut rig = S::new(t, 2, 1, "chat", 10, 900)
            .attr(KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, "openai"))
            .attr(KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, "gpt-4o-mini"))
            .attr(KeyValue::new(
                semconv::GEN_AI_USAGE_INPUT_TOKENS,
                i.to_string(),
            ))
            .attr(KeyValue::new(
                semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
                o.to_string(),
            ));
        if framework_typed {
            rig = rig.attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "framework"));
        }
        export(
            &exporter,
            vec![
                S::new(t, 3, 2, "chat gpt-4o-mini", 20, 800)
                    .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "llm"))
                    .attr(KeyValue::new(semconv::GEN_AI_PROVIDER_NAME, "openai"))
                    .attr(KeyValue::new(semconv::GEN_AI_REQUEST_MODEL, "gpt-4o-mini"))
                    .attr(KeyValue::new(semconv::GEN_AI_USAGE_INPUT_TOKENS, i))
                    .attr(KeyValue::new(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, o))
                    .attr(KeyValue::new(semconv::COST_TOTAL_USD, 0.001))
                    .build(),
                rig.build(),
                S::new(t, 1, 0, "workflow.agent", 0, 1000)
                    .attr(KeyValue::new(semconv::TOKENTRACE_SPAN_TYPE, "workflow"))
                    .attr(KeyValue::new(semconv::GEN_AI_WORKFLOW_NAME, "agent"))
                    .attr(KeyValue::new(semconv::ROLLUP_INPUT_TOKENS, i))
                    .attr(KeyValue::new(semconv::ROLLUP_LLM_CALLS, 1_i64))
                    .build(),
            ],
        );
    }
    drop(exporter);
    let store = Store::open(&path).unwrap();
    (dir, store, input, total)
}

fn assert_counted_once(store: &Store, input: u64, total: u64) {
    for group_by in [GroupBy::Model, GroupBy::Provider, GroupBy::Workflow] {
        let rows = store.stats(group_by).unwrap();
        assert_eq!(rows.len(), 1, "{group_by:?}: {rows:?}");
        let r = &rows[0];
        assert_eq!(r.count, 5, "{group_by:?}: 5 calls (or 5 traces)");
        assert_eq!(r.input_tokens, input, "{group_by:?}");
        assert_eq!(r.total_tokens, total, "{group_by:?}");
        assert!(
            (r.cost_usd - 0.005).abs() < 1e-9,
            "{group_by:?}: {}",
            r.cost_usd
        );
    }
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 5);
    let t = store.get_trace(&trace_hex(1)).unwrap();
    assert_eq!(t.total_tokens, 3001 + 21);
    assert!((t.cost_usd - 0.001).abs() < 1e-12);
    let listed = page
        .items
        .iter()
        .find(|s| s.trace_id == trace_hex(1))
        .unwrap();
    assert_eq!(listed.total_tokens, 3001 + 21);
}

#[test]
fn a_framework_span_over_an_llm_span_is_not_a_second_call() {
    let (_dir, store, input, total) = seed(true);
    assert_counted_once(&store, input, total);
}

/// Without EnrichLayer (a pipeline of your own), rig's span has no type: it
/// is still not a call of its own.
#[test]
fn an_untyped_genai_span_is_not_a_call() {
    let (_dir, store, input, total) = seed(false);
    assert_counted_once(&store, input, total);
}

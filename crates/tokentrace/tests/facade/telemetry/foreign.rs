//! rig's `gen_ai` span around tokentrace's LLM span, through the whole
//! pipeline: each call counted once on the wire (a backend summing
//! `gen_ai.usage.*` over all spans), in the workflow roll-ups and in the
//! store's statistics.

use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tokentrace::Telemetry;
use tokentrace::store::{GroupBy, Store, TraceFilter};
use tokentrace_core::semconv;
use tokentrace_test_support::attr;
use tracing::field::Empty;

/// rig's span: target `rig::completions`, usage recorded as u64.
fn rig_chat() -> tracing::Span {
    tracing::info_span!(
        target: "rig::completions",
        "chat",
        { semconv::GEN_AI_OPERATION_NAME } = "chat",
        { semconv::GEN_AI_PROVIDER_NAME } = "openai",
        { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
        { semconv::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
    )
}

/// `LlmMiddleware`'s span, filled as it fills it.
fn llm_call(input: i64, output: i64, cost: f64) {
    let s = tracing::info_span!(
        "llm",
        otel.name = "chat gpt-4o-mini",
        { semconv::TOKENTRACE_SPAN_TYPE } = "llm",
        { semconv::GEN_AI_OPERATION_NAME } = "chat",
        { semconv::GEN_AI_PROVIDER_NAME } = "openai",
        { semconv::GEN_AI_REQUEST_MODEL } = "gpt-4o-mini",
        { semconv::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
        { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
        { semconv::COST_TOTAL_USD } = Empty,
    );
    s.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, input);
    s.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, output);
    s.record(semconv::COST_TOTAL_USD, cost);
}

/// Five agent runs through rig and `LlmMiddleware`, plus one rig call with
/// no tokentrace span beneath (genai/rig over a plain client).
fn workload() -> (i64, i64) {
    let mut input = 0;
    let mut output = 0;
    for n in 0..5 {
        let (i, o) = (3000 + n, 20 + n);
        input += i;
        output += o;
        tracing::info_span!(
            "workflow",
            otel.name = "workflow.agent",
            { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
            { semconv::GEN_AI_WORKFLOW_NAME } = "agent",
        )
        .in_scope(|| {
            let chat = rig_chat();
            chat.in_scope(|| llm_call(i, o, 0.001));
            chat.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, i as u64);
            chat.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, o as u64);
        });
    }
    tracing::info_span!(
        "workflow",
        otel.name = "workflow.plain",
        { semconv::TOKENTRACE_SPAN_TYPE } = "workflow",
        { semconv::GEN_AI_WORKFLOW_NAME } = "plain",
    )
    .in_scope(|| {
        let chat = rig_chat();
        chat.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, 1000_u64);
        chat.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, 100_u64);
    });
    (input + 1000, output + 100)
}

fn count(v: &Value) -> i64 {
    match v {
        Value::I64(i) => *i,
        Value::String(s) => s.as_str().parse().unwrap(),
        other => panic!("not a count: {other:?}"),
    }
}

/// What a backend that sums `gen_ai.usage.<name>` over every span sees.
fn summed(spans: &[SpanData], key: &str) -> i64 {
    spans
        .iter()
        .flat_map(|s| &s.attributes)
        .filter(|kv| kv.key.as_str() == key)
        .map(|kv| count(&kv.value))
        .sum()
}

#[test]
fn a_call_described_by_two_libraries_is_counted_once_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let exporter = InMemorySpanExporter::default();
    let (dispatch, guard) = Telemetry::builder()
        .store(&path)
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    let (input, output) = tracing::dispatcher::with_default(&dispatch, workload);
    guard.flush();
    let spans = exporter.get_finished_spans().unwrap();
    drop(guard);

    // On the wire: six calls, each once.
    assert_eq!(summed(&spans, semconv::GEN_AI_USAGE_INPUT_TOKENS), input);
    assert_eq!(summed(&spans, semconv::GEN_AI_USAGE_OUTPUT_TOKENS), output);
    let typed = |t: &str| {
        spans
            .iter()
            .filter(|s| attr(s, semconv::TOKENTRACE_SPAN_TYPE) == Some(&Value::from(t.to_owned())))
            .count()
    };
    assert_eq!(typed("llm"), 6);
    assert_eq!(typed("framework"), 5);
    for s in spans
        .iter()
        .filter(|s| attr(s, semconv::TOKENTRACE_SPAN_TYPE) == Some(&Value::from("framework")))
    {
        assert_eq!(s.name, "chat");
        // The framework span's usage moved off `gen_ai.usage.*`, kept for reading.
        assert!(
            s.attributes
                .iter()
                .all(|kv| !kv.key.as_str().starts_with(semconv::prefixes::GEN_AI_USAGE)),
            "{:?}",
            s.attributes
        );
        let moved = count(attr(s, semconv::TOKENTRACE_FRAMEWORK_USAGE_INPUT_TOKENS).unwrap());
        assert!((3000..3005).contains(&moved), "{moved}");
        assert_eq!(attr(s, semconv::COST_TOTAL_USD), None);
    }
    let alone: Vec<&SpanData> = spans
        .iter()
        .filter(|s| attr(s, semconv::TOKENTRACE_SPAN_SOURCE).is_some())
        .collect();
    assert_eq!(alone.len(), 1);
    let foreign_cost = match attr(alone[0], semconv::COST_TOTAL_USD) {
        Some(Value::F64(c)) => *c,
        other => panic!("the lone rig call is priced: {other:?}"),
    };
    assert!(foreign_cost > 0.0);

    // Roll-ups: one call per agent workflow.
    for wf in spans.iter().filter(|s| s.name == "workflow.agent") {
        assert_eq!(attr(wf, semconv::ROLLUP_LLM_CALLS), Some(&Value::I64(1)));
    }
    let plain = spans.iter().find(|s| s.name == "workflow.plain").unwrap();
    assert_eq!(attr(plain, semconv::ROLLUP_LLM_CALLS), Some(&Value::I64(1)));
    assert_eq!(
        attr(plain, semconv::ROLLUP_INPUT_TOKENS),
        Some(&Value::I64(1000))
    );

    // The store agrees.
    let store = Store::open(&path).unwrap();
    let models = store.stats(GroupBy::Model).unwrap();
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0].count, 6);
    assert_eq!(models[0].input_tokens, input as u64);
    assert_eq!(models[0].output_tokens, output as u64);
    assert!((models[0].cost_usd - (0.005 + foreign_cost)).abs() < 1e-9);
    let by_workflow = store.stats(GroupBy::Workflow).unwrap();
    let agent = by_workflow.iter().find(|r| r.key == "agent").unwrap();
    assert_eq!(agent.count, 5);
    assert_eq!(agent.input_tokens, (input - 1000) as u64);
    let page = store.traces(&TraceFilter::new()).unwrap();
    assert_eq!(page.total, 6);
    let total: u64 = page.items.iter().map(|t| t.total_tokens).sum();
    assert_eq!(total, (input + output) as u64);
}
